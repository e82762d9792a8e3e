"""Key vault port: envelope encryption of secrets (private keys, API secrets) at rest, and the hot-key store."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import attrs

__all__ = ["KeyStore", "KeyVault", "StoredKey"]


class KeyVault(Protocol):
    """Encrypts with a fresh data key under the current key-encryption key; ``context`` is bound as associated data.

    The blob names the key-encryption key id, so old blobs stay readable after a rotation.
    """

    def encrypt(self, plaintext: bytes, *, context: str) -> bytes: ...

    def decrypt(self, blob: bytes, *, context: str) -> bytes: ...

    def rewrap(self, blob: bytes, *, context: str) -> bytes:
        """Re-encrypt a blob's data key under the current key-encryption key (key rotation)."""
        ...

    @property
    def current_key_id(self) -> str: ...


@attrs.frozen
class StoredKey:
    """A hot-wallet key at rest: its public parts in the clear, the private key only as a vault blob.

    The blob's vault context is ``vault_context``, so a blob copied onto another record does not decrypt.
    """

    key_id: str
    network: str
    label: str
    address: str
    public_key: str
    blob: bytes = attrs.field(repr=False)
    created_at: datetime

    @property
    def vault_context(self) -> str:
        return f"hot-key:{self.network}:{self.key_id}:{self.address}"


class KeyStore(Protocol):
    """Durable storage of hot-wallet keys (encrypted blobs plus public parts)."""

    def add(self, key: StoredKey) -> None:
        """Store a new key; raises Conflict if the id is taken."""
        ...

    def get(self, key_id: str) -> StoredKey:
        """The key with this id; raises NotFound."""
        ...

    def list(self) -> list[StoredKey]:
        """Every stored key, oldest first."""
        ...

    def replace_blob(self, key_id: str, blob: bytes) -> None:
        """Swap a key's blob for a re-wrapped one (same plaintext, same context)."""
        ...
