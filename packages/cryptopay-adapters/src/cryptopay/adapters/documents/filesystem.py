"""``DocumentStore`` on a private directory: one file per key (0600 in 0700 directories), written atomically.

Keys are the core's document ids (``kyd_...``); anything else is refused, so a key can never name a path outside
the directory. The store holds vault blobs only: it never sees a document in the clear.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from cryptopay.adapters._paths import private_dir
from cryptopay.core.errors import InvalidInput, NotFound

__all__ = ["FileDocumentStore", "check_key"]

_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def check_key(key: str) -> str:
    """``key`` if it is a document id (1 to 128 letters, digits, '_' or '-'), else ``InvalidInput``: never a path."""
    if not _KEY.match(key):
        raise InvalidInput("a document key is 1 to 128 letters, digits, '_' or '-'")
    return key


class FileDocumentStore:
    """Blobs under ``root/<first two characters of the key's tail>/<key>``."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def put(self, key: str, blob: bytes) -> None:
        path = self._path(key)
        private_dir(path.parent)
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(blob)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, path)  # a reader sees the old blob or the new one, never half of one
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no document {key}") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def stored(self) -> Iterator[tuple[str, datetime]]:
        """Every blob file (partial writes excluded) with its modification time."""
        if not self._root.is_dir():
            return
        for path in sorted(self._root.glob("*/*")):
            if _KEY.match(path.name) and path.is_file():
                yield path.name, datetime.fromtimestamp(path.stat().st_mtime, UTC)

    def _path(self, key: str) -> Path:
        return self._root / check_key(key)[-2:] / key
