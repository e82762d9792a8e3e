"""``/dashboard/settings``: a dashboard or console login's own account (R9-7): change the password (the current one;
every login of the account ends, as the portal's change and ``POST /v1/auth/password``), sign out everywhere
(``POST /v1/auth/logout-everywhere``) and turn two-step sign-in on or off (the core's ``TwoFactor``, as
``/v1/auth/2fa/*``). On the dashboard's blueprint and session, open to every login of it: merchants and their team,
and staff, even a new staff login whose second factor is not enrolled yet (the console sends it here).
"""

from __future__ import annotations

from cryptopay.core.errors import CryptopayError, NotFound
from cryptopay.core.identity import Unauthenticated
from flask import Response, g, request

from cryptopay_http.pages.account_pages import AccountPages
from cryptopay_http.pages.dashboard import bp
from cryptopay_http.pages.i18n import language
from cryptopay_http.pages.refusals import refusal
from cryptopay_http.pages.session import DASHBOARD, end_page_session
from cryptopay_http.pages.web import page, redirect
from cryptopay_http.runtime import runtime

__all__ = ["account_settings"]  # every view here is in the dashboard guard's ``_ANY_LOGIN``

_NO_STORE = {"Cache-Control": "no-store"}


def _user_id() -> str:
    found: str = g.principal.id
    return found


def _settings_page(status: int = 200, **context: object) -> Response:
    user = runtime().services.users.get(_user_id())
    if user is None:
        raise NotFound("no such account")
    staff = user.role.needs_two_factor
    response = page(
        "dashboard/settings.html", status, nav="settings", two_factor=user.two_factor, staff=staff, **context
    )
    if "secret" in context or "recovery_codes" in context:
        response.headers.update(_NO_STORE)
    return response


def _password_refusal(error: CryptopayError) -> dict[str, str | None]:
    """``refusal`` marking the page's input: the core names the new password ``password`` (its rules, "the same as
    the current one") and no field for a wrong current one (LASTREAD2 M-4)."""
    shown = refusal(error, language())
    if shown["error_field"] == "password":
        shown["error_field"] = "new_password"
    elif isinstance(error, Unauthenticated):
        shown["error_field"] = "current_password"
    return shown


@bp.get("/settings")
def account_settings() -> Response:
    return _settings_page(done=request.args.get("done"))


_PAGES = AccountPages(
    realm=DASHBOARD,
    base="/dashboard",
    page=_settings_page,
    refused=lambda error: refusal(error, language()),
    password_refused=_password_refusal,
    takes_back=True,
)


@bp.post("/settings/password")
def account_password() -> Response:
    return _PAGES.change_password()


@bp.post("/settings/sign-out-everywhere")
def account_sign_out_everywhere() -> Response:
    runtime().accounts.sign_out_everywhere(_user_id())
    response = redirect("/dashboard/login?signed_out=1", 303)
    end_page_session(response, DASHBOARD)
    return response


@bp.post("/settings/2fa/enrol")
def account_enrol_two_factor() -> Response:
    return _PAGES.enrol_two_factor()


@bp.post("/settings/2fa/confirm")
def account_confirm_two_factor() -> Response:
    return _PAGES.confirm_two_factor()


@bp.post("/settings/2fa/remove")
def account_remove_two_factor() -> Response:
    return _PAGES.remove_two_factor()
