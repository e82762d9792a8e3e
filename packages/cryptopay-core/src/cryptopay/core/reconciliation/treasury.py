"""The treasury's checks: sweeps booked and settled, and the float a B2C result reported against the books.

A sweep moves tokens between two addresses of one custody account, so the books see only its fees: each network's
``expenses:network_fees`` account must equal the fees of its confirmed sweeps. A sweep open for longer than
``SWEEP_GRACE`` means a top-up or transfer that does not land (the worker advances sweeps every ten minutes).
Every completed B2C result carries M-Pesa's utility balance; the latest one must equal the books' float at that
moment plus the float funded outside the books (the baseline), like an Account Balance answer.
"""

from __future__ import annotations

from datetime import timedelta

from cryptopay.core import flows
from cryptopay.core.money import Money
from cryptopay.core.reconciliation.model import Difference, Records
from cryptopay.core.treasury.model import SweepState

__all__ = [
    "SWEEP_GRACE",
    "float_matches_b2c",
    "needs_b2c_reading",
    "needs_sweeps",
    "sweep_fees_booked",
    "sweeps_settle",
]

SWEEP_GRACE = timedelta(hours=1)
_FINISHED = (SweepState.CONFIRMED, SweepState.FAILED)


def needs_sweeps(records: Records) -> str:
    return "" if records.sweeps is not None else "no treasury store is configured"


def needs_b2c_reading(records: Records) -> str:
    if records.float_reading is None:
        return "no B2C result has reported the float yet"
    return "" if records.float_baseline is not None else "no float baseline (opening balance and unbooked top-ups)"


def sweep_fees_booked(records: Records) -> list[Difference]:
    """Each network's fee expense equals the fees of its finished sweeps (confirmed, or failed after burning gas),
    each of which names its ledger entry."""
    found: list[Difference] = []
    fees: dict[str, Money] = {}
    for sweep in records.sweeps or ():
        if sweep.state not in _FINISHED or sweep.fee is None or not sweep.fee.is_positive():
            continue
        code = flows.network_fees(sweep.network, sweep.fee.asset)
        fees[code] = fees[code] + sweep.fee if code in fees else sweep.fee
        if sweep.entry_id is None:
            found.append(Difference(f"sweep {sweep.id}", "its fees booked", "no ledger entry", f"fee {sweep.fee}"))
    for code in sorted(set(fees) | set(records.network_fees)):
        want = fees.get(code)
        books = records.network_fees.get(code)
        if want is None or books is None or want != books:
            expected = f"{want} (finished sweeps)" if want is not None else "no fees (no finished sweep)"
            found.append(Difference(code, expected, f"{books} in the books", ""))
    return found


def sweeps_settle(records: Records) -> list[Difference]:
    """No sweep stays open longer than an hour: a gas top-up or a transfer that never lands is looked at."""
    stuck = [s for s in records.sweeps or () if s.is_open and records.at - s.created_at > SWEEP_GRACE]
    return [
        Difference(
            f"sweep {s.id} ({s.state.value})",
            f"confirmed within {SWEEP_GRACE}",
            f"open since {s.created_at.isoformat(timespec='seconds')}",
            f"{s.seen} at {s.deposit_address} on {s.network}; tx {s.sweep_tx or s.top_up_tx or 'none yet'}",
        )
        for s in stuck
    ]


def float_matches_b2c(records: Records) -> list[Difference]:
    """The utility balance the latest B2C result reported equals the books' float then plus the baseline."""
    reading, baseline = records.float_reading, records.float_baseline
    if reading is None or baseline is None:
        return []
    want = reading.books + baseline
    if reading.utility == want:
        return []
    expected = f"{want} (books {reading.books} + baseline {baseline})"
    actual = f"{reading.utility} per the B2C result of payout {reading.reference}"
    return [Difference(flows.FLOAT, expected, actual, f"off by {reading.utility - want}")]
