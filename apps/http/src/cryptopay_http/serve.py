"""``cryptopay-http``: serve the API on a production WSGI server, or on werkzeug's with ``--dev``.

Production: gunicorn with ``gthread`` workers (chosen by measurement, see ``docs/architecture.md``), each worker
building its own app after the fork (``cryptopay_http.wsgi:build_app``); workers and threads are bounded and come
from settings, SIGTERM drains in-flight requests for ``graceful_seconds`` then stops, SIGHUP reloads the workers.
No access log is written (URLs may carry callback tokens); the app's metrics count requests by route.

``--dev`` runs werkzeug's development server in one process (``cryptopay serve --dev`` also wires the sandbox).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import attrs
from cryptopay.adapters.bootstrap import Settings, WebSettings

__all__ = ["main"]

_log = logging.getLogger("cryptopay.http")


def _drop_server_banner(response_class: Any) -> None:
    """gunicorn always writes ``Server: gunicorn``; it has no setting for it, so its header list is filtered."""
    default_headers = response_class.default_headers

    def without_banner(self: Any) -> list[str]:
        return [line for line in default_headers(self) if not line.lower().startswith("server:")]

    response_class.default_headers = without_banner


def _gunicorn(target: str, host: str, port: int, server: WebSettings) -> None:
    import gunicorn.http.wsgi
    from gunicorn.app.base import BaseApplication
    from gunicorn.util import import_app

    _drop_server_banner(gunicorn.http.wsgi.Response)
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": server.workers,
        "threads": server.threads,
        "worker_class": "gthread",
        "timeout": server.timeout_seconds,
        "graceful_timeout": server.graceful_seconds,
        "keepalive": server.keepalive_seconds,
        "backlog": server.backlog,
        "max_requests": server.max_requests,
        "max_requests_jitter": server.max_requests // 10,
        "accesslog": None,
        "errorlog": "-",
        "proc_name": "cryptopay-http",
    }

    class Application(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return import_app(target)  # in each worker, after the fork

    Application().run()


def serve_production(host: str, port: int, server: WebSettings, *, target: str) -> None:
    """Run ``target`` (``module:factory()``) on gunicorn until SIGTERM/SIGINT (graceful) or SIGHUP (reload)."""
    _log.info("serving on %s:%d (%d workers x %d threads)", host, port, server.workers, server.threads)
    _gunicorn(target, host, port, server)


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
    parser.add_argument("--app", default="cryptopay_http.wsgi:build_app()", help=argparse.SUPPRESS)
    parser.add_argument("--dev", action="store_true", help="werkzeug's development server (never production)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.dev:
        _serve_dev(args.host, args.port)
        return
    server = Settings.from_env().web
    overrides = {k: v for k, v in (("workers", args.workers), ("threads", args.threads)) if v}
    serve_production(args.host, args.port, attrs.evolve(server, **overrides), target=args.app)


if __name__ == "__main__":  # pragma: no cover
    main()
