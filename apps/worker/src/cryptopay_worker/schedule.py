"""Repeating jobs: the schedule table and the loop that enqueues each period's job exactly once.

Each entry names a period (every N seconds, or once a day at a local time); the period's job id is derived
from the job name and the period, so two schedulers (or one restarted mid-period) enqueue the same id and the
queue drops the duplicate. Each is enqueued with ``coalesce``: while the previous period's job still waits (the
workers are behind), the new period adds nothing, since each run does all the work due. The queue holds at most one
waiting copy of each repeating job, and event jobs (webhook deliveries, payouts) never queue behind a pile of them.

>>> from datetime import datetime, timezone
>>> at = datetime(2026, 1, 5, 9, 0, 7, tzinfo=timezone.utc)
>>> Every("outbox.relay", timedelta(seconds=5)).job_id(at)
'every-outbox_relay-353520721'
>>> Daily("settlements.run", time(17, 0)).job_id(at) is None  # 12:00 in Nairobi: not yet
True
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Container, Mapping, Sequence
from datetime import datetime, time, timedelta, tzinfo
from typing import Protocol

import attrs
from cryptopay.core.errors import CryptopayError
from cryptopay.core.ports.queue import EnqueuedJob, JobQueue, JsonValue
from cryptopay.core.ports.system import Clock
from cryptopay.core.system import NAIROBI

from cryptopay_worker import jobs

__all__ = ["HOUSEKEEPING", "SCHEDULE", "Daily", "Every", "Scheduler", "enqueue_due", "fast"]

log = logging.getLogger(__name__)


class Entry(Protocol):
    @property
    def job_name(self) -> str: ...

    @property
    def payload(self) -> Mapping[str, JsonValue]: ...

    def job_id(self, now: datetime) -> str | None:
        """The id of the job for the period containing ``now``; None when nothing is due yet."""
        ...


def _slug(name: str) -> str:
    return name.replace(".", "_")


@attrs.frozen
class Every:
    """Run ``job_name`` once in every ``interval`` (periods aligned on the Unix epoch)."""

    job_name: str
    interval: timedelta
    payload: Mapping[str, JsonValue] = attrs.field(factory=dict)

    def job_id(self, now: datetime) -> str:
        period = int(now.timestamp() // self.interval.total_seconds())
        return f"every-{_slug(self.job_name)}-{period}"


@attrs.frozen
class Daily:
    """Run ``job_name`` once a day, at or after ``at`` local time (Nairobi by default)."""

    job_name: str
    at: time
    zone: tzinfo = NAIROBI
    payload: Mapping[str, JsonValue] = attrs.field(factory=dict)

    def job_id(self, now: datetime) -> str | None:
        local = now.astimezone(self.zone)
        if local.time() < self.at:
            return None
        return f"daily-{_slug(self.job_name)}-{local.date().isoformat()}"


SCHEDULE: tuple[Every | Daily, ...] = (
    Every(jobs.OUTBOX_RELAY, timedelta(seconds=5)),
    Every(jobs.WEBHOOK_SWEEP, timedelta(minutes=1)),
    # A payment shows as seen (processing) within a scan period of its block, and as confirmed within a confirm
    # period of its store's speed policy being met: the product's target is a USDT payment confirmed under 60 s.
    Every(jobs.CHAIN_SCAN, timedelta(seconds=5)),
    Every(jobs.CHAIN_CONFIRM, timedelta(seconds=10)),
    Every(jobs.INVOICE_EXPIRE, timedelta(minutes=1)),
    Every(jobs.SETTLEMENT_RUN, timedelta(minutes=15)),  # the use case decides which merchants' policies are due
    Every(jobs.PAYOUT_START, timedelta(seconds=30)),  # submit planned payouts (also nudged after each settlement run)
    Every(jobs.PAYOUT_STATUS, timedelta(minutes=2)),  # status queries for payouts past their callback deadline
    Every(jobs.REFUND_SEND, timedelta(seconds=30)),
    Every(jobs.WALLET_CLAIMS_EXPIRE, timedelta(minutes=10)),
    Every(jobs.WALLET_QUOTES_PRUNE, timedelta(hours=1)),  # quote claims a week past their window, in batches
    Every(jobs.WALLET_STK_QUERY, timedelta(seconds=30)),  # ask STK Query about open wallet buys past their callback
    Every(jobs.WALLET_PAYBILL_VERIFY, timedelta(seconds=15)),  # Transaction Status about paybill confirmations
    Every(jobs.REMITTANCE_ADVANCE, timedelta(seconds=15)),  # paid orders paid out, recipients told, retries, refunds
    Every(jobs.WALLET_WITHDRAWALS, timedelta(seconds=30)),  # send withdrawals past their cool-off; follow sent ones
    Every(jobs.FX_REFRESH, timedelta(minutes=1)),
    Every(jobs.RECONCILIATION_RUN, timedelta(minutes=30)),  # the books against our records, M-Pesa and the chains
    Every(jobs.RECONCILIATION_PRUNE, timedelta(days=1)),  # stored run results past their retention
    Every(jobs.METRICS_MEASURE, timedelta(minutes=1)),  # business gauges for the alerting rules
    Every(jobs.COMPLIANCE_MONITOR, timedelta(minutes=15)),  # AML batch rules; overdue cases
    Every(jobs.COMPLIANCE_RESCREEN, timedelta(hours=6)),  # everyone against the latest lists (alerts raised once)
    Every(jobs.KYC_SWEEP_DOCUMENTS, timedelta(hours=6)),  # blobs no KYC application names (crash leftovers)
    Every(jobs.PRIVACY_RETENTION, timedelta(days=1)),  # retention rules: anonymise relationships long ended
    Every(jobs.TREASURY_SWEEP, timedelta(minutes=10)),  # deposit addresses above the threshold -> hot wallets
    Every(jobs.TREASURY_MEASURE, timedelta(minutes=5)),  # float and inventory gauges (reads every deposit address)
    Every(jobs.AUDIT_ANCHOR, timedelta(minutes=5)),  # the audit head logged: a rewrite before it is caught (R10-2)
    Every(jobs.LEDGER_SEAL, timedelta(minutes=1)),  # new ledger entries sealed into the audit chain (R10-6)
)


# Jobs that measure and tidy up rather than move a payment along: the fast schedule runs them a minute of theirs per
# second (at most every 10 s). Every second, a reconciliation run and the treasury and business gauges took most of
# an inline worker's time in the demos, so each payment's next step waited behind them.
HOUSEKEEPING = frozenset(
    {
        jobs.RECONCILIATION_RUN,
        jobs.RECONCILIATION_PRUNE,
        jobs.METRICS_MEASURE,
        jobs.TREASURY_MEASURE,
        jobs.COMPLIANCE_MONITOR,
        jobs.COMPLIANCE_RESCREEN,
        jobs.KYC_SWEEP_DOCUMENTS,
        jobs.PRIVACY_RETENTION,
        jobs.WALLET_QUOTES_PRUNE,
        jobs.AUDIT_ANCHOR,
        jobs.LEDGER_SEAL,
    }
)


def fast(schedule: Sequence[Every | Daily], interval: timedelta = timedelta(seconds=1)) -> tuple[Every, ...]:
    """The jobs every ``interval`` (demos and the local sandbox, where blocks come every second); the housekeeping
    ones a minute of their period per second, at most every 10 s (a daily job: every 24 minutes).

    >>> {e.job_name: e.interval.total_seconds() for e in fast(SCHEDULE)}["reconciliation.run"]  # every 30 minutes
    30.0
    >>> {e.job_name: e.interval.total_seconds() for e in fast(SCHEDULE)}["chains.scan"]
    1.0
    """

    def period(entry: Every | Daily) -> timedelta:
        if entry.job_name not in HOUSEKEEPING:
            return interval
        usual = entry.interval if isinstance(entry, Every) else timedelta(days=1)
        return max(usual / 60, 10 * interval)

    return tuple(Every(entry.job_name, period(entry), entry.payload) for entry in schedule)


def enqueue_due(
    queue: JobQueue, schedule: Sequence[Entry], now: datetime, *, known: Container[str]
) -> list[EnqueuedJob]:
    """Enqueue the current period's job of every entry whose job has a handler, unless that job's previous copy
    still waits; the queue drops repeats."""
    enqueued = []
    for entry in schedule:
        job_id = entry.job_id(now)
        if job_id is None or entry.job_name not in known:
            continue
        try:
            enqueued.append(queue.enqueue(entry.job_name, entry.payload, job_id=job_id, coalesce=True))
        except CryptopayError as error:
            log.warning("could not enqueue %s: %s", job_id, error.message)
    return enqueued


class Scheduler:
    """Ticks every ``tick`` seconds until stopped, enqueuing due periods (run it in a thread or its own process)."""

    def __init__(
        self,
        queue: JobQueue,
        clock: Clock,
        *,
        schedule: Sequence[Entry] = SCHEDULE,
        known: Container[str],
        tick: float = 1.0,
    ) -> None:
        self._queue, self._clock, self._schedule, self._known, self._tick = queue, clock, schedule, known, tick
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            enqueue_due(self._queue, self._schedule, self._clock.now(), known=self._known)
            self._stop.wait(self._tick)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="cryptopay-scheduler", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
