"""Key vault adapter: envelope encryption (AES-256-GCM) under rotating key-encryption keys, and a file key store."""

from cryptopay.adapters.vault.envelope import (
    EnvelopeVault,
    KeyEncryptionKey,
    VaultBlobRejected,
    blob_key_id,
    generate_kek,
    parse_keks,
)
from cryptopay.adapters.vault.keystore import FileKeyStore

__all__ = [
    "EnvelopeVault",
    "FileKeyStore",
    "KeyEncryptionKey",
    "VaultBlobRejected",
    "blob_key_id",
    "generate_kek",
    "parse_keks",
]
