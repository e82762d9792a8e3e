"""Withdrawal fees per asset and network, never below the network's fee (F11): the schedule for the network, the
network's estimate x 1.25 valued in the asset as the floor, ``max_fee`` refused as ``fee_changed``, and the worker
refusing to send at a loss when the network's fee rose above what the withdrawal's fee covers."""

from __future__ import annotations

import pytest
from cryptopay.core.errors import InvalidAmount
from cryptopay.core.money import Money
from cryptopay.core.rails import rail_for
from cryptopay.core.testing.payments_stack import FakeChainSender
from cryptopay.core.testing.withdrawals import FakeFeeEstimator
from cryptopay.core.wallets.withdrawal_model import FEE_CHANGED, WithdrawalState
from cryptopay.core.wallets.withdrawals import FeeChanged

from tests.support.withdraw_stack import withdraw_stack

ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"


def ready(estimate: str | None = "4"):
    """USDT at KES 130, POL at KES 65 (2 POL a USDT); Polygon estimates ``estimate`` POL a withdrawal."""
    senders = {"polygon": FakeChainSender("polygon"), "ethereum": FakeChainSender("ethereum")}
    rails = {r.key: r for r in (rail_for("polygon", "USDT"), rail_for("ethereum", "USDT"))}
    estimator = FakeFeeEstimator(Money.of(estimate, "POL") if estimate is not None else None)
    stack = withdraw_stack(senders=senders, rails=rails, estimators={"polygon": estimator})
    stack.wallet.rates.set("POL/KES", "65")
    user = stack.wallet.sign_up("0712000001", tier=1)
    stack.wallet.fund(user, "300", "USDT")
    stack.fund_hot_wallet("polygon", "10000")
    return stack, user, estimator


def test_the_schedule_is_per_network():
    """No estimator on Ethereum here: the Ethereum schedule (5 USDT), not the flat 1 USDT of the other networks."""
    stack, user, _ = ready()
    quote = stack.withdrawals.quote(user.id, "ethereum", ADDRESS, Money.of("100", "USDT"))
    assert (quote.fee, quote.schedule_fee, quote.network_fee) == (Money.of("5", "USDT"), Money.of("5", "USDT"), None)


def test_the_fee_is_never_below_the_network_fee_with_its_margin_and_both_are_shown():
    """4 POL x 1.25 = 5 POL = KES 325 = 2.5 USDT, above the schedule's 1 USDT: the fee is 2.5 USDT."""
    stack, user, _ = ready()
    quote = stack.withdrawals.quote(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    assert quote.network_fee == Money.of("4", "POL")
    assert quote.network_fee_value == Money.of("2.5", "USDT")
    assert (quote.schedule_fee, quote.fee, quote.total) == (
        Money.of("1", "USDT"),
        Money.of("2.5", "USDT"),
        Money.of("102.5", "USDT"),
    )
    w = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"), max_fee=quote.fee)
    assert w.fee == Money.of("2.5", "USDT") and w.network_fee_estimate == Money.of("4", "POL")
    assert w.network_fee_cap == Money.of("5", "POL")  # all of the 2.5 USDT fee, in POL
    assert stack.wallet.balance(user, "USDT") == Money.of("197.5", "USDT")


def test_a_cheap_network_keeps_the_schedule_fee():
    stack, user, _ = ready(estimate="0.01")
    quote = stack.withdrawals.quote(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    assert quote.fee == Money.of("1", "USDT") and quote.network_fee_value == Money.of("0.00625", "USDT")


def test_a_fee_above_what_the_user_was_shown_is_refused_as_fee_changed_and_nothing_is_held():
    stack, user, estimator = ready()
    shown = stack.withdrawals.quote(user.id, "polygon", ADDRESS, Money.of("100", "USDT")).fee
    estimator.fee = Money.of("8", "POL")  # gas doubled meanwhile: 5 USDT now
    with pytest.raises(FeeChanged) as refused:
        stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"), max_fee=shown)
    assert refused.value.code == "fee_changed" and refused.value.http_status == 409
    assert refused.value.details["fee"] == "5.000000 USDT"
    assert stack.wallet.balance(user, "USDT") == Money.of("300", "USDT")
    assert stack.withdrawals.for_user(user.id) == []


def test_without_an_estimate_the_schedule_fee_is_taken_and_the_send_still_checks_the_network_fee():
    """The chain cannot say at request: the schedule's 1 USDT (worth 2 POL). At send the estimate is 3 POL: above
    what the fee covers at today's prices, so it is not sent; with 1.5 POL it would have been."""
    stack, user, estimator = ready(estimate=None)
    quote = stack.withdrawals.quote(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    assert quote.network_fee is None and quote.fee == Money.of("1", "USDT")
    w = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    assert (w.fee, w.network_fee_estimate, w.network_fee_cap) == (Money.of("1", "USDT"), None, None)
    stack.clock.advance(hours=24)
    estimator.fee = Money.of("3", "POL")
    [failed] = stack.withdrawals.send_due()
    assert failed.failure_code == FEE_CHANGED and stack.senders["polygon"].requests == []
    assert stack.wallet.balance(user, "USDT") == Money.of("300", "USDT")


def test_when_the_chain_cannot_estimate_at_send_the_send_decides():
    stack, user, estimator = ready()
    stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    stack.clock.advance(hours=24)
    estimator.fee = None
    [sent] = stack.withdrawals.send_due()
    assert sent.state is WithdrawalState.SENT


def test_a_network_fee_risen_above_what_was_held_is_not_sent_at_a_loss():
    """Cap 5 POL: at 6 POL the worker does not sign; the withdrawal fails ``fee_changed``, the hold is voided, the
    customer is told to ask a new quote, and it is audited. Within the cap it is sent."""
    stack, user, estimator = ready()
    w = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    stack.clock.advance(hours=24)
    estimator.fee = Money.of("6", "POL")
    [failed] = stack.withdrawals.send_due()
    assert failed.id == w.id and failed.state is WithdrawalState.FAILED and failed.failure_code == FEE_CHANGED
    assert "new quote" in (failed.outward_failure or "")
    assert stack.senders["polygon"].requests == []
    assert stack.wallet.balance(user, "USDT") == Money.of("300", "USDT")
    [record] = [r for r in stack.wallet.backend.storage.audit_records() if r.action == "wallet.withdrawal_failed"]
    assert dict(record.details)["failure_code"] == FEE_CHANGED and record.subject == f"withdrawal:{w.id}"
    estimator.fee = Money.of("4.5", "POL")  # 2.8125 USDT of fee, which covers 5.625 POL
    again = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    assert (again.fee, again.network_fee_cap) == (Money.of("2.8125", "USDT"), Money.of("5.625", "POL"))
    stack.clock.advance(hours=24)
    estimator.fee = Money.of("5.6", "POL")  # risen, but within what the fee covers: sent
    [sent] = stack.withdrawals.send_due()
    assert sent.state is WithdrawalState.SENT and [r.withdrawal_id for r in stack.senders["polygon"].requests] == [
        again.id
    ]


def test_usdc_is_not_withdrawable_wallets_hold_usdt():
    stack, user, _ = ready()
    with pytest.raises(InvalidAmount, match="USDT or BTC"):
        stack.withdrawals.quote(user.id, "polygon", ADDRESS, Money.of("10", "USDC"))
