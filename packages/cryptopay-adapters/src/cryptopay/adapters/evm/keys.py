"""Signing keys for EVM addresses derived from a BIP39 seed (for the signing host, the sandbox and the demo).

The composition root decrypts the seed with the key vault and hands an ``HdKeyring`` to the sender and the
sweeper; the receiving side needs only ``account_xpub(...)``. Keys never appear in reprs, logs or errors.
"""

from __future__ import annotations

import os
import threading

import attrs
from cryptopay.adapters._hd import bitcoinlib_home, check_index
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.ports.chains import PrivateKey
from eth_account.hdaccount import seed_from_mnemonic
from eth_account.hdaccount._utils import hmac_sha512
from eth_account.hdaccount.deterministic import HardNode, SoftNode, derive_child_key
from eth_keys.main import lazy_key_api as eth_keys_keys

__all__ = ["EvmHotKey", "HdKeyring", "account_xpub", "new_hot_key"]


@attrs.frozen
class EvmHotKey:
    """A new hot-wallet key: the secret (redacted in repr) and its public parts."""

    private_key: PrivateKey
    address: str
    public_key: str


def new_hot_key() -> EvmHotKey:
    """A random secp256k1 key with its EIP-55 address and uncompressed public key (hex, 64 bytes)."""
    key = eth_keys_keys.PrivateKey(os.urandom(32))
    return EvmHotKey(PrivateKey(key.to_bytes()), key.public_key.to_checksum_address(), key.public_key.to_hex()[2:])


def account_xpub(mnemonic: str, *, passphrase: str = "", account: int = 0, purpose: int = 44, coin: int = 60) -> str:
    """The account-level xpub at m/purpose'/coin'/account' of a BIP39 mnemonic (what the API host is configured
    with): m/44'/60' for EVM deposit addresses (the default), m/44'/195' for Tron, m/84'/0' for Bitcoin."""
    bitcoinlib_home()
    from bitcoinlib.keys import HDKey

    root = HDKey.from_seed(seed_from_mnemonic(mnemonic, passphrase), witness_type="legacy", network="bitcoin")
    node = root.child_private(check_index(purpose), hardened=True).child_private(check_index(coin), hardened=True)
    return str(node.child_private(check_index(account), hardened=True).wif_public())


class HdKeyring:
    """``KeyProvider`` for addresses m/44'/60'/account'/0/i of one seed, found by deriving up to ``max_index``."""

    def __init__(self, seed: bytes, *, account: int = 0, max_index: int = 10_000) -> None:
        if len(seed) < 16:
            raise InvalidInput("an HD seed has at least 16 bytes")
        digest = hmac_sha512(b"Bitcoin seed", seed)
        key, chain = digest[:32], digest[32:]
        for node in (HardNode(44), HardNode(60), HardNode(check_index(account)), SoftNode(0)):
            key, chain = derive_child_key(key, chain, node)
        self._chain_node = (key, chain)
        self._by_address: dict[str, bytes] = {}
        self._derived = 0
        self._max_index = max_index
        self._lock = threading.Lock()

    @classmethod
    def from_mnemonic(
        cls, mnemonic: str, *, passphrase: str = "", account: int = 0, max_index: int = 10_000
    ) -> HdKeyring:
        """A keyring over a BIP39 mnemonic (demo and sandbox; production passes the vault-decrypted seed)."""
        return cls(seed_from_mnemonic(mnemonic, passphrase), account=account, max_index=max_index)

    def _key_at(self, index: int) -> bytes:
        key, _ = derive_child_key(*self._chain_node, SoftNode(check_index(index)))
        return key

    def address_at(self, index: int) -> str:
        """The address at index ``index`` (the same one ``derive_address`` gives from the xpub)."""
        return str(eth_keys_keys.PrivateKey(self._key_at(index)).public_key.to_checksum_address())

    def private_key_for(self, address: str) -> PrivateKey:
        wanted = address.lower()
        with self._lock:
            while wanted not in self._by_address and self._derived <= self._max_index:
                key = self._key_at(self._derived)
                self._by_address[eth_keys_keys.PrivateKey(key).public_key.to_address().lower()] = key
                self._derived += 1
            if wanted not in self._by_address:
                raise NotFound(f"{address} is not one of the first {self._max_index + 1} addresses of this keyring")
            return PrivateKey(self._by_address[wanted])

    def __repr__(self) -> str:
        return "HdKeyring(<redacted>)"
