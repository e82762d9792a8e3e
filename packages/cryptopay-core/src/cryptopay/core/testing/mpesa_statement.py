"""The simulated M-Pesa's own record as the org portal's statement: what it really paid, whatever callbacks said.

The Daraja sandbox serves it at ``GET /sandbox/statement`` (CSV) and the in-memory tests read it directly, so
reconciliation compares our books with M-Pesa's record the way an operator does with a downloaded statement.
"""

from __future__ import annotations

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


def _party(tx: SimTransaction) -> str:
    if tx.product == "b2b":
        return f"{tx.counterparty} - Business"
    return f"{tx.phone} - Customer" if tx.phone else ""


def statement_of(engine: FakeMobileMoney) -> Statement:
    """Every completed transaction of the simulated float, in completion order, with the running balance."""
    done = sorted((t for t in engine.transactions() if t.state == "succeeded" and t.receipt), key=_order)
    signed = [(tx, tx.amount if _moves_in(tx, engine) else -tx.amount) for tx in done]
    balance = engine.float_balance - sum((amount for _, amount in signed), Money.zero(KES))
    lines = []
    for tx, amount in signed:
        balance += amount
        lines.append(_line(tx, amount, balance))
    return Statement(lines=tuple(lines), shortcode=engine.shortcode, account="Utility Account")


def _order(tx: SimTransaction) -> int:
    return int((tx.receipt or "0").removeprefix("SBX") or 0)


def _line(tx: SimTransaction, amount: Money, balance: Money) -> StatementLine:
    assert tx.receipt is not None and tx.completed_at is not None
    reason = _REASONS.get(tx.product, "Reversal")
    return StatementLine(
        receipt=tx.receipt,
        completed_at=tx.completed_at,
        initiated_at=tx.completed_at,
        details=f"{reason} {tx.reference}",
        status="Completed",
        paid_in=amount if amount.is_positive() else Money.zero(KES),
        withdrawn=-amount if amount.is_negative() else Money.zero(KES),
        balance=balance,
        reason_type=reason,
        other_party=_party(tx),
        linked_receipt=tx.counterparty or "" if tx.product == "reversal" else "",
    )
