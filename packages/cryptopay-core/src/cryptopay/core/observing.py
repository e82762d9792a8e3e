"""Business gauges for alerting: invoices by state, payments seen and confirmed, payouts by state and age,
settlements past their promise, float, queue backlog, dead letters and failed jobs, remittances by state and those
waiting on M-Pesa's Transaction Status (``cryptopay.core.remittances.watch``), and on PostgreSQL how full its
``NOTIFY`` queue is (``cryptopay_pg_notification_queue_usage_ratio``: the invoice read cache's feed,
docs/operations.md), and paybill payments M-Pesa's Transaction Status did not confirm
(``cryptopay_paybill_unverified_total``: nothing was booked for them, so only this, their ``paybill.unverified``
audit record and a log warning tell an operator; a payment counts once it was unverified, whatever an operator did
with it since (re-verified, credited, reversed), so the count only grows: a counter, its alert
``CryptopayPaybillUnverified`` reads ``increase()``), and wallet sends held for a frozen recipient that no officer
decided yet (``cryptopay_held_sends_waiting`` and the oldest one's age, ``cryptopay_held_send_oldest_age_seconds``:
the sender was told nothing and the money sits in ``p2p_held``, so a send left undecided is seen only by this; its
alert ``CryptopayHeldSendUndecided`` fires once one waits a day; one an officer kept held is counted, not aged),
and the sanctions lists screened against (``cryptopay_sanctions_lists_loaded``, how many sources have a snapshot,
and ``cryptopay_sanctions_list_age_seconds{source}``, the age of each source's newest one: with none loaded every
screening outside the officers' own refuses nothing, so ``CryptopaySanctionsListsMissing`` and
``CryptopaySanctionsListOld``, older than 7 days, page), and what waits for a list while screening is required
(``cryptopay_screening_waiting{kind}``: held withdrawals and refunds, paid remittances not paid out, KYC
applications screened against nothing yet; ``compliance.screening_waits``).

Compliance's desks (review12 R12-10), each a count and the oldest one's age, as the held sends: merchant payments
held for a listed payer no officer decided (``cryptopay_held_payments_waiting``,
``cryptopay_held_payment_oldest_age_seconds``, from its crediting), wallet deposits held
(``cryptopay_held_deposits_waiting``, ``cryptopay_held_deposit_oldest_age_seconds``, from when it was seen), open
AML alerts in no case (``cryptopay_aml_alerts_open``, ``cryptopay_aml_alert_oldest_age_seconds``; the blocking ones,
money held or refused on a sanctions match, also as ``cryptopay_aml_blocking_alerts_open`` and
``cryptopay_aml_blocking_alert_oldest_age_seconds``: paged at once, R14-7) and cases past
their deadline (``cryptopay_compliance_cases_overdue``, ``cryptopay_compliance_case_overdue_seconds``: how far the
most overdue is past it); held remittances already have ``cryptopay_remittance_oldest_age_seconds{state="held"}``.

The HTTP app counts requests; these are the numbers an operator is paged on (the rules are in
``docs/alerts.rules.yml``). ``measure`` reads them with bounded port queries (at most ``limit`` rows per state, so
a backlog larger than that reads as ``limit``: an alert fires long before) and sets one gauge each.

``Settling.overdue`` (settlements still paying after their ``complete_by``, cut-off + 2 hours) feeds
``cryptopay_settlements_overdue`` and ``cryptopay_settlement_lag_seconds``.

Jobs: ``cryptopay_jobs_dead`` is how many dead jobs the queue keeps (counted, never read, so as cheap with a large
backlog); ``cryptopay_job_failures_total`` is the queue's counters of failed attempts, ``outcome="retried"`` or
``"dead"``, kept where each failure happened: a counter that a requeue cannot lower, so ``increase()`` over it
sees every failure even when the dead job was requeued before this measure ran.

Webhooks likewise: ``cryptopay_webhook_dead_letters`` is how many deliveries are dead now (a redelivery lowers it);
``cryptopay_webhook_dead_letters_total`` is how many times a delivery became dead, ever, counted in the database in
the transaction that dead-lettered it (``WebhookDeliveries.dead_lettered``), which the alert's ``increase()`` reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

import attrs
from cryptopay.core import flows
from cryptopay.core.compliance.cases import AlertStatus, Case, CaseStatus
from cryptopay.core.errors import NotFound
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.ledger import Ledger
from cryptopay.core.payments._support import transaction
from cryptopay.core.payouts.model import Payout, PayoutState
from cryptopay.core.ports.monitoring import Metrics, NotificationQueue
from cryptopay.core.ports.queue import Backlog, DeadLetters, JobFailures
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock
from cryptopay.core.remittances.watch import RemittanceWatch, watch_remittances
from cryptopay.core.settlement.model import SettlementState
from cryptopay.core.settlement.service import Settling
from cryptopay.core.webhooks.model import DeliveryStatus
from cryptopay.core.webhooks.service import UowFactory as WebhookUowFactory

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from cryptopay.core.compliance.screening import Snapshot
    from cryptopay.core.ports.compliance import MonitoringUnitOfWork
    from cryptopay.core.ports.deposits import DepositUnitOfWork
    from cryptopay.core.ports.paybill import PaybillUowFactory
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory
    from cryptopay.core.ports.reconciliation import BalanceQueryStore
    from cryptopay.core.ports.remittances import RemittanceReadUowFactory
    from cryptopay.core.ports.wallets import WalletUowFactory
    from cryptopay.core.ports.webhooks import WebhookUnitOfWork

__all__ = ["PENDING_PAYOUTS", "Measures", "Observing"]

PENDING_PAYOUTS = (PayoutState.PLANNED, PayoutState.SUBMITTED, PayoutState.UNKNOWN)


@attrs.frozen
class Measures:
    """What one ``measure`` read (also set as gauges)."""

    invoices: dict[str, int]
    payments_unconfirmed: int
    payments_confirmed: int
    payouts: dict[str, int]
    oldest_payout_seconds: dict[str, float]
    settlements_paying: int
    settlements_overdue: int
    settlement_lag_seconds: float
    float_kes: float | None
    webhook_dead_letters: int
    jobs_dead: int | None
    jobs_waiting: dict[str, int] | None = None
    job_failures: list[JobFailures] | None = None  # None: no queue given
    wrong_network_pending: int = 0  # payments on an EVM network their invoice did not ask for, undecided
    remittances: RemittanceWatch | None = None  # None: no remittance store given
    notification_queue_usage: float | None = None  # None: the database has no notification queue (SQLite)
    webhook_dead_lettered: int = 0  # times a delivery became dead, ever (redeliveries do not lower it)
    paybill_unverified: int | None = None  # paybill payments Transaction Status did not confirm; None: no paybill
    held_sends: int | None = None  # wallet sends held for a frozen recipient, undecided; None: no wallets given
    held_send_oldest_seconds: float = 0.0  # how long the oldest of those has waited since it was held (0: none)
    sanctions_list_age_seconds: dict[str, float] | None = None  # by source, its newest snapshot's age; None: not given
    desks: dict[str, tuple[int, float]] = attrs.field(factory=dict)  # compliance's desks: (count, oldest age s)
    screening_waiting: dict[str, int] | None = None  # by kind, what waits for a sanctions list; None: not given


class Observing:
    """Reads the business state an operator is alerted on and sets the ``Metrics`` gauges."""

    def __init__(
        self,
        *,
        uow: PaymentsUowFactory,
        clock: Clock,
        ledger: Ledger,
        settling: Settling,
        webhooks: WebhookUowFactory,
        metrics: Metrics,
        dead_letters: DeadLetters | None = None,
        balances: BalanceQueryStore | None = None,
        backlog: Backlog | None = None,
        remittances: RemittanceReadUowFactory | None = None,
        notifications: NotificationQueue | None = None,
        paybill: PaybillUowFactory | None = None,
        wallets: WalletUowFactory | None = None,
        sanctions: Callable[[], Sequence[Snapshot]] | None = None,
        monitoring: Callable[[], AbstractContextManager[MonitoringUnitOfWork]] | None = None,
        deposits: Callable[[], AbstractContextManager[DepositUnitOfWork]] | None = None,
        screening_waits: Callable[[], Mapping[str, int]] | None = None,
        limit: int = 10_000,
    ) -> None:
        self._uow, self._clock, self._ledger, self._settling = uow, clock, ledger, settling
        self._webhooks, self._backlog, self._remittances = webhooks, backlog, remittances
        self._notifications, self._paybill, self._wallets = notifications, paybill, wallets
        self._metrics, self._dead, self._balances, self._limit = metrics, dead_letters, balances, limit
        self._sanctions = sanctions  # every imported snapshot (``Screening.snapshots``)
        self._monitoring, self._deposits = monitoring, deposits  # open alerts and cases; held wallet deposits
        self._screening_waits = screening_waits  # what waits for a sanctions list, by kind (``ScreeningWaits``)

    def measure(self) -> Measures:
        """Read every measure once and set its gauge."""
        now = self._clock.now()
        counts, ages = self._payouts(now)
        held_sends, held_oldest = self._held_sends(now)
        paying, overdue, lag = self._settlements(now)
        invoices, unconfirmed, confirmed = transaction(self._uow, _invoice_counts)
        measures = Measures(
            invoices=invoices,
            payments_unconfirmed=unconfirmed,
            payments_confirmed=confirmed,
            payouts=counts,
            oldest_payout_seconds=ages,
            settlements_paying=paying,
            settlements_overdue=overdue,
            settlement_lag_seconds=lag,
            float_kes=self._float(),
            webhook_dead_letters=in_transaction(self._webhooks, _dead_letters),
            webhook_dead_lettered=in_transaction(self._webhooks, lambda uow: uow.webhook_deliveries.dead_lettered()),
            jobs_dead=self._dead.dead_count() if self._dead is not None else None,
            jobs_waiting=self._backlog.waiting() if self._backlog is not None else None,
            job_failures=self._dead.failures() if self._dead is not None else None,
            wrong_network_pending=transaction(self._uow, lambda uow: uow.wrong_network_payments.count_pending()),
            remittances=self._watch_remittances(now),
            notification_queue_usage=self._notifications.usage() if self._notifications is not None else None,
            paybill_unverified=self._paybill_unverified(),
            held_sends=held_sends,
            held_send_oldest_seconds=held_oldest,
            sanctions_list_age_seconds=self._sanctions_ages(now),
            desks=self._desks(now),
            screening_waiting=dict(self._screening_waits()) if self._screening_waits is not None else None,
        )
        self._export(measures)
        return measures

    def _payouts(self, now: datetime) -> tuple[dict[str, int], dict[str, float]]:
        counts: dict[str, int] = {}
        ages: dict[str, float] = {}
        for state in PENDING_PAYOUTS:
            found = transaction(self._uow, partial(_payouts_in, state=state, limit=self._limit))
            counts[state.value] = len(found)
            ages[state.value] = _oldest([p.created_at for p in found], now)
        return counts, ages

    def _settlements(self, now: datetime) -> tuple[int, int, float]:
        paying = transaction(self._uow, lambda uow: uow.settlements.by_state(SettlementState.PAYING, limit=self._limit))
        overdue = self._settling.overdue(now)
        lag = max(((now - s.complete_by).total_seconds() for s in overdue), default=0.0)
        return len(paying), len(overdue), lag

    def _paybill_unverified(self) -> int | None:
        if self._paybill is None:
            return None
        # ever unverified: re-verifying, crediting or reversing one must not lower a counter the alert reads
        unverified: int = in_transaction(self._paybill, lambda uow: uow.paybill_payments.unverified_ever())
        return unverified

    def _held_sends(self, now: datetime) -> tuple[int | None, float]:
        if self._wallets is None:
            return None, 0.0
        held = in_transaction(self._wallets, lambda uow: uow.wallet_transfers.held(after=None, limit=self._limit))
        undecided = [t.held_at or t.created_at for t in held if t.kept is None]  # a kept one was decided: kept
        return len(held), _oldest(undecided, now)

    def _desks(self, now: datetime) -> dict[str, tuple[int, float]]:
        """Compliance's desks by gauge stem: how many wait on an officer and the oldest one's age (for cases: how
        many are past their deadline and how far the most overdue is past it)."""
        limit = self._limit
        credits = transaction(self._uow, lambda uow: uow.payment_credits.awaiting_decision(after=None, limit=limit))
        desks = {"held_payment": (len(credits), _oldest([c.credited_at for c in credits], now))}
        if self._deposits is not None:
            held = in_transaction(self._deposits, lambda uow: uow.wallet_deposits.held(after=None, limit=limit))
            desks["held_deposit"] = (len(held), _oldest([d.seen_at for d in held], now))
        if self._monitoring is not None:
            alerts = in_transaction(self._monitoring, lambda uow: uow.alerts.list(status=AlertStatus.OPEN, limit=limit))
            desks["aml_alert"] = (len(alerts), _oldest([a.created_at for a in alerts], now))
            blocking = [a.created_at for a in alerts if a.blocking]  # money held or refused on it (R14-7)
            desks["aml_blocking_alert"] = (len(blocking), _oldest(blocking, now))
            late = [
                case.deadline
                for status in CaseStatus
                if not status.final
                for case in in_transaction(self._monitoring, partial(_cases, status=status, limit=limit))
                if case.overdue(now)
            ]
            desks["compliance_case"] = (len(late), _oldest(late, now))
        return desks

    def _sanctions_ages(self, now: datetime) -> dict[str, float] | None:
        if self._sanctions is None:
            return None
        newest: dict[str, datetime] = {}
        for snapshot in self._sanctions():
            newest[snapshot.source] = max(snapshot.imported_at, newest.get(snapshot.source, snapshot.imported_at))
        return {source: max(0.0, (now - at).total_seconds()) for source, at in newest.items()}

    def _watch_remittances(self, now: datetime) -> RemittanceWatch | None:
        if self._remittances is None:
            return None
        return in_transaction(self._remittances, partial(watch_remittances, now=now, limit=self._limit))

    def _float(self) -> float | None:
        """The float M-Pesa last reported (Account Balance, asked by each reconciliation run), less the payouts
        the books completed since: the books' float moved by ``now - books_then``."""
        answer = self._balances.latest_answered() if self._balances is not None else None
        if answer is None or answer.available is None or answer.books is None:
            return None
        try:
            books_now = self._ledger.balance(flows.FLOAT).posted
        except NotFound:
            books_now = answer.books
        return float((answer.available + (books_now - answer.books)).amount)  # a gauge; the books keep Decimals

    def _export(self, m: Measures) -> None:
        gauge = self._metrics.gauge
        for state, count in m.invoices.items():
            gauge("cryptopay_invoices", count, about="invoices by state", labels={"state": state})
        gauge("cryptopay_payments_unconfirmed", m.payments_unconfirmed, about=_ABOUT_UNCONFIRMED)
        gauge("cryptopay_payments_confirmed", m.payments_confirmed, about=_ABOUT_CONFIRMED)
        for queue, waiting in (m.jobs_waiting or {}).items():
            gauge(
                "cryptopay_jobs_waiting",
                waiting,
                about="jobs not started yet (ready or delayed), per queue",
                labels={"queue": queue},
            )
        for state, count in m.payouts.items():
            gauge("cryptopay_payouts", count, about="payouts not yet final, by state", labels={"state": state})
            age = m.oldest_payout_seconds[state]
            gauge("cryptopay_payout_oldest_age_seconds", age, about=_ABOUT_AGE, labels={"state": state})
        gauge("cryptopay_settlements_paying", m.settlements_paying, about="settlements whose payouts are not final")
        gauge("cryptopay_settlements_overdue", m.settlements_overdue, about="settlements past cut-off + 2 hours")
        gauge("cryptopay_settlement_lag_seconds", m.settlement_lag_seconds, about=_ABOUT_LAG)
        if m.float_kes is not None:
            gauge("cryptopay_float_kes", m.float_kes, about="M-Pesa float: last Account Balance plus book moves since")
        gauge("cryptopay_wrong_network_payments_pending", m.wrong_network_pending, about=_ABOUT_WRONG_NETWORK)
        gauge("cryptopay_webhook_dead_letters", m.webhook_dead_letters, about="webhook deliveries dead-lettered")
        dead_lettered = m.webhook_dead_lettered
        self._metrics.counter("cryptopay_webhook_dead_letters_total", dead_lettered, about=_ABOUT_DEAD_LETTERED)
        if m.jobs_dead is not None:
            gauge("cryptopay_jobs_dead", m.jobs_dead, about="dead jobs kept (failed on every attempt, not requeued)")
        for failed in m.job_failures or []:
            for outcome, count in (("retried", failed.retried), ("dead", failed.dead)):
                labels = {"queue": failed.queue, "outcome": outcome}
                self._metrics.counter("cryptopay_job_failures_total", count, about=_ABOUT_FAILURES, labels=labels)
        if m.remittances is not None:
            self._export_remittances(m.remittances)
        if m.notification_queue_usage is not None:
            usage = m.notification_queue_usage
            gauge("cryptopay_pg_notification_queue_usage_ratio", usage, about=_ABOUT_NOTIFICATIONS)
        if m.paybill_unverified is not None:
            unverified = m.paybill_unverified
            self._metrics.counter("cryptopay_paybill_unverified_total", unverified, about=_ABOUT_PAYBILL_UNVERIFIED)
        if m.held_sends is not None:
            gauge("cryptopay_held_sends_waiting", m.held_sends, about=_ABOUT_HELD_SENDS)
            gauge("cryptopay_held_send_oldest_age_seconds", m.held_send_oldest_seconds, about=_ABOUT_HELD_SEND_AGE)
        if m.sanctions_list_age_seconds is not None:
            ages = m.sanctions_list_age_seconds
            gauge("cryptopay_sanctions_lists_loaded", len(ages), about=_ABOUT_SANCTIONS_LOADED)
            for source, age in ages.items():
                gauge(
                    "cryptopay_sanctions_list_age_seconds", age, about=_ABOUT_SANCTIONS_AGE, labels={"source": source}
                )
        for kind, waiting in (m.screening_waiting or {}).items():
            gauge("cryptopay_screening_waiting", waiting, about=_ABOUT_SCREENING_WAITING, labels={"kind": kind})
        for stem, (desk_count, desk_age) in m.desks.items():
            count_name, age_name, about_count, about_age = _DESKS[stem]
            gauge(count_name, desk_count, about=about_count)
            gauge(age_name, desk_age, about=about_age)
        gauge("cryptopay_observed_at_seconds", self._clock.now().timestamp(), about="when these gauges were read")

    def _export_remittances(self, watch: RemittanceWatch) -> None:
        gauge = self._metrics.gauge
        for state, count in watch.orders.items():
            gauge(
                "cryptopay_remittances",
                count,
                about="remittance orders not yet final, by state",
                labels={"state": state},
            )
            age = watch.oldest_seconds[state]
            gauge("cryptopay_remittance_oldest_age_seconds", age, about=_ABOUT_ORDER_AGE, labels={"state": state})
        gauge("cryptopay_remittances_awaiting_status", watch.awaiting_status, about=_ABOUT_AWAITING)
        oldest = watch.awaiting_status_oldest_seconds
        gauge("cryptopay_remittance_awaiting_status_oldest_seconds", oldest, about=_ABOUT_AWAITING_AGE)


_ABOUT_FAILURES = "failed job attempts, by queue and outcome (retried, or dead: no retry left); use increase()"
_ABOUT_DEAD_LETTERED = "times a webhook delivery was dead-lettered, ever (redeliveries do not lower it); use increase()"
_ABOUT_AGE = "age of the oldest payout in this state (0 when none)"
_ABOUT_UNCONFIRMED = "invoices with payments seen on chain, still short of their confirmations"
_ABOUT_CONFIRMED = "payments confirmed and credited, ever (only grows: use increase())"
_ABOUT_WRONG_NETWORK = "payments to an invoice's address on a network or in an asset it did not ask for, undecided"
_ABOUT_ORDER_AGE = "age of the oldest remittance order in this state, from its opening (0 when none)"
_ABOUT_AWAITING = "remittances whose payout failed, waiting on Transaction Status before a retry or refund"
_ABOUT_AWAITING_AGE = "how long the longest of those has waited since its payout failed (0 when none)"
_ABOUT_NOTIFICATIONS = "PostgreSQL's LISTEN/NOTIFY queue in use, 0 to 1 (at 1 invoice updates fail at commit)"
_ABOUT_HELD_SENDS = "wallet sends held for a frozen recipient that no officer decided yet"
_ABOUT_HELD_SEND_AGE = "how long the oldest undecided held send has waited since it was held (0 when none)"
_ABOUT_PAYBILL_UNVERIFIED = (
    "paybill payments M-Pesa's Transaction Status did not confirm, nothing booked, ever; use increase()"
)
_DESKS = {  # stem: (count gauge, age gauge, about the count, about the age)
    "held_payment": (
        "cryptopay_held_payments_waiting",
        "cryptopay_held_payment_oldest_age_seconds",
        "merchant payments held for a listed payer that no officer decided yet",
        "how long the oldest undecided held merchant payment has waited since it was credited (0 when none)",
    ),
    "held_deposit": (
        "cryptopay_held_deposits_waiting",
        "cryptopay_held_deposit_oldest_age_seconds",
        "wallet deposits held for compliance",
        "how long the oldest held wallet deposit has waited since it was seen (0 when none)",
    ),
    "aml_alert": (
        "cryptopay_aml_alerts_open",
        "cryptopay_aml_alert_oldest_age_seconds",
        "AML alerts open, in no case yet",
        "age of the oldest open AML alert (0 when none)",
    ),
    "aml_blocking_alert": (
        "cryptopay_aml_blocking_alerts_open",
        "cryptopay_aml_blocking_alert_oldest_age_seconds",
        "blocking AML alerts (a sanctions match holding a party's money) open, in no case yet",
        "age of the oldest open blocking AML alert (0 when none)",
    ),
    "compliance_case": (
        "cryptopay_compliance_cases_overdue",
        "cryptopay_compliance_case_overdue_seconds",
        "compliance cases not concluded and past their deadline",
        "how far the most overdue compliance case is past its deadline (0 when none)",
    ),
}
_ABOUT_SANCTIONS_LOADED = "sanctions list sources with a snapshot imported (0: screening refuses nothing)"
_ABOUT_SANCTIONS_AGE = "age of the newest imported snapshot of this sanctions list source"
_ABOUT_SCREENING_WAITING = "held until a sanctions list is loaded (screening required), by kind"
_ABOUT_LAG = "how far the most overdue settlement is past its complete_by (0 when none)"


def _invoice_counts(uow: PaymentsUnitOfWork) -> tuple[dict[str, int], int, int]:
    """Invoices by state (every state, zero included), those with unconfirmed payments, and confirmed payments."""
    counts = uow.invoices.count_by_state()
    by_state = {state.value: counts.get(state, 0) for state in InvoiceState}
    return by_state, uow.invoices.count_unconfirmed(), uow.payment_credits.count()


def _dead_letters(uow: WebhookUnitOfWork) -> int:
    return uow.webhook_deliveries.count(DeliveryStatus.DEAD)


def _payouts_in(uow: PaymentsUnitOfWork, *, state: PayoutState, limit: int) -> list[Payout]:
    return uow.payouts.by_state(state, limit=limit)


def _cases(uow: MonitoringUnitOfWork, *, status: CaseStatus, limit: int) -> list[Case]:
    return uow.cases.list(status=status, limit=limit)


def _oldest(times: Sequence[datetime], now: datetime) -> float:
    return max(((now - t).total_seconds() for t in times), default=0.0)
