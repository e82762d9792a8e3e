"""Treasury ports: where sweeps and M-Pesa's reported float are kept, the sweepers, and the payout guard.

``TreasuryStore`` writes each call in its own short transaction (a sweep is committed before its sweeper is
called). A ``Sweeper`` moves one deposit address's token balance to the hot wallet, topping up its gas first;
each call advances the sweep by a step and is idempotent on the sweep id. ``PayoutGuard`` is what
``Payouts.submit_payouts`` asks before it sends: the payouts the float can cover go, the others are held.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import attrs
from cryptopay.core.mobile_money import MpesaResult
from cryptopay.core.money import Asset, Money
from cryptopay.core.payouts.model import Payout
from cryptopay.core.ports.chains import SentTransaction

if TYPE_CHECKING:  # the treasury package imports these ports
    from cryptopay.core.treasury.model import FloatReading, Sweep, SweepState

__all__ = ["PayoutGuard", "SweepProgress", "SweepStage", "Sweeper", "TreasuryStore"]


class TreasuryStore(Protocol):
    """Sweeps (one open sweep per deposit address) and M-Pesa's float readings."""

    def add_sweep(self, sweep: Sweep) -> None:
        """Record a new sweep; ``Conflict`` when its id is taken or its address already has an open sweep."""
        ...

    def update_sweep(self, sweep: Sweep) -> bool:
        """Store the sweep as it stands now, while the stored one is still open; False (nothing written) when another
        worker closed it meanwhile (confirmed, empty or failed: a stale copy never reopens it, rowversion's note on
        R11-3); ``NotFound`` for an unknown id."""
        ...

    def get_sweep(self, sweep_id: str) -> Sweep | None: ...

    def sweeps(self, *, state: SweepState | None = None, open_only: bool = False, limit: int = 100) -> list[Sweep]:
        """Sweeps oldest first, in one state or only the open ones."""
        ...

    def add_reading(self, reading: FloatReading) -> bool:
        """Keep a reading once (by id); False when it was kept already."""
        ...

    def latest_reading(self) -> FloatReading | None:
        """The most recent reading (by its time), if any."""
        ...


class SweepStage(enum.Enum):
    EMPTY = "empty"  # no token balance to sweep
    TOPPING_UP = "topping_up"  # the gas top-up is sent and not landed yet
    SENT = "sent"  # the token transfer is broadcast, not deep enough yet
    CONFIRMED = "confirmed"  # the token transfer is deep enough
    FAILED = "failed"  # a top-up or the transfer failed or was dropped


@attrs.frozen(kw_only=True)
class SweepProgress:
    """Where one sweep stands after a step: the transactions it sent and what the transfer moves."""

    stage: SweepStage
    amount: Money | None = None  # what the transfer moves: named by the SENT step, later steps may omit it
    top_up: SentTransaction | None = None
    transfer: SentTransaction | None = None

    def fees(self, coin: Asset) -> Money:
        """The network fees known so far (top-up and transfer), in the network's coin."""
        found = [t.fee for t in (self.top_up, self.transfer) if t is not None and t.fee is not None]
        return sum(found, Money.zero(coin))


class Sweeper(Protocol):
    """Sweeps deposit addresses of one token rail into the network's hot wallet."""

    network: str
    asset: Asset  # the token swept
    coin: Asset  # the network's coin, which pays the fees
    hot_wallet: str

    def sweep(self, sweep_id: str, deposit_address: str) -> SweepProgress:
        """Advance the sweep by one step (top up gas, then move the whole balance); idempotent on ``sweep_id``."""
        ...


class PayoutGuard(Protocol):
    """The treasury's watch over payouts: which planned ones the float covers, and what M-Pesa's results say."""

    def admit(self, planned: Sequence[Payout]) -> list[Payout]:
        """The payouts that may be sent now; the others are held (with a reason) until the float covers them."""
        ...

    def reported(self, payout: Payout, result: MpesaResult) -> None:
        """Keep the float balances a completed payout's result carries (after its transaction committed)."""
        ...
