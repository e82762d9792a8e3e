"""``cryptopay-http``: serve the API with werkzeug's threaded server, over the composition root's ``Services``."""

from __future__ import annotations

import argparse
import logging
import secrets

import attrs
from cryptopay.adapters.bootstrap import ApiSettings, Services, build
from werkzeug.serving import run_simple

from cryptopay_http.app import create_app

__all__ = ["main"]

_log = logging.getLogger("cryptopay.http")


def _dev_api(services: Services) -> Services:
    """Without ``CRYPTOPAY_TOKEN_SECRET``, ``--dev`` uses a throw-away secret and insecure cookies."""
    if services.settings.api is not None:
        return services
    _log.warning("CRYPTOPAY_TOKEN_SECRET is not set: using a throw-away secret (sessions end on restart)")
    api = ApiSettings(token_secret=secrets.token_urlsafe(48), cookie_secure=False)
    return attrs.evolve(services, settings=attrs.evolve(services.settings, api=api))


def main(argv: list[str] | None = None) -> None:
    """Parse ``--host/--port/--dev`` and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="cryptopay-http", description="Serve the cryptopay REST API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--dev", action="store_true", help="allow a throw-away token secret and insecure cookies")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    services = build()
    app = create_app(_dev_api(services) if args.dev else services)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":  # pragma: no cover
    main()
