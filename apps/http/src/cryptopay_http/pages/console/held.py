"""Merchant payments held for a listed payer, for compliance officers (``/console/held-payments``).

The same ``HeldPayments`` use case as ``/v1/admin/compliance/held-payments`` and ``cryptopay compliance
held-payments``: the waiting list and each payment (audited reads), a release or a return *proposed* by one officer
(with a note and a fresh one-time code), carried out only when a second officer approves it (a fresh code too: money
moves; its proposer is refused, 409 ``same_officer``, audited), declined with a note, or the payment kept for the
authorities. Each of these is audited by the use case (``compliance.held_payment_*``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptopay.core.errors import InvalidInput
from cryptopay.core.payments.held import HeldPayments
from cryptopay.core.payments.model import HoldDecision
from flask import Response, request

from cryptopay_http.auth import audit_security
from cryptopay_http.pages.console import acted, bp, officer, required_note, waiting_page
from cryptopay_http.pages.web import page
from cryptopay_http.runtime import runtime

__all__ = ["held_payment", "held_payments"]

_PROPOSALS = {"release": HoldDecision.RELEASED, "return": HoldDecision.RETURNED}


def _held() -> HeldPayments:
    return runtime().services.held_payments


@bp.get("/held-payments")
def held_payments() -> Response:
    """Held payments awaiting a decision, by id, each with the release or return proposed on it."""
    return waiting_page(
        "console/held_payments.html",
        "held",
        "held_payments",
        lambda after, limit: _held().waiting(after=after, limit=limit),
    )


def _detail(credit_id: str, status: int = 200, **context: Any) -> Response:
    credit = _held().get(credit_id)
    audit_security("compliance.held_payment_viewed", f"invoice:{credit.invoice_id}", credit=credit.id)
    return page("console/held_payment.html", status, c=credit, me=officer().id, nav="held", **context)


@bp.get("/held-payments/<credit_id>")
def held_payment(credit_id: str) -> Response:
    """A held payment: what was paid, its alerts, the proposal waiting on it and what this officer can do."""
    return _detail(credit_id)


def _acted(credit_id: str, action: Callable[[], object], *, step_up: bool) -> Response:
    again = lambda status, message: _detail(credit_id, status, error=message)  # noqa: E731
    return acted(f"/console/held-payments/{credit_id}", action, again, step_up=step_up)


@bp.post("/held-payments/<credit_id>/propose")
def held_propose(credit_id: str) -> Response:
    """Propose a release or a return (a fresh code; a second officer carries it out)."""

    def propose() -> None:
        wanted = _PROPOSALS.get(request.form.get("decision") or "")
        if wanted is None:
            raise InvalidInput("release or return", field="decision")
        note = required_note()
        if wanted is HoldDecision.RELEASED:
            _held().release(credit_id, officer=officer().id, note=note)
        else:
            _held().return_to_payer(credit_id, officer=officer().id, note=note)

    return _acted(credit_id, propose, step_up=True)


@bp.post("/held-payments/<credit_id>/approve")
def held_approve(credit_id: str) -> Response:
    """Carry out another officer's proposal, the one the page showed (a fresh code: money moves)."""

    def approve() -> None:
        shown = request.form.get("proposal") or ""
        if shown not in (HoldDecision.RELEASED.value, HoldDecision.RETURNED.value):
            raise InvalidInput("the proposal the page showed", field="proposal")
        _held().approve(credit_id, officer=officer().id, expected=HoldDecision(shown))

    return _acted(credit_id, approve, step_up=True)


@bp.post("/held-payments/<credit_id>/decline")
def held_decline(credit_id: str) -> Response:
    """Decline (or withdraw) the proposal, saying why; nothing moves."""
    return _acted(
        credit_id, lambda: _held().decline(credit_id, officer=officer().id, note=required_note()), step_up=False
    )


@bp.post("/held-payments/<credit_id>/keep")
def held_keep(credit_id: str) -> Response:
    """Keep the payment frozen for the authorities (its alerts' case reported); nothing moves."""
    return _acted(credit_id, lambda: _held().keep(credit_id, officer=officer().id, note=required_note()), step_up=False)
