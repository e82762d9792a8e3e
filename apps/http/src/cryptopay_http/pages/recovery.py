"""The password-reset page ``/reset-password``, where the emailed link lands (``/reset-password#token=...``).

The token travels in the link's fragment, which a browser never sends to a server (nor in a ``Referer``), so no
proxy logs it. ``app.js`` copies it into the form's token field and hides that field; without JavaScript the field
stays, and the person pastes the part of the link after ``token=``. The form posts the token and the new password
(twice) with its CSRF token to the use case ``POST /v1/auth/password-reset/confirm`` runs (``PasswordResets.reset``):
the password changes and every session of the account ends.

The email-proof pages (``identity.email_proof``) work the same way: ``/verify-email#token=...`` proves the email
of the account logged in to the dashboard on this browser with the token and its password typed again;
``/verify-email/release#token=...`` ("this wasn't me") releases the address with the token alone, no login (from a
wallet signed up by its phone it is only removed: the wallet stays its owner's).
"""

from __future__ import annotations

from cryptopay.core.errors import CryptopayError, InvalidInput
from cryptopay.core.identity import Role, Unauthenticated
from flask import Response, request

from cryptopay_http.auth import limit_account, limit_by_client
from cryptopay_http.pages.i18n import language
from cryptopay_http.pages.refusals import refusal
from cryptopay_http.pages.session import DASHBOARD, check_form_csrf, page_login
from cryptopay_http.pages.web import page, page_blueprint
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

bp = page_blueprint("recovery", __name__, template_folder="templates")
_TEMPLATE = "recovery/reset_password.html"
_VERIFY = "recovery/verify_email.html"
_RELEASE = "recovery/release_email.html"
_MAX_TOKEN = 2000


def _form_token() -> str:
    """The form's pasted one-time token, trimmed and cut to ``_MAX_TOKEN`` characters."""
    return request.form.get("token", "").strip()[:_MAX_TOKEN]


@bp.get("/reset-password")
def reset_form() -> Response:
    return page(_TEMPLATE)


@bp.post("/reset-password")
@limit_by_client
def reset_password() -> Response:
    check_form_csrf()
    token = _form_token()
    password, again = request.form.get("password", ""), request.form.get("password_again", "")
    try:
        if not token:
            raise InvalidInput("paste the code from your email's link: the part after token=", field="token")
        if password != again:
            raise InvalidInput("the two passwords differ: type the same new password twice", field="password")
        user = runtime().resets.reset(token, password)
    except (InvalidInput, Unauthenticated) as error:
        return page(_TEMPLATE, error.http_status, **refusal(error, language()), token=token)
    login = "/app/login" if user.role is Role.PERSONAL else "/dashboard/login"
    return page(_TEMPLATE, done=True, login=login)


@bp.get("/verify-email")
def verify_form() -> Response:
    return page(_VERIFY, logged_in=page_login(DASHBOARD) is not None)


@bp.post("/verify-email")
@limit_by_client
def verify_email() -> Response:
    check_form_csrf()
    principal = page_login(DASHBOARD)
    token = _form_token()
    if principal is None:
        return page(_VERIFY, 401, logged_in=False, token=token)
    try:
        limit_account(principal.id)
        runtime().proofs.verify(principal.id, token, request.form.get("password", ""))
    except CryptopayError as error:
        if error.http_status >= 500:
            raise
        return page(_VERIFY, error.http_status, logged_in=True, **refusal(error, language()), token=token)
    return page(_VERIFY, done=True, logged_in=True)


@bp.get("/verify-email/release")
def release_form() -> Response:
    return page(_RELEASE)


@bp.post("/verify-email/release")
@limit_by_client
def release_email() -> Response:
    check_form_csrf()
    token = _form_token()
    try:
        disabled = runtime().proofs.release(token)
    except CryptopayError as error:
        if error.http_status >= 500:
            raise
        return page(_RELEASE, error.http_status, **refusal(error, language()), token=token)
    return page(_RELEASE, done=True, kept=not disabled)  # a wallet keeps its owner: only the address is removed
