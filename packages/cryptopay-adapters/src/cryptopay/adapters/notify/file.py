"""A development notifier: each message is one JSON line in a private file (mode 0600) to read with ``tail``.

>>> import tempfile, pathlib
>>> from cryptopay.core.ports.notifications import Notification
>>> path = pathlib.Path(tempfile.mkdtemp()) / "notifications.jsonl"
>>> FileNotifier(path).send(Notification("ann@example.co.ke", "Hi", "body"))
>>> [n.subject for n in FileNotifier(path).read()], oct(path.stat().st_mode & 0o777)
(['Hi'], '0o600')
"""

from __future__ import annotations

from pathlib import Path

from cryptopay.adapters._jsonl import PrivateJsonLines
from cryptopay.core.ports.notifications import Notification

__all__ = ["FileNotifier"]


class FileNotifier:
    def __init__(self, path: Path) -> None:
        self._lines = PrivateJsonLines(path)

    def send(self, notification: Notification) -> None:
        self._lines.append({"to": notification.to, "subject": notification.subject, "body": notification.body})

    def read(self) -> list[Notification]:
        """Every message written so far, oldest first."""
        return [Notification(row["to"], row["subject"], row["body"]) for row in self._lines.records()]
