"""Worker test fixtures: a local HTTP receiver standing in for a merchant's webhook endpoint."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs
import pytest
from cryptopay_worker import reset_services


@attrs.define
class Receiver:
    """What the receiver got, and what it answers (``status``)."""

    url: str
    status: int = 204
    hits: list[tuple[dict[str, str], bytes]] = attrs.Factory(list)
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def ids(self) -> list[str]:
        with self.lock:
            return [headers.get("webhook-id", headers.get("idempotency-key", "")) for headers, _ in self.hits]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP server on a free loopback port that records every POST and answers ``receiver.status``."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with state.lock:
                state.hits.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _fresh_worker_services() -> Iterator[None]:
    """Each test wires the worker's services itself; none leak into the next test."""
    reset_services()
    yield
    reset_services()
