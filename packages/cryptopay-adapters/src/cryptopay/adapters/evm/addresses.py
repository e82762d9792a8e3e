"""EVM deposit addresses: derived from the account xpub at m/44'/60'/0' (external chain 0), and validated.

The same address serves Ethereum, Polygon and BSC. Only the public key is needed to derive, so the API host
holds no private keys for receiving.

>>> validate_address("0x70997970c51812dc3a010c7d01b50e0d17dc79c8")
'0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
"""

from __future__ import annotations

import re
from functools import lru_cache

from cryptopay.adapters._hd import PublicHDKey, child_public_key, load_account_key
from cryptopay.core.errors import InvalidInput
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

__all__ = ["EvmAddressDeriver", "derive_address", "validate_address"]

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_ZERO = "0x" + "0" * 40


@lru_cache(maxsize=64)
def _external_chain(xpub: str) -> PublicHDKey:
    account, _ = load_account_key(xpub, allowed=("xpub", "tpub"))
    return account.child_public(0)


def derive_address(xpub: str, index: int) -> str:
    """The EIP-55 address at m/44'/60'/0'/0/index from the account-level xpub."""
    child = child_public_key(_external_chain(xpub.strip()), index)
    return to_checksum_address(keccak(child[1:])[-20:])


def _not_evm_reason(text: str) -> str:
    if text.startswith("T") and len(text) == 34:
        return "this looks like a Tron address; an EVM address is 0x followed by 40 hex digits"
    if text.startswith("41") and len(text) == 42:
        return "this looks like a Tron hex address (41...); an EVM address starts with 0x"
    if text.lower().startswith(("bc1", "tb1", "1", "3")):
        return "this looks like a Bitcoin address; an EVM address is 0x followed by 40 hex digits"
    if text.lower().startswith("0x"):
        return f"an EVM address is 0x followed by 40 hex digits; this one has {len(text) - 2} characters after 0x"
    return "an EVM address is 0x followed by 40 hex digits"


def validate_address(address: str) -> str:
    """Return the EIP-55 checksummed form, or raise InvalidInput saying why the address is not valid.

    All-lowercase and all-uppercase hex carry no checksum and are accepted; mixed case must match EIP-55.
    """
    text = address.strip() if isinstance(address, str) else ""
    if not text:
        raise InvalidInput("an EVM address is required")
    if not _HEX_ADDRESS.fullmatch(text):
        raise InvalidInput(_not_evm_reason(text))
    body = text[2:]
    checksummed = to_checksum_address(text.lower())
    if body != body.lower() and body != body.upper() and text != checksummed:
        raise InvalidInput("the EIP-55 checksum (the mix of upper and lower case) does not match: a typo?")
    if checksummed.lower() == _ZERO:
        raise InvalidInput("the zero address cannot receive payments")
    return checksummed


class EvmAddressDeriver:
    """The ``AddressDeriver`` port for EVM chains over one account xpub (addresses are cached per index)."""

    def __init__(self, xpub: str) -> None:
        _external_chain(xpub.strip())  # fail fast on a bad key
        self._xpub = xpub.strip()

    def derive(self, index: int) -> str:
        return derive_address(self._xpub, index)

    def __repr__(self) -> str:
        return "EvmAddressDeriver(xpub=...)"
