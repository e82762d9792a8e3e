"""Compliance on money leaving a merchant: settlement waits for KYB, freezes hold payouts, tier limits refuse by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from cryptopay.core.compliance.feed import MonitoringFeed
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.rules import load_rules
from cryptopay.core.errors import Conflict, InvalidInput, MovementUnavailable
from cryptopay.core.kyc import KycProfile, PartyKind, Requirement
from cryptopay.core.kyc.limits import check_movement, check_payout
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments.model import RefundState
from cryptopay.core.payouts import PayoutState
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import ManualClock, SequentialIds
from hypothesis import given
from hypothesis import strategies as st

from tests.support.kyc_rig import GatedStack

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ZERO = Money.zero(KES)


def kes(value: str) -> Money:
    return Money.of(value, KES)


def verified_merchant(party: str = "mer_1") -> KycProfile:
    profile = KycProfile(party_id=party, kind=PartyKind.MERCHANT)
    evidence = {Requirement.PHONE, Requirement.EMAIL, Requirement.BUSINESS_REGISTRATION, Requirement.KRA_PIN}
    profile.submit(1, evidence, at=NOW)
    profile.approve("usr_ann", at=NOW)
    profile.approve("usr_bob", at=NOW)
    return profile


def test_an_unverified_merchant_waits_for_kyb_only_when_the_deployment_requires_it():
    """``kyb`` refuses without an approved tier 1; without the requirement an unverified merchant is not limited."""
    parts = [kes("1000")]
    assert check_payout(None, parts, paid_today=ZERO, paid_this_month=ZERO, at=NOW, require_kyb=True).limit == "kyb"
    assert check_payout(None, parts, paid_today=ZERO, paid_this_month=ZERO, at=NOW, require_kyb=False).allowed
    assert check_payout(
        verified_merchant(), parts, paid_today=ZERO, paid_this_month=ZERO, at=NOW, require_kyb=True
    ).allowed


def test_tier_limits_refuse_by_name_counting_the_parts_in_order():
    """Tier 1 allows KES 5,000,000 a day: the part that would cross it is refused as ``daily``."""
    profile = verified_merchant()
    parts = [kes("250000")] * 4
    decision = check_payout(profile, parts, paid_today=kes("4500000"), paid_this_month=ZERO, at=NOW, require_kyb=True)
    assert (decision.allowed, decision.limit) == (False, "daily")
    assert "above the daily limit of KES 5,000,000.00" in decision.reason


def test_a_freeze_refuses_every_movement_and_is_part_of_the_limit_check():
    """Frozen comes first, for merchants' payouts and for any movement checked by ``check_movement``."""
    profile = verified_merchant()
    profile.freeze("usr_ann", "court order 12/2026", at=NOW)
    assert check_payout(profile, [], paid_today=ZERO, paid_this_month=ZERO, at=NOW, require_kyb=False).limit == "frozen"
    frozen = check_movement(profile, kes("1"), spent_today=ZERO, spent_this_month=ZERO, at=NOW)
    assert frozen.limit == "frozen" and profile.party_id not in frozen.reason and "compliance" not in frozen.reason
    with pytest.raises(MovementUnavailable) as refused:  # neutral, never a limit_exceeded naming the freeze
        frozen.enforce()
    assert refused.value.code == "movement_unavailable" and "limit" not in refused.value.details
    with pytest.raises(Conflict):
        profile.freeze("usr_bob", "again", at=NOW)
    profile.unfreeze("usr_bob", at=NOW)
    assert check_movement(profile, kes("1"), spent_today=ZERO, spent_this_month=ZERO, at=NOW).allowed
    with pytest.raises(Conflict):
        profile.unfreeze("usr_bob", at=NOW)


def test_a_freeze_needs_a_reason():
    """No reason, no freeze."""
    with pytest.raises(InvalidInput):
        verified_merchant().freeze("usr_ann", "  ", at=NOW)


@given(
    st.lists(st.integers(min_value=1, max_value=400_000), max_size=6),
    st.integers(min_value=0, max_value=6_000_000),
)
def test_payout_checks_never_allow_more_than_the_daily_limit(parts, paid):
    """Whatever the parts and what was paid today, an allowed plan stays within tier 1's daily limit."""
    amounts = [kes(str(p)) for p in parts]
    decision = check_payout(
        verified_merchant(), amounts, paid_today=kes(str(paid)), paid_this_month=ZERO, at=NOW, require_kyb=True
    )
    if decision.allowed:
        assert paid + sum(parts) <= 5_000_000 or not parts
        assert all(p <= 1_000_000 for p in parts)


def test_an_unverified_merchant_is_paid_but_its_settlement_waits_for_kyb():
    """The payment is credited; the settlement is held (``kyb``) with nothing written; after KYB it settles."""
    gated = GatedStack(require_kyb=True)
    gated.paid()
    [held] = gated.stack.settling.run_settlements()
    assert held.settlement is None and held.reason.startswith("held (kyb)")
    assert gated.stack.ledger.balance("liabilities:merchant:mer_duka:USDT").posted == Money.of("99", USDT)
    gated.kyb_approved()
    [run] = gated.stack.settling.run_settlements()
    assert run.settlement is not None and len(run.payouts) == 1


def test_a_frozen_merchants_planned_payouts_stay_planned_until_unfrozen():
    """A freeze after settlement holds the payout at the send; unfreezing lets the next run send it."""
    gated = GatedStack(require_kyb=False)
    gated.paid()
    [run] = gated.stack.settling.run_settlements()
    [payout] = run.payouts
    gated.kyc.review.freeze("usr_ann", "mer_duka", PartyKind.MERCHANT, "sanctions match under review")
    assert gated.stack.payouts.submit_payouts() == []
    assert gated.stack.payouts.get_payout(payout.id).state is PayoutState.PLANNED
    gated.paid("10")
    [held] = gated.stack.settling.run_settlements()
    assert held.reason == "held: this cannot be done on this account at the moment: contact support"  # no tipping off
    gated.kyc.review.unfreeze("usr_bob", "mer_duka", PartyKind.MERCHANT)
    [sent] = gated.stack.payouts.submit_payouts()
    assert sent.state is PayoutState.SUBMITTED
    assert gated.kyc.audit_actions()[-2:] == ["kyc.frozen", "kyc.unfrozen"]


SETTLEMENT_RULES = """{"version": 5, "rules": [
  {"id": "payout-over-10k", "kind": "large_transaction", "threshold_kes": "10000", "blocking": true,
   "products": ["settlement_payout"]}]}"""


def test_a_blocking_rule_holds_a_settlement_and_settled_payouts_are_journaled():
    """Monitoring sees the approved parts before anything is written (a blocking hit holds the run, the funds stay)
    and journals each payout, to its destination, once the settlement committed."""
    for rules, blocked in (
        (SETTLEMENT_RULES, True),
        (SETTLEMENT_RULES.replace('"blocking": true', '"blocking": false'), False),
    ):
        storage = InMemoryStorage(**monitoring_repositories())
        monitoring = Monitoring(
            uow=storage.unit_of_work, rules=load_rules(rules), clock=ManualClock(), ids=SequentialIds()
        )
        gated = GatedStack(require_kyb=False, monitor=MonitoringFeed(monitoring))
        gated.paid()
        [run] = gated.stack.settling.run_settlements()
        with storage.unit_of_work() as uow:
            journal = uow.movements.for_party("mer_duka", since=datetime(2000, 1, 1, tzinfo=UTC))
        if blocked:
            assert run.settlement is None and "payout-over-10k" in run.reason and journal == []
            assert gated.stack.ledger.balance("liabilities:merchant:mer_duka:USDT").posted == Money.of("99", USDT)
            assert [a.rule_id for a in monitoring.alerts()] == ["payout-over-10k"]
        else:
            [payout] = run.payouts
            [moved] = journal
            assert (moved.id, moved.product, moved.counterparty) == (payout.id, "settlement_payout", "254712345678")
            assert moved.amount == payout.amount and monitoring.alerts() == []


CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


def _paid_invoice(gated: GatedStack, usdt: str = "100") -> str:
    invoice = gated.stack.invoicing.create_invoice("mer_duka", Money.of(usdt, USDT))
    gated.stack.pay(invoice.id)
    gated.stack.confirm(3)
    return invoice.id


def _stack_audit(gated: GatedStack) -> list[str]:
    with gated.stack.uow() as uow:
        return [r.action for r in uow.audit.records()]


def test_a_frozen_merchant_cannot_refund_and_nothing_is_held_or_funded():
    """review6 F9: after a freeze a refund (funded on credit after settlement, or from the balance) is refused with the
    neutral ``movement_unavailable``, audited; no refund, no hold, no quote, nothing owed."""
    gated = GatedStack(require_kyb=False)
    settled = _paid_invoice(gated)
    [run] = gated.stack.settling.run_settlements()
    assert run.settlement is not None
    unsettled = _paid_invoice(gated, "10")
    gated.kyc.review.freeze("usr_ann", "mer_duka", PartyKind.MERCHANT, "sanctions match under review")
    quotes_before = len(gated.stack.quotes)
    for invoice_id, funded in ((settled, True), (unsettled, False)):
        with pytest.raises(MovementUnavailable):
            gated.stack.refunds.refund(
                invoice_id,
                address=CUSTOMER,
                requested_by="user:usr_owner",
                amount=Money.of("7", USDT),
                fund_after_settlement=funded,
            )
        assert gated.stack.refunds.list_refunds(invoice_id) == []
    assert _stack_audit(gated).count("refund.refused") == 2
    assert "refund.fund" not in _stack_audit(gated) and "refund.request" not in _stack_audit(gated)
    owed = gated.stack.ledger.balances(["assets:merchant_receivable:mer_duka:KES"])
    assert all(not b.posted.is_positive() for b in owed.values())
    assert gated.stack.ledger.balance("liabilities:merchant:mer_duka:USDT").posted == Money.of("9.9", USDT)
    assert len(gated.stack.quotes) == quotes_before  # refused before any quote was locked
    gated.kyc.review.unfreeze("usr_bob", "mer_duka", PartyKind.MERCHANT)
    refund = gated.stack.refunds.refund(
        unsettled, address=CUSTOMER, requested_by="user:usr_owner", amount=Money.of("7", USDT)
    )
    assert refund.state is RefundState.REQUESTED


def test_a_refund_recorded_before_a_freeze_is_not_sent_until_unfrozen():
    """review6 F9: the worker asks the gate again before sending; the refund stays requested, its coins held."""
    gated = GatedStack(require_kyb=False)
    invoice_id = _paid_invoice(gated)
    refund = gated.stack.refunds.refund(
        invoice_id, address=CUSTOMER, requested_by="user:usr_owner", amount=Money.of("7", USDT)
    )
    gated.kyc.review.freeze("usr_ann", "mer_duka", PartyKind.MERCHANT, "sanctions match under review")
    assert gated.stack.refunds.send_refunds() == []
    assert gated.stack.refunds.get_refund(refund.id).state is RefundState.REQUESTED
    gated.kyc.review.unfreeze("usr_bob", "mer_duka", PartyKind.MERCHANT)
    [sent] = gated.stack.refunds.send_refunds()
    assert sent.id == refund.id and sent.state is RefundState.SENT


CROWD = 101  # one more than a run's page (``limit=100``): the frozen party's items fill it and spill over


def test_a_frozen_merchants_many_planned_payouts_never_hold_up_another_merchants():
    """A run reads past the payouts compliance holds (``page_past``): 101 planned payouts of a frozen merchant, all
    older, stay planned and another merchant's payout is sent in the same run (it waited behind them before)."""
    gated = GatedStack(require_kyb=False)
    gated.paid()
    [run] = gated.stack.settling.run_settlements()
    [payout] = run.payouts
    gated.kyc.review.freeze("usr_ann", "mer_held", PartyKind.MERCHANT, "court order 12/2026")
    earlier = payout.created_at - timedelta(minutes=5)
    with gated.stack.uow() as uow:
        for n in range(CROWD):
            held = f"po_held{n:03}"
            uow.payouts.add(
                attrs.evolve(payout, id=held, merchant_id="mer_held", originator_id=held, created_at=earlier)
            )
    [sent] = gated.stack.payouts.submit_payouts()
    assert (sent.id, sent.state) == (payout.id, PayoutState.SUBMITTED)
    with gated.stack.uow() as uow:
        waiting = uow.payouts.by_state(PayoutState.PLANNED, limit=500)
    assert len(waiting) == CROWD and {p.merchant_id for p in waiting} == {"mer_held"}


def test_a_frozen_merchants_many_requested_refunds_never_hold_up_another_merchants():
    """101 requested refunds of a frozen merchant, all older, stay requested; another merchant's refund is sent in
    the same run."""
    gated = GatedStack(require_kyb=False)
    invoice_id = _paid_invoice(gated)
    refund = gated.stack.refunds.refund(
        invoice_id, address=CUSTOMER, requested_by="user:usr_owner", amount=Money.of("7", USDT)
    )
    gated.kyc.review.freeze("usr_ann", "mer_held", PartyKind.MERCHANT, "court order 12/2026")
    earlier = refund.created_at - timedelta(minutes=5)
    with gated.stack.uow() as uow:
        for n in range(CROWD):
            held = attrs.evolve(refund, id=f"rf_held{n:03}", invoice_id=f"inv_held{n:03}", merchant_id="mer_held")
            uow.refunds.add(attrs.evolve(held, created_at=earlier))
    [sent] = gated.stack.refunds.send_refunds()
    assert (sent.id, sent.state) == (refund.id, RefundState.SENT)
    with gated.stack.uow() as uow:
        waiting = uow.refunds.by_state(RefundState.REQUESTED, limit=500)
    assert len(waiting) == CROWD and {r.merchant_id for r in waiting} == {"mer_held"}
