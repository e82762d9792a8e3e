"""People's sessions on the pages: a signed cookie naming a login of the identity core, and CSRF tokens on forms.

A page login is an ordinary login (``Accounts.login``: password, second factor, audit). Each face of the product
has its own session (a ``Realm``): the dashboard and the console share ``cp_session`` (path ``/``: merchants and
staff), the customer portal has ``cp_app`` (path ``/app``). So a merchant who also has a personal wallet is logged
into both at once, logging into one never replaces the other, and a portal page never sees a merchant's login (which
it would refuse with a 403). A session cookie (httpOnly, ``SameSite=Lax``, ``Secure`` unless developing on http)
carries the user, the login family, the account's session version and an expiry, under an HMAC keyed from the token
secret and the realm's name (a dashboard cookie copied into the portal's is refused). Every request checks it
against the core's ``SessionStates``: a logout, a family revoked for token reuse, a password reset or a role change
ends the page session at once, exactly as it ends the API's access tokens. The login's refresh token stays in a
second httpOnly cookie sent only to the realm's logout page (``/dashboard/logout``, ``/app/logout``), which revokes
the family with it.

Every form carries a CSRF token (``csrf.csrf_token``) bound to the login family of the realm's session (so a token
of one session is refused by the other), or before login to a random ``cp_anon`` cookie; a POST without a matching
token is refused (403) before anything is read or written. API keys are never accepted on pages: only these cookies
are read.

>>> DASHBOARD.cookie, PORTAL.cookie, PORTAL.path
('cp_session', 'cp_app', '/app')
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

import attrs
from cryptopay.core.identity import Forbidden, Principal, PrincipalKind, TokenPair, new_secret
from flask import Response, g, request

from cryptopay_http.auth import limit_account, passed_account_check, with_team
from cryptopay_http.csrf import check_csrf_token, csrf_token
from cryptopay_http.runtime import runtime

__all__ = [
    "ANON_COOKIE",
    "DASHBOARD",
    "PORTAL",
    "PageLogin",
    "Realm",
    "check_form_csrf",
    "end_page_session",
    "form_csrf_token",
    "page_login",
    "start_page_session",
    "step_up_from_form",
]

ANON_COOKIE, ANON_PATH = "cp_anon", "/"


@attrs.frozen
class Realm:
    """One face's session: its cookie (sent to ``path``) and the logout page its refresh-token cookie goes to."""

    cookie: str
    path: str
    logout_path: str

    @property
    def logout_cookie(self) -> str:
        return f"{self.cookie}_rt"


DASHBOARD = Realm("cp_session", "/", "/dashboard/logout")  # the dashboard and the console share one login
PORTAL = Realm("cp_app", "/app", "/app/logout")
LIFETIME = timedelta(hours=12)  # a page login ends this long after it started (the core's login may last longer)


@attrs.frozen
class PageLogin:
    """The login behind a page session."""

    user_id: str
    family_id: str
    session_version: int
    expires: int  # unix seconds

    def encode(self, realm: Realm) -> str:
        body = f"{self.user_id}.{self.family_id}.{self.session_version}.{self.expires}"
        return f"{body}.{_mac(realm, body)}"

    @classmethod
    def decode(cls, realm: Realm, value: str) -> PageLogin | None:
        body, _, mac = value.rpartition(".")
        parts = body.split(".")
        if len(parts) != 4 or not hmac.compare_digest(mac.encode(), _mac(realm, body).encode()):
            return None
        user_id, family_id, version, expires = parts
        if not (version.isdigit() and expires.isdigit()):
            return None
        return cls(user_id, family_id, int(version), int(expires))


def _mac(realm: Realm, body: str) -> str:
    label = b"cryptopay-page-session:" if realm == DASHBOARD else f"cryptopay-page-session:{realm.cookie}:".encode()
    key = hashlib.sha256(label + runtime().settings.token_secret.encode()).digest()
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _now() -> int:
    return int(runtime().services.clock.now().timestamp())


def page_login(realm: Realm) -> Principal | None:
    """The user logged in to ``realm`` on this browser, if its cookie is genuine, unexpired and its login active."""
    value = request.cookies.get(realm.cookie)
    login = PageLogin.decode(realm, value) if value else None
    if login is None or login.expires <= _now():
        return None
    state = runtime().accounts.sessions.get(login.user_id, login.family_id)
    if state is None or not state.login_active or state.session_version != login.session_version:
        return None
    principal = Principal(
        kind=PrincipalKind.USER,
        id=login.user_id,
        role=state.role,
        session_id=login.family_id,
        enrolment_only=state.role.needs_two_factor and not state.two_factor,
    )
    return with_team(principal)  # a team member acts for its merchant within its role, as over the API


def start_page_session(response: Response, pair: TokenPair, realm: Realm) -> None:
    """Set ``realm``'s session cookies for a fresh login (the refresh token goes only to its logout page); the
    other realm's session is left as it is."""
    expires = _now() + int(LIFETIME.total_seconds())
    login = PageLogin(pair.user.id, pair.family_id, pair.user.session_version, expires)
    _cookie(response, realm.cookie, login.encode(realm), realm.path)
    _cookie(response, realm.logout_cookie, pair.refresh_token, realm.logout_path)
    response.delete_cookie(ANON_COOKIE, path=ANON_PATH)


def end_page_session(response: Response, realm: Realm) -> None:
    """Revoke ``realm``'s login (when its refresh token came with the request) and clear its cookies."""
    token = request.cookies.get(realm.logout_cookie)
    if token:
        runtime().accounts.logout(token)
    response.delete_cookie(realm.cookie, path=realm.path)
    response.delete_cookie(realm.logout_cookie, path=realm.logout_path)


def _cookie(response: Response, name: str, value: str, path: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(LIFETIME.total_seconds()),
        path=path,
        secure=runtime().settings.cookie_secure,
        httponly=True,
        samesite="Lax",
    )


def _binding() -> str:
    principal: Principal | None = g.get("principal")
    if principal is not None and principal.session_id:
        return principal.session_id
    anon = g.get("anon") or request.cookies.get(ANON_COOKIE)
    if not anon:
        g.anon = anon = new_secret(16)
    return f"anon:{anon}"


def form_csrf_token() -> str:
    """The CSRF token for the forms of this page (bound to the login, or to the anonymous cookie before it)."""
    return csrf_token(_binding())


def keep_anon_cookie(response: Response) -> None:
    """Set the anonymous cookie a login form's token was bound to, when this request made one."""
    anon: str | None = g.get("anon")
    if anon:
        response.set_cookie(
            ANON_COOKIE, anon, path=ANON_PATH, secure=runtime().settings.cookie_secure, httponly=True, samesite="Lax"
        )


def check_form_csrf() -> None:
    """``Forbidden`` unless the posted form's ``csrf_token`` was made for this browser's login (or anonymous cookie)."""
    token = request.form.get("csrf_token", "")
    anon = request.cookies.get(ANON_COOKIE)
    principal: Principal | None = g.get("principal")
    binding = principal.session_id if principal is not None and principal.session_id else f"anon:{anon}"
    if not token or (binding == "anon:None") or not check_csrf_token(binding, token):
        raise Forbidden("the form has expired or came from another site: reload the page and try again")


def step_up_from_form(principal: Principal) -> None:
    """Check the fresh password or one-time code posted with a form (``password``, ``code``) before an action that
    redirects money, hands out a secret or freezes an account: the API's step-up (``X-Step-Up-Token``) on a page.
    Rate-limited per account like a login (a check that passes does not count); ``Unauthenticated`` when neither
    is right.
    """
    password, code = request.form.get("password") or None, request.form.get("code") or None
    limit_account(principal.id)
    token = runtime().accounts.step_up(principal, password=password, code=code)
    passed_account_check(principal.id)
    runtime().accounts.check_step_up(principal, token)
