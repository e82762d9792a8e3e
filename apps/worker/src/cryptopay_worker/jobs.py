"""The worker's job handlers and the registry that maps job names to them.

The handlers here are module-level functions that take the JSON payload and resolve their ports from
``services()``. Jobs whose use cases live elsewhere (``LEAD_JOBS``) are registered from ``services().jobs``,
which the composition root fills in; a name it leaves out simply has no handler (and is not scheduled).
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptopay.core.ports.queue import JobHandler, JobRegistry, Payload
from cryptopay.core.relay import RELAY_JOB, relay_outbox
from cryptopay.core.webhooks import DELIVER_JOB, SWEEP_JOB, deliver_webhook, sweep_webhooks

from cryptopay_worker.services import WorkerServices, services

__all__ = [
    "AUDIT_ANCHOR",
    "CHAIN_CONFIRM",
    "CHAIN_SCAN",
    "COMPLIANCE_MONITOR",
    "COMPLIANCE_RESCREEN",
    "CORE_JOBS",
    "FX_REFRESH",
    "INVOICE_EXPIRE",
    "KYC_SWEEP_DOCUMENTS",
    "LEAD_JOBS",
    "LEDGER_SEAL",
    "METRICS_MEASURE",
    "OUTBOX_RELAY",
    "PAYOUT_START",
    "PAYOUT_STATUS",
    "PRIVACY_RETENTION",
    "RECONCILIATION_PRUNE",
    "RECONCILIATION_RUN",
    "REFUND_SEND",
    "REMITTANCE_ADVANCE",
    "SETTLEMENT_RUN",
    "TREASURY_MEASURE",
    "TREASURY_SWEEP",
    "WALLET_CLAIMS_EXPIRE",
    "WALLET_PAYBILL_VERIFY",
    "WALLET_QUOTES_PRUNE",
    "WALLET_STK_QUERY",
    "WALLET_WITHDRAWALS",
    "WEBHOOK_DELIVER",
    "WEBHOOK_SWEEP",
    "build_registry",
    "deliver_webhook_job",
    "relay_outbox_job",
    "sweep_webhooks_job",
]

OUTBOX_RELAY = RELAY_JOB
WEBHOOK_DELIVER = DELIVER_JOB
WEBHOOK_SWEEP = SWEEP_JOB
CHAIN_SCAN = "chains.scan"
CHAIN_CONFIRM = "chains.confirm"
INVOICE_EXPIRE = "invoices.expire"
SETTLEMENT_RUN = "settlements.run"
PAYOUT_START = "payouts.start"
PAYOUT_STATUS = "payouts.query_status"
FX_REFRESH = "fx.refresh"
REFUND_SEND = "refunds.send"
RECONCILIATION_RUN = "reconciliation.run"  # alerts (audit record, error log, gauges) on any difference
RECONCILIATION_PRUNE = "reconciliation.prune"  # stored run results past their retention (RunRetention)
METRICS_MEASURE = "metrics.measure"  # the business gauges docs/alerts.rules.yml watches
COMPLIANCE_MONITOR = "compliance.monitor"  # AML batch rules over recent movements; overdue cases warned
COMPLIANCE_RESCREEN = "compliance.rescreen"  # verified parties and remittances under way against the latest lists
KYC_SWEEP_DOCUMENTS = "kyc.sweep_documents"  # stored document blobs no application names, past an hour's grace
PRIVACY_RETENTION = "privacy.retention"  # anonymise people whose relationship ended past the retention period
TREASURY_SWEEP = "treasury.sweep"  # sweep deposit addresses above the threshold into the hot wallets
TREASURY_MEASURE = "treasury.measure"  # float and inventory gauges (books against M-Pesa and the chains)
WALLET_CLAIMS_EXPIRE = "wallets.expire_claims"  # claim waiting transfers that now fit; after 7 days, return
WALLET_QUOTES_PRUNE = "wallets.prune_quotes"  # quote claims a week past their window (wallet trades, refunds)
WALLET_STK_QUERY = "wallets.stk_query"  # buys whose STK callback has not come: ask STK Query
WALLET_PAYBILL_VERIFY = "wallets.paybill_verify"  # Transaction Status: paybill confirmations, late reversals
REMITTANCE_ADVANCE = "remittances.advance"  # remittance orders: pay out, tell the recipient, retry, refund
WALLET_WITHDRAWALS = "wallets.withdrawals"  # send withdrawals past their cool-off, follow sent ones to the end
AUDIT_ANCHOR = "audit.anchor"  # log the audit head (seq, hash) at INFO: the outside copy `audit verify --anchor` checks
LEDGER_SEAL = "ledger.seal"  # committed ledger entries sealed into the audit chain, a record per batch (R10-6)

# The composition root supplies these handlers in ``WorkerServices.jobs``.
LEAD_JOBS = (
    CHAIN_SCAN,
    CHAIN_CONFIRM,
    INVOICE_EXPIRE,
    SETTLEMENT_RUN,
    PAYOUT_START,
    PAYOUT_STATUS,
    REFUND_SEND,
    FX_REFRESH,
    RECONCILIATION_RUN,
    RECONCILIATION_PRUNE,
    METRICS_MEASURE,
    TREASURY_SWEEP,
    TREASURY_MEASURE,
    WALLET_CLAIMS_EXPIRE,
    WALLET_QUOTES_PRUNE,
    WALLET_STK_QUERY,
    WALLET_PAYBILL_VERIFY,
    REMITTANCE_ADVANCE,
    WALLET_WITHDRAWALS,
    COMPLIANCE_MONITOR,
    COMPLIANCE_RESCREEN,
    KYC_SWEEP_DOCUMENTS,
    PRIVACY_RETENTION,
    AUDIT_ANCHOR,
    LEDGER_SEAL,
)


def relay_outbox_job(payload: Payload) -> None:
    """Publish due outbox messages: webhook deliveries and routed jobs."""
    s = services()
    limit = payload.get("limit", 100)
    relay_outbox(
        uow_factory=s.uow_factory,
        queue=s.queue,
        clock=s.clock,
        ids=s.ids,
        routes=s.outbox_routes,
        limit=limit if isinstance(limit, int) else 100,
    )


def deliver_webhook_job(payload: Payload) -> None:
    """One attempt at one webhook delivery (a no-op when it is not due)."""
    s = services()
    deliver_webhook(
        str(payload["delivery_id"]),
        uow_factory=s.uow_factory,
        sender=s.webhook_sender,
        queue=s.queue,
        clock=s.clock,
        schedule=s.retry_schedule,
        lease=s.webhook_lease,
    )


def sweep_webhooks_job(payload: Payload) -> None:
    """Re-nudge webhook deliveries whose job was lost."""
    s = services()
    sweep_webhooks(uow_factory=s.uow_factory, queue=s.queue, clock=s.clock, grace=s.sweep_grace)


CORE_JOBS: Mapping[str, JobHandler] = {
    OUTBOX_RELAY: relay_outbox_job,
    WEBHOOK_DELIVER: deliver_webhook_job,
    WEBHOOK_SWEEP: sweep_webhooks_job,
}


def build_registry(services_: WorkerServices) -> JobRegistry:
    """The jobs the composition root supplied (the same ones its inline queue runs), and the worker's own
    handlers for the outbox and webhook jobs it left out (embedders handing in bare ports)."""
    registry = JobRegistry()
    for name, handler in {**CORE_JOBS, **services_.jobs}.items():
        registry.register(name, handler)
    return registry
