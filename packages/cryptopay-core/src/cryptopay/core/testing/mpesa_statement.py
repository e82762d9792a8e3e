"""The simulated M-Pesa's own record as the org portal's statement: what it really paid, whatever callbacks said.

The Daraja sandbox serves it at ``GET /sandbox/statement`` (CSV) and the in-memory tests read it directly, so
reconciliation compares our books with M-Pesa's record the way an operator does with a downloaded statement.

Rows are written as the portal writes them: a B2C payment ``Business Payment`` (withdrawn, to the phone), a B2B one
``Business Pay Bill`` (to the paybill, with the request's AccountReference as ``A/C No.``: what tells two payments of
one amount to one paybill apart, review12 R12-9), an STK Push collection ``Pay Bill Online`` (paid in, from the
customer's phone masked as the portal masks it, ``2547*****678 - SANDBOX CUSTOMER``, with the push's AccountReference as
``A/C No.``), a reversal ``Reversal`` with the receipt it reverses as ``Linked Transaction ID``, a payment to the
paybill from the SIM menu or the app (C2B) ``Pay Bill`` (paid in, the payer masked as above, its BillRefNumber as ``A/C
No.``).

Like the portal's, every export is of a period and says so (``Time Period``): the one asked for, else from when the
simulated account opened to now (review6 F3: reconciliation never infers the period from the rows).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import KES, Money
from cryptopay.core.reconciliation.statement import Statement, StatementLine
from cryptopay.core.testing.mobile_money import FakeMobileMoney, SimTransaction

__all__ = ["statement_of"]

_REASONS = {"b2c": "Business Payment", "b2b": "Business Pay Bill", "stk": "Pay Bill Online", "c2b": "Pay Bill"}


def _moves_in(tx: SimTransaction, engine: FakeMobileMoney) -> bool:
    """Whether the transaction paid money into the float (customer payments, reversals of payouts)."""
    if tx.product == "reversal":
        original = next((t for t in engine.transactions() if t.receipt == tx.counterparty), None)
        return original is not None and original.product in ("b2c", "b2b")
    return tx.product in ("stk", "c2b")


def _masked(phone: str) -> str:
    """A phone as the portal shows a customer's: the first four and last three digits, the rest ``*``."""
    return phone[:4] + "*" * (len(phone) - 7) + phone[-3:] if len(phone) > 7 else phone


def _party(tx: SimTransaction, engine: FakeMobileMoney) -> str:
    if tx.product == "b2b":
        return f"{tx.counterparty} - Business"
    if tx.product in ("stk", "c2b") and tx.phone:
        return f"{_masked(tx.phone)} - {engine.registered_name(tx.phone)}"
    return f"{tx.phone} - Customer" if tx.phone else ""


def _details(tx: SimTransaction, reason: str, party: str) -> str:
    if tx.product in ("stk", "c2b"):  # "Pay Bill Online from ..." (STK Push), "Pay Bill from ..." (C2B)
        return f"{reason} from {party} Acc. {tx.account_reference}"
    if tx.product == "reversal":
        return f"Reversal of {tx.counterparty}"
    return f"{reason} {tx.reference}"


def statement_of(
    engine: FakeMobileMoney, period: tuple[datetime, datetime] | None = None, *, shortcode: str | None = None
) -> Statement:
    """Every transaction of the simulated float completed in ``period`` (default: since the account opened, to now),
    in completion order, with the running balance; the statement says its period, to the second.

    ``shortcode`` (default: the paybill's, ``engine.shortcode``) is the Short Code whose statement this is: the
    paybill's holds the collections (STK Push, C2B and their reversals), the payout Short Code's
    (``engine.payout_shortcode``) the payouts (B2C, B2B and theirs); one Short Code that is both holds them all, as
    the portal's statement of one account does. The running balance is of the one simulated float both share."""
    code = shortcode or engine.shortcode
    if code not in (engine.shortcode, engine.payout_shortcode):
        raise InvalidInput(f"Short Code {code} is not this M-Pesa's ({engine.shortcode}, {engine.payout_shortcode})")
    start, end = period or (engine.opened_at, engine.now())
    start = start.replace(microsecond=0)
    end = end.replace(microsecond=0) + (timedelta(seconds=1) if end.microsecond else timedelta())
    done = sorted((t for t in engine.transactions() if t.state == "succeeded" and t.receipt), key=_order)
    signed = [(tx, tx.amount if _moves_in(tx, engine) else -tx.amount) for tx in done]
    balance = engine.float_balance - sum((amount for _, amount in signed), Money.zero(KES))
    lines = []
    for tx, amount in signed:
        balance += amount
        assert tx.completed_at is not None
        if start <= tx.completed_at.replace(microsecond=0) <= end and code in _shortcodes_of(tx, engine):
            lines.append(_line(tx, amount, balance, engine))
    return Statement(lines=tuple(lines), shortcode=code, account="Utility Account", period=(start, end))


def _shortcodes_of(tx: SimTransaction, engine: FakeMobileMoney) -> tuple[str, ...]:
    """The Short Code whose statement shows ``tx``: the paybill's for money paid in by customers (and the reversal of
    it), the payout Short Code's for money paid out (and its reversal)."""
    if tx.product == "reversal":
        original = next((t for t in engine.transactions() if t.receipt == tx.counterparty), None)
        collected = original is not None and original.product in ("stk", "c2b")
    else:
        collected = tx.product in ("stk", "c2b")
    return (engine.shortcode,) if collected else (engine.payout_shortcode,)


def _order(tx: SimTransaction) -> int:
    return int((tx.receipt or "0").removeprefix("SBX") or 0)


def _line(tx: SimTransaction, amount: Money, balance: Money, engine: FakeMobileMoney) -> StatementLine:
    assert tx.receipt is not None and tx.completed_at is not None
    reason = _REASONS.get(tx.product, "Reversal")
    party = _party(tx, engine)
    return StatementLine(
        receipt=tx.receipt,
        completed_at=tx.completed_at,
        initiated_at=tx.completed_at,
        details=_details(tx, reason, party),
        status="Completed",
        paid_in=amount if amount.is_positive() else Money.zero(KES),
        withdrawn=-amount if amount.is_negative() else Money.zero(KES),
        balance=balance,
        reason_type=reason,
        other_party=party,
        linked_receipt=tx.counterparty or "" if tx.product == "reversal" else "",
        account_no=tx.account_reference if tx.product in ("stk", "c2b", "b2b") else "",
    )
