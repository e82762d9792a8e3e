"""Unresolved payouts, for admins (``/console/payouts/unresolved``, R10-4).

The same ``Payouts`` use case as ``/v1/admin/payouts/unresolved``: every M-Pesa payout whose outcome stayed
``unknown`` past the bound (``CRYPTOPAY_PAYOUT_UNKNOWN_BOUND_MINUTES``), oldest first, each a ``payouts-unresolved``
reconciliation difference until two admins conclude it from M-Pesa's own record. One admin *proposes* ``failed`` or
``completed`` with M-Pesa's receipt, with the payout Short Code's statement uploaded (the CSV the org portal gives;
the core reads it: it must cover the payout's send, and one showing otherwise is refused, 409
``statement_contradicts``) or the record read in words, a note and a fresh one-time code; a second admin approves the
conclusion the page showed with a fresh code (money moves: the hold voided or posted; the proposer is refused, 409
``same_officer``, audited), or it is declined with a note. Reads are audited ``payouts.unresolved_viewed`` as the
API's; the decisions are audited by the use case. The held-money desks' forms (``console/desk.html``).

A payout concluded completed keeps its page, where a receipt mistyped from the statement is corrected by two admins
(``.../receipt/propose`` with the right receipt, a reason and a fresh code; ``.../receipt/approve`` of the receipt
shown, a fresh code; ``.../receipt/decline``): ``Payouts.propose_receipt_correction`` and the rest, as the API's;
only the reference changes, the ledger untouched, the old receipt kept and shown.

Bank confirmations (``/console/payouts/bank-confirmations``, R10-7): the bank transfers whose confirmation one admin
proposed with the bank's reference (on the API), awaiting a second: who proposed it, the reference, the amount and
how long it has waited (``Payouts.pending_bank_confirmations``, read audited ``payouts.bank_transfers_viewed`` as
``GET /v1/admin/payouts/bank-transfers``). A second admin approves the reference the page showed with a fresh code
(``approve_bank_confirmation``: the payout completes from the bank account; the proposer is refused, 409
``same_officer``) or refuses it with a note (``decline_conclusion``: nothing moves, the transfer is in the next bank
file again).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptopay.core.errors import InvalidInput
from cryptopay.core.payouts import Payouts
from cryptopay.core.payouts.model import ConclusionOutcome
from cryptopay.core.reconciliation import Statement, parse_statement
from flask import Response, request

from cryptopay_http.auth import audit_security
from cryptopay_http.pages.console import PAGE as ROWS
from cryptopay_http.pages.console import acted, acting, bp, page_of, required_note
from cryptopay_http.pages.web import page, takes_documents
from cryptopay_http.runtime import runtime

__all__ = [
    "Reason",
    "payout_bank_confirmation",
    "payout_bank_confirmation_approve",
    "payout_bank_confirmation_decline",
    "payout_conclusion_approve",
    "payout_conclusion_decline",
    "payout_conclusion_propose",
    "payout_conclusions_bank",
    "payout_receipt_approve",
    "payout_receipt_decline",
    "payout_receipt_propose",
    "payout_unresolved",
    "payouts_unresolved",
    "reason_of",
]

PAGE = "/console/payouts/unresolved"
BANK = "/console/payouts/bank-confirmations"
MAX_EVIDENCE = 500  # as the API's evidence
MAX_STATEMENT = 10 * 1024 * 1024  # a statement file (a month of a busy Short Code is a few MB)


@dataclass(frozen=True)
class Reason:
    """Why a payout's outcome is what it is, as the page says it (R13-9): the core keeps its note in English (the
    API's and the audit log's words); the page names the known notes by ``kind`` (``console/labels.html``
    ``payout_reason``), in the page's language, with what the note adds (an error message, M-Pesa's result code) as
    recorded. A note not known here is shown as written (``kind`` empty)."""

    kind: str
    detail: str = ""
    seconds: int = 0  # ``no_result``: how long we waited for M-Pesa's result


_WAIT = r"(?:(?P<days>\d+) days?, )?(?P<hours>\d+):(?P<minutes>\d\d):(?P<seconds>\d\d)(?:\.\d+)?"  # str(timedelta)
_REASONS = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (  # the notes ``Payouts`` writes (core/payouts/service.py)
        (rf"no result within {_WAIT}", "no_result"),
        (r"the send raised unexpectedly", "send_raised"),
        (r"outcome unknown: (?P<detail>.*)", "send_unclear"),
        (r"M-Pesa's queue timed out", "queue_timeout"),
        (r"an answer on the \S+ URL (?P<detail>.*)", "answer_not_ours"),
        (r"\w+ does not match the payout: (?P<detail>.*)", "answer_mismatch"),
        (r"\w+ failure does not carry the payout's ids", "failure_without_ids"),
        (r"status query failed: (?P<detail>.*)", "query_failed"),
        (r"a failure result \((?P<detail>[^)]*)\) awaits a status query", "failure_unconfirmed"),
        (r"needs an operator: sent without an answer and no id to query by", "needs_operator"),
    )
)


def reason_of(note: str | None) -> Reason:
    """The page's reading of a payout's note.

    >>> reason_of("no result within 0:02:00"), reason_of("status query failed: timed out").detail
    (Reason(kind='no_result', detail='', seconds=120), 'timed out')
    >>> reason_of("no result within 1 day, 0:00:30").seconds, reason_of("something new"), reason_of(None).kind
    (86430, Reason(kind='', detail='something new', seconds=0), '')
    """
    text = (note or "").strip()
    for pattern, kind in _REASONS:
        found = pattern.fullmatch(text)
        if found is None:
            continue
        parts = found.groupdict()
        wait = sum(int(parts.get(unit) or 0) * size for unit, size in _UNITS)
        return Reason(kind, detail=parts.get("detail") or "", seconds=wait)
    return Reason("", detail=text)


_UNITS = (("days", 86400), ("hours", 3600), ("minutes", 60), ("seconds", 1))


def _payouts() -> Payouts:
    return runtime().services.payouts


@bp.get("/payouts/unresolved")
def payouts_unresolved() -> Response:
    """Payouts unknown past the bound, oldest first, with the conclusion proposed on each: a page at a time, the next
    one ``?after=`` the last shown (R13-15)."""
    after = request.args.get("after") or None
    rows, more = page_of(_payouts().unresolved(after=after, limit=ROWS + 1), lambda row: row.id)
    audit_security("payouts.unresolved_viewed", "payouts:unresolved", count=str(len(rows)))
    bound = _payouts().unknown_bound
    return page("console/payouts_unresolved.html", rows=rows, more=more, bound=bound, nav="payouts")


def _detail(payout_id: str, status: int = 200, **context: Any) -> Response:
    payout = _payouts().get_payout(payout_id)
    audit_security("payouts.unresolved_viewed", f"payout:{payout.id}")
    unresolved = payout.overdue(runtime().services.clock.now(), _payouts().unknown_bound)  # what may be concluded
    return page(
        "console/payout_unresolved.html",
        status,
        p=payout,
        reason=reason_of(payout.note),
        unresolved=unresolved,
        bound=_payouts().unknown_bound,
        me=acting(),
        nav="payouts",
        **context,
    )


@bp.get("/payouts/unresolved/<payout_id>")
def payout_unresolved(payout_id: str) -> Response:
    """One payout: what was sent to whom and when, why its outcome is unknown, the conclusion proposed (what the
    statement uploaded showed of it) and what this admin can do."""
    return _detail(payout_id)


def _acted(payout_id: str, action: Callable[[], object], *, step_up: bool) -> Response:
    again = lambda status, message: _detail(payout_id, status, error=message)  # noqa: E731
    return acted(f"{PAGE}/{payout_id}", action, again, step_up=step_up)


def _outcome(field: str) -> ConclusionOutcome:
    """The form's outcome (``failed`` or ``completed``)."""
    try:
        return ConclusionOutcome((request.form.get(field) or "").strip())
    except ValueError:
        raise InvalidInput("the outcome is failed or completed", field=field) from None


def _statement() -> Statement | None:
    """The statement file uploaded (``statement``), read by the core's parser; None when no file was chosen."""
    upload = request.files.get("statement")
    if upload is None or not upload.filename:
        return None
    data = upload.read(MAX_STATEMENT + 1)
    if len(data) > MAX_STATEMENT:
        raise InvalidInput(f"a statement file is at most {MAX_STATEMENT // (1024 * 1024)} MB", field="statement")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the statement is not a CSV file (UTF-8 text)", field="statement") from None
    return parse_statement(text)


def _evidence() -> str:
    text = (request.form.get("evidence") or "").strip()
    if len(text) > MAX_EVIDENCE:
        raise InvalidInput(f"at most {MAX_EVIDENCE} characters", field="evidence")
    return text


@bp.post("/payouts/unresolved/<payout_id>/propose")
@takes_documents  # the statement file
def payout_conclusion_propose(payout_id: str) -> Response:
    """Propose concluding it failed or completed (with the receipt), from the statement uploaded or the record read
    in words, with a note and a fresh code; a second admin approves."""

    def propose() -> None:
        outcome, note = _outcome("decision"), required_note()
        _payouts().propose_conclusion(
            payout_id,
            outcome=outcome,
            receipt=(request.form.get("receipt") or "").strip() or None,
            evidence=_evidence(),
            note=note,
            by=acting(),
            statement=_statement(),
        )

    return _acted(payout_id, propose, step_up=True)


@bp.post("/payouts/unresolved/<payout_id>/approve")
def payout_conclusion_approve(payout_id: str) -> Response:
    """Carry out another admin's conclusion as the page showed it (its outcome and receipt; another proposed since is
    a 409), with a fresh code: the hold is voided (failed) or posted (completed)."""

    def approve() -> None:
        outcome = _outcome("outcome")
        receipt = (request.form.get("receipt") or "").strip() or None
        _payouts().approve_conclusion(payout_id, by=acting(), outcome=outcome, receipt=receipt)

    return _acted(payout_id, approve, step_up=True)


@bp.post("/payouts/unresolved/<payout_id>/decline")
def payout_conclusion_decline(payout_id: str) -> Response:
    """Decline (or withdraw) the conclusion proposed, saying why; nothing moves."""
    return _acted(
        payout_id, lambda: _payouts().decline_conclusion(payout_id, by=acting(), note=required_note()), step_up=False
    )


@bp.post("/payouts/unresolved/<payout_id>/receipt/propose")
def payout_receipt_propose(payout_id: str) -> Response:
    """Propose the right M-Pesa receipt for a concluded payout, with a reason and a fresh code; a second admin
    approves it."""

    def propose() -> None:
        receipt = request.form.get("receipt") or ""
        _payouts().propose_receipt_correction(payout_id, receipt=receipt, reason=required_note(), by=acting())

    return _acted(payout_id, propose, step_up=True)


@bp.post("/payouts/unresolved/<payout_id>/receipt/approve")
def payout_receipt_approve(payout_id: str) -> Response:
    """Book the receipt correction another admin proposed, as the page showed it, with a fresh code."""

    def approve() -> None:
        receipt = request.form.get("receipt") or ""
        _payouts().approve_receipt_correction(payout_id, by=acting(), receipt=receipt)

    return _acted(payout_id, approve, step_up=True)


@bp.post("/payouts/unresolved/<payout_id>/receipt/decline")
def payout_receipt_decline(payout_id: str) -> Response:
    """Decline (or withdraw) the receipt correction proposed, saying why; the receipt stays as booked."""
    decline = lambda: _payouts().decline_receipt_correction(payout_id, by=acting(), note=required_note())  # noqa: E731
    return _acted(payout_id, decline, step_up=False)


# --- bank transfers' confirmations awaiting a second admin (R10-7) ---------------------------------------------------


@bp.get("/payouts/bank-confirmations")
def payout_conclusions_bank() -> Response:
    """The bank confirmations proposed and awaiting a second admin, oldest first: who, reference, amount, age; a page
    at a time (``?after=``)."""
    after = request.args.get("after") or None
    rows, more = page_of(_payouts().pending_bank_confirmations(after=after, limit=ROWS + 1), lambda row: row.id)
    audit_security("payouts.bank_transfers_viewed", "payouts:bank", count=str(len(rows)))
    now = runtime().services.clock.now()
    template = "console/payouts_bank_confirmations.html"
    return page(template, rows=rows, more=more, now=now, nav="bank_confirmations")


def _bank_detail(payout_id: str, status: int = 200, **context: Any) -> Response:
    payout = _payouts().get_payout(payout_id)
    audit_security("payouts.bank_transfers_viewed", f"payout:{payout.id}")
    pending = payout.is_bank_transfer and payout.state.value == "submitted" and payout.conclusion is not None
    now = runtime().services.clock.now()
    template = "console/payout_bank_confirmation.html"
    return page(template, status, p=payout, pending=pending, now=now, me=acting(), nav="bank_confirmations", **context)


@bp.get("/payouts/bank-confirmations/<payout_id>")
def payout_bank_confirmation(payout_id: str) -> Response:
    """One bank transfer: where it went, the reference proposed by whom and when, and what this admin can do."""
    return _bank_detail(payout_id)


def _bank_acted(payout_id: str, action: Callable[[], object], *, step_up: bool) -> Response:
    again = lambda status, message: _bank_detail(payout_id, status, error=message)  # noqa: E731
    return acted(f"{BANK}/{payout_id}", action, again, step_up=step_up)


@bp.post("/payouts/bank-confirmations/<payout_id>/approve")
def payout_bank_confirmation_approve(payout_id: str) -> Response:
    """Complete the transfer with the reference the page showed (another proposed since is a 409), a fresh code."""

    def approve() -> None:
        reference = (request.form.get("reference") or "").strip()
        _payouts().approve_bank_confirmation(payout_id, by=acting(), reference=reference)

    return _bank_acted(payout_id, approve, step_up=True)


@bp.post("/payouts/bank-confirmations/<payout_id>/decline")
def payout_bank_confirmation_decline(payout_id: str) -> Response:
    """Refuse (or, its proposer, withdraw) the confirmation proposed, saying why; nothing moves."""
    decline = lambda: _payouts().decline_conclusion(payout_id, by=acting(), note=required_note())  # noqa: E731
    return _bank_acted(payout_id, decline, step_up=False)
