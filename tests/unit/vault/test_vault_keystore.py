"""Hot-wallet keys at rest: stored as vault blobs in files, rotated by re-wrapping, unlocked by address."""

from __future__ import annotations

import stat

import pytest
from cryptopay.adapters.vault import EnvelopeVault, FileKeyStore, generate_kek
from cryptopay.core.errors import Conflict, InvalidInput, NotFound
from cryptopay.core.hotkeys import VaultKeyProvider, rotate_hot_keys, store_hot_key, unlock_hot_key
from cryptopay.core.ports.chains import PrivateKey
from cryptopay.core.testing.storage import InMemoryAuditLog
from cryptopay.core.testing.system import ManualClock
from cryptopay.core.testing.vault import InMemoryKeyStore

SECRET = bytes(range(1, 33))
K1, K2 = generate_kek(), generate_kek()


def _store_one(vault, store, key_id="tron-hot-1", address="TAddressOne"):
    return store_hot_key(
        vault,
        store,
        ManualClock(),
        key_id=key_id,
        network="tron",
        label="payouts",
        private_key=PrivateKey(SECRET),
        address=address,
        public_key="04abcd",
        audit=InMemoryAuditLog(),
        actor="ops:test",
    )


@pytest.fixture(params=["file", "memory"])
def store(request, tmp_path):
    return FileKeyStore(tmp_path / "keys") if request.param == "file" else InMemoryKeyStore()


def test_keystore_keeps_only_the_encrypted_private_key(store, tmp_path):
    """The stored record holds the public parts in the clear and the private key only as a blob."""
    vault = EnvelopeVault.from_spec(f"k1:{K1}")
    _store_one(vault, store)
    stored = store.get("tron-hot-1")
    assert stored.address == "TAddressOne" and SECRET not in stored.blob
    assert unlock_hot_key(vault, stored).reveal() == SECRET
    assert "blob" not in repr(stored)
    for path in tmp_path.rglob("*.json"):
        assert SECRET.hex() not in path.read_text()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_keystore_refuses_a_duplicate_id_and_reports_missing_keys(store):
    """Adding an existing id is a conflict; an unknown id is not found."""
    vault = EnvelopeVault.from_spec(f"k1:{K1}")
    _store_one(vault, store)
    with pytest.raises(Conflict):
        _store_one(vault, store)
    with pytest.raises(NotFound):
        store.get("nope")


def test_keystore_rotation_rewraps_every_blob_and_old_key_can_be_retired(store):
    """rotate_hot_keys re-wraps all blobs under the current KEK so the old KEK can be dropped."""
    _store_one(EnvelopeVault.from_spec(f"k1:{K1}"), store)
    _store_one(EnvelopeVault.from_spec(f"k1:{K1}"), store, key_id="tron-hot-2", address="TAddressTwo")
    both = EnvelopeVault.from_spec(f"k2:{K2},k1:{K1}")
    assert rotate_hot_keys(both, store, audit=InMemoryAuditLog(), clock=ManualClock(), actor="ops:test") == 2
    only_new = EnvelopeVault.from_spec(f"k2:{K2}")
    assert {only_new.key_id_of(k.blob) for k in store.list()} == {"k2"}
    assert VaultKeyProvider(only_new, store).private_key_for("TAddressTwo").reveal() == SECRET


def test_keystore_blob_copied_to_another_record_does_not_decrypt(store):
    """A blob pasted onto another key's record fails: the context names the record."""
    vault = EnvelopeVault.from_spec(f"k1:{K1}")
    first = _store_one(vault, store)
    _store_one(vault, store, key_id="tron-hot-2", address="TAddressTwo")
    store.replace_blob("tron-hot-2", first.blob)
    with pytest.raises(InvalidInput):
        VaultKeyProvider(vault, store).private_key_for("TAddressTwo")


def test_keystore_refuses_unsafe_key_ids(tmp_path):
    """A key id cannot escape the keys directory."""
    with pytest.raises(InvalidInput, match="key id"):
        FileKeyStore(tmp_path).get("../etc/passwd")
