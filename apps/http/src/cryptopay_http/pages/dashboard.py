"""The merchant dashboard ``/dashboard``: log in, today's sales and what is due, invoices (refund and cancel on an
invoice's page), settlements and payouts, API keys and webhook endpoints with the delivery log. The analytics,
statements, posters, team and KYB pages are ``dashboard_business``'s, on this blueprint and its guard.

Every view calls the same use cases as the REST API through the app's ``Services`` (and the API's own helpers:
tenancy, audit, step-up), never HTTP. Forms post and redirect (POST/redirect/GET), so everything works without
JavaScript. Creating an API key or a webhook endpoint hands out a secret: the form asks for the password (or a
one-time code with 2FA) and steps up first, like the API's ``X-Step-Up-Token``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from decimal import InvalidOperation
from typing import Any
from urllib.parse import quote, urlsplit

from cryptopay.core import flows
from cryptopay.core.errors import CryptopayError, InvalidInput, NotFound
from cryptopay.core.identity import Forbidden, Principal, Role, TwoFactorRequired, Unauthenticated
from cryptopay.core.identity.email_proof import needs_proven_email
from cryptopay.core.identity.model import MERCHANT_SCOPES, RateLimited, TeamRole
from cryptopay.core.invoices import Invoice, InvoiceState
from cryptopay.core.money import KES, Money, asset_by_code
from cryptopay.core.payments.summary import OPEN, owed_by_merchant, summarise
from cryptopay.core.webhooks import (
    DEFAULT_PAYLOAD_VERSION,
    PAYLOAD_VERSIONS,
    DeliveryStatus,
    EndpointChanges,
    check_payload_version,
    create_endpoint,
    update_endpoint,
)
from flask import Response, g, request
from flask.typing import ResponseReturnValue

from cryptopay_http.auth import audit_security, limit_by_client, limit_login, passed_account_check, refuse_if_closed
from cryptopay_http.idempotency import idempotent_form, new_form_key
from cryptopay_http.pages.i18n import NAIROBI, language
from cryptopay_http.pages.refusals import refusal
from cryptopay_http.pages.session import (
    DASHBOARD,
    check_form_csrf,
    end_page_session,
    page_login,
    start_page_session,
    step_up_from_form,
)
from cryptopay_http.pages.web import allow_documents, local_target, page, page_blueprint, redirect, typed_decimal
from cryptopay_http.payments_edge import redeliver_for_merchant, webhooks
from cryptopay_http.query import whole_number
from cryptopay_http.runtime import runtime

__all__ = ["bp", "merchant_id"]

bp = page_blueprint("dashboard", __name__, url_prefix="/dashboard")
_PUBLIC = {"dashboard.login", "dashboard.login_form"}
# A login's own settings (``dashboard_account``): for every login of the dashboard session, merchant or staff, and
# open when the merchant is closed (a password change closes no business).
_ANY_LOGIN = {
    "dashboard.account_settings",
    "dashboard.account_password",
    "dashboard.account_sign_out_everywhere",
    "dashboard.account_enrol_two_factor",
    "dashboard.account_confirm_two_factor",
    "dashboard.account_remove_two_factor",
}
_OPEN_WHEN_CLOSED = {"dashboard.logout"}  # every other form of a closed merchant is refused (``refuse_if_closed``)
# What each page needs of a team member's role: the scope its REST twin requires (``TEAM_SCOPES``); keys, webhooks
# and deliveries belong to the owner and admins, as ``/v1/merchants/{id}/api-keys`` does.
_SCOPES = {
    "dashboard.home": "invoices:read",
    "dashboard.invoices": "invoices:read",
    "dashboard.invoice_detail": "invoices:read",
    "dashboard.refund_invoice": "refunds:write",
    "dashboard.cancel_invoice": "invoices:write",
    "dashboard.accept_wrong_network": "invoices:write",
    "dashboard.refund_wrong_network": "refunds:write",
    "dashboard.new_invoice": "invoices:write",
    "dashboard.create_invoice": "invoices:write",
    "dashboard.payment_links": "payment_links:read",
    "dashboard.create_payment_link": "payment_links:write",
    "dashboard.deactivate_payment_link": "payment_links:write",
    "dashboard.settlements": "settlements:read",
    "dashboard.analytics": "reports:read",
    "dashboard.reports": "reports:read",
    "dashboard.statement_pdf": "reports:read",
    "dashboard.statement_csv": "reports:read",
    "dashboard.tax_report_file": "reports:read",
    "dashboard.link_poster": "payment_links:read",
    "dashboard.store_poster": "payment_links:read",
}
# Changing the team or the KYB application is for the owner and admins (the use cases check the team too).
_MANAGERS = {
    "dashboard.invite_member",
    "dashboard.change_member_role",
    "dashboard.remove_member",
    "dashboard.revoke_invitation",
    "dashboard.apply_kyb",
    "dashboard.upload_kyb_document",
    "dashboard.submit_kyb",
}
_DEVELOPERS = {
    "dashboard.developers",
    "dashboard.create_api_key",
    "dashboard.revoke_api_key",
    "dashboard.create_webhook_endpoint",
    "dashboard.set_webhook_payload_version",
    "dashboard.resend_email_proof",
    "dashboard.redeliver",
}
_PAGE = 25
_REFUNDABLE = (InvoiceState.SETTLED, InvoiceState.EXPIRED, InvoiceState.INVALID, InvoiceState.CANCELLED)


def _shown(error: CryptopayError) -> dict[str, str | None]:
    """A refusal as the page shows it: in its language, tied to its field (``refusals.refusal``)."""
    return refusal(error, language())


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    """Resolve the page session, check CSRF on every POST, and send visitors without a login to the login page."""
    principal = page_login(DASHBOARD)
    if principal is not None:
        g.principal = principal
        allow_documents()  # a logged-in visitor's scans: a larger body, before the form is read
    if request.method == "POST":
        check_form_csrf()
    if request.endpoint in _PUBLIC:
        return None
    if principal is None:
        return redirect(f"/dashboard/login?next={quote(request.full_path.rstrip('?'))}", 303)
    if request.endpoint in _ANY_LOGIN:
        return None  # the login's own account (``dashboard_account``): every login, staff without 2FA yet too
    if principal.role is not Role.MERCHANT:
        raise Forbidden("the dashboard is for merchants")
    if principal.merchant_id is None:
        raise Forbidden("create your merchant profile first (POST /v1/merchants)")
    _check_team_role(principal, request.endpoint or "")
    if request.method == "POST" and request.endpoint not in _OPEN_WHEN_CLOSED:
        refuse_if_closed(principal)  # a closed merchant takes no new business: 403 merchant_closed, audited
    return None


def _check_team_role(principal: Principal, endpoint: str) -> None:
    """Forbidden unless the login's team role may do what this page does (an owner may do everything)."""
    if endpoint in _DEVELOPERS and principal.team_role not in (TeamRole.OWNER, TeamRole.ADMIN):
        raise Forbidden("API keys and webhooks are for the owner and admins of the team")
    if endpoint in _MANAGERS and principal.team_role not in (None, TeamRole.OWNER, TeamRole.ADMIN):
        raise Forbidden("the team and the KYB application are for the owner and admins of the team")
    needed = _SCOPES.get(endpoint)
    if needed is not None and not principal.has_scope(needed):
        raise Forbidden(f"your team role cannot do this (it needs {needed})")


def _merchant_id() -> str:
    found: str = g.principal.merchant_id
    return found


def merchant_id() -> str:
    """The merchant the page session acts for (its own, or a team member's team's)."""
    return _merchant_id()


def _actor() -> str:
    return f"user:{g.principal.id}"


def _local(target: str | None) -> str:
    """Where to go after logging in: a dashboard or console page of this site, never another host."""
    return local_target(target, within=("/dashboard", "/console"), default="/dashboard")


_STAFF = (Role.ADMIN, Role.COMPLIANCE)


def _landing(target: str, role: Role, *, enrolment_only: bool) -> str:
    """Where a login goes: a merchant (or a page named by ``next``) where it was going; staff bound for the merchants'
    dashboard go to the console instead (its home answered them 403 "for merchants"), a staff login without a
    second factor yet to its settings, where it enrols one (the console would refuse it)."""
    if role not in _STAFF or target.startswith("/console") or target.startswith("/dashboard/settings"):
        return target
    return "/dashboard/settings" if enrolment_only else "/console/"


# --- login ------------------------------------------------------------------------------------------------------


@bp.get("/login")
def login_form() -> Response:
    principal = g.get("principal")
    if principal is not None:
        target = _local(request.args.get("next"))
        return redirect(_landing(target, principal.role, enrolment_only=principal.enrolment_only), 303)
    return page("dashboard/login.html", next=_local(request.args.get("next")))


@bp.post("/login")
@limit_by_client
def login() -> ResponseReturnValue:
    email, password = request.form.get("email", ""), request.form.get("password", "")
    code = request.form.get("code") or None
    target = _local(request.form.get("next"))
    limit_login(email)
    try:
        pair = runtime().accounts.login(email, password, code=code)
    except TwoFactorRequired as error:
        return page("dashboard/login.html", 401, next=target, email=email, need_code=True, **_shown(error))
    except Unauthenticated as error:
        return page("dashboard/login.html", 401, next=target, email=email, **_shown(error))
    passed_account_check(pair.user.id, login=True)
    response = redirect(_landing(target, pair.user.role, enrolment_only=pair.enrolment_only), 303)
    start_page_session(response, pair, DASHBOARD)
    return response


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    response = redirect("/dashboard/login", 303)
    end_page_session(response, DASHBOARD)
    return response


# --- home -------------------------------------------------------------------------------------------------------


@bp.get("/")
def home() -> Response:
    services = runtime().services
    merchant_id = _merchant_id()
    now = services.clock.now()
    midnight = datetime.combine(now.astimezone(NAIROBI).date(), time(0), tzinfo=NAIROBI)
    store = services.listings.store(merchant_id)
    assets = {rail.asset for rail in store.rails} if store else set()
    codes = [flows.merchant_liability(merchant_id, asset) for asset in {*assets, asset_by_code("KES")}]
    listings = services.listings
    todays = listings.invoices_created(merchant_id, midnight, midnight + timedelta(days=1))
    # the balance due and the payouts only for a role that may read them, as GET /v1/payouts and the settlements
    # page decide (outside review R10: a staff member reads invoices, not the merchant's money)
    money = g.principal.has_scope("payouts:read") and g.principal.has_scope("settlements:read")
    balances = services.ledger.balances(codes) if money else {}
    owes = owed_by_merchant(services.ledger, merchant_id) if money else Money.zero(KES)
    summary = summarise(todays, listings.count_invoices(merchant_id, OPEN), balances, owes=owes)
    merchant = services.merchants.get(merchant_id)
    recent = services.listings.payouts(merchant_id, before=None, limit=5) if money else []
    return page("dashboard/home.html", summary=summary, merchant=merchant, payouts=recent, money=money, nav="home")


# --- invoices ---------------------------------------------------------------------------------------------------


def _state() -> InvoiceState | None:
    text = request.args.get("state") or None
    try:
        return InvoiceState(text) if text else None
    except ValueError:
        raise InvalidInput("unknown invoice state", field="state") from None


def _search(merchant_id: str, term: str) -> list[Invoice]:
    """An invoice id or checkout reference exactly, else order ids containing ``term`` (case-insensitive)."""
    invoicing = runtime().services.invoicing
    for lookup in (invoicing.get_invoice, invoicing.get_public_invoice):
        try:
            invoice = lookup(term)
        except NotFound:
            continue
        if invoice.merchant_id == merchant_id:
            return [invoice]
    return runtime().services.listings.find_orders(merchant_id, term, limit=_PAGE)


@bp.get("/invoices")
def invoices() -> Response:
    merchant_id, term, state = _merchant_id(), (request.args.get("q") or "").strip()[:100], _state()
    before = request.args.get("before") or None
    if term:
        rows, more = [i for i in _search(merchant_id, term) if state is None or i.state is state], None
    else:
        rows = runtime().services.listings.invoices(merchant_id, before=before, limit=_PAGE + 1, state=state)
        more = rows[_PAGE - 1].id if len(rows) > _PAGE else None
        rows = rows[:_PAGE]
    states = [s.value for s in InvoiceState]
    return page("dashboard/invoices.html", rows=rows, q=term, state=state, states=states, more=more, nav="invoices")


def _own_invoice(invoice_id: str) -> Invoice:
    invoice = runtime().services.invoicing.get_invoice(invoice_id)
    if invoice.merchant_id != _merchant_id():
        raise NotFound(f"invoice {invoice_id} not found")
    return invoice


def _invoice_page(invoice_id: str, status: int = 200, **context: Any) -> Response:
    """The invoice with every payment, refund and payment sent on another network, and its refund and cancel forms
    (each with a fresh form key)."""
    invoice = _own_invoice(invoice_id)
    refunds = runtime().services.refunds.list_refunds(invoice.id, limit=_PAGE)
    wrong_network = runtime().services.detection.wrong_network_payments(invoice_id=invoice.id)
    paid_rails = sorted({p.rail_key for p in invoice.payments if not p.withdrawn})
    assets = {o.rail.asset.code for o in invoice.options if o.rail.key in paid_rails}
    currencies = [*sorted(assets), *sorted({invoice.price.asset.code, "KES"} - assets)]
    context = {"form": request.form, "refund_key": new_form_key(), "cancel_key": new_form_key(), **context}
    # One form key per form: an accept and a refund posted from one rendering are different requests.
    keys = {(w.id, form): new_form_key() for w in wrong_network for form in ("accept", "refund")}
    context |= {"stray_keys": keys, "may_accept": g.principal.has_scope("invoices:write")}
    context |= {"may_refund": g.principal.has_scope("refunds:write")}
    refundable = invoice.state in _REFUNDABLE and bool(paid_rails) and g.principal.has_scope("refunds:write")
    cancellable = invoice.state in OPEN and not invoice.payments and g.principal.has_scope("invoices:write")
    return page(
        "dashboard/invoice.html",
        status,
        invoice=invoice,
        refunds=refunds,
        wrong_network=wrong_network,
        paid_rails=paid_rails,
        currencies=currencies,
        refundable=refundable,
        cancellable=cancellable,
        nav="invoices",
        **context,
    )


@bp.get("/invoices/<invoice_id>")
def invoice_detail(invoice_id: str) -> Response:
    args = request.args
    return _invoice_page(
        invoice_id, refunded=args.get("refunded"), cancelled=args.get("cancelled"), accepted=args.get("accepted")
    )


def _confirmed(field: str = "confirm") -> None:
    if request.form.get(field) != "yes":
        raise InvalidInput("tick the box to confirm", field=field)


def _on_invoice(
    invoice_id: str, action: Callable[[], Response], *, refund: bool = False, where: str | None = None
) -> Response:
    """Run a form's ``action``; a refusal (a wrong password, nothing left to refund, an invoice that received
    money) is shown on the invoice's page with its status and changes nothing."""
    try:
        return action()
    except CryptopayError as error:
        if error.http_status >= 500:
            raise
        status = 403 if error.http_status == 401 else error.http_status
        shown = where or ("refund_error" if refund else "cancel_error")
        refused = _shown(error)
        return _invoice_page(invoice_id, status, **{shown: refused["error"], "error_field": refused["error_field"]})


@bp.post("/invoices/<invoice_id>/refunds")
def refund_invoice(invoice_id: str) -> Response:
    """Refund (part of) what the invoice received: money leaves, so the form asks for the password (a step-up)
    and carries a form key (a double press sends one refund)."""
    return _on_invoice(invoice_id, lambda: _refund(invoice_id), refund=True)


@idempotent_form
def _refund(invoice_id: str) -> Response:
    invoice = _own_invoice(invoice_id)
    _confirmed()
    form = request.form
    address = (form.get("address") or "").strip()[:128]
    if not address:
        raise InvalidInput("enter the customer's address to refund to", field="address")
    text = (form.get("amount") or "").strip()
    amount = _refund_amount(text, form.get("currency", "")) if text else None
    step_up_from_form(g.principal)
    refund = runtime().services.refunds.refund(
        invoice.id,
        address=address,
        requested_by=_actor(),
        rail=form.get("rail") or None,
        amount=amount,
        fund_after_settlement=True,
    )
    return redirect(f"/dashboard/invoices/{invoice.id}?refunded={refund.id}", 303)


def _refund_amount(text: str, currency: str) -> Money:
    value = typed_decimal(text, example="500 or 12.5 in the rail's currency or KES")
    try:
        amount = Money.of(value, asset_by_code(currency.strip().upper()))
    except (InvalidOperation, InvalidInput):
        raise InvalidInput(
            "enter an amount such as 500 or 12.5 in the rail's currency or KES", field="amount"
        ) from None
    if not amount.is_positive():
        raise InvalidInput("a refund amount must be positive", field="amount")
    return amount


def _own_stray(invoice: Invoice, payment_id: str) -> str:
    """The id of the invoice's own wrong-network payment ``payment_id`` (another's is not found)."""
    return runtime().services.detection.invoice_wrong_network_payment(invoice.id, payment_id).id


@bp.post("/invoices/<invoice_id>/wrong-network/<payment_id>/accept")
def accept_wrong_network(invoice_id: str, payment_id: str) -> Response:
    """Take a payment sent on another network into the invoice at its terms (nothing leaves: no password)."""
    return _on_invoice(invoice_id, lambda: _accept_stray(invoice_id, payment_id), where="wrong_network_error")


@idempotent_form
def _accept_stray(invoice_id: str, payment_id: str) -> Response:
    invoice = _own_invoice(invoice_id)
    _confirmed()
    runtime().services.detection.accept_wrong_network(_own_stray(invoice, payment_id), actor=_actor())
    return redirect(f"/dashboard/invoices/{invoice.id}?accepted={payment_id}", 303)


@bp.post("/invoices/<invoice_id>/wrong-network/<payment_id>/refund")
def refund_wrong_network(invoice_id: str, payment_id: str) -> Response:
    """Send a payment made on another network back whole to the payer: money leaves, so the password is asked."""
    return _on_invoice(invoice_id, lambda: _refund_stray(invoice_id, payment_id), where="wrong_network_error")


@idempotent_form
def _refund_stray(invoice_id: str, payment_id: str) -> Response:
    invoice = _own_invoice(invoice_id)
    _confirmed()
    stray = _own_stray(invoice, payment_id)
    step_up_from_form(g.principal)
    # Only ever to the address that paid (the coins are the payer's; another address is an operator's: review R27).
    refund = runtime().services.refunds.refund_wrong_network(stray, requested_by=_actor())
    return redirect(f"/dashboard/invoices/{invoice.id}?refunded={refund.id}", 303)


@bp.post("/invoices/<invoice_id>/cancel")
def cancel_invoice(invoice_id: str) -> Response:
    """Cancel an invoice that has received nothing (the use case refuses one that has, with a 409)."""
    return _on_invoice(invoice_id, lambda: _cancel(invoice_id))


@idempotent_form
def _cancel(invoice_id: str) -> Response:
    invoice = _own_invoice(invoice_id)
    _confirmed()
    runtime().services.invoicing.cancel_invoice(invoice.id, actor=_actor())
    return redirect(f"/dashboard/invoices/{invoice.id}?cancelled=1", 303)


def _new_invoice_form(status: int = 200, **context: Any) -> Response:
    store = runtime().services.listings.store(_merchant_id())
    rails = list(store.rails) if store else []
    context |= {"key": new_form_key()}  # a fresh key per rendering: a double press of one makes one invoice
    return page("dashboard/new_invoice.html", status, rails=rails, form=request.form, nav="new", **context)


@bp.get("/invoices/new")
def new_invoice() -> Response:
    return _new_invoice_form()


def _price(amount: str, currency: str) -> Money:
    if currency not in ("KES", "USDT"):
        raise InvalidInput("choose KES or USDT", field="currency")
    value = typed_decimal(amount, example="5000 or 12.50")
    try:
        price = Money.of(value, currency)
    except (InvalidOperation, InvalidInput):
        raise InvalidInput("enter an amount such as 5000 or 12.50", field="amount") from None
    if not price.is_positive():
        raise InvalidInput("the amount must be more than zero", field="amount")
    return price


@bp.post("/invoices/new")
def create_invoice() -> ResponseReturnValue:
    """Make an invoice; the form carries a form key, so a double press (or a resent post) makes one invoice and
    both answers lead to it."""
    try:
        return _create_invoice()
    except InvalidInput as error:
        return _new_invoice_form(422, **_shown(error))


@idempotent_form
def _create_invoice() -> Response:
    form = request.form
    price = _price(form.get("amount", ""), form.get("currency", "KES"))
    order_id = (form.get("order_id") or "").strip() or None  # the core checks it as the API does
    invoice = runtime().services.invoicing.create_invoice(
        _merchant_id(), price, rails=form.getlist("rails") or None, order_id=order_id, actor=_actor()
    )
    return redirect(f"/dashboard/invoices/{invoice.id}", 303)


# --- payment links ---------------------------------------------------------------------------------------------


def _links_page(status: int = 200, **context: Any) -> Response:
    service = runtime().services.payment_links
    links = service.list_links(_merchant_id(), limit=_PAGE)
    now = runtime().services.clock.now()
    rows = []
    for link in links:
        closed = link.closed_reason(now)
        # a link that unpaid checkouts fill is busy, not closed: it may still be deactivated (review6 F11)
        rows.append((link, closed, closed is not None and service.busy_until(link) is not None))
    return page("dashboard/links.html", status, rows=rows, form=request.form, nav="links", **context)


@bp.get("/links")
def payment_links() -> Response:
    return _links_page()


def _max_uses(text: str) -> int | None:
    if not text.strip():
        return None
    uses = whole_number(text.strip())
    if uses is None or not 0 < uses <= 1_000_000:
        raise InvalidInput("uses: a whole number from 1, or empty for no limit", field="max_uses")
    return uses


@bp.post("/links")
def create_payment_link() -> ResponseReturnValue:
    form = request.form
    try:
        description = (form.get("description") or "").strip()
        if not description:
            raise InvalidInput("say what the customer pays for", field="description")
        currency = form.get("currency", "KES")
        amount = _price(form["amount"], currency) if (form.get("amount") or "").strip() else None
        runtime().services.payment_links.create_link(
            _merchant_id(),
            actor=_actor(),
            description=description,
            amount=amount,
            currency=asset_by_code(currency if currency in ("KES", "USDT") else "KES"),
            max_uses=_max_uses(form.get("max_uses", "")),
        )
    except InvalidInput as error:
        return _links_page(422, **_shown(error))
    return redirect("/dashboard/links", 303)


@bp.post("/links/<link_id>/deactivate")
def deactivate_payment_link(link_id: str) -> ResponseReturnValue:
    links = runtime().services.payment_links
    link = links.get_link(link_id)
    if link.merchant_id != _merchant_id():
        raise NotFound(f"payment link {link_id} not found")
    links.deactivate_link(link.id, actor=_actor())
    return redirect("/dashboard/links", 303)


# --- settlements and payouts ------------------------------------------------------------------------------------


@bp.get("/settlements")
def settlements() -> Response:
    listings, merchant_id = runtime().services.listings, _merchant_id()
    rows = listings.settlements(merchant_id, before=None, limit=_PAGE)
    payouts = listings.payouts(merchant_id, before=None, limit=_PAGE)
    return page("dashboard/settlements.html", settlements=rows, payouts=payouts, nav="settlements")


# --- developers: API keys, webhook endpoints, deliveries --------------------------------------------------------


def _developers(status: int = 200, **context: Any) -> Response:
    merchant_id = _merchant_id()
    keys = runtime().services.api_keys.for_merchant(merchant_id, before=None, limit=100)
    creators = {user_id: _creator(user_id) for user_id in {k.created_by for k in keys}}  # one read per person
    hooks = webhooks()
    with hooks.uow() as uow:
        endpoints = uow.webhook_endpoints.enabled_for_merchant(merchant_id, before=None, limit=100)
        deliveries = uow.webhook_deliveries.for_merchant(
            merchant_id, endpoint_id=None, status=None, limit=_PAGE, before=None
        )
    scopes = sorted(MERCHANT_SCOPES)
    statuses = [s.value for s in DeliveryStatus]
    return page(
        "dashboard/developers.html",
        status,
        email_unproven=_email_unproven(),
        keys=keys,
        creators=creators,
        endpoints=endpoints,
        deliveries=deliveries,
        scopes=scopes,
        statuses=statuses,
        nav="developers",
        key_form_key=new_form_key(),
        hook_form_key=new_form_key(),
        **context,
    )


@bp.get("/developers")
def developers() -> Response:
    return _developers()


def _creator(user_id: str) -> str:
    """Who minted a key, as the team page names people (their email, else their id)."""
    user = runtime().services.users.get(user_id)
    return (user.email or user_id) if user is not None else user_id


def _email_unproven() -> bool:
    """True while the logged-in merchant user has not proven its email (``identity.email_proof``)."""
    user = runtime().services.users.get(g.principal.id)
    return user is not None and needs_proven_email(user)


def _stepped_up(action: Callable[[], Response], *, checked_inside: bool = False) -> Response:
    """Run ``action`` after a fresh password (or one-time code) check, as the API's step-up does (``checked_inside``:
    ``action`` checks it itself); an unproven email refuses first (403, the page says what to do, audited
    ``access.refused`` as over the API)."""
    if _email_unproven():
        audit_security("access.refused", f"route:{request.path}", method="POST", reason="email_unverified")
        return _developers(403)
    try:
        if not checked_inside:
            step_up_from_form(g.principal)
        return action()
    except CryptopayError as error:
        if error.http_status >= 500:
            raise
        status = error.http_status if error.http_status != 401 else 403
        # the form that was refused stays open with what was typed (never the password or code)
        which = {"/dashboard/developers/api-keys": "key", "/dashboard/developers/webhooks": "hook"}.get(request.path)
        return _developers(status, open_form=which, form=request.form, **_shown(error))


@bp.post("/developers/verify-email")
def resend_email_proof() -> Response:
    """Email a new proof link (``EmailProofs.resend``: at most one a minute)."""
    try:
        runtime().proofs.resend(g.principal.id)
    except RateLimited as error:
        return _developers(429, **_shown(error))
    return _developers(202, proof_sent=True)


@bp.post("/developers/api-keys")
def create_api_key() -> Response:
    def create() -> Response:
        name = (request.form.get("name") or "").strip()
        if not name:
            raise InvalidInput("give the key a name", field="name")
        scopes = request.form.getlist("scopes") or sorted(MERCHANT_SCOPES)
        key, secret = runtime().api_keys.create(_merchant_id(), name=name, scopes=scopes, created_by=g.principal.id)
        return _issued(secret, key.name)

    return _stepped_up(lambda: _shown_once(create), checked_inside=True)


@bp.post("/developers/api-keys/<key_id>/revoke")
def revoke_api_key(key_id: str) -> ResponseReturnValue:
    key = runtime().services.api_keys.get(key_id)
    if key is None or key.merchant_id != _merchant_id():
        raise NotFound(f"API key {key_id} not found")
    runtime().api_keys.revoke(key, actor=_actor())
    return redirect("/dashboard/developers", 303)


@bp.post("/developers/webhooks")
def create_webhook_endpoint() -> Response:
    def create() -> Response:
        hooks = webhooks()
        url = (request.form.get("url") or "").strip()
        endpoint = create_endpoint(
            _merchant_id(),
            url,
            events=(),
            description=(request.form.get("description") or "").strip(),
            uow_factory=hooks.uow,
            ids=hooks.ids,
            clock=hooks.clock,
            allow_insecure=hooks.allow_insecure_urls,
            max_endpoints=hooks.max_endpoints,
            created_by=g.principal.id,
            payload_version=_payload_version(request.form.get("payload_version")),
        )
        host = urlsplit(endpoint.url).hostname or "?"
        audit_security(
            "webhook_endpoint.created",
            f"webhook_endpoint:{endpoint.id}",
            merchant=_merchant_id(),
            host=host,
            payload_version=str(endpoint.payload_version),
        )
        return _issued(endpoint.secret, endpoint.url)

    return _stepped_up(lambda: _shown_once(create), checked_inside=True)


def _issued(secret: str, secret_for: str) -> Response:
    """A secret was issued: the answer kept under the form's key is a redirect to the developers page (never the
    secret: kept answers are stored), and this request alone shows the secret (``_shown_once``)."""
    g.issued_secret = (secret, secret_for)
    return redirect("/dashboard/developers", 303)


def _shown_once(create: Callable[[], Response]) -> Response:
    """Run a secret-issuing form once per rendered form (reviewer9 R9-6): its form key (``idempotent_form``) makes a
    double press or a reload's re-post replay the first answer's redirect to the developers page (the key or
    endpoint listed, no second one, no secret again) instead of issuing a second live secret nobody holds; the
    first answer shows the secret, once. The step-up is checked inside the key's claim (reader2 M-3): a replay
    needs none, since a one-time code the first press used cannot pass twice, and a refused one keeps no answer."""

    def checked() -> Response:
        step_up_from_form(g.principal)
        return create()

    answer = idempotent_form(checked)()
    issued = g.pop("issued_secret", None)
    if issued is None:
        return answer  # the replay of an earlier press: the page lists what that one made
    return _developers(201, secret=issued[0], secret_for=issued[1])


@bp.post("/developers/webhooks/<endpoint_id>/payload-version")
def set_webhook_payload_version(endpoint_id: str) -> Response:
    """Switch an endpoint's payload version (events from now on), with the password as the API's PATCH asks."""

    def switch() -> Response:
        hooks = webhooks()
        changes = EndpointChanges(payload_version=_payload_version(request.form.get("payload_version")))
        updated = update_endpoint(endpoint_id, _merchant_id(), changes, uow_factory=hooks.uow)
        audit_security(
            "webhook_endpoint.updated",
            f"webhook_endpoint:{updated.id}",
            merchant=_merchant_id(),
            payload_version=str(updated.payload_version),
        )
        return _developers(200, payload_version_set=updated.id)

    return _stepped_up(switch)


def _payload_version(text: str | None) -> int:
    """The form's payload version (1 when the form has none), refused as the API and the CLI refuse one we do not
    send (``check_payload_version``; anything but a version's digits as 0)."""
    if text is None or text == "":
        return DEFAULT_PAYLOAD_VERSION
    return check_payload_version({str(v): v for v in PAYLOAD_VERSIONS}.get(text.strip(), 0))


@bp.post("/developers/deliveries/<delivery_id>/redeliver")
def redeliver(delivery_id: str) -> ResponseReturnValue:
    hooks = webhooks()
    with hooks.uow() as uow:
        delivery = uow.webhook_deliveries.get(delivery_id)
    if delivery is None or delivery.merchant_id != _merchant_id():
        raise NotFound(f"webhook delivery {delivery_id} not found")
    redeliver_for_merchant(delivery)
    return redirect("/dashboard/developers#deliveries", 303)
