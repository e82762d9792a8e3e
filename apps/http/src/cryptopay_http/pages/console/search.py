"""Transaction search for staff (``/console/search?q=``): one box for an invoice, payout or wallet movement id, a
phone, a deposit address, a transaction hash or an M-Pesa receipt, across invoices, payouts and wallet movements.

``Services.transactions`` (``core.search.TransactionSearch`` over the adapters' read model) does the finding; it is
bounded (at most ``core.search.LIMIT`` hits; hashes and receipts among the latest ``SCAN`` records of each kind).
The hits show ids, states, amounts and times, no personal details, so a search is not itself audited.
"""

from __future__ import annotations

from cryptopay.core.errors import InvalidInput
from flask import Response, request

from cryptopay_http.pages.console import bp
from cryptopay_http.pages.web import page
from cryptopay_http.runtime import runtime

__all__ = ["search"]


@bp.get("/search")
def search() -> Response:
    text = (request.args.get("q") or "").strip()
    if not text:
        return page("console/search.html", q="", hits=None, nav="search")
    try:
        hits = runtime().services.transactions.find(text)
    except InvalidInput as error:
        return page("console/search.html", 422, q=text, hits=None, error=error.message, nav="search")
    return page("console/search.html", q=text, hits=hits, nav="search")
