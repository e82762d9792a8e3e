"""Key vault adapter: envelope encryption (AES-256-GCM) under rotating key-encryption keys, and a file key store."""

from cryptopay.adapters.vault.envelope import EnvelopeVault, KeyEncryptionKey, VaultBlobRejected, generate_kek
from cryptopay.adapters.vault.keystore import FileKeyStore

__all__ = ["EnvelopeVault", "FileKeyStore", "KeyEncryptionKey", "VaultBlobRejected", "generate_kek"]
