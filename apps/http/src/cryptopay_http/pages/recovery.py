"""The password-reset page ``/reset-password``, where the emailed link lands (``/reset-password#token=...``).

The token travels in the link's fragment, which a browser never sends to a server (nor in a ``Referer``), so no
proxy logs it. ``app.js`` copies it into the form's token field and hides that field; without JavaScript the field
stays, and the person pastes the part of the link after ``token=``. The form posts the token and the new password
(twice) with its CSRF token to the use case ``POST /v1/auth/password-reset/confirm`` runs (``PasswordResets.reset``):
the password changes and every session of the account ends.
"""

from __future__ import annotations

from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity import Role, Unauthenticated
from flask import Response, request

from cryptopay_http.auth import limit_by_client
from cryptopay_http.pages.session import check_form_csrf
from cryptopay_http.pages.web import page, page_blueprint
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

bp = page_blueprint("recovery", __name__, template_folder="templates")
_TEMPLATE = "recovery/reset_password.html"
_MAX_TOKEN = 2000


@bp.get("/reset-password")
def reset_form() -> Response:
    return page(_TEMPLATE)


@bp.post("/reset-password")
@limit_by_client
def reset_password() -> Response:
    check_form_csrf()
    token = request.form.get("token", "").strip()[:_MAX_TOKEN]
    password, again = request.form.get("password", ""), request.form.get("password_again", "")
    try:
        if not token:
            raise InvalidInput("paste the code from your email's link: the part after token=", field="token")
        if password != again:
            raise InvalidInput("the two passwords differ: type the same new password twice", field="password")
        user = runtime().resets.reset(token, password)
    except (InvalidInput, Unauthenticated) as error:
        return page(_TEMPLATE, error.http_status, error=error.message, token=token)
    login = "/app/login" if user.role is Role.PERSONAL else "/dashboard/login"
    return page(_TEMPLATE, done=True, login=login)
