"""In-memory key store and a transparent vault, for tests of code that uses the vault ports.

``FakeVault`` does not encrypt: it frames the plaintext with the key id and context so that context binding
and rotation behave as in the real envelope vault. Never use it for real secrets.

>>> vault = FakeVault()
>>> vault.decrypt(vault.encrypt(b"secret", context="a"), context="a")
b'secret'
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode

import attrs
from cryptopay.core.errors import Conflict, InvalidInput, NotFound
from cryptopay.core.ports.vault import StoredKey

__all__ = ["FakeVault", "InMemoryKeyStore"]


class FakeVault:
    """A ``KeyVault`` that checks context and key ids but does not encrypt (tests only)."""

    def __init__(self, key_id: str = "fake-1") -> None:
        self._key_id = key_id

    @property
    def current_key_id(self) -> str:
        return self._key_id

    def rotate_to(self, key_id: str) -> None:
        self._key_id = key_id

    def encrypt(self, plaintext: bytes, *, context: str) -> bytes:
        body = {"kek": self._key_id, "ctx": context, "data": b64encode(plaintext).decode()}
        return json.dumps(body).encode()

    def decrypt(self, blob: bytes, *, context: str) -> bytes:
        try:
            body = json.loads(blob)
        except ValueError:
            raise InvalidInput("vault blob is malformed") from None
        if body.get("ctx") != context:
            raise InvalidInput("vault blob does not belong to this record")
        return b64decode(body["data"])

    def rewrap(self, blob: bytes, *, context: str) -> bytes:
        return self.encrypt(self.decrypt(blob, context=context), context=context)


class InMemoryKeyStore:
    """``KeyStore`` in a dict, in insertion order."""

    def __init__(self) -> None:
        self._keys: dict[str, StoredKey] = {}

    def add(self, key: StoredKey) -> None:
        if key.key_id in self._keys:
            raise Conflict(f"a key with id {key.key_id!r} already exists")
        self._keys[key.key_id] = key

    def get(self, key_id: str) -> StoredKey:
        try:
            return self._keys[key_id]
        except KeyError:
            raise NotFound(f"no stored key with id {key_id!r}") from None

    def list(self) -> list[StoredKey]:
        return list(self._keys.values())

    def replace_blob(self, key_id: str, blob: bytes) -> None:
        self._keys[key_id] = attrs.evolve(self.get(key_id), blob=blob)
