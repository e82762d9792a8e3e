"""Admin reports: ``GET /v1/admin/reconciliation`` runs the core's reconciliation now and returns its report.

The report says, for each check, what it compares and every difference it found (or why it was skipped: an
outside source was not given). ``POST`` runs it with what M-Pesa says: its statement export (the org portal's CSV,
one string per line) and an Account Balance figure; an unreadable statement is a 422 problem naming the line, and so
is one whose Short Code is not ours. Its period is its ``Time Period`` line, else ``statement_from``/``statement_to``
(review6 F3: never guessed from the rows); without either its checks are skipped, saying so.
A report with differences is still a 200: finding them is the endpoint's job. Admins only (403 for anyone else).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity import Role
from cryptopay.core.money import KES, Money
from cryptopay.core.reconciliation import (
    CheckResult,
    Difference,
    Outside,
    Report,
    Statement,
    parse_bank_statement,
    parse_statement,
)
from flask import Blueprint, Response, request

from cryptopay_http.auth import require
from cryptopay_http.convert import json_response, limits, read_body
from cryptopay_http.openapi import operation
from cryptopay_http.payments_edge import actor, payments

__all__ = ["ReconciliationView", "bp"]

bp = Blueprint("admin", __name__)


@attrs.frozen
class DifferenceView:
    """One thing that does not agree: what it is about, what was expected and what was found."""

    subject: str
    expected: str
    actual: str
    detail: str

    @classmethod
    def of(cls, d: Difference) -> DifferenceView:
        return cls(d.subject, d.expected, d.actual, d.detail)


@attrs.frozen
class CheckView:
    """One check: its rule (``about``), its differences, or why it was skipped."""

    name: str
    area: str
    about: str
    ok: bool
    skipped: str | None
    differences: list[DifferenceView]

    @classmethod
    def of(cls, r: CheckResult) -> CheckView:
        found = [DifferenceView.of(d) for d in r.differences]
        return cls(r.check.name, r.check.area, r.check.about, r.ok, r.skipped or None, found)


@attrs.frozen
class ReconciliationView:
    """The books against our records, M-Pesa and the chains: ``clean`` when no check found a difference."""

    clean: bool
    differences: int
    at: datetime
    checks: list[CheckView]

    @classmethod
    def of(cls, report: Report) -> ReconciliationView:
        return cls(report.clean, report.differences, report.at, [CheckView.of(r) for r in report.results])


_LINES = limits("the M-Pesa org portal's statement CSV, one string per line", min_items=1, max_items=100_000)
# A statement of 100,000 rows is ~15 MB as JSON strings, far above the API's usual 1 MB body: the routes that take
# one (admins', with a step-up where money moves) raise their own request's limit to this before reading (reader1 L-8).
STATEMENT_BODY_BYTES = 16_000_000


@attrs.frozen
class StatementBody:
    """One Short Code's statement export: the CSV as downloaded, one string per line."""

    lines: list[str] = attrs.field(metadata=_LINES)


@attrs.frozen
class ReconcileWith:
    """What M-Pesa says, for this run: its statement exports (one per Short Code) and the float per an Account
    Balance answer (KES)."""

    statement: list[str] | None = attrs.field(default=None, metadata=_LINES)
    statements: list[StatementBody] | None = attrs.field(
        default=None,
        metadata=limits(
            "more statements, one per Short Code of ours (the payout Short Code's and the paybill's): each is read "
            "only for the records of its own Short Code",
            max_items=4,
        ),
    )
    mpesa_balance: Decimal | None = attrs.field(default=None, metadata=limits("the float's available funds, KES"))
    float_baseline: Decimal | None = attrs.field(
        default=None, metadata=limits("float funded outside the books (opening balance, unbooked top-ups), KES")
    )
    statement_from: datetime | None = attrs.field(
        default=None, metadata=limits("the statement's first moment, when it has no Time Period line")
    )
    statement_to: datetime | None = attrs.field(
        default=None, metadata=limits("the statement's last moment, when it has no Time Period line")
    )
    bank_statement: list[str] | None = attrs.field(
        default=None,
        metadata=limits(
            "the settlement bank account's statement CSV (a Period line; Date, Reference, Narrative, Debit, Credit, "
            "Balance), one string per line: matched with the bank-transfer payouts by reference and amount",
            min_items=1,
            max_items=100_000,
        ),
    )

    def outside(self) -> Outside:
        bank = self.bank_statement
        return Outside(
            statements=self._statements(),
            bank_statement=parse_bank_statement("\n".join(bank)) if bank is not None else None,
            mpesa_balance=_kes(self.mpesa_balance),
            float_baseline=_kes(self.float_baseline),
        )

    def _statements(self) -> tuple[Statement, ...]:
        """Every statement given, each as of ``statement_from``..``statement_to`` when given."""
        if (self.statement_from is None) != (self.statement_to is None):
            raise InvalidInput("give both statement_from and statement_to, or neither", field="statement_from")
        texts = ([self.statement] if self.statement is not None else []) + [s.lines for s in self.statements or ()]
        statements = tuple(parse_statement("\n".join(lines)) for lines in texts)
        if self.statement_from is None or self.statement_to is None:
            return statements
        if self.statement_from > self.statement_to:
            raise InvalidInput("statement_from is after statement_to", field="statement_from")
        return tuple(s.with_period((self.statement_from, self.statement_to)) for s in statements)


def _kes(amount: Decimal | None) -> Money | None:
    return Money.of(amount, KES) if amount is not None else None


_TAGS = ("admin",)


@bp.get("/v1/admin/reconciliation")
@operation(
    "Reconcile the books now (admins)",
    response=ReconciliationView,
    tags=_TAGS,
    errors=(403,),
    description=(
        "Runs every reconciliation check now against our own records and the chains (the checks that need "
        "M-Pesa's statement or balance are skipped: use POST with them) and returns the report: `clean` "
        "when no check found a difference, else each check's differences (what was expected, what was "
        "found)."
    ),
)
@require(roles=[Role.ADMIN])
def reconciliation() -> Response:
    report = payments().reconciliation.reconcile(by="api", operator=actor())
    return json_response(ReconciliationView.of(report))


@bp.post("/v1/admin/reconciliation")
@operation(
    "Reconcile the books now against M-Pesa's statement and balance (admins)",
    request=ReconcileWith,
    response=ReconciliationView,
    tags=_TAGS,
    errors=(403,),
    description=(
        "Runs the reconciliation with what M-Pesa says for this run: its statement export (the CSV as "
        "downloaded, in `statement`; one per Short Code of ours in `statements` too: the payout Short Code's is "
        "matched with our payouts, the paybill's with our collections) and the float per an Account Balance "
        "answer (KES). Returns the same "
        "report as GET, with the M-Pesa checks run. The statement's period is its `Time Period` line, else "
        "`statement_from`..`statement_to`; with neither its checks are skipped (`statement period unknown`), never "
        "compared over its first to its last row. The settlement bank account's statement (`bank_statement`) is "
        "matched with the bank-transfer payouts (`bank-transfers`). Nothing is written but the run's record."
    ),
    problems=(
        (
            InvalidInput,
            (
                "the statement is not a readable CSV M-Pesa statement (no 'Receipt No.' header row, or a column "
                "missing), is of a Short Code not ours, is a second statement of one Short Code, or of another "
                "period than statement_from/statement_to say; or the bank statement has no Period line or a row "
                "that cannot be read (named by its line)"
            ),
        ),
    ),
)
@require(roles=[Role.ADMIN])
def reconciliation_with() -> Response:
    request.max_content_length = STATEMENT_BODY_BYTES
    outside = read_body(ReconcileWith).outside()
    report = payments().reconciliation.reconcile(outside, by="api", operator=actor())
    return json_response(ReconciliationView.of(report))
