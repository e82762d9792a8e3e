"""Bitcoin deposit addresses: BIP32/BIP84 vectors, xpub or zpub input, and validation with reasons."""

from __future__ import annotations

import pytest
from bitcoinlib.keys import HDKey
from bitcoinlib.mnemonic import Mnemonic
from cryptopay.adapters._hd import load_account_key
from cryptopay.adapters.bitcoin.addresses import BitcoinAddressDeriver, derive_address, validate_address
from cryptopay.core.errors import InvalidInput
from hypothesis import given, settings
from hypothesis import strategies as st

# BIP84 test vector: mnemonic "abandon ... about", account 0.
BIP84_ZPUB = (
    "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
)
BIP84_RECEIVE = ["bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"]
# BIP32 test vector 1: chain m/0H/1/2H (depth 3), then /2/1000000000.
BIP32_V1_M_0H_1_2H = (
    "xpub6D4BDPcP2GT577Vvch3R8wDkScZWzQzMMUm3PWbmWvVJrZwQY4VUNgqFJPMM3No2dFDFGTsxxpG5uJh7n7epu4trkrX7x7DogT5Uv6fcLW5"
)
BIP32_V1_LEAF = (
    "xpub6H1LXWLaKsWFhvm6RVpEL9P4KfRZSW7abD2ttkWP3SSQvnyA8FSVqNTEcYFgJS2UaFcxupHiYkro49S8yGasTvXEYBVPamhGW6cFJodrTHy"
)
ROOT = HDKey.from_seed(Mnemonic().to_seed("abandon " * 11 + "about"))


def test_bitcoin_bip84_zpub_gives_the_published_receive_addresses():
    """The BIP84 vector's zpub derives bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu and the next address."""
    assert [derive_address(BIP84_ZPUB, i) for i in (0, 1)] == BIP84_RECEIVE


def test_bitcoin_bip84_account_key_from_the_mnemonic_is_the_published_zpub():
    """bitcoinlib derives the BIP84 vector's zpub from the mnemonic at m/84'/0'/0'."""
    assert ROOT.key_for_path("m/84'/0'/0'").wif_public() == BIP84_ZPUB


def test_bitcoin_xpub_encoding_of_the_same_account_gives_the_same_addresses():
    """An xpub of the BIP84 account (as some wallets export it) derives the same bc1q addresses."""
    xpub = HDKey(BIP84_ZPUB).wif_public(witness_type="legacy")
    assert xpub.startswith("xpub")
    assert derive_address(xpub, 0) == BIP84_RECEIVE[0]


def test_bitcoin_bip32_vector_1_public_derivation_through_our_loader():
    """BIP32 vector 1: public derivation /2/1000000000 from the m/0H/1/2H xpub gives the published key."""
    account, testnet = load_account_key(BIP32_V1_M_0H_1_2H, allowed=("xpub",))
    assert not testnet
    assert account.child_public(2).child_public(1000000000).wif_public() == BIP32_V1_LEAF


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=2**31 - 1))
def test_bitcoin_zpub_derivation_matches_private_derivation(index):
    """The xpub-only address equals the address of the private key at m/84'/0'/0'/0/index."""
    private = ROOT.key_for_path("m/84'/0'/0'").child_private(0).child_private(index)
    assert derive_address(BIP84_ZPUB, index) == private.address()
    assert validate_address(private.address()) == private.address()


def test_bitcoin_deriver_port_hides_the_key():
    """BitcoinAddressDeriver derives through the port and its repr does not show the key."""
    deriver = BitcoinAddressDeriver(BIP84_ZPUB)
    assert deriver.derive(1) == BIP84_RECEIVE[1]
    assert BIP84_ZPUB not in repr(deriver)


def test_bitcoin_derivation_refuses_private_or_wrong_depth_keys():
    """A zprv or a non-account-level key is refused without echoing the key."""
    zprv = ROOT.key_for_path("m/84'/0'/0'").wif_private()
    for key, reason in ((zprv, "private"), (ROOT.key_for_path("m/84'/0'").wif_public(), "depth")):
        with pytest.raises(InvalidInput, match=reason) as caught:
            derive_address(key, 0)
        assert key not in str(caught.value)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"),
        ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        ),
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),
    ],
)
def test_bitcoin_validate_accepts_mainnet_bech32_bech32m_and_base58(address, expected):
    """Mainnet P2WPKH, P2TR (bech32m), P2PKH and P2SH addresses are valid; bech32 is normalised to lower case."""
    assert validate_address(address) == expected


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "testnet address; this deployment is on mainnet"),
        ("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "testnet address; this deployment is on mainnet"),
        ("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyv", "checksum"),
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "checksum"),
        ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "Bech32 instead of Bech32m"),
        ("ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9", "another network"),
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "Tron"),
        ("0xdAC17F958D2ee523a2206206994597C13D831ec7", "EVM"),
        ("", "required"),
        ("hello world", "neither bech32 nor base58"),
    ],
)
def test_bitcoin_validate_refuses_with_a_specific_reason(address, reason):
    """Testnet on mainnet, bad checksums, the wrong bech32 variant and other networks are refused with a reason."""
    with pytest.raises(InvalidInput, match=reason):
        validate_address(address)


def test_bitcoin_validate_on_testnet_refuses_mainnet_and_accepts_testnet():
    """A testnet deployment accepts tb1 addresses and refuses mainnet ones."""
    assert validate_address("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", testnet=True).startswith("tb1")
    with pytest.raises(InvalidInput, match="mainnet address; this deployment is on testnet"):
        validate_address(BIP84_RECEIVE[0], testnet=True)
