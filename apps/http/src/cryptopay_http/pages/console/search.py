"""Transaction search for staff (``/console/search?q=``): one box for an invoice, payout or wallet movement id, a
phone, a deposit address, a transaction hash or an M-Pesa receipt, across invoices, payouts and wallet movements.

``Services.transactions`` (``core.search.TransactionSearch`` over the adapters' read model) does the finding; it is
bounded (at most ``core.search.LIMIT`` hits; hashes and receipts among the latest ``SCAN`` records of each kind).
The hits show ids, states, amounts and times, but a query by phone or email is a lookup of a named person's
finances: every search is audited (``console.search``: the kind of query, the query as the audit log keeps a
searched-for value, ``core.audit_search.masked``: a phone or an email never whole, and how many hits), as opening an
account's page is.
"""

from __future__ import annotations

from cryptopay.core.audit_search import masked
from cryptopay.core.errors import InvalidInput
from cryptopay.core.mobile_money.phones import try_normalize_msisdn
from flask import Response, request

from cryptopay_http.auth import audit_security
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
    audit_security("console.search", "console:search", kind=_kind(text), query=masked(text), hits=str(len(hits)))
    return page("console/search.html", q=text, hits=hits, nav="search")


def _kind(text: str) -> str:
    if "@" in text:
        return "email"
    return "phone" if try_normalize_msisdn(text) is not None else "other"
