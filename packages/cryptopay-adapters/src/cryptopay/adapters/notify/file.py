"""A development notifier: each message is one JSON line in a private file (mode 0600) to read with ``tail``.

>>> import tempfile, pathlib
>>> from cryptopay.core.ports.notifications import Notification
>>> path = pathlib.Path(tempfile.mkdtemp()) / "notifications.jsonl"
>>> FileNotifier(path).send(Notification("ann@example.co.ke", "Hi", "body"))
>>> [n.subject for n in FileNotifier(path).read()], oct(path.stat().st_mode & 0o777)
(['Hi'], '0o600')
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from cryptopay.core.ports.notifications import Notification

__all__ = ["FileNotifier"]


class FileNotifier:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> None:
        line = json.dumps({"to": notification.to, "subject": notification.subject, "body": notification.body})
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock:
            fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    def read(self) -> list[Notification]:
        """Every message written so far, oldest first."""
        if not self._path.exists():
            return []
        rows = [json.loads(line) for line in self._path.read_text(encoding="utf-8").splitlines() if line]
        return [Notification(row["to"], row["subject"], row["body"]) for row in rows]
