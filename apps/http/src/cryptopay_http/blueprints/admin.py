"""Admin reports: ``GET /v1/admin/reconciliation`` runs the core's reconciliation now and returns its report.

The report says, for each check, what it compares and every difference it found (or why it was skipped: an
outside source such as M-Pesa's statement is imported with ``cryptopay reconcile --mpesa-statement``). A report
with differences is still a 200: finding them is the endpoint's job. Admins only (403 for anyone else).
"""

from __future__ import annotations

from datetime import datetime

import attrs
from cryptopay.core.identity import Role
from cryptopay.core.reconciliation import CheckResult, Difference, Report
from flask import Blueprint, Response

from cryptopay_http.auth import require
from cryptopay_http.convert import json_response
from cryptopay_http.openapi import operation
from cryptopay_http.payments_edge import payments

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


@bp.get("/v1/admin/reconciliation")
@operation("Reconcile the books now (admins)", response=ReconciliationView, tags=("admin",), errors=(403,))
@require(roles=[Role.ADMIN])
def reconciliation() -> Response:
    report = payments().reconciliation.reconcile()
    return json_response(ReconciliationView.of(report))
