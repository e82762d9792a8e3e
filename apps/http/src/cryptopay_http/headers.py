"""Security headers on every response (#12.7): no caching of authenticated answers, a CSP, frame protection.

- ``Cache-Control: no-store`` on every answer to a request that presented a credential (a proxy or browser cache
  must never keep a tenant's data), whatever the view asked for.
- ``Content-Security-Policy`` on every answer, HTML or JSON: only our own origin, no plugins, no framing; inline
  styles are allowed (the docs page has one), inline scripts are not. The web pages (``cryptopay_http.pages``) send
  ``PAGE_CSP``: the same without inline styles.
- A view that marks its answer ``public`` (the fingerprinted static assets, the same bytes for everyone) keeps its
  caching even when the browser sent a cookie (the language switch's).
- ``X-Frame-Options: DENY`` for browsers without ``frame-ancestors``; ``Referrer-Policy: no-referrer``;
  ``X-Content-Type-Options: nosniff``; ``Strict-Transport-Security`` in production (TLS ends at the proxy in front).
- No ``Server`` banner: the app sends an empty ``Server`` header, which granian and werkzeug then keep instead of
  naming themselves and their version (neither has a setting to send none).

They are added by ``cryptopay_http.edge`` to the header list the app hands the server (``SecurityHeaders``):
one pass over a plain list per response, outside Flask's ``Headers`` (a hot path: every API answer).
"""

from __future__ import annotations

from collections.abc import Mapping

from werkzeug.datastructures import ResponseCacheControl
from werkzeug.http import parse_cache_control_header

__all__ = ["CSP", "HSTS", "PAGE_CSP", "SecurityHeaders"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'"
)
PAGE_CSP = CSP.replace("style-src 'self' 'unsafe-inline'", "style-src 'self'")
HSTS = "max-age=63072000; includeSubDomains"
_CREDENTIALS = ("HTTP_AUTHORIZATION", "HTTP_X_API_KEY", "HTTP_COOKIE")  # Authorization, X-Api-Key, Cookie
_NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))
_REPLACED = frozenset({"cache-control", "pragma"})


def _defaults(production: bool) -> tuple[tuple[str, str, str], ...]:
    """(lower-cased name, name, value) of each header a view keeps if it set its own."""
    found = [
        ("Content-Security-Policy", CSP),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    if production:
        found.append(("Strict-Transport-Security", HSTS))
    return tuple((name.lower(), name, value) for name, value in found)


def _public(cache_control: str) -> bool:
    return bool(parse_cache_control_header(cache_control, cls=ResponseCacheControl).public)


class SecurityHeaders:
    """Adds the headers above to a response's WSGI header list, in place; HSTS only when ``production``.

    >>> headers = [("Content-Type", "application/json"), ("Server", "werkzeug")]
    >>> SecurityHeaders(production=False)(headers, {"HTTP_AUTHORIZATION": "Bearer x"})
    >>> dict(headers)["Cache-Control"], dict(headers)["Server"], dict(headers)["X-Frame-Options"]
    ('no-store', '', 'DENY')
    """

    def __init__(self, *, production: bool) -> None:
        self._defaults = _defaults(production)

    def __call__(self, headers: list[tuple[str, str]], environ: Mapping[str, object]) -> None:
        present: dict[str, str] = {}
        for name, value in headers:
            present.setdefault(name.lower(), value)
        cache_control = present.get("cache-control")  # a view's own, kept only when it is public
        no_store = any(name in environ for name in _CREDENTIALS)
        no_store = no_store and (cache_control is None or not _public(cache_control))
        dropped = {"server"} & present.keys()
        if no_store:
            dropped |= _REPLACED & present.keys()
        if dropped:
            headers[:] = [(name, value) for name, value in headers if name.lower() not in dropped]
        if no_store:
            headers.extend(_NO_STORE)
        headers.extend((name, value) for lower, name, value in self._defaults if lower not in present)
        headers.append(("Server", ""))
