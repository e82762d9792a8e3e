"""How the root builds each real part from ``Settings``: one cached property per part, imported on first use.

``Parts`` is private to the root: the shells see only ``Services``, whose cells call these properties. Heavy
libraries (SQLAlchemy, web3, tronpy, bitcoinlib, httpx, redis) are imported inside the property that needs them,
so building ``Services`` costs nothing and a command pays only for the parts it touches.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from cryptopay.adapters.bootstrap.chains import (
    ChainReader,
    address_validators,
    deriver_map,
    rails_of,
    scan_chains,
    sender_for,
    watcher_for,
)
from cryptopay.adapters.bootstrap.settings import Settings, lookup_key
from cryptopay.core.compliance.feed import MonitoringFeed
from cryptopay.core.compliance.four_eyes import FourEyes
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.screening import Screening
from cryptopay.core.compliance.screening_waits import ScreeningWaits
from cryptopay.core.compliance.travel_rule import ThresholdPolicy, TravelRule
from cryptopay.core.dead_jobs import DeadJobs
from cryptopay.core.errors import CryptopayError, InvalidInput, NotFound, Unavailable
from cryptopay.core.fx import Pair, Quote
from cryptopay.core.identity.teams import parties_of
from cryptopay.core.kyc.gate import PayoutGate
from cryptopay.core.kyc.holds import SanctionsHolds
from cryptopay.core.kyc.review import KycReview
from cryptopay.core.ledger import Ledger
from cryptopay.core.ledger.sealing import LedgerSealing
from cryptopay.core.listings import Listings
from cryptopay.core.mobile_money.requests import (
    AccountBalanceRequest,
    B2BRequest,
    B2CRequest,
    C2BRegistration,
    ReversalRequest,
    StkPushRequest,
    TransactionStatusRequest,
)
from cryptopay.core.mobile_money.results import Acknowledgement, MpesaResult, StkPushAccepted
from cryptopay.core.money import KES, USDT
from cryptopay.core.observing import Observing
from cryptopay.core.payments.detection import Detection
from cryptopay.core.payments.held import HeldPayments
from cryptopay.core.payments.internal import PlatformAddresses
from cryptopay.core.payments.invoicing import Invoicing
from cryptopay.core.payments.links import PaymentLinks
from cryptopay.core.payments.read_cache import UncachedInvoiceReads
from cryptopay.core.payments.refunds import Refunds
from cryptopay.core.payouts.service import Pacing, Payouts, PayoutUrls
from cryptopay.core.ports.chains import (
    AddressDeriver,
    BalanceReader,
    MempoolWatcher,
    ScanCursorStore,
)
from cryptopay.core.ports.fx import QuoteRepository
from cryptopay.core.ports.identity import (
    ApiKeyRepository,
    AuditTrail,
    IdempotencyRepository,
    MerchantRepository,
    PasswordHasher,
    RateLimiter,
    RefreshTokenRepository,
    TeamRepository,
    TotpEngine,
    UserRepository,
)
from cryptopay.core.ports.kyc import DocumentStore
from cryptopay.core.ports.mobile_money import MobileMoneyGateway
from cryptopay.core.ports.monitoring import Metrics, NotificationQueue
from cryptopay.core.ports.notifications import Notifier
from cryptopay.core.ports.payments import InvoiceReads
from cryptopay.core.ports.queue import JobHandler, JobQueue, JobRegistry
from cryptopay.core.ports.reconciliation import BalanceQueryStore, ReconciliationRuns
from cryptopay.core.ports.sms import SmsSender
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.throughput import Throughput, TokenBucket
from cryptopay.core.ports.treasury import Sweeper, TreasuryStore
from cryptopay.core.ports.vault import KeyStore, KeyVault
from cryptopay.core.ports.webhooks import WebhookSender
from cryptopay.core.ports.withdrawals import HotWalletSender
from cryptopay.core.pricing import Pricer
from cryptopay.core.privacy.closing import MerchantClosing
from cryptopay.core.privacy.retention import RetentionPurge
from cryptopay.core.rails import Rail
from cryptopay.core.reconciliation import BalanceUrls, FloatBalance, Reconciliation, RunRetention, Shortcodes
from cryptopay.core.remittances.service import RemittanceRules, Remittances, RetryPolicy
from cryptopay.core.reports import Reports
from cryptopay.core.scanning import ChainScanner
from cryptopay.core.search import TransactionSearch
from cryptopay.core.settlement.service import Settling
from cryptopay.core.treasury import FloatGuard, Rebalancing, Sweeps, Treasury
from cryptopay.core.wallets.bills import Bills
from cryptopay.core.wallets.buys import Buys
from cryptopay.core.wallets.claims import WaitingClaims
from cryptopay.core.wallets.deposits import Deposits
from cryptopay.core.wallets.paybill import Paybill
from cryptopay.core.wallets.quotes import prune_claims
from cryptopay.core.wallets.sells import Sells
from cryptopay.core.wallets.service import Wallets
from cryptopay.core.wallets.signup import WalletSignup
from cryptopay.core.wallets.withdrawals import Withdrawals
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from cryptopay.adapters.cache import SubscribedEpoch
    from cryptopay.adapters.queue import InlineQueue, RqQueue
    from cryptopay.adapters.sql.personal import PersonalData
    from cryptopay.adapters.sql.uow import SqlStorage

__all__ = ["PAYOUT_JOBS", "Parts", "payout_urls"]

# The jobs that call Daraja: with ``CRYPTOPAY_DARAJA_QUEUE`` they go to that queue, worked by its own worker.
PAYOUT_JOBS = (  # the jobs that call Daraja
    "payouts.start",
    "payouts.query_status",
    "wallets.stk_query",
    "wallets.paybill_verify",
)
HOOKS_PREFIX = "/hooks/daraja"


def payout_urls(public_url: str) -> PayoutUrls:
    """The callback URLs Daraja is given when the API is reachable at ``public_url`` (see the daraja_hooks routes)."""
    base = public_url.rstrip("/") + HOOKS_PREFIX
    return PayoutUrls(
        result=f"{base}/payouts/result",
        timeout=f"{base}/payouts/timeout",
        status_result=f"{base}/status/result",
        status_timeout=f"{base}/status/timeout",
    )


class LazyQuoter:
    """A ``Quoter`` that builds the pricer (and its FX sources) at the first quote, not when a use case is built."""

    def __init__(self, pricer: Callable[[], Pricer]) -> None:
        self._pricer = pricer

    def quote(self, pair: Pair) -> Quote:
        return self._pricer().quote(pair)

    def prices(self, pair: Pair) -> bool:
        return self._pricer().prices(pair)


class LazyGateway:
    """A ``MobileMoneyGateway`` that builds the Daraja client at the first request to M-Pesa, not when a use case is
    built: reading or retrying a payout (``payouts show``/``retry``) needs no Daraja settings until M-Pesa is asked
    (review 3, I8: an unknown payout was "missing Daraja settings", exit 2, where the README says exit 3)."""

    def __init__(self, gateway: Callable[[], MobileMoneyGateway]) -> None:
        self._gateway = gateway

    def stk_push(self, request: StkPushRequest) -> StkPushAccepted:
        return self._gateway().stk_push(request)

    def stk_query(self, checkout_request_id: str) -> MpesaResult:
        return self._gateway().stk_query(checkout_request_id)

    def b2c(self, request: B2CRequest) -> Acknowledgement:
        return self._gateway().b2c(request)

    def b2b(self, request: B2BRequest) -> Acknowledgement:
        return self._gateway().b2b(request)

    def transaction_status(self, request: TransactionStatusRequest) -> Acknowledgement:
        return self._gateway().transaction_status(request)

    def account_balance(self, request: AccountBalanceRequest) -> Acknowledgement:
        return self._gateway().account_balance(request)

    def reversal(self, request: ReversalRequest) -> Acknowledgement:
        return self._gateway().reversal(request)

    def register_c2b_urls(self, request: C2BRegistration) -> Acknowledgement:
        return self._gateway().register_c2b_urls(request)


class Parts:
    """Every real adapter and use case of one deployment, each built on first use."""

    def __init__(self, settings: Settings, *, clock: Clock, ids: IdGenerator) -> None:
        self.settings, self.clock, self.ids = settings, clock, ids
        self.closers: list[Callable[[], None]] = []
        self._sealing_due = False  # the embedded database was just migrated: seal what it holds in the clear

    # -- storage ---------------------------------------------------------------------------------------------
    @functools.cached_property
    def engine(self) -> Engine:
        from cryptopay.adapters._paths import private_dir
        from cryptopay.adapters.sql import current, make_engine, upgrade

        private_dir(self.settings.data_dir)
        if self.settings.database_url.startswith("sqlite"):
            # the embedded default migrates itself, then seals what an older version left in the clear (``storage``);
            # production runs `cryptopay db upgrade`, which does both
            before = current(self.settings.database_url)
            self._sealing_due = upgrade(self.settings.database_url) != before
        # One connection per app thread plus two for the process's own work (as many again may overflow briefly).
        engine = make_engine(self.settings.database_url, pool_size=self.settings.web.threads + 2)
        self.closers.append(engine.dispose)
        return engine

    @functools.cached_property
    def storage(self) -> SqlStorage:
        from cryptopay.adapters.sql.repositories.webhooks import SecretCipher
        from cryptopay.adapters.sql.uow import SqlStorage

        cipher = SecretCipher.from_vault(self.vault)  # webhook endpoint secrets are sealed by the key vault
        # Each app thread keeps one connection for its reads and one for its units of work (the pool has the threads
        # plus two, and as many again: the same bound, four left for everything else at the least).
        threads = self.settings.web.threads
        storage = SqlStorage(
            self.engine,
            ids=self.ids,
            cipher=cipher,
            personal=self.personal,
            pinned_readers=threads,
            pinned_writers=threads,
        )
        self.closers.append(storage.close)
        if self._sealing_due:
            from cryptopay.adapters.sql.sealing import seal_personal_data

            seal_personal_data(storage)
        return storage

    @property
    def personal_sealing(self) -> Callable[[bool], Mapping[str, int]]:
        """Seals personal data left in the clear (``cryptopay db upgrade``, ``cryptopay privacy seal``)."""
        from cryptopay.adapters.sql.sealing import seal_personal_data

        return lambda all_rows: seal_personal_data(self.storage, all_rows=all_rows)

    @functools.cached_property
    def retention(self) -> RetentionPurge:
        """The retention rules (``cryptopay.core.privacy.retention``) applied by the worker's daily job."""
        return RetentionPurge(self.storage.unit_of_work, self.ledger, self.clock)

    @functools.cached_property
    def closing(self) -> MerchantClosing:
        """An operator's close of a merchant (``cryptopay.core.privacy.closing``): its keys through the cached
        repository (every API process drops them at once), its unpaid invoices cancelled."""
        return MerchantClosing(self.retention, self.api_keys, self.audit, self.clock, self.invoicing)

    @functools.cached_property
    def ledger_sealing(self) -> LedgerSealing:
        """Committed ledger entries sealed into the audit chain in batches (the worker's ``ledger.seal``, R10-6), and
        the seals verified (``cryptopay audit verify --ledger``)."""
        from cryptopay.adapters.metrics import PrometheusMetrics
        from cryptopay.adapters.sql.ledger_seal import SqlLedgerSeals

        metrics = PrometheusMetrics(textfile=self.settings.metrics_dir / "ledger_seal.prom")
        return LedgerSealing(SqlLedgerSeals(self.engine), self.clock, metrics=metrics)

    @functools.cached_property
    def ledger(self) -> Ledger:
        from cryptopay.adapters.sql import SqlLedgerStore

        return Ledger(SqlLedgerStore(self.engine), clock=self.clock, ids=self.ids)

    @functools.cached_property
    def quotes(self) -> QuoteRepository:
        from cryptopay.adapters.cache import CachedQuotes
        from cryptopay.adapters.sql.repositories.fx import SqlQuoteRepository

        return CachedQuotes(SqlQuoteRepository(self.engine))  # a locked quote never changes: read it once

    @functools.cached_property
    def cursors(self) -> ScanCursorStore:
        from cryptopay.adapters.sql.repositories.chains import SqlScanCursorStore

        return SqlScanCursorStore(self.engine)

    # -- keys ------------------------------------------------------------------------------------------------
    @functools.cached_property
    def vault(self) -> KeyVault:
        """KEKs from ``CRYPTOPAY_VAULT_KEKS``; outside production a local development KEK is kept (mode 0600) in
        the data directory so the embedded default works out of the box."""
        from cryptopay.adapters._paths import private_file
        from cryptopay.adapters.vault import EnvelopeVault, generate_kek

        spec = self.settings.vault_keks
        if not spec and not self.settings.production:
            dev_kek = self.settings.data_dir / "dev-vault-kek"
            fresh = not dev_kek.exists()
            private_file(dev_kek)  # 0600 in a 0700 directory, also when an older version left it readable
            if fresh:
                dev_kek.write_text(f"dev:{generate_kek()}")
            spec = dev_kek.read_text().strip()
        return EnvelopeVault.from_spec(spec or "")

    @functools.cached_property
    def hot_key_store(self) -> KeyStore:
        """Hot-wallet keys, encrypted by ``vault``, under ``<data dir>/keys``."""
        from cryptopay.adapters.vault import FileKeyStore

        return FileKeyStore(self.settings.data_dir / "keys")

    @functools.cached_property
    def personal(self) -> PersonalData:
        """Personal data sealed by the vault and looked up by keyed hashes (``CRYPTOPAY_PII_LOOKUP_KEY``); outside
        production a local development lookup key is kept (mode 0600) in the data directory, like the KEK."""
        import base64
        import os

        from cryptopay.adapters._paths import private_file
        from cryptopay.adapters.sql.personal import LOOKUP_KEY_ENV, PersonalData

        encoded = self.settings.pii_lookup_key
        if not encoded and not self.settings.production:
            dev_key = self.settings.data_dir / "dev-pii-lookup-key"
            fresh = not dev_key.exists()
            private_file(dev_key)
            if fresh:
                dev_key.write_text(base64.b64encode(os.urandom(32)).decode())
            encoded = dev_key.read_text().strip()
        if not encoded:
            raise Unavailable(
                f"production needs {LOOKUP_KEY_ENV} (base64, 32 bytes): phones and emails are keyed by it"
            )
        return PersonalData(self.vault, lookup_key(encoded))

    # -- the outside world -----------------------------------------------------------------------------------
    @functools.cached_property
    def pricer(self) -> Pricer:
        from cryptopay.adapters.fx import build_pricer

        return build_pricer(self.settings.fx, clock=self.clock, ids=self.ids, quotes=self.quotes)

    @functools.cached_property
    def mobile_money(self) -> MobileMoneyGateway:
        from cryptopay.adapters.mpesa import DarajaGateway, DarajaSettings

        return DarajaGateway(self.settings.mpesa or DarajaSettings.from_env({}))  # the latter names what is missing

    @functools.cached_property
    def rails(self) -> dict[str, Rail]:
        """The deployment's rails by key (``usdt-ethereum``, ``usdc-polygon``...): networks with an RPC/API URL."""
        return {rail.key: rail for chain in self.settings.chains for rail in rails_of(chain)}

    @functools.cached_property
    def invoice_rails(self) -> dict[str, Rail]:
        """The rails an invoice can be made on now: the deployment's, on a network with an address deriver (its xpub
        set). What ``GET /v1/rails`` offers and a store may accept (outside review R8: a chain watched without its
        xpub, Bitcoin on Esplora without ``CRYPTOPAY_BITCOIN_XPUB``, is not offered to merchants)."""
        return {key: rail for key, rail in self.rails.items() if rail.network.name in self.derivers}

    def _rails_on(self, network: str) -> list[Rail]:
        return [rail for rail in self.rails.values() if rail.network.name == network]

    @functools.cached_property
    def derivers(self) -> dict[str, AddressDeriver]:
        return deriver_map(self.settings)

    @functools.cached_property
    def watchers(self) -> dict[str, ChainReader]:
        """Chain watchers per configured network."""
        return {c.network: watcher_for(c, self._rails_on(c.network)) for c in self.settings.chains}

    @functools.cached_property
    def mempools(self) -> dict[str, MempoolWatcher]:
        """The networks whose mempool we read (Bitcoin over Esplora): unconfirmed payments seen at once."""
        from cryptopay.adapters.bitcoin.watcher import BitcoinWatcher

        return {network: w for network, w in self.watchers.items() if isinstance(w, BitcoinWatcher)}

    @functools.cached_property
    def scanners(self) -> dict[str, ChainScanner]:
        """One cursor-keeping scanner per network; a new deployment starts a little behind the head."""
        lookback = self.settings.scan_lookback_blocks
        return {
            network: ChainScanner(
                watcher, self.cursors, start_block=max(0, watcher.head() - lookback), metrics=self._scanner_metrics
            )
            for network, watcher in self.watchers.items()
        }

    @functools.cached_property
    def _scanner_metrics(self) -> Metrics:
        from cryptopay.adapters.metrics import PrometheusMetrics

        return PrometheusMetrics(textfile=self.settings.metrics_dir / "scanner.prom")

    @functools.cached_property
    def senders(self) -> dict[str, HotWalletSender]:
        """Chain senders for networks with a hot wallet (``CRYPTOPAY_<NETWORK>_HOT_WALLET``), keys from the vault."""
        from cryptopay.adapters.sql.repositories.chains import SqlWithdrawalStore
        from cryptopay.core.hotkeys import VaultKeyProvider

        keys = VaultKeyProvider(self.vault, self.hot_key_store)
        store = SqlWithdrawalStore(self.engine)
        return {
            c.network: sender_for(c, self._rails_on(c.network), hot=c.hot_wallet, keys=keys, store=store)
            for c in self.settings.chains
            if c.hot_wallet
        }

    # -- jobs and webhooks -----------------------------------------------------------------------------------
    @property
    def job_routes(self) -> dict[str, str]:
        """The jobs that call Daraja go to ``CRYPTOPAY_DARAJA_QUEUE`` when it is set."""
        daraja = self.settings.daraja_queue
        return dict.fromkeys(PAYOUT_JOBS, daraja) if daraja else {}

    @functools.cached_property
    def queue(self) -> JobQueue:
        if self.settings.redis_url:
            import redis
            from cryptopay.adapters.queue import RqQueue

            client = redis.Redis.from_url(self.settings.redis_url)
            namespace = self.settings.redis_keys.queue_namespace
            return RqQueue(client, queue_name=self.settings.queue_name, routes=self.job_routes, namespace=namespace)
        from cryptopay.adapters.queue import InlineQueue

        inline = InlineQueue(self.job_registry)
        self.closers.append(inline.close)
        return inline

    @functools.cached_property
    def webhook_sender(self) -> WebhookSender:
        from cryptopay.adapters.webhooks import HttpxWebhookSender

        return HttpxWebhookSender(allow_loopback=self.settings.webhook_allow_loopback)

    # -- use cases -------------------------------------------------------------------------------------------
    @functools.cached_property
    def invoicing(self) -> Invoicing:
        quoter = LazyQuoter(lambda: self.pricer)  # listing invoices never builds the FX sources
        return Invoicing(
            uow=self.storage.unit_of_work,
            clock=self.clock,
            ids=self.ids,
            ledger=self.ledger,
            pricer=quoter,
            derivers=self.derivers,
            reader=self.storage.reading,
            reads=self.invoice_reads,
        )

    @functools.cached_property
    def invoice_reads(self) -> InvoiceReads:
        """On PostgreSQL each process keeps rendered invoice reads, told of every committed change by a trigger and
        ``LISTEN`` (``cryptopay.adapters.sql.invoice_feed``; ``CRYPTOPAY_INVOICE_CACHE_SIZE``, 0: none). SQLite has
        no such feed, and its other writer is the worker's process: nothing is kept there."""
        size = self.settings.invoice_cache_size
        if size == 0 or self.engine.dialect.name != "postgresql":
            return UncachedInvoiceReads()
        from cryptopay.adapters.sql.invoice_feed import ListenedInvoiceReads, conninfo_of

        reads = ListenedInvoiceReads(conninfo_of(self.engine), max_entries=size)
        self.closers.append(reads.close)
        return reads

    @functools.cached_property
    def detection(self) -> Detection:
        """Chain detection; credited payments feed AML monitoring (the pricer values those not priced in KES), and
        each payer is screened as its payment confirms."""
        return Detection(
            uow=self.storage.unit_of_work,
            clock=self.clock,
            ids=self.ids,
            ledger=self.ledger,
            cursors=self.cursors,
            monitor=self.monitoring_feed,
            quoter=LazyQuoter(lambda: self.pricer),
            rails=self.rails,  # a wrong-network payment accepted waits for its network's depth
            sweepable=[c.network for c in self.settings.chains if c.hot_wallet],
            screening=lambda: self.screening,  # a merchant's payment from a listed address is held
        )

    @functools.cached_property
    def settling(self) -> Settling:
        quoter = LazyQuoter(lambda: self.pricer)
        return Settling(
            uow=self.storage.unit_of_work,
            clock=self.clock,
            ids=self.ids,
            ledger=self.ledger,
            pricer=quoter,
            merchants=self.merchants,
            gate=self.payout_gate,
            monitor=self.monitoring_feed,
        )

    @functools.cached_property
    def monitoring_feed(self) -> MonitoringFeed:
        """What every product tells AML monitoring before and after its money moves (``compliance.feed``)."""
        return MonitoringFeed(self.monitoring)

    @functools.cached_property
    def monitoring(self) -> Monitoring:
        """AML monitoring over the rule set of ``CRYPTOPAY_MONITORING_RULES`` (JSON or TOML), else the core's."""
        from cryptopay.core.compliance.rules import default_rules, load_rules

        path = self.settings.monitoring_rules
        if path is None:
            rules = default_rules()
        else:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as error:
                raise InvalidInput(f"CRYPTOPAY_MONITORING_RULES: cannot read {path}: {error.strerror}") from None
            rules = load_rules(text, fmt="toml" if path.suffix == ".toml" else "json")
        return Monitoring(
            uow=self.storage.unit_of_work,
            rules=rules,
            clock=self.clock,
            ids=self.ids,
            screen=lambda m: self.screening.sanctioned_counterparty(m.network, m.counterparty),
            screening=self.screening,
            parties_of=self.officer_parties,  # no officer works a case of their own (R12)
            # a party a newly imported list names is frozen at once, until an officer clears it (R14-7)
            holds=SanctionsHolds(uow=self.storage.unit_of_work, clock=self.clock, ids=self.ids),
        )

    @functools.cached_property
    def officer_parties(self) -> Callable[[str], frozenset[str]]:
        """The parties an officer belongs to (their own user id, the merchant they act for): no officer acts on their
        own (outside review R12; ``compliance.own_party``)."""
        return functools.partial(parties_of, self.merchants, self.team_store)

    @functools.cached_property
    def screening(self) -> Screening:
        """Sanctions screening of the imported lists, names scored by rapidfuzz (``CRYPTOPAY_SANCTIONS_THRESHOLD``);
        ``CRYPTOPAY_SCREENING_REQUIRED`` (on in production): with no list loaded, money screened waits."""
        from cryptopay.adapters.sanctions import RapidfuzzMatcher

        return Screening(
            uow=self.storage.unit_of_work,
            matcher=RapidfuzzMatcher(),
            clock=self.clock,
            ids=self.ids,
            threshold=self.settings.sanctions_threshold,
            required=self.settings.screening_required,
        )

    @functools.cached_property
    def travel_rule(self) -> TravelRule:
        """The Travel Rule's valuation and records, from ``CRYPTOPAY_TRAVEL_RULE_THRESHOLD_USD`` (FX by the pricer)."""
        return TravelRule(
            quoter=LazyQuoter(lambda: self.pricer),
            clock=self.clock,
            ids=self.ids,
            policy=ThresholdPolicy(self.settings.travel_rule_threshold),
        )

    def monitor(self) -> None:
        """The worker's batch: the last two days' movements through the batch rules (alerts are raised once), then
        a warning per case past its deadline."""
        now = self.clock.now()
        self.monitoring.run_batch(now - timedelta(days=2), now)
        for case in self.monitoring.overdue():
            logging.getLogger("cryptopay.compliance").warning(
                "compliance case %s (%s) is past its deadline %s", case.id, case.status.value, case.deadline.isoformat()
            )

    @functools.cached_property
    def payout_gate(self) -> PayoutGate:
        """Compliance on money leaving a merchant: freezes, KYB (``CRYPTOPAY_SETTLEMENT_REQUIRES_KYB``), tier limits."""
        return PayoutGate(
            uow=lambda: self.storage.unit_of_work(),
            clock=self.clock,
            require_kyb=self.settings.settlement_requires_kyb,
        )

    @functools.cached_property
    def payouts(self) -> Payouts:
        return Payouts(
            uow=self.storage.unit_of_work,
            clock=self.clock,
            ids=self.ids,
            ledger=self.ledger,
            gateway=LazyGateway(lambda: self.mobile_money),
            urls=payout_urls(self.settings.public_url),
            faults=self.settings.faults,
            metrics=self._payout_metrics,
            pacing=self.daraja_pacing,
            guard=self.float_guard,  # refusal before overdraft: what the float cannot cover is held
            gate=self.payout_gate,
            # a statement read as a conclusion's evidence must be of the payouts' PartyA (LASTREAD L-4)
            payout_shortcode=self.settings.mpesa.party_a if self.settings.mpesa is not None else "",
            four_eyes=self.four_eyes,  # a conclusion's approver: not its proposer, related to it, nor new to staff
            unknown_bound=self.settings.payout_unknown_bound,  # the conclusion rule's and the check's one bound
        )

    @functools.cached_property
    def four_eyes(self) -> FourEyes:
        """Every approval's check (review10 R10-8): not by the proposer, nor an officer related to it by their
        appointments to staff, nor one appointed less than ``CRYPTOPAY_OFFICER_COOL_OFF_HOURS`` ago."""
        return FourEyes.over(self.users.get, timedelta(hours=self.settings.officer_cool_off_hours))

    @functools.cached_property
    def daraja_pacing(self) -> Pacing:
        """Payouts and status queries towards one shortcode share one token bucket: in Redis when configured (every
        worker), else in this process. Daraja's limit is per shortcode, so more workers add resilience, not speed."""
        shortcode = self.settings.mpesa.party_a if self.settings.mpesa is not None else "unconfigured"
        return self.daraja_pacing_for(shortcode)

    def daraja_pacing_for(self, shortcode: str) -> Pacing:
        """The pacing of every request towards ``shortcode`` (payouts' PartyA, STK Push's BusinessShortCode): one
        bucket per shortcode, so two shortcodes never slow each other and one is never asked faster than its limit."""
        rate = self.settings.daraja_throughput  # CRYPTOPAY_DARAJA_THROUGHPUT: per second, all workers together
        return Pacing(self._daraja_buckets, f"daraja:{shortcode}", Throughput(rate=rate, burst=rate))

    @functools.cached_property
    def _daraja_buckets(self) -> TokenBucket:
        from cryptopay.adapters.ratelimit import ProcessTokenBucket, RedisTokenBucket

        if not self.settings.redis_url:
            return ProcessTokenBucket()
        import redis

        client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        return RedisTokenBucket(client, prefix=self.settings.redis_keys.rate_limits + "bucket:")

    @functools.cached_property
    def _payout_metrics(self) -> Metrics:
        from cryptopay.adapters.metrics import PrometheusMetrics

        return PrometheusMetrics(textfile=self.settings.metrics_dir / "payouts.prom")

    @functools.cached_property
    def refunds(self) -> Refunds:
        return Refunds(
            uow=self.storage.unit_of_work,
            clock=self.clock,
            ids=self.ids,
            ledger=self.ledger,
            senders=self.senders,
            pricer=LazyQuoter(lambda: self.pricer),
            quotes=self.quotes,
            validators=address_validators(self.settings),
            rails=self.rails,  # a wrong-network payment is refunded once as deep as its network's rail asks
            platform=self.platform_addresses,
            screening=lambda: self.screening,  # a refund (and a remittance's payer) to a listed address: refused
            monitoring=lambda: self.monitoring_feed,
            merchants=self.merchants,  # a closed merchant's invoice is refunded only when an operator says why
            gate=self.payout_gate,  # a frozen merchant's refunds are refused, and wait if recorded before the freeze
        )

    @functools.cached_property
    def held_payments(self) -> HeldPayments:
        """Officers' decisions on merchant payments held for a listed payer: release, return, keep."""
        return HeldPayments(
            uow=self.storage.unit_of_work,
            ledger=self.ledger,
            clock=self.clock,
            refunds=self.refunds,
            ids=self.ids,
            monitoring=lambda: self.monitoring,
            parties_of=self.officer_parties,  # never the merchant an officer belongs to (R12)
            four_eyes=self.four_eyes,
        )

    @functools.cached_property
    def platform_addresses(self) -> PlatformAddresses:
        """The hot wallets (``CRYPTOPAY_<NETWORK>_HOT_WALLET``): with the deposit address registry, what a
        withdrawal or a refund never sends to (``internal_address``)."""
        return PlatformAddresses({c.network: c.hot_wallet for c in self.settings.chains if c.hot_wallet})

    @functools.cached_property
    def payment_links(self) -> PaymentLinks:
        return PaymentLinks(uow=self.storage.unit_of_work, clock=self.clock, ids=self.ids, invoicing=self.invoicing)

    @functools.cached_property
    def wallets(self) -> Wallets:
        """Personal wallets; USDT is valued in KES (for the limits) by the same pricer as everything else."""
        quoter = LazyQuoter(lambda: self.pricer)
        return Wallets(
            self.storage.unit_of_work,
            self.ledger,
            self.clock,
            self.ids,
            sms=lambda: self.sms,
            quoter=lambda: quoter,
            monitor=self.monitoring_feed,
            invites=self.settings.invites,
            minimum=self.settings.p2p_minimum,
            four_eyes=self.four_eyes,  # held sends' approvals
        )

    @functools.cached_property
    def wallet_buys(self) -> Buys:
        """USDT bought with M-Pesa: STK callbacks come to ``<public URL>/hooks/daraja/stk/<token>``."""
        base = self.settings.public_url.rstrip("/")
        return Buys(
            self.storage.unit_of_work,
            self.ledger,
            lambda: self.pricer,
            lambda: self.quotes,
            lambda: self.mobile_money,
            lambda token: f"{base}/hooks/daraja/stk/{token}",
            self.clock,
            self.ids,
            monitor=self.monitoring_feed,
            quote_window=timedelta(seconds=self.settings.wallet_quote_seconds),
            # STK Query asks the STK shortcode (BusinessShortCode), which may not be the payouts' PartyA
            pacing=self.daraja_pacing_for(self.settings.mpesa.shortcode if self.settings.mpesa else "unconfigured"),
            metrics=self._buy_metrics,
        )

    @functools.cached_property
    def _buy_metrics(self) -> Metrics:
        from cryptopay.adapters.metrics import PrometheusMetrics

        return PrometheusMetrics(textfile=self.settings.metrics_dir / "buys.prom")

    @functools.cached_property
    def paybill(self) -> Paybill:
        """Payments to our paybill outside an STK prompt (C2B): Daraja posts them to
        ``<public URL>/hooks/daraja/paybill/confirmation/<token>`` (and asks ``.../validation/<token>``)."""
        if self.settings.mpesa is None:
            raise InvalidInput("payments to the paybill need the Daraja settings (CRYPTOPAY_MPESA_SHORTCODE ...)")
        return Paybill(
            self.storage.unit_of_work,
            self.ledger,
            lambda: self.mobile_money,
            self.settings.public_url.rstrip("/") + HOOKS_PREFIX + "/paybill",
            self.settings.mpesa.shortcode,
            self.clock,
            self.ids,
            monitor=self.monitoring_feed,
            # Transaction Status about a C2B payment asks the paybill (PartyA), so it shares that shortcode's bucket
            pacing=self.daraja_pacing_for(self.settings.mpesa.shortcode),
            four_eyes=self.four_eyes,  # a credit's or a return's approval
        )

    @functools.cached_property
    def wallet_sells(self) -> Sells:
        """USDT sold for KES: the B2C payout is planned here and sent by ``payouts`` (the same machinery)."""
        return Sells(
            self.storage.unit_of_work,
            self.ledger,
            lambda: self.pricer,
            lambda: self.quotes,
            self.clock,
            self.ids,
            float_cover=lambda amount: self.float_guard.can_cover(amount),  # the treasury's refusal before overdraft
            monitor=self.monitoring_feed,
        )

    @functools.cached_property
    def wallet_bills(self) -> Bills:
        """Bills paid by M-Pesa B2B: the payout is planned here and sent by ``payouts`` (the same machinery)."""
        return Bills(
            self.storage.unit_of_work,
            self.ledger,
            lambda: self.pricer,
            lambda: self.quotes,
            self.clock,
            self.ids,
            float_cover=lambda amount: self.float_guard.can_cover(amount),
            monitor=self.monitoring_feed,
        )

    @functools.cached_property
    def wallet_deposits(self) -> Deposits:
        """Crypto deposits into wallets: addresses from the invoices' derivers, credited after the wallet speed
        policy (``CRYPTOPAY_WALLET_CONFIRMATIONS``), senders screened, movements monitored."""
        quoter = LazyQuoter(lambda: self.pricer)
        return Deposits(
            uow=self.storage.unit_of_work,
            ledger=self.ledger,
            clock=self.clock,
            ids=self.ids,
            derivers=self.derivers,
            rails=list(self.rails.values()),
            speed=self.settings.wallet_speed,
            minimums=self.settings.deposit_minimums,
            conversion=self.settings.stablecoin_conversion,
            screening=lambda: self.screening,
            monitoring=lambda: self.monitoring,
            quoter=lambda: quoter,
            parties_of=self.officer_parties,  # no officer releases a deposit of their own (R12, review8 R7)
            four_eyes=self.four_eyes,
        )

    @functools.cached_property
    def remittances(self) -> Remittances:
        """Remittances from abroad: orders are invoices of the remittance desk on the deployment's USDT rails, paid
        out by ``payouts`` (B2C) or into a wallet; failed payouts retried ``CRYPTOPAY_REMITTANCE_PAYOUT_ATTEMPTS``
        times in all, then refunded by ``refunds``; a number told at most ``CRYPTOPAY_REMITTANCE_SMS_PER_DAY`` a
        day; what arrives beyond an order is refunded less the network's fee (the hot-wallet senders estimate it), or
        kept as dust below ``CRYPTOPAY_REMITTANCE_EXCESS_FLOOR_USDT``."""
        usdt = tuple(rail for rail in self.rails.values() if rail.asset == USDT and rail.network.name in self.derivers)
        return Remittances(
            uow=self.storage.unit_of_work,
            ledger=self.ledger,
            invoicing=self.invoicing,
            payouts=lambda: self.payouts,
            refunds=self.refunds,
            quoter=lambda: self.pricer,
            clock=self.clock,
            ids=self.ids,
            rails=usdt,
            validators=address_validators(self.settings),
            sms=lambda: self.sms,
            monitoring=self.monitoring_feed,
            policy=RetryPolicy(attempts=self.settings.remittance_payout_attempts),
            rules=RemittanceRules(
                minimum=self.settings.remittance_minimum,
                sms_per_day=self.settings.remittance_sms_per_day,
                excess_floor=self.settings.remittance_excess_floor,
            ),
            travel_rule=self.travel_rule,
            estimators=lambda: self.senders,  # an excess refund deducts the network's fee, as withdrawals charge it
            matcher=self.screening.matcher,  # a wallet is credited only when the recipient's name is its holder's
            metrics=self._remittance_metrics,
            cases=lambda: self.monitoring,  # an officers' refund of a held order concludes its alerts (review8 R8)
            four_eyes=self.four_eyes,
            screening=self.screening,  # with no list loaded while screening is required, paid orders wait for one
        )

    @functools.cached_property
    def _remittance_metrics(self) -> Metrics:
        from cryptopay.adapters.metrics import PrometheusMetrics

        return PrometheusMetrics(textfile=self.settings.metrics_dir / "remittances.prom")

    @functools.cached_property
    def withdrawals(self) -> Withdrawals:
        """Crypto withdrawals from wallets: addresses checked with checksums, sent by the hot-wallet senders (which
        also estimate the network fee), screened, limited, cooled off (``CRYPTOPAY_WITHDRAWAL_COOL_OFF_HOURS``)."""
        quoter = LazyQuoter(lambda: self.pricer)
        return Withdrawals(
            uow=self.storage.unit_of_work,
            ledger=self.ledger,
            clock=self.clock,
            ids=self.ids,
            quoter=lambda: quoter,
            rails=lambda: self.rails,
            senders=lambda: self.senders,
            validators=address_validators(self.settings),
            estimators=lambda: self.senders,
            screening=self.screening,
            monitoring=self.monitoring,
            travel_rule=self.travel_rule,
            cool_off=timedelta(hours=self.settings.withdrawal_cool_off_hours),
            platform=self.platform_addresses,
        )

    @functools.cached_property
    def wallet_signup(self) -> WalletSignup:
        """Phone sign-up; the transfers a sign-up claims feed AML monitoring (USDT valued in KES by the pricer)."""
        quoter = LazyQuoter(lambda: self.pricer)
        return WalletSignup(
            self.storage.unit_of_work,
            self.ledger,
            lambda: self.sms,
            self.password_hasher,
            self.rate_limiter,
            self.audit,
            self.clock,
            self.ids,
            quoter=lambda: quoter,
            monitor=self.monitoring_feed,
            sms_rules=self.settings.signup_sms,
        )

    @functools.cached_property
    def document_store(self) -> DocumentStore:
        """Where KYC documents' vault blobs live: the ``CRYPTOPAY_S3_BUCKET`` bucket, else ``<data dir>/documents``."""
        from cryptopay.adapters.documents import FileDocumentStore, S3DocumentStore

        if self.settings.documents_s3 is not None:
            return S3DocumentStore(self.settings.documents_s3)
        return FileDocumentStore(self.settings.data_dir / "documents")

    @functools.cached_property
    def kyc_review(self) -> KycReview:
        """KYC/KYB review; documents are vault blobs in the document store, measured by Pillow."""
        from cryptopay.adapters.documents import PillowProbe

        return KycReview(
            uow=self.storage.unit_of_work,
            documents=self.document_store,
            vault=self.vault,
            probe=PillowProbe(),
            notifier=self.notifier,
            clock=self.clock,
            ids=self.ids,
            screening=self.screening,
            on_granted=self.waiting_claims.after_verification,
            # an applicant a list matches is held at once, as a rescreen holds them (R14-7)
            on_listed=lambda names: self.monitoring.rescreen(names, self.screening),
            parties_of=self.officer_parties,  # no officer acts on its own
            four_eyes=self.four_eyes,  # a second approval's officer against the first's
        )

    @functools.cached_property
    def waiting_claims(self) -> WaitingClaims:
        """Transfers left waiting by tier 0's receiving limits, tried again after a KYC approval and by the worker's
        job before the expired ones go back (their claims valued in KES by the pricer, for monitoring)."""
        quoter = LazyQuoter(lambda: self.pricer)
        return WaitingClaims(
            uow=self.storage.unit_of_work,
            ledger=self.ledger,
            clock=self.clock,
            ids=self.ids,
            quoter=lambda: quoter,
            monitor=self.monitoring_feed,
        )

    @functools.cached_property
    def listings(self) -> Listings:
        """The read models every listing (CLI, HTTP) pages through."""
        return Listings(uow=self.storage.reading, merchants=self.merchants)  # one statement a page, no transaction

    @functools.cached_property
    def transactions(self) -> TransactionSearch:
        """The staff's transaction search over the database's read model."""
        from cryptopay.adapters.sql.search import SqlTransactionIndex

        return TransactionSearch(SqlTransactionIndex(self.engine, personal=self.personal))

    @functools.cached_property
    def reports(self) -> Reports:
        """Merchant reports (sales, fees and their taxes, settlements) over the same records."""
        return Reports(uow=self.storage.unit_of_work, clock=self.clock, ledger=self.ledger)

    @functools.cached_property
    def balance_readers(self) -> dict[str, BalanceReader]:
        """What the chains hold at our addresses, per network: every watcher reads balances too (EVM and Tron:
        the token rails' ``balanceOf``; Bitcoin: mined unspent outputs)."""
        readers: dict[str, BalanceReader] = dict(self.watchers)
        return readers

    @functools.cached_property
    def reconciliation(self) -> Reconciliation:
        """Reconciliation against our records, M-Pesa and the chains (custody: deposit addresses + hot wallets)."""
        from cryptopay.adapters.metrics import PrometheusMetrics

        hot = {
            c.network: c.hot_wallet for c in self.settings.chains if c.hot_wallet and c.network in self.balance_readers
        }
        metrics = PrometheusMetrics(textfile=self.settings.metrics_dir / "reconciliation.prom")
        return Reconciliation(
            uow=self.storage.unit_of_work,
            ledger=self.ledger,
            clock=self.clock,
            chains=self.balance_readers,
            hot_wallets=hot,
            metrics=metrics,
            balance_answers=self.balance_queries,
            float_baseline=self.settings.mpesa_float_baseline,
            bank_account=self.settings.settlement_bank_account,  # a bank statement must be of it (when set)
            treasury=self.treasury_store,  # sweeps and the float B2C results report
            wallets=self.storage.unit_of_work,  # wallet payouts, buys, claims
            paybill=self.storage.unit_of_work,  # payments to the paybill outside STK (C2B)
            deposits=self.storage.unit_of_work,  # wallet crypto deposits
            withdrawals=self.storage.unit_of_work,  # wallet crypto withdrawals
            remittances=self.storage.unit_of_work,  # remittance orders (the desk's USDT)
            runs=self.reconciliation_runs,  # every run's results, for the console
            payout_bound=self.settings.payout_unknown_bound,  # payouts-unresolved: the payouts' own bound
            ids=self.ids,
            # the statement must be of one of ours (review6 F3); none configured: every statement is refused. Each
            # statement is read for its own Short Code's records: the paybill's collections, the PartyA's payouts
            shortcodes=Shortcodes(m.shortcode, m.party_a)
            if (m := self.settings.mpesa) is not None
            else Shortcodes("", ""),
            retention=RunRetention(
                clean=timedelta(days=self.settings.reconciliation_keep_days),
                with_differences=timedelta(days=self.settings.reconciliation_keep_differences_days),
            ),
        )

    @functools.cached_property
    def observing(self) -> Observing:
        """The business gauges the alerting rules (docs/alerts.rules.yml) watch, in a node-exporter text file."""
        from cryptopay.adapters.metrics import PrometheusMetrics

        return Observing(
            uow=self.storage.unit_of_work,
            clock=self.clock,
            ledger=self.ledger,
            settling=self.settling,
            webhooks=self.storage.unit_of_work,
            metrics=PrometheusMetrics(textfile=self.settings.metrics_dir / "business.prom"),
            dead_letters=self.dead_letters,
            balances=self.balance_queries,
            backlog=self.dead_letters,  # the same queue: its jobs waiting per queue
            remittances=self.storage.unit_of_work,  # orders by state, and those awaiting Transaction Status
            notifications=self.notification_queue,
            paybill=self.storage.unit_of_work,  # paybill payments Transaction Status did not confirm
            wallets=self.storage.unit_of_work,  # wallet sends held for a frozen recipient, undecided
            sanctions=lambda: self.screening.snapshots(),  # each list's newest snapshot's age
            monitoring=self.storage.unit_of_work,  # open AML alerts, cases past their deadline
            deposits=self.storage.unit_of_work,  # wallet deposits held for compliance
            screening_waits=ScreeningWaits(  # what waits for a sanctions list (screening required, none loaded)
                withdrawals=self.storage.unit_of_work,
                refunds=self.storage.unit_of_work,
                remittances=self.storage.unit_of_work,
                applications=self.storage.unit_of_work,
            ).count,
        )

    @functools.cached_property
    def notification_queue(self) -> NotificationQueue | None:
        """On PostgreSQL, how full its ``NOTIFY`` queue is (the invoice read cache's feed); SQLite has none."""
        if self.engine.dialect.name != "postgresql":
            return None
        from cryptopay.adapters.sql.invoice_feed import PgNotificationQueue

        return PgNotificationQueue(self.engine)

    @functools.cached_property
    def dead_letters(self) -> InlineQueue | RqQueue:
        """The queue's dead-lettered jobs and its backlog (both queues keep them)."""
        from cryptopay.adapters.queue import InlineQueue, RqQueue

        queue = self.queue
        assert isinstance(queue, InlineQueue | RqQueue)
        return queue

    @functools.cached_property
    def dead_jobs(self) -> DeadJobs:
        """The dead letters for operators (the CLI): only RQ keeps them where another process can read them."""
        if not self.settings.redis_url:
            raise Unavailable(
                "dead jobs are out of reach: without CRYPTOPAY_REDIS_URL the inline queue keeps them in the memory of"
                " the process that ran them (the API server, shown by its log), and drops them when it stops"
            )
        return DeadJobs(self.dead_letters, self.audit, self.clock)

    @functools.cached_property
    def balance_queries(self) -> BalanceQueryStore:
        from cryptopay.adapters.sql.repositories.reconciliation import SqlBalanceQueryStore

        return SqlBalanceQueryStore(self.engine)

    @functools.cached_property
    def reconciliation_runs(self) -> ReconciliationRuns:
        """Every reconciliation run's results per check (the worker's, the CLI's, the console's, the API's)."""
        from cryptopay.adapters.sql.repositories.reconciliation import SqlReconciliationRuns

        return SqlReconciliationRuns(self.engine, personal=self.personal)

    @functools.cached_property
    def float_balance(self) -> FloatBalance:
        """Account Balance requests, recorded before they are sent; answers on ``/hooks/daraja/balance/...``."""
        base = self.settings.public_url.rstrip("/") + HOOKS_PREFIX
        urls = BalanceUrls(result=f"{base}/balance/result", timeout=f"{base}/balance/timeout")
        return FloatBalance(
            store=self.balance_queries,
            gateway=self.mobile_money,
            ledger=self.ledger,
            clock=self.clock,
            ids=self.ids,
            urls=urls,
        )

    def reconcile_and_ask(self) -> None:
        """The scheduled reconciliation (alerting on differences), then a new Account Balance question whose
        answer, kept with the books' float of its moment, the next run compares."""
        self.reconciliation.reconcile_and_alert()
        try:
            self.float_balance.ask()
        except CryptopayError as error:  # e.g. no Daraja settings: the balance check stays skipped, said why
            logging.getLogger(__name__).warning("no Account Balance question sent: %s", error.message)

    # -- the treasury ----------------------------------------------------------------------------------------
    @functools.cached_property
    def treasury_store(self) -> TreasuryStore:
        from cryptopay.adapters.sql.repositories.treasury import SqlTreasuryStore

        return SqlTreasuryStore(self.engine)

    @functools.cached_property
    def _treasury_metrics(self) -> Metrics:
        from cryptopay.adapters.metrics import PrometheusMetrics

        return PrometheusMetrics(textfile=self.settings.metrics_dir / "treasury.prom")

    @functools.cached_property
    def float_guard(self) -> FloatGuard:
        """Holds payouts the M-Pesa float cannot cover (``CRYPTOPAY_FLOAT_RESERVE`` kept back), alerting
        ``CRYPTOPAY_TREASURY_ALERT_EMAIL``; keeps the balances B2C results report."""
        treasury = self.settings.treasury
        return FloatGuard(
            uow=self.storage.unit_of_work,
            ledger=self.ledger,
            store=self.treasury_store,
            clock=self.clock,
            answers=self.balance_queries,
            reserve=treasury.float_reserve,
            baseline=self.settings.mpesa_float_baseline,
            low_alert=treasury.float_low_alert,
            notifier=self.notifier if treasury.alert_email else None,
            alert_to=treasury.alert_email,
            metrics=self._treasury_metrics,
        )

    @functools.cached_property
    def sweepers(self) -> dict[str, Sweeper]:
        """Sweepers for networks with a hot wallet, signing for deposit addresses with the seed phrase of the
        network's xpub (``CRYPTOPAY_EVM_SWEEP_MNEMONIC``, ``CRYPTOPAY_TRON_SWEEP_MNEMONIC``: only the worker that
        sweeps needs them); gas comes from the hot wallet, whose key is in the vault."""
        return {**self._evm_sweepers(), **self._tron_sweepers()}

    def _evm_sweepers(self) -> dict[str, Sweeper]:
        mnemonic = self.settings.treasury.evm_sweep_mnemonic
        if not mnemonic:
            return {}
        from cryptopay.adapters.bootstrap.settings import EVM_NETWORKS
        from cryptopay.adapters.evm.keys import HdKeyring, account_xpub
        from cryptopay.adapters.evm.sender import EvmSender
        from cryptopay.adapters.evm.sweep import EvmRailSweeper
        from cryptopay.adapters.sql.repositories.chains import SqlWithdrawalStore

        if self.settings.evm_xpub and account_xpub(mnemonic) != self.settings.evm_xpub:
            raise InvalidInput("CRYPTOPAY_EVM_SWEEP_MNEMONIC is not the seed of CRYPTOPAY_EVM_XPUB")
        keyring, store = HdKeyring.from_mnemonic(mnemonic), SqlWithdrawalStore(self.engine)
        found: dict[str, Sweeper] = {}
        for network, sender in self.senders.items():
            if network in EVM_NETWORKS and isinstance(sender, EvmSender):
                for rail in self._rails_on(network):
                    found[network] = EvmRailSweeper(sender, rail, deposit_keys=keyring, store=store)
        return found

    def _tron_sweepers(self) -> dict[str, Sweeper]:
        mnemonic, chain = self.settings.treasury.tron_sweep_mnemonic, self.settings.chain("tron")
        if not mnemonic or chain is None or not chain.hot_wallet:
            return {}
        from cryptopay.adapters.sql.repositories.chains import SqlWithdrawalStore
        from cryptopay.adapters.tron.client import TronApi
        from cryptopay.adapters.tron.keys import TronHdKeyring
        from cryptopay.adapters.tron.sweep import TronRailSweeper
        from cryptopay.adapters.tron.transactions import TronTransactions
        from cryptopay.core.hotkeys import EitherKeys, VaultKeyProvider

        keyring = TronHdKeyring(mnemonic)
        if self.settings.tron_xpub and keyring.account_xpub() != self.settings.tron_xpub:
            raise InvalidInput("CRYPTOPAY_TRON_SWEEP_MNEMONIC is not the seed of CRYPTOPAY_TRON_XPUB")
        hot_keys = VaultKeyProvider(self.vault, self.hot_key_store)
        txs = TronTransactions(
            TronApi(chain.url), keys=EitherKeys(hot_keys, keyring), store=SqlWithdrawalStore(self.engine)
        )
        rail = self._rails_on("tron")[0]
        return {"tron": TronRailSweeper(txs, rail, hot_address=chain.hot_wallet, gas_address=chain.hot_wallet)}

    @functools.cached_property
    def sweeps(self) -> Sweeps:
        return Sweeps(
            uow=self.storage.unit_of_work,
            store=self.treasury_store,
            ledger=self.ledger,
            clock=self.clock,
            ids=self.ids,
            sweepers=self.sweepers,
            balances=self.balance_readers,
            threshold=self.settings.treasury.sweep_threshold,
        )

    @functools.cached_property
    def rebalancing(self) -> Rebalancing:
        return Rebalancing(uow=self.storage.unit_of_work, ledger=self.ledger, clock=self.clock, guard=self.float_guard)

    @functools.cached_property
    def treasury(self) -> Treasury:
        """The float and the inventory (books against the chains' deposit addresses and hot wallets)."""
        return Treasury(
            uow=self.storage.unit_of_work,
            ledger=self.ledger,
            store=self.treasury_store,
            guard=self.float_guard,
            rails=list(self.rails.values()),
            chains=self.balance_readers,
            hot_wallets={c.network: c.hot_wallet for c in self.settings.chains if c.hot_wallet},
            inventory_reserve=self.settings.treasury.inventory_reserve,
            metrics=self._treasury_metrics,
        )

    # -- identity --------------------------------------------------------------------------------------------
    @functools.cached_property
    def users(self) -> UserRepository:
        from cryptopay.adapters.sql.repositories.identity import SqlUsers
        from cryptopay.adapters.sql.repositories.webhooks import SecretCipher

        # TOTP secrets and personal data sealed at rest
        return SqlUsers(self.engine, cipher=SecretCipher.from_vault(self.vault), personal=self.personal)

    @functools.cached_property
    def refresh_tokens(self) -> RefreshTokenRepository:
        from cryptopay.adapters.sql.repositories.identity import SqlRefreshTokens

        return SqlRefreshTokens(self.engine)

    @functools.cached_property
    def merchants(self) -> MerchantRepository:
        """With Redis, merchant owners are cached per process and invalidated across processes (``identity_epoch``)."""
        from cryptopay.adapters.sql.repositories.identity import SqlMerchants

        if self.identity_epoch is None:
            return SqlMerchants(self.engine, personal=self.personal)
        from cryptopay.adapters.cache import CachedMerchants

        return CachedMerchants(SqlMerchants(self.engine, personal=self.personal), self.identity_epoch)

    @functools.cached_property
    def team_store(self) -> TeamRepository:
        """Merchant team members and invitations (uncached: a role change counts from the next request)."""
        from cryptopay.adapters.sql.repositories.identity import SqlTeams

        return SqlTeams(self.engine, personal=self.personal)

    @functools.cached_property
    def api_keys(self) -> ApiKeyRepository:
        """With Redis, a request's credential check costs no database transaction (nor a Redis round trip)."""
        from cryptopay.adapters.sql.repositories.identity import SqlApiKeys

        if self.identity_epoch is None:
            return SqlApiKeys(self.engine)
        from cryptopay.adapters.cache import CachedApiKeys

        return CachedApiKeys(SqlApiKeys(self.engine), self.identity_epoch)

    @functools.cached_property
    def identity_epoch(self) -> SubscribedEpoch | None:
        """The shared counter that invalidates every process's cached API keys and merchant owners (Redis only);
        each process follows its changes on a Redis channel, so a request reads it without a round trip."""
        if not self.settings.redis_url:
            return None
        import redis
        from cryptopay.adapters.cache import SubscribedEpoch

        client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        epoch = SubscribedEpoch(client, key=self.settings.redis_keys.identity_epoch)
        self.closers.append(epoch.close)
        return epoch

    @functools.cached_property
    def idempotency(self) -> IdempotencyRepository:
        from cryptopay.adapters.sql.repositories.identity import SqlIdempotency

        return SqlIdempotency(self.engine)

    @functools.cached_property
    def password_hasher(self) -> PasswordHasher:
        from cryptopay.adapters.bounded_hashing import BoundedHasher
        from cryptopay.adapters.passwords import Argon2Hasher

        return BoundedHasher(Argon2Hasher(), max_concurrent=self.settings.password_hash_concurrency)

    @functools.cached_property
    def rate_limiter(self) -> RateLimiter:
        """Redis when configured (every API process shares the counts), else this process's memory."""
        if self.settings.redis_url:
            from cryptopay.adapters.ratelimit import RedisRateLimiter

            return RedisRateLimiter.from_url(self.settings.redis_url, prefix=self.settings.redis_keys.rate_limits)
        from cryptopay.adapters.ratelimit import ProcessRateLimiter

        return ProcessRateLimiter(self.clock)

    @functools.cached_property
    def audit(self) -> AuditTrail:
        """The audit log for events outside a unit of work (logins, step-ups, keys, operator actions)."""
        from cryptopay.adapters.sql.audit import SqlAuditTrail

        return SqlAuditTrail(self.engine, self.ids)

    @functools.cached_property
    def notifier(self) -> Notifier:
        """Email over SMTP when ``CRYPTOPAY_SMTP_HOST`` is set; otherwise a private file in the data directory."""
        from cryptopay.adapters.notify import FileNotifier, SmtpNotifier

        if self.settings.smtp is not None:
            return SmtpNotifier(self.settings.smtp)
        if self.settings.production:
            logging.getLogger("cryptopay").warning("CRYPTOPAY_SMTP_HOST is not set: notifications go to a file")
        return FileNotifier(self.settings.data_dir / "notifications.jsonl")

    @functools.cached_property
    def sms(self) -> SmsSender | None:
        """Africa's Talking, or a private file in development; None when ``CRYPTOPAY_SMS_PROVIDER`` is ``none``."""
        from cryptopay.adapters.sms import AfricasTalkingSms, FileSms

        settings = self.settings.sms
        if settings.provider == "africastalking":
            sender = AfricasTalkingSms(settings)
            self.closers.append(sender.close)
            return sender
        if settings.provider == "file":
            return FileSms(self.settings.data_dir / "sms.jsonl")
        logging.getLogger("cryptopay").warning("no SMS provider (CRYPTOPAY_SMS_PROVIDER=none): SMS notices are skipped")
        return None

    @functools.cached_property
    def totp(self) -> TotpEngine:
        from cryptopay.adapters.otp import PyOtpTotp

        return PyOtpTotp()

    def readiness_checks(self) -> dict[str, Callable[[], object]]:
        """What ``/readyz`` asks: the database answers and is migrated to head; Redis answers when configured."""
        checks: dict[str, Callable[[], object]] = {
            "database": lambda: self.engine.connect().close(),
            "migrations": self._at_head,
        }
        if self.settings.redis_url:
            import redis

            client = redis.Redis.from_url(self.settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
            checks["redis"] = client.ping
        return checks

    def warm_ups(self) -> dict[str, Callable[[], object]]:
        """What a server's worker does once at start, before it takes traffic (``bootstrap.warmup``), so that its first
        invoice creation and reads do not pay for it with the GIL held (docs/operations.md, "The first creation per
        worker"). Each step writes nothing: it builds parts, compiles, derives and reads rows that do not exist."""
        return {
            "storage": self._warm_storage,
            "invoicing": lambda: self.invoicing,  # its derivers (the keys parsed), the ledger, the invoice reads
            "fx": self._warm_rates,
            "identity": self._warm_identity,
            "addresses": self._warm_addresses,
            "reads": self._warm_reads,
        }

    def _warm_storage(self) -> None:
        """The storage built, its converters and prebuilt statements too (``sql.warming``: no round trip)."""
        from cryptopay.adapters.sql.warming import prepare

        self.storage  # noqa: B018  (built: its repositories' modules imported)
        prepare(self.engine)

    def _warm_rates(self) -> None:
        """The FX sources built (their HTTP clients, TLS contexts) and asked once about each invoice rail's asset in
        shillings (``Pricer.survey``: nothing locked or stored), so the first creation finds the answers cached."""
        pricer = self.pricer
        for asset in sorted({rail.asset for rail in self.invoice_rails.values()}, key=lambda a: a.code):
            if asset != KES:
                pricer.survey(Pair(asset, KES))

    def _warm_identity(self) -> None:
        """The parts an API-key or bearer request goes through, built (none is asked anything here)."""
        for part in (lambda: self.api_keys, lambda: self.idempotency, lambda: self.audit, lambda: self.merchants):
            part()
        self.rate_limiter  # noqa: B018

    def _warm_addresses(self) -> None:
        """Derive each network's first address (index 0 of the deployment's own key): computed, stored nowhere; it
        loads the keccak and curve backends once."""
        for deriver in self.derivers.values():
            deriver.derive(0)

    def _warm_reads(self) -> None:
        """A creation's and an invoice read's reads against the real database, for fresh random ids that match no
        row: a connection opened (psycopg's first use, then back in the pool) and each read run once."""
        self.api_keys.get(self.ids.new_id("key"))
        with contextlib.suppress(NotFound):
            self.invoicing.get_invoice(self.ids.new_id("inv"))
        self.invoicing.open_store(self.ids.new_id("mer"))

    def _at_head(self) -> None:
        from cryptopay.adapters.sql import check_at_head

        check_at_head(self.engine)

    # -- the jobs: one registry for the RQ worker and the inline queue --------------------------------------
    @functools.cached_property
    def jobs(self) -> dict[str, JobHandler]:
        """Every job the worker runs (names from ``cryptopay_worker.jobs``): the use cases, the outbox relay and
        the webhook jobs, so the inline queue runs exactly the worker's handlers."""
        return {
            "chains.scan": lambda _payload: scan_chains(
                self.scanners, self.detection, self.mempools, self.wallet_deposits
            ),
            "chains.confirm": lambda _payload: self.confirm_chains(),
            "invoices.expire": lambda _payload: self.expire_invoices(),
            "settlements.run": lambda _payload: self.settling.run_settlements(),
            "payouts.start": lambda _payload: self.payouts.submit_payouts(),
            "payouts.query_status": lambda _payload: self.payouts.follow_up_payouts(),
            "refunds.send": lambda _payload: (self.refunds.send_refunds(), self.refunds.check_refunds()),
            "fx.refresh": lambda _payload: self.pricer.survey(Pair(USDT, KES)),
            "reconciliation.run": lambda _payload: self.reconcile_and_ask(),
            "reconciliation.prune": lambda _payload: self.reconciliation.prune_runs(),
            "metrics.measure": lambda _payload: self.observing.measure(),
            "compliance.monitor": lambda _payload: self.monitor(),
            "compliance.rescreen": lambda _payload: (
                self.monitoring.rescreen(self.kyc_review.screened_names(), self.screening),
                self.remittances.rescreen(),
                self.kyc_review.screen_pending(),  # applications submitted while no list was loaded
            ),
            "kyc.sweep_documents": lambda _payload: self.kyc_review.sweep_orphans(),
            "privacy.retention": lambda _payload: self.retention.run(),
            "audit.anchor": lambda _payload: self.anchor_audit(),
            "ledger.seal": lambda _payload: self.ledger_sealing.seal(),
            "treasury.sweep": lambda _payload: self.sweeps.run(),
            "treasury.measure": lambda _payload: self.treasury.measure(),
            "wallets.expire_claims": lambda _payload: self.waiting_claims.settle(),
            "wallets.prune_quotes": lambda _payload: prune_claims(self.storage.unit_of_work, self.clock),
            "wallets.stk_query": lambda _payload: self.wallet_buys.follow_up(),
            "wallets.paybill_verify": lambda _payload: self.paybill.verify_due() if self.settings.mpesa else [],
            "remittances.advance": lambda _payload: self.remittances.advance(),
            "wallets.withdrawals": lambda _payload: (self.withdrawals.send_due(), self.withdrawals.check_sent()),
            **self._webhook_jobs(),
        }

    def _webhook_jobs(self) -> dict[str, JobHandler]:
        """Outbox relay, webhook delivery and sweep; each handler reads the ports when it runs."""
        from cryptopay.core.relay import RELAY_JOB, relay_outbox
        from cryptopay.core.webhooks import DELIVER_JOB, SWEEP_JOB, deliver_webhook, sweep_webhooks

        uow = self.storage.unit_of_work
        return {
            RELAY_JOB: lambda _payload: relay_outbox(uow_factory=uow, queue=self.queue, clock=self.clock, ids=self.ids),
            DELIVER_JOB: lambda payload: deliver_webhook(
                str(payload["delivery_id"]),
                uow_factory=uow,
                sender=self.webhook_sender,
                queue=self.queue,
                clock=self.clock,
            ),
            SWEEP_JOB: lambda _payload: sweep_webhooks(uow_factory=uow, queue=self.queue, clock=self.clock),
        }

    @functools.cached_property
    def job_registry(self) -> JobRegistry:
        """The handlers of ``jobs``, for the inline queue: one set of handlers for both modes."""
        registry = JobRegistry()
        for name, handler in self.jobs.items():
            registry.register(name, handler)
        return registry

    def anchor_audit(self) -> None:
        """Log the audit head (``audit head anchored: seq=N hash=H``), the outside copy R10-2 asks for."""
        from cryptopay.adapters.sql.audit import anchor_audit_head

        anchor_audit_head(self.engine)

    def confirm_chains(self) -> None:
        for network, watcher in self.watchers.items():
            self.detection.confirm_payments(network, watcher, watcher, self.mempools.get(network))
            self.wallet_deposits.confirm(network, watcher, watcher, self.mempools.get(network))

    def expire_invoices(self) -> None:
        times = {network: self.detection.chain_now(network) for network in self.watchers}
        self.detection.expire_invoices(times)
