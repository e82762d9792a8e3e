"""The admin console ``/console``: staff (admin or compliance) with a second factor.

Each page needs the role its REST twin needs (``ROLES``): the KYC queue, AML alerts and cases, held merchant payments,
held wallet sends, held deposits, held remittances and account freezes are the compliance officers' (``/v1/admin/kyc``,
``/v1/admin/compliance``, ``/v1/admin/accounts``); paybill payments that could not be verified or matched are any staff
member's (four-eyes and a fresh code where money moves, ``cryptopay wallets paybill-*``); reconciliation, treasury,
system health, unresolved payouts (concluded by two admins from M-Pesa's statement), bank confirmations, role changes
and merchants' payout charges are the admins'; the audit log, account search and transaction search are for both.
Deny by default: every console endpoint is named in ``ROLES`` with its roles, and one that is not
(a page added without its roles) is refused to everyone (403, audited as ``console.unlisted``); a page of another staff
role is refused and audited as ``access.refused``; a test walks the app's console routes and fails on any not named. A
staff login without a second factor is an enrolment-only session and is refused. The same page session as the dashboard
(``/dashboard/login``); every form carries a CSRF token, checked before anything runs.

Pages call the same use cases as the REST routes and the ``cryptopay compliance`` CLI through the app's ``Services``
(``kyc_review``, ``monitoring``, ``reporting``, ``reconciliation``, ``treasury``; ``Runtime.user_admin``), which
audit every officer action; reading personal data goes through their audited reads (``KycReview.application``,
``KycReview.document``). Freezing, unfreezing and changing a role need a fresh one-time code (step-up).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar
from urllib.parse import quote

from cryptopay.core.errors import CryptopayError, InvalidInput
from cryptopay.core.identity import EnrolmentRequired, Forbidden, Principal, Role
from flask import Response, g, request
from flask.typing import ResponseReturnValue

from cryptopay_http.auth import audit_security, refuse
from cryptopay_http.pages.i18n import language
from cryptopay_http.pages.refusals import refusal
from cryptopay_http.pages.session import DASHBOARD, check_form_csrf, page_login, step_up_from_form
from cryptopay_http.pages.web import allow_documents, page, page_blueprint, redirect

__all__ = [
    "ROLES",
    "accounts",
    "acting",
    "aml",
    "audit",
    "bp",
    "form_note",
    "held",
    "held_deposits",
    "held_remittances",
    "held_transfers",
    "kyc",
    "officer",
    "operations",
    "page_of",
    "paybill",
    "payouts",
    "refused",
    "search",
    "waiting_page",
]

bp = page_blueprint("console", __name__, url_prefix="/console")
PAGE = 50  # rows a console list shows; a query asks one more to know there is a next page
MAX_NOTE = 4000  # an officer's note, as the API's decision bodies allow
T = TypeVar("T")
_STAFF = frozenset({Role.ADMIN, Role.COMPLIANCE})
_COMPLIANCE, _ADMIN = frozenset({Role.COMPLIANCE}), frozenset({Role.ADMIN})
# Every console endpoint (after "console.") -> the roles that may use it. Deny by default: an endpoint not named here
# is refused to every role (403, audited), so a new page is closed until it is listed with its roles.
ROLES: dict[str, frozenset[Role]] = {
    "home": _STAFF,
    "search": _STAFF,
    "audit_log": _STAFF,
    "accounts": _STAFF,
    "account": _STAFF,
    "account_close": _STAFF,
    "account_freeze": _COMPLIANCE,
    "account_unfreeze": _COMPLIANCE,
    "account_role": _ADMIN,
    "account_payout_charges": _ADMIN,
    "account_merchant_fee": _ADMIN,
    "kyc_queue": _COMPLIANCE,
    "kyc_application": _COMPLIANCE,
    "kyc_claim": _COMPLIANCE,
    "kyc_approve": _COMPLIANCE,
    "kyc_link_id": _COMPLIANCE,
    "kyc_reject": _COMPLIANCE,
    "kyc_verify_director": _COMPLIANCE,
    "kyc_request_information": _COMPLIANCE,
    "kyc_document": _COMPLIANCE,
    "kyc_document_content": _COMPLIANCE,
    "aml_alerts": _COMPLIANCE,
    "aml_open_case": _COMPLIANCE,
    "aml_cases": _COMPLIANCE,
    "aml_case": _COMPLIANCE,
    "aml_note": _COMPLIANCE,
    "aml_move": _COMPLIANCE,
    "aml_assign": _COMPLIANCE,
    "aml_str": _COMPLIANCE,
    "aml_file": _COMPLIANCE,
    "held_payments": _COMPLIANCE,
    "held_payment": _COMPLIANCE,
    "held_propose": _COMPLIANCE,
    "held_approve": _COMPLIANCE,
    "held_decline": _COMPLIANCE,
    "held_keep": _COMPLIANCE,
    "held_transfers": _COMPLIANCE,
    "held_transfer": _COMPLIANCE,
    "held_transfer_propose": _COMPLIANCE,
    "held_transfer_approve": _COMPLIANCE,
    "held_transfer_decline": _COMPLIANCE,
    "held_transfer_keep": _COMPLIANCE,
    "held_deposits": _COMPLIANCE,
    "held_deposit": _COMPLIANCE,
    "held_deposit_propose": _COMPLIANCE,
    "held_deposit_approve": _COMPLIANCE,
    "held_deposit_decline": _COMPLIANCE,
    "held_remittances": _COMPLIANCE,
    "held_remittance": _COMPLIANCE,
    "held_remittance_propose": _COMPLIANCE,
    "held_remittance_approve": _COMPLIANCE,
    "held_remittance_decline": _COMPLIANCE,
    "paybill_payments": _STAFF,
    "paybill_payment": _STAFF,
    "paybill_reverify": _STAFF,
    "paybill_propose": _STAFF,
    "paybill_approve": _STAFF,
    "paybill_decline": _STAFF,
    "paybill_propose_return": _STAFF,
    "payouts_unresolved": _ADMIN,
    "payout_unresolved": _ADMIN,
    "payout_conclusion_propose": _ADMIN,
    "payout_conclusion_approve": _ADMIN,
    "payout_conclusion_decline": _ADMIN,
    "payout_conclusions_bank": _ADMIN,
    "payout_receipt_propose": _ADMIN,
    "payout_receipt_approve": _ADMIN,
    "payout_receipt_decline": _ADMIN,
    "payout_bank_confirmation": _ADMIN,
    "payout_bank_confirmation_approve": _ADMIN,
    "payout_bank_confirmation_decline": _ADMIN,
    "ops_reconciliation": _ADMIN,
    "ops_reconcile_now": _ADMIN,
    "ops_treasury": _ADMIN,
    "ops_health": _ADMIN,
}


def _roles_for(endpoint: str) -> frozenset[Role] | None:
    """The roles that may use ``endpoint``; None for one not listed (refused to all)."""
    return ROLES.get(endpoint.removeprefix("console."))


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    principal = page_login(DASHBOARD)
    if principal is None:
        return redirect(f"/dashboard/login?next={quote(request.full_path.rstrip('?'))}")
    g.principal = principal
    allow_documents()  # a statement file: a larger body, before the form is read
    if request.method == "POST":
        check_form_csrf()
    if principal.role not in _STAFF:
        raise refuse("the console is for staff")
    if principal.enrolment_only:
        raise EnrolmentRequired("enrol a second factor before using the console")
    roles = _roles_for(request.endpoint or "")
    if roles is None:
        route = request.url_rule.rule if request.url_rule else request.path
        audit_security("console.unlisted", f"route:{route}", method=request.method, endpoint=request.endpoint or "")
        raise Forbidden("this console page is not open to any role yet")
    if principal.role not in roles:
        raise refuse("this page is for another staff role")
    if request.method == "GET" and request.headers.get("Sec-Fetch-Site") == "cross-site":
        # A link on another site (an email, a ticket): the session cookie is SameSite=Lax, so it would run an audited
        # read (a search, an application viewed) in the officer's name. Nothing is read until they choose (R13-10).
        return page("console/continue.html", target=request.full_path.removesuffix("?"))
    return None


def officer() -> Principal:
    """The staff member using the console."""
    found: Principal = g.principal
    return found


def acting() -> str:
    """The audit actor of the staff member (``user:<id>``), as the REST routes record it."""
    return f"user:{officer().id}"


def refused(action: Callable[[], Response], again: Callable[[int, str], Response]) -> Response:
    """Run a form's ``action``; a refusal (a 4xx of the core: four-eyes, a wrong state, a bad reason, a wrong code)
    shows the page again (``again(status, message)``) with the same status the API gives, and changes nothing."""
    try:
        return action()
    except CryptopayError as error:
        if error.http_status >= 500:
            raise
        shown = refusal(error, language())  # in the page's language, the core's English words after it
        message = f"{shown['error']} ({shown['error_detail']})" if shown["error_detail"] else str(shown["error"])
        return again(403 if error.http_status == 401 else error.http_status, message)


def acted(back: str, action: Callable[[], object], again: Callable[[int, str], Response], *, step_up: bool) -> Response:
    """A decision form's work: the officer's fresh one-time code first when ``step_up`` (what moves money), then
    ``action``, then back to the page ``back``; a refusal shows the page again (``refused``), nothing changed."""

    def act() -> Response:
        if step_up:
            step_up_from_form(officer())
        action()
        return redirect(back)

    return refused(act, again)


def required_note() -> str:
    """The decision's note from the form's ``note`` field, which it must have (``form_note``)."""
    return form_note("note", required=True) or ""


def page_of(rows: list[T], key: Callable[[T], str]) -> tuple[list[T], str | None]:
    """A page of ``rows`` (asked for ``PAGE + 1``) and the ``after`` cursor of the next one, if any."""
    return rows[:PAGE], (key(rows[PAGE - 1]) if len(rows) > PAGE else None)


class _Held(Protocol):
    @property
    def id(self) -> str: ...


H = TypeVar("H", bound=_Held)


def waiting_page(template: str, nav: str, what: str, fetch: Callable[[str | None, int], list[H]]) -> Response:
    """A held-money desk's waiting list: a page of ``fetch(after, limit)`` by id, its read audited
    ``compliance.<what>_viewed`` (``what``: ``held_deposits``), as its REST twin audits it."""
    after = request.args.get("after") or None
    rows, more = page_of(fetch(after, PAGE + 1), lambda row: row.id)
    audit_security(f"compliance.{what}_viewed", f"compliance:{what}", count=str(len(rows)))
    return page(template, rows=rows, more=more, nav=nav)


def form_note(field: str, *, required: bool) -> str | None:
    """An officer's note from the form: stripped, at most ``MAX_NOTE`` characters (and some, when ``required``)."""
    text = (request.form.get(field) or "").strip()
    if len(text) > MAX_NOTE or (required and not text):
        raise InvalidInput(f"write 1 to {MAX_NOTE} characters", field=field)
    return text or None


@bp.get("/")
def home() -> Response:
    """Compliance officers start at the KYC queue, admins at system health."""
    return redirect("/console/kyc" if officer().role is Role.COMPLIANCE else "/console/health")


from cryptopay_http.pages.console import (  # noqa: E402  the routes
    accounts,
    aml,
    audit,
    held,
    held_deposits,
    held_remittances,
    held_transfers,
    kyc,
    operations,
    paybill,
    payouts,
    search,
)
