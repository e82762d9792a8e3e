"""Web sessions: the refresh token in an httpOnly cookie, guarded by a signed double-submit CSRF token.

The CSRF token is a nonce plus an HMAC of the login family and that nonce, sent both as a readable cookie and,
by the page's script, as the ``X-CSRF-Token`` header. A cookie-authenticated state-changing request must carry a
header equal to the cookie whose HMAC matches the family of the presented refresh token, so neither a cross-site
form nor a cookie planted by a sibling subdomain passes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptopay.core.identity import Forbidden, TokenPair, new_secret
from flask import Response, request

from cryptopay_http.runtime import runtime

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "REFRESH_COOKIE",
    "check_csrf_token",
    "clear_session_cookies",
    "cookie_refresh_token",
    "csrf_token",
    "set_session_cookies",
]

REFRESH_COOKIE = "cp_refresh"
CSRF_COOKIE = "cp_csrf"
CSRF_HEADER = "X-CSRF-Token"
_COOKIE_PATH = "/v1/auth"


def _mac(family_id: str, nonce: str) -> str:
    key = hashlib.sha256(b"cryptopay-csrf:" + runtime().settings.token_secret.encode()).digest()
    digest = hmac.new(key, f"{family_id}.{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def csrf_token(family_id: str) -> str:
    """A fresh CSRF token bound to a login family (or another binding, such as a page's anonymous cookie)."""
    nonce = new_secret(16)
    return f"{nonce}.{_mac(family_id, nonce)}"


def check_csrf_token(binding: str, token: str) -> bool:
    """Whether ``token`` is a CSRF token made by ``csrf_token(binding)`` (the web pages' forms use this)."""
    nonce, _, mac = token.partition(".")
    return bool(nonce and mac) and hmac.compare_digest(mac.encode(), _mac(binding, nonce).encode())


def set_session_cookies(response: Response, pair: TokenPair) -> None:
    """Put the refresh token (httpOnly, only sent to /v1/auth) and its CSRF token in cookies."""
    _set_cookie(response, REFRESH_COOKIE, pair.refresh_token, httponly=True, path=_COOKIE_PATH)
    _set_cookie(response, CSRF_COOKIE, csrf_token(pair.family_id), httponly=False, path="/")


def _set_cookie(response: Response, name: str, value: str, *, httponly: bool, path: str) -> None:
    settings = runtime().settings
    response.set_cookie(
        name,
        value,
        httponly=httponly,
        path=path,
        secure=settings.cookie_secure,
        samesite="Strict",
        max_age=settings.refresh_ttl_seconds,
    )


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(REFRESH_COOKIE, path=_COOKIE_PATH)
    response.delete_cookie(CSRF_COOKIE, path="/")


def cookie_refresh_token() -> str | None:
    """The refresh token from the session cookie after the CSRF check, or None when no cookie was sent."""
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        return None
    header, cookie = request.headers.get(CSRF_HEADER, ""), request.cookies.get(CSRF_COOKIE, "")
    nonce, _, mac = header.partition(".")
    family = runtime().accounts.family_of(token)
    genuine = family is None or hmac.compare_digest(mac.encode(), _mac(family, nonce).encode())
    if not header or not hmac.compare_digest(header.encode(), cookie.encode()) or not genuine:
        raise Forbidden(f"cookie sessions need the {CSRF_HEADER} header matching the {CSRF_COOKIE} cookie")
    return token
