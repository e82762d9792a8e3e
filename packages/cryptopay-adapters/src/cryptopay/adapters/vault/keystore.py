"""A file-backed ``KeyStore``: one JSON file per hot-wallet key under ``<data dir>/keys/``, readable only by us.

The private key is only ever stored as a vault blob; the file also holds the public parts in the clear.
"""

from __future__ import annotations

import base64
import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
from cryptopay.adapters._paths import data_dir, private_dir
from cryptopay.core.errors import Conflict, InvalidInput, NotFound
from cryptopay.core.ports.vault import StoredKey

__all__ = ["FileKeyStore"]

_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_FORMAT = 1


def _to_json(key: StoredKey) -> dict[str, Any]:
    return {
        "format": _FORMAT,
        "key_id": key.key_id,
        "network": key.network,
        "label": key.label,
        "address": key.address,
        "public_key": key.public_key,
        "created_at": key.created_at.isoformat(),
        "blob": base64.b64encode(key.blob).decode(),
    }


def _from_json(data: dict[str, Any]) -> StoredKey:
    return StoredKey(
        key_id=data["key_id"],
        network=data["network"],
        label=data["label"],
        address=data["address"],
        public_key=data["public_key"],
        blob=base64.b64decode(data["blob"]),
        created_at=datetime.fromisoformat(data["created_at"]),
    )


class FileKeyStore:
    """Stores each key as ``<directory>/<key_id>.json`` (mode 0600), written atomically."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self._dir = Path(directory) if directory is not None else data_dir() / "keys"

    @property
    def directory(self) -> Path:
        return self._dir

    def _path(self, key_id: str) -> Path:
        if not _KEY_ID.match(key_id):
            raise InvalidInput("a key id is 1-64 characters of letters, digits, '_', '.', '-'")
        return self._dir / f"{key_id}.json"

    def _write(self, path: Path, key: StoredKey, *, exclusive: bool) -> None:
        private_dir(self._dir)
        temp = path.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(_to_json(key), handle, indent=2)
        if exclusive:
            try:
                os.link(temp, path)  # fails if the id is taken, even under a concurrent create
            except FileExistsError:
                raise Conflict(f"a key with id {key.key_id!r} already exists") from None
            finally:
                temp.unlink()
        else:
            os.replace(temp, path)

    def add(self, key: StoredKey) -> None:
        self._write(self._path(key.key_id), key, exclusive=True)

    def get(self, key_id: str) -> StoredKey:
        path = self._path(key_id)
        if not path.exists():
            raise NotFound(f"no stored key with id {key_id!r}")
        return _from_json(json.loads(path.read_text()))

    def list(self) -> list[StoredKey]:
        if not self._dir.exists():
            return []
        keys = [_from_json(json.loads(p.read_text())) for p in self._dir.glob("*.json")]
        return sorted(keys, key=lambda k: (k.created_at, k.key_id))

    def replace_blob(self, key_id: str, blob: bytes) -> None:
        current = self.get(key_id)
        self._write(self._path(key_id), attrs.evolve(current, blob=blob), exclusive=False)

    def __repr__(self) -> str:
        return f"FileKeyStore({str(self._dir)!r})"
