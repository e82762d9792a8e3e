"""The composition root: settings from the environment -> one wired ``Container`` for all three shells.

The HTTP app (``build_http_services``), the worker (``worker_container``) and the CLI (``container()``) all call
this module; none of them wires adapters by hand. Parts are built lazily, so a command that needs only the
ledger never builds an M-Pesa client (and never needs its credentials).

Embedded defaults: SQLite under ``.cryptopay/``, the inline queue, no Redis. Production: set
``CRYPTOPAY_DATABASE_URL`` (PostgreSQL) and ``CRYPTOPAY_REDIS_URL`` (RQ), plus the M-Pesa, FX and vault variables.

>>> import tempfile
>>> c = build(Settings.from_env({"CRYPTOPAY_DATA_DIR": tempfile.mkdtemp()}))
>>> c.settings.queue_backend, c.ledger.trial_balance()
('inline', {})
>>> c.close()
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from cryptopay.core.errors import CryptopayError
from cryptopay.core.fx import Pair
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import KES, USDT, Money, to_decimal
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.rails import Rail, rail_for
from cryptopay.core.system import RandomIds, SystemClock
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from cryptopay.core.listings import Listings
    from cryptopay.core.ports.chains import BalanceReader
    from cryptopay.core.ports.reconciliation import BalanceQueryStore
    from cryptopay.core.reconciliation import FloatBalance, Reconciliation

__all__ = ["Container", "Settings", "build", "build_http_services", "container", "worker_container"]

_EVM_NETWORKS = ("ethereum", "polygon", "bsc")
_SANDBOX_HOSTS = ("127.0.0.1", "localhost", "[::1]", "sandbox.safaricom.co.ke")


@attrs.frozen(kw_only=True)
class Settings:
    """Deployment settings; secrets are read by each adapter's own settings from the same environment."""

    data_dir: Path
    database_url: str
    redis_url: str | None = None
    production: bool = False
    allow_sandbox: bool = False
    webhook_allow_loopback: bool = False  # http and loopback webhook endpoints, for the sandbox (never production)
    env: Mapping[str, str] = attrs.field(factory=dict, repr=False)

    @property
    def queue_backend(self) -> str:
        return "rq" if self.redis_url else "inline"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``CRYPTOPAY_*`` variables (see README, Configuration)."""
        source = dict(os.environ if env is None else env)
        data_dir = Path(source.get("CRYPTOPAY_DATA_DIR", ".cryptopay")).resolve()
        database_url = source.get("CRYPTOPAY_DATABASE_URL") or f"sqlite:///{data_dir / 'cryptopay.db'}"
        settings = cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=source.get("CRYPTOPAY_REDIS_URL") or None,
            production=source.get("CRYPTOPAY_ENV", "development").lower() == "production",
            allow_sandbox=source.get("CRYPTOPAY_ALLOW_SANDBOX", "").lower() in {"1", "true", "yes"},
            webhook_allow_loopback=source.get("CRYPTOPAY_WEBHOOK_ALLOW_LOOPBACK", "").lower() in {"1", "true", "yes"},
            env=source,
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Production refuses embedded defaults and sandbox endpoints unless explicitly allowed."""
        from cryptopay.core.errors import InvalidInput

        if not self.production:
            return
        if self.webhook_allow_loopback:
            raise InvalidInput(
                "CRYPTOPAY_WEBHOOK_ALLOW_LOOPBACK is for the sandbox; production sends to public hosts only"
            )
        if self.database_url.startswith("sqlite"):
            raise InvalidInput("production needs CRYPTOPAY_DATABASE_URL (PostgreSQL); SQLite is for embedding")
        if self.allow_sandbox:
            return
        for name, value in self.env.items():
            if name.startswith("CRYPTOPAY_") and name.endswith("_URL") and any(h in value for h in _SANDBOX_HOSTS):
                raise InvalidInput(f"{name} points at a sandbox or loopback host; set CRYPTOPAY_ALLOW_SANDBOX=1")


class Container:
    """Every wired service, built on first use. Call ``close()`` to release connections and threads."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, ids: IdGenerator | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.ids: IdGenerator = ids or RandomIds()
        self._closers: list[Any] = []

    # -- storage ------------------------------------------------------------------------------------------
    @functools.cached_property
    def engine(self) -> Engine:
        from cryptopay.adapters._paths import private_dir
        from cryptopay.adapters.sql import make_engine, upgrade

        private_dir(self.settings.data_dir)
        if self.settings.database_url.startswith("sqlite"):
            upgrade(self.settings.database_url)  # the embedded default migrates itself; production runs `db upgrade`
        engine = make_engine(self.settings.database_url)
        self._closers.append(engine.dispose)
        return engine

    @functools.cached_property
    def storage(self) -> Any:
        from cryptopay.adapters.sql.repositories.webhooks import SecretCipher, webhook_repositories
        from cryptopay.adapters.sql.uow import SqlStorage

        cipher = SecretCipher.from_vault(self.vault)  # webhook endpoint secrets are sealed by the key vault
        return SqlStorage(self.engine, ids=self.ids, repositories=webhook_repositories(cipher))

    def uow_factory(self) -> Any:
        """A new unit of work (a context manager committing on success), with the outbox and webhook repositories."""
        return self.storage.unit_of_work()

    # The same factory under the names the payments wiring (``uow``) and the CLI's webhook commands look for.
    uow = webhooks_uow = uow_factory

    @functools.cached_property
    def ledger(self) -> Ledger:
        from cryptopay.adapters.sql import SqlLedgerStore

        return Ledger(SqlLedgerStore(self.engine), clock=self.clock, ids=self.ids)

    # -- money rails --------------------------------------------------------------------------------------
    @functools.cached_property
    def pricer(self) -> Any:
        from cryptopay.adapters.fx import FxSettings, build_pricer

        fx = FxSettings.from_env(self.settings.env)
        return build_pricer(fx, clock=self.clock, ids=self.ids, quotes=self.quotes)  # builds its cache only if used

    @functools.cached_property
    def quotes(self) -> Any:
        try:
            from cryptopay.adapters.sql.repositories.fx import SqlQuoteRepository
        except ImportError:  # pragma: no cover - until the SQL quote store lands
            from cryptopay.core.testing.fx import InMemoryQuoteRepository

            return InMemoryQuoteRepository()
        from cryptopay.adapters.cache import CachedQuotes

        return CachedQuotes(SqlQuoteRepository(self.engine))  # a locked quote never changes: read it once

    @functools.cached_property
    def mobile_money(self) -> Any:
        from cryptopay.adapters.mpesa import DarajaGateway, DarajaSettings

        return DarajaGateway(DarajaSettings.from_env(self.settings.env))

    # -- chains and payments ------------------------------------------------------------------------------
    def _env(self, name: str, default: str = "") -> str:
        return self.settings.env.get(f"CRYPTOPAY_{name}", default)

    @functools.cached_property
    def rails(self) -> dict[str, Rail]:
        """The deployment's rails by key (``usdt-ethereum``...): networks with an RPC/API URL configured."""
        rails: dict[str, Rail] = {}
        for network in _EVM_NETWORKS:
            if not self._env(f"{network.upper()}_RPC_URL"):
                continue
            chain_id = self._env(f"{network.upper()}_CHAIN_ID")
            rail = rail_for(
                network,
                "USDT",
                contract=self._env(f"{network.upper()}_USDT_CONTRACT") or None,
                chain_id=int(chain_id) if chain_id else None,
                confirmations=self._depth(network),
            )
            rails[rail.key] = rail
        if self._env("TRON_API_URL"):
            rail = rail_for(
                "tron", "USDT", contract=self._env("TRON_USDT_CONTRACT") or None, confirmations=self._depth("tron")
            )
            rails[rail.key] = rail
        if self._env("ESPLORA_URL"):
            rail = rail_for("bitcoin", "BTC", confirmations=self._depth("bitcoin"))
            rails[rail.key] = rail
        return rails

    def _depth(self, network: str) -> int | None:
        value = self._env(f"{network.upper()}_CONFIRMATIONS")
        return int(value) if value else None

    def _rails_on(self, network: str) -> list[Rail]:
        return [rail for rail in self.rails.values() if rail.network.name == network]

    @functools.cached_property
    def derivers(self) -> dict[str, Any]:
        """Deposit-address derivers per network, from account-level extended public keys (no private keys)."""
        from cryptopay.adapters.bitcoin.addresses import BitcoinAddressDeriver
        from cryptopay.adapters.evm.addresses import EvmAddressDeriver
        from cryptopay.adapters.tron.addresses import TronAddressDeriver

        derivers: dict[str, Any] = {}
        networks = {rail.network.name for rail in self.rails.values()}
        if evm_xpub := self._env("EVM_XPUB"):
            derivers.update({n: EvmAddressDeriver(evm_xpub) for n in networks & set(_EVM_NETWORKS)})
        if "tron" in networks and (tron_xpub := self._env("TRON_XPUB")):
            derivers["tron"] = TronAddressDeriver(tron_xpub)
        if "bitcoin" in networks and (btc_xpub := self._env("BITCOIN_XPUB")):
            derivers["bitcoin"] = BitcoinAddressDeriver(btc_xpub)
        return derivers

    @functools.cached_property
    def watchers(self) -> dict[str, Any]:
        """Chain watchers per configured network."""
        watchers: dict[str, Any] = {}
        for network in _EVM_NETWORKS:
            if rails := self._rails_on(network):
                from cryptopay.adapters.evm.watcher import EvmWatcher

                watchers[network] = EvmWatcher(self._env(f"{network.upper()}_RPC_URL"), rails)
        if rails := self._rails_on("tron"):
            from cryptopay.adapters.tron.watcher import TronWatcher

            watchers["tron"] = TronWatcher(self._env("TRON_API_URL"), rails)
        if self._rails_on("bitcoin"):
            from cryptopay.adapters.bitcoin.watcher import BitcoinWatcher

            watchers["bitcoin"] = BitcoinWatcher(self._env("ESPLORA_URL"))
        return watchers

    @functools.cached_property
    def cursors(self) -> Any:
        from cryptopay.adapters.sql.repositories.chains import SqlScanCursorStore

        return SqlScanCursorStore(self.engine)

    @functools.cached_property
    def scanners(self) -> dict[str, Any]:
        """One cursor-keeping scanner per network; a new deployment starts a little behind the head."""
        from cryptopay.core.scanning import ChainScanner

        lookback = int(self._env("SCAN_LOOKBACK_BLOCKS", "100"))
        return {
            network: ChainScanner(watcher, self.cursors, start_block=max(0, watcher.head() - lookback))
            for network, watcher in self.watchers.items()
        }

    @functools.cached_property
    def merchants(self) -> Any:
        from cryptopay.adapters.sql.repositories.identity import SqlMerchants

        return SqlMerchants(self.engine)

    @functools.cached_property
    def users(self) -> Any:
        from cryptopay.adapters.sql.repositories.identity import SqlUsers

        return SqlUsers(self.engine)

    def _use_case_ports(self) -> dict[str, Any]:
        return {"uow": self.uow, "clock": self.clock, "ids": self.ids, "ledger": self.ledger}

    @functools.cached_property
    def invoicing(self) -> Any:
        from cryptopay.core.payments.invoicing import Invoicing

        return Invoicing(**self._use_case_ports(), pricer=self.pricer, derivers=self.derivers)

    @functools.cached_property
    def detection(self) -> Any:
        from cryptopay.core.payments.detection import Detection

        return Detection(**self._use_case_ports(), cursors=self.cursors)

    @functools.cached_property
    def settling(self) -> Any:
        from cryptopay.core.settlement.service import Settling

        return Settling(**self._use_case_ports(), pricer=self.pricer, merchants=self.merchants)

    @functools.cached_property
    def payout_urls(self) -> Any:
        from cryptopay.core.payouts.service import PayoutUrls

        base = self._env("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/") + "/hooks/daraja"
        return PayoutUrls(
            result=f"{base}/payouts/result",
            timeout=f"{base}/payouts/timeout",
            status_result=f"{base}/status/result",
            status_timeout=f"{base}/status/timeout",
        )

    @functools.cached_property
    def payouts(self) -> Any:
        from cryptopay.core.payouts.service import Payouts

        return Payouts(**self._use_case_ports(), gateway=self.mobile_money, urls=self.payout_urls)

    @functools.cached_property
    def listings(self) -> Listings:
        """The read models every listing (CLI, HTTP) pages through."""
        from cryptopay.core.listings import Listings

        return Listings(uow=self.uow, merchants=self.merchants)

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
        from cryptopay.core.reconciliation import Reconciliation

        hot = {n: wallet for n in self.balance_readers if (wallet := self._env(f"{n.upper()}_HOT_WALLET"))}
        metrics = PrometheusMetrics(textfile=self.settings.data_dir / "metrics" / "reconciliation.prom")
        baseline = self._env("MPESA_FLOAT_BASELINE")
        return Reconciliation(
            uow=self.uow,
            ledger=self.ledger,
            clock=self.clock,
            chains=self.balance_readers,
            hot_wallets=hot,
            metrics=metrics,
            balance_answers=self.balance_queries,
            float_baseline=Money.of(to_decimal(baseline), KES) if baseline else None,
        )

    @functools.cached_property
    def balance_queries(self) -> BalanceQueryStore:
        from cryptopay.adapters.sql.repositories.reconciliation import SqlBalanceQueryStore

        return SqlBalanceQueryStore(self.engine)

    @functools.cached_property
    def float_balance(self) -> FloatBalance:
        """Account Balance requests, recorded before they are sent; answers on ``/hooks/daraja/balance/...``."""
        from cryptopay.core.reconciliation import BalanceUrls, FloatBalance

        base = self._env("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/") + "/hooks/daraja"
        urls = BalanceUrls(result=f"{base}/balance/result", timeout=f"{base}/balance/timeout")
        return FloatBalance(
            store=self.balance_queries,
            gateway=self.mobile_money,
            ledger=self.ledger,
            clock=self.clock,
            ids=self.ids,
            urls=urls,
        )

    @functools.cached_property
    def senders(self) -> dict[str, Any]:
        """Chain senders for networks with a hot wallet (``CRYPTOPAY_<NETWORK>_HOT_WALLET``), keys from the vault."""
        from cryptopay.adapters.sql.repositories.chains import SqlWithdrawalStore
        from cryptopay.adapters.vault import FileKeyStore
        from cryptopay.core.hotkeys import VaultKeyProvider

        keys = VaultKeyProvider(self.vault, FileKeyStore(self.settings.data_dir / "keys"))
        store = SqlWithdrawalStore(self.engine)
        senders: dict[str, Any] = {}
        for network in {rail.network.name for rail in self.rails.values()}:
            hot = self._env(f"{network.upper()}_HOT_WALLET")
            if hot:
                senders[network] = self._sender(network, hot, keys, store)
        return senders

    def _sender(self, network: str, hot: str, keys: Any, store: Any) -> Any:
        if network in _EVM_NETWORKS:
            from cryptopay.adapters.evm.sender import EvmSender

            url = self._env(f"{network.upper()}_RPC_URL")
            return EvmSender(url, self._rails_on(network), hot_wallet=hot, keys=keys, store=store)
        if network == "tron":
            from cryptopay.adapters.tron.client import TronApi
            from cryptopay.adapters.tron.sender import TronSender
            from cryptopay.adapters.tron.transactions import TronTransactions

            txs = TronTransactions(TronApi(self._env("TRON_API_URL")), keys=keys, store=store)
            return TronSender(txs, hot_address=hot, rails=self._rails_on("tron"))
        from cryptopay.adapters.bitcoin.esplora import EsploraClient
        from cryptopay.adapters.bitcoin.sender import BitcoinSender

        return BitcoinSender(EsploraClient(self._env("ESPLORA_URL")), hot_address=hot, keys=keys, store=store)

    @functools.cached_property
    def refunds(self) -> Any:
        from cryptopay.core.payments.refunds import Refunds

        return Refunds(**self._use_case_ports(), senders=self.senders)

    def reconcile_and_ask(self) -> None:
        """The scheduled reconciliation (alerting on differences), then a new Account Balance question whose
        answer, kept with the books' float of its moment, the next run compares."""
        self.reconciliation.reconcile_and_alert()
        try:
            self.float_balance.ask()
        except CryptopayError as error:  # e.g. no Daraja settings: the balance check stays skipped, said why
            logging.getLogger(__name__).warning("no Account Balance question sent: %s", error.message)

    def scan_chains(self) -> int:
        """Scan every network from its cursor towards its head, recording transfers to our addresses."""
        recorded = 0
        for network, scanner in self.scanners.items():
            addresses = self.detection.watched_addresses(network)
            step = scanner.step(addresses, lambda ts, n=network: self.detection.record_chain_transfers(n, ts))
            recorded += len(step.transfers)
        return recorded

    def confirm_chains(self) -> None:
        for network, watcher in self.watchers.items():
            self.detection.confirm_payments(network, watcher)

    def expire_invoices(self) -> None:
        times = {network: self.detection.chain_now(network) for network in self.watchers}
        self.detection.expire_invoices(times)

    @functools.cached_property
    def jobs(self) -> dict[str, Any]:
        """The use-case jobs the worker runs (names from cryptopay_worker.jobs.LEAD_JOBS)."""
        return {
            "chains.scan": lambda _payload: self.scan_chains(),
            "chains.confirm": lambda _payload: self.confirm_chains(),
            "invoices.expire": lambda _payload: self.expire_invoices(),
            "settlements.run": lambda _payload: self.settling.run_settlements(),
            "payouts.start": lambda _payload: self.payouts.submit_payouts(),
            "payouts.query_status": lambda _payload: self.payouts.query_stale_payouts(),
            "refunds.send": lambda _payload: (self.refunds.send_refunds(), self.refunds.check_refunds()),
            "fx.refresh": lambda _payload: self.pricer.survey(Pair(USDT, KES)),
            "reconciliation.run": lambda _payload: self.reconcile_and_ask(),
            **self._webhook_jobs(),
        }

    def _webhook_jobs(self) -> dict[str, Any]:
        """Outbox relay, webhook delivery and sweep: in ``jobs`` so the inline queue runs them as the worker does."""
        from cryptopay.core.relay import RELAY_JOB, relay_outbox
        from cryptopay.core.webhooks import DELIVER_JOB, SWEEP_JOB, deliver_webhook, sweep_webhooks

        # Each handler reads the ports when it runs: the queue is built from this registry.
        return {
            RELAY_JOB: lambda _payload: relay_outbox(
                uow_factory=self.uow_factory, queue=self.queue, clock=self.clock, ids=self.ids
            ),
            DELIVER_JOB: lambda payload: deliver_webhook(
                str(payload["delivery_id"]),
                uow_factory=self.uow_factory,
                sender=self.webhook_sender,
                queue=self.queue,
                clock=self.clock,
            ),
            SWEEP_JOB: lambda _payload: sweep_webhooks(
                uow_factory=self.uow_factory, queue=self.queue, clock=self.clock
            ),
        }

    # -- queue and webhooks -------------------------------------------------------------------------------
    @functools.cached_property
    def job_registry(self) -> Any:
        """Every job the RQ worker runs (``jobs``), for the inline queue: one set of handlers for both modes."""
        from cryptopay.core.ports.queue import JobRegistry

        registry = JobRegistry()
        for name, handler in self.jobs.items():
            registry.register(name, handler)
        return registry

    @functools.cached_property
    def queue(self) -> Any:
        if self.settings.redis_url:
            import redis
            from cryptopay.adapters.queue import RqQueue

            return RqQueue(
                redis.Redis.from_url(self.settings.redis_url), queue_name=self._env("QUEUE_NAME", "cryptopay")
            )
        from cryptopay.adapters.queue import InlineQueue

        inline = InlineQueue(self.job_registry)
        self._closers.append(inline.close)
        return inline

    @property
    def allow_insecure_urls(self) -> bool:
        """Plain-http and loopback webhook endpoints: the sandbox only, by ``CRYPTOPAY_WEBHOOK_ALLOW_LOOPBACK``."""
        return self.settings.webhook_allow_loopback

    @functools.cached_property
    def webhook_sender(self) -> Any:
        from cryptopay.adapters.webhooks import HttpxWebhookSender

        return HttpxWebhookSender(allow_loopback=self.settings.webhook_allow_loopback)

    @functools.cached_property
    def vault(self) -> Any:
        """The key vault: KEKs from ``CRYPTOPAY_VAULT_KEKS``; outside production a local development KEK is kept
        (mode 0600) in the data directory so the embedded default works out of the box."""
        from cryptopay.adapters.vault import EnvelopeVault, generate_kek

        spec = self._env("VAULT_KEKS")
        if not spec and not self.settings.production:
            from cryptopay.adapters._paths import private_file

            dev_kek = self.settings.data_dir / "dev-vault-kek"
            fresh = not dev_kek.exists()
            private_file(dev_kek)  # 0600 in a 0700 directory, also when an older version left it readable
            if fresh:
                dev_kek.write_text(f"dev:{generate_kek()}")
            spec = dev_kek.read_text().strip()
        return EnvelopeVault.from_spec(spec)

    # -- security -------------------------------------------------------------------------------------------
    @functools.cached_property
    def audit_trail(self) -> Any:
        """The audit log for events outside a unit of work (logins, step-ups, keys, operator actions)."""
        from cryptopay.adapters.sql.audit import SqlAuditTrail

        return SqlAuditTrail(self.engine, self.ids)

    @functools.cached_property
    def notifier(self) -> Any:
        """Email over SMTP when ``CRYPTOPAY_SMTP_HOST`` is set; otherwise a private file in the data directory."""
        from cryptopay.adapters.notify import FileNotifier, SmtpNotifier, SmtpSettings

        if self._env("SMTP_HOST"):
            return SmtpNotifier(SmtpSettings.from_env(self.settings.env))
        if self.settings.production:
            import logging

            logging.getLogger("cryptopay").warning("CRYPTOPAY_SMTP_HOST is not set: notifications go to a file")
        return FileNotifier(self.settings.data_dir / "notifications.jsonl")

    @functools.cached_property
    def totp(self) -> Any:
        from cryptopay.adapters.otp import PyOtpTotp

        return PyOtpTotp()

    def readiness_checks(self) -> dict[str, Callable[[], object]]:
        """What ``/readyz`` asks: the database answers and is migrated to head; Redis answers when configured."""
        from cryptopay.adapters.sql import check_at_head

        checks: dict[str, Callable[[], object]] = {
            "database": lambda: self.engine.connect().close(),
            "migrations": lambda: check_at_head(self.engine),
        }
        if self.settings.redis_url:
            import redis

            client = redis.Redis.from_url(self.settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
            checks["redis"] = client.ping
        return checks

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()
        self._closers.clear()


def build(settings: Settings | None = None, **overrides: Any) -> Container:
    """Wire a container from settings (the environment by default)."""
    return Container(settings or Settings.from_env(), **overrides)


@functools.lru_cache(maxsize=1)
def container() -> Container:
    """The process-wide container the shells share (built once, from the environment)."""
    return build()


def worker_container() -> Container:
    """What the RQ worker's ``services()`` adapts (uow_factory, queue, webhook_sender, clock, ids)."""
    return container()


def build_http_services(settings: Any = None) -> Any:
    """The services object ``cryptopay_http.create_app`` reads (identity repositories, limiter, checks)."""
    c = container()
    from cryptopay.adapters.bounded_hashing import BoundedHasher
    from cryptopay.adapters.passwords import Argon2Hasher
    from cryptopay.core.testing.identity import InMemoryRateLimiter

    services = _identity_repositories(c)
    services.update(
        rate_limiter=InMemoryRateLimiter(c.clock),
        password_hasher=BoundedHasher(
            Argon2Hasher(), max_concurrent=int(c.settings.env.get("CRYPTOPAY_PASSWORD_HASH_CONCURRENCY", "2"))
        ),
        clock=c.clock,
        ids=c.ids,
        readiness_checks=c.readiness_checks(),
        extra={"container": c, "payments": c, "webhooks": c},
        audit=c.audit_trail,
        notifier=c.notifier,
        totp=c.totp,
    )
    return _Namespace(services)


def _identity_repositories(c: Container) -> dict[str, Any]:
    """The SQL identity repositories; with Redis, API keys and merchant owners are cached per process and
    invalidated across processes by a shared epoch (``cryptopay.adapters.cache``), so a request's credential
    check costs a Redis GET instead of a database transaction."""
    from cryptopay.adapters.sql.repositories.identity import sql_identity_repositories
    from cryptopay.adapters.sql.repositories.webhooks import SecretCipher

    repositories = sql_identity_repositories(c.engine, cipher=SecretCipher.from_vault(c.vault))  # TOTP sealed
    if c.settings.redis_url:
        import redis
        from cryptopay.adapters.cache import CachedApiKeys, CachedMerchants, RedisEpoch
        from cryptopay.adapters.deployment import RedisKeys

        client = redis.Redis.from_url(c.settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        epoch = RedisEpoch(client, key=RedisKeys.from_env(c.settings.env).identity_epoch)
        repositories["api_keys"] = CachedApiKeys(repositories["api_keys"], epoch)
        repositories["merchants"] = CachedMerchants(repositories["merchants"], epoch)
    return repositories


class _Namespace:
    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)
