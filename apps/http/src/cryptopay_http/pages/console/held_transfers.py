"""Wallet sends held for a frozen recipient, for compliance officers (``/console/held-transfers``, review4 R6).

The same ``HeldSends`` use case as ``/v1/admin/compliance/held-transfers`` and ``cryptopay compliance
held-transfers``: the waiting list and each send (audited reads ``compliance.held_transfers_viewed`` /
``compliance.held_transfer_viewed``), released to its recipient or returned to its sender by one officer with a note
and a fresh one-time code (money moves; audited ``wallet.held_send_released`` / ``wallet.held_send_returned`` by the
use case). An officer who made the send or would receive it is refused (``OwnParty``, 403, audited
``compliance.own_party_refused``). Unlike a held merchant payment, one officer decides (as the API and the shell).
"""

from __future__ import annotations

from cryptopay.core.errors import InvalidInput
from cryptopay.core.wallets.held_sends import HeldSends
from flask import Response, request

from cryptopay_http.auth import audit_security
from cryptopay_http.pages.console import PAGE, bp, form_note, officer, page_of, refused
from cryptopay_http.pages.session import step_up_from_form
from cryptopay_http.pages.web import page, redirect
from cryptopay_http.runtime import runtime

__all__ = ["held_transfer", "held_transfer_decide", "held_transfers"]

_DECISIONS = ("release", "return")


def _held() -> HeldSends:
    return runtime().services.wallets.held_sends()


@bp.get("/held-transfers")
def held_transfers() -> Response:
    """Held sends awaiting a decision, by id."""
    after = request.args.get("after") or None
    rows, more = page_of(_held().waiting(after=after, limit=PAGE + 1), lambda row: row.id)
    audit_security("compliance.held_transfers_viewed", "compliance:held_transfers", count=str(len(rows)))
    return page("console/held_transfers.html", rows=rows, more=more, nav="held_transfers")


def _detail(transfer_id: str, status: int = 200, **context: object) -> Response:
    transfer = _held().get(transfer_id)
    audit_security("compliance.held_transfer_viewed", f"transfer:{transfer.id}")
    return page("console/held_transfer.html", status, t=transfer, nav="held_transfers", **context)


@bp.get("/held-transfers/<transfer_id>")
def held_transfer(transfer_id: str) -> Response:
    """A held send: who sent what to whom, when it was held, and (while it waits) the decision form."""
    return _detail(transfer_id)


@bp.post("/held-transfers/<transfer_id>/decide")
def held_transfer_decide(transfer_id: str) -> Response:
    """Release the send to its recipient or return it to its sender (a note and a fresh code: money moves)."""

    def decide() -> Response:
        wanted = request.form.get("decision") or ""
        if wanted not in _DECISIONS:
            raise InvalidInput("release or return", field="decision")
        note = form_note("note", required=True) or ""
        step_up_from_form(officer())
        if wanted == "release":
            _held().release(transfer_id, officer=officer().id, note=note)
        else:
            _held().return_to_sender(transfer_id, officer=officer().id, note=note)
        return redirect(f"/console/held-transfers/{transfer_id}")

    return refused(decide, lambda status, message: _detail(transfer_id, status, error=message))
