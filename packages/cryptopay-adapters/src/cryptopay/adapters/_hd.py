"""Account-level extended public keys (BIP32) shared by the Tron and Bitcoin adapters, via bitcoinlib.

bitcoinlib keeps a data directory (config, logs, a wallet database we never use); ``bitcoinlib_home`` points it
inside the project's data dir (``$CRYPTOPAY_DATA_DIR/bitcoinlib``, default ``.cryptopay/bitcoinlib``) and must
run before bitcoinlib is first imported, which every adapter module does through ``load_account_key``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Protocol

import attrs
import coincurve
from cryptopay.adapters._paths import data_dir, private_dir
from cryptopay.core.errors import InvalidInput

__all__ = [
    "MAX_INDEX",
    "Base58Error",
    "ExtendedKeyKind",
    "PublicHDKey",
    "b58decode_check",
    "bitcoinlib_home",
    "check_index",
    "child_public_key",
    "load_account_key",
    "parse_extended_key",
]

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
MAX_INDEX = 2**31 - 1


class PublicHDKey(Protocol):
    """What the adapters use of bitcoinlib's (untyped) ``HDKey``: public child derivation and encodings."""

    @property
    def public_uncompressed_byte(self) -> bytes: ...

    @property
    def public_byte(self) -> bytes: ...

    @property
    def chain(self) -> bytes: ...

    def child_public(self, index: int) -> PublicHDKey: ...

    def address(self, *, encoding: str, script_type: str) -> str: ...


def bitcoinlib_home() -> Path:
    """Point bitcoinlib's data directory inside ours (unless BCL_DATA_DIR is already set) and return it."""
    home = Path(os.environ.setdefault("BCL_DATA_DIR", str(data_dir() / "bitcoinlib")))
    return private_dir(home)


@attrs.frozen
class ExtendedKeyKind:
    """What an extended key's version bytes say: its name, whether it is private, and its network."""

    name: str
    private: bool
    testnet: bool


_VERSIONS: dict[bytes, ExtendedKeyKind] = {
    bytes.fromhex("0488b21e"): ExtendedKeyKind("xpub", False, False),
    bytes.fromhex("049d7cb2"): ExtendedKeyKind("ypub", False, False),
    bytes.fromhex("04b24746"): ExtendedKeyKind("zpub", False, False),
    bytes.fromhex("043587cf"): ExtendedKeyKind("tpub", False, True),
    bytes.fromhex("044a5262"): ExtendedKeyKind("upub", False, True),
    bytes.fromhex("045f1cf6"): ExtendedKeyKind("vpub", False, True),
    bytes.fromhex("0488ade4"): ExtendedKeyKind("xprv", True, False),
    bytes.fromhex("049d7878"): ExtendedKeyKind("yprv", True, False),
    bytes.fromhex("04b2430c"): ExtendedKeyKind("zprv", True, False),
    bytes.fromhex("04358394"): ExtendedKeyKind("tprv", True, True),
    bytes.fromhex("044a4e28"): ExtendedKeyKind("uprv", True, True),
    bytes.fromhex("045f18bc"): ExtendedKeyKind("vprv", True, True),
}


class Base58Error(ValueError):
    """Raised by ``b58decode_check``: ``reason`` is "alphabet" or "checksum"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def b58decode_check(text: str) -> bytes:
    """Decode base58check (Bitcoin alphabet) and verify the double-SHA256 checksum; return the payload.

    >>> b58decode_check("1111111111111111111114oLvT2").hex()
    '000000000000000000000000000000000000000000'
    """
    number = 0
    for char in text:
        digit = _B58.find(char)
        if digit < 0:
            raise Base58Error("alphabet")
        number = number * 58 + digit
    raw = b"\x00" * (len(text) - len(text.lstrip("1"))) + number.to_bytes((number.bit_length() + 7) // 8, "big")
    if len(raw) < 5 or hashlib.sha256(hashlib.sha256(raw[:-4]).digest()).digest()[:4] != raw[-4:]:
        raise Base58Error("checksum")
    return raw[:-4]


def parse_extended_key(text: str) -> tuple[ExtendedKeyKind, bytes]:
    """Check an extended key's encoding and version; return its kind and the 78 serialized bytes.

    Error messages never repeat the key (it may be private).
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("an extended public key is required")
    try:
        raw = b58decode_check(text.strip())
    except Base58Error as error:
        raise InvalidInput(f"extended key is not valid base58check ({error.reason})") from None
    if len(raw) != 78:
        raise InvalidInput(f"extended key has {len(raw)} bytes; a BIP32 key has 78")
    kind = _VERSIONS.get(raw[:4])
    if kind is None:
        raise InvalidInput(f"unknown extended key version 0x{raw[:4].hex()}")
    if kind.private:
        raise InvalidInput(f"a private extended key ({kind.name}) was given; receiving needs only the public key")
    return kind, raw


def load_account_key(text: str, *, allowed: tuple[str, ...], witness_type: str = "legacy") -> tuple[PublicHDKey, bool]:
    """An account-level (depth 3) public HDKey of an allowed kind, and whether it is a testnet key."""
    kind, raw = parse_extended_key(text)
    if kind.name not in allowed:
        raise InvalidInput(f"a {kind.name} extended key is not accepted here; use one of {', '.join(allowed)}")
    if raw[4] != 3:
        raise InvalidInput(
            f"extended key is at depth {raw[4]}; an account-level key (depth 3, m/purpose'/coin'/0') is needed"
        )
    bitcoinlib_home()
    from bitcoinlib.keys import HDKey

    network = "testnet" if kind.testnet else "bitcoin"
    key: PublicHDKey = HDKey(text.strip(), network=network, witness_type=witness_type)  # untyped library
    return key, kind.testnet


def child_public_key(parent: PublicHDKey, index: int) -> bytes:
    """The uncompressed public key (65 bytes) of ``parent``'s non-hardened child ``index`` (BIP32 CKDpub): what
    ``parent.child_public(index).public_uncompressed_byte`` is, computed by libsecp256k1 (coincurve: a tweak-add on
    its precomputed tables) instead of bitcoinlib's generic point multiplication, about 2 ms of CPU per invoice.
    A tweak outside the curve's order (odds 2**-127) raises ``ValueError``, where BIP32 would skip the index."""
    data = parent.public_byte + check_index(index).to_bytes(4, "big")
    tweak = hmac.new(parent.chain, data, hashlib.sha512).digest()[:32]
    return bytes(coincurve.PublicKey(parent.public_byte).add(tweak).format(compressed=False))


def check_index(index: int) -> int:
    """A non-hardened child index, 0 to 2**31 - 1."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= MAX_INDEX:
        raise InvalidInput(f"address index must be an integer from 0 to {MAX_INDEX}")
    return index
