"""``cryptopay-http``: serve the API on a production WSGI server, or on werkzeug's with ``--dev``.

Production: granian's WSGI interface (chosen over gunicorn by measurement, see ``docs/architecture.md``), each
worker process building its own app (``cryptopay_http.wsgi:build_app``); worker processes and the threads running
the app in each are bounded and come from settings. SIGTERM or SIGINT stops accepting and lets workers finish for
``graceful_seconds`` before they are killed; SIGHUP replaces the workers (reload); a crashed worker is respawned.
No access log is written (URLs may carry callback tokens); the app's metrics count requests by route.

``--dev`` runs werkzeug's development server in one process (``cryptopay serve --dev`` also wires the sandbox).
"""

from __future__ import annotations

import argparse
import logging

import attrs
from cryptopay.adapters.bootstrap import Settings, WebSettings
from cryptopay.core import logs

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
    """werkzeug's threaded server, one process; a throw-away token secret when none is set."""
    from werkzeug.serving import run_simple

    from cryptopay_http.wsgi import build_app, dev_services

    run_simple(host, port, build_app(dev_services()), threaded=True, use_reloader=False)


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
    settings = Settings.from_env()
    migrate_embedded_database(settings)
    server = settings.web
    overrides = {k: v for k, v in (("workers", args.workers), ("threads", args.threads)) if v}
    serve_production(args.host, args.port, attrs.evolve(server, **overrides), target=args.app)


if __name__ == "__main__":  # pragma: no cover
    main()
