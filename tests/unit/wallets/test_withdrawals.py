"""Withdrawals over the in-memory stack: fees shown, hold, cool-off, limits by name, screening, Travel Rule, refund."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from cryptopay.core.compliance.monitoring import Blocked
from cryptopay.core.compliance.screening import ListEntry
from cryptopay.core.compliance.travel_rule import IncompleteTravelRuleData, TransferDirection
from cryptopay.core.errors import InvalidInput, LimitExceeded, Refused
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import TxState
from cryptopay.core.wallets.withdrawal_model import WithdrawalState

from tests.support.withdraw_stack import SANCTIONED, withdraw_stack

ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"  # an EIP-55 example address


def ready(threshold_usd: str = "1000"):
    stack = withdraw_stack(threshold_usd=threshold_usd)
    user = stack.wallet.sign_up("0712000001", tier=1)
    stack.wallet.fund(user, "300", "USDT")
    stack.fund_hot_wallet("polygon", "10000")
    return stack, user


def test_a_quote_shows_our_fee_the_total_and_the_cool_off_of_a_new_address():
    """Nothing is written; a first-time address waits 24 hours."""
    stack, user = ready()
    quote = stack.withdrawals.quote(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    assert (quote.fee, quote.total) == (Money.of("1", "USDT"), Money.of("101", "USDT"))
    assert quote.first_time_address and quote.send_after == stack.clock.now() + timedelta(hours=24)
    assert not quote.travel_rule
    assert stack.wallet.balance(user, "USDT") == Money.of("300", "USDT")


def test_a_withdrawal_is_held_cooled_off_sent_and_posted_on_confirmation():
    """The hold takes amount + fee at once; the send waits for the cool-off; confirmation pays custody out."""
    stack, user = ready()
    w = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    assert w.state is WithdrawalState.REQUESTED and w.cooling
    assert stack.wallet.balance(user, "USDT") == Money.of("199", "USDT")
    assert stack.withdrawals.send_due() == []
    stack.clock.advance(hours=24)
    [sent] = stack.withdrawals.send_due()
    assert sent.state is WithdrawalState.SENT and sent.tx_hash
    stack.senders["polygon"].finish(w.id, TxState.CONFIRMED)
    [done] = stack.withdrawals.check_sent()
    assert done.state is WithdrawalState.CONFIRMED
    assert stack.wallet.ledger.balance("revenue:withdrawal_fee:USDT").posted == Money.of("1", "USDT")
    assert stack.wallet.ledger.balance("assets:custody:polygon:USDT").posted == Money.of("9900", "USDT")
    again = stack.withdrawals.request(user.id, "polygon", ADDRESS.lower(), Money.of("10", "USDT"))
    assert not again.cooling  # the address is known now


def test_a_failed_send_refunds_the_wallet():
    """A reverted transaction voids the hold: amount and fee are back."""
    stack, user = ready()
    w = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    stack.clock.advance(hours=25)
    stack.withdrawals.send_due()
    stack.senders["polygon"].finish(w.id, TxState.FAILED)
    [failed] = stack.withdrawals.check_sent()
    assert failed.state is WithdrawalState.FAILED
    assert stack.wallet.balance(user, "USDT") == Money.of("300", "USDT")


def test_a_sanctioned_address_is_blocked_before_anything_is_held_or_signed():
    """Screening refuses it, an alert is raised, the refusal is audited, nothing is held or sent."""
    stack, user = ready()
    with pytest.raises(Blocked):
        stack.withdrawals.request(user.id, "polygon", SANCTIONED, Money.of("100", "USDT"))
    assert stack.wallet.balance(user, "USDT") == Money.of("300", "USDT")
    assert stack.senders["polygon"].requests == []
    [alert] = stack.monitoring.alerts()
    assert alert.rule_id == "sanctioned-counterparty"
    actions = [r.action for r in stack.wallet.backend.storage.audit_records()]
    assert "wallet.withdrawal_blocked" in actions and "compliance.alert_raised" in actions


def test_limits_refuse_by_name_with_what_remains():
    """Tier 1 may withdraw KES 50,000 at a time (USDT at 130): 400 USDT is KES 52,000."""
    stack, user = ready()
    stack.wallet.fund(user, "500", "USDT")
    with pytest.raises(LimitExceeded) as refused:
        stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("400", "USDT"))
    assert refused.value.details["limit"] == "withdraw.single"


def test_a_bad_address_is_refused_with_its_field():
    """A Tron address on Polygon is not a Polygon address."""
    stack, user = ready()
    with pytest.raises(InvalidInput) as refused:
        stack.withdrawals.quote(user.id, "polygon", "TLsanctionedTronAddressXXXXXXXXXXX", Money.of("1", "USDT"))
    assert refused.value.details.get("field") == "address"


def test_at_the_travel_rule_threshold_the_attestation_is_asked_and_kept():
    """USD 100 threshold: 150 USDT needs the self-hosted attestation and a verified identity, and keeps a record."""
    stack, user = ready(threshold_usd="100")
    with pytest.raises(IncompleteTravelRuleData):
        stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("150", "USDT"))
    stack.verify_identity(user, "Amina Wanjiru Otieno")
    w = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("150", "USDT"), self_hosted=True)
    with stack.wallet.backend.uow() as uow:
        record = uow.travel_rule.for_transfer(TransferDirection.OUT, w.id)
    assert record is not None and record.id == w.travel_rule_id
    assert record.attestation is not None and record.attestation.address == ADDRESS
    name = record.ivms101()["originator"]["originatorPersons"][0]["naturalPerson"]["name"]["nameIdentifier"][0]
    assert name == {"primaryIdentifier": "Otieno", "secondaryIdentifier": "Amina Wanjiru", "nameIdentifierType": "LEGL"}


def _sent(stack, user):
    w = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    stack.clock.advance(hours=24)
    stack.withdrawals.send_due()
    return w


def test_resolve_follows_what_the_chain_says_and_refuses_what_it_does_not_justify():
    """Not sent yet: refused. Mined: posted. Reverted: failed, coins back. A fail on a confirmed one: refused."""
    stack, user = ready()
    waiting = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("10", "USDT"))
    with pytest.raises(Refused):
        stack.withdrawals.resolve(waiting.id, actor="ops:a")
    mined = _sent(stack, user)
    stack.senders["polygon"].finish(mined.id, TxState.CONFIRMED)
    done = stack.withdrawals.resolve(mined.id, actor="ops:a")
    assert (done.outcome, done.withdrawal.state) == ("confirmed", WithdrawalState.CONFIRMED)
    with pytest.raises(Refused):
        stack.withdrawals.resolve(mined.id, actor="ops:a", fail=True, reason="wrong")
    reverted = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("50", "USDT"))
    stack.withdrawals.send_due()
    stack.senders["polygon"].finish(reverted.id, TxState.FAILED)
    failed = stack.withdrawals.resolve(reverted.id, actor="ops:a", fail=True, reason="reverted")
    assert (failed.outcome, failed.withdrawal.state) == ("failed", WithdrawalState.FAILED)
    assert stack.wallet.balance(user, "USDT") == Money.of("188", "USDT")  # 300 - 101 sent - 11 held


def test_resolve_treats_a_withdrawal_the_sender_never_signed_as_unmineable():
    """The sender holds no transaction for it: reported as not to be mined; --fail returns the coins."""
    stack, user = ready()
    w = _sent(stack, user)
    del stack.senders["polygon"].sent[w.id]  # as a hot wallet whose signed transaction was never stored
    looked = stack.withdrawals.resolve(w.id, actor="ops:a")
    assert (looked.outcome, looked.chain, looked.withdrawal.state) == ("dropped", "not signed", WithdrawalState.SENT)
    back = stack.withdrawals.resolve(w.id, actor="ops:a", fail=True, reason="never signed")
    assert (back.outcome, back.withdrawal.state) == ("returned", WithdrawalState.FAILED)
    assert "returned by ops:a: never signed" in (back.withdrawal.failure or "")
    assert stack.wallet.balance(user, "USDT") == Money.of("300", "USDT")


def test_resolve_does_not_broadcast_again_to_an_address_listed_since():
    """Still pending, but its address was put on a sanctions list meanwhile: not broadcast again."""
    stack, user = ready()
    w = _sent(stack, user)
    entry = ListEntry(ref="ofac:77", kind="entity", names=("Mixer",), addresses=(("polygon", ADDRESS),))
    stack.screening.import_list("ofac_sdn", "v-77", [entry], actor="operator:test")
    before = len(stack.senders["polygon"].requests)
    with pytest.raises(Refused, match="listed now"):
        stack.withdrawals.resolve(w.id, actor="ops:a")
    assert len(stack.senders["polygon"].requests) == before


def test_a_withdrawal_cooling_off_when_compliance_freezes_its_owner_is_not_sent_until_unfrozen():
    """review6 F8/F9's class: the freeze is checked when the money leaves, not only when it is asked. A withdrawal to a
    new address waits 24 hours; a freeze placed meanwhile keeps it requested (its coins held), then it is sent."""
    stack, user = ready()
    w = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    with stack.wallet.backend.uow() as uow:
        profile = uow.kyc.get(user.id)
        profile.freeze("usr_officer", "STR filed: structuring", at=stack.clock.now())
        uow.kyc.update(profile)
    stack.clock.advance(hours=25)
    assert stack.withdrawals.send_due() == []
    assert stack.senders["polygon"].requests == []
    assert stack.wallet.balance(user, "USDT") == Money.of("199", "USDT")
    with stack.wallet.backend.uow() as uow:
        profile = uow.kyc.get(user.id)
        profile.unfreeze("usr_officer2", at=stack.clock.now())
        uow.kyc.update(profile)
    [sent] = stack.withdrawals.send_due()
    assert sent.id == w.id and sent.state is WithdrawalState.SENT


def test_a_frozen_users_many_due_withdrawals_never_hold_up_another_users():
    """A run reads past the withdrawals of frozen users (``page_past``): 101 due withdrawals of a frozen user, all
    due earlier, stay requested and another user's withdrawal is sent in the same run (it waited behind them)."""
    stack, user = ready()
    frozen = stack.wallet.sign_up("0712000002", tier=1)
    w = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    with stack.wallet.backend.uow() as uow:
        profile = uow.kyc.get(frozen.id)
        profile.freeze("usr_officer", "STR filed: structuring", at=stack.clock.now())
        uow.kyc.update(profile)
        for n in range(101):
            held = f"wd_held{n:03}"
            uow.withdrawals.add(
                attrs.evolve(w, id=held, user_id=frozen.id, send_after=w.send_after - timedelta(hours=1))
            )
    stack.clock.advance(hours=25)
    [sent] = stack.withdrawals.send_due()
    assert (sent.id, sent.state) == (w.id, WithdrawalState.SENT)
    with stack.wallet.backend.uow() as uow:
        waiting = uow.withdrawals.due(stack.clock.now(), limit=500)
    assert len(waiting) == 101 and {x.user_id for x in waiting} == {frozen.id}
