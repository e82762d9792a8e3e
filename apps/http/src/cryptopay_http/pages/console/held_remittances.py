"""Remittance orders held, for compliance officers (``/console/held-remittances``, review8 R8).

The same ``Remittances`` use case as ``/v1/admin/compliance/held-remittances``: the held orders, newest first, and
each order with why it is held, the addresses that paid it and its alerts (audited reads
``compliance.held_remittances_viewed`` / ``compliance.held_remittance_viewed``). An order held for compliance (with
``review_alerts``) is refunded only by two officers: one *proposes* the refund with a note and a fresh one-time code,
to the sender's refund address or another on the network it was paid on; a second approves it with a fresh code
(money moves: its alerts concluded, the conversion reversed and the refund asked in one unit of work; the proposer is
refused, 409 ``same_officer``, audited), or it is declined with a note; as held deposits (``/console/held-deposits``).
Its release (paying it out to its recipient) is decided the same way (reviewer10 R10-1: a case one officer closed with
no action is no release): proposed with the ``release`` decision, approved by a second officer (its alerts concluded
and its payout planned in one unit of work), or declined.
An order held for an operator (no alerts) is shown, and refused here as on the API (409, ``cryptopay remittances``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cryptopay.core.errors import InvalidInput
from cryptopay.core.remittances import RemittanceState
from cryptopay.core.remittances.service import Remittances
from flask import Response, request

from cryptopay_http.auth import audit_security
from cryptopay_http.pages.console import acted, bp, officer, required_note, waiting_page
from cryptopay_http.pages.web import page
from cryptopay_http.runtime import runtime

__all__ = ["held_remittance", "held_remittances"]

MAX_ADDRESS = 128  # as the API's refund body allows


def _remittances() -> Remittances:
    return runtime().services.remittances


@bp.get("/held-remittances")
def held_remittances() -> Response:
    """Remittance orders held, newest first: those with alerts are compliance's to decide."""
    return waiting_page(
        "console/held_remittances.html",
        "held_remittances",
        "held_remittances",
        lambda before, limit: _remittances().orders(state=RemittanceState.HELD, before=before, limit=limit),
    )


def _detail(order_id: str, status: int = 200, **context: Any) -> Response:
    order = _remittances().get(order_id)
    audit_security("compliance.held_remittance_viewed", f"remittance:{order.id}")
    return page("console/held_remittance.html", status, o=order, me=officer().id, nav="held_remittances", **context)


@bp.get("/held-remittances/<order_id>")
def held_remittance(order_id: str) -> Response:
    """A held order: what arrived from which addresses on which network, why it is held, its alerts, the refund
    proposed on it and what this officer can do."""
    return _detail(order_id)


def _acted(order_id: str, action: Callable[[], object], *, step_up: bool) -> Response:
    again = lambda status, message: _detail(order_id, status, error=message)  # noqa: E731
    return acted(f"/console/held-remittances/{order_id}", action, again, step_up=step_up)


def _address(*, required: bool) -> str | None:
    """The form's ``address``: stripped, at most ``MAX_ADDRESS`` characters (the core checks it is one on the
    order's network); empty is none."""
    text = (request.form.get("address") or "").strip()
    if len(text) > MAX_ADDRESS or (required and not text):
        raise InvalidInput(f"an address of 1 to {MAX_ADDRESS} characters", field="address")
    return text or None


def _releasing() -> bool:
    """The form's ``decision``: ``release`` (pay it out) or ``refund`` (the default: the refund form of before)."""
    decision = (request.form.get("decision") or _REFUND).strip()
    if decision not in (_RELEASE, _REFUND):
        raise InvalidInput(f"the decision is {_RELEASE} or {_REFUND}", field="decision")
    return decision == _RELEASE


_RELEASE, _REFUND = "release", "refund"


@bp.post("/held-remittances/<order_id>/propose")
def held_remittance_propose(order_id: str) -> Response:
    """Propose its release (paid out to its recipient) or its refund, to the sender's address or another (a note and
    a fresh code; a second officer approves)."""

    def propose() -> None:
        releasing, address, note = _releasing(), _address(required=False), required_note()
        if releasing:
            if address is not None:
                raise InvalidInput("a release pays the recipient: no refund address goes with it", field="address")
            _remittances().propose_release(order_id, officer=officer().id, note=note)
        else:
            _remittances().propose_refund(order_id, officer=officer().id, note=note, address=address)

    return _acted(order_id, propose, step_up=True)


@bp.post("/held-remittances/<order_id>/approve")
def held_remittance_approve(order_id: str) -> Response:
    """Carry out another officer's proposal as the page showed it: the release (``decision``), or the refund to the
    address shown (a fresh code: money moves); a proposal of the other kind now is refused (nothing proposed)."""

    def approve() -> None:
        if _releasing():
            _remittances().approve_release(order_id, officer=officer().id)
            return
        shown = _address(required=True)
        _remittances().approve_refund(order_id, officer=officer().id, expected=shown)

    return _acted(order_id, approve, step_up=True)


@bp.post("/held-remittances/<order_id>/decline")
def held_remittance_decline(order_id: str) -> Response:
    """Decline (or withdraw) the proposal the page showed, saying why: its kind (``decision``) and when it was made
    (``proposed_at``); another proposal now is refused (409) and stays (reader2 M-9). Nothing moves."""

    def decline() -> None:
        note, read = required_note(), _proposed_at()
        if _releasing():
            _remittances().decline_release(order_id, officer=officer().id, note=note, proposed_at=read)
        else:
            _remittances().decline_refund(order_id, officer=officer().id, note=note, proposed_at=read)

    return _acted(order_id, decline, step_up=False)


def _proposed_at() -> datetime:
    """The form's ``proposed_at``: when the proposal shown was made (ISO 8601, as the page wrote it)."""
    try:
        read = datetime.fromisoformat((request.form.get("proposed_at") or "").strip())
    except ValueError:
        raise InvalidInput("which proposal: reload the page and try again", field="proposed_at") from None
    if read.tzinfo is None:
        raise InvalidInput("which proposal: reload the page and try again", field="proposed_at")
    return read
