"""Payment URIs (EIP-681, BIP21, tron:) and their QR codes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptopay.adapters.evm.qr import qr_png, qr_svg
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import Money
from cryptopay.core.payment_uri import bip21_uri, eip681_uri, payment_uri
from cryptopay.core.rails import rail_for
from hypothesis import given
from hypothesis import strategies as st

TO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_evm_eip681_uses_each_chains_token_decimals() -> None:
    """10 USDT is 10 * 10**6 base units on Ethereum and Polygon but 10 * 10**18 on BSC, with each chain id."""
    ten = Money.of("10", "USDT")
    eth = payment_uri(rail_for("ethereum", "USDT"), TO, ten)
    bsc = payment_uri(rail_for("bsc", "USDT"), TO, ten)
    polygon = payment_uri(rail_for("polygon", "USDT"), TO, ten)
    assert eth == f"ethereum:0xdAC17F958D2ee523a2206206994597C13D831ec7@1/transfer?address={TO}&uint256=10000000"
    assert bsc.endswith(f"@56/transfer?address={TO}&uint256={10 * 10**18}")
    assert polygon.startswith("ethereum:0xc2132D05D31c914a87C6611C10748AEb04B58e8F@137/transfer?")


def test_evm_eip681_native_payment_uses_value() -> None:
    """A native ETH request is ``ethereum:<to>@<chain>?value=<wei>``."""
    assert eip681_uri(rail_for("ethereum", "ETH"), TO, Money.of("0.5", "ETH")) == f"ethereum:{TO}@1?value={5 * 10**17}"


@given(st.integers(min_value=1, max_value=10**15))
def test_evm_eip681_amount_round_trips_to_money(units: int) -> None:
    """The uint256 in the URI converts back to exactly the requested amount on 6- and 18-decimal tokens."""
    amount = Money.from_minor(units, "USDT")
    for network in ("ethereum", "bsc"):
        rail = rail_for(network, "USDT")
        query = parse_qs(urlsplit(payment_uri(rail, TO, amount)).query)
        assert rail.token.to_money(int(query["uint256"][0])) == amount


def test_evm_bip21_and_tron_uris() -> None:
    """BIP21 carries the amount in BTC; the tron URI names the TRC20 contract and the decimal amount."""
    assert bip21_uri("bc1qxyz", Money.of("0.00010000", "BTC"), label="Invoice 7") == (
        "bitcoin:bc1qxyz?amount=0.0001&label=Invoice+7"
    )
    tron = payment_uri(rail_for("tron", "USDT"), "TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL", Money.of("12.34", "USDT"))
    assert tron == "tron:TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL?token=TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t&amount=12.34"


def test_evm_payment_uri_refuses_bad_amounts() -> None:
    """A zero amount or an asset the rail does not carry is refused."""
    with pytest.raises(InvalidInput, match="positive"):
        payment_uri(rail_for("ethereum", "USDT"), TO, Money.of("0", "USDT"))
    with pytest.raises(InvalidInput, match="cannot be requested"):
        payment_uri(rail_for("ethereum", "USDT"), TO, Money.of("1", "BTC"))


def test_evm_qr_svg_parses_and_png_has_the_signature() -> None:
    """The QR of a payment URI renders as well-formed SVG and as a PNG file."""
    uri = payment_uri(rail_for("bsc", "USDT"), TO, Money.of("25", "USDT"))
    root = ET.fromstring(qr_svg(uri))
    assert root.tag.endswith("svg") and int(root.get("width", "0")) > 0
    png = qr_png(uri, scale=2)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 100
