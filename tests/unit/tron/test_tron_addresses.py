"""Tron deposit addresses: xpub derivation checked against tronpy, and base58check validation with reasons."""

from __future__ import annotations

import pytest
from bitcoinlib.keys import HDKey
from bitcoinlib.mnemonic import Mnemonic
from cryptopay.adapters.tron.addresses import TronAddressDeriver, derive_address, to_hex_address, validate_address
from cryptopay.core.errors import InvalidInput
from hypothesis import given, settings
from hypothesis import strategies as st
from tronpy.keys import PrivateKey, is_base58check_address

MNEMONIC = "abandon " * 11 + "about"
ROOT = HDKey.from_seed(Mnemonic().to_seed(MNEMONIC), witness_type="legacy")
ACCOUNT = ROOT.key_for_path("m/44'/195'/0'")
XPUB = ACCOUNT.wif_public()


def _tronpy_address(index: int) -> str:
    key = ACCOUNT.child_private(0).child_private(index)
    return PrivateKey(key.private_byte).public_key.to_base58check_address()


def test_tron_first_address_matches_the_published_wallet_vector():
    """The 'abandon ... about' mnemonic's first Tron address (m/44'/195'/0'/0/0) is TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH."""
    assert XPUB.startswith("xpub")
    assert derive_address(XPUB, 0) == "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=2**31 - 1))
def test_tron_xpub_derivation_matches_tronpy_private_key_addresses(index):
    """The address derived from the xpub alone equals tronpy's address for the private key at the same path."""
    assert derive_address(XPUB, index) == _tronpy_address(index)


def test_tron_deriver_port_uses_the_xpub_and_hides_it():
    """TronAddressDeriver derives through the port and its repr does not show the key."""
    deriver = TronAddressDeriver(XPUB)
    assert deriver.derive(3) == _tronpy_address(3)
    assert XPUB not in repr(deriver)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (ROOT.key_for_path("m/44'/195'").wif_public(), "depth 2"),
        (ACCOUNT.wif_private(), "private extended key"),
        (XPUB[:-1] + ("A" if XPUB[-1] != "A" else "B"), "checksum"),
        ("not-a-key!", "base58"),
        (ROOT.key_for_path("m/84'/0'/0'").wif_public(witness_type="segwit"), "zpub"),
    ],
)
def test_tron_derivation_refuses_bad_extended_keys_without_echoing_them(key, reason):
    """A wrong depth, a private key, a bad checksum or a zpub is refused with the reason and without the key."""
    with pytest.raises(InvalidInput) as caught:
        derive_address(key, 0)
    assert reason in str(caught.value)
    assert key not in str(caught.value)


def test_tron_derivation_refuses_a_hardened_or_negative_index():
    """Indexes outside 0..2**31-1 cannot be derived from a public key."""
    for index in (-1, 2**31):
        with pytest.raises(InvalidInput, match="index"):
            derive_address(XPUB, index)


def test_tron_validate_accepts_and_normalises_a_mainnet_address():
    """A valid address is returned stripped, and its hex form carries the 0x41 prefix."""
    assert validate_address("  TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t ") == "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    assert to_hex_address("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").startswith("41")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("", "required"),
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", "checksum"),
        ("0xdAC17F958D2ee523a2206206994597C13D831ec7", "hex address"),
        ("41a614f803b6fd780986a42c78ec9c7f77e6ded13c", "hex address"),
        ("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "base58"),
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "34 base58 characters"),
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6", "34 base58 characters"),
    ],
)
def test_tron_validate_refuses_with_a_specific_reason(address, reason):
    """Bad checksums, hex or EVM forms and other networks' addresses are refused with a specific reason."""
    with pytest.raises(InvalidInput, match=reason):
        validate_address(address)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_tron_derived_addresses_always_validate(index):
    """Every derived address passes our validation and tronpy's."""
    address = derive_address(XPUB, index)
    assert validate_address(address) == address
    assert is_base58check_address(address)
