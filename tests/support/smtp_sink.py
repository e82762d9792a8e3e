"""A minimal SMTP server for tests: it speaks enough RFC 5321 for ``smtplib`` and keeps each message it receives.

It stands in for a mail relay (which cannot be reached from here) so the SMTP notifier is tested over a real
socket with the real ``smtplib`` client.
"""

from __future__ import annotations

import email
import socketserver
import threading
from email.message import Message


class _Handler(socketserver.StreamRequestHandler):
    server: SmtpSink

    def handle(self) -> None:
        self._say("220 sink ESMTP")
        while line := self.rfile.readline():
            verb = line.decode().strip().upper()
            if verb.startswith(("EHLO", "HELO")):
                self._say("250 sink")
            elif verb.startswith(("MAIL", "RCPT", "RSET", "NOOP")):
                self._say("250 ok")
            elif verb == "DATA":
                self._say("354 go ahead")
                self._data()
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("502 not implemented")

    def _data(self) -> None:
        lines: list[bytes] = []
        while (line := self.rfile.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        self.server.received.append(email.message_from_bytes(b"".join(lines)))
        self._say("250 queued")

    def _say(self, text: str) -> None:
        self.wfile.write(f"{text}\r\n".encode())


class SmtpSink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[Message] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
