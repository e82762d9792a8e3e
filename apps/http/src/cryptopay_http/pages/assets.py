"""Static assets of the pages: fingerprinted names from the build's manifest, served with year-long caching.

``scripts/build_web_assets.py`` (``make setup``) copies htmx and Pico CSS from ``node_modules`` and our own files
into ``static/`` as ``name.<content hash>.ext`` with a gzip twin. A fingerprinted file never changes, so it is
``public, max-age=31536000, immutable``; the gzip twin is sent to browsers that accept it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from cryptopay.core.errors import Unavailable
from flask import Blueprint, Response, abort, request, send_file

__all__ = ["STATIC_DIR", "asset_url", "bp", "manifest"]

STATIC_DIR = Path(__file__).parent / "static"
YEAR = 31_536_000

bp = Blueprint("assets", __name__)


@functools.cache
def manifest() -> dict[str, str]:
    """The build's manifest: logical asset name -> fingerprinted file name."""
    try:
        found: dict[str, str] = json.loads((STATIC_DIR / "manifest.json").read_text())
    except FileNotFoundError:
        raise Unavailable("the web assets are not built: run make setup (scripts/build_web_assets.py)") from None
    return found


def asset_url(name: str) -> str:
    """The URL of an asset by its logical name (``htmx.min.js``), fingerprinted."""
    return f"/static/{manifest()[name]}"


@bp.get("/static/<name>")
def static_file(name: str) -> Response:
    if name not in set(manifest().values()):
        abort(404)
    path = STATIC_DIR / name
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "") and path.with_name(f"{name}.gz").exists()
    response = send_file(path.with_name(f"{name}.gz") if gzipped else path, mimetype=_mimetype(name), etag=True)
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.cache_control.public = True
    response.cache_control.max_age = YEAR
    response.cache_control.immutable = True
    return response


def _mimetype(name: str) -> str:
    suffix = name.rpartition(".")[2]
    return {
        "js": "text/javascript",
        "css": "text/css",
        "svg": "image/svg+xml",
        "png": "image/png",
        "webmanifest": "application/manifest+json",
    }.get(suffix, "application/octet-stream")
