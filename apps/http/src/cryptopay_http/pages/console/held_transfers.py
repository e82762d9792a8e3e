"""Wallet sends held for a frozen recipient, for compliance officers (``/console/held-transfers``, review4 R6).

The same ``HeldSends`` use case as ``/v1/admin/compliance/held-transfers`` and ``cryptopay compliance
held-transfers``: the waiting list and each send with the sender's note (audited reads
``compliance.held_transfers_viewed`` / ``compliance.held_transfer_viewed``), a release to the recipient or a return
to the sender *proposed* by one officer (a note and a fresh one-time code), carried out only when a second officer
approves it (a fresh code too: money moves; its proposer is refused, 409 ``same_officer``, audited), or declined with
a note; as held merchant payments (``/console/held-payments``). An officer who made the send or would receive it is
refused (``OwnParty``, 403, audited ``compliance.own_party_refused``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptopay.core.errors import InvalidInput
from cryptopay.core.wallets.held_sends import HeldSends
from cryptopay.core.wallets.model import HeldSendDecision
from flask import Response, request

from cryptopay_http.auth import audit_security
from cryptopay_http.pages.console import acted, bp, officer, required_note, waiting_page
from cryptopay_http.pages.web import page
from cryptopay_http.runtime import runtime

__all__ = ["held_transfer", "held_transfers"]


def _held() -> HeldSends:
    return runtime().services.wallets.held_sends()


@bp.get("/held-transfers")
def held_transfers() -> Response:
    """Held sends awaiting a decision, by id."""
    return waiting_page(
        "console/held_transfers.html",
        "held_transfers",
        "held_transfers",
        lambda after, limit: _held().waiting(after=after, limit=limit),
    )


def _detail(transfer_id: str, status: int = 200, **context: Any) -> Response:
    held = _held()
    transfer = held.get(transfer_id)
    room = held.recipient_room(transfer)  # the recipient's tier and what it may still receive (review7 F2's note)
    audit_security("compliance.held_transfer_viewed", f"transfer:{transfer.id}")
    return page(
        "console/held_transfer.html", status, t=transfer, room=room, me=officer().id, nav="held_transfers", **context
    )


@bp.get("/held-transfers/<transfer_id>")
def held_transfer(transfer_id: str) -> Response:
    """A held send: who sent what to whom with which note, when it was held, the recipient's tier and what it may
    still receive today and this month, the proposal waiting on it and what this officer can do."""
    return _detail(transfer_id)


def _acted(transfer_id: str, action: Callable[[], object], *, step_up: bool) -> Response:
    again = lambda status, message: _detail(transfer_id, status, error=message)  # noqa: E731
    return acted(f"/console/held-transfers/{transfer_id}", action, again, step_up=step_up)


def _decision(field: str, what: str) -> HeldSendDecision:
    try:
        return HeldSendDecision(request.form.get(field) or "")
    except ValueError:
        raise InvalidInput(what, field=field) from None


@bp.post("/held-transfers/<transfer_id>/propose")
def held_transfer_propose(transfer_id: str) -> Response:
    """Propose a release or a return (a note and a fresh code; a second officer carries it out)."""

    def propose() -> None:
        wanted, note = _decision("decision", "release or return"), required_note()
        if wanted is HeldSendDecision.RELEASE:
            _held().release(transfer_id, officer=officer().id, note=note)
        else:
            _held().return_to_sender(transfer_id, officer=officer().id, note=note)

    return _acted(transfer_id, propose, step_up=True)


@bp.post("/held-transfers/<transfer_id>/approve")
def held_transfer_approve(transfer_id: str) -> Response:
    """Carry out another officer's proposal, the one the page showed (a fresh code: money moves)."""

    def approve() -> None:
        shown = _decision("proposal", "the proposal the page showed")
        _held().approve(transfer_id, officer=officer().id, expected=shown)

    return _acted(transfer_id, approve, step_up=True)


@bp.post("/held-transfers/<transfer_id>/keep")
def held_transfer_keep(transfer_id: str) -> Response:
    """Keep the send held, saying why; nothing moves."""
    return _acted(
        transfer_id, lambda: _held().keep(transfer_id, officer=officer().id, note=required_note()), step_up=False
    )


@bp.post("/held-transfers/<transfer_id>/decline")
def held_transfer_decline(transfer_id: str) -> Response:
    """Decline (or withdraw) the proposal, saying why; nothing moves."""
    return _acted(
        transfer_id, lambda: _held().decline(transfer_id, officer=officer().id, note=required_note()), step_up=False
    )
