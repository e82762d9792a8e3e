"""Bitcoin hot-wallet keys: a fresh key and its native segwit (P2WPKH) address, via bitcoinlib."""

from __future__ import annotations

import attrs
from bitcoinlib.keys import Key
from cryptopay.core.ports.chains import PrivateKey

__all__ = ["HotKey", "address_of", "new_hot_key"]


@attrs.frozen
class HotKey:
    """A new key: the secret (redacted in repr) and its public parts."""

    private_key: PrivateKey
    address: str
    public_key: str


def _network(testnet: bool) -> str:
    return "testnet" if testnet else "bitcoin"


def address_of(private_key: PrivateKey, *, testnet: bool = False) -> str:
    """The P2WPKH (bc1q...) address of a private key."""
    key = Key(private_key.reveal(), network=_network(testnet), compressed=True)
    return str(key.address(encoding="bech32", script_type="p2wpkh"))


def new_hot_key(*, testnet: bool = False) -> HotKey:
    """A random compressed key with its P2WPKH address and compressed public key (hex)."""
    key = Key(network=_network(testnet), compressed=True)
    secret = PrivateKey(key.private_byte)
    return HotKey(secret, str(key.address(encoding="bech32", script_type="p2wpkh")), key.public_hex)
