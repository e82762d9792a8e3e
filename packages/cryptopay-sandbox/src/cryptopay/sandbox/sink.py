"""A callback receiver for tests and demos: records every JSON POST by path and answers like a merchant would.

with CallbackSink.start() as sink:
    url = sink.url_for("/callbacks/stk/token123")
    ...                                  # give ``url`` to M-Pesa (the sandbox)
    [payload] = sink.wait("/callbacks/stk/token123")
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
from cryptopay.core.errors import Unavailable
from cryptopay.core.mobile_money import load_json
from cryptopay.sandbox._server import RunningServer, serve_in_thread
from flask import Flask, Response, request

__all__ = ["CallbackSink", "Received"]


@attrs.frozen
class Received:
    path: str
    payload: Any
    remote_addr: str | None


class CallbackSink:
    """Records callbacks; ``reply`` (optional) chooses the JSON answer for a path, e.g. a C2B validation."""

    def __init__(self, reply: Callable[[str, Any], dict[str, Any]] | None = None) -> None:
        self.received: list[Received] = []
        self.reply = reply
        self._changed = threading.Condition()
        self.app = self._make_app()
        self._server: RunningServer | None = None

    @classmethod
    def start(cls, reply: Callable[[str, Any], dict[str, Any]] | None = None) -> CallbackSink:
        sink = cls(reply)
        sink._server = serve_in_thread(sink.app)
        return sink

    @property
    def url(self) -> str:
        if self._server is None:
            raise Unavailable("the callback sink is not running")
        return self._server.url

    def url_for(self, path: str) -> str:
        return self.url + "/" + path.lstrip("/")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> CallbackSink:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def at(self, path_prefix: str) -> list[Any]:
        """Payloads received so far on paths starting with ``path_prefix`` (a path or a full URL)."""
        prefix = self._path(path_prefix)
        with self._changed:
            return [item.payload for item in self.received if item.path.startswith(prefix)]

    def wait(self, path_prefix: str, count: int = 1, timeout: float = 5.0) -> list[Any]:
        """Block until ``count`` payloads arrived on ``path_prefix``; ``Unavailable`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := self.at(path_prefix)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Unavailable(f"{len(found)} of {count} callbacks on {path_prefix} after {timeout}s")
                self._changed.wait(remaining)
            return found

    def _path(self, path_or_url: str) -> str:
        if path_or_url.startswith("http") and self._server is not None:
            return path_or_url.removeprefix(self._server.url) or "/"
        return path_or_url

    def _make_app(self) -> Flask:
        app = Flask("cryptopay-callback-sink")

        @app.post("/<path:path>")
        def receive(path: str) -> Response:
            payload = load_json(request.get_data() or b"null")
            with self._changed:
                self.received.append(Received("/" + path, payload, request.remote_addr))
                self._changed.notify_all()
            answer = self.reply("/" + path, payload) if self.reply else {"ResultCode": 0, "ResultDesc": "Accepted"}
            return Response(json.dumps(answer), mimetype="application/json")

        return app
