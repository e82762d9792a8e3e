"""Payment request URIs that wallets understand: EIP-681 on EVM chains, BIP21 on Bitcoin, ``tron:`` on Tron.

Amounts come from ``Money`` through the rail's token, so an 18-decimal BSC USDT and a 6-decimal Ethereum USDT
produce the right on-chain integers.

>>> from cryptopay.core.money import Money
>>> from cryptopay.core.rails import rail_for
>>> payment_uri(rail_for("ethereum", "USDT"), "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", Money.of("12.5", "USDT"))
'ethereum:0xdAC17F958D2ee523a2206206994597C13D831ec7@1/transfer?address=0x70997970C51812dc3A010C7d01b50e0d17dc79C8&uint256=12500000'
>>> payment_uri(rail_for("bitcoin", "BTC"), "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", Money.of("0.0015", "BTC"))
'bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq?amount=0.0015'
>>> payment_uri(rail_for("tron", "USDT"), "TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL", Money.of("5", "USDT"))
'tron:TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL?token=TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t&amount=5'
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import Money
from cryptopay.core.rails import AddressFormat, Rail

__all__ = ["bip21_uri", "eip681_uri", "payment_uri", "tron_uri"]


def _plain(amount: Decimal) -> str:
    """A decimal without exponent or trailing zeros: ``Decimal('1.500000')`` -> ``'1.5'``."""
    text = format(amount, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _positive(amount: Money) -> None:
    if not amount.is_positive():
        raise InvalidInput(f"a payment request needs a positive amount, got {amount}")


def eip681_uri(rail: Rail, to_address: str, amount: Money) -> str:
    """EIP-681: ``ethereum:<token>@<chainId>/transfer?address=<to>&uint256=<base units>`` (or ``?value=`` native)."""
    _positive(amount)
    chain = rail.network.chain_id
    units = rail.token.to_base_units(amount)
    if rail.token.contract is None:
        return f"ethereum:{to_address}@{chain}?value={units}"
    return f"ethereum:{rail.token.contract}@{chain}/transfer?address={to_address}&uint256={units}"


def bip21_uri(to_address: str, amount: Money, *, label: str | None = None) -> str:
    """BIP21: ``bitcoin:<address>?amount=<btc>`` with the amount in whole BTC."""
    _positive(amount)
    query = {"amount": _plain(amount.amount)} | ({"label": label} if label else {})
    return f"bitcoin:{to_address}?{urlencode(query)}"


def tron_uri(rail: Rail, to_address: str, amount: Money) -> str:
    """Tron: ``tron:<address>?token=<TRC20 contract>&amount=<decimal amount>`` (no token for TRX)."""
    _positive(amount)
    query = ({"token": rail.token.contract} if rail.token.contract else {}) | {"amount": _plain(amount.amount)}
    return f"tron:{to_address}?{urlencode(query)}"


def payment_uri(rail: Rail, to_address: str, amount: Money) -> str:
    """The wallet URI for paying ``amount`` on ``rail`` to ``to_address``."""
    if amount.asset != rail.asset:
        raise InvalidInput(f"{amount.asset.code} cannot be requested on the {rail.key} rail")
    if rail.network.address_format is AddressFormat.EVM:
        return eip681_uri(rail, to_address, amount)
    if rail.network.address_format is AddressFormat.BITCOIN:
        return bip21_uri(to_address, amount)
    if rail.network.address_format is AddressFormat.TRON:
        return tron_uri(rail, to_address, amount)
    raise InvalidInput(f"{rail.network.name} has no payment URI")
