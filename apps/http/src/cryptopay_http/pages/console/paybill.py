"""Payments to our paybill that could not be verified or matched, for staff (``/console/paybill``).

The same ``Paybill`` use case as ``cryptopay wallets paybill-*``: the list (``unverified`` by default: M-Pesa's
Transaction Status did not confirm them; ``suspended``: their account number named no wallet that could take them;
``reversing``: a Reversal on its way) and each payment (audited reads), and on one that waits: ask M-Pesa again
(re-verify; nothing moves), a credit to a wallet or a return of the money to the payer (M-Pesa's Reversal API)
*proposed* by one officer and carried out only when a second approves it (a fresh one-time code each: money moves;
its proposer is refused, 409 ``same_officer``, audited), or a proposal declined. Each action is audited by the use
case (``paybill.*``); the paging and the officers' notes are the held-payments pages' helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptopay.core.errors import InvalidInput
from cryptopay.core.mobile_money.phones import mask_msisdn, try_normalize_msisdn
from cryptopay.core.wallets.paybill import Paybill, PaybillProposal, PaybillState
from flask import Response, request

from cryptopay_http.auth import audit_security
from cryptopay_http.pages.console import PAGE, acted, acting, bp, officer, page_of, required_note
from cryptopay_http.pages.web import page
from cryptopay_http.runtime import runtime

__all__ = ["paybill_payment", "paybill_payments"]

BASE = "/console/paybill"
LISTED = (PaybillState.UNVERIFIED, PaybillState.SUSPENDED, PaybillState.REVERSING, PaybillState.REVERSED)


def _desk() -> Paybill:
    return runtime().services.paybill


@bp.get("/paybill")
def paybill_payments() -> Response:
    """Payments waiting for staff, newest first: unverified ones unless ``?state=`` names another list."""
    wanted = request.args.get("state") or PaybillState.UNVERIFIED.value
    state = next((s for s in LISTED if s.value == wanted), None)
    if state is None:
        raise InvalidInput("unverified, suspended, reversing or reversed", field="state")
    after = request.args.get("after") or None
    rows, more = page_of(_desk().listed(state=state, after=after, limit=PAGE + 1), lambda row: row.id)
    audit_security("paybill.payments_viewed", "paybill:payments", state=state.value, count=str(len(rows)))
    return page("console/paybill_payments.html", rows=rows, more=more, state=state, states=LISTED, nav="paybill")


def _detail(payment_id: str, status: int = 200, **context: Any) -> Response:
    payment = _desk().get(payment_id)
    audit_security("paybill.payment_viewed", f"paybill:{payment.id}")
    payer = mask_msisdn(try_normalize_msisdn(payment.msisdn) or payment.msisdn)  # never a whole phone
    return page(
        "console/paybill_payment.html", status, p=payment, payer=payer, me=officer().id, nav="paybill", **context
    )


@bp.get("/paybill/<payment_id>")
def paybill_payment(payment_id: str) -> Response:
    """A payment: what M-Pesa's confirmation said, why it waits, what M-Pesa answered, and what staff can do."""
    return _detail(payment_id)


def _acted(payment_id: str, action: Callable[[], object], *, step_up: bool) -> Response:
    again = lambda status, message: _detail(payment_id, status, error=message)  # noqa: E731
    return acted(f"{BASE}/{payment_id}", action, again, step_up=step_up)


@bp.post("/paybill/<payment_id>/reverify")
def paybill_reverify(payment_id: str) -> Response:
    """Ask M-Pesa's Transaction Status again (the worker sends the query); nothing moves."""
    return _acted(payment_id, lambda: _desk().reverify(payment_id, actor=acting(), note=required_note()), step_up=False)


@bp.post("/paybill/<payment_id>/propose")
def paybill_propose(payment_id: str) -> Response:
    """Propose the wallet to credit (a fresh code; a second officer carries it out)."""

    def propose() -> None:
        to = (request.form.get("wallet") or "").strip()
        if not to or len(to) > 64:
            raise InvalidInput("the wallet's phone number, username or user id", field="wallet")
        _desk().propose_credit(payment_id, to, officer=officer().id, note=required_note())

    return _acted(payment_id, propose, step_up=True)


@bp.post("/paybill/<payment_id>/approve")
def paybill_approve(payment_id: str) -> Response:
    """Carry out another officer's proposal as the page showed it: a credit to that wallet, or a return (a fresh
    code: money moves)."""

    def approve() -> None:
        kind = next((k for k in PaybillProposal if k.value == request.form.get("proposal")), None)
        if kind is None:
            raise InvalidInput("the proposal the page showed: credit or return", field="proposal")
        shown = (request.form.get("proposed_to") or "").strip()
        if kind is PaybillProposal.CREDIT and not shown:
            raise InvalidInput("the wallet the page showed", field="proposed_to")
        _desk().approve(payment_id, officer=officer().id, expected=kind, expected_to=shown or None)

    return _acted(payment_id, approve, step_up=True)


@bp.post("/paybill/<payment_id>/decline")
def paybill_decline(payment_id: str) -> Response:
    """Decline (or withdraw) the proposal, saying why; nothing moves."""
    return _acted(
        payment_id,
        lambda: _desk().decline(payment_id, officer=officer().id, note=required_note()),
        step_up=False,
    )


@bp.post("/paybill/<payment_id>/propose-return")
def paybill_propose_return(payment_id: str) -> Response:
    """Propose returning the money to the payer by M-Pesa's Reversal (a fresh code; a second officer approves it)."""
    return _acted(
        payment_id,
        lambda: _desk().propose_return(payment_id, officer=officer().id, note=required_note()),
        step_up=True,
    )
