"""What an operator is alerted on about remittances: orders by state with the age of each state's oldest, and the
orders stuck waiting on M-Pesa's Transaction Status before their retry or refund.

A payout that failed by a callback may still have been paid (M-Pesa retries), so neither a retry nor a refund
starts until Transaction Status confirms the failure (``Payout.failure_confirmed``; ``Payouts.confirm_failure`` asks
it). An order whose current payout failed without that confirmation is *awaiting status*: normally for minutes (the
query's answer comes back by callback); for longer, the answer was lost or M-Pesa is down, and the recipient waits
while the sender's USDT neither arrives nor goes back. ``Observing`` sets the gauges from ``watch_remittances``;
``docs/alerts.rules.yml`` pages on ``CryptopayRemittanceAwaitingStatus``.

Reads are bounded: at most ``limit`` orders per state (newest first), so a backlog larger than that reads as
``limit`` and its oldest as the oldest of those read: an alert fires long before.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import attrs
from cryptopay.core.payouts.model import Payout, PayoutState
from cryptopay.core.remittances.model import RemittanceOrder, RemittanceState

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork
    from cryptopay.core.ports.remittances import RemittanceReadUnitOfWork

__all__ = ["WATCHED_STATES", "RemittanceWatch", "current_payout", "payout_attempts", "watch_remittances"]

WATCHED_STATES = (
    RemittanceState.AWAITING_PAYMENT,
    RemittanceState.PAYING_OUT,
    RemittanceState.REFUNDING,
    RemittanceState.HELD,
)


@attrs.frozen
class RemittanceWatch:
    """Orders not yet final by state (every watched state, zero included), each state's oldest order's age in
    seconds (0 when none), and the orders awaiting Transaction Status with the oldest wait in seconds."""

    orders: dict[str, int]
    oldest_seconds: dict[str, float]
    awaiting_status: int
    awaiting_status_oldest_seconds: float


def watch_remittances(uow: RemittanceReadUnitOfWork, now: datetime, *, limit: int = 10_000) -> RemittanceWatch:
    """Read the remittance gauges in one unit of work."""
    orders: dict[str, int] = {}
    oldest: dict[str, float] = {}
    waits: list[float] = []
    for state in WATCHED_STATES:
        found = uow.remittances.list(state=state, before=None, limit=limit)
        orders[state.value] = len(found)
        oldest[state.value] = max(((now - o.created_at).total_seconds() for o in found), default=0.0)
        if state in (RemittanceState.PAYING_OUT, RemittanceState.HELD):
            waits += [(now - since).total_seconds() for o in found if (since := _awaiting_since(uow, o)) is not None]
    return RemittanceWatch(orders, oldest, len(waits), max(waits, default=0.0))


def _awaiting_since(uow: PaymentsUnitOfWork, order: RemittanceOrder) -> datetime | None:
    """When the order's current payout failed, if Transaction Status has not confirmed that failure yet."""
    payout = current_payout(uow, order)
    if payout is None or payout.state is not PayoutState.FAILED or payout.failure_confirmed():
        return None
    return payout.finished_at or order.created_at


def payout_attempts(uow: PaymentsUnitOfWork, order: RemittanceOrder) -> list[Payout]:
    """The order's payouts: the first, then each retry that replaced the one before."""
    payout = uow.payouts.get(order.payout_id) if order.payout_id else None
    found: list[Payout] = []
    while payout is not None and len(found) < 100:
        found.append(payout)
        payout = uow.payouts.get(payout.retried_by) if payout.retried_by else None
    return found


def current_payout(uow: PaymentsUnitOfWork, order: RemittanceOrder) -> Payout | None:
    """The newest attempt (the first payout, followed through its retries)."""
    attempts = payout_attempts(uow, order)
    return attempts[-1] if attempts else None
