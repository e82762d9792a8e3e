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

import uuid
from pathlib import Path

from cryptopay.adapters._jsonl import PrivateJsonLines
from cryptopay.core.ports.sms import SmsMessage

__all__ = ["FileSms"]


class FileSms:
    def __init__(self, path: Path) -> None:
        self._lines = PrivateJsonLines(path)

    def send(self, message: SmsMessage) -> str:
        message_id = f"file-{uuid.uuid4().hex}"
        self._lines.append({"id": message_id, "to": message.to, "text": message.text})
        return message_id

    def read(self) -> list[SmsMessage]:
        """Every message written so far, oldest first."""
        return [SmsMessage(row["to"], row["text"]) for row in self._lines.records()]
