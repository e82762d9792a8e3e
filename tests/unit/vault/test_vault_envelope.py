"""Envelope vault: round trips, context binding, tamper detection, rotation, and secrets kept out of text."""

from __future__ import annotations

import base64

import pytest
from cryptopay.adapters.vault import EnvelopeVault, KeyEncryptionKey, VaultBlobRejected, generate_kek
from cryptopay.adapters.vault.envelope import ENV_VAR
from cryptopay.core.errors import InvalidInput, Unavailable
from hypothesis import given, settings
from hypothesis import strategies as st

K1 = generate_kek()
K2 = generate_kek()


def vault(spec: str = f"k1:{K1}") -> EnvelopeVault:
    return EnvelopeVault.from_spec(spec)


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=512), context=st.text(min_size=1, max_size=60))
def test_vault_round_trips_any_secret_under_its_context(plaintext, context):
    """Whatever is encrypted under a context decrypts to the same bytes under that context."""
    v = vault()
    blob = v.encrypt(plaintext, context=context)
    assert v.decrypt(blob, context=context) == plaintext
    assert plaintext not in blob or len(plaintext) < 4


def test_vault_blob_names_its_format_and_key_id():
    """A blob starts with the format magic and version, and names the KEK it is wrapped under."""
    blob = vault().encrypt(b"x", context="c")
    assert blob[:4] == b"CPV\x01"
    assert vault().key_id_of(blob) == "k1"


def test_vault_refuses_a_blob_under_another_context():
    """A blob moved onto another record (another context) does not decrypt."""
    v = vault()
    blob = v.encrypt(b"secret", context="hot-key:tron:a")
    with pytest.raises(VaultBlobRejected, match="does not decrypt for this record"):
        v.decrypt(blob, context="hot-key:tron:b")


@pytest.mark.parametrize("position", [5, 10, 30, 70, -1])
def test_vault_refuses_a_tampered_blob(position):
    """Flipping any byte of the key id, wrapped key, nonce or ciphertext makes decryption fail."""
    v = EnvelopeVault.from_spec(f"k1:{K1},kx:{K2}")
    blob = bytearray(v.encrypt(b"secret", context="c"))
    blob[position] ^= 0x01
    with pytest.raises((VaultBlobRejected, Unavailable)):
        v.decrypt(bytes(blob), context="c")


def test_vault_refuses_garbage_and_truncated_blobs():
    """Non-vault bytes and a truncated blob are rejected as such."""
    v = vault()
    with pytest.raises(VaultBlobRejected, match="not a cryptopay vault blob"):
        v.decrypt(b"hello", context="c")
    with pytest.raises(VaultBlobRejected, match="truncated"):
        v.decrypt(v.encrypt(b"s", context="c")[:30], context="c")


def test_vault_rotation_keeps_old_blobs_readable_and_rewraps_under_the_new_key():
    """After adding k2 as current, k1 blobs still decrypt, and rewrap moves them to k2 without changing the secret."""
    old = vault(f"k1:{K1}").encrypt(b"secret", context="c")
    rotated = vault(f"k2:{K2},k1:{K1}")
    assert rotated.decrypt(old, context="c") == b"secret"
    new = rotated.rewrap(old, context="c")
    assert rotated.key_id_of(new) == "k2"
    assert vault(f"k2:{K2}").decrypt(new, context="c") == b"secret"


def test_vault_blob_under_a_retired_key_is_unavailable_not_garbage():
    """Decrypting a blob whose KEK is no longer configured says which key id is missing."""
    blob = vault(f"k1:{K1}").encrypt(b"secret", context="c")
    with pytest.raises(Unavailable, match="'k1'"):
        vault(f"k2:{K2}").decrypt(blob, context="c")


def test_vault_rewrap_refuses_a_wrong_context():
    """Rotation cannot be used to move a blob to another record."""
    v = vault()
    with pytest.raises(VaultBlobRejected):
        v.rewrap(v.encrypt(b"s", context="a"), context="b")


def test_vault_secrets_never_appear_in_repr_or_errors():
    """Neither the KEK nor the plaintext shows up in repr, str or any error message."""
    secret = base64.b64decode(K1)
    kek = KeyEncryptionKey("k1", secret)
    v = vault()
    texts = [repr(kek), str(kek), repr(v), str(v)]
    for bad_spec in (f"k1:{K1[:-2]}!!", f"k1:{base64.b64encode(secret[:16]).decode()}"):
        with pytest.raises(InvalidInput) as caught:
            EnvelopeVault.from_spec(bad_spec)
        texts.append(str(caught.value))
    with pytest.raises(VaultBlobRejected) as caught:
        v.decrypt(v.encrypt(b"plain-secret", context="a"), context="b")
    texts.append(str(caught.value))
    for text in texts:
        assert K1 not in text and K1[:-2] not in text and "plain-secret" not in text and secret.hex() not in text


def test_vault_from_env_uses_the_first_key_as_current_and_requires_configuration():
    """CRYPTOPAY_VAULT_KEKS lists keys current-first; without it the vault is unavailable."""
    assert EnvelopeVault.from_env({ENV_VAR: f"k2:{K2}, k1:{K1}"}).current_key_id == "k2"
    with pytest.raises(Unavailable, match=ENV_VAR):
        EnvelopeVault.from_env({})
    with pytest.raises(InvalidInput, match="twice"):
        EnvelopeVault.from_spec(f"k1:{K1},k1:{K2}")


def test_vault_refuses_an_empty_context():
    """A secret must be bound to a record: an empty context is refused."""
    with pytest.raises(InvalidInput, match="context"):
        vault().encrypt(b"s", context="")


def test_vault_seal_draws_its_data_key_and_nonces_in_one_draw_and_each_seal_its_own(monkeypatch):
    """A seal takes its fresh data key and both nonces from one draw of the system's randomness (a P2P send seals
    the recipient's phone: three draws were three calls); the blob is read as before, and two seals of one secret
    share no key, nonce or byte past the header."""
    import os

    vault = EnvelopeVault.from_spec(f"k1:{generate_kek()}")
    draws: list[int] = []
    real = os.urandom

    def counted(size: int) -> bytes:
        draws.append(size)
        return real(size)

    monkeypatch.setattr(os, "urandom", counted)
    first, second = (vault.encrypt(b"254712345678", context="wallet_transfers:trf_1") for _ in range(2))
    assert draws == [56, 56]
    assert vault.decrypt(first, context="wallet_transfers:trf_1") == b"254712345678"
    header = len(b"CPV") + 2 + len(b"k1")
    assert first[:header] == second[:header] and all(
        first[n : n + 12] != second[n : n + 12] for n in range(header, len(first) - 12, 12)
    )
