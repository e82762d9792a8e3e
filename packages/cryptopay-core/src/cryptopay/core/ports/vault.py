"""Key vault port: envelope encryption of secrets (private keys, API secrets) at rest."""

from __future__ import annotations

from typing import Protocol

__all__ = ["KeyVault"]


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
