"""Settlement model: when and how a merchant is paid out (schedule, method, profile) and one settlement's record.

A settlement is one merchant's run at one cut-off: what was converted at which quote and the payouts it planned;
it completes when every payout is final (``cryptopay.core.payouts``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import attrs
from cryptopay.core.money import KES, Money

if TYPE_CHECKING:
    from cryptopay.core.payouts.model import Payout

__all__ = [
    "DEFAULT_MINIMUM_PAYOUT",
    "Settlement",
    "SettlementConversion",
    "SettlementMethod",
    "SettlementProfile",
    "SettlementSchedule",
    "SettlementState",
]


# The least a settlement pays out (KES) when its profile names no minimum; also the floor of an instant settlement's
# minimum (outside review R13: a minimum of 0 made every payment its own B2C payout, each charged to the platform).
DEFAULT_MINIMUM_PAYOUT = Money.of(100, KES)


class SettlementSchedule(enum.Enum):
    INSTANT = "instant"
    DAILY = "daily"
    WEEKLY = "weekly"


class SettlementMethod(enum.Enum):
    MPESA_B2C = "mpesa_b2c"  # destination: a Kenyan phone number
    MPESA_PAYBILL = "mpesa_paybill"  # destination: "<paybill>#<account>"
    MPESA_TILL = "mpesa_till"  # destination: a till number
    BANK = "bank"  # destination: "<bank code>:<account number>"


@attrs.frozen
class SettlementProfile:
    """How and when a merchant is paid out; validated at the edge, interpreted by the settlement use cases."""

    schedule: SettlementSchedule
    method: SettlementMethod
    destination: str
    minimum: Money | None = None


class SettlementState(enum.Enum):
    PAYING = "paying"  # payouts in flight
    COMPLETED = "completed"  # every payout reached a final state
    SKIPPED = "skipped"  # the cut-off passed with nothing to pay (below the minimum, or no balance)


@attrs.frozen
class SettlementConversion:
    """One asset sold in a settlement: ``converted`` crypto at quote ``quote_id`` gave ``credited`` shillings."""

    quote_id: str
    converted: Money
    credited: Money
    fx_spread: Money


@attrs.define(kw_only=True)
class Settlement:
    """One merchant's settlement at one cut-off: what was converted at which quote, and the payouts it planned."""

    id: str
    merchant_id: str
    cutoff: datetime
    created_at: datetime
    complete_by: datetime
    method: SettlementMethod
    destination: str
    quote_id: str | None = None  # the quote of the first conversion (each is in ``conversions``)
    converted: Money | None = None  # the crypto sold by the first conversion
    credited: Money = attrs.Factory(lambda: Money.zero(KES))  # the shillings every conversion gave the merchant
    fx_spread: Money = attrs.Factory(lambda: Money.zero(KES))  # the spread of every conversion
    conversions: tuple[SettlementConversion, ...] = ()  # one per asset sold (USDT, USDC, BTC), in that order
    payout_ids: tuple[str, ...] = ()
    remainder: Money = attrs.Factory(lambda: Money.zero(KES))
    charges: Money = attrs.Factory(lambda: Money.zero(KES))  # the payout charges planned on top of the parts (R13)
    reason: str = ""
    state: SettlementState = SettlementState.PAYING
    completed_at: datetime | None = None

    def add_conversion(self, conversion: SettlementConversion) -> None:
        """Record one asset sold; ``credited`` and ``fx_spread`` are the totals over every conversion."""
        self.conversions = (*self.conversions, conversion)
        if self.quote_id is None:
            self.quote_id, self.converted = conversion.quote_id, conversion.converted
        self.credited += conversion.credited
        self.fx_spread += conversion.fx_spread

    def finish(self, payouts: Sequence[Payout], now: datetime) -> bool:
        """Complete once every payout is final; True when this call completed it."""
        if self.state is not SettlementState.PAYING or not all(p.is_final for p in payouts):
            return False
        self.state, self.completed_at = SettlementState.COMPLETED, now
        return True
