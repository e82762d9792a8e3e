"""A development SMS sender: each message is one JSON line in a private file (mode 0600) to read with ``tail``.

>>> import tempfile, pathlib
>>> from cryptopay.core.ports.sms import SmsMessage
>>> path = pathlib.Path(tempfile.mkdtemp()) / "sms.jsonl"
>>> FileSms(path).send(SmsMessage.to_phone("0712345678", "hi")).startswith("file-")
True
>>> [(m.to, m.text) for m in FileSms(path).read()], oct(path.stat().st_mode & 0o777)
([('254712345678', 'hi')], '0o600')
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path

from cryptopay.core.ports.sms import SmsMessage

__all__ = ["FileSms"]


class FileSms:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def send(self, message: SmsMessage) -> str:
        message_id = f"file-{uuid.uuid4().hex}"
        line = json.dumps({"id": message_id, "to": message.to, "text": message.text})
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock:
            fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        return message_id

    def read(self) -> list[SmsMessage]:
        """Every message written so far, oldest first."""
        if not self._path.exists():
            return []
        rows = [json.loads(line) for line in self._path.read_text(encoding="utf-8").splitlines() if line]
        return [SmsMessage(row["to"], row["text"]) for row in rows]
