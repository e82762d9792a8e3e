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
"""

from __future__ import annotations

from flask import Flask, Response, request

__all__ = ["CSP", "HSTS", "PAGE_CSP", "install_security_headers"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'"
)
PAGE_CSP = CSP.replace("style-src 'self' 'unsafe-inline'", "style-src 'self'")
HSTS = "max-age=63072000; includeSubDomains"
_CREDENTIALS = ("Authorization", "X-Api-Key", "Cookie")


def install_security_headers(app: Flask, *, production: bool) -> None:
    """Add the headers above to every response of ``app``; HSTS only when ``production``."""

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        if any(name in request.headers for name in _CREDENTIALS) and not response.cache_control.public:
            headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if production:
            headers.setdefault("Strict-Transport-Security", HSTS)
        headers["Server"] = ""
        return response
