"""Payout answers: recorded before sent, matched by token and ids, single use, strict successes, kept when unmatched."""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from cryptopay.core import flows
from cryptopay.core.errors import Refused
from cryptopay.core.identity.model import Forbidden
from cryptopay.core.mobile_money import Acknowledgement, TransactionStatusRequest, parse_payload
from cryptopay.core.money import KES, Money
from cryptopay.core.payouts import PayoutState
from cryptopay.core.payouts.service import CallbackPurpose
from cryptopay.core.settlement import SettlementMethod
from cryptopay.core.testing import daraja_payloads
from cryptopay.core.testing.mobile_money import FakeMobileMoney, Scenario

from tests.unit.payments.test_payments_payouts import AMOUNT, OK_PHONE, PAID, planned_payout

LOST = "254711000008"  # the fake M-Pesa pays, but posts no result callback


class AnswersFirst(FakeMobileMoney):
    """The fake M-Pesa, except that it posts a Transaction Status answer before the status call returns."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.post: Callable[[str, Any], object] = lambda url, payload: None

    def transaction_status(self, request: TransactionStatusRequest, **options: object) -> Acknowledgement:
        ack = super().transaction_status(request, **options)
        answers, self.outbox[:] = list(self.outbox), []
        for answer in answers:
            self.post(answer.url, answer.payload)
        return ack


def audit_count(stack: Any) -> int:
    return len(stack.storage.audit_records())


def test_a_status_answer_arriving_before_the_query_is_stored_still_completes_the_payout() -> None:
    """The result callback is lost and the status answer beats the status call's return: the payout ends final."""
    mpesa = AnswersFirst()
    stack, payout = planned_payout(LOST, mpesa=mpesa)
    mpesa.post = stack.deliver
    stack.payouts.submit_payouts()
    assert stack.deliver_callbacks() == []
    stack.clock.advance(minutes=2)
    stack.payouts.query_stale_payouts()
    done = stack.payouts.get_payout(payout.id)
    assert done.state is PayoutState.COMPLETED and done.receipt
    assert stack.balance(flows.FLOAT) == -PAID and stack.books_balanced()
    assert "payout.result_unmatched" not in {r.action for r in stack.storage.audit_records()}


def test_a_token_is_refused_on_another_callback_url() -> None:
    """A payout's result token posted to the status URL (or any other) is Forbidden and writes nothing."""
    stack, payout = planned_payout()
    stack.payouts.submit_payouts()
    [delivery] = stack.mpesa.outbox
    before = audit_count(stack)
    for purpose in (CallbackPurpose.TIMEOUT, CallbackPurpose.STATUS_RESULT, CallbackPurpose.STATUS_TIMEOUT):
        with pytest.raises(Forbidden):
            stack.payouts.handle_payout_result(
                parse_payload(delivery.payload), token=delivery.url.rsplit("/", 1)[1], purpose=purpose
            )
    assert stack.payouts.get_payout(payout.id).state is PayoutState.SUBMITTED and audit_count(stack) == before


def test_a_token_works_once() -> None:
    """After a token's first answer, a second answer on it changes nothing, even one that would complete it."""
    stack, payout = planned_payout(LOST)
    stack.payouts.submit_payouts()
    sim = stack.mpesa.transaction(payout.originator_id or "")

    def success(amount: Money) -> Any:
        now = stack.clock.now()
        return daraja_payloads.b2c_result(
            sim.reference, sim.conversation_id, "SBX1", amount, OK_PHONE, now, Money.of("1", KES)
        )

    first = stack.deliver(sim.result_url or "", success(Money.of("99999", KES)))
    assert first is not None and first.state is PayoutState.UNKNOWN
    again = stack.deliver(sim.result_url or "", success(AMOUNT))
    assert again is not None and again.state is PayoutState.UNKNOWN
    assert stack.balance(flows.FLOAT) == Money.zero(KES)
    stack.payouts.query_stale_payouts()
    assert stack.deliver_callbacks()[0].state is PayoutState.COMPLETED  # type: ignore[union-attr]


@pytest.mark.parametrize("drop", ["TransactionAmount", "ReceiverPartyPublicName"])
def test_a_success_missing_the_amount_or_the_receiving_party_moves_nothing(drop: str) -> None:
    """A success result must carry the amount and the receiving party; without one the payout is unknown."""
    stack, payout = planned_payout(LOST)
    stack.payouts.submit_payouts()
    sim = stack.mpesa.transaction(payout.originator_id or "")
    success = daraja_payloads.b2c_result(
        sim.reference, sim.conversation_id, "SBX1", AMOUNT, OK_PHONE, stack.clock.now(), Money.of("1", KES)
    )
    params = success["Result"]["ResultParameters"]["ResultParameter"]
    success["Result"]["ResultParameters"]["ResultParameter"] = [p for p in params if p["Key"] != drop]
    doubt = stack.deliver(sim.result_url or "", success)
    assert doubt is not None and doubt.state is PayoutState.UNKNOWN
    assert stack.balance(flows.FLOAT) == Money.zero(KES)


def test_a_success_that_carries_none_of_the_payout_s_ids_moves_nothing() -> None:
    """A success result must carry the payout's OriginatorConversationID or ConversationID."""
    stack, payout = planned_payout(LOST)
    stack.payouts.submit_payouts()
    sim = stack.mpesa.transaction(payout.originator_id or "")
    anonymous = daraja_payloads.b2c_result(
        sim.reference, sim.conversation_id, "SBX1", AMOUNT, OK_PHONE, stack.clock.now(), Money.of("1", KES)
    )
    for key in ("OriginatorConversationID", "ConversationID"):
        del anonymous["Result"][key]
    doubt = stack.deliver(sim.result_url or "", anonymous)
    assert doubt is not None and doubt.state is PayoutState.UNKNOWN
    assert stack.balance(flows.FLOAT) == Money.zero(KES)


def test_a_success_to_another_phone_moves_nothing() -> None:
    """A success naming our payout but another receiving phone makes it unknown for a status query."""
    stack, payout = planned_payout(LOST)
    stack.payouts.submit_payouts()
    sim = stack.mpesa.transaction(payout.originator_id or "")
    forged = daraja_payloads.b2c_result(
        sim.reference, sim.conversation_id, "SBX1", AMOUNT, "254799999999", stack.clock.now(), Money.of("1", KES)
    )
    assert stack.deliver(sim.result_url or "", forged).state is PayoutState.UNKNOWN  # type: ignore[union-attr]


@pytest.mark.parametrize("masked", ["************", "254*********", "2547*******9"])
def test_a_success_whose_receiving_party_is_masked_past_recognition_moves_nothing(masked: str) -> None:
    """M-Pesa masks a phone's middle digits only: a party hiding the prefix or the last three digits matches nothing."""
    stack, payout = planned_payout(LOST)
    stack.payouts.submit_payouts()
    sim = stack.mpesa.transaction(payout.originator_id or "")
    forged = daraja_payloads.b2c_result(
        sim.reference, sim.conversation_id, "SBX1", AMOUNT, masked, stack.clock.now(), Money.of("1", KES)
    )
    assert stack.deliver(sim.result_url or "", forged).state is PayoutState.UNKNOWN  # type: ignore[union-attr]
    assert stack.balance(flows.FLOAT) == Money.zero(KES)


def test_a_failure_for_a_payout_whose_outcome_was_unknown_waits_for_a_status_answer() -> None:
    """Unknown, then a failure result: the hold stays until Transaction Status confirms the failure."""
    stack, payout = planned_payout("254711000012")  # only the queue timeout URL is hit
    stack.payouts.submit_payouts()
    [timed_out] = stack.deliver_callbacks()
    assert timed_out is not None and timed_out.state is PayoutState.UNKNOWN
    sim = stack.mpesa.transaction(payout.originator_id or "")
    failure = daraja_payloads.failed_result("2001", "The initiator is invalid", sim.reference, sim.conversation_id, "X")
    waiting = stack.deliver(sim.result_url or "", failure)
    assert waiting is not None and waiting.state is PayoutState.UNKNOWN
    assert stack.ledger.balance(flows.merchant_liability("m1", KES)).available == Money.of("0.65", KES)
    stack.payouts.query_stale_payouts()
    assert stack.deliver_callbacks()[0].state is PayoutState.COMPLETED  # type: ignore[union-attr]


def test_a_payout_unknown_past_the_bound_is_reported_once_and_asked_about_again() -> None:
    """Past the bound on unknown, one audit record (and a warning) and a status query at once."""
    stack, payout = planned_payout(LOST)
    stack.mpesa.set_scenario(LOST, Scenario.QUEUE_TIMEOUT)
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    stack.mpesa.outbox.clear()
    assert stack.payouts.report_overdue_payouts() == []
    stack.clock.advance(minutes=31)
    [late] = stack.payouts.report_overdue_payouts()
    assert late.id == payout.id and late.overdue_since is not None
    assert stack.payouts.report_overdue_payouts() == []
    assert [r.action for r in stack.storage.audit_records()].count("payout.unknown_overdue") == 1
    assert stack.metrics.get("cryptopay_payouts_unknown_overdue") == 1
    assert [p.id for p in stack.payouts.query_stale_payouts()] == [payout.id]


def test_an_answer_with_an_unknown_token_is_kept_when_its_source_is_vouched_for_and_matched_later() -> None:
    """From an allowed source, an answer whose token names no request is kept, then makes its payout due for status."""
    stack, payout = planned_payout(LOST)
    stack.payouts.submit_payouts()
    sim = stack.mpesa.transaction(payout.originator_id or "")
    answer = daraja_payloads.status_result(
        "9-9-1",
        "AG_9",
        receipt="SBX1",
        status="Completed",
        amount=AMOUNT,
        phone=OK_PHONE,
        original_originator=sim.reference,
        original_conversation=sim.conversation_id,
        at=stack.clock.now(),
    )
    body = json.dumps(answer, default=str)
    kept = stack.payouts.handle_payout_result(
        parse_payload(answer), token="unknown", purpose=CallbackPurpose.STATUS_RESULT, keep=body
    )
    assert kept is None and stack.payouts.get_payout(payout.id).state is PayoutState.SUBMITTED
    [matched] = stack.payouts.match_kept_answers()
    assert matched.id == payout.id and matched.check_at == stack.clock.now()
    assert stack.payouts.match_kept_answers() == [] and stack.balance(flows.FLOAT) == Money.zero(KES)
    assert [p.id for p in stack.payouts.query_stale_payouts()] == [payout.id]


def test_an_answer_with_an_unknown_token_from_an_unvouched_source_writes_nothing() -> None:
    """Without a vouched-for source, an unknown token is Forbidden and nothing durable is written."""
    stack, payout = planned_payout(LOST)
    stack.payouts.submit_payouts()
    before = audit_count(stack)
    failure = daraja_payloads.failed_result("1", "Insufficient funds", payout.originator_id or "", "AG_1", "X")
    with pytest.raises(Forbidden):
        stack.payouts.handle_payout_result(parse_payload(failure), token="forged", purpose=CallbackPurpose.RESULT)
    assert audit_count(stack) == before and stack.payouts.match_kept_answers() == []
    assert stack.payouts.get_payout(payout.id).state is PayoutState.SUBMITTED


def test_a_submitted_payout_becomes_unknown_when_its_status_query_is_recorded() -> None:
    """A submitted payout becomes unknown when its status query is recorded, before the query is sent."""
    stack, _payout = planned_payout(LOST)
    stack.payouts.submit_payouts()
    stack.clock.advance(seconds=timedelta(minutes=2).total_seconds())
    [asked] = stack.payouts.query_stale_payouts()
    assert asked.state is PayoutState.UNKNOWN and asked.unknown_since == stack.clock.now()
    assert len(asked.queries) == 1 and asked.queries[0].originator_id is not None


def test_the_follow_up_job_matches_kept_answers_reports_overdue_payouts_and_asks_about_them() -> None:
    """One scheduled run: a kept answer makes its payout due, the overdue one is reported, both are asked about."""
    stack, payout = planned_payout(LOST)
    stack.payouts.submit_payouts()
    sim = stack.mpesa.transaction(payout.originator_id or "")
    answer = daraja_payloads.failed_result("1", "Insufficient funds", sim.reference, sim.conversation_id, "X")
    stack.payouts.handle_payout_result(
        parse_payload(answer), token="lost", purpose=CallbackPurpose.RESULT, keep=json.dumps(answer)
    )
    [asked] = stack.payouts.follow_up_payouts()
    assert asked.id == payout.id and asked.state is PayoutState.UNKNOWN
    stack.clock.advance(minutes=31)
    stack.mpesa.outbox.clear()
    [again] = stack.payouts.follow_up_payouts()
    assert again.overdue_since is not None
    assert "payout.unknown_overdue" in {r.action for r in stack.storage.audit_records()}
    assert stack.deliver_callbacks()[-1].state is PayoutState.COMPLETED  # type: ignore[union-attr]


def test_status_queries_about_a_payout_that_stays_unknown_come_less_often_but_never_stop() -> None:
    """Each unanswered status query doubles the wait before the next, up to half an hour."""
    stack, payout = planned_payout(LOST)
    stack.mpesa.set_scenario(LOST, Scenario.QUEUE_TIMEOUT)
    stack.payouts.submit_payouts()
    stack.mpesa.outbox.clear()
    waits = []
    for _ in range(6):
        stack.clock.advance(minutes=31)
        [asked] = stack.payouts.query_stale_payouts()
        stack.mpesa.outbox.clear()  # the answers are lost
        waits.append(int((asked.check_at - stack.clock.now()).total_seconds() // 60))
    assert waits == [2, 4, 8, 16, 30, 30] and payout.id == asked.id


def forged_failure() -> Any:
    """The reviewer's forgery: a 2001 failure naming no request (blank OriginatorConversationID and ConversationID)."""
    return daraja_payloads.failed_result("2001", "x", "", "", "OAK0000000")


def test_a_failure_naming_no_request_fails_nothing_and_the_genuine_answer_after_it_is_kept_and_decides() -> None:
    """A forged failure with blank ids on a real token leaves the hold in place (kept, audited, status asked); the
    genuine success that then arrives on the used token is kept and compared, and Transaction Status completes it."""
    stack, payout = planned_payout(LOST)
    stack.payouts.submit_payouts()
    sim = stack.mpesa.transaction(payout.originator_id or "")
    available = stack.ledger.balance(flows.merchant_liability("m1", KES)).available
    forged = stack.deliver(sim.result_url or "", forged_failure())
    assert forged is not None and forged.state is PayoutState.UNKNOWN
    assert stack.ledger.balance(flows.merchant_liability("m1", KES)).available == available  # still held
    with pytest.raises(Refused):
        stack.payouts.retry_failed_payout(payout.id, actor="ops:alice")
    genuine = daraja_payloads.b2c_result(
        sim.reference, sim.conversation_id, "SBX1", AMOUNT, OK_PHONE, stack.clock.now(), Money.of("1", KES)
    )
    again = stack.deliver(sim.result_url or "", genuine)
    assert again is not None and again.state is PayoutState.UNKNOWN and again.check_at == stack.clock.now()
    records = {r.action: dict(r.details) for r in stack.storage.audit_records()}
    with stack.uow() as uow:
        kept = [
            uow.unmatched_answers.get(records[a]["answer"])
            for a in ("payout.result_mismatch", "payout.answer_repeated")
        ]
    assert all(a is not None and a.payout_id == payout.id and a.matched_at for a in kept)
    assert kept[0] is not None and '"OAK0000000"' in kept[0].body
    stack.payouts.query_stale_payouts()
    [done] = stack.deliver_callbacks()
    assert done is not None and done.state is PayoutState.COMPLETED and stack.balance(flows.FLOAT) == -PAID


def test_an_answer_contradicting_a_final_payout_on_its_used_token_is_audited_as_a_conflict() -> None:
    """After a success, a failure posted again on the same result token changes nothing and is a result_conflict."""
    stack, payout = planned_payout()
    stack.payouts.submit_payouts()
    sim = stack.mpesa.transaction(payout.originator_id or "")
    [done] = stack.deliver_callbacks()
    assert done is not None and done.state is PayoutState.COMPLETED
    failure = daraja_payloads.failed_result("2001", "x", sim.reference, sim.conversation_id, "OAK0000000")
    after = stack.deliver(sim.result_url or "", failure)
    assert after is not None and after.state is PayoutState.COMPLETED and stack.books_balanced()
    assert "payout.result_conflict" in {r.action for r in stack.storage.audit_records()}


def test_a_failure_whose_ids_the_payout_learns_from_it_waits_for_transaction_status() -> None:
    """A B2B payout whose acknowledgement was lost is not failed by a result it learns its ids from: status decides."""
    stack, payout = planned_payout("123456", method=SettlementMethod.MPESA_TILL)
    stack.payouts.submit_payouts()
    with stack.uow() as uow:  # the acknowledgement was lost: no id recorded
        lost = uow.payouts.get(payout.id)
        assert lost is not None
        sim = stack.mpesa.transaction(lost.originator_id or "")
        lost.originator_id, lost.conversation_id = None, None
        uow.payouts.update(lost)
    stack.mpesa.outbox.clear()
    failure = daraja_payloads.failed_result("2001", "x", sim.reference, sim.conversation_id, "OAK0000000")
    waiting = stack.deliver(sim.result_url or "", failure)
    assert waiting is not None and waiting.state is not PayoutState.FAILED and waiting.check_at == stack.clock.now()
    stack.payouts.query_stale_payouts()
    [done] = stack.deliver_callbacks()
    assert done is not None and done.state is PayoutState.COMPLETED


def test_a_failure_naming_only_our_own_id_fails_nothing_once_mpesa_s_conversation_id_is_known() -> None:
    """Our OriginatorConversationID is the payout's id (merchants see it): a failure must carry M-Pesa's
    ConversationID too, else it fails nothing and Transaction Status decides (here: paid)."""
    stack, payout = planned_payout(LOST)
    stack.payouts.submit_payouts()
    sim = stack.mpesa.transaction(payout.originator_id or "")
    guessed = daraja_payloads.failed_result("2001", "x", sim.reference, "AG_guessed", "OAK0000000")
    doubt = stack.deliver(sim.result_url or "", guessed)
    assert doubt is not None and doubt.state is PayoutState.UNKNOWN
    stack.payouts.query_stale_payouts()
    [done] = stack.deliver_callbacks()
    assert done is not None and done.state is PayoutState.COMPLETED and stack.books_balanced()
