"""Wallet deposits held for compliance (review8 R7) or beyond their wallet's KYC tier (review10 R10-15), for
compliance officers (``/console/held-deposits``): those whose release is two officers' (``Deposit.by_two_officers``).

The same ``Deposits`` use case as ``/v1/admin/compliance/held-deposits``: the waiting list and each deposit with why
it is held and its alerts (audited reads ``compliance.held_deposits_viewed`` / ``compliance.held_deposit_viewed``), a
release to its wallet *proposed* by one officer (a note and a fresh one-time code), carried out only when a second
officer approves it (a fresh code too: money moves; its proposer, an officer related to it or new to staff is refused,
409 ``same_officer`` / ``related_officers`` / ``officer_cooling_off``, audited), its
alerts closed with no action in the same unit of work, or declined with a note; as held sends
(``/console/held-transfers``). An officer who holds the wallet is refused (``OwnParty``, 403, audited).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptopay.core.wallets.deposits import Deposits
from flask import Response

from cryptopay_http.auth import audit_security
from cryptopay_http.pages.console import acted, bp, officer, required_note, waiting_page
from cryptopay_http.pages.web import page
from cryptopay_http.runtime import runtime

__all__ = ["held_deposit", "held_deposits"]


def _deposits() -> Deposits:
    return runtime().services.wallet_deposits


@bp.get("/held-deposits")
def held_deposits() -> Response:
    """Deposits held for compliance awaiting two officers' decision, by id."""
    return waiting_page(
        "console/held_deposits.html",
        "held_deposits",
        "held_deposits",
        lambda after, limit: _deposits().waiting(after=after, limit=limit),
    )


def _detail(deposit_id: str, status: int = 200, **context: Any) -> Response:
    deposit = _deposits().deposit(deposit_id)
    audit_security("compliance.held_deposit_viewed", f"deposit:{deposit.id}")
    return page("console/held_deposit.html", status, d=deposit, me=officer().id, nav="held_deposits", **context)


@bp.get("/held-deposits/<deposit_id>")
def held_deposit(deposit_id: str) -> Response:
    """A held deposit: its wallet, amount, sender, why it is held, its alerts, the release proposed on it and what
    this officer can do."""
    return _detail(deposit_id)


def _acted(deposit_id: str, action: Callable[[], object], *, step_up: bool) -> Response:
    again = lambda status, message: _detail(deposit_id, status, error=message)  # noqa: E731
    return acted(f"/console/held-deposits/{deposit_id}", action, again, step_up=step_up)


@bp.post("/held-deposits/<deposit_id>/propose")
def held_deposit_propose(deposit_id: str) -> Response:
    """Propose its release to the wallet (a note and a fresh code; a second officer carries it out)."""
    return _acted(
        deposit_id,
        lambda: _deposits().propose_release(deposit_id, officer=officer().id, note=required_note()),
        step_up=True,
    )


@bp.post("/held-deposits/<deposit_id>/approve")
def held_deposit_approve(deposit_id: str) -> Response:
    """Carry out another officer's proposed release (a fresh code: money moves)."""
    return _acted(deposit_id, lambda: _deposits().approve_release(deposit_id, officer=officer().id), step_up=True)


@bp.post("/held-deposits/<deposit_id>/decline")
def held_deposit_decline(deposit_id: str) -> Response:
    """Decline (or withdraw) the proposed release, saying why; nothing moves."""
    return _acted(
        deposit_id,
        lambda: _deposits().decline_release(deposit_id, officer=officer().id, note=required_note()),
        step_up=False,
    )
