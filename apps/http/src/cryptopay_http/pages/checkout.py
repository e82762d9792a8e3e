"""The hosted checkout page ``/pay/<public id>``: no login, an unguessable id (``Invoice.public_id``).

The merchant's name, the price, a rail picker (links: works without JavaScript), the amount, QR code, address and
wallet link (``core.payment_uri``) of the chosen rail, a countdown, and the live status
(``core.invoices.checkout``). htmx polls ``/pay/<id>/status`` every few seconds and swaps the status fragment;
without JavaScript the page refreshes itself (``<meta http-equiv=refresh>``) until the status is final.
Unknown ids get the same 404 as any missing page.
"""

from __future__ import annotations

import functools
from typing import Any

from cryptopay.adapters.evm.qr import qr_svg
from cryptopay.core.errors import NotFound
from cryptopay.core.invoices import Invoice, PaymentOption
from cryptopay.core.invoices.checkout import CheckoutStatus, checkout_status
from cryptopay.core.payment_uri import payment_uri
from flask import Response, request

from cryptopay_http.auth import limit_reads_by_client
from cryptopay_http.pages.web import page, page_blueprint, qr_data_uri
from cryptopay_http.runtime import runtime

__all__ = ["POLL_SECONDS", "bp"]

bp = page_blueprint("checkout", __name__)
POLL_SECONDS = 4
_MAX_ID = 64


def _invoice(public_id: str) -> Invoice:
    if len(public_id) > _MAX_ID:
        raise NotFound("no such checkout page")
    return runtime().services.invoicing.get_public_invoice(public_id)


def _option(invoice: Invoice) -> PaymentOption:
    """The rail the payer picked (``?rail=``), else the first; an unknown one falls back to the first."""
    wanted = (request.args.get("rail") or "").strip().lower()
    for option in invoice.options:
        if option.rail.key == wanted:
            return option
    return invoice.options[0]


def _context(public_id: str) -> dict[str, Any]:
    services = runtime().services
    invoice = _invoice(public_id)
    option = _option(invoice)
    merchant = services.merchants.get(invoice.merchant_id)
    status: CheckoutStatus = checkout_status(invoice, option.rail.key, now=services.clock.now())
    return {
        "invoice": invoice,
        "option": option,
        "merchant_name": merchant.business_name if merchant else "",
        "uri": payment_uri(option.rail, option.address, option.due),
        "status": status,
        "public_id": public_id,
        "poll": POLL_SECONDS,
    }


@bp.get("/pay/<public_id>")
def checkout(public_id: str) -> Response:
    context = _context(public_id)
    return page("checkout.html", qr=_qr_data_uri(context["uri"]), **context)


@functools.lru_cache(maxsize=1024)
def _qr_data_uri(uri: str) -> str:
    """The QR code inside the page: no second request before the payer can scan (img-src allows data: URIs). Kept
    per payment URI: drawing one costs tens of milliseconds, and a page without JavaScript reloads itself."""
    return qr_data_uri(uri)


@bp.get("/pay/<public_id>/status")
def checkout_status_fragment(public_id: str) -> Response:
    """The live status alone (htmx swaps it in); 286 tells htmx to stop polling once the status is final."""
    context = _context(public_id)
    final = context["status"].phase.final
    return page("checkout_status.html", 286 if final and request.headers.get("HX-Request") else 200, **context)


@bp.get("/pay/<public_id>/qr.svg")
@limit_reads_by_client
def checkout_qr(public_id: str) -> Response:
    """The chosen rail's QR code alone: the ``qr_svg_url`` of a payment link's invoice answered to its customer
    (review H5), rate-limited per client address like the other public reads."""
    context = _context(public_id)
    image = qr_svg(context["uri"], scale=5)
    # An option never changes once offered (a wrong-network payment accepted only adds one); the page is public by
    # its unguessable id, so browsers may keep it.
    return Response(image, mimetype="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})
