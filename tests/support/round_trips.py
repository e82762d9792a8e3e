"""Round trips to PostgreSQL counted on the wire: a loopback TCP relay in front of the server.

The relay reads the client's side of the protocol (frontend messages: a type byte and a length) and counts the
messages after which a client waits for the server's ``ReadyForQuery``: ``Query`` (a simple query, maybe several
statements) and ``Sync`` (the end of an extended-protocol exchange or of a pipeline's batch), except the two Syncs
psycopg's pipeline mode sends without waiting: the one right after the ``BEGIN`` it opens a transaction with
(to isolate it), and a second Sync with no statement since the first (leaving the pipeline). That is the number of
round trips whatever the client does above the socket (SQLAlchemy, psycopg pipelines, prepared statements), read
from the protocol alone, so it does not depend on timing or the machine's load and can guard a hot path where a
timing could not. Connections must not use TLS (``sslmode=disable``: ``url`` adds it).

>>> relay = RoundTripRelay("127.0.0.1", 9)  # nothing listens on port 9: the relay connects only when used
>>> relay.url("postgresql+psycopg://postgres@127.0.0.1:5432/test").endswith("/test?sslmode=disable")
True
>>> relay.close()
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from urllib.parse import urlsplit, urlunsplit

__all__ = ["RoundTripRelay"]

_NEGOTIATION = {80877103, 80877104}  # SSLRequest, GSSENCRequest: another untyped message follows


class RoundTripRelay:
    """Relays 127.0.0.1:<port> to ``host:port``; ``turns`` counts round trips, ``statements`` the statements'
    first lines in order (``Parse`` and ``Query`` texts, with the ``Sync`` marks); ``reset()`` starts again."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self.turns = 0
        self.statements: list[str] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, database_url: str) -> str:
        """``database_url`` pointed at the relay instead of its server, without TLS."""
        parts = urlsplit(database_url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        query = "&".join(q for q in (parts.query, "sslmode=disable") if q)
        return urlunsplit(parts._replace(netloc=netloc, query=query))

    def reset(self) -> None:
        with self._lock:
            self.turns, self.statements = 0, []

    def close(self) -> None:
        self._closed = True
        self._server.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            threading.Thread(target=self._from_client, args=(client, upstream), daemon=True).start()
            threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()

    def _from_client(self, client: socket.socket, upstream: socket.socket) -> None:
        buffer, typed, batch = b"", False, list[str]()
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                buffer += data
                while True:
                    header = 5 if typed else 4
                    if len(buffer) < header:
                        break
                    size = struct.unpack("!I", buffer[header - 4 : header])[0] + header - 4
                    if len(buffer) < size:
                        break
                    message, buffer = buffer[:size], buffer[size:]
                    if typed:
                        self._note(message, batch)
                    elif struct.unpack("!I", message[4:8])[0] not in _NEGOTIATION:
                        typed = True  # the startup message: typed messages from now on
                upstream.sendall(data)
        with contextlib.suppress(OSError):
            upstream.shutdown(socket.SHUT_WR)

    def _note(self, message: bytes, batch: list[str]) -> None:
        """Count ``message``; ``batch`` holds the statements executed since the connection's last Sync."""
        kind = message[:1]
        with self._lock:
            if kind == b"Q":
                self.turns += 1
                self.statements.append(_first_line(message[5:]))
            elif kind == b"S":
                if batch and batch != ["BEGIN"]:
                    self.turns += 1
                self.statements.append("Sync")
                batch.clear()
            elif kind == b"P":  # Parse: statement name, then the text
                name_end = message.index(b"\0", 5)
                self.statements.append(_first_line(message[name_end + 1 :]))
            elif kind == b"B":  # Bind: portal name, then the statement's name (empty: the last unnamed Parse)
                portal_end = message.index(b"\0", 5)
                name = message[portal_end + 1 : message.index(b"\0", portal_end + 1)].decode()
                parsed = self.statements[-1] if self.statements and not name else f"(prepared {name})"
                if name:
                    self.statements.append(parsed)
                batch.append(parsed)


def _first_line(text: bytes) -> str:
    return text.split(b"\0", 1)[0].decode(errors="replace").strip().split("\n", 1)[0][:80]


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
