"""The merchant-payments deployment over real parts: SQL adapters on PostgreSQL, Daraja over HTTP to its sandbox.

``RealPaymentsStack`` offers what ``PaymentsStack`` offers, so the business features drive either one. The unit of
work, ledger, merchants, FX quotes and scan cursors are the SQL adapters; M-Pesa is the real ``DarajaGateway``
talking HTTP to a ``DarajaSandbox`` on a free loopback port, which posts its callbacks to a ``CallbackSink``;
``deliver_callbacks`` feeds what the sink received to the payout handler, as the HTTP shell's hooks would. The
chains stay ``FakeChain`` (anvil is the end-to-end demo's business) and the clock stays manual: the sandbox
decides payouts on its own timers, which ``deliver_callbacks`` waits out, and never looks at the stack's clock.

    with RealPaymentsStack.running(engine, certificate, certificate_path) as stack:
        stack.add_merchant("m1", settlement=profile)
        ...
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptopay.adapters.mpesa import DarajaGateway, DarajaSettings
from cryptopay.adapters.sql.repositories.chains import SqlScanCursorStore
from cryptopay.adapters.sql.repositories.fx import SqlQuoteRepository
from cryptopay.adapters.sql.repositories.identity import SqlMerchants, SqlUsers
from cryptopay.adapters.sql.tables import outbox
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.errors import Unavailable
from cryptopay.core.identity.model import Role, User
from cryptopay.core.ledger import Ledger
from cryptopay.core.mobile_money import parse_payload
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.payments.model import StoreSettings
from cryptopay.core.payouts import Payout
from cryptopay.core.payouts.service import Payouts, PayoutUrls
from cryptopay.core.pricing import Pricer
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.sandbox.certs import SandboxCertificate
from cryptopay.sandbox.daraja import DarajaSandbox, DarajaSandboxConfig
from cryptopay.sandbox.sink import CallbackSink, Received
from sqlalchemy.engine import Engine

from tests.support.wallet_stack import WalletStack

__all__ = ["DarajaOverHttp", "RealPaymentsStack", "TrackedDarajaSandbox"]

# The sandbox decides at once; its callbacks still travel over HTTP on its timer threads.
_TIMINGS = {"callback_delay": 0.0, "late_delay": 0.2, "response_delay": 1.0}


class TrackedDarajaSandbox(DarajaSandbox):
    """A Daraja sandbox that counts its running timers, so a test can wait until every completion and callback ran.

    A completion's callbacks are scheduled from inside the completion's own timer, so the count only reaches zero
    once nothing is left to post.
    """

    def __init__(self, config: DarajaSandboxConfig | None = None) -> None:
        super().__init__(config)
        self._pending = 0
        self._idle = threading.Condition()

    def later(self, delay: float, action: Any, *args: Any) -> None:
        with self._idle:
            self._pending += 1

        def run() -> None:
            try:
                action(*args)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

        super().later(delay, run)

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until no timer is pending; ``Unavailable`` after ``timeout`` seconds."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._pending == 0, timeout):
                raise Unavailable(f"the Daraja sandbox still has {self._pending} timers after {timeout}s")


class DarajaOverHttp:
    """M-Pesa over HTTP: a ``TrackedDarajaSandbox`` on a free loopback port (``timings`` go to its config), a
    ``CallbackSink`` its callbacks are posted to, and the real ``DarajaGateway`` talking to the sandbox; ``urls``
    are the payout URLs on the sink. ``close`` stops all three.

        daraja = DarajaOverHttp(certificate, certificate_path, callback_delay=0.0, response_delay=1.0)
        try:
            payouts = daraja.payouts_for(wallet)
            answers = daraja.answers_to(payouts)
        finally:
            daraja.close()
    """

    def __init__(self, certificate: SandboxCertificate, certificate_path: Path, **timings: float) -> None:
        self.sandbox = TrackedDarajaSandbox(DarajaSandboxConfig(private_key_pem=certificate.private_key_pem, **timings))
        self.sandbox.start()
        self.sink = CallbackSink.start()
        settings = {**self.sandbox.client_settings(), "certificate_path": str(certificate_path)}
        self.gateway = DarajaGateway(DarajaSettings(**settings, backoff_seconds=0.01, timeout_seconds=5.0))
        self.urls = PayoutUrls(
            result=self.sink.url_for("/payouts/result"),
            timeout=self.sink.url_for("/payouts/timeout"),
            status_result=self.sink.url_for("/status/result"),
            status_timeout=self.sink.url_for("/status/timeout"),
        )
        self._seen = 0

    def fresh_callbacks(self) -> list[Received]:
        """Wait until the sandbox has posted everything it decided; the callbacks the sink got since the last call."""
        self.sandbox.wait_idle()
        fresh = self.sink.received[self._seen :]
        self._seen += len(fresh)
        return fresh

    def payouts_for(self, wallet: WalletStack) -> Payouts:
        """``Payouts`` over ``wallet``'s storage, clock, ids and books, sending through the gateway; ``wallet``
        pays through it from now on, and its ``mpesa`` is the sandbox's engine (scenarios, phones, billers)."""
        payouts = Payouts(
            uow=wallet.backend.uow,
            clock=wallet.clock,
            ids=wallet.sells.ids,
            ledger=wallet.ledger,
            gateway=self.gateway,
            urls=self.urls,
        )
        wallet.mpesa, wallet.payouts = self.sandbox.engine, payouts
        return payouts

    def answers_to(self, payouts: Payouts) -> Callable[[], None]:
        """What brings M-Pesa's answers back: each fresh payout callback handed to ``payouts``, as the hooks would."""

        def answers() -> None:
            for received in self.fresh_callbacks():
                url = self.sink.url_for(received.path)
                purpose = self.urls.purpose_of(url)
                assert purpose is not None, url
                payouts.handle_payout_result(
                    parse_payload(received.payload), token=url.rsplit("/", 1)[-1], purpose=purpose
                )

        return answers

    def close(self) -> None:
        self.gateway.close()
        self.sink.stop()
        self.sandbox.stop()


class RealPaymentsStack(PaymentsStack):
    """``PaymentsStack`` with SQL storage on ``engine`` and M-Pesa over HTTP; ``mpesa`` is the sandbox's engine."""

    def __init__(
        self,
        engine: Engine,
        *,
        certificate: SandboxCertificate,
        certificate_path: Path,
        networks: Sequence[str] = ("tron",),
        **options: Any,
    ) -> None:
        super().__init__(networks=networks, **options)
        self.engine = engine
        self.daraja = DarajaOverHttp(certificate, certificate_path, **_TIMINGS)
        self.sandbox, self.sink, self.gateway = self.daraja.sandbox, self.daraja.sink, self.daraja.gateway
        self.mpesa = self.sandbox.engine  # the steps set scenarios and read phones' balances there
        self._use_real_parts()

    def _use_real_parts(self) -> None:
        """Replace the in-memory parts the base class built with the SQL and HTTP ones, and wire the use cases again."""
        self.storage = SqlStorage(self.engine, ids=self.ids)
        self.uow = self.storage.unit_of_work
        self.ledger = Ledger(self.storage.ledger_store, clock=self.clock, ids=self.ids)
        self.quotes = SqlQuoteRepository(self.engine)
        self.pricer = Pricer([self.rates], clock=self.clock, ids=self.ids, quotes=self.quotes)
        self.cursors = SqlScanCursorStore(self.engine)
        self.merchants = SqlMerchants(self.engine)
        self.urls = self.daraja.urls
        self.wire_use_cases(gateway=self.gateway)

    @classmethod
    @contextmanager
    def running(
        cls, engine: Engine, certificate: SandboxCertificate, certificate_path: Path, **options: Any
    ) -> Iterator[RealPaymentsStack]:
        """A stack whose sandbox, sink and HTTP client are closed when the block ends."""
        stack = cls(engine, certificate=certificate, certificate_path=certificate_path, **options)
        try:
            yield stack
        finally:
            stack.close()

    def close(self) -> None:
        self.daraja.close()

    # --- set-up -------------------------------------------------------------------------------------------------
    def add_merchant(self, merchant_id: str, **options: Any) -> StoreSettings:
        """The merchant's owner (a user row the merchants table refers to), then the merchant and its store."""
        now = self.clock.now()
        SqlUsers(self.engine).add(User(f"user-{merchant_id}", f"{merchant_id}@shops.test", "-", Role.MERCHANT, now))
        return super().add_merchant(merchant_id, **options)

    # --- the world moves ----------------------------------------------------------------------------------------
    def deliver_callbacks(self) -> list[Payout | None]:
        """Wait until the sandbox has posted everything it decided, then hand each new callback to the handler."""
        fresh = self.daraja.fresh_callbacks()
        failed = [d for d in self.sandbox.deliveries if d["status"] != 200]
        assert not failed, f"the sandbox could not deliver: {failed}"
        return [self.deliver(self.sink.url_for(r.path), r.payload) for r in fresh]

    # --- reading --------------------------------------------------------------------------------------------------
    def outbox(self, topic: str | None = None) -> list[OutboxMessage]:
        query = outbox.select().order_by(outbox.c.created_at, outbox.c.id)
        if topic is not None:
            query = query.where(outbox.c.topic == topic)
        with self.engine.connect() as conn:
            return [OutboxMessage(**row._mapping) for row in conn.execute(query)]

    def topics(self) -> list[str]:
        return [m.topic for m in self.outbox()]
