"""Cashing out the wallet's shillings (F10): a sale whose B2C failed leaves its KES in the wallet; ``cash_out`` pays
whole shillings of the KES balance to the wallet's own number by the same payout machinery and rules."""

from __future__ import annotations

import pytest
from cryptopay.core.errors import InsufficientFunds, InvalidInput, LimitExceeded
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments.link_amounts import AmountBelowMinimum
from cryptopay.core.payouts import PayoutKind
from cryptopay.core.testing.mobile_money import Scenario
from cryptopay.core.wallets.sells import AmountNotPayable

from tests.support.wallet_stack import wallet_stack


@pytest.fixture
def stack():
    return wallet_stack()


def _failed_sale(stack):
    return stack.failed_sale("0712000001")[0]


def test_a_failed_sales_shillings_can_be_cashed_out(stack):
    """KES 1,293.50 stranded: 1,293 whole shillings cashed out; M-Pesa's charge comes out of them; 0.50 stays."""
    amina = _failed_sale(stack)
    assert stack.balance(amina, "KES") == Money.of("1293.50", KES)
    out = stack.sells.cash_out(amina.id, Money.of(1293, KES))
    assert out.payout.kind is PayoutKind.SALE and out.usdt == Money.zero(USDT) and out.kes == Money.of(1293, KES)
    assert out.payout.amount + out.payout.charge == Money.of(1293, KES)
    assert out.payout.destination == "254712000001"
    assert stack.balance(amina, "KES") == Money.of("0.50", KES)
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    shown = stack.sells.get(amina.id, out.id)
    assert (shown.state, shown.usdt, shown.kes) == ("completed", Money.zero(USDT), Money.of(1293, KES))
    paid = [tx for tx in stack.mpesa.transactions() if tx.product == "b2c" and tx.remarks == f"Sale {out.id}"]
    assert [tx.amount for tx in paid] == [out.payout.amount]
    actions = [r.action for r in stack.backend.storage.audit_records()]
    assert "wallet.cash_out" in actions
    assert set(stack.ledger.trial_balance().values()) == {0}


def test_a_failed_cash_out_gives_the_shillings_back(stack):
    amina = _failed_sale(stack)
    stack.mpesa.set_scenario("254712000001", Scenario.INSUFFICIENT_FUNDS)
    stack.sells.cash_out(amina.id, Money.of(1000, KES))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    assert stack.balance(amina, "KES") == Money.of("1293.50", KES)


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("0.50", InvalidInput),  # cents are not M-Pesa's
        ("100.50", InvalidInput),
        ("9", AmountBelowMinimum),  # below B2C's KES 10: the amount's own bound, not a KYC limit (R14-19)
        ("1294", InsufficientFunds),  # beyond the balance
    ],
)
def test_cash_outs_are_refused_by_the_sales_rules_and_move_nothing(stack, amount, error):
    amina = _failed_sale(stack)
    with pytest.raises(error):
        stack.sells.cash_out(amina.id, Money.of(amount, KES))
    assert stack.balance(amina, "KES") == Money.of("1293.50", KES)


def test_a_cash_out_is_a_sale_to_the_kyc_limits():
    """Tier 0 (a verified phone) may not sell: nor cash out. The sale's limits count cash-outs."""
    stack = wallet_stack()
    amina = stack.sign_up("0712000001", tier=0)
    stack.fund(amina, "1000", "KES")
    with pytest.raises(LimitExceeded) as refused:
        stack.sells.cash_out(amina.id, Money.of(500, KES))
    assert str(refused.value.details.get("limit", "")).startswith("sell")
    assert stack.balance(amina, "KES") == Money.of(1000, KES)


@pytest.mark.parametrize(
    ("asked", "paid", "charge"),
    [
        (10, 10, 0),  # B2C's least, in the free band
        (100, 100, 0),  # the free band's top
        (106, 101, 5),  # the 5-shilling band's first amount
        (1505, 1500, 5),  # that band's top
        (1510, 1501, 9),
        (5009, 5000, 9),
        (5016, 5005, 11),
        (20011, 20000, 11),
        (20014, 20001, 13),
    ],
)
def test_a_cash_out_at_the_tariffs_band_edges_pays_what_a_sale_of_the_same_shillings_pays(asked, paid, charge):
    """Cashing out KES ``asked`` pays what ``Sells.payout_of`` says a sale fetching it pays (the one tariff helper,
    at the band of what is sent): ``paid`` to the phone and M-Pesa's ``charge``, never more than asked together."""
    stack = wallet_stack()
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, str(asked), "KES")
    out = stack.sells.cash_out(amina.id, Money.of(asked, KES))
    assert (out.payout.amount, out.payout.charge) == (Money.of(paid, KES), Money.of(charge, KES))
    assert (out.payout.charge, out.payout.amount) == stack.sells.payout_of(Money.of(asked, KES))
    assert out.kes == Money.of(asked, KES) == out.payout.amount + out.payout.charge
    assert stack.balance(amina, "KES") == Money.zero(KES)


@pytest.mark.parametrize(
    ("asked", "below", "above"),
    [(101, 100, 106), (103, 100, 106), (105, 100, 106), (1506, 1505, 1510), (1509, 1505, 1510)],
)
def test_a_cash_out_between_two_bands_is_refused_naming_what_can_be_paid(asked, below, above):
    """Review7 F10: KES 101-105 cannot be paid whole (KES 100 goes free, KES 101 costs 5): the cash-out took 100 and
    answered KES 103, and the ``sell`` limits counted 103. Now refused before anything moves, naming the nearest
    amounts M-Pesa pays whole, each of which then cashes out exactly."""
    stack = wallet_stack()
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "5000", "KES")
    with pytest.raises(AmountNotPayable) as refused:
        stack.sells.cash_out(amina.id, Money.of(asked, KES))
    assert refused.value.details == {"field": "amount", "payable_below": f"{below}.00", "payable_above": f"{above}.00"}
    assert f"cash out KES {below:,} or KES {above:,}" in refused.value.message
    assert stack.balance(amina, "KES") == Money.of(5000, KES) and stack.sells.list(amina.id) == []
    for payable in (below, above):
        out = stack.sells.cash_out(amina.id, Money.of(payable, KES))
        assert out.kes == out.payout.amount + out.payout.charge == Money.of(payable, KES)


def test_a_cash_out_past_the_top_band_is_refused_and_changes_nothing():
    """The top band's top: KES 250,013 sends 250,000 (M-Pesa's per-payment limit) and 13; KES 250,014 would send
    250,001, so cashing it out is refused before anything moves (the tariff's refusal, ahead of the KYC limits)."""
    stack = wallet_stack()
    assert stack.sells.payout_of(Money.of(250013, KES)) == (Money.of(13, KES), Money.of(250000, KES))
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "250014", "KES")
    with pytest.raises(LimitExceeded, match="at most KES 250,000"):
        stack.sells.cash_out(amina.id, Money.of(250014, KES))
    assert stack.balance(amina, "KES") == Money.of(250014, KES)
