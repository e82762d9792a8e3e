"""Payment rails: the chains and M-Pesa, their tokens, decimals and confirmation depths.

On-chain integers become ``Money`` here and only here, because a token's on-chain decimals
differ from the asset's accounting decimals (USDT is 6 on Ethereum, Tron and Polygon but 18 on BSC).

>>> from cryptopay.core.rails import ETHEREUM, BSC, Network, token_for
>>> token_for(BSC, "USDT").to_money(1_500_000_000_000_000_000)
Money('1.500000', 'USDT')
>>> token_for(ETHEREUM, "USDT").to_base_units(token_for(ETHEREUM, "USDT").to_money(2_500_000))
2500000
>>> [(n.name, n.token("USDC").chain_decimals) for n in (ETHEREUM, POLYGON, BSC)]
[('ethereum', 6), ('polygon', 6), ('bsc', 18)]
"""

from __future__ import annotations

import enum
from decimal import ROUND_DOWN, Decimal

import attrs
from cryptopay.core.errors import InvalidAmount, InvalidInput
from cryptopay.core.money import BNB, BTC, ETH, KES, POL, TRX, USDC, USDT, Asset, Money, asset_by_code

__all__ = [
    "BITCOIN",
    "BSC",
    "ETHEREUM",
    "MPESA",
    "NETWORKS",
    "POLYGON",
    "TRON",
    "AddressFormat",
    "Finality",
    "Network",
    "Rail",
    "Token",
    "network_by_name",
    "rail_for",
    "token_for",
]


class AddressFormat(enum.Enum):
    EVM = "evm"  # 0x-prefixed 20 bytes, EIP-55 checksum when mixed case
    TRON = "tron"  # base58check with the 0x41 prefix ("T...")
    BITCOIN = "bitcoin"  # bech32/bech32m or base58
    MSISDN = "msisdn"  # a Kenyan phone number in 2547XXXXXXXX form


class Finality(enum.Enum):
    """A network's own signal that a block will not be reorganised: EVM's ``safe`` and ``finalized`` block tags
    (``finalized`` is stronger), Tron's solidified blocks (``finalized``). Bitcoin has none: only depth."""

    SAFE = "safe"
    FINALIZED = "finalized"

    @property
    def rank(self) -> int:
        return 1 if self is Finality.SAFE else 2


@attrs.frozen
class Token:
    """An asset as it lives on one network: contract (None for the native coin) and on-chain decimals."""

    asset: Asset
    contract: str | None
    chain_decimals: int

    def to_money(self, base_units: int) -> Money:
        """Convert an on-chain integer to Money; refuses amounts finer than the asset's accounting quantum."""
        if not isinstance(base_units, int) or isinstance(base_units, bool):
            raise TypeError("on-chain amounts are integers")
        amount = Decimal(base_units).scaleb(-self.chain_decimals)
        truncated = amount.quantize(self.asset.quantum, rounding=ROUND_DOWN)
        if truncated != amount:
            # Dust below the accounting quantum (possible on 18-decimal tokens) is not credited: round down.
            return Money(truncated, self.asset)
        return Money(amount, self.asset)

    def to_base_units(self, money: Money) -> int:
        """Convert Money of this token's asset to the on-chain integer."""
        if money.asset != self.asset:
            raise InvalidAmount(f"{money.asset.code} is not {self.asset.code}")
        return int(money.amount.scaleb(self.chain_decimals))


@attrs.frozen
class Network:
    """A chain (or M-Pesa) with its identity, native coin, tokens and default confirmation depth."""

    name: str
    chain_id: int | None
    native: Token | None
    tokens: tuple[Token, ...]
    confirmations: int
    address_format: AddressFormat
    testnet: bool = False
    finality: tuple[Finality, ...] = ()  # the finality signals this network offers

    def check_finality(self, finality: Finality) -> None:
        """Refuse a finality signal this network does not have (Bitcoin has none, Tron no ``safe``)."""
        if finality not in self.finality:
            offered = ", ".join(f.value for f in self.finality) or "none: choose a number of confirmations"
            raise InvalidInput(f"{self.name} has no {finality.value!r} signal; it offers {offered}")

    def token(self, asset: Asset | str) -> Token:
        code = asset.code if isinstance(asset, Asset) else asset_by_code(asset).code
        candidates: tuple[Token, ...] = self.tokens + ((self.native,) if self.native else ())
        for token in candidates:
            if token.asset.code == code:
                return token
        raise InvalidInput(f"{code} is not supported on {self.name}")

    @property
    def assets(self) -> tuple[Asset, ...]:
        return tuple(t.asset for t in self.tokens) + ((self.native.asset,) if self.native else ())

    @property
    def is_evm(self) -> bool:
        return self.address_format is AddressFormat.EVM


# Token contracts and their on-chain decimals, and where each was checked (a wrong contract is money sent to a
# stranger, so every one names its source; one of the product documents this project started from gave a wrong
# USDC address):
# - USDC on Ethereum 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48, 6 decimals: the address Circle lists on its USDC
#   contract addresses page (developers.circle.com/stablecoins/usdc-contract-addresses; we read it through copies,
#   that page itself was not reachable from here); Etherscan shows it as Circle's "FiatTokenProxy", 6 decimals.
# - USDC on Polygon PoS 0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359, 6 decimals: Circle's native USDC, announced by
#   Circle ("What you need to know: Native USDC on Polygon PoS", circle.com/blog, 2023-09-28), which also names
#   0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174 as the *bridged* USDC.e: that one is not accepted here.
# - USDC on BSC 0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d, 18 decimals: "Binance-Peg USD Coin", issued by Binance,
#   not Circle (Circle issues no USDC on BSC); its 18 decimals (like BSC's USDT) were cross-checked in several
#   independent token lists, not on an issuer's page: check it on bscscan.com before going live.
# - USDT: Tether's published contracts (6 decimals on Ethereum, Polygon and Tron; BSC's Binance-Peg USDT has 18).
ETHEREUM = Network(
    "ethereum",
    1,
    Token(ETH, None, 18),
    (
        Token(USDT, "0xdAC17F958D2ee523a2206206994597C13D831ec7", 6),
        Token(USDC, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 6),
    ),
    12,
    AddressFormat.EVM,
    finality=(Finality.SAFE, Finality.FINALIZED),
)
POLYGON = Network(
    "polygon",
    137,
    Token(POL, None, 18),
    (
        Token(USDT, "0xc2132D05D31c914a87C6611C10748AEb04B58e8F", 6),
        Token(USDC, "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", 6),
    ),
    12,
    AddressFormat.EVM,
    finality=(Finality.SAFE, Finality.FINALIZED),
)
BSC = Network(
    "bsc",
    56,
    Token(BNB, None, 18),
    (
        Token(USDT, "0x55d398326f99059fF775485246999027B3197955", 18),
        Token(USDC, "0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d", 18),
    ),
    12,
    AddressFormat.EVM,
    finality=(Finality.SAFE, Finality.FINALIZED),
)
TRON = Network(
    "tron",
    None,
    Token(TRX, None, 6),
    (Token(USDT, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", 6),),
    20,
    AddressFormat.TRON,
    finality=(Finality.FINALIZED,),  # a solidified block
)
BITCOIN = Network("bitcoin", None, Token(BTC, None, 8), (), 3, AddressFormat.BITCOIN)
MPESA = Network("mpesa", None, Token(KES, None, 0), (), 0, AddressFormat.MSISDN)

NETWORKS: dict[str, Network] = {n.name: n for n in (ETHEREUM, POLYGON, BSC, TRON, BITCOIN, MPESA)}


def network_by_name(name: str) -> Network:
    """Find a network by name.

    >>> network_by_name("Tron").confirmations
    20
    """
    try:
        return NETWORKS[name.strip().lower()]
    except (KeyError, AttributeError):
        raise InvalidInput(f"unknown network {name!r}; known: {', '.join(NETWORKS)}") from None


def token_for(network: Network | str, asset: Asset | str) -> Token:
    """The token of an asset on a network."""
    net = network if isinstance(network, Network) else network_by_name(network)
    return net.token(asset)


@attrs.frozen
class Rail:
    """Where a payment can arrive: an asset on a network (e.g. USDT on tron), with the deployment's settings."""

    network: Network
    token: Token
    confirmations: int
    finality: Finality | None = None  # set: confirmed once its block carries this signal, whatever the depth

    @property
    def asset(self) -> Asset:
        return self.token.asset

    @property
    def key(self) -> str:
        """A stable name such as ``"usdt-tron"``."""
        return f"{self.asset.code.lower()}-{self.network.name}"


def rail_for(
    network: Network | str,
    asset: Asset | str,
    *,
    contract: str | None = None,
    confirmations: int | None = None,
    chain_id: int | None = None,
) -> Rail:
    """A rail with per-deployment overrides (a local node's token contract, chain id or depth).

    >>> rail_for("ethereum", "USDT", confirmations=2).key
    'usdt-ethereum'
    """
    net = network if isinstance(network, Network) else network_by_name(network)
    if chain_id is not None:
        net = attrs.evolve(net, chain_id=chain_id)
    token = net.token(asset)
    if contract is not None:
        token = attrs.evolve(token, contract=contract)
    depth = net.confirmations if confirmations is None else confirmations
    if depth < 0:
        raise InvalidInput("confirmations cannot be negative")
    return Rail(net, token, depth)
