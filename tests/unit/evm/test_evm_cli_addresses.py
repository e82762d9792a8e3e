"""``cryptopay addresses derive|validate`` for the five networks, through the real Typer app."""

from __future__ import annotations

import json

import pytest
from cryptopay.adapters.bitcoin.addresses import validate_address as bitcoin_validate
from cryptopay.adapters.evm.keys import account_xpub
from cryptopay.adapters.tron.addresses import validate_address as tron_validate
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

app = build_app()

runner = CliRunner()
XPUB = account_xpub("test test test test test test test test test test test junk")
ANVIL_1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


@pytest.mark.parametrize("network", ["ethereum", "polygon", "bsc"])
def test_evm_cli_derive_prints_the_same_address_on_every_evm_chain(network: str) -> None:
    """derive on ethereum, polygon and bsc prints the same m/44'/60'/0'/0/1 address on the last line."""
    result = runner.invoke(app, ["addresses", "derive", "--network", network, "--xpub", XPUB, "--index", "1"])
    assert result.exit_code == 0, result.output
    assert _last_line(result.output) == ANVIL_1


def test_evm_cli_derive_tron_and_bitcoin_print_valid_addresses() -> None:
    """derive for tron and bitcoin prints an address that network's validator accepts."""
    outputs = {}
    for network in ("tron", "bitcoin"):
        result = runner.invoke(app, ["addresses", "derive", "--network", network, "--xpub", XPUB, "--index", "0"])
        assert result.exit_code == 0, result.output
        outputs[network] = _last_line(result.output)
    assert tron_validate(outputs["tron"]) == outputs["tron"]
    assert bitcoin_validate(outputs["bitcoin"]) == outputs["bitcoin"]


def test_evm_cli_derive_json_and_bad_input() -> None:
    """--json prints one object; a bad xpub, a negative index or M-Pesa exit non-zero with a reason."""
    result = runner.invoke(app, ["addresses", "derive", "--network", "bsc", "--xpub", XPUB, "--index", "2", "--json"])
    assert json.loads(_last_line(result.output))["address"] == "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    bad = runner.invoke(app, ["addresses", "derive", "--network", "ethereum", "--xpub", "nope", "--index", "0"])
    assert bad.exit_code == 2 and "base58check" in bad.output
    assert (
        runner.invoke(app, ["addresses", "derive", "--network", "ethereum", "--xpub", XPUB, "--index", "-1"]).exit_code
        != 0
    )
    mpesa = runner.invoke(app, ["addresses", "derive", "--network", "mpesa", "--xpub", XPUB, "--index", "0"])
    assert mpesa.exit_code == 2 and "M-Pesa" in mpesa.output


@pytest.mark.parametrize(
    ("network", "address"),
    [
        ("ethereum", ANVIL_1),
        ("bsc", ANVIL_1.lower()),
        ("tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"),
        ("bitcoin", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
        ("bitcoin", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        ("bitcoin", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"),
    ],
)
def test_evm_cli_validate_accepts_valid_addresses(network: str, address: str) -> None:
    """validate exits 0 for a valid address of the network."""
    result = runner.invoke(app, ["addresses", "validate", "--network", network, address])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("network", "address", "reason"),
    [
        ("ethereum", "0x70997970C51812dc3A010C7d01b50e0d17dc79c8", "EIP-55"),
        ("polygon", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "Tron"),
        ("tron", ANVIL_1, "hex"),
        ("tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", "checksum"),
        ("bitcoin", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "testnet"),
        ("bitcoin", ANVIL_1, ""),
        ("dogecoin", ANVIL_1, "unknown network"),
    ],
)
def test_evm_cli_validate_refuses_with_a_reason(network: str, address: str, reason: str) -> None:
    """validate exits non-zero and says why for bad checksums, other networks' and testnet addresses."""
    result = runner.invoke(app, ["addresses", "validate", "--network", network, address])
    assert result.exit_code != 0
    assert reason in result.output


def test_evm_cli_validate_testnet_flag_accepts_testnet_bitcoin() -> None:
    """On a testnet deployment (--testnet) a Bitcoin testnet address is valid."""
    address = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
    result = runner.invoke(app, ["addresses", "validate", "--network", "bitcoin", "--testnet", address])
    assert result.exit_code == 0 and _last_line(result.output) == address
