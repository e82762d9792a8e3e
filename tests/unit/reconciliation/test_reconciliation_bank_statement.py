"""reviewer10 R10-7: bank-transfer payouts compared with the bank's own statement (``--bank-statement``).

Before, a bank payout confirmed by one operator with any reference was compared with nothing. Now each confirmed
transfer within the statement's period is one debit by its reference and exact amount, every debit is one of ours,
and without a statement the ``bank-transfers`` check is skipped while any bank transfer was confirmed."""

from __future__ import annotations

from datetime import date

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts import Payout
from cryptopay.core.reconciliation import (
    BankLine,
    BankStatement,
    Outside,
    Reconciliation,
    Report,
    parse_bank_statement,
    parse_statement,
    period_of,
    render_bank_statement,
    render_statement,
)
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.mpesa_statement import statement_of
from cryptopay.core.testing.payments_stack import PaymentsStack

HEADER = (
    "Account Number:,0100123456789\nPeriod:,01-01-2026 - 31-01-2026\nDate,Reference,Narrative,Debit,Credit,Balance\n"
)


def _reconcile(stack: PaymentsStack, bank: BankStatement | None = None) -> Report:
    statement = parse_statement(render_statement(statement_of(stack.mpesa, shortcode=stack.mpesa.payout_shortcode)))
    balance = stack.mpesa.float_balance + stack.mpesa.charges_paid
    outside = Outside(
        statement=statement, mpesa_balance=balance, float_baseline=stack.mpesa.float_balance, bank_statement=bank
    )
    return stack.reconciliation.reconcile(outside)


def _bank_check(report: Report):
    (result,) = [r for r in report.results if r.check.name == "bank-transfers"]
    return result


def _bank_payout(stack: PaymentsStack) -> Payout:
    stack.add_merchant(
        "m1", settlement=SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.BANK, "CITI:1234567890")
    )
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    [run] = stack.settling.run_settlements()
    [payout] = run.payouts
    return payout


def _confirm(stack: PaymentsStack, payout: Payout, reference: str) -> Payout:
    stack.payouts.propose_bank_confirmation(payout.id, reference=reference, note="", by="user:amina")
    return stack.payouts.approve_bank_confirmation(payout.id, by="user:baraka", reference=reference)


def _statement(stack: PaymentsStack, *lines: BankLine) -> BankStatement:
    day = stack.clock.now().date().isoformat()
    return parse_bank_statement(render_bank_statement(BankStatement(lines=lines, period=period_of(day, day))))


def _debit(stack: PaymentsStack, reference: str, amount: Money) -> BankLine:
    return BankLine(on=stack.clock.now().date(), reference=reference, narrative="cryptopay", debit=amount)


def test_a_confirmed_bank_transfer_without_a_bank_statement_is_skipped_not_compared() -> None:
    """Without ``--bank-statement`` a confirmed transfer is reported not compared (``--require-outside`` exits 7)."""
    stack = PaymentsStack()
    payout = _bank_payout(stack)
    before = _reconcile(stack).skipped  # other outside sources this stack does not give (chains...)
    assert "bank-transfers" not in before  # nothing confirmed: nothing to compare
    _confirm(stack, payout, "MADE-UP-1")
    report = _reconcile(stack)
    assert sorted(report.skipped) == sorted([*before, "bank-transfers"])
    assert _bank_check(report).skipped.startswith("bank not compared: 1 confirmed bank transfer(s)")


def test_a_statement_debiting_the_transfer_by_its_reference_and_amount_reconciles() -> None:
    """The debit of the confirmed reference (spaced and in lower case on the statement) for the exact amount: the
    check is compared, clean, and the statement's account, period and digest are kept with the run."""
    stack = PaymentsStack()
    payout = _confirm(stack, _bank_payout(stack), "FT26005ABC")
    bank = _statement(stack, _debit(stack, "ft 26005 abc", payout.amount))
    report = _reconcile(stack, bank)
    assert "bank-transfers" not in report.skipped and _bank_check(report).ok, _bank_check(report).differences
    assert report.inputs["bank_statement"].endswith(f"sha256:{bank.digest}")


def test_a_missing_transfer_an_unknown_debit_and_a_different_amount_are_differences() -> None:
    """A statement without our debit reports the transfer missing and its one debit as none of ours; a debit of
    the reference for another amount is reported with both amounts."""
    stack = PaymentsStack()
    payout = _confirm(stack, _bank_payout(stack), "FT26005ABC")
    other = _reconcile(stack, _statement(stack, _debit(stack, "FT999", Money.of("500", KES))))
    found = {(d.subject, d.actual) for d in _bank_check(other).differences}
    assert found == {
        (f"bank transfer {payout.id} (completed)", "not on it"),
        ("bank reference FT999", "none in our books"),
    }
    short = payout.amount - Money.of("1", KES)
    wrong = _bank_check(_reconcile(stack, _statement(stack, _debit(stack, "FT26005ABC", short))))
    [difference] = wrong.differences
    assert (difference.expected, difference.actual) == (f"{payout.amount} paid", f"{short} debited")


def test_a_returned_transfer_a_second_debit_and_an_unapproved_confirmation_are_differences() -> None:
    """The bank crediting our reference back, or debiting it twice, is a difference; a debit whose reference is
    only proposed (no second officer yet) names the payout awaiting approval."""
    stack = PaymentsStack()
    payout = _confirm(stack, _bank_payout(stack), "FT1")
    back = BankLine(on=stack.clock.now().date(), reference="FT1", credit=payout.amount)
    twice = _statement(stack, _debit(stack, "FT1", payout.amount), _debit(stack, "FT1", payout.amount), back)
    actual = [d.actual for d in _bank_check(_reconcile(stack, twice)).differences]
    assert actual == ["a second debit", "returned by the bank"]
    waiting = PaymentsStack()
    pending = _bank_payout(waiting)
    waiting.payouts.propose_bank_confirmation(pending.id, reference="FT7", note="", by="user:amina")
    [difference] = _bank_check(
        _reconcile(waiting, _statement(waiting, _debit(waiting, "FT7", pending.amount)))
    ).differences
    assert difference.subject == f"bank transfer {pending.id} (submitted)" and "awaiting approval" in difference.actual


def test_a_transfer_confirmed_outside_the_statement_s_period_is_not_expected_on_it() -> None:
    """The statement's period is its Period line: a transfer confirmed on another day is not looked for."""
    stack = PaymentsStack()
    _confirm(stack, _bank_payout(stack), "FT1")
    bank = parse_bank_statement(
        render_bank_statement(BankStatement(lines=(), period=period_of("2020-01-01", "2020-01-02")))
    )
    assert _bank_check(_reconcile(stack, bank)).ok


def _second_bank_payout(stack: PaymentsStack) -> Payout:
    stack.add_merchant(
        "m2", settlement=SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.BANK, "CITI:1234567891")
    )
    invoice = stack.invoicing.create_invoice("m2", Money.of("100", USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    [payout] = [p for run in stack.settling.run_settlements() for p in run.payouts if p.merchant_id == "m2"]
    return payout


def test_two_completed_transfers_carrying_one_reference_are_a_difference() -> None:
    """LASTREAD reader1 L-2: one debit cannot pay two transfers. The payouts now refuse a reference another carries
    in any case, but two confirmed before (kept as typed: ``FT26337ABC`` and ``ft26337abc``) are reported, not one
    silently matched and the other forgotten."""
    stack = PaymentsStack()
    first = _confirm(stack, _bank_payout(stack), "FT26337ABC")
    second = _confirm(stack, _second_bank_payout(stack), "FT26337ABD")
    with stack.uow() as uow:  # a reference confirmed before references were kept canonical
        legacy = uow.payouts.get(second.id)
        assert legacy is not None
        legacy.receipt = "ft26337abc"
        uow.payouts.update(legacy)
    found = _bank_check(_reconcile(stack, _statement(stack, _debit(stack, "FT26337ABC", first.amount)))).differences
    assert [(d.subject, d.expected, d.actual) for d in found] == [
        ("bank reference FT26337ABC", "one completed transfer", "2 completed transfers")
    ]
    assert first.id in found[0].detail and second.id in found[0].detail


def test_a_transfer_approved_the_day_after_its_debit_is_expected_on_the_day_of_its_debit_only() -> None:
    """LASTREAD reader1 L-5: the bank debits a transfer before any admin confirms it; the second admin approves it a
    day later. The day of the debit matches it; the day of the approval, which cannot hold the debit, does not
    report it missing (a difference nothing could clear)."""
    stack = PaymentsStack()
    payout = _bank_payout(stack)
    paid_on = stack.clock.now().date()
    stack.payouts.bank_file(actor="ops:amina")
    stack.payouts.propose_bank_confirmation(payout.id, reference="FT26337ABC", note="", by="user:amina")
    stack.clock.advance(days=1)
    done = stack.payouts.approve_bank_confirmation(payout.id, by="user:baraka", reference="FT26337ABC")

    def day(on: date, *lines: BankLine) -> BankStatement:
        period = period_of(on.isoformat(), on.isoformat())
        return parse_bank_statement(render_bank_statement(BankStatement(lines=lines, period=period)))

    debit = BankLine(on=paid_on, reference="FT26337ABC", narrative="cryptopay", debit=done.amount)
    assert _bank_check(_reconcile(stack, day(paid_on, debit))).differences == ()
    assert _bank_check(_reconcile(stack, day(stack.clock.now().date()))).differences == ()
    missing = _bank_check(_reconcile(stack, day(paid_on))).differences  # the day it left: it must be on it
    assert [(d.subject, d.actual) for d in missing] == [(f"bank transfer {payout.id} (completed)", "not on it")]


def test_a_transfer_written_to_a_second_file_before_its_proposal_is_looked_for_from_the_first() -> None:
    """The bank file lists a transfer until its confirmation is proposed; paid from the first file on day 1, listed
    again on day 2 and proposed then, its debit may lie on day 1: the day-2 statement does not report it missing
    (``exported_at`` is the first file's time), a statement of both days matches it."""
    stack = PaymentsStack()
    payout = _bank_payout(stack)
    paid_on = stack.clock.now().date()
    stack.payouts.bank_file(actor="ops:amina")
    stack.clock.advance(days=1)
    assert [p.exported_at for p in stack.payouts.bank_file(actor="ops:amina")] == [payout.submitted_at]
    done = _confirm(stack, payout, "FT26337ABC")
    today = stack.clock.now().date()
    empty = BankStatement(lines=(), period=period_of(today.isoformat(), today.isoformat()))
    assert _bank_check(_reconcile(stack, parse_bank_statement(render_bank_statement(empty)))).differences == ()
    debit = BankLine(on=paid_on, reference="FT26337ABC", narrative="cryptopay", debit=done.amount)
    both = BankStatement(lines=(debit,), period=period_of(paid_on.isoformat(), today.isoformat()))
    assert _bank_check(_reconcile(stack, parse_bank_statement(render_bank_statement(both)))).differences == ()


def test_the_statement_layout_is_read_strictly_with_the_banks_column_names() -> None:
    """Aliases (Transaction Date, Ref No., Description, Withdrawals, Deposits, Running Balance), thousands
    separators, a negative debit and ``-`` for none are read; amounts are Decimal shillings."""
    text = (
        "Account:,0100123456789\nStatement Period:,01/01/2026 to 31/01/2026\n"
        "Transaction Date,Ref No.,Description,Withdrawals,Deposits,Running Balance\n"
        '05-Jan-2026,FT1,Payout,"-12,805.00",-,"1,000,000.50"\n06/01/2026,TOPUP,Float,,500.10,\n'
    )
    statement = parse_bank_statement(text)
    first, second = statement.lines
    assert (first.on, first.reference, first.debit, first.balance) == (
        date(2026, 1, 5),
        "FT1",
        Money.of("12805", KES),
        Money.of("1000000.50", KES),
    )
    assert second.credit == Money.of("500.10", KES) and second.debit.is_zero() and statement.account == "0100123456789"
    assert [n for n, _ in statement.debits] == [1]


def test_a_value_date_beside_the_transaction_date_is_not_read_and_two_dates_otherwise_are_refused() -> None:
    """R14-9: the usual Kenyan export (Transaction Date and Value Date) is read by its Transaction Date, whichever
    comes first; a Value Date alone is the date; two columns of one meaning otherwise are refused naming both."""
    rows = '03/12/2026,05/12/2026,FT26337ABC,cryptopay po_123,"12,805.00",,"987,195.00"\n'
    period = "Account Number:,0100123456789\nPeriod:,01-12-2026 - 07-12-2026\n"
    kenyan = f"{period}Transaction Date,Value Date,Ref No.,Description,Withdrawals,Deposits,Running Balance\n{rows}"
    [line] = parse_bank_statement(kenyan).lines
    assert (line.on, line.reference, line.debit) == (date(2026, 12, 3), "FT26337ABC", Money.of("12805", KES))
    swapped = f"{period}Value Date,Transaction Date,Ref No.,Description,Withdrawals,Deposits,Running Balance\n{rows}"
    assert parse_bank_statement(swapped).lines[0].on == date(2026, 12, 5)
    alone = f"{period}Value Date,Ref No.,Withdrawals,Deposits\n04/12/2026,FT1,5.00,\n"
    assert parse_bank_statement(alone).lines[0].on == date(2026, 12, 4)
    with pytest.raises(InvalidInput, match="the columns 'Date' and 'Transaction Date' both mean Date: remove one"):
        parse_bank_statement(f"{period}Date,Transaction Date,Reference,Debit,Credit\n")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("03-01-2026,FT1,x,12.5x,,\n", "bank statement line 4: Debit '12.5x' is not an amount"),
        ("03-01-2026,FT1,x,1.001,,\n", "line 4: Debit '1.001' is not an amount in shillings and cents"),
        ("03-01-2026,FT1,x,1.00,\n", "line 4: 5 cells, the header has 6"),
        ("32-01-2026,FT1,x,1.00,,\n", "line 4: '32-01-2026' is not a date"),
        ("03-01-2026,,x,1.00,,\n", "line 4: Reference is empty"),
        ("03-01-2026,FT1,x,1.00,2.00,\n", "line 4: a row is a debit or a credit"),
        ("03-01-2026,FT1,x,1.00,,\n03-01-2026,FT2,x,,,\n", "line 5: a row is a debit or a credit"),
        ("03-01-2026,FT1,x,NaN,,\n", "line 4: Debit 'NaN' is not an amount in shillings"),
    ],
)
def test_a_bad_row_is_refused_naming_its_line(rows: str, message: str) -> None:
    """Every unreadable row is an InvalidInput naming its line in the file; nothing is half-read."""
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_bank_statement(HEADER + rows)


def test_a_statement_without_its_period_or_header_is_refused() -> None:
    """The period is never guessed from the rows; a file with no Date/Reference/Debit/Credit header is no statement."""
    with pytest.raises(InvalidInput, match="no Period line"):
        parse_bank_statement("Date,Reference,Narrative,Debit,Credit,Balance\n03-01-2026,FT1,x,1.00,,\n")
    with pytest.raises(InvalidInput, match="not a bank statement"):
        parse_bank_statement("Receipt No.,Completion Time\nX,Y\n")
    with pytest.raises(InvalidInput, match="Period: the statement period's start is after its end"):
        parse_bank_statement("Period:,31-01-2026 - 01-01-2026\nDate,Reference,Debit,Credit\n")


def test_a_statement_of_another_account_than_the_settlement_account_is_refused() -> None:
    """With the settlement bank account configured, a statement of another account (or naming none) is refused
    before any check; the account's own, written with spaces or dashes, is read."""
    stack = PaymentsStack()
    ours = Reconciliation(uow=stack.uow, ledger=stack.ledger, clock=stack.clock, bank_account="0100123456789")
    period = period_of("2026-01-01", "2026-01-02")
    for account in ("0100999999999", ""):
        other = BankStatement(account=account, period=period, lines=())
        with pytest.raises(InvalidInput, match="not of the settlement bank account"):
            ours.reconcile(Outside(bank_statement=other))
    own = BankStatement(account="0100-123 456789", period=period, lines=())
    assert "bank-transfers" not in ours.reconcile(Outside(bank_statement=own)).skipped
