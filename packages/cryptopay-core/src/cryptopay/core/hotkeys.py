"""Hot-wallet keys: stored encrypted by the key vault, rotated by re-wrapping, unlocked only to sign.

Both changes are audited (``hot_key.created``, ``hot_keys.rotated``) by the operator who made them: a new key that
refunds and withdrawals can sign with, and a re-wrap of every key, are security events (reviewer10 R10-3).

>>> from cryptopay.core.testing.storage import InMemoryAuditLog
>>> from cryptopay.core.testing.system import ManualClock
>>> from cryptopay.core.testing.vault import FakeVault, InMemoryKeyStore
>>> vault, store, audit, clock = FakeVault(), InMemoryKeyStore(), InMemoryAuditLog(), ManualClock()
>>> key = store_hot_key(vault, store, clock, key_id="tron-hot-1", network="tron", label="payouts",
...     private_key=PrivateKey(b"\\x01" * 32), address="TAddr", public_key="04ab", audit=audit, actor="ops:amina")
>>> VaultKeyProvider(vault, store).private_key_for("TAddr").reveal() == b"\\x01" * 32
True
>>> rotate_hot_keys(vault, store, audit=audit, clock=clock, actor="ops:amina")
1
>>> [(r.actor, r.action, r.subject) for r in audit.records()]
[('ops:amina', 'hot_key.created', 'hot_key:tron-hot-1'), ('ops:amina', 'hot_keys.rotated', 'hot_keys')]
"""

from __future__ import annotations

from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.ports.chains import KeyProvider, PrivateKey
from cryptopay.core.ports.identity import AuditTrail
from cryptopay.core.ports.system import Clock
from cryptopay.core.ports.vault import KeyStore, KeyVault, StoredKey

__all__ = ["EitherKeys", "VaultKeyProvider", "rotate_hot_keys", "store_hot_key", "unlock_hot_key"]


def store_hot_key(
    vault: KeyVault,
    store: KeyStore,
    clock: Clock,
    *,
    key_id: str,
    network: str,
    label: str,
    private_key: PrivateKey,
    address: str,
    public_key: str,
    audit: AuditTrail,
    actor: str,
) -> StoredKey:
    """Encrypt a new private key under the current key-encryption key and store it with its public parts; audited
    ``hot_key.created`` by ``actor`` (its network, label, address and key-encryption key; never the key)."""
    if not key_id.strip():
        raise InvalidInput("a key id is required")
    draft = StoredKey(key_id, network, label, address, public_key, b"", clock.now())
    blob = vault.encrypt(private_key.reveal(), context=draft.vault_context)
    stored = StoredKey(key_id, network, label, address, public_key, blob, draft.created_at)
    store.add(stored)
    details = {"network": network, "label": label, "address": address, "kek_id": vault.current_key_id}
    audit.append(AuditEvent(actor, "hot_key.created", f"hot_key:{key_id}", stored.created_at, details))
    return stored


def unlock_hot_key(vault: KeyVault, key: StoredKey) -> PrivateKey:
    """Decrypt a stored key for one signing operation."""
    return PrivateKey(vault.decrypt(key.blob, context=key.vault_context))


def rotate_hot_keys(vault: KeyVault, store: KeyStore, *, audit: AuditTrail, clock: Clock, actor: str) -> int:
    """Re-wrap every stored blob under the vault's current key-encryption key; return how many were re-wrapped.

    Audited ``hot_keys.rotated`` by ``actor`` with the count and the key-encryption key now wrapping them."""
    keys = store.list()
    for key in keys:
        store.replace_blob(key.key_id, vault.rewrap(key.blob, context=key.vault_context))
    details = {"rewrapped": str(len(keys)), "kek_id": vault.current_key_id}
    audit.append(AuditEvent(actor, "hot_keys.rotated", "hot_keys", clock.now(), details))
    return len(keys)


def _same_address(stored: str, wanted: str) -> bool:
    # Only hex (EVM) addresses are case-insensitive; base58 (Tron, Bitcoin legacy) is case-sensitive.
    if stored.lower().startswith("0x"):
        return stored.lower() == wanted.lower()
    return stored == wanted


class VaultKeyProvider:
    """``KeyProvider`` over the key store: finds the key by address and decrypts it on demand."""

    def __init__(self, vault: KeyVault, store: KeyStore) -> None:
        self._vault = vault
        self._store = store

    def private_key_for(self, address: str) -> PrivateKey:
        for key in self._store.list():
            if _same_address(key.address, address):
                return unlock_hot_key(self._vault, key)
        raise NotFound(f"no hot-wallet key is stored for {address}")

    def __repr__(self) -> str:
        return "VaultKeyProvider()"


class EitherKeys:
    """``KeyProvider`` over several: the first that holds the address's key (a sweep signs with a deposit
    address's key and tops it up from the hot wallet's). Put the cheap ones first: an HD keyring derives up to its
    last index before it says it does not hold a key."""

    def __init__(self, *providers: KeyProvider) -> None:
        self._providers = providers

    def private_key_for(self, address: str) -> PrivateKey:
        for provider in self._providers:
            try:
                return provider.private_key_for(address)
            except NotFound:
                continue
        raise NotFound(f"no key is held for {address}")

    def __repr__(self) -> str:
        return "EitherKeys(<redacted>)"
