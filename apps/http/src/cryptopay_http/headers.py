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
_CREDENTIALS = ("HTTP_AUTHORIZATION", "HTTP_X_API_KEY", "HTTP_COOKIE")  # Authorization, X-Api-Key, Cookie


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


def install_security_headers(app: Flask, *, production: bool) -> None:
    """Add the headers above to every response of ``app``; HSTS only when ``production``.

    One pass over the response's headers per request (a hot path: every API answer), not a search per header.
    """
    defaults = _defaults(production)
    no_store = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        added = [(name, value) for lower, name, value in defaults if lower not in present]
        environ = request.environ  # the WSGI names of the headers: no header object or proxy per look-up
        public = "cache-control" in present and response.cache_control.public  # parsed only when one was set
        if not public and any(name in environ for name in _CREDENTIALS):
            if "cache-control" in present or "pragma" in present:
                headers.remove("Cache-Control")
                headers.remove("Pragma")
            added += no_store
        if "server" in present:
            headers.remove("Server")
        added.append(("Server", ""))
        headers.extend(added)
        return response
