"""The composition root: validated ``Settings`` in, one frozen, fully typed ``Services`` out, for all three shells.

The HTTP app factory (``create_app(services)``), the CLI and the worker all take ``Services``; none of them wires
adapters by hand or looks anything up by name. Every part is built lazily, on first use, so a command that needs
only the ledger never builds an M-Pesa client (and never needs its credentials).

Embedded defaults: SQLite under ``.cryptopay/``, the inline queue, no Redis. Production: set
``CRYPTOPAY_DATABASE_URL`` (PostgreSQL) and ``CRYPTOPAY_REDIS_URL`` (RQ), plus the M-Pesa, FX and vault variables.

>>> import tempfile
>>> services = build(Settings.from_env({"CRYPTOPAY_DATA_DIR": tempfile.mkdtemp()}))
>>> services.settings.queue_backend, services.ledger.trial_balance()
('inline', {})
>>> services.close()
"""

from __future__ import annotations

import functools
import os

from cryptopay.adapters.bootstrap.api_settings import ApiSettings
from cryptopay.adapters.bootstrap.lazy import Lazy, missing, ready
from cryptopay.adapters.bootstrap.services import Services
from cryptopay.adapters.bootstrap.settings import ChainSettings, Settings
from cryptopay.adapters.bootstrap.web_settings import WebSettings
from cryptopay.adapters.bootstrap.wiring import PAYOUT_JOBS, Parts, payout_urls
from cryptopay.core.compliance.reports import Reporting
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.privacy import SubjectExports
from cryptopay.core.system import RandomIds, SystemClock

__all__ = [
    "PAYOUT_JOBS",
    "ApiSettings",
    "ChainSettings",
    "Lazy",
    "Services",
    "Settings",
    "WebSettings",
    "build",
    "load",
    "missing",
    "payout_urls",
    "ready",
    "reset",
]


def build(settings: Settings | None = None, *, clock: Clock | None = None, ids: IdGenerator | None = None) -> Services:
    """The deployment's ``Services`` from ``settings`` (the environment by default); nothing is built yet."""
    the_settings = settings or Settings.from_env()
    parts = Parts(the_settings, clock=clock or SystemClock(), ids=ids or RandomIds())
    return Services(
        settings=the_settings,
        clock=parts.clock,
        ids=parts.ids,
        uow=Lazy(lambda: parts.storage.unit_of_work),
        webhooks_uow=Lazy(lambda: parts.storage.unit_of_work),
        ledger=Lazy(lambda: parts.ledger),
        quotes=Lazy(lambda: parts.quotes),
        personal_sealing=Lazy(lambda: parts.personal_sealing),
        users=Lazy(lambda: parts.users),
        refresh_tokens=Lazy(lambda: parts.refresh_tokens),
        merchants=Lazy(lambda: parts.merchants),
        team_store=Lazy(lambda: parts.team_store),
        team_units=Lazy(lambda: parts.storage.unit_of_work),
        api_keys=Lazy(lambda: parts.api_keys),
        idempotency=Lazy(lambda: parts.idempotency),
        password_hasher=Lazy(lambda: parts.password_hasher),
        rate_limiter=Lazy(lambda: parts.rate_limiter),
        audit=Lazy(lambda: parts.audit),
        notifier=Lazy(lambda: parts.notifier),
        sms=Lazy(lambda: parts.sms),
        totp=Lazy(lambda: parts.totp),
        vault=Lazy(lambda: parts.vault),
        hot_key_store=Lazy(lambda: parts.hot_key_store),
        session_epoch=Lazy(lambda: parts.identity_epoch),
        pricer=Lazy(lambda: parts.pricer),
        mobile_money=Lazy(lambda: parts.mobile_money),
        rails=Lazy(lambda: parts.invoice_rails),  # what merchants may invoice on: a network with its xpub
        queue=Lazy(lambda: parts.queue),
        webhook_sender=Lazy(lambda: parts.webhook_sender),
        invoicing=Lazy(lambda: parts.invoicing),
        detection=Lazy(lambda: parts.detection),
        settling=Lazy(lambda: parts.settling),
        payouts=Lazy(lambda: parts.payouts),
        refunds=Lazy(lambda: parts.refunds),
        held_payments=Lazy(lambda: parts.held_payments),
        payment_links=Lazy(lambda: parts.payment_links),
        kyc_review=Lazy(lambda: parts.kyc_review),
        monitoring=Lazy(lambda: parts.monitoring),
        screening=Lazy(lambda: parts.screening),
        travel_rule=Lazy(lambda: parts.travel_rule),
        reporting=Lazy(
            lambda: Reporting(
                uow=parts.storage.unit_of_work,
                clock=parts.clock,
                parties_of=parts.officer_parties,
                party_names=lambda party: parts.kyc_review.party_name(party),  # an internal transfer's other side
            )
        ),
        subject_exports=Lazy(
            lambda: SubjectExports(parts.storage.unit_of_work, parts.ledger, parts.clock, parts.notifier, parts.sms)
        ),
        retention=Lazy(lambda: parts.retention),
        closing=Lazy(lambda: parts.closing),
        listings=Lazy(lambda: parts.listings),
        transactions=Lazy(lambda: parts.transactions),
        reports=Lazy(lambda: parts.reports),
        wallets=Lazy(lambda: parts.wallets),
        wallet_signup=Lazy(lambda: parts.wallet_signup),
        wallet_buys=Lazy(lambda: parts.wallet_buys),
        paybill=Lazy(lambda: parts.paybill),
        wallet_sells=Lazy(lambda: parts.wallet_sells),
        wallet_bills=Lazy(lambda: parts.wallet_bills),
        remittances=Lazy(lambda: parts.remittances),
        withdrawals=Lazy(lambda: parts.withdrawals),
        wallet_deposits=Lazy(lambda: parts.wallet_deposits),
        reconciliation=Lazy(lambda: parts.reconciliation),
        float_balance=Lazy(lambda: parts.float_balance),
        treasury=Lazy(lambda: parts.treasury),
        sweeps=Lazy(lambda: parts.sweeps),
        rebalancing=Lazy(lambda: parts.rebalancing),
        dead_jobs=Lazy(lambda: parts.dead_jobs),
        jobs=Lazy(lambda: parts.jobs),
        job_registry=Lazy(lambda: parts.job_registry),
        readiness_checks=parts.readiness_checks(),
        warm_ups=parts.warm_ups(),
        daraja_callback_sources=the_settings.daraja_callback_sources,
        job_routes=parts.job_routes,
        allow_insecure_urls=the_settings.webhook_allow_loopback,
        webhook_max_endpoints=the_settings.webhook_max_endpoints,
        closers=parts.closers,
    )


def load() -> Services:
    """The process-wide ``Services`` for the current ``CRYPTOPAY_*`` environment (the CLI and the worker use it)."""
    return _load(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("CRYPTOPAY_"))))


def reset() -> None:
    """Close and forget the process-wide ``Services`` (the next ``load()`` builds new ones)."""
    if _load.cache_info().currsize:
        load().close()
    _load.cache_clear()


@functools.lru_cache(maxsize=1)
def _load(env: tuple[tuple[str, str], ...]) -> Services:
    return build(Settings.from_env(dict(env)))
