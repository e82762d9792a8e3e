"""What every page shares: rendering, HTML error pages, the language switch and the pages' headers.

Pages are HTML answers of their own blueprints: errors raised in them become an HTML page with the same status the
API would give (never problem+json), their CSP forbids inline styles too (``headers.PAGE_CSP``), and nothing a
page shows is stored by a cache (``no-store``): an invoice's status or a merchant's sales change.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

from cryptopay.adapters.evm.qr import qr_svg
from cryptopay.core.errors import CryptopayError, InvalidAmount
from cryptopay.core.identity.model import EnrolmentRequired
from cryptopay.core.kyc.documents import MAX_DOCUMENT_BYTES, MAX_DOCUMENT_MB
from flask import Blueprint, Flask, Response, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from cryptopay_http.headers import PAGE_CSP
from cryptopay_http.pages.assets import asset_url
from cryptopay_http.pages.i18n import LANG_COOKIE, LANGUAGES, gettext, install_i18n, language
from cryptopay_http.pages.refusals import FORM_TOO_LARGE, TOO_LARGE, install_refusals, refusal
from cryptopay_http.pages.session import form_csrf_token, keep_anon_cookie
from cryptopay_http.runtime import runtime

__all__ = [
    "UPLOAD_BODY",
    "allow_documents",
    "bp",
    "install_web",
    "page",
    "page_blueprint",
    "qr_data_uri",
    "redirect",
    "takes_documents",
]

_log = logging.getLogger("cryptopay.http.pages")
_YEAR = 31_536_000
F = TypeVar("F")
# The body a page that takes documents may send: three of the core's largest (the portal's ID front, back and
# selfie) and the form around them. Every other page keeps the site's ``max_body_bytes`` (1 MB). A file above the
# core's ``MAX_DOCUMENT_BYTES`` is read that far and refused by the core on its field; only a body above this one
# is the 413 page (``_http_error``, in the page's language).
UPLOAD_BODY = 3 * MAX_DOCUMENT_BYTES + 64 * 1024
_TAKES_DOCUMENTS = "__takes_documents__"


def page(template: str, http_status: int = 200, /, **context: Any) -> Response:
    """Render a page template in the request's language (``http_status``: the answer's status). A refusal that says
    when to try again (``refusal``'s ``retry_after``: a rate limit's 429) sends ``Retry-After`` too, as the API does."""
    headers = {"Retry-After": context["retry_after"]} if context.get("retry_after") else None
    return Response(render_template(template, **context), status=http_status, mimetype="text/html", headers=headers)


def qr_data_uri(text: str) -> str:
    """A QR code of ``text`` as an SVG ``data:`` URI, drawn here and shown inside the page (``img-src`` allows
    ``data:``): no second request, no other host. Not kept: a caller whose text is public may cache it."""
    return f"data:image/svg+xml;base64,{base64.b64encode(qr_svg(text, scale=5)).decode()}"


def _error_page(
    status: int,
    message: str,
    detail: str | None = None,
    *,
    retry_after: str | None = None,
    ref: str | None = None,
    enrol: bool = False,
) -> Response:
    """``ref``: a crash's reference (its log line's id), which the page gives the reader for support. ``enrol``: a
    staff login without a second factor yet, sent to the page where it turns one on (R9-7)."""
    context = {"message": message, "detail": detail, "retry_after": retry_after, "reference": ref, "enrol": enrol}
    return page("error.html", status, status=status, **context)


def _domain_error(error: CryptopayError) -> Response:
    shown = refusal(error, language())  # in the page's language, the core's English words below
    wait = shown["retry_after"]
    message, enrol = shown["error"] or error.message, isinstance(error, EnrolmentRequired)
    return _error_page(error.http_status, message, shown["error_detail"], retry_after=wait, enrol=enrol)


def _http_error(error: HTTPException) -> Response:
    if error.code == 413:  # werkzeug's sentence is English: say it in the page's language, with this page's limit
        if request.max_content_length == UPLOAD_BODY:
            return _error_page(413, gettext(TOO_LARGE) % {"size": MAX_DOCUMENT_MB})
        limit = request.max_content_length or current_app.config.get("MAX_CONTENT_LENGTH") or 0
        return _error_page(413, gettext(FORM_TOO_LARGE) % {"size": f"{limit / 10**6:.3g}"})  # max_body_bytes: 10^6
    return _error_page(error.code or 500, error.description or "")


def _crash(error: Exception) -> Response:
    error_id = secrets.token_hex(8)
    _log.error("unhandled error %s on page %s", error_id, request.path, exc_info=error)
    return _error_page(500, "", ref=error_id)  # the page says what to do in its language, with this reference


def _page_headers(response: Response) -> Response:
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = PAGE_CSP
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Language"] = language()
        keep_anon_cookie(response)
    return response


def redirect(location: str, status: int = 303) -> Response:
    """See other: the answer to a form post (POST/redirect/GET), or a page moved."""
    return Response(status=status, headers={"Location": location}, mimetype="text/html")


def takes_documents(view: F) -> F:
    """Mark a page's view as one that takes document uploads (photos, scans): its body may be ``UPLOAD_BODY`` for a
    logged-in visitor (``allow_documents``)."""
    setattr(view, _TAKES_DOCUMENTS, True)
    return view


def allow_documents() -> None:
    """Called by a blueprint's guard once the visitor is logged in, before it reads the form (its CSRF check): a view
    that takes documents then reads a body up to ``UPLOAD_BODY``. The form is parsed once, under the limit in force
    when it is first read (R9-4: raised in the view, it came too late); before the login is known it would let
    anyone send 24 MB to be parsed (reader2 M-5): a visitor without a login keeps the site's limit."""
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, _TAKES_DOCUMENTS, False):
        request.max_content_length = UPLOAD_BODY


def page_blueprint(name: str, import_name: str, **options: Any) -> Blueprint:
    """A blueprint of pages: HTML error pages and the pages' headers on every answer; a view marked
    ``takes_documents`` reads a body up to ``UPLOAD_BODY`` once the blueprint's guard calls ``allow_documents``."""
    blueprint = Blueprint(name, import_name, **options)
    blueprint.register_error_handler(CryptopayError, _domain_error)
    blueprint.register_error_handler(HTTPException, _http_error)
    blueprint.register_error_handler(Exception, _crash)
    blueprint.after_request(_page_headers)
    return blueprint


bp = page_blueprint("web", __name__, template_folder="templates")


def install_web(app: Flask) -> None:
    """The Jinja setup every page uses."""
    install_i18n(app)
    install_refusals(app)
    app.jinja_env.globals["asset"] = asset_url
    app.jinja_env.globals["csrf_token"] = form_csrf_token
    app.jinja_env.globals["public_url"] = lambda: runtime().settings.public_url
    app.jinja_env.autoescape = True


_PLAIN_AMOUNT = re.compile(r"[0-9]{1,15}(\.[0-9]{1,18})?")
# Thousands grouped by commas (or by spaces, as some locales write them): a first group of 1 to 3 digits not
# starting with 0, then groups of exactly three, one separator throughout; the fraction is never grouped.
_GROUPED_AMOUNT = re.compile(r"[1-9][0-9]{0,2}(?:(?P<sep>[, ])[0-9]{3})(?:(?P=sep)[0-9]{3})*(\.[0-9]{1,18})?")
MISGROUPED = "use a dot for decimals (10.50); a comma only separates thousands, in groups of three digits (1,050)"


def typed_decimal(text: str | None, *, field: str = "amount", example: str = "1,500.50") -> Decimal:
    """An amount as people type it in a form (``1,500``, ``12.5``); ``InvalidAmount`` on ``field`` otherwise.

    Only ASCII digits, at most 15 before the point and 18 after it, so no exponent, NaN, Infinity, sign, other
    scripts' digits or a number too large for money ever reaches ``Decimal`` arithmetic. A comma (or an inner
    space) is read only as a thousands separator where it is one -- groups of exactly three digits -- and anything
    else with a comma is refused, never reinterpreted: "10,50" is a decimal comma to many people and a thousands
    separator to others, and guessing wrong moves a hundred times the money.

    >>> typed_decimal(" 1,500 "), typed_decimal("12,345.50"), typed_decimal("12.50"), typed_decimal("1 500")
    (Decimal('1500'), Decimal('12345.50'), Decimal('12.50'), Decimal('1500'))
    >>> for t in ("10,50", "0,5", "1,5000", "1,,000", ",5", "1.000,5", "1,000 000"):
    ...     try:
    ...         typed_decimal(t)
    ...     except InvalidAmount as error:
    ...         assert error.message == MISGROUPED, t
    >>> for t in ("1e400", "NaN", "-1", "\uff11\uff10\uff10", "9" * 16, "1.", "", None):
    ...     try:
    ...         typed_decimal(t, example="500")
    ...     except InvalidAmount as error:
    ...         assert (error.message, error.details["field"]) == ("enter an amount such as 500", "amount"), t
    """
    cleaned = (text or "").strip()
    if "," in cleaned or " " in cleaned:
        if not _GROUPED_AMOUNT.fullmatch(cleaned):
            raise InvalidAmount(MISGROUPED if "," in cleaned else f"enter an amount such as {example}", field=field)
        cleaned = cleaned.replace(",", "").replace(" ", "")
    if not _PLAIN_AMOUNT.fullmatch(cleaned):
        raise InvalidAmount(f"enter an amount such as {example}", field=field)
    return Decimal(cleaned)


def local_target(target: str | None, *, within: tuple[str, ...] = ("/",), default: str = "/dashboard") -> str:
    """``target`` if it is a path on this site under one of ``within``, else ``default``: a ``next`` or a
    return address never sends anyone to another host (no open redirect).

    >>> local_target("/dashboard/invoices", within=("/dashboard",))
    '/dashboard/invoices'
    >>> local_target("//evil.example/x"), local_target("https://evil.example/"), local_target(None, default="/app/")
    ('/dashboard', '/dashboard', '/app/')
    >>> local_target("/" + chr(92) + "evil.example"), local_target("/pay/x" + chr(0))  # browsers read "/\\" as "//"
    ('/dashboard', '/dashboard')
    """
    if not target or not target.startswith(within) or target.startswith("//") or urlsplit(target).netloc:
        return default
    if "\\" in target or not target.isprintable():  # a backslash is a slash to browsers; no control characters
        return default
    return target


@bp.get("/lang/<code>")
def switch_language(code: str) -> Response:
    """Remember the chosen language for a year and go back to the page (``?next=``)."""
    response = redirect(local_target(request.args.get("next")), 303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=_YEAR, samesite="Lax", secure=runtime().settings.cookie_secure)
    return response
