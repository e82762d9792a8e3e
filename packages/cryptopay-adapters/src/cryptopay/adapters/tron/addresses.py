"""Tron deposit addresses: derived from the account xpub at m/44'/195'/0' (external chain 0), and validated.

A Tron address is base58check of 21 bytes: the 0x41 prefix then the last 20 bytes of keccak256(public key).

>>> validate_address("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")
'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t'
"""

from __future__ import annotations

from cryptopay.adapters._hd import Base58Error, b58decode_check, check_index, load_account_key
from cryptopay.core.errors import InvalidInput
from tronpy.keys import PublicKey

__all__ = ["TronAddressDeriver", "derive_address", "to_hex_address", "validate_address"]

_B58_ALPHABET = set("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")


def derive_address(xpub: str, index: int) -> str:
    """The Tron address at m/44'/195'/0'/0/index from the account-level xpub (no private key needed)."""
    account, _ = load_account_key(xpub, allowed=("xpub",))
    child = account.child_public(0).child_public(check_index(index))
    return str(PublicKey(child.public_uncompressed_byte[1:]).to_base58check_address())


def validate_address(address: str) -> str:
    """Return the address if it is a mainnet Tron base58check address, else raise InvalidInput saying why."""
    text = address.strip() if isinstance(address, str) else ""
    if not text:
        raise InvalidInput("a Tron address is required")
    if text.lower().startswith("0x") or (len(text) == 42 and text.startswith("41")):
        raise InvalidInput("this is a hex address; a Tron address is written in base58 and starts with 'T'")
    if not set(text) <= _B58_ALPHABET:
        raise InvalidInput("a Tron address contains only base58 characters (no 0, O, I or l)")
    if len(text) != 34 or not text.startswith("T"):
        raise InvalidInput("a Tron address is 34 base58 characters starting with 'T'")
    try:
        raw = b58decode_check(text)
    except Base58Error:
        raise InvalidInput("the Tron address checksum does not match (a typo?)") from None
    if len(raw) != 21 or raw[0] != 0x41:
        raise InvalidInput("a Tron address must carry the 0x41 mainnet prefix")
    return text


def to_hex_address(address: str) -> str:
    """The 21-byte hex form ('41...') of a valid base58 Tron address, as TronGrid's raw APIs use it."""
    return b58decode_check(validate_address(address)).hex()


class TronAddressDeriver:
    """The ``AddressDeriver`` port for Tron over one account xpub."""

    def __init__(self, xpub: str) -> None:
        load_account_key(xpub, allowed=("xpub",))  # fail fast on a bad key
        self._xpub = xpub

    def derive(self, index: int) -> str:
        return derive_address(self._xpub, index)

    def __repr__(self) -> str:
        return "TronAddressDeriver(xpub=...)"
