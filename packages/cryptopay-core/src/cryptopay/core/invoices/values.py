"""Invoice values: states, exceptions, events, payment options (what is due where) and recorded payments."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.fx import Quote
from cryptopay.core.money import Asset, Money
from cryptopay.core.ports.chains import ObservedTransfer
from cryptopay.core.rails import Finality, Rail

__all__ = [
    "DEFAULT_INVOICE_WINDOW",
    "DEFAULT_MONITORING_WINDOW",
    "InvoiceEvent",
    "InvoiceException",
    "InvoicePayment",
    "InvoiceState",
    "PaymentOption",
    "amount_due",
]

DEFAULT_INVOICE_WINDOW = timedelta(minutes=15)
DEFAULT_MONITORING_WINDOW = timedelta(hours=24)  # late payments are still watched for this long after expiry


class InvoiceState(enum.Enum):
    NEW = "new"  # waiting for payment (possibly partly paid)
    PROCESSING = "processing"  # paid enough, waiting for confirmations
    SETTLED = "settled"  # paid enough and confirmed
    EXPIRED = "expired"  # not paid enough in time
    INVALID = "invalid"  # paid but never confirmed within the monitoring window, or marked invalid
    CANCELLED = "cancelled"  # withdrawn by the merchant before anything was paid (later payments: paid_late)


class InvoiceException(enum.Enum):
    """What is unusual about the payment, orthogonal to the state."""

    NONE = "none"
    PAID_PARTIAL = "paid_partial"  # less than due, beyond the store's tolerance
    PAID_UNDER_TOLERATED = "paid_under_tolerated"  # less than due, within the store's tolerance (the shortfall shown)
    PAID_OVER = "paid_over"  # more than due
    PAID_LATE = "paid_late"  # something arrived after the invoice expired
    MARKED = "marked"  # an admin or the merchant set the state by hand


@attrs.frozen
class InvoiceEvent:
    """Something that happened to an invoice, for the outbox: ``invoice.created|processing|settled|...``."""

    name: str
    invoice_id: str
    at: datetime
    data: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    order_id: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    due: Mapping[str, str] = attrs.field(factory=dict, hash=False)  # rail key -> amount, on invoice.created
    # rail key -> amount the rail received, on invoice.settled (payload version 2 only: ``webhooks.payloads``)
    received: Mapping[str, str] = attrs.field(factory=dict, hash=False)

    @property
    def payload(self) -> dict[str, Any]:
        """The JSON payload for an ``OutboxMessage`` (amounts are strings): the merchant's ``order_id`` and
        ``metadata`` ride on every event, as given, and ``due`` (``received``) is an object by rail key."""
        found: dict[str, Any] = {"invoice_id": self.invoice_id, "at": self.at.isoformat(), "order_id": self.order_id}
        found |= {**self.data, "metadata": dict(self.metadata)}
        found |= {"due": dict(self.due)} if self.due else {}
        return {**found, "received": dict(self.received)} if self.received else found


def _same_address(rail: Rail, left: str, right: str) -> bool:
    # EVM addresses differ only by their checksum casing; Tron/Bitcoin addresses are case-sensitive.
    return left.lower() == right.lower() if rail.network.is_evm else left == right


@attrs.frozen
class PaymentOption:
    """One way to pay an invoice: ``due`` in the rail's asset to the invoice's own ``address`` on ``rail``."""

    rail: Rail
    address: str
    due: Money

    def __attrs_post_init__(self) -> None:
        if not self.address.strip():
            raise InvalidInput(f"invoice address for {self.rail.key} is empty")
        if self.due.asset != self.rail.asset or not self.due.is_positive():
            raise InvalidInput(f"amount due on {self.rail.key} must be a positive {self.rail.asset.code} amount")

    def accepts(self, transfer: ObservedTransfer) -> bool:
        """Whether ``transfer`` pays this option: same network, asset and receiving address (never by sender)."""
        return (
            transfer.network == self.rail.network.name
            and transfer.amount.asset == self.rail.asset
            and _same_address(self.rail, transfer.to_address, self.address)
        )


def amount_due(price: Money, asset: Asset, quotes: Sequence[Quote], *, at: datetime) -> Money:
    """What to ask in ``asset`` for ``price``: the price itself, or what sells at the locked quote's bid for it.

    >>> from datetime import timezone
    >>> from decimal import Decimal
    >>> from cryptopay.core.fx import Pair
    >>> now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    >>> q = Quote("fxq_1", Pair.parse("USDT/KES"), Decimal("128.554"), Decimal("129.846"), ("a",), now,
    ...           now + timedelta(minutes=15))
    >>> amount_due(Money.of("5000", "KES"), q.pair.base, [q], at=now)
    Money('38.894162', 'USDT')
    """
    if price.asset == asset:
        return price
    return _quote_for(price.asset, asset, quotes).base_needed(price, at=at)


def _quote_for(priced_in: Asset, paid_in: Asset, quotes: Sequence[Quote]) -> Quote:
    for quote in quotes:
        if quote.pair.base == paid_in and quote.pair.quote == priced_in:
            return quote
    raise InvalidInput(f"no locked {paid_in.code}/{priced_in.code} quote to price this invoice in {paid_in.code}")


@attrs.frozen
class InvoicePayment:
    """A transfer recorded against an invoice, with its confirmation depth; a withdrawn one is kept, not counted."""

    transfer: ObservedTransfer
    rail_key: str
    seen_at: datetime
    mempool_seen_at: datetime | None = None
    confirmations: int = 0
    withdrawn: bool = False
    finality: Finality | None = None  # the strongest finality signal its block carries (EVM safe/finalized, Tron)
    # Compliance holds it (its payer is on a sanctions list: ``payments.crediting``): kept on record and booked to a
    # suspense account. While an officer decides it reads as a payment still confirming (never confirmed, never
    # settling the invoice, which neither expires nor turns invalid under it: a hold is never told to the payer or
    # the merchant, review8 R5); ``released`` by an officer it counts as any payment; ``kept_out`` (returned to the
    # payer or kept for the authorities) it no longer counts at all. A re-mining after a reorg is held afresh.
    held: bool = False
    released: bool = False
    kept_out: bool = False

    def reached(self, finality: Finality) -> bool:
        """Whether its block carries ``finality`` (``finalized`` implies ``safe``)."""
        return self.finality is not None and self.finality.rank >= finality.rank

    @property
    def counted(self) -> bool:
        """Whether it counts towards the invoice's state (held ones awaiting an officer as still confirming)."""
        return not self.withdrawn and not self.kept_out

    @property
    def awaiting_officer(self) -> bool:
        """Held, and no officer has decided it yet: shown as a payment still confirming."""
        return self.held and not self.released and not self.kept_out

    @property
    def shown_confirmations(self) -> int:
        """The depth the payer and the merchant are shown: a held payment awaiting an officer shows none, as an
        ordinary payment's record does until it is confirmed (its depth is written when it confirms)."""
        return 0 if self.awaiting_officer else self.confirmations

    @property
    def key(self) -> tuple[str, str, int]:
        return self.transfer.key

    @property
    def amount(self) -> Money:
        return self.transfer.amount

    @property
    def paid_at(self) -> datetime:
        """When the customer paid: the block's time, or the first mempool sighting if that came earlier."""
        moments = [m for m in (self.transfer.block_time, self.mempool_seen_at) if m is not None]
        return min(moments) if moments else self.seen_at

    def is_late(self, expires_at: datetime) -> bool:
        return self.paid_at > expires_at
