"""The treasury's records: sweeps of deposit addresses, M-Pesa's reported float, and where the money stands.

A ``Sweep`` moves one deposit address's whole token balance to the network's hot wallet. It is recorded
(``planned``) and committed before anything is sent, and follows ``planned -> topping_up -> sent -> confirmed``
(``empty`` when nothing was there any more, ``failed`` when the chain refused it: the tokens stay at the deposit
address and an operator looks). Only one sweep of an address is open at a time.

>>> from datetime import datetime, timezone
>>> now = datetime(2026, 1, 5, 14, 0, tzinfo=timezone.utc)
>>> sweep = Sweep(id="sw_1", network="ethereum", deposit_address="0xdep", hot_wallet="0xhot",
...               seen=Money.of("120", "USDT"), created_at=now)
>>> sweep.is_open, sweep.state.value
(True, 'planned')
>>> sweep.confirmed(now, swept=Money.of("120", "USDT"), fee=Money.of("0.0021", "ETH"), entry_id="ent_1")
>>> sweep.is_open, sweep.state.value
(False, 'confirmed')
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs
from cryptopay.core.money import Money

__all__ = ["BookedConversion", "FloatReading", "Sweep", "SweepState"]


class SweepState(enum.Enum):
    PLANNED = "planned"  # recorded, nothing sent yet
    TOPPING_UP = "topping_up"  # the gas (ETH/BNB/POL) or TRX top-up is sent, waiting for it to land
    SENT = "sent"  # the token transfer to the hot wallet is broadcast
    CONFIRMED = "confirmed"  # the transfer is deep enough; its fees are booked
    EMPTY = "empty"  # nothing left to sweep when it ran
    FAILED = "failed"  # the chain refused or dropped it: the tokens stay at the deposit address

    @property
    def is_open(self) -> bool:
        return self in (SweepState.PLANNED, SweepState.TOPPING_UP, SweepState.SENT)


@attrs.define(kw_only=True)
class Sweep:
    """One sweep of one deposit address into the network's hot wallet."""

    id: str
    network: str
    deposit_address: str
    hot_wallet: str
    seen: Money  # the token balance that made it due
    created_at: datetime
    state: SweepState = SweepState.PLANNED
    updated_at: datetime | None = None
    top_up_tx: str | None = None
    sweep_tx: str | None = None
    swept: Money | None = None  # what the transfer moved
    fee: Money | None = None  # the network fees paid (top-up and transfer), in the network's coin
    entry_id: str | None = None  # the ledger entry booking the fees
    note: str = ""

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    def moved(
        self,
        now: datetime,
        state: SweepState,
        *,
        top_up_tx: str | None = None,
        sweep_tx: str | None = None,
        swept: Money | None = None,
        note: str = "",
    ) -> None:
        """Record progress (a top-up or the transfer sent, nothing to sweep, a failure)."""
        self.state, self.updated_at = state, now
        self.top_up_tx = top_up_tx or self.top_up_tx
        self.sweep_tx = sweep_tx or self.sweep_tx
        self.swept = swept or self.swept
        self.note = note or self.note

    def confirmed(self, now: datetime, *, swept: Money, fee: Money, entry_id: str | None) -> None:
        self.state, self.updated_at, self.swept, self.fee, self.entry_id = (
            SweepState.CONFIRMED,
            now,
            swept,
            fee,
            entry_id,
        )


@attrs.frozen(kw_only=True)
class FloatReading:
    """M-Pesa's word on the float at one moment, with the books' float at that same moment.

    ``source`` is ``b2c_result`` (a B2C result's B2CUtilityAccountAvailableFunds / B2CWorkingAccountAvailableFunds)
    or ``account_balance`` (an Account Balance answer); ``reference`` names the payout or query it came with.
    """

    id: str
    source: str
    reference: str
    at: datetime
    utility: Money
    books: Money
    working: Money | None = None


@attrs.frozen
class BookedConversion:
    """A conversion as the ledger holds it: the network its crypto left custody on, and how much its fills sold."""

    reference: str
    network: str
    sold: Money
    entry_id: str
