"""Tron hot-wallet keys: a fresh secp256k1 key and its public parts (tronpy), never exposing the secret in text."""

from __future__ import annotations

import threading

import attrs
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.ports.chains import PrivateKey
from tronpy.keys import PrivateKey as TronPrivateKey

__all__ = ["HotKey", "TronHdKeyring", "address_of", "new_hot_key"]


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


class TronHdKeyring:
    """``KeyProvider`` for the deposit addresses m/44'/195'/account'/0/i of a BIP39 seed phrase (the worker that
    sweeps; the API host derives the same addresses from the account xpub alone), found by deriving up to
    ``max_index``. Keys never appear in reprs, logs or errors."""

    def __init__(self, mnemonic: str, *, passphrase: str = "", account: int = 0, max_index: int = 10_000) -> None:
        from cryptopay.adapters._hd import bitcoinlib_home, check_index

        bitcoinlib_home()
        from bitcoinlib.keys import HDKey
        from bitcoinlib.mnemonic import Mnemonic

        try:
            seed = Mnemonic().to_seed(mnemonic.strip(), passphrase)
        except Exception:  # bitcoinlib raises plain ValueErrors and its own types for a bad phrase
            raise InvalidInput("the Tron sweep seed phrase is not a valid BIP39 mnemonic") from None
        root = HDKey.from_seed(seed, witness_type="legacy", network="bitcoin")
        node = root.child_private(44, hardened=True).child_private(195, hardened=True)
        self._account = node.child_private(check_index(account), hardened=True)
        self._chain = self._account.child_private(0)
        self._by_address: dict[str, bytes] = {}
        self._derived, self._max_index = 0, max_index
        self._lock = threading.Lock()

    def account_xpub(self) -> str:
        """The account-level xpub these keys derive from (what ``CRYPTOPAY_TRON_XPUB`` must be)."""
        return str(self._account.wif_public())

    def private_key_for(self, address: str) -> PrivateKey:
        with self._lock:
            while address not in self._by_address and self._derived <= self._max_index:
                secret = bytes(self._chain.child_private(self._derived).private_byte)
                self._by_address[address_of(PrivateKey(secret))] = secret
                self._derived += 1
            if address not in self._by_address:
                raise NotFound(f"{address} is not one of the first {self._max_index + 1} deposit addresses")
            return PrivateKey(self._by_address[address])

    def __repr__(self) -> str:
        return "TronHdKeyring(<redacted>)"
