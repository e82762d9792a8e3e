"""Identity: register, log in (with a second factor when enrolled), refresh (rotating), log out, step up, who am I.

Logins and step-ups are throttled per client address and per account (``limit_account``; only failures count
there: a check that passes is taken back, a whole login clears the account's count). Web pages log in
with ``"cookie": true``: the refresh token then travels only in an httpOnly cookie, and
refresh/logout by cookie need the ``X-CSRF-Token`` header (see ``cryptopay_http.csrf``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity import Forbidden, PrincipalKind, RateLimited, Role, TokenPair, Unauthenticated, User
from cryptopay.core.identity.model import StepUpRequired, TwoFactorRequired
from cryptopay.core.identity.service import EMAIL_PATTERN, EMAIL_RULE, MAX_PASSWORD, MIN_PASSWORD
from cryptopay.core.identity.weak_passwords import WeakPassword
from cryptopay.core.text import TextKind
from flask import Blueprint, Response

from cryptopay_http.auth import (
    current_principal,
    limit_account,
    limit_by_client,
    limit_login,
    passed_account_check,
    rate_limits,
    require,
)
from cryptopay_http.convert import json_response, limits, read_body
from cryptopay_http.csrf import clear_session_cookies, cookie_refresh_token, set_session_cookies
from cryptopay_http.openapi import object_schema, operation, register_schema
from cryptopay_http.runtime import runtime

__all__ = ["UserView", "bp"]

bp = Blueprint("identity", __name__)


# The core's email rule (ASCII, a registrable domain name: review H11), the same in the document and in the check.
EMAIL_FIELD_PATTERN = EMAIL_PATTERN
EMAIL_HINT = EMAIL_RULE
_EMAIL = EMAIL_FIELD_PATTERN


SELF_REGISTERED = (Role.PERSONAL.value, Role.MERCHANT.value)  # the roles an account may sign itself up as


@attrs.frozen
class RegisterRequest:
    email: str = attrs.field(metadata=limits(max_length=254, pattern=_EMAIL, hint=EMAIL_HINT))
    password: str = attrs.field(
        repr=False, metadata=limits(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD, text=TextKind.SECRET)
    )
    # Text, not ``Role``: one rule (the roles one may register as) and one message, which never lists the internal
    # roles (admins and compliance officers are appointed by an operator).
    role: str = attrs.field(
        default=Role.PERSONAL.value, metadata=limits("personal or merchant", choices=lambda: SELF_REGISTERED)
    )
    display_name: str | None = attrs.field(default=None, metadata=limits(text=TextKind.NAME))


@attrs.frozen
class LoginRequest:
    email: str
    password: str = attrs.field(repr=False, metadata=limits(text=TextKind.SECRET))
    cookie: bool = attrs.field(default=False, metadata={"description": "web session: refresh token in a cookie"})
    code: str | None = attrs.field(
        default=None, repr=False, metadata={"description": "a TOTP or recovery code, when 2FA is on"}
    )


@attrs.frozen
class StepUpRequest:
    password: str | None = attrs.field(default=None, repr=False, metadata=limits(text=TextKind.SECRET))
    code: str | None = attrs.field(default=None, repr=False, metadata={"description": "a TOTP or recovery code"})


def _step_up_schema(components: dict[str, Any]) -> dict[str, Any]:
    """The fields, one of which must be sent (the view refuses a body with neither)."""
    either = [{"required": [n], "properties": {n: {"type": "string", "minLength": 1}}} for n in ("password", "code")]
    return {**object_schema(StepUpRequest, components), "anyOf": either}


register_schema(StepUpRequest, _step_up_schema)


@attrs.frozen
class StepUpView:
    """Send ``step_up_token`` as the ``X-Step-Up-Token`` header of sensitive operations until it expires."""

    step_up_token: str = attrs.field(repr=False)
    expires_in: int


@attrs.frozen
class PasswordChangeRequest:
    current_password: str = attrs.field(repr=False, metadata=limits(text=TextKind.SECRET))
    new_password: str = attrs.field(
        repr=False, metadata=limits(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD, text=TextKind.SECRET)
    )


@attrs.frozen
class RefreshRequest:
    refresh_token: str | None = attrs.field(
        default=None, repr=False, metadata={"description": "omit to use the cookie"}
    )


@attrs.frozen
class UserView:
    """A user account as shown to its owner and to admins."""

    id: str
    email: str | None
    role: Role
    created_at: datetime
    display_name: str | None = None
    phone: str | None = attrs.field(default=None, metadata={"description": "a personal wallet's verified phone"})
    email_verified: bool = attrs.field(
        default=False,
        metadata={"description": "the email was proven (the emailed link, or a password reset); null email: false"},
    )

    @classmethod
    def of(cls, user: User) -> UserView:
        proven = user.email is not None and user.email_verified_at is not None
        return cls(user.id, user.email, user.role, user.created_at, user.display_name, user.phone, proven)


@attrs.frozen
class SessionView:
    """Tokens for a logged-in user; ``refresh_token`` is null for cookie sessions."""

    access_token: str
    expires_in: int
    refresh_token: str | None
    user: UserView
    token_type: str = "Bearer"
    enrolment_required: bool = attrs.field(
        default=False, metadata={"description": "staff: enrol a second factor before anything else"}
    )


@attrs.frozen
class MeView:
    """The authenticated caller: a user or an API key, its role, tenant and scopes."""

    kind: PrincipalKind
    id: str
    role: Role
    merchant_id: str | None
    scopes: frozenset[str]
    user: UserView | None = None


def _session(pair: TokenPair, *, cookie: bool, status: int = 200) -> Response:
    refresh = None if cookie else pair.refresh_token
    body = SessionView(
        pair.access_token, pair.expires_in, refresh, UserView.of(pair.user), enrolment_required=pair.enrolment_only
    )
    response = json_response(body, status, headers={"Cache-Control": "no-store"})
    if cookie:
        set_session_cookies(response, pair)
    return response


@attrs.frozen
class RegisteredView:
    """The same answer whether or not the email already had an account: what happened is in the email."""

    email: str
    detail: str = "check your email: it says whether your account was created or the address already has one"


@bp.post("/v1/auth/register")
@operation(
    "Create a personal or merchant account",
    description=(
        "Creates a personal or merchant login from an email and a password. "
        + "The same 202 for a new and an already registered email (so the answer tells nobody who is a customer): "
        "a new address gets its account (log in at once) and a welcome email; a registered one gets no new "
        "account and an email saying someone tried (at most 3 such emails an hour per address, then the same 202 "
        "without one). " + rate_limits(per_client=True, per_account=False)
    ),
    request=RegisterRequest,
    example={"email": "duka@example.co.ke", "password": "a long passphrase", "role": "merchant"},
    response=RegisteredView,
    status=202,
    tags=("auth",),
    problems=((WeakPassword, "the password is too short, contains the email or is trivially guessable"),),
)
@limit_by_client
def register() -> Response:
    body = read_body(RegisterRequest)
    role, name = Role(body.role), body.display_name
    runtime().registrations.register(body.email, body.password, role=role, display_name=name)
    return json_response(RegisteredView(body.email.strip().lower()), 202)


@bp.post("/v1/auth/login")
@operation(
    "Log in with email and password",
    description=(
        "Exchanges an email and password (and, for an account with two-factor authentication, a one-time "
        "code in `code`) for an access token and a refresh token; with `cookie: true` the refresh token "
        "is set as an HttpOnly cookie instead (web sessions, which then send X-CSRF-Token). Staff logins "
        "must have a second factor. "
    )
    + rate_limits(per_client=True, per_account=True),
    request=LoginRequest,
    example={"email": "duka@example.co.ke", "password": "a long passphrase"},
    response=SessionView,
    tags=("auth",),
    errors=(401,),
    problems=(
        (Unauthenticated, "the email or password is wrong (the same answer for an unknown email)"),
        (TwoFactorRequired, ("the account uses two-factor authentication and the code is missing, wrong or used")),
        (RateLimited, "too many failed attempts for this account, whatever the address (Retry-After says when)"),
    ),
)
@limit_by_client
def login() -> Response:
    body = read_body(LoginRequest)
    limit_login(body.email)
    pair = runtime().accounts.login(body.email, body.password, code=body.code)
    passed_account_check(pair.user.id, login=True)
    return _session(pair, cookie=body.cookie)


@bp.post("/v1/auth/step-up")
@operation(
    "Step up: re-authenticate for sensitive operations",
    description=(
        "Re-authenticates the current login with its password (or, with two-factor authentication, a "
        "one-time code) and returns a short-lived step-up token to send as `X-Step-Up-Token` on the "
        "operations that redirect money or credentials. Bound to this login; `expires_in` says for how "
        "many seconds. A failure is audited. "
    )
    + rate_limits(per_client=False, per_account=True),
    request=StepUpRequest,
    example={"password": "a long passphrase"},
    response=StepUpView,
    tags=("auth",),
    errors=(403, 429),
    problems=(
        (
            StepUpRequired,
            ("the password or code is wrong, or the account has two-factor authentication and no code was sent"),
        ),
        (InvalidInput, "neither a password nor a code was sent"),
        (Forbidden, "an API key cannot step up"),
        (RateLimited, "too many failed attempts for this account (Retry-After says when)"),
    ),
)
@require(enrolment=True)
def step_up() -> Response:
    body = read_body(StepUpRequest)
    principal = current_principal()
    limit_account(principal.id)
    token = runtime().accounts.step_up(principal, password=body.password, code=body.code)
    passed_account_check(principal.id)
    view = StepUpView(token, runtime().settings.step_up_ttl_seconds)
    return json_response(view, headers={"Cache-Control": "no-store"})


def _refresh_token(body: RefreshRequest) -> tuple[str, bool]:
    if body.refresh_token:
        return body.refresh_token, False
    token = cookie_refresh_token()
    if token is None:
        raise Unauthenticated("send the refresh token in the body or the session cookie")
    return token, True


@bp.post("/v1/auth/refresh")
@operation(
    "Exchange a refresh token for new tokens (it rotates)",
    description=(
        "Exchanges a refresh token (in the body, or the session cookie for web sessions) for a new access "
        "token and a new refresh token; the old one stops working. Presenting a used refresh token again "
        "signs the login out everywhere (a stolen token is detected). "
    )
    + rate_limits(per_client=True, per_account=False),
    request=RefreshRequest,
    response=SessionView,
    tags=("auth",),
    errors=(401, 403),
    problems=(
        (
            Unauthenticated,
            (
                "no refresh token, or it is invalid, expired, already used (the login is then "
                "signed out everywhere), or its account is gone"
            ),
        ),
    ),
    access=(
        "the refresh token itself (in the body, or the `cp_refresh` cookie with the X-CSRF-Token header); "
        "no access token."
    ),
)
@limit_by_client
def refresh() -> Response:
    token, by_cookie = _refresh_token(read_body(RefreshRequest, optional=True))
    return _session(runtime().accounts.refresh(token), cookie=by_cookie)


@bp.post("/v1/auth/logout")
@operation(
    "Log out: revoke the login's refresh tokens",
    request=RefreshRequest,
    status=204,
    tags=("auth",),
    errors=(401, 403),
    description=(
        "Revokes the login's refresh tokens (from the body or the session cookie) and clears the session "
        "cookies. The login's access tokens already issued are refused at once (401): every request checks "
        "that its login is still active, so a client need not revoke them itself."
    ),
    problems=((Unauthenticated, "no refresh token, or it is invalid"),),
    access=(
        "the refresh token itself (in the body, or the `cp_refresh` cookie with the X-CSRF-Token header); "
        "no access token."
    ),
)
@limit_by_client
def logout() -> Response:
    token, _ = _refresh_token(read_body(RefreshRequest, optional=True))
    runtime().accounts.logout(token)
    response = Response(status=204)
    clear_session_cookies(response)
    return response


@bp.post("/v1/auth/password")
@operation(
    "Change the password (every login of the account ends)",
    description=(
        "Replaces the login's password after checking the current one. Every login of the account then ends, "
        "this one included: its refresh tokens are revoked and its access tokens refused at once (log in again "
        "with the new password). The new password meets the same rules as at registration. A wrong current "
        "password and a change are audited (`auth.password_change_failed`, `auth.password_changed`, "
        "`auth.sessions_ended`). "
    )
    + rate_limits(per_client=False, per_account=True),
    request=PasswordChangeRequest,
    example={"current_password": "a long passphrase", "new_password": "another long passphrase"},
    status=204,
    tags=("auth",),
    errors=(401, 403, 429),
    problems=(
        (Unauthenticated, "the current password is wrong"),
        (WeakPassword, "the new password is too short, contains the email or is trivially guessable"),
        (InvalidInput, "the new password is the current one"),
        (Forbidden, "an API key cannot change a password"),
        (RateLimited, "too many failed attempts for this account (Retry-After says when)"),
    ),
)
@require(enrolment=True)  # as /dashboard/settings: a staff login not yet enrolled may change it too (LASTREAD2 M-4)
def change_password() -> Response:
    body = read_body(PasswordChangeRequest)
    principal = current_principal()
    if principal.kind is not PrincipalKind.USER:
        raise Forbidden("only a logged-in user can change its password")
    limit_account(principal.id)
    runtime().accounts.change_password(principal.id, body.current_password, body.new_password)
    passed_account_check(principal.id)
    response = Response(status=204)
    clear_session_cookies(response)
    return response


@bp.post("/v1/auth/logout-everywhere")
@operation(
    "Sign out everywhere: end every login of the account",
    status=204,
    tags=("auth",),
    errors=(401, 403),
    description=(
        "Ends every login of the caller's account at once, this one included (a lost phone, a refresh token "
        "that may have leaked): every refresh token is revoked and every access token refused (401) on its "
        "next request. API keys are not touched (revoke them with DELETE /v1/merchants/{id}/api-keys/{key}). "
        "Audited (`auth.sessions_ended`)."
    ),
    problems=((Forbidden, "an API key cannot sign a user out"),),
)
@require(enrolment=True)
def logout_everywhere() -> Response:
    principal = current_principal()
    if principal.kind is not PrincipalKind.USER:
        raise Forbidden("only a logged-in user can sign out everywhere")
    runtime().accounts.sign_out_everywhere(principal.id)
    response = Response(status=204)
    clear_session_cookies(response)
    return response


@bp.get("/v1/me")
@operation(
    "Who am I: the authenticated user or API key",
    response=MeView,
    tags=("auth",),
    description=(
        "Who the credential is: a user (its id, role, the merchant it acts for and its profile) or an API "
        "key (its id, merchant and scopes). Useful to check a key's scopes."
    ),
    problems=((Unauthenticated, "the user's account no longer exists"),),
)
@require(api_keys=True, enrolment=True)
def me() -> Response:
    principal = current_principal()
    user = runtime().services.users.get(principal.id) if principal.kind is PrincipalKind.USER else None
    if principal.kind is PrincipalKind.USER and user is None:
        raise Unauthenticated("the account no longer exists")
    view = MeView(
        principal.kind,
        principal.id,
        principal.role,
        principal.merchant_id,
        principal.scopes,
        UserView.of(user) if user is not None else None,
    )
    return json_response(view)
