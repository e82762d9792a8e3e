"""Envelope encryption: each secret gets a fresh AES-256-GCM data key, wrapped by a key-encryption key (KEK).

Blob format v1 (binary, self-describing)::

    b"CPV" | 0x01 | len(kek_id) | kek_id | wrap_nonce(12) | wrapped_data_key(48) | nonce(12) | ciphertext+tag

The data key is wrapped with the KEK under associated data (header, context), and the secret is encrypted with
the data key under associated data (magic, version, context). Binding the context means a blob moved to another
record fails to decrypt; naming the KEK id means old blobs stay readable after a rotation, and ``rewrap`` only
re-wraps the data key (the ciphertext is unchanged).

KEKs come from ``CRYPTOPAY_VAULT_KEKS="k2:<base64 32 bytes>,k1:<base64 32 bytes>"``; the first one is current.

>>> vault = EnvelopeVault.from_spec(f"k1:{generate_kek()}")
>>> blob = vault.encrypt(b"secret", context="hot-key:tron:1")
>>> vault.decrypt(blob, context="hot-key:tron:1")
b'secret'
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping, Sequence

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptopay.core.errors import InvalidInput, Unavailable

__all__ = [
    "ENV_VAR",
    "EnvelopeVault",
    "KeyEncryptionKey",
    "VaultBlobRejected",
    "blob_key_id",
    "generate_kek",
    "parse_keks",
]

ENV_VAR = "CRYPTOPAY_VAULT_KEKS"
_MAGIC = b"CPV"
_VERSION = 1
_NONCE = 12
_WRAPPED = 32 + 16
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SECRET_AD = _MAGIC + bytes([_VERSION])  # the secret's associated data, before its context


class VaultBlobRejected(InvalidInput):
    """A blob is malformed, tampered with, or belongs to another record (its context differs)."""

    code = "vault_blob_rejected"


@attrs.frozen(repr=False)
class KeyEncryptionKey:
    """A 256-bit key-encryption key and its id; repr and str show only the id."""

    key_id: str
    _secret: bytes = attrs.field(repr=False)
    _cipher: AESGCM = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if not _KEY_ID.match(self.key_id):
            raise InvalidInput("a key-encryption key id is 1-64 characters of letters, digits, '_', '.', '-'")
        if len(self._secret) != 32:
            raise InvalidInput(f"key-encryption key {self.key_id!r} must be 32 bytes (AES-256)")
        # Made once: every seal and open wraps or unwraps a data key with it (an AESGCM is stateless, thread-safe).
        object.__setattr__(self, "_cipher", AESGCM(self._secret))

    def aead(self) -> AESGCM:
        return self._cipher

    def __repr__(self) -> str:
        return f"KeyEncryptionKey({self.key_id!r}, <redacted>)"

    __str__ = __repr__


def generate_kek() -> str:
    """A new random KEK, base64-encoded, for ``CRYPTOPAY_VAULT_KEKS``."""
    return base64.b64encode(os.urandom(32)).decode()


def parse_keks(spec: str) -> list[KeyEncryptionKey]:
    """Parse ``id:base64,id:base64`` (current first); errors name the key id, never the key."""
    keys: list[KeyEncryptionKey] = []
    for position, item in enumerate(part.strip() for part in spec.split(",") if part.strip()):
        key_id, sep, encoded = item.partition(":")
        if not sep:
            raise InvalidInput(f"{ENV_VAR} entry {position + 1} is not 'id:base64key'")
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"{ENV_VAR} key {key_id.strip()!r} is not valid base64") from None
        keys.append(KeyEncryptionKey(key_id.strip(), secret))
    if not keys:
        raise Unavailable(f"no key-encryption keys configured: set {ENV_VAR}")
    if len({k.key_id for k in keys}) != len(keys):
        raise InvalidInput(f"{ENV_VAR} names a key id twice")
    return keys


@attrs.frozen
class _Parsed:
    kek_id: str
    header: bytes
    wrap_nonce: bytes
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes


def _header(kek_id: str) -> bytes:
    encoded = kek_id.encode()
    return _MAGIC + bytes([_VERSION, len(encoded)]) + encoded


def _parse(blob: bytes) -> _Parsed:
    if not isinstance(blob, bytes | bytearray) or blob[:3] != _MAGIC or len(blob) < 5:
        raise VaultBlobRejected("not a cryptopay vault blob")
    if blob[3] != _VERSION:
        raise VaultBlobRejected(f"vault blob version {blob[3]} is not supported")
    end = 5 + blob[4]
    body = bytes(blob[end:])
    if len(body) < _NONCE + _WRAPPED + _NONCE + 16:
        raise VaultBlobRejected("vault blob is truncated")
    kek_id = bytes(blob[5:end]).decode(errors="replace")
    wrap_end = _NONCE + _WRAPPED
    return _Parsed(
        kek_id,
        bytes(blob[:end]),
        body[:_NONCE],
        body[_NONCE:wrap_end],
        body[wrap_end : wrap_end + _NONCE],
        body[wrap_end + _NONCE :],
    )


def blob_key_id(blob: bytes) -> str:
    """The id of the KEK a blob's data key is wrapped under (no key needed)."""
    return _parse(blob).kek_id


def _context_bytes(context: str) -> bytes:
    if not isinstance(context, str) or not context:
        raise InvalidInput("a vault context (the record the secret belongs to) is required")
    return context.encode()


class EnvelopeVault:
    """The ``KeyVault`` port: AES-256-GCM envelope encryption under the current KEK, decryption under any known KEK."""

    def __init__(self, keks: Sequence[KeyEncryptionKey]) -> None:
        if not keks:
            raise Unavailable(f"no key-encryption keys configured: set {ENV_VAR}")
        self._current = keks[0]
        self._header = _header(self._current.key_id)
        self._keks: Mapping[str, KeyEncryptionKey] = {k.key_id: k for k in keks}

    @classmethod
    def from_spec(cls, spec: str) -> EnvelopeVault:
        """A vault from ``id:base64,id:base64`` (current first)."""
        return cls(parse_keks(spec))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EnvelopeVault:
        """A vault from ``CRYPTOPAY_VAULT_KEKS``."""
        return cls.from_spec((os.environ if environ is None else environ).get(ENV_VAR, ""))

    @property
    def current_key_id(self) -> str:
        return self._current.key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keks)

    def key_id_of(self, blob: bytes) -> str:
        """The id of the KEK a blob's data key is wrapped under."""
        return blob_key_id(blob)

    def encrypt(self, plaintext: bytes, *, context: str) -> bytes:
        ctx = _context_bytes(context)
        # One draw of the system's randomness for the fresh data key and both nonces (what three draws gave).
        drawn = os.urandom(32 + _NONCE + _NONCE)
        data_key, nonce, wrap_nonce = drawn[:32], drawn[32 : 32 + _NONCE], drawn[32 + _NONCE :]
        ciphertext = AESGCM(data_key).encrypt(nonce, bytes(plaintext), _SECRET_AD + ctx)
        header = self._header
        wrapped = self._current.aead().encrypt(wrap_nonce, data_key, header + ctx)
        return header + wrap_nonce + wrapped + nonce + ciphertext

    def decrypt(self, blob: bytes, *, context: str) -> bytes:
        ctx = _context_bytes(context)
        parsed = _parse(blob)
        data_key = self._unwrap(parsed, ctx)
        try:
            return AESGCM(data_key).decrypt(parsed.nonce, parsed.ciphertext, _SECRET_AD + ctx)
        except InvalidTag:
            raise VaultBlobRejected("vault blob failed authentication (tampered)") from None

    def rewrap(self, blob: bytes, *, context: str) -> bytes:
        ctx = _context_bytes(context)
        parsed = _parse(blob)
        data_key = self._unwrap(parsed, ctx)
        return self._wrap(data_key, ctx) + parsed.nonce + parsed.ciphertext

    def _wrap(self, data_key: bytes, ctx: bytes) -> bytes:
        header = self._header
        wrap_nonce = os.urandom(_NONCE)
        return header + wrap_nonce + self._current.aead().encrypt(wrap_nonce, data_key, header + ctx)

    def _unwrap(self, parsed: _Parsed, ctx: bytes) -> bytes:
        kek = self._keks.get(parsed.kek_id)
        if kek is None:
            raise Unavailable(
                f"vault blob is wrapped under key-encryption key {parsed.kek_id!r}, which is not configured"
            )
        try:
            return kek.aead().decrypt(parsed.wrap_nonce, parsed.wrapped_key, parsed.header + ctx)
        except InvalidTag:
            raise VaultBlobRejected(
                "vault blob does not decrypt for this record (wrong context, or the blob was tampered with)"
            ) from None

    def __repr__(self) -> str:
        return f"EnvelopeVault(current={self.current_key_id!r}, keys={list(self._keks)!r})"
