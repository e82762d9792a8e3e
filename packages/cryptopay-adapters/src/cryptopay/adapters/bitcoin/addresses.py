"""Bitcoin deposit addresses: BIP84 native segwit (bc1q...) from an account xpub/zpub, and address validation.

>>> validate_address("BC1QCR8TE4KR609GCAWUTMRZA0J4XV80JY8Z306FYU")
'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu'
>>> validate_address("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
'1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2'
"""

from __future__ import annotations

from bitcoinlib.encoding import EncodingError, addr_bech32_to_pubkeyhash
from cryptopay.adapters._hd import Base58Error, b58decode_check, check_index, load_account_key
from cryptopay.core.errors import InvalidInput

__all__ = ["BitcoinAddressDeriver", "derive_address", "validate_address"]

_MAINNET_HRP = "bc"
_TESTNET_HRPS = ("tb", "bcrt")
_MAINNET_PREFIXES = {0x00: "p2pkh", 0x05: "p2sh"}
_TESTNET_PREFIXES = {0x6F: "p2pkh", 0xC4: "p2sh"}
_ACCEPTED_KEYS = ("xpub", "zpub", "tpub", "vpub")


def derive_address(xpub: str, index: int) -> str:
    """The P2WPKH address at m/84'/0'/0'/0/index from the account-level xpub or zpub (tpub/vpub give tb1q...).

    >>> zpub = ("zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtf"
    ...         "SdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs")
    >>> derive_address(zpub, 0)
    'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu'
    """
    account, _ = load_account_key(xpub, allowed=_ACCEPTED_KEYS, witness_type="segwit")
    child = account.child_public(0).child_public(check_index(index))
    return str(child.address(encoding="bech32", script_type="p2wpkh"))


def validate_address(address: str, *, testnet: bool = False) -> str:
    """Return the normalised address if it is a Bitcoin address of this deployment's network, else say why."""
    text = address.strip() if isinstance(address, str) else ""
    if not text:
        raise InvalidInput("a Bitcoin address is required")
    if text.lower().startswith("0x"):
        raise InvalidInput("this is an EVM (Ethereum/BSC/Polygon) address, not a Bitcoin address")
    try:
        raw = b58decode_check(text)
    except Base58Error as error:
        if _looks_bech32(text):
            return _validate_bech32(text, testnet=testnet)
        if error.reason == "checksum":
            raise InvalidInput("the Bitcoin address checksum does not match (a typo?)") from None
        raise InvalidInput("not a Bitcoin address: it is neither bech32 nor base58") from None
    return _validate_base58(text, raw, testnet=testnet)


def _looks_bech32(text: str) -> bool:
    separator = text.rfind("1")
    return separator >= 1 and text[:separator].isalpha() and len(text) - separator > 6


def _validate_bech32(text: str, *, testnet: bool) -> str:
    lowered = text.lower()
    hrp = lowered[: lowered.rfind("1")]
    if hrp in _TESTNET_HRPS and not testnet:
        raise InvalidInput("this is a Bitcoin testnet address; this deployment is on mainnet")
    if hrp == _MAINNET_HRP and testnet:
        raise InvalidInput("this is a Bitcoin mainnet address; this deployment is on testnet")
    if hrp not in (_MAINNET_HRP, *_TESTNET_HRPS):
        raise InvalidInput(f"'{hrp}1...' addresses belong to another network, not Bitcoin")
    try:
        addr_bech32_to_pubkeyhash(text, prefix=hrp)
    except EncodingError as error:
        reason = str(error)
        if "polymod" in reason:
            reason = "bech32 checksum does not match (a typo?)"
        raise InvalidInput(f"invalid Bitcoin address: {reason}") from None
    return lowered


def _validate_base58(text: str, raw: bytes, *, testnet: bool) -> str:
    if len(raw) != 21:
        raise InvalidInput(f"a base58 Bitcoin address holds 21 bytes, this one {len(raw)}")
    version = raw[0]
    if version == 0x41:
        raise InvalidInput("this is a Tron address, not a Bitcoin address")
    if version in _TESTNET_PREFIXES and not testnet:
        raise InvalidInput("this is a Bitcoin testnet address; this deployment is on mainnet")
    if version in _MAINNET_PREFIXES and testnet:
        raise InvalidInput("this is a Bitcoin mainnet address; this deployment is on testnet")
    if version not in (_TESTNET_PREFIXES if testnet else _MAINNET_PREFIXES):
        raise InvalidInput(f"base58 version byte 0x{version:02x} belongs to another network, not Bitcoin")
    return text


class BitcoinAddressDeriver:
    """The ``AddressDeriver`` port for Bitcoin over one account xpub/zpub."""

    def __init__(self, xpub: str) -> None:
        load_account_key(xpub, allowed=_ACCEPTED_KEYS, witness_type="segwit")  # fail fast on a bad key
        self._xpub = xpub

    def derive(self, index: int) -> str:
        return derive_address(self._xpub, index)

    def __repr__(self) -> str:
        return "BitcoinAddressDeriver(xpub=...)"
