"""A table-backed ``KeyStore``: hot-wallet keys as vault blobs (``LargeBinary``) next to their public parts."""

from __future__ import annotations

from typing import Any

import attrs
import sqlalchemy as sa
from cryptopay.adapters.sql.repositories._base import insert_new, reading, update_one, writing
from cryptopay.adapters.sql.tables_fx_chains import hot_keys
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.ports.vault import StoredKey
from sqlalchemy.engine import Engine

__all__ = ["SqlKeyStore"]

_FIELDS = [field.name for field in attrs.fields(StoredKey)]


class SqlKeyStore:
    """``KeyStore`` on an engine; the private key is only ever stored as the vault blob it was given."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, key: StoredKey) -> None:
        with writing(self._engine) as conn:
            if not insert_new(conn, hot_keys, {name: getattr(key, name) for name in _FIELDS}):
                raise Conflict(f"a key with id {key.key_id!r} already exists")

    def get(self, key_id: str) -> StoredKey:
        with reading(self._engine) as conn:
            row = conn.execute(sa.select(hot_keys).where(hot_keys.c.key_id == key_id)).first()
        if row is None:
            raise NotFound(f"no stored key with id {key_id!r}")
        return _key(row)

    def list(self) -> list[StoredKey]:
        with reading(self._engine) as conn:
            return [
                _key(row)
                for row in conn.execute(sa.select(hot_keys).order_by(hot_keys.c.created_at, hot_keys.c.key_id))
            ]

    def replace_blob(self, key_id: str, blob: bytes) -> None:
        update_one(
            self._engine,
            hot_keys,
            hot_keys.c.key_id == key_id,
            {"blob": blob},
            missing=f"no stored key with id {key_id!r}",
        )

    def __repr__(self) -> str:
        return f"SqlKeyStore({self._engine.url.render_as_string(hide_password=True)!r})"


def _key(row: Any) -> StoredKey:
    values = {name: row._mapping[name] for name in _FIELDS}
    return StoredKey(**(values | {"blob": bytes(values["blob"])}))
