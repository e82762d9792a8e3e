"""Tron hot-wallet keys: a fresh secp256k1 key and its public parts (tronpy), never exposing the secret in text."""

from __future__ import annotations

import attrs
from cryptopay.core.ports.chains import PrivateKey
from tronpy.keys import PrivateKey as TronPrivateKey

__all__ = ["HotKey", "address_of", "new_hot_key"]


@attrs.frozen
class HotKey:
    """A new key: the secret (redacted in repr) and its public parts."""

    private_key: PrivateKey
    address: str
    public_key: str


def address_of(private_key: PrivateKey) -> str:
    """The base58 Tron address of a private key."""
    return str(TronPrivateKey(private_key.reveal()).public_key.to_base58check_address())


def new_hot_key() -> HotKey:
    """A random Tron key with its address and uncompressed public key (hex, 64 bytes without the 04 prefix)."""
    key = TronPrivateKey.random()
    secret = PrivateKey(key.to_bytes())
    return HotKey(secret, key.public_key.to_base58check_address(), key.public_key.hex())
