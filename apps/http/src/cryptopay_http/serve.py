"""``cryptopay-http``: serve the API with werkzeug's threaded server.

Services come from the composition root ``cryptopay.adapters.bootstrap`` when it is installed (its
``build_http_services(settings)`` or ``build_services()``), else from in-memory stores (development only).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import secrets
from typing import Any

from werkzeug.serving import run_simple

from cryptopay_http.app import create_app
from cryptopay_http.settings import Settings

__all__ = ["main"]

_log = logging.getLogger("cryptopay.http")


def _services(settings: Settings) -> Any:
    try:
        bootstrap = importlib.import_module("cryptopay.adapters.bootstrap")
    except ModuleNotFoundError:
        return None
    for name in ("build_http_services", "build_services"):
        factory = getattr(bootstrap, name, None)
        if factory is not None:
            return factory(settings) if name == "build_http_services" else factory()
    return None


def main(argv: list[str] | None = None) -> None:
    """Parse ``--host/--port/--dev`` and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="cryptopay-http", description="Serve the cryptopay REST API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--dev", action="store_true", help="allow a throw-away token secret and insecure cookies")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env()
    except ValueError:
        if not args.dev:
            raise
        _log.warning("CRYPTOPAY_TOKEN_SECRET is not set: using a throw-away secret (sessions end on restart)")
        settings = Settings(token_secret=secrets.token_urlsafe(48), cookie_secure=False)
    app = create_app(settings, _services(settings))
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":  # pragma: no cover
    main()
