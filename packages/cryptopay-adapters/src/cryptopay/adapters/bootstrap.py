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
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from cryptopay.core.ledger import Ledger
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.system import RandomIds, SystemClock
from sqlalchemy.engine import Engine

__all__ = ["Container", "Settings", "build", "build_http_services", "container", "worker_container"]

_SANDBOX_HOSTS = ("127.0.0.1", "localhost", "[::1]", "sandbox.safaricom.co.ke")


@attrs.frozen(kw_only=True)
class Settings:
    """Deployment settings; secrets are read by each adapter's own settings from the same environment."""

    data_dir: Path
    database_url: str
    redis_url: str | None = None
    production: bool = False
    allow_sandbox: bool = False
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
            env=source,
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Production refuses embedded defaults and sandbox endpoints unless explicitly allowed."""
        from cryptopay.core.errors import InvalidInput

        if not self.production:
            return
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
        from cryptopay.adapters.sql import make_engine, upgrade

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        if self.settings.database_url.startswith("sqlite"):
            upgrade(self.settings.database_url)  # the embedded default migrates itself; production runs `db upgrade`
        engine = make_engine(self.settings.database_url)
        self._closers.append(engine.dispose)
        return engine

    @functools.cached_property
    def storage(self) -> Any:
        from cryptopay.adapters.sql.uow import SqlStorage

        return SqlStorage(self.engine, ids=self.ids)

    def uow_factory(self) -> Any:
        """A new unit of work (a context manager committing on success)."""
        return self.storage.unit_of_work()

    @functools.cached_property
    def ledger(self) -> Ledger:
        from cryptopay.adapters.sql import SqlLedgerStore

        return Ledger(SqlLedgerStore(self.engine), clock=self.clock, ids=self.ids)

    # -- money rails --------------------------------------------------------------------------------------
    @functools.cached_property
    def pricer(self) -> Any:
        from cryptopay.adapters.fx import FxSettings, build_cache, build_pricer

        fx = FxSettings.from_env(self.settings.env)
        return build_pricer(
            fx, clock=self.clock, ids=self.ids, quotes=self.quotes, cache=build_cache(fx, clock=self.clock)
        )

    @functools.cached_property
    def quotes(self) -> Any:
        try:
            from cryptopay.adapters.sql.repositories.fx import SqlQuoteRepository
        except ImportError:  # pragma: no cover - until the SQL quote store lands
            from cryptopay.core.testing.fx import InMemoryQuoteRepository

            return InMemoryQuoteRepository()
        return SqlQuoteRepository(self.engine)

    @functools.cached_property
    def mobile_money(self) -> Any:
        from cryptopay.adapters.mpesa import DarajaGateway, DarajaSettings

        return DarajaGateway(DarajaSettings.from_env(self.settings.env))

    # -- queue and webhooks -------------------------------------------------------------------------------
    @functools.cached_property
    def job_registry(self) -> Any:
        from cryptopay.core.ports.queue import JobRegistry

        return JobRegistry()

    @functools.cached_property
    def queue(self) -> Any:
        if self.settings.redis_url:
            import redis
            from cryptopay.adapters.queue import RqQueue

            return RqQueue(redis.Redis.from_url(self.settings.redis_url))
        from cryptopay.adapters.queue import InlineQueue

        inline = InlineQueue(self.job_registry)
        self._closers.append(inline.close)
        return inline

    @functools.cached_property
    def webhook_sender(self) -> Any:
        from cryptopay.adapters.webhooks import HttpxWebhookSender

        allow_private = not self.settings.production or self.settings.allow_sandbox
        return HttpxWebhookSender(allow_private_networks=allow_private)

    @functools.cached_property
    def vault(self) -> Any:
        from cryptopay.adapters.vault import EnvelopeVault

        return EnvelopeVault.from_env()

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
    from cryptopay.adapters.passwords import Argon2Hasher
    from cryptopay.core.testing.identity import InMemoryRateLimiter

    services = _identity_repositories(c)
    services.update(
        rate_limiter=InMemoryRateLimiter(c.clock),
        password_hasher=Argon2Hasher(),
        clock=c.clock,
        ids=c.ids,
        readiness_checks={"database": lambda: c.engine.connect().close()},
        extra={"container": c},
    )
    return _Namespace(services)


def _identity_repositories(c: Container) -> dict[str, Any]:
    from cryptopay.core.testing import identity as fakes

    return {
        "users": fakes.InMemoryUsers(),
        "refresh_tokens": fakes.InMemoryRefreshTokens(),
        "merchants": fakes.InMemoryMerchants(),
        "api_keys": fakes.InMemoryApiKeys(),
        "idempotency": fakes.InMemoryIdempotency(),
    }


class _Namespace:
    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)
