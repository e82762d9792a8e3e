"""Merchant-payment records: deposit addresses, store settings, ledger credits of payments, and refunds.

Settlements and payouts have their own packages (``cryptopay.core.settlement``, ``cryptopay.core.payouts``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from decimal import Decimal

import attrs
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.fees import FeeBook, FeeProduct, FeeSchedule
from cryptopay.core.invoices import DEFAULT_INVOICE_WINDOW, DEFAULT_MONITORING_WINDOW, TransferKey
from cryptopay.core.money import KES, Asset, Money, to_decimal
from cryptopay.core.rails import NETWORKS, Rail
from cryptopay.core.settlement.policy import DEFAULT_CUTOFF

__all__ = [
    "DepositAddress",
    "PaymentCredit",
    "Refund",
    "RefundState",
    "StoreSettings",
    "address_key",
]


def address_key(network: str, address: str) -> str:
    """The form an address is stored and looked up in: EVM addresses lower-cased (checksums differ only in case).

    >>> address_key("ethereum", "0xAbC"), address_key("tron", "TXyZ")
    ('0xabc', 'TXyZ')
    """
    known = NETWORKS.get(network)
    return address.strip().lower() if known is not None and known.is_evm else address.strip()


@attrs.frozen
class DepositAddress:
    """A fresh receive address derived at ``index`` on ``network``, owned by one invoice forever."""

    network: str
    address: str
    index: int
    invoice_id: str
    merchant_id: str
    created_at: datetime

    @property
    def key(self) -> str:
        return address_key(self.network, self.address)


def _rails(value: Sequence[Rail]) -> tuple[Rail, ...]:
    return tuple(value)


def _fees(value: Sequence[FeeSchedule]) -> tuple[FeeSchedule, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class StoreSettings:
    """A merchant's store: the rails it accepts, invoice window, underpayment tolerance, fees, settlement cut-off.

    ``fees`` holds the versioned schedules that apply to this store (merchant fee per asset, M-Pesa payout charge).
    """

    merchant_id: str
    rails: tuple[Rail, ...] = attrs.field(converter=_rails)
    window: timedelta = DEFAULT_INVOICE_WINDOW
    monitoring: timedelta = DEFAULT_MONITORING_WINDOW
    tolerance_percent: Decimal = attrs.field(default=Decimal(0), converter=to_decimal)
    fees: tuple[FeeSchedule, ...] = attrs.field(default=(), converter=_fees)
    cutoff: time = DEFAULT_CUTOFF
    weekday: int = 4

    def __attrs_post_init__(self) -> None:
        if not self.rails:
            raise InvalidInput(f"store {self.merchant_id} accepts no rail")
        if self.window <= timedelta(0) or self.monitoring < timedelta(0):
            raise InvalidInput("the invoice window must be positive and the monitoring window not negative")
        FeeBook(self.fees)  # refuses a schedule version listed twice

    def rail(self, key: str) -> Rail:
        for rail in self.rails:
            if rail.key == key:
                return rail
        raise InvalidInput(f"this store does not accept {key}; it accepts {', '.join(r.key for r in self.rails)}")

    def merchant_fee(self, asset: Asset, at: datetime) -> FeeSchedule:
        """The merchant fee schedule for ``asset`` in force at ``at``."""
        return FeeBook(self.fees).schedule_for(FeeProduct.MERCHANT, asset, at=at)

    def payout_charges(self, at: datetime) -> FeeSchedule | None:
        """The M-Pesa payout charge in force at ``at``, if the store pays one."""
        try:
            return FeeBook(self.fees).schedule_for(FeeProduct.MPESA_PAYOUT, KES, at=at)
        except NotFound:
            return None


@attrs.define(kw_only=True)
class PaymentCredit:
    """One ledger credit of one confirmed payment; reversed when the payment leaves the chain.

    ``generation`` counts earlier credits of the same transfer (a transfer reorganised away and mined again is
    credited again under a new ledger key). ``clawback_pending`` marks a reversal the merchant's balance could not
    cover yet (the money was already settled); it is retried before the merchant's next settlement.
    """

    id: str
    invoice_id: str
    merchant_id: str
    transfer: TransferKey
    generation: int
    received: Money
    fee: Money
    entry_id: str
    credited_at: datetime
    late: bool = False
    reversal_entry_id: str | None = None
    clawback_pending: bool = False


class RefundState(enum.Enum):
    REQUESTED = "requested"  # funds held, not yet broadcast
    SENT = "sent"  # broadcast, waiting for its confirmations
    CONFIRMED = "confirmed"  # final on chain; the hold is posted
    FAILED = "failed"  # definitively failed; the hold is voided


@attrs.define(kw_only=True)
class Refund:
    """Crypto sent back to a customer-given address, held from the merchant's balance while in flight."""

    id: str
    invoice_id: str
    merchant_id: str
    rail_key: str
    network: str
    address: str
    amount: Money
    hold_id: str
    requested_by: str
    created_at: datetime
    reason: str
    token_contract: str | None = None
    state: RefundState = RefundState.REQUESTED
    tx_hash: str | None = None
    updated_at: datetime | None = None
    failure: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state in (RefundState.REQUESTED, RefundState.SENT)
