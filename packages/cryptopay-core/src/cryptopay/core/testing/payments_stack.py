"""A whole merchant-payments deployment in memory: fake chains, senders, M-Pesa, rates, and the wired use cases.

``PaymentsStack`` is what the tests and the business features drive; a stack over the real adapters can offer
the same attributes and helpers, so the same steps run on both.

>>> from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
>>> from cryptopay.core.money import Money
>>> stack = PaymentsStack()
>>> profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "0712345678")
>>> _ = stack.add_merchant("m1", settlement=profile)
>>> invoice = stack.invoicing.create_invoice("m1", Money.of("1000", "KES"))
>>> _ = stack.chains["tron"].pay(invoice.options[0].address, invoice.options[0].due)
>>> stack.tick(minutes=1)
>>> stack.invoicing.get_invoice(invoice.id).state.value
'processing'
>>> stack.tick(minutes=1)
>>> stack.invoicing.get_invoice(invoice.id).state.value, stack.books_balanced()
('settled', True)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import attrs
from cryptopay.core.compliance.feed import MonitoringFeed
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.screening import Snapshot
from cryptopay.core.errors import NotFound
from cryptopay.core.fees import FeeProduct, FeeSchedule
from cryptopay.core.identity.model import Merchant
from cryptopay.core.invoices import Invoice
from cryptopay.core.ledger import Ledger
from cryptopay.core.listings import Listings
from cryptopay.core.mobile_money import parse_payload, token_from_url
from cryptopay.core.money import KES, Money, asset_by_code
from cryptopay.core.observing import Observing
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.payments.detection import Detection
from cryptopay.core.payments.held import HeldPayments, HeldPaymentsUnitOfWork
from cryptopay.core.payments.invoicing import Invoicing
from cryptopay.core.payments.links import PaymentLinks
from cryptopay.core.payments.model import StoreSettings, address_key
from cryptopay.core.payments.refunds import Refunds
from cryptopay.core.payouts.model import Payout
from cryptopay.core.payouts.service import Payouts, PayoutUrls
from cryptopay.core.ports.chains import ObservedTransfer, SentTransaction, TxState, WithdrawalRequest
from cryptopay.core.ports.compliance import ScreeningPort
from cryptopay.core.ports.fx import QuoteRepository
from cryptopay.core.ports.mobile_money import MobileMoneyGateway
from cryptopay.core.ports.paybill import PaybillUowFactory
from cryptopay.core.ports.queue import JobRegistry
from cryptopay.core.ports.remittances import RemittanceReadUowFactory
from cryptopay.core.ports.wallets import WalletUowFactory
from cryptopay.core.pricing import Pricer
from cryptopay.core.rails import NETWORKS, AddressFormat, Finality, Rail, rail_for
from cryptopay.core.reconciliation import BalanceUrls, FloatBalance, Reconciliation, Shortcodes
from cryptopay.core.scanning import ChainScanner
from cryptopay.core.settlement.model import SettlementProfile
from cryptopay.core.settlement.service import Settling
from cryptopay.core.testing.chains import InMemoryScanCursorStore
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.deposits import InMemoryWalletDeposits
from cryptopay.core.testing.fx import FixedRateSource, InMemoryQuoteRepository
from cryptopay.core.testing.identity import InMemoryMerchants
from cryptopay.core.testing.metrics import RecordingMetrics, SetNotificationQueue
from cryptopay.core.testing.mobile_money import FakeMobileMoney
from cryptopay.core.testing.paybill import InMemoryPaybillPayments
from cryptopay.core.testing.payments import payments_storage, payments_uow
from cryptopay.core.testing.queue import FakeQueue
from cryptopay.core.testing.reconciliation import InMemoryBalanceQueries, InMemoryReconciliationRuns
from cryptopay.core.testing.remittances import InMemoryRemittances
from cryptopay.core.testing.system import ManualClock, SequentialIds
from cryptopay.core.testing.wallets import InMemoryTransfers
from cryptopay.core.testing.webhooks import InMemoryWebhookDeliveries, InMemoryWebhookEndpoints

__all__ = ["FakeChain", "FakeChainSender", "FakeMempool", "PaymentsStack", "SequentialDeriver"]

HeldUowFactory = Callable[[], AbstractContextManager[HeldPaymentsUnitOfWork]]

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
CALLBACK_BASE = "https://pay.example.com/callbacks"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class SequentialDeriver:
    """An ``AddressDeriver`` giving a distinct, well-formed address per index (no keys involved)."""

    def __init__(self, network: str) -> None:
        self.network = network

    def derive(self, index: int) -> str:
        raw = _digest(f"{self.network}:{index}")
        style = NETWORKS[self.network].address_format
        if style is AddressFormat.EVM:
            return "0x" + raw[:20].hex()
        if style is AddressFormat.TRON:
            return "T" + "".join(_BASE58[b % 58] for b in raw[:33])
        return "bc1q" + "".join(_BECH32[b % 32] for b in raw[:32])


@attrs.define
class _Block:
    number: int
    hash: str
    time: datetime
    transfers: list[ObservedTransfer]


class FakeChain:
    """A chain in memory: blocks on demand, transfers to addresses, reorgs; a ``ChainWatcher`` with headers."""

    def __init__(self, network: str, clock: ManualClock, *, start_block: int = 100) -> None:
        self.network = network
        self._clock = clock
        self._blocks: list[_Block] = []
        self._start = start_block
        self._fork = 0
        self._tx = 0
        self.finals: dict[Finality, int] = {}  # the blocks a test declares ``safe``/``finalized`` (none by default)

    # --- making history ---------------------------------------------------------------------------------------
    def mine(self, transfers: Sequence[ObservedTransfer] = (), *, at: datetime | None = None) -> list[ObservedTransfer]:
        """A new block holding ``transfers`` (their block fields are filled in); returns them as mined."""
        number = self.head() + 1
        moment = at or self._clock.now()
        block_hash = "0x" + _digest(f"{self.network}:{number}:{self._fork}").hex()
        mined = [attrs.evolve(t, block_number=number, block_hash=block_hash, block_time=moment) for t in transfers]
        self._blocks.append(_Block(number, block_hash, moment, mined))
        return mined

    def pay(
        self, address: str, amount: Money, *, at: datetime | None = None, sender: str = "0xcustomer"
    ) -> ObservedTransfer:
        """A customer's transfer of ``amount`` from ``sender`` to ``address``, mined in a new block."""
        self._tx += 1
        tx_hash = "0x" + _digest(f"{self.network}:tx:{self._tx}").hex()
        transfer = ObservedTransfer(self.network, tx_hash, 0, address, amount, None, None, None, sender)
        return self.mine([transfer], at=at)[0]

    def reorg(self, depth: int) -> list[ObservedTransfer]:
        """Drop the last ``depth`` blocks (later blocks get new hashes); returns the transfers that left the chain."""
        dropped = self._blocks[-depth:]
        del self._blocks[-depth:]
        self._fork += 1
        return [t for block in dropped for t in block.transfers]

    def include(self, transfer: ObservedTransfer, *, at: datetime | None = None) -> ObservedTransfer:
        """Mine an earlier transaction again (it lands in a new block after a reorg)."""
        return self.mine([transfer], at=at)[0]

    # --- ChainWatcher ----------------------------------------------------------------------------------------
    def head(self) -> int:
        return self._blocks[-1].number if self._blocks else self._start - 1

    def scan(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[ObservedTransfer]:
        wanted = {address_key(self.network, a) for a in addresses}
        return [
            t
            for b in self._blocks
            if from_block <= b.number <= to_block
            for t in b.transfers
            if address_key(self.network, t.to_address) in wanted
        ]

    def block_hash(self, number: int) -> str | None:
        block = self._block(number)
        return block.hash if block else None

    def block_header(self, number: int) -> tuple[str, datetime] | None:
        block = self._block(number)
        return (block.hash, block.time) if block else None

    def confirmations(self, transfer: ObservedTransfer) -> int:
        if transfer.block_number is None or self.block_hash(transfer.block_number) != transfer.block_hash:
            return 0
        return self.head() - transfer.block_number + 1

    def final_block(self, finality: Finality) -> int | None:
        """``FinalitySource``: the highest block a test declared to carry ``finality``."""
        return self.finals.get(finality)

    def _block(self, number: int) -> _Block | None:
        return next((b for b in self._blocks if b.number == number), None)


class FakeMempool:
    """A ``MempoolWatcher`` over a ``FakeChain``: payments broadcast but unmined, mined into the chain's next block,
    or dropped (replaced by a transaction paying someone else, double-spent, evicted).

    >>> from cryptopay.core.money import BTC
    >>> mempool = FakeMempool(FakeChain("bitcoin", ManualClock()))
    >>> sent = mempool.broadcast("bc1qours", Money.of("0.001", BTC))
    >>> [t.tx_hash for t in mempool.pending(["bc1qours"])] == [sent.tx_hash]
    True
    >>> mempool.transfer_state(sent) is TxState.PENDING
    True
    """

    def __init__(self, chain: FakeChain) -> None:
        self.chain = chain
        self._waiting: dict[str, ObservedTransfer] = {}
        self._mined: set[str] = set()
        self._tx = 0

    def broadcast(self, address: str, amount: Money) -> ObservedTransfer:
        """A customer's payment of ``amount`` to ``address``, unconfirmed (no block fields)."""
        self._tx += 1
        tx_hash = _digest(f"{self.chain.network}:mempool:{self._tx}").hex()
        transfer = ObservedTransfer(self.chain.network, tx_hash, 0, address, amount, None, None, None, "customer")
        self._waiting[tx_hash] = transfer
        return transfer

    def mine(self) -> list[ObservedTransfer]:
        """The chain's next block takes every waiting payment; returns them as mined."""
        mined = self.chain.mine(list(self._waiting.values()))
        self._mined |= set(self._waiting)
        self._waiting.clear()
        return mined

    def drop(self, tx_hash: str) -> None:
        """The network forgets a waiting payment (an RBF replacement paid someone else, a double spend won)."""
        del self._waiting[tx_hash]

    # --- MempoolWatcher --------------------------------------------------------------------------------------
    def pending(self, addresses: Sequence[str]) -> list[ObservedTransfer]:
        wanted = {address_key(self.chain.network, a) for a in addresses}
        return [t for t in self._waiting.values() if address_key(self.chain.network, t.to_address) in wanted]

    def transfer_state(self, transfer: ObservedTransfer) -> TxState:
        """PENDING while waiting (or mined in a block a reorg removed), CONFIRMED in a canonical block, else
        DROPPED."""
        if transfer.tx_hash in self._waiting:
            return TxState.PENDING
        if transfer.tx_hash not in self._mined:
            return TxState.DROPPED
        canonical = self.chain.scan(0, self.chain.head(), [transfer.to_address])
        mined = next((t for t in canonical if t.tx_hash == transfer.tx_hash), None)
        return TxState.CONFIRMED if mined is not None and self.chain.confirmations(mined) > 0 else TxState.PENDING


class FakeChainSender:
    """A ``ChainSender`` that broadcasts once per withdrawal id and reports whatever state a test sets."""

    def __init__(self, network: str) -> None:
        self.network = network
        self.sent: dict[str, SentTransaction] = {}
        self.requests: list[WithdrawalRequest] = []

    def send(self, request: WithdrawalRequest) -> SentTransaction:
        self.requests.append(request)
        if request.withdrawal_id not in self.sent:
            tx_hash = "0x" + _digest(f"withdrawal:{request.withdrawal_id}").hex()
            self.sent[request.withdrawal_id] = SentTransaction(request.withdrawal_id, tx_hash, TxState.PENDING)
        return self.sent[request.withdrawal_id]

    def status(self, withdrawal_id: str) -> SentTransaction:
        if withdrawal_id not in self.sent:
            raise NotFound(f"no withdrawal {withdrawal_id}")
        return self.sent[withdrawal_id]

    def finish(self, withdrawal_id: str, state: TxState) -> None:
        """Decide a broadcast withdrawal (confirmed, failed or dropped)."""
        self.sent[withdrawal_id] = attrs.evolve(self.sent[withdrawal_id], state=state)


def _stack_rails(network: str) -> list[Rail]:
    """The stack's rails on ``network``: each of its tokens at 3 confirmations (the merchants' default)."""
    return [rail_for(network, token.asset, confirmations=3) for token in NETWORKS[network].tokens]


def _closed_at(merchants: InMemoryMerchants, merchant_id: str) -> datetime | None:
    merchant = merchants.get(merchant_id)
    return merchant.closed_at if merchant is not None else None


class PaymentsStack:
    """Every payment use case wired over in-memory fakes, on a manual clock that starts on a Monday, 12:00 Nairobi."""

    def __init__(self, *, start: datetime | None = None, usdt_kes: str = "130", networks: Sequence[str] = ("tron",)):
        self.clock = ManualClock(start)
        self.ids = SequentialIds()
        self.merchants = InMemoryMerchants()
        self.storage = payments_storage(
            # a closed merchant takes no new invoices (``Invoicing.open_store``); a function, not a bound method: the
            # unit of work's snapshot deep-copies the repositories, and would copy the stack along with one
            closing=lambda merchant_id: _closed_at(self.merchants, merchant_id),
            webhook_endpoints=InMemoryWebhookEndpoints(),
            webhook_deliveries=InMemoryWebhookDeliveries(),
            remittances=InMemoryRemittances(),  # the remittance gauges read it (orders are opened elsewhere)
            paybill_payments=InMemoryPaybillPayments(),  # the paybill gauges read it (payments come elsewhere)
            wallet_transfers=InMemoryTransfers(),  # the held-send gauges read it (sends are made elsewhere)
            wallet_deposits=InMemoryWalletDeposits(),  # the held-deposit gauges read it (deposits come elsewhere)
            **monitoring_repositories(),  # the alerts and cases a held payment's decision concludes
        )
        self.uow = payments_uow(self.storage)
        self.ledger = Ledger(self.storage.ledger_store, clock=self.clock, ids=self.ids)
        self.rates = FixedRateSource("market", self.clock, {"USDT/KES": usdt_kes, "USDT/USD": "1"})
        self.quotes: QuoteRepository = InMemoryQuoteRepository()
        self.pricer = Pricer([self.rates], clock=self.clock, ids=self.ids, quotes=self.quotes)
        self.chains = {n: FakeChain(n, self.clock) for n in networks}
        self.senders = {n: FakeChainSender(n) for n in networks}
        self.cursors = InMemoryScanCursorStore()
        self.mpesa = FakeMobileMoney(clock=self.clock)
        self.metrics = RecordingMetrics()
        self.notification_queue = SetNotificationQueue()  # PostgreSQL's NOTIFY queue, as a fraction a test sets
        self.jobs = FakeQueue(JobRegistry(), self.clock)  # dead letters for the gauges (the stack runs no jobs)
        self.balance_queries = InMemoryBalanceQueries()
        self.reconciliation_runs = InMemoryReconciliationRuns()
        self.balance_urls = BalanceUrls(
            result=f"{CALLBACK_BASE}/balance/result", timeout=f"{CALLBACK_BASE}/balance/timeout"
        )
        self.urls = PayoutUrls(
            result=f"{CALLBACK_BASE}/payouts/result",
            timeout=f"{CALLBACK_BASE}/payouts/timeout",
            status_result=f"{CALLBACK_BASE}/status/result",
            status_timeout=f"{CALLBACK_BASE}/status/timeout",
        )
        self.monitor = MonitoringFeed()  # what detection feeds AML monitoring (a test sets one, then rewires)
        # the alerts' cases officers conclude (a test sets one, likewise, over ``self.storage``: a held payment's
        # decision concludes them in its own unit of work, so they must live in the same storage)
        self.monitoring: Monitoring | None = None
        self.sanctions_lists: list[Snapshot] = []  # the snapshots the gauges see (a test adds one)
        self.screening: ScreeningPort | None = None  # the sanctions lists detection screens payers against (likewise)
        self.wire_use_cases()

    def wire_use_cases(self, *, gateway: MobileMoneyGateway | None = None) -> None:
        """(Re)build the use cases from the stack's current parts: call it after swapping a part for a real one."""
        uow, clock, ids, ledger = self.uow, self.clock, self.ids, self.ledger
        derivers = {n: SequentialDeriver(n) for n in self.chains}
        self.invoicing = Invoicing(
            uow=uow,
            clock=clock,
            ids=ids,
            ledger=ledger,
            pricer=self.pricer,
            derivers=derivers,
        )
        self.detection = Detection(
            uow=uow,
            clock=clock,
            ids=ids,
            ledger=ledger,
            cursors=self.cursors,
            monitor=self.monitor,
            quoter=self.pricer,
            rails={r.key: r for n in self.chains for r in _stack_rails(n)},  # a wrong-network payment's depth
            sweepable=list(self.senders),  # every fake chain has a hot wallet
            screening=lambda: self.screening,  # a test sets one: a listed payer's payment is held
        )
        self.settling = Settling(
            uow=uow, clock=clock, ids=ids, ledger=ledger, pricer=self.pricer, merchants=self.merchants
        )
        self.payouts = Payouts(
            uow=uow,
            clock=clock,
            ids=ids,
            ledger=ledger,
            gateway=gateway or self.mpesa,
            urls=self.urls,
            metrics=self.metrics,
            payout_shortcode=self.mpesa.payout_shortcode if gateway is None else None,
        )
        self.refunds = Refunds(
            uow=uow,
            clock=clock,
            ids=ids,
            ledger=ledger,
            senders=self.senders,
            pricer=self.pricer,
            quotes=self.quotes,
            rails={r.key: r for n in self.chains for r in _stack_rails(n)},
            merchants=self.merchants,  # a closed merchant's invoice is refunded only when an operator says why
            screening=lambda: self.screening,  # a refund to a listed address is refused (when a test sets lists)
            monitoring=lambda: self.monitor,
        )
        self.held_payments = HeldPayments(
            uow=cast("HeldUowFactory", self.storage.unit_of_work),  # the payments' and the alerts' repositories
            ledger=ledger,
            clock=clock,
            refunds=self.refunds,
            ids=ids,
            monitoring=lambda: self.monitoring,
        )
        self.payment_links = PaymentLinks(uow=uow, clock=clock, ids=ids, invoicing=self.invoicing)
        self.listings = Listings(uow=uow, merchants=self.merchants)
        self.float_balance = FloatBalance(
            store=self.balance_queries,
            gateway=gateway or self.mpesa,
            ledger=ledger,
            clock=clock,
            ids=ids,
            urls=self.balance_urls,
        )
        self.reconciliation = Reconciliation(
            uow=uow,
            ledger=ledger,
            clock=clock,
            metrics=self.metrics,
            balance_answers=self.balance_queries,
            float_baseline=self.mpesa.float_balance,  # the fake's opening float: funded outside the books
            # the fake's statement (``statement_of``) is of its shortcode; another gateway's is not checked here
            shortcodes=Shortcodes(self.mpesa.shortcode, self.mpesa.payout_shortcode) if gateway is None else None,
            runs=self.reconciliation_runs,
            ids=ids,
        )
        self.observing = Observing(
            uow=uow,
            clock=clock,
            ledger=ledger,
            settling=self.settling,
            webhooks=self.storage.unit_of_work,
            metrics=self.metrics,
            balances=self.balance_queries,
            dead_letters=self.jobs,
            backlog=self.jobs,
            remittances=cast(RemittanceReadUowFactory, self.storage.unit_of_work),
            paybill=cast(PaybillUowFactory, self.storage.unit_of_work),
            wallets=cast(WalletUowFactory, self.storage.unit_of_work),
            notifications=self.notification_queue,
            sanctions=lambda: self.sanctions_lists,
            monitoring=cast(Any, self.storage.unit_of_work),
            deposits=cast(Any, self.storage.unit_of_work),
        )
        self._scanners = {
            n: ChainScanner(c, self.cursors, start_block=c.head() + 1, metrics=self.metrics)
            for n, c in self.chains.items()
        }

    # --- set-up -------------------------------------------------------------------------------------------------
    def add_merchant(
        self,
        merchant_id: str,
        *,
        settlement: SettlementProfile,
        rails: Sequence[str] = ("usdt-tron",),
        confirmations: int = 3,
        fee_percent: str = "1",
        tolerance_percent: str = "0",
        window: timedelta = timedelta(minutes=15),
        payout_charge: FeeSchedule | None = None,
    ) -> StoreSettings:
        """A merchant with its settlement profile and a store accepting ``rails``."""
        now = self.clock.now()
        self.merchants.add(Merchant(merchant_id, f"user-{merchant_id}", f"Shop {merchant_id}", settlement, now, now))
        keys = [key.split("-", 1) for key in rails]
        store = StoreSettings(
            merchant_id=merchant_id,
            rails=[rail_for(network, asset, confirmations=confirmations) for asset, network in keys],
            window=window,
            tolerance_percent=Decimal(tolerance_percent),
            fees=[self.merchant_fee(rail_for(n, a).asset.code, fee_percent) for a, n in keys]
            + ([payout_charge] if payout_charge else []),
        )
        with self.uow() as uow:
            uow.stores.put(store)
        return store

    def merchant_fee(self, asset: str, percent: str) -> FeeSchedule:
        return FeeSchedule(
            product=FeeProduct.MERCHANT,
            asset=asset_by_code(asset),
            version=1,
            effective_from=self.clock.now() - timedelta(days=1),
            percent=Decimal(percent),
        )

    # --- the world moves ----------------------------------------------------------------------------------------
    def pay(
        self,
        invoice_id: str,
        amount: Money | None = None,
        *,
        rail: str | None = None,
        at: datetime | None = None,
        sender: str = "0xcustomer",
    ) -> ObservedTransfer:
        """The customer (``sender``) pays ``amount`` (default: what is due) to the invoice's address on ``rail``, in a
        new block."""
        invoice = self.invoice(invoice_id)
        option = invoice.option(rail) if rail else invoice.options[0]
        return self.chains[option.rail.network.name].pay(option.address, amount or option.due, at=at, sender=sender)

    def confirm(self, blocks: int = 3) -> None:
        """``blocks`` more blocks, a minute apart, each scanned."""
        for _ in range(blocks):
            self.tick(minutes=1)

    def tick(self, **delta: float) -> None:
        """Time passes: every chain mines a block, the watchers scan and confirm, and invoices feel the time."""
        self.clock.advance(**delta)
        for chain in self.chains.values():
            chain.mine()
        self.sync()

    def sync(self) -> None:
        """Scan every chain to its head, update depths and reorgs, then let time act on the invoices."""
        for network, scanner in self._scanners.items():
            while True:
                step = scanner.step(self.detection.watched_addresses(network), self._sink(network))
                if step.to_block >= self.chains[network].head():
                    break
            self.detection.confirm_payments(network, self.chains[network], self.chains[network])
        self.detection.expire_invoices(self.chain_times())

    def chain_times(self) -> dict[str, datetime]:
        return {n: c.block_time for n in self.chains if (c := self.cursors.load(n)) is not None}

    def _sink(self, network: str) -> Callable[[Sequence[ObservedTransfer]], None]:
        def record(transfers: Sequence[ObservedTransfer]) -> None:
            self.detection.record_chain_transfers(network, transfers)

        return record

    def deliver_callbacks(self) -> list[Payout | None]:
        """Post every callback M-Pesa has sent so far to its handler (payouts, or Account Balance answers)."""
        deliveries, self.mpesa.outbox[:] = list(self.mpesa.outbox), []
        balances = [d for d in deliveries if d.url.startswith(self.balance_urls.result)]
        for answer in balances:
            self.float_balance.answer(parse_payload(answer.payload), token=token_from_url(answer.url))
        return [self.deliver(d.url, d.payload) for d in deliveries if d not in balances]

    def deliver(self, url: str, payload: Any) -> Payout | None:
        """Post one callback to the payout handler as the HTTP hooks would: the URL's token and purpose."""
        purpose = self.urls.purpose_of(url)
        assert purpose is not None, f"{url} is none of the payout callback URLs"
        return self.payouts.handle_payout_result(parse_payload(payload), token=token_from_url(url), purpose=purpose)

    # --- reading --------------------------------------------------------------------------------------------------
    def invoice(self, invoice_id: str) -> Invoice:
        return self.invoicing.get_invoice(invoice_id)

    def balance(self, account: str) -> Money:
        return self.ledger.balance(account).posted

    def books_balanced(self) -> bool:
        """The trial balance is zero for every asset."""
        return all(total == 0 for total in self.ledger.trial_balance().values())

    def outbox(self, topic: str | None = None) -> list[OutboxMessage]:
        return [m for m in self.storage.outbox_messages() if topic is None or m.topic == topic]

    def topics(self) -> list[str]:
        return [m.topic for m in self.storage.outbox_messages()]

    def kes(self, value: str) -> Money:
        return Money.of(value, KES)
