"""Reconciliation against M-Pesa's own record: the statement export, Account Balance, and the alert it raises."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import attrs
import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity.model import Forbidden
from cryptopay.core.mobile_money import parse_payload, token_from_url
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts import Payout, PayoutState
from cryptopay.core.payouts.model import CallbackPurpose
from cryptopay.core.reconciliation import FloatBalance, Outside, Report, Statement, parse_statement, render_statement
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing import daraja_payloads
from cryptopay.core.testing.mobile_money import Delivery, FakeMobileMoney, Scenario
from cryptopay.core.testing.mpesa_statement import statement_of
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.reconciliation import InMemoryBalanceQueries

PHONE = "254712345678"
LOST = "254711000008"  # the fake M-Pesa pays, and posts no callback
FLOAT = Money.of("10000000", KES)  # the fake's opening float


def paid_out(phone: str = PHONE) -> tuple[PaymentsStack, Payout]:
    """An instant merchant paid 100 USDT, settled, its one payout sent to M-Pesa and its callbacks delivered."""
    stack = PaymentsStack()
    stack.add_merchant(
        "m1", settlement=SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, phone)
    )
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    [run] = stack.settling.run_settlements()
    [payout] = run.payouts
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    return stack, stack.payouts.get_payout(payout.id)


def mpesa_says(stack: PaymentsStack) -> Outside:
    """What M-Pesa says: its statement (through the CSV an operator downloads) and its Account Balance."""
    statement = parse_statement(render_statement(statement_of(stack.mpesa)))
    balance = stack.mpesa.float_balance + stack.mpesa.charges_paid  # Utility and Charges Paid, as an answer reads
    return Outside(statement=statement, mpesa_balance=balance, float_baseline=FLOAT)


WHOLE_PHONE = re.compile(r"(?<![\d*])(?:254|0)[17]\d{8}(?![\d*])")
NAMED = re.compile(r" - [^|;()]*?[A-Za-z]{2}")  # a statement's Other Party name with two letters unmasked


def differences(report: Report, name: str) -> list[tuple[str, str, str]]:
    (result,) = [r for r in report.results if r.check.name == name]
    assert not result.skipped, result.skipped
    texts = " | ".join(f"{d.subject} {d.expected} {d.actual} {d.detail}" for d in result.differences)
    assert not WHOLE_PHONE.search(texts), texts  # phones masked as everywhere else (personal data)
    assert not NAMED.search(texts), texts  # and the statement's names (Other Party Info, Details)
    return [(d.subject, d.expected, d.actual) for d in result.differences]


def test_books_that_agree_with_mpesa_reconcile_clean() -> None:
    """A payout M-Pesa paid and we completed: the statement, the float and Account Balance all agree."""
    stack, payout = paid_out()
    assert payout.state is PayoutState.COMPLETED
    report = stack.reconciliation.reconcile(mpesa_says(stack))
    assert report.clean, [(r.check.name, r.differences) for r in report.results if r.differences]
    assert not any(r.skipped for r in report.results if r.check.area == "mpesa")


def test_a_payout_mpesa_paid_while_our_books_do_not_know_is_reported() -> None:
    """M-Pesa paid a payout whose result callback was lost (our books: unknown): the statement row is matched
    to it by amount and party, and the float is off by exactly that amount."""
    stack, payout = paid_out(LOST)
    stack.clock.advance(minutes=3)
    stack.payouts.query_stale_payouts()  # the status answer is lost too: it is never delivered
    assert stack.payouts.get_payout(payout.id).state is PayoutState.UNKNOWN
    report = stack.reconciliation.reconcile(mpesa_says(stack))
    assert not report.clean
    paid, total = differences(report, "mpesa-statement")
    assert paid == (f"payout {payout.id} (unknown)", "unknown as in our books", "paid by M-Pesa")
    assert total[1:] == ("0.00 KES in our books", f"{payout.amount} per M-Pesa")
    [(_, _, float_actual)] = differences(report, "mpesa-float")
    assert float_actual == f"{FLOAT - payout.amount - payout.mpesa_charge} per Account Balance"  # M-Pesa's charge too


def test_a_payout_whose_result_reached_us_after_the_statement_period_still_counts_in_it() -> None:
    """M-Pesa completed it inside the period; we learned it minutes later (a status query): the totals agree."""
    stack, payout = paid_out()
    payouts = stack.storage.repositories["payouts"]
    late = payout.finished_at + timedelta(minutes=10)
    payouts.update(attrs.evolve(payouts.get(payout.id), finished_at=late))
    report = stack.reconciliation.reconcile(mpesa_says(stack))
    assert differences(report, "mpesa-statement") == []


def test_a_payout_our_books_failed_but_mpesa_paid_is_reported() -> None:
    """A payout failed in our books (its receipt unknown to us) that M-Pesa paid shows as paid by M-Pesa."""
    stack, payout = paid_out(LOST)
    payouts = stack.storage.repositories["payouts"]
    payouts.update(attrs.evolve(payouts.get(payout.id), state=PayoutState.FAILED))  # the broken state
    report = stack.reconciliation.reconcile(mpesa_says(stack))
    found = differences(report, "mpesa-statement")
    assert (f"payout {payout.id} (failed)", "failed as in our books", "paid by M-Pesa") in found


def test_a_payout_we_completed_that_mpesa_never_paid_is_reported() -> None:
    """A completed payout whose receipt is not on M-Pesa's statement for its period, and the totals, differ."""
    stack, payout = paid_out()
    record = statement_of(stack.mpesa)
    start = record.lines[0].completed_at - timedelta(hours=1)
    empty = Statement(lines=(), shortcode=record.shortcode, period=(start, start + timedelta(days=1)))
    report = stack.reconciliation.reconcile(Outside(statement=empty))
    found = differences(report, "mpesa-statement")
    assert found[0] == (
        f"payout {payout.id} (completed)",
        f"receipt {payout.receipt} on M-Pesa's statement",
        "not on it",
    )
    assert found[1][1:] == (f"{payout.amount} in our books", "0.00 KES per M-Pesa")


def test_a_statement_row_paid_to_another_party_or_amount_is_reported() -> None:
    """The statement row with our payout's receipt but another amount and party is two differences."""
    stack, payout = paid_out()
    record = statement_of(stack.mpesa)
    [line] = record.lines
    moved = attrs.evolve(line, withdrawn=Money.of("100", KES), other_party="254799999999 - Somebody")
    report = stack.reconciliation.reconcile(Outside(statement=attrs.evolve(record, lines=(moved,))))
    found = differences(report, "mpesa-statement")
    assert (f"payout {payout.id} (completed)", f"{payout.amount} paid", "100.00 KES paid") in found
    assert (f"payout {payout.id} (completed)", "paid to 2547******78", "paid to 2547******99") in found


def test_mpesa_checks_are_skipped_not_clean_without_mpesa_s_record() -> None:
    """With no statement and no Account Balance the M-Pesa checks say why they were skipped."""
    stack, _ = paid_out()
    report = stack.reconciliation.reconcile()
    skipped = {r.check.name: r.skipped for r in report.results if r.skipped}
    assert skipped["mpesa-statement"] == "no M-Pesa statement was imported"
    assert skipped["mpesa-float"] == "no M-Pesa Account Balance answer"


def test_the_scheduled_run_alerts_with_an_audit_record_and_gauges() -> None:
    """A run with differences appends one audit record and sets the gauges; a clean run sets clean to 1."""
    stack, _ = paid_out()
    clean = stack.reconciliation.reconcile_and_alert(mpesa_says(stack))
    assert clean.clean and stack.metrics.get("cryptopay_reconciliation_clean") == 1
    assert not [r for r in stack.storage.audit_records() if r.action == "reconciliation.differences"]
    broken = attrs.evolve(mpesa_says(stack), float_baseline=FLOAT + Money.of("1", KES))
    report = stack.reconciliation.reconcile_and_alert(broken)
    assert not report.clean and stack.metrics.get("cryptopay_reconciliation_clean") == 0
    assert stack.metrics.get("cryptopay_reconciliation_differences", check="mpesa-float", area="mpesa") == 1
    [alert] = [r for r in stack.storage.audit_records() if r.action == "reconciliation.differences"]
    assert dict(alert.details) == {"mpesa-float": "1", "differences": "1"}


def test_the_statement_parser_reads_the_portal_format() -> None:
    """Preamble lines, masked phones, negative withdrawals with separators and empty cells are read exactly."""
    text = (
        "Account Holder:,Duka Ltd\nShort Code:,600992\nAccount:,Utility Account\n"
        "Time Period:,01-01-2026 00:00:00 - 31-01-2026 23:59:59\n"
        "Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,Balance,"
        "Balance Confirmed,Reason Type,Other Party Info,Linked Transaction ID,A/C No.\n"
        'SBX1,05-01-2026 14:00:00,,Pay,Completed,,"-12,805.00","9,987,195.00",true,Business Payment,'
        "2547******678 - J Doe,,\n"
        "SBX2,05-01-2026 14:00:00,,Charge,Completed,,-15.27,,true,Business Payment Charge,,SBX1,\n"
    )
    statement = parse_statement(text)
    first, charge = statement.lines
    assert statement.shortcode == "600992" and statement.covers[0].isoformat() == "2025-12-31T21:00:00+00:00"
    assert first.is_payout and first.withdrawn == Money.of("12805", KES) and first.party_number == "2547******678"
    assert first.balance == Money.of("9987195", KES) and not charge.is_payout and charge.linked_receipt == "SBX1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n", "no header row starting with 'Receipt No.'"),
        ("Receipt No.,Completion Time\nSBX1,05-01-2026 14:00:00\n", "no Transaction Status, Paid In"),
        (
            "Receipt No.,Completion Time,Transaction Status,Paid In,Withdrawn,Reason Type,Other Party Info\n"
            "SBX1,yesterday,Completed,,-10.00,Business Payment,x\n",
            "statement line 2: 'yesterday' is not a time",
        ),
        (
            "Receipt No.,Completion Time,Transaction Status,Paid In,Withdrawn,Reason Type,Other Party Info\n"
            "SBX1,05-01-2026 14:00:00,Completed,,-10.001,Business Payment,x\n",
            "statement line 2: '-10.001' is not an amount in shillings and cents",
        ),
    ],
)
def test_an_unreadable_statement_is_refused_naming_what_is_wrong(text: str, message: str) -> None:
    """A file that is not a statement, misses a column or has a bad cell is an InvalidInput naming it."""
    with pytest.raises(InvalidInput, match=message):
        parse_statement(text)


def test_mpesa_paid_rows_not_of_ours_are_reported() -> None:
    """A payment on the statement that no payout of ours can be is reported by its receipt."""
    stack, _ = paid_out()
    record = statement_of(stack.mpesa)
    [line] = record.lines
    stranger = attrs.evolve(line, receipt="SBX9999999", other_party="254700000001 - X", withdrawn=Money.of(50, KES))
    report = stack.reconciliation.reconcile(Outside(statement=attrs.evolve(record, lines=(line, stranger))))
    assert ("receipt SBX9999999", "a payout of ours", "none in our books") in differences(report, "mpesa-statement")


def test_statement_of_the_fake_follows_its_float() -> None:
    """The fake M-Pesa's statement ends at its float and shows each payout once, by scenario."""
    stack, payout = paid_out()
    stack.mpesa.set_scenario("254711000003", Scenario.INSUFFICIENT_FUNDS)
    record = statement_of(stack.mpesa)
    assert [line.receipt for line in record.lines] == [payout.receipt]
    assert record.lines[-1].balance == stack.mpesa.float_balance


def test_an_mpesa_answer_no_request_of_ours_names_is_reported_after_a_grace_period() -> None:
    """An answer kept unmatched (its token and ids name no payout) is a difference once it has waited too long."""
    stack, _ = paid_out()
    answer = daraja_payloads.failed_result("1", "The balance is insufficient", "9-9-9", "AG_99", "SBX0000000")
    stack.payouts.handle_payout_result(
        parse_payload(answer), token="unknown", purpose=CallbackPurpose.RESULT, keep=json.dumps(answer)
    )
    assert differences(stack.reconciliation.reconcile(), "mpesa-answers") == []  # it may still be matched
    stack.clock.advance(minutes=11)
    [(subject, expected, actual)] = differences(stack.reconciliation.reconcile(), "mpesa-answers")
    assert subject.endswith("(result)") and expected == "matched to a payout of ours" and actual.startswith("unmatched")


def test_an_account_balance_answer_is_compared_with_the_books_float_of_its_moment() -> None:
    """The query is recorded before it is sent; its answer is kept with the books' float read when it came, so
    payouts completed since do not show as differences, and a payout M-Pesa paid unknown to us does."""
    stack, payout = paid_out()
    query = stack.float_balance.ask()
    assert stack.balance_queries.by_token(query.token_digest) is not None and not query.failure
    stack.deliver_callbacks()
    assert stack.reconciliation.reconcile().clean
    answer = stack.float_balance.latest()
    paid = payout.amount + payout.mpesa_charge  # the payment and M-Pesa's own charge for it
    assert payout.mpesa_charge.is_positive()
    assert answer is not None and answer.available == FLOAT - paid and answer.books == -paid
    later, _ = paid_out(LOST)  # a second deployment: M-Pesa pays, no callback reaches us
    later.float_balance.ask()
    later.deliver_callbacks()
    [(subject, _, actual)] = differences(later.reconciliation.reconcile(), "mpesa-float")
    assert subject == "assets:mpesa_float:KES" and actual == f"{FLOAT - paid} per Account Balance"


def test_an_account_balance_answer_needs_the_token_of_its_request_and_counts_once() -> None:
    """An answer with a token we never issued is Forbidden and kept nowhere; a repeat keeps the first answer."""
    stack, _ = paid_out()
    stack.float_balance.ask(token="t-1")
    [delivery] = [d for d in stack.mpesa.outbox if d.url.startswith(stack.balance_urls.result)]
    result = parse_payload(delivery.payload)
    with pytest.raises(Forbidden):
        stack.float_balance.answer(result, token="t-forged")
    first = stack.float_balance.answer(result, token="t-1")
    stack.clock.advance(minutes=1)
    assert stack.float_balance.answer(result, token="t-1") == first and first.answered_at is not None


def test_an_account_balance_answer_arriving_during_the_request_is_matched() -> None:
    """M-Pesa answering before the request call returns still finds the query: it was recorded before sending."""
    stack = PaymentsStack()
    answers: list[object] = []

    def answer_at_once(delivery: Delivery) -> None:
        answers.append(float_balance.answer(parse_payload(delivery.payload), token=token_from_url(delivery.url)))

    mpesa = FakeMobileMoney(clock=stack.clock, deliver=answer_at_once)
    float_balance = FloatBalance(
        store=InMemoryBalanceQueries(),
        gateway=mpesa,
        ledger=stack.ledger,
        clock=stack.clock,
        ids=stack.ids,
        urls=stack.balance_urls,
    )
    query = float_balance.ask()
    assert len(answers) == 1 and float_balance.latest() is not None
    assert float_balance.latest().available == FLOAT and float_balance.latest().id == query.id


def test_a_payout_whose_state_contradicts_its_recorded_result_is_reported() -> None:
    """A completed payout recorded with a failure code, and a failed one with code 0, are differences."""
    stack, payout = paid_out()
    payouts = stack.storage.repositories["payouts"]
    payouts.update(attrs.evolve(payouts.get(payout.id), result_code="1"))
    found = differences(stack.reconciliation.reconcile(), "results")
    assert found == [(f"payout {payout.id} (completed)", "result code 0", "result code 1")]


def test_a_file_the_csv_reader_cannot_read_is_refused_as_input() -> None:
    """A field beyond the CSV reader's limit (or another reader error) is an InvalidInput, not a crash."""
    with pytest.raises(InvalidInput, match="not a readable CSV file"):
        parse_statement("Receipt No.,Completion Time\n" + "S" * 200_000 + ",x\n")
