"""``Services`` over fakes, for the shells' tests: the identity stores in memory, and a ``PaymentsStack``'s parts.

Production builds ``Services`` with ``cryptopay.adapters.bootstrap.build(settings)``; tests construct the same type
with their own parts (``ready(port)``), so the shells see exactly what they see in production.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import attrs
from cryptopay.adapters.bootstrap import ApiSettings, Services, Settings, ready
from cryptopay.adapters.documents import PillowProbe
from cryptopay.adapters.passwords import Argon2Hasher
from cryptopay.adapters.ratelimit import ProcessRateLimiter
from cryptopay.adapters.sanctions import RapidfuzzMatcher
from cryptopay.adapters.vault import EnvelopeVault, generate_kek
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.reports import Reporting
from cryptopay.core.compliance.rules import default_rules
from cryptopay.core.compliance.screening import Screening
from cryptopay.core.kyc.review import KycReview
from cryptopay.core.ledger import Ledger
from cryptopay.core.ports.identity import AuditTrail, PasswordHasher, UserRepository
from cryptopay.core.ports.notifications import Notifier
from cryptopay.core.ports.privacy import PrivacyUowFactory
from cryptopay.core.ports.queue import JobQueue
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.privacy import SubjectExports
from cryptopay.core.privacy.closing import MerchantClosing
from cryptopay.core.privacy.retention import RetentionPurge
from cryptopay.core.rails import Rail
from cryptopay.core.reports import Reports
from cryptopay.core.search import TransactionSearch
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.deposits import InMemoryWalletDeposits
from cryptopay.core.testing.identity import (
    InMemoryApiKeys,
    InMemoryIdempotency,
    InMemoryMerchants,
    InMemoryRefreshTokens,
    InMemoryTeams,
    InMemoryUsers,
    StdlibTotp,
)
from cryptopay.core.testing.kyc import InMemoryDocumentStore, InMemoryKycApplications, InMemoryKycProfiles
from cryptopay.core.testing.ledger import InMemoryLedgerStore
from cryptopay.core.testing.notifications import InMemoryNotifier
from cryptopay.core.testing.payments import InMemoryPayouts
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.search import InMemoryTransactionIndex
from cryptopay.core.testing.storage import InMemoryAuditLog, InMemoryStorage
from cryptopay.core.testing.wallets import InMemoryBuys, InMemoryTransfers, InMemoryWallets
from cryptopay.core.testing.withdrawals import InMemoryWithdrawals
from cryptopay.core.webhooks import UowFactory
from flask import Flask

from tests.support.wallet_stack import WalletStack

TEST_SETTINGS = Settings(data_dir=Path(".cryptopay-tests"), database_url="sqlite://")


def in_memory_services(
    *, clock: Clock | None = None, ids: IdGenerator | None = None, hasher: PasswordHasher | None = None
) -> Services:
    """The identity stores, limiter and hasher in memory; every payment part is missing (503 when used)."""
    the_clock, the_ids, notifier = clock or SystemClock(), ids or RandomIds(), InMemoryNotifier()
    watch = InMemoryStorage(**monitoring_repositories())  # the monitoring journal, alerts and cases
    users, tokens, audit = InMemoryUsers(), InMemoryRefreshTokens(), InMemoryAuditLog()
    merchants = InMemoryMerchants()
    people = _people(users, tokens, audit, merchants)
    api_keys, retention = InMemoryApiKeys(), RetentionPurge(people, Ledger(InMemoryLedgerStore()), the_clock)
    return Services(
        settings=TEST_SETTINGS,
        clock=the_clock,
        ids=the_ids,
        users=ready(users),
        refresh_tokens=ready(tokens),
        merchants=ready(merchants),
        api_keys=ready(api_keys),
        idempotency=ready(InMemoryIdempotency()),
        team_store=ready(InMemoryTeams()),
        rate_limiter=ready(ProcessRateLimiter(the_clock)),
        password_hasher=ready(hasher or Argon2Hasher()),
        audit=ready(audit),
        notifier=ready(notifier),
        totp=ready(StdlibTotp()),
        subject_exports=ready(SubjectExports(people, Ledger(InMemoryLedgerStore()), the_clock, notifier)),
        retention=ready(retention),
        closing=ready(MerchantClosing(retention, api_keys, audit, the_clock)),
        kyc_review=ready(kyc_review(clock=the_clock, ids=the_ids, notifier=notifier)),
        monitoring=ready(monitoring(watch, clock=the_clock, ids=the_ids)),
        screening=ready(screening(clock=the_clock, ids=the_ids)),
        reporting=ready(Reporting(uow=watch.unit_of_work, clock=the_clock)),
    )


def _people(
    users: InMemoryUsers, tokens: InMemoryRefreshTokens, audit: InMemoryAuditLog, merchants: InMemoryMerchants
) -> PrivacyUowFactory:
    """The identity stores (with the merchants) as a data-protection unit of work (``SubjectExports.find`` reads
    the users and audits; an export reads the sessions too, and finds no KYC, wallet or payouts here; closing a
    merchant reads and updates it; the in-memory identity stores have no transaction to roll back)."""
    empty = {
        "kyc": InMemoryKycProfiles(),
        "kyc_applications": InMemoryKycApplications(),
        "wallets": InMemoryWallets(),
        "wallet_transfers": InMemoryTransfers(),
        "wallet_buys": InMemoryBuys(),
        "wallet_deposits": InMemoryWalletDeposits(),
        "withdrawals": InMemoryWithdrawals(),
        "payouts": InMemoryPayouts(),
    }

    @contextmanager
    def unit_of_work() -> Iterator[Any]:
        yield SimpleNamespace(users=users, refresh_tokens=tokens, audit=audit, merchants=merchants, **empty)

    return cast(PrivacyUowFactory, unit_of_work)


def _closings(merchants: InMemoryMerchants, audit: AuditTrail) -> PrivacyUowFactory:
    """The stack's merchants and the services' audit trail as the unit of work closing a merchant needs."""

    @contextmanager
    def unit_of_work() -> Iterator[Any]:
        yield SimpleNamespace(merchants=merchants, audit=audit)

    return cast(PrivacyUowFactory, unit_of_work)


def screening(*, clock: Clock, ids: IdGenerator) -> Screening:
    """Sanctions screening over in-memory lists and rapidfuzz."""
    storage = InMemoryStorage(**monitoring_repositories())
    return Screening(uow=storage.unit_of_work, matcher=RapidfuzzMatcher(), clock=clock, ids=ids)


def monitoring(storage: InMemoryStorage, *, clock: Clock, ids: IdGenerator) -> Monitoring:
    """AML monitoring over in-memory storage and the core's default rules."""
    return Monitoring(uow=storage.unit_of_work, rules=default_rules(), clock=clock, ids=ids)


def kyc_review(*, clock: Clock, ids: IdGenerator, notifier: Notifier) -> KycReview:
    """The KYC review over in-memory storage and documents, a real envelope vault and Pillow."""
    storage = InMemoryStorage(kyc=InMemoryKycProfiles(), kyc_applications=InMemoryKycApplications())
    return KycReview(
        uow=storage.unit_of_work,
        documents=InMemoryDocumentStore(),
        vault=EnvelopeVault.from_spec(f"test:{generate_kek()}"),
        probe=PillowProbe(),
        notifier=notifier,
        clock=clock,
        ids=ids,
    )


def _transaction_search(stack: PaymentsStack) -> TransactionSearch | None:
    """The search over the stack's in-memory storage (a stack on SQL is searched by the SQL index instead)."""
    if isinstance(stack.storage, InMemoryStorage):
        return TransactionSearch(InMemoryTransactionIndex(stack.storage))
    return None


def with_api(services: Services, api: ApiSettings) -> Services:
    """``services`` whose settings carry the API's settings."""
    return attrs.evolve(services, settings=attrs.evolve(services.settings, api=api))


def with_stack(
    services: Services,
    stack: PaymentsStack,
    *,
    rails: Mapping[str, Rail] | None = None,
    users: UserRepository | None = None,
    webhooks_uow: UowFactory | None = None,
    queue: JobQueue | None = None,
    audit: AuditTrail | None = None,
    notifier: Notifier | None = None,
) -> Services:
    """``services`` with the payment use cases and ports of ``stack`` (and, if given, its rails, users, webhooks)."""
    trail = audit or services.audit
    extra = {
        "webhooks_uow": ready(webhooks_uow) if webhooks_uow else None,
        "queue": ready(queue) if queue else None,
        "users": ready(users) if users else None,
        "audit": ready(audit) if audit else None,
        "notifier": ready(notifier) if notifier else None,
        "transactions": ready(search) if (search := _transaction_search(stack)) else None,
    }
    return attrs.evolve(
        services,
        clock=stack.clock,
        ids=stack.ids,
        uow=ready(stack.uow),
        ledger=ready(stack.ledger),
        quotes=ready(stack.pricer._quotes),  # the stack keeps its quote repository inside the pricer
        merchants=ready(stack.merchants),
        pricer=ready(stack.pricer),
        mobile_money=ready(stack.mpesa),
        rails=ready(rails),
        invoicing=ready(stack.invoicing),
        detection=ready(stack.detection),
        settling=ready(stack.settling),
        payouts=ready(stack.payouts),
        refunds=ready(stack.refunds),
        payment_links=ready(stack.payment_links),
        listings=ready(stack.listings),
        reports=ready(Reports(uow=stack.uow, clock=stack.clock, ledger=stack.ledger)),
        reconciliation=ready(stack.reconciliation),
        float_balance=ready(stack.float_balance),
        retention=ready(retention := RetentionPurge(_closings(stack.merchants, trail), stack.ledger, stack.clock)),
        closing=ready(MerchantClosing(retention, services.api_keys, trail, stack.clock, stack.invoicing)),
        **{name: part for name, part in extra.items() if part is not None},
    )


def with_wallets(services: Services, wallets: WalletStack) -> Services:
    """``services`` with the personal-wallet use cases of ``wallets`` (its own storage, users and SMS in memory)."""
    return attrs.evolve(
        services,
        wallets=ready(wallets.wallets),
        wallet_signup=ready(wallets.signup),
        wallet_buys=ready(wallets.buys),
        wallet_sells=ready(wallets.sells),
    )


def stack_services(stack: PaymentsStack, **parts: object) -> Services:
    """A ``Services`` over ``stack`` alone (the CLI's payment commands), identity stores in memory."""
    return with_stack(in_memory_services(clock=stack.clock, ids=stack.ids), stack, **parts)  # type: ignore[arg-type]


def allow_daraja_sources(app: Flask, sources: str) -> None:
    """Give a running app ``CRYPTOPAY_DARAJA_CALLBACK_SOURCES=sources`` (parsed by the root's settings)."""
    allowlist = Settings.from_env({"CRYPTOPAY_DARAJA_CALLBACK_SOURCES": sources}).daraja_callback_sources
    running = app.extensions["cryptopay"]
    services = attrs.evolve(running.services, daraja_callback_sources=allowlist)
    app.extensions["cryptopay"] = attrs.evolve(running, services=services)
