"""Payment-link pages ``/link/<public id>``: no login; the payer sees what the link asks, enters an amount when the
link leaves it open (the page says from what to what: ``PaymentLinks.amount_bounds``), and gets an invoice's hosted
checkout page (``core.payments.links.PaymentLinks``).

The form carries a CSRF token bound to the browser's anonymous cookie and a fresh form key (a double press makes one
invoice: ``idempotency.idempotent_form_in``, in the link's scope), and is rate-limited per client like the public
API's ``POST /v1/payment-links/<id>/invoices``. A closed link (deactivated, expired, used up) says why; one whose
cap only checkouts in progress (unpaid reservations) fill says it is busy and in how many minutes to try again.
"""

from __future__ import annotations

import math
from decimal import Decimal

from cryptopay.core.errors import InvalidInput
from cryptopay.core.payments.model import PaymentLink, PaymentLinkTerms
from flask import Response, request
from flask.typing import ResponseReturnValue

from cryptopay_http.auth import client_address, limit_by_client
from cryptopay_http.idempotency import idempotent_form_in, new_form_key
from cryptopay_http.pages.i18n import language
from cryptopay_http.pages.refusals import refusal
from cryptopay_http.pages.session import check_form_csrf
from cryptopay_http.pages.web import page, page_blueprint, redirect, typed_decimal
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

bp = page_blueprint("links", __name__)


def _show(link: PaymentLink, status: int = 200, **refused: str | None) -> Response:
    services = runtime().services
    merchant = services.merchants.get(link.merchant_id)
    now = services.clock.now()
    closed = link.closed_reason(now)
    # a cap reached by checkouts in progress is busy for a few minutes, not closed (review6 F11)
    busy_until = services.payment_links.busy_until(link) if closed else None
    busy_minutes = None if busy_until is None else max(1, math.ceil((busy_until - now).total_seconds() / 60))
    name = merchant.business_name if merchant else ""
    bounds = services.payment_links.amount_bounds(link)
    # a fresh form key per rendering: a double press of the pay button makes one invoice (``idempotent_form_in``)
    context = {"link": link, "merchant_name": name, "closed": closed, "bounds": bounds, "key": new_form_key()}
    context |= {"busy_minutes": busy_minutes}
    return page("link.html", status, **context, **refused)


@bp.get("/link/<public_id>")
def payment_link(public_id: str) -> Response:
    return _show(runtime().services.payment_links.load_public(public_id[:64]))


def _amount(text: str | None) -> Decimal | None:
    if text is None:
        return None
    return typed_decimal(text, example="500")


@bp.post("/link/<public_id>")
@limit_by_client
def use_payment_link(public_id: str) -> ResponseReturnValue:
    """Make the link's invoice and send the payer to its checkout; the form's key makes a double press (or a resent
    post) one invoice, both answers leading to its checkout page."""
    check_form_csrf()
    link = runtime().services.payment_links.load_public(public_id[:64])
    try:
        return _pay(public_id=link.public_id)
    except (InvalidInput, PaymentLinkTerms) as error:
        # in the payer's language, and what they typed stays in the form
        return _show(link, 422, amount=request.form.get("amount", ""), **refusal(error, language()))


@idempotent_form_in(lambda public_id: f"payment_link:{public_id}")  # the scope of the API's key for this link
def _pay(public_id: str) -> Response:
    links = runtime().services.payment_links
    link = links.load_public(public_id)
    amount = _amount(request.form.get("amount")) if link.amount is None else None
    invoice = links.create_invoice(link.public_id, amount=amount, client=client_address())
    return redirect(f"/pay/{invoice.public_id}")
