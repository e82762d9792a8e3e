"""Run a WSGI app (Flask) on a loopback port in a background thread, with a clean shutdown.

Shared by every local simulator (Daraja, FX, TronGrid, Esplora) and by test fixtures::

    server = serve_in_thread(app)       # port 0: a free port chosen by the OS
    httpx.get(server.url + "/healthz")
    server.stop()
"""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

__all__ = ["RunningServer", "serve_in_thread"]


class _QuietHandler(WSGIRequestHandler):
    """No access log: tests and callbacks would drown the output."""

    def log_request(self, *_: Any, **__: Any) -> None:
        pass


class RunningServer:
    """A server running in a daemon thread; ``url`` has no trailing slash. Also a context manager."""

    def __init__(self, server: BaseWSGIServer, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread
        self.host, self.port = str(server.host), int(server.port)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting requests, close the socket and wait for the serving thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> RunningServer:
    """Serve ``app`` (threaded, so slow handlers don't block others) and return once it accepts connections.

    werkzeug's threaded server runs each request in a daemon thread, so a hung handler never blocks exit.
    """
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler if quiet else None)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=f"sandbox-{server.port}", daemon=True)
    thread.start()
    return RunningServer(server, thread)
