"""Recovery windows: named points between a durable write and the outside call it prepares.

A crash in such a window is what recovery code exists for (a payout committed as ``submitted`` but never sent, a
status query recorded but never asked). Use cases call ``faults.reached(window)`` there; production passes
``NO_FAULTS`` (nothing happens), while a test setting (``CRYPTOPAY_FAULT_POINTS``, refused in production) may
stop or kill the process at a window, so tests and ``make chaos`` run every recovery path on purpose.

>>> NO_FAULTS.reached(PAYOUT_SUBMITTED)
>>> sorted(WINDOWS)[0]
'payout.acknowledged'
"""

from __future__ import annotations

from typing import Protocol

__all__ = [
    "NO_FAULTS",
    "PAYOUT_ACKNOWLEDGED",
    "PAYOUT_SENT",
    "PAYOUT_SUBMITTED",
    "STATUS_ASKED",
    "STATUS_RECORDED",
    "TEAM_JOINED",
    "WINDOWS",
    "FaultPoints",
    "NoFaults",
]

PAYOUT_SUBMITTED = "payout.submitted"  # committed as submitted; M-Pesa not called yet
PAYOUT_SENT = "payout.sent"  # M-Pesa accepted the B2C/B2B; its acknowledgement not stored yet
PAYOUT_ACKNOWLEDGED = "payout.acknowledged"  # acknowledgement stored; the result not in yet
STATUS_RECORDED = "status.recorded"  # a status query and its tokens committed; Transaction Status not called yet
STATUS_ASKED = "status.asked"  # Transaction Status accepted the query; its ids not stored yet
# Inside one transaction (nothing to recover: a crash here must leave nothing): a team invitation claimed and its
# member added, the join not yet audited nor the email proven (``identity.teams``)
TEAM_JOINED = "team.joined"
WINDOWS = frozenset({PAYOUT_SUBMITTED, PAYOUT_SENT, PAYOUT_ACKNOWLEDGED, STATUS_RECORDED, STATUS_ASKED, TEAM_JOINED})


class FaultPoints(Protocol):
    """Told each time the code reaches a recovery window."""

    def reached(self, window: str) -> None: ...


class NoFaults:
    """Production: nothing happens at any window."""

    def reached(self, window: str) -> None:
        return None


NO_FAULTS = NoFaults()
