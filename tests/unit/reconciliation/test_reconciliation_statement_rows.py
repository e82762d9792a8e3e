"""M-Pesa's statement beyond the payouts (review 5, S2 and S3): the collections (STK Push buys) matched with the
wallets' buys, reversals of our payouts and of our buys, and withdrawals of a Reason Type no check knows.

Statements are written as the org portal exports them (the rows of the reviewer's reproductions and of the
fake M-Pesa's record, read back through ``parse_statement``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from cryptopay.core.mobile_money import ReversalRequest
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.reconciliation import Outside, Reconciliation, Report, Statement, parse_statement, render_statement
from cryptopay.core.reconciliation.model import shown_details, shown_party
from cryptopay.core.reconciliation.statement import StatementLine
from cryptopay.core.system import NAIROBI
from cryptopay.core.testing.mobile_money import Scenario
from cryptopay.core.testing.mpesa_statement import statement_of
from cryptopay.core.wallets.buys import Buy, BuyState

from tests.support.wallet_stack import WalletStack, wallet_stack

HEADER = (
    "Account Holder:,cryptopay\n"
    "Short Code:,600000\n"
    "Account:,Utility Account\n"
    "Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,Balance,"
    "Balance Confirmed,Reason Type,Other Party Info,Linked Transaction ID,A/C No.\n"
)


@pytest.fixture
def stack() -> WalletStack:
    return wallet_stack()


def reconcile(stack: WalletStack, statement: Statement) -> Report:
    books = stack.backend.uow
    reconciliation = Reconciliation(uow=books, ledger=stack.ledger, clock=stack.clock, wallets=books)
    return reconciliation.reconcile(Outside(statement=statement))


WHOLE_PHONE = re.compile(r"(?<![\d*])(?:254|0)[17]\d{8}(?![\d*])")
NAMED = re.compile(r" - [^|;()]*?[A-Za-z]{2}")  # a statement's Other Party name with two letters unmasked


def differences(report: Report, name: str) -> list[tuple[str, str, str]]:
    (result,) = [r for r in report.results if r.check.name == name]
    assert not result.skipped, result.skipped
    texts = " | ".join(f"{d.subject} {d.expected} {d.actual} {d.detail}" for d in result.differences)
    assert not WHOLE_PHONE.search(texts), texts  # phones masked as everywhere else (personal data)
    assert not NAMED.search(texts), texts  # and the statement's names (Other Party Info, Details)
    return [(d.subject, d.expected, d.actual) for d in result.differences]


def as_downloaded(stack: WalletStack) -> Statement:
    """The fake M-Pesa's own record through the CSV an operator downloads."""
    return parse_statement(render_statement(statement_of(stack.mpesa)))


def bought(stack: WalletStack, phone: str = "0712000001", kes: int = 1000) -> Buy:
    user = stack.sign_up(phone, tier=1)
    buy = stack.buys.start(user.id, Money.of(kes, KES))
    stack.deliver_callbacks()
    done = stack.buys.get(buy.id)
    assert done.state is BuyState.CREDITED and done.receipt
    return done


def stamp(buy: Buy, minutes: int = 0) -> str:
    assert buy.finished_at is not None
    return (buy.finished_at + timedelta(minutes=minutes)).astimezone(NAIROBI).strftime("%d-%m-%Y %H:%M:%S")


def period(buy: Buy) -> str:
    """A Time Period line covering the buy's day (Nairobi)."""
    assert buy.finished_at is not None
    day = buy.finished_at.astimezone(NAIROBI).strftime("%d-%m-%Y")
    return f"Time Period:,{day} 00:00:00 - {day} 23:59:59\n"


def csv_statement(buy: Buy, *rows: str) -> Statement:
    return parse_statement(period(buy) + HEADER + "".join(f"{row}\n" for row in rows))


def stk_row(receipt: str, when: str, amount: str, party: str, reason: str = "Pay Bill Online") -> str:
    return f"{receipt},{when},{when},Pay Bill Online from {party} Acc. B1,Completed,{amount},,,,{reason},{party},,B1"


def test_a_credited_buy_on_mpesa_s_statement_reconciles_clean(stack):
    """The fake's statement carries the STK collection as the portal writes it (``Pay Bill Online``, paid in, the
    phone masked): matched to the buy by receipt, amount and masked phone; every M-Pesa check clean."""
    buy = bought(stack)
    statement = as_downloaded(stack)
    [line] = [line for line in statement.lines if line.receipt == buy.receipt]
    assert (line.reason_type, line.paid_in, line.is_collection) == ("Pay Bill Online", buy.kes, True)
    assert line.party_number == buy.phone[:4] + "*****" + buy.phone[-3:]
    report = reconcile(stack, statement)
    assert differences(report, "mpesa-collections") == []
    assert differences(report, "mpesa-statement") == []


def test_a_credited_buy_missing_from_the_statement_is_reported(stack):
    """S3's reproduction: the statement of the buy's day has no row with its receipt (only a payout): the buy and
    the period's collection totals differ."""
    buy = bought(stack)
    statement = csv_statement(
        buy, f"SBX0000777,{stamp(buy, 5)},,Pay bill,Completed,,-500.00,,,Business Pay Bill,888880 - KPLC,,"
    )
    found = differences(reconcile(stack, statement), "mpesa-collections")
    assert found == [
        (f"buy {buy.id} (credited)", f"receipt {buy.receipt} on M-Pesa's statement", "not on it"),
        (
            "assets:mpesa_collections:KES collected in the statement's period",
            f"{buy.kes} in our books",
            "0.00 KES per M-Pesa",
        ),
    ]


def test_a_collection_of_another_amount_or_phone_is_reported(stack):
    """The buy's receipt on a row for other shillings from another phone: two differences naming the buy."""
    buy = bought(stack)
    row = stk_row(buy.receipt or "", stamp(buy), "100.00", "2547*****999 - SOMEBODY")
    found = differences(reconcile(stack, csv_statement(buy, row)), "mpesa-collections")
    subject = f"buy {buy.id} (credited)"
    assert (subject, f"{buy.kes} collected", "100.00 KES collected") in found
    # ours and the portal's 2547*****999, both masked as phones are everywhere else
    assert (subject, "paid by 2547******01", "paid by 2547******99") in found


def test_a_collection_no_buy_carries_is_reported_and_one_collected_twice_too(stack):
    """A ``Customer Pay Bill Online`` row with a receipt no buy has, and a second row for the buy's amount and phone
    (M-Pesa collected twice): each is a difference; the buy's own row matches."""
    buy = bought(stack)
    masked = buy.phone[:4] + "*****" + buy.phone[-3:]
    rows = (
        stk_row(buy.receipt or "", stamp(buy), "1000.00", f"{masked} - AMINA"),
        stk_row("SBX0000901", stamp(buy, 1), "1000.00", f"{masked} - AMINA"),
        stk_row("SBX0000902", stamp(buy, 2), "250.00", "2547*****321 - OTHER", "Customer Pay Bill Online"),
    )
    found = differences(reconcile(stack, csv_statement(buy, *rows)), "mpesa-collections")
    assert found[:2] == [
        ("receipt SBX0000901", "a buy of ours", "none in our books"),
        ("receipt SBX0000902", "a buy of ours", "none in our books"),
    ]
    assert found[2][1:] == ("1000.00 KES in our books", "2250.00 KES per M-Pesa")


def test_a_buy_failed_in_our_books_that_mpesa_collected_is_named(stack):
    """M-Pesa collected (the fake's record has the receipt) what our books settled as failed: the row is matched to
    the buy by amount and phone and reported as collected."""
    buy = bought(stack)
    failed = attrs.evolve(buy, state=BuyState.FAILED, receipt=None, reason="query said failed")
    statement = as_downloaded(stack)
    _replace_buy(stack, failed)
    found = differences(reconcile(stack, statement), "mpesa-collections")
    assert (f"buy {buy.id} (failed)", "failed as in our books", "collected by M-Pesa") in found


def test_a_collection_two_pending_buys_could_be_is_matched_to_the_oldest(stack):
    """Two buys of one amount from one phone, both still pending in our books, and one collection row after both
    (its receipt neither's): the row is the oldest buy's; the newer one is not named. The older one failed
    instead: the row is the pending one's."""
    older = bought(stack)
    stack.clock.advance(minutes=10)
    stack.buys.start(older.user_id, older.kes)
    stack.deliver_callbacks()
    [newer] = [b for b in stack.buys.for_user(older.user_id) if b.id != older.id]
    for buy in (older, newer):
        _replace_buy(stack, attrs.evolve(buy, state=BuyState.PROMPTED, receipt=None, finished_at=None))
    masked = older.phone[:4] + "*****" + older.phone[-3:]
    row = stk_row("SBX0000990", stamp(newer, 1), "1000.00", f"{masked} - AMINA")
    named = [d[0] for d in differences(reconcile(stack, csv_statement(newer, row)), "mpesa-collections")]
    assert f"buy {older.id} (prompted)" in named and not [n for n in named if newer.id in n]
    # a failed buy (a cancelled prompt) is matched only when no pending one could be the collection
    _replace_buy(stack, attrs.evolve(older, state=BuyState.FAILED, receipt=None, finished_at=None))
    named = [d[0] for d in differences(reconcile(stack, csv_statement(newer, row)), "mpesa-collections")]
    assert f"buy {newer.id} (prompted)" in named and not [n for n in named if older.id in n]


def _replace_buy(stack: WalletStack, buy: Buy) -> None:
    """Put the books in the broken state under test (a buy record as a bug would leave it)."""
    in_transaction(stack.backend.uow, lambda uow: uow.wallet_buys.update(buy))


def test_a_reversal_of_a_credited_buy_is_reported(stack):
    """M-Pesa reversed the buy's collection (money out, ``Linked Transaction ID`` = its receipt): the wallet keeps
    its USDT while the shillings went back to the customer."""
    buy = bought(stack)
    masked = buy.phone[:4] + "*****" + buy.phone[-3:]
    rows = (
        stk_row(buy.receipt or "", stamp(buy), "1000.00", f"{masked} - AMINA"),
        f"SBX0000950,{stamp(buy, 30)},,Reversal of {buy.receipt},Completed,,-1000.00,,,Reversal,{masked} - AMINA,"
        f"{buy.receipt},",
    )
    report = reconcile(stack, csv_statement(buy, *rows))
    found = differences(report, "mpesa-collections")
    assert (
        f"buy {buy.id} (credited)",
        f"credited in our books, {buy.kes} from 2547******01",
        "reversed by M-Pesa",
    ) in (found)
    assert differences(report, "mpesa-statement") == []  # a collection's reversal is not an unknown withdrawal


def test_a_reversal_of_one_of_our_payouts_is_reported_naming_it(stack):
    """S2's reproduction: a completed payout (a wallet's sale, paid by the fake M-Pesa) and a ``Reversal`` row
    paying its amount back with ``Linked Transaction ID`` = its receipt: a difference naming the payout."""
    user = stack.sign_up("0712000001", tier=1)
    stack.fund(user, "10", "USDT")
    sale = stack.sells.start(user.id, Money.of(5, USDT))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    payout = stack.payouts.get_payout(sale.payout.id)
    assert payout.state.value == "completed" and payout.receipt
    statement = as_downloaded(stack)
    [paid] = statement.lines
    reversal = attrs.evolve(
        paid,
        receipt="SBX0000099",
        completed_at=paid.completed_at + timedelta(minutes=45),
        details=f"Reversal of {payout.receipt}",
        paid_in=paid.withdrawn,
        withdrawn=Money.zero(KES),
        reason_type="Reversal",
        linked_receipt=payout.receipt.lower(),  # read as M-Pesa's receipt in its case (R13-12)
    )
    text = render_statement(attrs.evolve(statement, lines=(paid, reversal)))
    found = differences(reconcile(stack, parse_statement(text)), "mpesa-statement")
    expected = f"completed in our books, {payout.amount} to 2547******01"  # {payout.party} masked
    assert found == [(f"payout {payout.id} (completed)", expected, "reversed by M-Pesa")]


def test_a_withdrawal_of_an_unknown_reason_type_is_reported_and_a_charge_is_not(stack):
    """A completed withdrawal that is no payout, charge or reversal (``Organization Withdrawal``) is reported; a
    ``Business Payment Charge`` row is not; nor is a ``Failed`` row of any type."""
    buy = bought(stack)
    masked = buy.phone[:4] + "*****" + buy.phone[-3:]
    rows = (
        stk_row(buy.receipt or "", stamp(buy), "1000.00", f"{masked} - AMINA"),
        f"SBX0000960,{stamp(buy, 3)},,Withdrawal to bank,Completed,,-2000.00,,,Organization Withdrawal,00100 - BANK,,",
        f"SBX0000961,{stamp(buy, 4)},,Charge,Completed,,-15.00,,,Business Payment Charge,,{buy.receipt},",
        f"SBX0000962,{stamp(buy, 5)},,Withdrawal to bank,Failed,,-2000.00,,,Organization Withdrawal,00100 - BANK,,",
    )
    found = differences(reconcile(stack, csv_statement(buy, *rows)), "mpesa-statement")
    assert found == [
        (
            "receipt SBX0000960",
            "a payout, a charge or a reversal",
            "a withdrawal of Reason Type 'Organization Withdrawal'",
        )
    ]


def test_the_fake_s_statement_records_an_stk_reversal_and_the_check_reports_it(stack):
    """Through the fake M-Pesa itself: a reversal of the buy's receipt (Daraja's TransactionReversal) shows on its
    statement as a ``Reversal`` withdrawal linked to the receipt, which the check reports."""
    buy = bought(stack)
    urls = {"result_url": "https://example.test/r", "timeout_url": "https://example.test/t"}
    stack.mpesa.reversal(ReversalRequest(transaction_id=buy.receipt or "", amount=buy.kes, **urls))
    stack.mpesa.complete_open()
    statement = as_downloaded(stack)
    [reversal] = [line for line in statement.lines if line.is_reversal]
    assert (reversal.linked_receipt, reversal.withdrawn) == (buy.receipt, buy.kes)
    found = differences(reconcile(stack, statement), "mpesa-collections")
    assert found[0] == (
        f"buy {buy.id} (credited)",
        f"credited in our books, {buy.kes} from 2547******01",
        "reversed by M-Pesa",
    )


def test_a_failed_stk_prompt_is_not_on_the_statement_and_nothing_differs(stack):
    """A cancelled prompt (1032) moved no money: no row, no difference."""
    user = stack.sign_up("0712000001", tier=1)
    stack.mpesa.set_scenario(user.phone, Scenario.CANCELLED)
    buy = stack.buys.start(user.id, Money.of(500, KES))
    stack.deliver_callbacks()
    assert stack.buys.get(buy.id).state is BuyState.FAILED
    statement = as_downloaded(stack)
    assert not [line for line in statement.lines if line.is_collection]
    assert differences(reconcile(stack, statement), "mpesa-collections") == []


def test_the_statement_line_kinds() -> None:
    """Reason types read case-blind: collections, reversals, charges; a payout is none of those."""
    at = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    line = StatementLine(
        receipt="R1",
        completed_at=at,
        status="Completed",
        reason_type="CUSTOMER PAY BILL ONLINE",
        paid_in=Money.of(10, KES),
    )
    assert line.is_collection and not line.is_payout and not line.is_reversal
    assert attrs.evolve(line, reason_type="Reversal").is_reversal
    assert attrs.evolve(line, reason_type="Pay Bill Charge", paid_in=Money.zero(KES)).is_charge
    assert not attrs.evolve(line, status="Failed").is_collection


def test_a_statement_s_names_and_phones_are_masked_in_what_a_difference_shows() -> None:
    """Other Party Info and Details show a phone as mask_msisdn does and a name by its words' first letters."""
    assert shown_party("254708374149 - John Doe") == "2547******49 - J*** D**"
    assert shown_party("888880 - KPLC PREPAID") == "888880 - K*** P******"
    assert shown_party("") == "?"
    assert shown_details("Business Payment to 254708374149 - John Doe") == "Business Payment to 2547******49 - J*** D**"
    assert shown_details("Withdrawal to bank") == "Withdrawal to bank"
