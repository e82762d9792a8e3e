"""Payouts over the fake M-Pesa: results, lost and duplicate callbacks, status queries, failures and retries."""

from datetime import timedelta
from typing import Any

import pytest
from cryptopay.core import flows
from cryptopay.core.errors import Refused
from cryptopay.core.identity.model import Forbidden
from cryptopay.core.mobile_money import B2CRequest, OutcomeUnknown, error_for_envelope, parse_payload
from cryptopay.core.mobile_money.limits import B2C_TARIFF
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts import Payout, PayoutState
from cryptopay.core.payouts.service import AwaitingStatus, CallbackPurpose, Payouts
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule, SettlementState
from cryptopay.core.testing import daraja_payloads
from cryptopay.core.testing.mobile_money import FakeMobileMoney, Scenario
from cryptopay.core.testing.payments_stack import PaymentsStack

OK_PHONE = "254712345678"
AMOUNT = Money.of("12805", KES)  # 99 USDT at bid 129.35, whole shillings
MPESA_CHARGE = B2C_TARIFF.charge(AMOUNT)  # what M-Pesa takes from the float for paying it (KES 11)
PAID = AMOUNT + MPESA_CHARGE  # what leaves the float


class FlakyMpesa(FakeMobileMoney):
    """The fake M-Pesa, except that the first B2C request fails on the wire with ``error`` before reaching it."""

    def __init__(self, error: Exception, **options: Any) -> None:
        super().__init__(**options)
        self._error: Exception | None = error
        self.b2c_calls = 0

    def b2c(self, request: B2CRequest, **options: Any):  # type: ignore[no-untyped-def]
        self.b2c_calls += 1
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return super().b2c(request, **options)


def planned_payout(
    phone: str = OK_PHONE,
    *,
    method: SettlementMethod = SettlementMethod.MPESA_B2C,
    mpesa: FakeMobileMoney | None = None,
) -> tuple[PaymentsStack, Payout]:
    """An instant merchant paid 100 USDT, settled into one planned payout of KES 12,805."""
    stack = PaymentsStack()
    if mpesa is not None:
        stack.mpesa = mpesa
        stack.payouts = Payouts(
            uow=stack.uow, clock=stack.clock, ids=stack.ids, ledger=stack.ledger, gateway=mpesa, urls=stack.urls
        )
    stack.add_merchant("m1", settlement=SettlementProfile(SettlementSchedule.INSTANT, method, phone))
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    [run] = stack.settling.run_settlements()
    [payout] = run.payouts
    return stack, payout


def b2c_requests(stack: PaymentsStack, payout: Payout) -> int:
    return sum(1 for t in stack.mpesa.transactions() if t.product == "b2c" and t.reference == payout.originator_id)


def settlement_state(stack: PaymentsStack, payout: Payout) -> SettlementState:
    with stack.uow() as uow:
        settlement = uow.settlements.get(payout.settlement_id)
        assert settlement is not None
        return settlement.state


def test_a_success_result_posts_the_hold_and_completes_the_settlement() -> None:
    """Sent, then M-Pesa's success result: the hold is posted, the float pays out, webhooks are written."""
    stack, payout = planned_payout()
    [sent] = stack.payouts.submit_payouts()
    assert sent.state is PayoutState.SUBMITTED and sent.conversation_id
    [done] = stack.deliver_callbacks()
    assert done is not None and done.state is PayoutState.COMPLETED and done.receipt
    assert stack.balance(flows.FLOAT) == -PAID and stack.balance(flows.IN_FLIGHT) == Money.zero(KES)
    assert stack.balance(flows.MPESA_CHARGES) == MPESA_CHARGE == Money.of(11, KES)  # the platform bears it
    assert stack.mpesa.float_balance + stack.mpesa.charges_paid == Money.of("10000000", KES) - PAID
    assert stack.ledger.balance(flows.merchant_liability("m1", KES)).posted == Money.of("0.65", KES)
    assert settlement_state(stack, payout) is SettlementState.COMPLETED
    completed = stack.outbox("payout.completed")
    assert [m.payload["amount"] for m in completed] == ["12805.00"] and completed[0].payload["merchant_id"] == "m1"
    assert stack.outbox("settlement.completed")[0].payload["paid"] == "12805.00"
    assert stack.mpesa.balance(OK_PHONE) == Money.of("100000", KES) + AMOUNT
    assert {"payout.submit", "payout.completed"} <= {r.action for r in stack.storage.audit_records()}
    assert stack.books_balanced()


def test_insufficient_float_fails_the_payout_and_voids_the_hold() -> None:
    """Result 1 (insufficient funds) is definitive: the hold is voided and the shillings are the merchant's again."""
    stack, _payout = planned_payout("254711000003")
    stack.payouts.submit_payouts()
    [failed] = stack.deliver_callbacks()
    assert failed is not None and (failed.state, failed.result_code) == (PayoutState.FAILED, "1")
    merchant = stack.ledger.balance(flows.merchant_liability("m1", KES))
    assert merchant.available == merchant.posted == Money.of("12805.65", KES)
    assert stack.balance(flows.FLOAT) == Money.zero(KES)
    assert [m.payload["result_code"] for m in stack.outbox("payout.failed")] == ["1"]
    assert stack.outbox("settlement.completed")[0].payload["failed_payouts"] == "1"
    assert stack.books_balanced()


def test_a_lost_callback_is_recovered_by_a_status_query_after_the_deadline() -> None:
    """No result arrives; after the 2-minute deadline Transaction Status is asked and its answer completes it."""
    stack, payout = planned_payout("254711000008")
    stack.payouts.submit_payouts()
    assert stack.deliver_callbacks() == []
    stack.clock.advance(minutes=1)
    assert stack.payouts.query_stale_payouts() == []
    stack.clock.advance(minutes=1)
    [asked] = stack.payouts.query_stale_payouts()
    assert asked.state is PayoutState.UNKNOWN and len(asked.queries) == 1
    [done] = stack.deliver_callbacks()
    assert done is not None and done.state is PayoutState.COMPLETED
    with stack.uow() as uow:
        settlement = uow.settlements.get(payout.settlement_id)
    assert settlement is not None and settlement.completed_at is not None
    assert settlement.completed_at <= settlement.complete_by
    assert b2c_requests(stack, payout) == 1 and stack.books_balanced()


def test_a_duplicate_callback_changes_nothing_the_second_time() -> None:
    """The same result twice completes the payout once: one float entry, one webhook."""
    stack, _payout = planned_payout("254711000006")
    stack.payouts.submit_payouts()
    first, second = stack.deliver_callbacks()
    assert first is not None and second is not None and second.state is PayoutState.COMPLETED
    assert len(stack.outbox("payout.completed")) == 1
    assert stack.balance(flows.FLOAT) == -PAID and stack.books_balanced()
    assert stack.balance(flows.MPESA_CHARGES) == MPESA_CHARGE  # M-Pesa's charge booked once too


def test_an_unknown_outcome_is_settled_by_a_status_query_never_by_a_second_send() -> None:
    """The answer to the B2C is lost (OutcomeUnknown): the payout is unknown, asked about, and completed; one send."""
    stack, payout = planned_payout("254711000013")
    [doubt] = stack.payouts.submit_payouts()
    assert doubt.state is PayoutState.UNKNOWN
    assert stack.payouts.submit_payouts() == []  # nothing is planned any more: no second B2C
    stack.payouts.query_stale_payouts()
    results = stack.deliver_callbacks()
    assert [p.state for p in results if p is not None][-1] is PayoutState.COMPLETED
    assert b2c_requests(stack, payout) == 1 and stack.books_balanced()


def test_a_request_that_never_reached_mpesa_is_sent_again_only_after_status_says_not_found() -> None:
    """Lost before reaching M-Pesa: status says NOT_FOUND, the payout is planned again and sent with the same id."""
    mpesa = FlakyMpesa(OutcomeUnknown("connection reset before the answer"))
    stack, payout = planned_payout(mpesa=mpesa)
    assert stack.payouts.submit_payouts()[0].state is PayoutState.UNKNOWN
    stack.payouts.query_stale_payouts()
    [not_found] = stack.deliver_callbacks()
    assert not_found is not None and not_found.state is PayoutState.PLANNED
    [resent] = stack.payouts.submit_payouts()
    assert resent.originator_id == payout.originator_id
    stack.deliver_callbacks()
    assert stack.payouts.get_payout(payout.id).state is PayoutState.COMPLETED
    assert mpesa.b2c_calls == 2 and b2c_requests(stack, payout) == 1 and stack.books_balanced()


def test_throttling_sends_the_payout_again_later() -> None:
    """Throttled (Daraja certainly did nothing): the payout goes back to planned and the next run sends it."""
    mpesa = FlakyMpesa(error_for_envelope("500.003.02", "Spike arrest violation"))
    stack, _payout = planned_payout(mpesa=mpesa)
    assert stack.payouts.submit_payouts()[0].state is PayoutState.PLANNED
    assert stack.payouts.submit_payouts()[0].state is PayoutState.SUBMITTED
    assert stack.deliver_callbacks()[0].state is PayoutState.COMPLETED  # type: ignore[union-attr]


def test_a_queue_timeout_leads_to_a_status_query() -> None:
    """Only the timeout URL is hit: no money moves until Transaction Status answers."""
    stack, _payout = planned_payout("254711000012")
    stack.payouts.submit_payouts()
    [timed_out] = stack.deliver_callbacks()
    assert timed_out is not None and timed_out.state is PayoutState.UNKNOWN
    assert stack.balance(flows.FLOAT) == Money.zero(KES)
    stack.payouts.query_stale_payouts()
    assert stack.deliver_callbacks()[0].state is PayoutState.COMPLETED  # type: ignore[union-attr]


def test_a_callback_with_a_wrong_token_is_refused_and_changes_nothing() -> None:
    """A result posted without the request's secret token is Forbidden."""
    stack, payout = planned_payout()
    stack.payouts.submit_payouts()
    delivery = stack.mpesa.outbox.pop()
    with pytest.raises(Forbidden):
        stack.payouts.handle_payout_result(
            parse_payload(delivery.payload), token="guessed", purpose=CallbackPurpose.RESULT
        )
    assert stack.payouts.get_payout(payout.id).state is PayoutState.SUBMITTED
    assert stack.balance(flows.FLOAT) == Money.zero(KES)


def test_a_success_result_that_does_not_match_the_payout_moves_nothing() -> None:
    """A result naming our payout with another amount makes it unknown; the status query then settles it."""
    stack, payout = planned_payout("254711000008")
    stack.payouts.submit_payouts()
    sim = stack.mpesa.transaction(payout.originator_id or "")
    forged = daraja_payloads.b2c_result(
        sim.reference,
        sim.conversation_id,
        "SBX9999999",
        Money.of("99999", KES),
        OK_PHONE,
        stack.clock.now(),
        Money.of("1", KES),
    )
    doubt = stack.deliver(sim.result_url or "", forged)
    assert doubt is not None and doubt.state is PayoutState.UNKNOWN
    assert stack.balance(flows.FLOAT) == Money.zero(KES)
    stack.payouts.query_stale_payouts()
    done = stack.deliver_callbacks()[0]
    assert done is not None and done.state is PayoutState.COMPLETED and done.receipt != "SBX9999999"


def test_a_failed_payout_is_retried_by_an_operator_as_a_new_attempt() -> None:
    """After a definitive failure, a retry holds the shillings again and sends under a new originator id, once."""
    stack, payout = planned_payout("254711000003")
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    stack.mpesa.set_scenario("254711000003", Scenario.SUCCESS)
    retry = confirmed_retry(stack, payout.id)
    assert (retry.attempt, retry.retry_of, retry.state) == (2, payout.id, PayoutState.PLANNED)
    assert retry.originator_id != payout.originator_id and retry.hold_id != payout.hold_id
    with pytest.raises(Refused, match="already retried"):
        stack.payouts.retry_failed_payout(payout.id, actor="ops:alice")
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    assert stack.payouts.get_payout(retry.id).state is PayoutState.COMPLETED
    with pytest.raises(Refused, match="only a definitively failed"):
        stack.payouts.retry_failed_payout(retry.id, actor="ops:alice")
    assert stack.balance(flows.FLOAT) == -PAID and stack.books_balanced()
    assert any(r.action == "payout.retry" and r.actor == "ops:alice" for r in stack.storage.audit_records())


def confirmed_retry(stack: PaymentsStack, payout_id: str, actor: str = "ops:alice") -> Payout:
    """An operator's retry of a payout failed by a callback: refused while Transaction Status is asked, then made."""
    with pytest.raises(AwaitingStatus):
        stack.payouts.retry_failed_payout(payout_id, actor=actor)
    stack.deliver_callbacks()  # the status answer: failed, as the result said
    return stack.payouts.retry_failed_payout(payout_id, actor=actor)


def test_a_retry_asks_transaction_status_first_and_a_payout_found_paid_is_completed_not_resent() -> None:
    """A payout failed by a forged-looking result that M-Pesa in fact paid: the retry asks Transaction Status (the
    query recorded before it is sent), is refused, and the answer completes the payout; a retry is then refused."""
    stack, payout = planned_payout("254711000008")  # M-Pesa pays; its result is lost
    stack.payouts.submit_payouts()
    sim = stack.mpesa.transaction(payout.originator_id or "")
    failure = daraja_payloads.failed_result("2001", "x", sim.reference, sim.conversation_id, "OAK0000000")
    failed = stack.deliver(sim.result_url or "", failure)
    assert failed is not None and failed.state is PayoutState.FAILED  # it names our ids: final, for now
    with pytest.raises(AwaitingStatus):
        stack.payouts.retry_failed_payout(payout.id, actor="ops:alice")
    asked = stack.payouts.get_payout(payout.id)
    assert len(asked.queries) == 1 and "payout.retry_status_query" in {a.action for a in stack.storage.audit_records()}
    with pytest.raises(AwaitingStatus):  # asked moments ago: not asked again
        stack.payouts.retry_failed_payout(payout.id, actor="ops:alice")
    assert len(stack.payouts.get_payout(payout.id).queries) == 1
    [paid] = stack.deliver_callbacks()
    assert paid is not None and paid.state is PayoutState.COMPLETED and paid.receipt
    with pytest.raises(Refused, match="only a definitively failed"):
        stack.payouts.retry_failed_payout(payout.id, actor="ops:alice")
    assert b2c_requests(stack, payout) == 1
    assert stack.balance(flows.FLOAT) == -PAID and stack.books_balanced()
    assert stack.balance(flows.merchant_liability("m1", KES)) == Money.of("0.65", KES)


def test_a_payout_in_flight_cannot_be_retried() -> None:
    """A payout still waiting for its result is refused a retry, so it can never be paid twice."""
    stack, payout = planned_payout("254711000008")
    stack.payouts.submit_payouts()
    with pytest.raises(Refused):
        stack.payouts.retry_failed_payout(payout.id, actor="ops:alice")


def test_a_till_payout_goes_over_b2b_and_learns_its_id_from_the_answer() -> None:
    """A till merchant is paid by B2B buy-goods; M-Pesa's originator id is recorded to match the result."""
    stack, payout = planned_payout("123456", method=SettlementMethod.MPESA_TILL)
    assert payout.originator_id is None
    [sent] = stack.payouts.submit_payouts()
    assert sent.originator_id is not None
    [done] = stack.deliver_callbacks()
    assert done is not None and done.state is PayoutState.COMPLETED
    assert stack.mpesa.business_balance("123456") == AMOUNT and stack.books_balanced()


def test_nothing_is_asked_about_before_its_deadline() -> None:
    """A submitted payout is not queried before the result deadline."""
    stack, _payout = planned_payout("254711000008")
    stack.payouts.submit_payouts()
    stack.clock.advance(seconds=timedelta(minutes=2).total_seconds() - 1)
    assert stack.payouts.query_stale_payouts() == []


def test_a_failed_payout_stops_automatic_settlement_until_an_operator_retries() -> None:
    """After a definitive failure the released shillings are not re-sent on every run; an operator's retry unblocks."""
    stack, payout = planned_payout("254711000003")
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    stack.clock.advance(minutes=1)
    [run] = stack.settling.run_settlements()
    assert run.payouts == () or not run.payouts
    assert payout.id in run.reason and "operator" in run.reason
    stack.mpesa.set_scenario("254711000003", Scenario.SUCCESS)
    confirmed_retry(stack, payout.id)
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    stack.clock.advance(minutes=1)
    [after] = stack.settling.run_settlements()
    assert "operator" not in after.reason
    assert stack.books_balanced()
