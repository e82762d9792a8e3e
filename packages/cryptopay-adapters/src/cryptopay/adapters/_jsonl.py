"""A private JSON-lines file the development adapters (the file notifier, the file SMS sender) write to: one JSON
object a line, appended under a lock, the file mode 0600 whatever the umask, to read with ``tail``.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "dev" / "out.jsonl"
>>> lines = PrivateJsonLines(path)
>>> lines.append({"to": "ann", "text": "hi"})
>>> lines.records(), oct(path.stat().st_mode & 0o777)
([{'to': 'ann', 'text': 'hi'}], '0o600')
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["PrivateJsonLines"]


class PrivateJsonLines:
    """Appends JSON objects to ``path`` (its directory created 0700 when missing) and reads them back."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` as one line at the end of the file (created 0600, and made 0600 if it was not)."""
        line = json.dumps(record)
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock:
            fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    def records(self) -> list[dict[str, Any]]:
        """Every record written so far, oldest first; none when the file does not exist yet."""
        if not self._path.exists():
            return []
        return [json.loads(line) for line in self._path.read_text(encoding="utf-8").splitlines() if line]
