"""EVM deposit address derivation from an account xpub, and EIP-55 validation."""

from __future__ import annotations

import pytest
from cryptopay.adapters._hd import child_public_key, load_account_key
from cryptopay.adapters.evm.addresses import EvmAddressDeriver, derive_address, validate_address
from cryptopay.adapters.evm.keys import HdKeyring, account_xpub
from cryptopay.core.errors import InvalidInput, NotFound
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
ABANDON_MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
# anvil's (and hardhat's) first dev accounts: m/44'/60'/0'/0/{0,1,2} of the "test ... junk" mnemonic.
ANVIL_ADDRESSES = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
]
ANVIL_XPUB = account_xpub(ANVIL_MNEMONIC)


def test_evm_derive_matches_the_standard_test_vector() -> None:
    """The xpub at m/44'/60'/0' of the "test ... junk" mnemonic derives anvil's well-known first addresses."""
    assert [derive_address(ANVIL_XPUB, i) for i in range(3)] == ANVIL_ADDRESSES


def test_evm_derive_matches_the_bip39_abandon_vector() -> None:
    """The "abandon ... about" mnemonic's first Ethereum address is the one every wallet shows."""
    assert derive_address(account_xpub(ABANDON_MNEMONIC), 0) == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"


def test_evm_deriver_port_gives_the_same_addresses_and_hides_the_key() -> None:
    """EvmAddressDeriver implements the AddressDeriver port and does not print the xpub."""
    deriver = EvmAddressDeriver(ANVIL_XPUB)
    assert deriver.derive(1) == ANVIL_ADDRESSES[1]
    assert ANVIL_XPUB not in repr(deriver)


def test_evm_derive_refuses_keys_that_are_not_account_level_xpubs() -> None:
    """A depth-4 xpub, a private key and garbage are refused with a reason that never echoes the key."""
    account, _ = load_account_key(ANVIL_XPUB, allowed=("xpub",))
    deeper = account.child_public(0).wif_public()
    with pytest.raises(InvalidInput, match="depth 4"):
        derive_address(deeper, 0)
    with pytest.raises(InvalidInput, match="base58check"):
        derive_address("xpub-not-a-key", 0)
    with pytest.raises(InvalidInput, match="index"):
        derive_address(ANVIL_XPUB, -1)


def test_evm_keyring_signs_for_the_addresses_the_xpub_derives() -> None:
    """The signing keyring of a seed holds the key of each address its xpub derives, and hides it in reprs."""
    keyring = HdKeyring.from_mnemonic(ANVIL_MNEMONIC, max_index=5)
    assert [keyring.address_at(i) for i in range(3)] == ANVIL_ADDRESSES
    key = keyring.private_key_for(ANVIL_ADDRESSES[2].lower())
    assert key.reveal().hex() == "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
    assert "5de4" not in repr(key) and "5de4" not in str(key) and "redacted" in repr(keyring)
    with pytest.raises(NotFound):
        keyring.private_key_for("0x" + "11" * 20)


@settings(max_examples=50)
@given(st.binary(min_size=20, max_size=20).filter(any))
def test_evm_validate_accepts_any_case_form_and_returns_the_checksum(raw: bytes) -> None:
    """Lowercase, uppercase and checksummed forms of an address all validate to the EIP-55 form."""
    checksummed = to_checksum_address(raw)
    body = checksummed[2:]
    for form in (checksummed, "0x" + body.lower(), "0x" + body.upper(), f"  {checksummed} "):
        assert validate_address(form) == checksummed


@settings(max_examples=50)
@given(st.binary(min_size=20, max_size=20).filter(any), st.data())
def test_evm_validate_rejects_a_broken_checksum(raw: bytes, data: st.DataObject) -> None:
    """Flipping the case of one letter in a mixed-case address breaks its EIP-55 checksum."""
    checksummed = to_checksum_address(raw)
    letters = [i for i, c in enumerate(checksummed) if i > 1 and c.isalpha()]
    body = checksummed[2:]
    if not letters or body in (body.lower(), body.upper()):
        return
    i = data.draw(st.sampled_from(letters))
    broken = checksummed[:i] + checksummed[i].swapcase() + checksummed[i + 1 :]
    if broken[2:] in (broken[2:].lower(), broken[2:].upper()):
        return  # flipping the only letter leaves a case-less form, which carries no checksum
    with pytest.raises(InvalidInput, match="EIP-55"):
        validate_address(broken)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("", "required"),
        ("0x1234", "40 hex digits"),
        ("0x" + "g" * 40, "40 hex digits"),
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "Tron"),
        ("41a614f803b6fd780986a42c78ec9c7f77e6ded13c", "Tron hex"),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "Bitcoin"),
        ("0x" + "0" * 40, "zero address"),
    ],
)
def test_evm_validate_says_why_an_address_is_invalid(address: str, reason: str) -> None:
    """Malformed addresses and other networks' addresses are refused with a specific reason."""
    with pytest.raises(InvalidInput, match=reason):
        validate_address(address)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=2**31 - 1), st.sampled_from([ANVIL_MNEMONIC, ABANDON_MNEMONIC]))
def test_the_libsecp256k1_child_key_is_bitcoinlibs(index: int, mnemonic: str) -> None:
    """``child_public_key`` (coincurve's tweak-add, what derivation uses since #17) gives bitcoinlib's child public key
    at any non-hardened index."""
    account, _ = load_account_key(account_xpub(mnemonic), allowed=("xpub",))
    chain = account.child_public(0)
    assert child_public_key(chain, index) == chain.child_public(index).public_uncompressed_byte
