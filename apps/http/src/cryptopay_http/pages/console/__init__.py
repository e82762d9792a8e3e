"""The admin console ``/console``: staff (admin or compliance) with a second factor.

Each page needs the role its REST twin needs (``ROLES``): the KYC queue, AML alerts and cases and account freezes
are the compliance officers' (``/v1/admin/kyc``, ``/v1/admin/compliance``, ``/v1/admin/accounts``); reconciliation,
treasury, system health and role changes are the admins'; the audit log, account search and transaction search
are for both. A staff login without a second factor is an enrolment-only session and is refused. The same page
session as the dashboard (``/dashboard/login``); every form carries a CSRF token, checked before anything runs.

Pages call the same use cases as the REST routes and the ``cryptopay compliance`` CLI through the app's ``Services``
(``kyc_review``, ``monitoring``, ``reporting``, ``reconciliation``, ``treasury``; ``Runtime.user_admin``), which
audit every officer action; reading personal data goes through their audited reads (``KycReview.application``,
``KycReview.document``). Freezing, unfreezing and changing a role need a fresh one-time code (step-up).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from cryptopay.core.errors import CryptopayError
from cryptopay.core.identity import EnrolmentRequired, Forbidden, Principal, Role
from flask import Response, g, request
from flask.typing import ResponseReturnValue

from cryptopay_http.pages.session import DASHBOARD, check_form_csrf, page_login
from cryptopay_http.pages.web import page_blueprint, redirect

__all__ = ["ROLES", "accounts", "acting", "aml", "audit", "bp", "kyc", "officer", "operations", "refused", "search"]

bp = page_blueprint("console", __name__, url_prefix="/console")
_STAFF = frozenset({Role.ADMIN, Role.COMPLIANCE})
_COMPLIANCE, _ADMIN = frozenset({Role.COMPLIANCE}), frozenset({Role.ADMIN})
# endpoint prefix (after "console.") -> the roles that may use it; anything not named is for both
ROLES: dict[str, frozenset[Role]] = {
    "kyc_": _COMPLIANCE,
    "aml_": _COMPLIANCE,
    "account_freeze": _COMPLIANCE,
    "account_unfreeze": _COMPLIANCE,
    "account_role": _ADMIN,
    "ops_": _ADMIN,
}


def _roles_for(endpoint: str) -> frozenset[Role]:
    name = endpoint.removeprefix("console.")
    for prefix, roles in ROLES.items():
        if name.startswith(prefix):
            return roles
    return _STAFF


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    principal = page_login(DASHBOARD)
    if principal is None:
        return redirect(f"/dashboard/login?next={quote(request.full_path.rstrip('?'))}")
    g.principal = principal
    if request.method == "POST":
        check_form_csrf()
    if principal.role not in _STAFF:
        raise Forbidden("the console is for staff")
    if principal.enrolment_only:
        raise EnrolmentRequired("enrol a second factor before using the console")
    if principal.role not in _roles_for(request.endpoint or ""):
        raise Forbidden("this page is for another staff role")
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
        return again(403 if error.http_status == 401 else error.http_status, error.message)


@bp.get("/")
def home() -> Response:
    """Compliance officers start at the KYC queue, admins at system health."""
    return redirect("/console/kyc" if officer().role is Role.COMPLIANCE else "/console/health")


from cryptopay_http.pages.console import accounts, aml, audit, kyc, operations, search  # noqa: E402  the routes
