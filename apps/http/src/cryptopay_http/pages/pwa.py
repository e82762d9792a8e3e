"""The installable shell (a PWA): the web app manifest, a service worker and an offline page.

The service worker (``assets/sw.js``) caches only the shell: the fingerprinted styles, scripts and icons and the
offline page, all the same for everyone. Pages and API answers are never cached, so no balance, invoice or payment
stays on a phone; a page that cannot load shows the offline page instead. It is served from ``/sw.js`` (its scope
is the whole site) with ``no-cache``, its cache named after the assets' fingerprints, so a new build replaces it.

>>> sorted(MANIFEST)[:3]
['background_color', 'description', 'display']
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flask import Response

from cryptopay_http.pages.assets import asset_url, manifest
from cryptopay_http.pages.web import page, page_blueprint

__all__ = ["MANIFEST", "bp"]

bp = page_blueprint("pwa", __name__)
_WORKER = Path(__file__).parent / "assets" / "sw.js"
_SHELL = ("site.css", "htmx.min.js", "app.js", "icon.svg", "icon-192.png", "icon-512.png")
MANIFEST = {
    "name": "cryptopay",
    "short_name": "cryptopay",
    "description": "Pay and get paid in crypto, settled in Kenya shillings over M-Pesa.",
    "start_url": "/app/",  # the customer portal: what people install on their phones
    "scope": "/",
    "display": "standalone",
    "background_color": "#ffffff",
    "theme_color": "#0b5d4b",
    "lang": "en",
}


@bp.get("/manifest.webmanifest")
def web_manifest() -> Response:
    icons = [
        {"src": asset_url("icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
        {"src": asset_url("icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any maskable"},
        {"src": asset_url("icon.svg"), "sizes": "any", "type": "image/svg+xml"},
    ]
    body = json.dumps({**MANIFEST, "icons": icons})
    return Response(body, mimetype="application/manifest+json", headers={"Cache-Control": "no-cache"})


@bp.get("/sw.js")
def service_worker() -> Response:
    shell = [asset_url(name) for name in _SHELL] + ["/offline"]
    version = hashlib.sha256(json.dumps(sorted(manifest().items())).encode()).hexdigest()[:12]
    source = _WORKER.read_text().replace("__SHELL__", json.dumps(shell)).replace("__VERSION__", version)
    headers = {"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"}
    return Response(source, mimetype="text/javascript", headers=headers)


@bp.get("/offline")
def offline() -> Response:
    return page("offline.html")
