"""The treasury: sweeps into the hot wallets, the float and the inventory, refusal before overdraft, rebalancing.

``Sweeps`` (worker job ``treasury.sweep``) moves deposit addresses' tokens into the hot wallets and books their
fees; ``FloatGuard`` holds the payouts the M-Pesa float cannot cover and keeps M-Pesa's word on the float;
``Treasury`` reads where everything stands (``cryptopay treasury status``, the ``treasury.measure`` gauges) and
offers ``can_cover`` to every payment; ``Rebalancing`` records top-ups and conversions.
"""

from cryptopay.core.treasury.cover import Cover, FloatPosition
from cryptopay.core.treasury.guard import FloatGuard
from cryptopay.core.treasury.model import FloatReading, Sweep, SweepState
from cryptopay.core.treasury.rebalancing import Conversion, Fill, Rebalancing, TopUp
from cryptopay.core.treasury.status import GasHolding, Holding, Treasury, TreasuryStatus
from cryptopay.core.treasury.sweeps import DEFAULT_THRESHOLD, Sweeps

__all__ = [
    "DEFAULT_THRESHOLD",
    "Conversion",
    "Cover",
    "Fill",
    "FloatGuard",
    "FloatPosition",
    "FloatReading",
    "GasHolding",
    "Holding",
    "Rebalancing",
    "Sweep",
    "SweepState",
    "Sweeps",
    "TopUp",
    "Treasury",
    "TreasuryStatus",
]
