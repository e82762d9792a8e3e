"""``cryptopay-http``: serve the API on a production WSGI server, or on werkzeug's with ``--dev``.

Production: granian's WSGI interface (chosen over gunicorn by measurement, see ``docs/architecture.md``), each
worker process building its own app (``cryptopay_http.wsgi:build_app``); worker processes and the threads running
the app in each are bounded and come from settings. SIGTERM or SIGINT stops accepting and lets workers finish for
``graceful_seconds`` before they are killed; SIGHUP replaces the workers (reload); a crashed worker is respawned.
granian's own access log is off (URLs may carry callback tokens): the app writes its own, one line per request with
the route's template and never the URL as sent (``edge``, logger ``cryptopay.http.access``); the app's metrics count
requests by route.

``--dev`` runs werkzeug's development server in one process (``cryptopay serve --dev`` also wires the sandbox).

The settings are checked before any worker starts: a missing ``CRYPTOPAY_TOKEN_SECRET``, a missing or malformed
vault KEK or PII lookup key (production) or any invalid setting is one line on stderr and exit 2 (the CLI's code for
invalid input), never a crash loop of workers. Without ``CRYPTOPAY_REDIS_URL`` the API serves from one worker: rate
limits, the key and session caches and logouts live in process memory, so several workers would each count their own
(a login limit of 10 would allow 10 per worker); an explicit ``--workers``/``CRYPTOPAY_WEB_WORKERS`` above 1 without
Redis is refused the same way.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import NoReturn

import attrs
from cryptopay.adapters.bootstrap import Settings, WebSettings
from cryptopay.adapters.bootstrap.web_settings import reachable_url
from cryptopay.core import logs
from cryptopay.core.errors import CryptopayError

__all__ = ["main"]

_log = logging.getLogger("cryptopay.http")


def _granian(target: str, host: str, port: int, server: WebSettings) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        target,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        factory=True,  # each worker calls the factory after it starts: no pool or socket crosses a fork
        workers=server.workers,
        blocking_threads=server.threads,
        backlog=server.backlog,
        backpressure=server.backpressure,
        workers_kill_timeout=server.graceful_seconds,
        respawn_failed_workers=True,
        log_access=False,
    ).serve()


def migrate_embedded_database(settings: Settings) -> None:
    """The embedded SQLite default migrates (and seals) itself on first use: done here once, in the server's own
    process before its workers start, so that two workers never migrate the same fresh file at once (each saw
    "table already exists"). PostgreSQL is left alone: production runs ``cryptopay db upgrade``.

    >>> import tempfile
    >>> from cryptopay.adapters.sql import current, head
    >>> url = f"sqlite:///{tempfile.mkdtemp()}/api.db"
    >>> migrate_embedded_database(attrs.evolve(Settings.from_env(), database_url=url))
    >>> current(url) == head()
    True
    """
    if not settings.database_url.startswith("sqlite"):
        return
    from cryptopay.adapters.bootstrap import build

    services = build(settings)
    try:
        services.uow  # noqa: B018  (building the storage migrates, then seals what an older version left in the clear)
    finally:
        services.close()


def serve_production(host: str, port: int, server: WebSettings, *, target: str) -> None:
    """Run ``target`` (``module:factory``) on granian until SIGTERM/SIGINT (graceful) or SIGHUP (reload)."""
    _log.info("serving on %s:%d (%d workers x %d threads)", host, port, server.workers, server.threads)
    _granian(target, host, port, server)


def _serve_dev(host: str, port: int) -> None:
    """werkzeug's threaded server, one process; a throw-away token secret when none is set; links and Daraja's
    callbacks point at the port served unless ``CRYPTOPAY_PUBLIC_URL`` says otherwise."""
    from werkzeug.serving import run_simple

    from cryptopay_http.wsgi import build_app, dev_services

    os.environ.setdefault("CRYPTOPAY_PUBLIC_URL", reachable_url(host, port))
    run_simple(host, port, build_app(dev_services()), threaded=True, use_reloader=False)


def _refuse(message: str) -> NoReturn:
    print(f"cryptopay serve: {message}", file=sys.stderr)
    raise SystemExit(2)


def checked_settings(workers: int | None, threads: int | None) -> tuple[Settings, WebSettings]:
    """The settings and the server's size, checked before any worker starts (``_refuse`` otherwise)."""
    try:
        settings = Settings.from_env()
        settings.check_keys()  # what each worker's wiring reads first: a bad key is refused here, not crash-looped
    except CryptopayError as error:
        _refuse(error.message)
    for caution in settings.cautions():
        _log.warning("%s", caution)
    if settings.api is None:
        _refuse(
            "CRYPTOPAY_TOKEN_SECRET is not set: export a random string of at least 32 characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(48))'), or try `cryptopay serve --dev`"
        )
    server = attrs.evolve(settings.web, **{k: v for k, v in (("workers", workers), ("threads", threads)) if v})
    if server.workers > 1 and not settings.redis_url:
        if workers or os.environ.get("CRYPTOPAY_WEB_WORKERS", "").strip():
            _refuse(
                f"{server.workers} workers need CRYPTOPAY_REDIS_URL: without Redis each worker keeps its own rate "
                "limits and sessions; set it, or serve with --workers 1"
            )
        server = attrs.evolve(server, workers=1)
    return settings, server


def main(argv: list[str] | None = None) -> None:
    """Parse ``--host/--port/--dev/--workers/--threads`` and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="cryptopay-http", description="Serve the cryptopay REST API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, help="worker processes (default: $CRYPTOPAY_WEB_WORKERS or per CPU)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: $CRYPTOPAY_WEB_THREADS or 8)")
    parser.add_argument("--app", default="cryptopay_http.wsgi:build_production_app", help=argparse.SUPPRESS)
    parser.add_argument("--dev", action="store_true", help="werkzeug's development server (never production)")
    args = parser.parse_args(argv)
    logs.configure(structured=not args.dev)  # production: JSON lines (each worker's app configures its own too)
    if args.dev:
        _serve_dev(args.host, args.port)
        return
    settings, server = checked_settings(args.workers, args.threads)
    migrate_embedded_database(settings)
    serve_production(args.host, args.port, server, target=args.app)


if __name__ == "__main__":  # pragma: no cover
    main()
