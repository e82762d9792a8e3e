"""Crypto deposits into personal wallets: the values (a deposit, its state, why it is held) and the wallet speed policy.

A wallet user gets one deposit address per network, derived from the same account xpubs and the same per-network
index counter as merchant invoices' addresses, so an address is never anybody else's. A transfer to it is a
``Deposit``: ``seen`` until it reaches the network's wallet requirement (``WalletSpeed``: confirmations or the
network's finality signal, fixed when it is first seen), then ``credited`` to the user's balance (USDT is one
balance whatever the network) or ``held`` in a suspense account for a reason (``HoldReason``: a sanctioned sender,
dust below the minimum, an asset the wallet does not hold, a frozen wallet, a compliance rule, no conversion price
yet). A deposit whose block leaves the chain (a reorg) or that the mempool drops is ``withdrawn``: a credit it had is
reversed.

USDC (decision): the wallet keeps one dollar stablecoin balance, USDT. A USDC deposit is converted into USDT when it
is credited (``CONVERTED``), at the mids of a USDC/USD and a USDT/USD quote less the stablecoin conversion spread
(``StablecoinConversion``, data: ``CRYPTOPAY_STABLECOIN_CONVERSION_SPREAD``); the ``Conversion`` is kept with the
deposit. Without a price (the sources down, a stablecoin off its peg) it is held (``awaiting_conversion``) and
converted when a price is had.

>>> from datetime import UTC
>>> at = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
>>> c = StablecoinConversion.parse("0.5").convert(Money.of("100", USDC), Decimal("0.9998"), Decimal("1.0002"), at, ())
>>> c.into, c.at_mid, c.charge
(Money('99.460207', 'USDT'), Money('99.960007', 'USDT'), Money('0.499800', 'USDT'))

>>> speed = WalletSpeed.parse("polygon=3, tron=finalized")
>>> [speed.requirement(network).describe() for network in ("polygon", "tron", "bitcoin")]
['3 confirmations', 'finalized', '3 confirmations']
>>> DepositMinimums.parse("USDT=2").minimum(USDT)
Money('2.000000', 'USDT')
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import BTC, USDC, USDT, Asset, Money, Rounding, asset_by_code, to_decimal
from cryptopay.core.rails import Finality, network_by_name

__all__ = [
    "CONVERTED",
    "DEFAULT_CONVERSION_SPREAD",
    "DEFAULT_MINIMUMS",
    "DEFAULT_WALLET_SPEED",
    "WALLET_DEPOSIT_ASSETS",
    "Conversion",
    "Deposit",
    "DepositMinimums",
    "DepositRequirement",
    "DepositState",
    "HoldReason",
    "ReleaseProposal",
    "StablecoinConversion",
    "WalletSpeed",
]

# What a wallet holds on chain: USDT (one balance whatever the network) and BTC. USDC arrives at the same EVM
# addresses (the watchers read both tokens) and is converted into the USDT balance (``CONVERTED``).
WALLET_DEPOSIT_ASSETS: tuple[Asset, ...] = (USDT, BTC)
CONVERTED: Mapping[Asset, Asset] = {USDC: USDT}  # deposited asset -> the wallet balance it is credited to
DEFAULT_CONVERSION_SPREAD = Decimal("0.005")  # 0.5%: what converting one stablecoin into the other costs the user


class DepositState(enum.Enum):
    SEEN = "seen"  # in the mempool or a block, short of the wallet requirement: nothing booked yet
    CREDITED = "credited"  # in the user's balance
    HELD = "held"  # confirmed, in the suspense account ``liabilities:deposits_held:<ASSET>`` (see ``hold_reason``)
    WITHDRAWN = "withdrawn"  # left the chain (reorg) or the mempool dropped it; any credit was reversed


class HoldReason(enum.Enum):
    SANCTIONED_SENDER = "sanctioned_sender"  # the sending address is on a sanctions list: an alert is raised
    COMPLIANCE = "compliance"  # a blocking monitoring rule refused it (the rule is in ``hold_detail``)
    BELOW_MINIMUM = "below_minimum"  # dust: less than the asset's minimum deposit
    UNSUPPORTED_ASSET = "unsupported_asset"  # an asset the wallet holds no balance of (USDC)
    WALLET_FROZEN = "wallet_frozen"  # an operator froze the wallet: it receives nothing
    AWAITING_CONVERSION = "awaiting_conversion"  # USDC with no USDC/USDT price now: converted when one is had
    TIER_LIMIT = "tier_limit"  # beyond what the wallet's KYC tier may receive: credited when the tier takes it
    # What the wallet's holder is shown for ``COMPLIANCE`` and ``SANCTIONED_SENDER`` (``Deposit.shown_hold_reason``):
    # a compliance freeze, a blocking monitoring rule or a sanctions list's match is never told to the party
    # (tipping-off, review7 F8, P6), as its other movements read "unavailable, contact support"; never stored
    REVIEW = "review"


# Hold reasons compliance keeps to itself: the holder reads ``REVIEW`` (``Deposit.shown_hold_reason``)
_TOLD_AS_REVIEW = frozenset({HoldReason.COMPLIANCE, HoldReason.SANCTIONED_SENDER})
# Hold reasons whose release is compliance's four-eyes decision (``Deposit.for_compliance``); with a deposit beyond
# its wallet's KYC tier (``Deposit.by_two_officers``: review10 R10-15), the others (dust, an asset, a price) stay an
# operator's call
_COMPLIANCE_HOLDS = frozenset({HoldReason.COMPLIANCE, HoldReason.SANCTIONED_SENDER, HoldReason.WALLET_FROZEN})


@attrs.frozen
class Conversion:
    """How a deposit of another stablecoin became the wallet's USDT: ``into`` credited, ``at_mid`` its worth at the
    mids (the difference is the spread, revenue), ``rate`` USDT per unit deposited, the quotes it came from."""

    into: Money
    at_mid: Money
    rate: Decimal
    spread: Decimal
    quotes: tuple[str, ...]
    at: datetime

    @property
    def charge(self) -> Money:
        return self.at_mid - self.into


@attrs.frozen
class StablecoinConversion:
    """The conversion spread between dollar stablecoins (a fraction: 0.005 is 0.5%), as data."""

    spread: Decimal = DEFAULT_CONVERSION_SPREAD

    def convert(
        self, amount: Money, deposited_usd: Decimal, usdt_usd: Decimal, at: datetime, quotes: tuple[str, ...]
    ) -> Conversion:
        """``amount`` in USDT at the two dollar mids, less the spread (rounded down: never more than is owed)."""
        target = CONVERTED.get(amount.asset)
        if target is None or deposited_usd <= 0 or usdt_usd <= 0:
            raise InvalidInput(f"{amount.asset.code} is not converted into a wallet balance")
        rate = deposited_usd / usdt_usd
        at_mid = Money.rounded(amount.amount * rate, target, Rounding.DOWN)
        into = Money.rounded(amount.amount * rate * (1 - self.spread), target, Rounding.DOWN)
        return Conversion(into=into, at_mid=at_mid, rate=rate, spread=self.spread, quotes=quotes, at=at)

    @classmethod
    def parse(cls, text: str) -> StablecoinConversion:
        """A percentage from 0 to 5 (``0.5`` or ``0.5%``; empty: the default); ``InvalidInput`` otherwise.

        >>> StablecoinConversion.parse("1%").spread, StablecoinConversion.parse("").spread
        (Decimal('0.01'), Decimal('0.005'))
        """
        if not text.strip():
            return cls()
        try:
            percent = Decimal(text.strip().removesuffix("%").strip())
        except InvalidOperation:
            percent = Decimal(-1)
        if not percent.is_finite() or not Decimal(0) <= percent <= Decimal(5):
            raise InvalidInput(f"{text!r} is not a conversion spread: a percentage from 0 to 5, such as 0.5")
        return cls((percent / 100).normalize())


@attrs.frozen
class DepositRequirement:
    """How long a wallet deposit waits: ``confirmations`` blocks, or the network's ``finality`` signal."""

    confirmations: int = 1
    finality: Finality | None = None

    def describe(self) -> str:
        return self.finality.value if self.finality is not None else f"{self.confirmations} confirmations"

    def met(self, depth: int, reached: Finality | None) -> bool:
        if self.finality is not None:
            return reached is not None and reached.rank >= self.finality.rank
        return depth >= self.confirmations

    def settled(self, depth: int, reached: Finality | None) -> bool:
        """Deep enough that we stop watching the block for a reorg: a finalized block, or twice the requirement
        (at least six blocks more). A reorg deeper than that is not followed (no processor follows one)."""
        if self.finality is not None:
            return reached is Finality.FINALIZED
        return depth >= max(2 * self.confirmations, self.confirmations + 6)


# Defaults per network (``CRYPTOPAY_WALLET_CONFIRMATIONS`` overrides them): Ethereum 12 blocks (about 2.5 minutes;
# post-merge reorgs deeper than a block or two are unheard of), Polygon 64 (its past reorgs reached dozens of
# blocks), BSC 15 (the depth large exchanges ask), Tron a solidified block (irreversible, about a minute), Bitcoin 3.
DEFAULT_WALLET_SPEED: Mapping[str, DepositRequirement] = {
    "ethereum": DepositRequirement(12),
    "polygon": DepositRequirement(64),
    "bsc": DepositRequirement(15),
    "tron": DepositRequirement(finality=Finality.FINALIZED),
    "bitcoin": DepositRequirement(3),
}


@attrs.frozen
class WalletSpeed:
    """The store-independent speed policy of wallet deposits, per network."""

    by_network: Mapping[str, DepositRequirement] = attrs.field(factory=lambda: dict(DEFAULT_WALLET_SPEED))

    def requirement(self, network: str) -> DepositRequirement:
        return self.by_network.get(network) or DepositRequirement(network_by_name(network).confirmations)

    @classmethod
    def parse(cls, text: str) -> WalletSpeed:
        """``network=N|safe|finalized`` pairs, comma-separated, over the defaults; ``InvalidInput`` otherwise."""
        found = dict(DEFAULT_WALLET_SPEED)
        for part in (p.strip() for p in text.split(",") if p.strip()):
            name, sep, wanted = part.partition("=")
            network = network_by_name(name)
            value = wanted.strip().lower()
            if not sep or not value:
                raise InvalidInput(f"{part!r} is not network=confirmations (or safe/finalized)")
            if value.isdigit() and 1 <= int(value) <= 1_000:
                found[network.name] = DepositRequirement(int(value))
                continue
            try:
                finality = Finality(value)
            except ValueError:
                raise InvalidInput(f"{part!r}: 1 to 1000 confirmations, safe or finalized") from None
            network.check_finality(finality)
            found[network.name] = DepositRequirement(finality=finality)
        return cls(found)


DEFAULT_MINIMUMS: Mapping[str, str] = {"USDT": "1", "USDC": "1", "BTC": "0.00005"}


@attrs.frozen
class DepositMinimums:
    """The least a deposit must be to be credited (smaller ones are dust, held: address-poisoning spam sends them)."""

    by_asset: Mapping[str, str] = attrs.field(factory=lambda: dict(DEFAULT_MINIMUMS))

    def minimum(self, asset: Asset) -> Money:
        return Money.of(self.by_asset.get(asset.code, "0"), asset)

    @classmethod
    def parse(cls, text: str) -> DepositMinimums:
        """``ASSET=amount`` pairs, comma-separated, over the defaults."""
        found = dict(DEFAULT_MINIMUMS)
        for part in (p.strip() for p in text.split(",") if p.strip()):
            code, sep, amount = part.partition("=")
            asset = asset_by_code(code.strip().upper())
            try:
                value = Money.of(to_decimal(amount.strip()), asset) if sep else None
            except (InvalidInput, TypeError):
                value = None
            if value is None or value.is_negative() or asset not in (USDT, USDC, BTC):
                raise InvalidInput(f"{part!r} is not ASSET=amount for USDT, USDC or BTC (within its decimals)")
            found[asset.code] = str(value.amount)
        return cls(found)


@attrs.frozen
class ReleaseProposal:
    """One officer's proposal to release a deposit held for compliance (four-eyes: a second officer approves it)."""

    by: str
    at: datetime
    note: str


@attrs.define(kw_only=True)
class Deposit:
    """A transfer to a wallet's deposit address, identified by ``(network, tx_hash, index)``.

    ``generation`` counts its sightings: a transfer reorganised away and mined again is credited again under new
    ledger keys. ``entries`` are the ledger entries of the current generation still standing; ``clawback_pending``
    says a reversal the wallet could not cover (the user had spent the money) waits, with the wallet frozen.
    """

    id: str
    user_id: str
    network: str
    address: str
    tx_hash: str
    index: int
    amount: Money
    requirement: DepositRequirement
    seen_at: datetime
    state: DepositState = DepositState.SEEN
    from_address: str | None = None
    block_number: int | None = None
    block_hash: str | None = None
    confirmations: int = 0
    generation: int = 0
    watching: bool = True  # still read for confirmations or reorgs
    hold_reason: HoldReason | None = None
    hold_detail: str | None = None
    entries: tuple[str, ...] = ()
    clawback_pending: bool = False
    credited_at: datetime | None = None
    withdrawn_at: datetime | None = None
    withdrawn_why: str | None = None
    conversion: Conversion | None = None  # how a converted asset (USDC) was credited as USDT, once it was
    alerts: tuple[str, ...] = ()  # the compliance alerts raised on it (a listed sender, a blocking rule): review8 R7
    proposal: ReleaseProposal | None = None  # an officer's release proposed, awaiting a second officer (R7)

    @property
    def asset(self) -> Asset:
        return self.amount.asset

    @property
    def shown_hold_reason(self) -> HoldReason | None:
        """Why a held deposit waits, as its wallet's holder reads it: ``REVIEW`` for ``COMPLIANCE`` and
        ``SANCTIONED_SENDER`` (a compliance freeze, a blocking monitoring rule or a sending address on a sanctions
        list is not told to the party: P6), else the reason itself (dust, an asset, the tier: the holder's to act on).

        >>> HoldReason.REVIEW.value
        'review'
        """
        return HoldReason.REVIEW if self.hold_reason in _TOLD_AS_REVIEW else self.hold_reason

    @property
    def for_compliance(self) -> bool:
        """Held for compliance (a listed sender, a blocking rule, a frozen wallet or holder) or with a compliance
        alert raised on it: its release is two proven officers' decision, never one person's (review8 R7)."""
        return self.state is DepositState.HELD and (self.hold_reason in _COMPLIANCE_HOLDS or bool(self.alerts))

    @property
    def by_two_officers(self) -> bool:
        """Its release is a proposal by one officer and an approval by a second (``Deposits.propose_release``): held
        for compliance, or beyond what its wallet's KYC tier may receive (review10 R10-15: crediting past the tier's
        limits is a decision on how much an unverified person may receive, so one operator does not make it)."""
        return self.for_compliance or (self.state is DepositState.HELD and self.hold_reason is HoldReason.TIER_LIMIT)

    @property
    def credited(self) -> Money:
        """What the wallet got (or gets): the amount itself, or the USDT it was converted into."""
        return self.conversion.into if self.conversion is not None else self.amount

    @property
    def transfer_key(self) -> tuple[str, str, int]:
        return (self.network, self.tx_hash.lower(), self.index)

    @property
    def booked(self) -> bool:
        """Confirmed and standing in the books (credited or held)."""
        return self.state in (DepositState.CREDITED, DepositState.HELD)

    @property
    def standing(self) -> bool:
        """Its booking stands in the ledger: booked, or withdrawn with the reversal still owed."""
        return self.booked or (self.state is DepositState.WITHDRAWN and self.clawback_pending)

    def key(self, step: str) -> str:
        """The idempotency key of one of this generation's ledger entries (``credit``, ``reverse``, ``release``)."""
        return f"deposit:{self.id}:g{self.generation}:{step}"
