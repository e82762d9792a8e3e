"""In-memory treasury parts: the store, chain balances over a ``FakeChain``, a step-by-step sweeper, small stacks.

``InMemoryTreasuryStore`` keeps copies like the SQL store keeps rows (the contract suite holds both to the same
behaviour). ``FakeBalances`` reads what a ``FakeChain`` paid to an address, moved by the sweeps the
``FakeSweeper`` confirmed; the sweeper advances one stage per call (gas top-up when the address has no coin,
transfer sent, confirmed), like the real ones across worker runs.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
from cryptopay.core import flows
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.ledger import EntryRequest, Ledger, Posting
from cryptopay.core.ledger.service import trading_account
from cryptopay.core.money import KES, USDT, Asset, Money
from cryptopay.core.ports.chains import SentTransaction, TxState, one_by_one
from cryptopay.core.ports.mobile_money import MobileMoneyGateway
from cryptopay.core.ports.treasury import SweepProgress, SweepStage, TreasuryStore
from cryptopay.core.testing.payments import payments_storage, payments_uow
from cryptopay.core.testing.payments_stack import FakeChain, PaymentsStack
from cryptopay.core.testing.system import ManualClock, SequentialIds
from cryptopay.core.treasury.model import FloatReading, Sweep, SweepState

__all__ = [
    "FakeBalances",
    "FakeSweeper",
    "InMemoryTreasuryStore",
    "guard_stack",
    "rebalancing_stack",
]


class InMemoryTreasuryStore:
    """Sweeps by id (one open sweep per address) and float readings by id."""

    def __init__(self) -> None:
        self._sweeps: dict[str, Sweep] = {}
        self._readings: dict[str, FloatReading] = {}
        self._lock = threading.Lock()

    def add_sweep(self, sweep: Sweep) -> None:
        with self._lock:
            busy = any(
                s.is_open and s.network == sweep.network and s.deposit_address == sweep.deposit_address
                for s in self._sweeps.values()
            )
            if sweep.id in self._sweeps or (busy and sweep.is_open):
                raise Conflict(f"sweep {sweep.id} exists, or {sweep.deposit_address} is being swept")
            self._sweeps[sweep.id] = copy.deepcopy(sweep)

    def update_sweep(self, sweep: Sweep) -> bool:
        with self._lock:
            if sweep.id not in self._sweeps:
                raise NotFound(f"no sweep {sweep.id}")
            if not self._sweeps[sweep.id].state.is_open:
                return False
            self._sweeps[sweep.id] = copy.deepcopy(sweep)
            return True

    def get_sweep(self, sweep_id: str) -> Sweep | None:
        with self._lock:
            return copy.deepcopy(self._sweeps.get(sweep_id))

    def sweeps(self, *, state: SweepState | None = None, open_only: bool = False, limit: int = 100) -> list[Sweep]:
        with self._lock:
            found = [
                s for s in self._sweeps.values() if (state is None or s.state is state) and (not open_only or s.is_open)
            ]
            found.sort(key=lambda s: (s.created_at, s.id))
            return copy.deepcopy(found[:limit])

    def add_reading(self, reading: FloatReading) -> bool:
        with self._lock:
            if reading.id in self._readings:
                return False
            self._readings[reading.id] = reading
            return True

    def latest_reading(self) -> FloatReading | None:
        with self._lock:
            return max(self._readings.values(), key=lambda r: (r.at, r.id), default=None)


class FakeBalances:
    """``BalanceReader`` over a ``FakeChain``: tokens paid to an address, plus what sweeps and tests moved."""

    def __init__(self, chain: FakeChain) -> None:
        self.network = chain.network
        self._chain = chain
        self._moved: dict[tuple[str, str], Decimal] = defaultdict(Decimal)

    def balance(self, address: str, asset: Asset) -> Money:
        head = self._chain.head()
        paid = sum(
            (t.amount.amount for t in self._chain.scan(0, head, [address]) if t.amount.asset == asset),
            Decimal(0),
        )
        return Money.of(paid + self._moved[(address.lower(), asset.code)], asset)

    def total(self, addresses: Sequence[str], asset: Asset) -> Money:
        return one_by_one(self.balance, addresses, asset)

    def move(self, amount: Money, *, source: str | None, to: str | None) -> None:
        """Move ``amount`` between addresses (None: in from or out to the outside world)."""
        if source is not None:
            self._moved[(source.lower(), amount.asset.code)] -= amount.amount
        if to is not None:
            self._moved[(to.lower(), amount.asset.code)] += amount.amount


@attrs.define
class _Progress:
    stage: SweepStage
    amount: Money | None = None
    top_up: SentTransaction | None = None
    transfer: SentTransaction | None = None


class FakeSweeper:
    """A ``Sweeper`` over ``FakeBalances``: one stage per call; ``fail`` makes the next transfer fail."""

    def __init__(
        self,
        balances: FakeBalances,
        *,
        hot_wallet: str = "hot-wallet",
        asset: Asset = USDT,
        coin: Asset | None = None,
        gas: str = "1",
        fee: str = "0.5",
    ) -> None:
        from cryptopay.core.rails import rail_for

        self.network, self.asset, self.hot_wallet = balances.network, asset, hot_wallet
        native = rail_for(balances.network, asset.code).network.native
        self.coin = coin or (native.asset if native is not None else asset)
        self._balances, self._gas, self._fee = balances, Money.of(gas, self.coin), Money.of(fee, self.coin)
        self._sweeps: dict[str, _Progress] = {}
        self.fail = False
        self.calls = 0

    def sweep(self, sweep_id: str, deposit_address: str) -> SweepProgress:
        self.calls += 1
        progress = self._sweeps.get(sweep_id)
        if progress is None:
            progress = self._start(sweep_id, deposit_address)
        elif progress.stage is SweepStage.TOPPING_UP:
            progress = self._send(sweep_id, deposit_address, progress)
        elif progress.stage is SweepStage.SENT:
            progress = self._land(deposit_address, progress)
        self._sweeps[sweep_id] = progress
        return SweepProgress(
            stage=progress.stage, amount=progress.amount, top_up=progress.top_up, transfer=progress.transfer
        )

    def _start(self, sweep_id: str, address: str) -> _Progress:
        held = self._balances.balance(address, self.asset)
        if not held.is_positive():
            return _Progress(SweepStage.EMPTY)
        if self._balances.balance(address, self.coin) < self._gas:
            self._balances.move(self._gas, source=self.hot_wallet, to=address)
            top_up = SentTransaction(f"{sweep_id}:gas", f"0xgas{sweep_id}", TxState.CONFIRMED, self._fee, 1, 1)
            self._balances.move(self._fee, source=self.hot_wallet, to=None)
            return _Progress(SweepStage.TOPPING_UP, held, top_up)
        return self._send(sweep_id, address, _Progress(SweepStage.TOPPING_UP, held))

    def _send(self, sweep_id: str, address: str, progress: _Progress) -> _Progress:
        amount = self._balances.balance(address, self.asset)
        transfer = SentTransaction(f"{sweep_id}:sweep", f"0xsweep{sweep_id}", TxState.PENDING)
        return _Progress(SweepStage.SENT, amount, progress.top_up, transfer)

    def _land(self, address: str, progress: _Progress) -> _Progress:
        assert progress.transfer is not None and progress.amount is not None
        if self.fail:
            failed = attrs.evolve(progress.transfer, state=TxState.FAILED, fee=self._fee)
            return _Progress(SweepStage.FAILED, progress.amount, progress.top_up, failed)
        self._balances.move(progress.amount, source=address, to=self.hot_wallet)
        self._balances.move(self._fee, source=address, to=None)
        done = attrs.evolve(progress.transfer, state=TxState.CONFIRMED, fee=self._fee, block_number=1, confirmations=20)
        return _Progress(SweepStage.CONFIRMED, progress.amount, progress.top_up, done)


@attrs.frozen
class _Stack:
    guard: Any
    ledger: Ledger
    store: InMemoryTreasuryStore
    storage: Any
    clock: ManualClock
    rebalancing: Any = None


def guard_stack(*, float_says: str, reserve: str = "0", at: datetime | None = None) -> _Stack:
    """A float guard whose M-Pesa float was last reported as ``float_says`` KES (books at zero then)."""
    from cryptopay.core.treasury.guard import FloatGuard

    clock, ids = ManualClock(at), SequentialIds()
    storage = payments_storage()
    ledger = Ledger(storage.ledger_store, clock=clock, ids=ids)
    store = InMemoryTreasuryStore()
    store.add_reading(
        FloatReading(
            id="r1",
            source="account_balance",
            reference="bq_1",
            at=clock.now(),
            utility=Money.of(float_says, KES),
            books=Money.zero(KES),
        )
    )
    guard = FloatGuard(
        uow=payments_uow(storage), ledger=ledger, store=store, clock=clock, reserve=Money.of(reserve, KES)
    )
    return _Stack(guard, ledger, store, storage, clock)


def rebalancing_stack(*, bought: str, paid: str, network: str = "tron") -> _Stack:
    """Books in which ``bought`` USDT was bought from merchants for ``paid`` KES (at customers' quotes)."""
    from cryptopay.core.treasury.rebalancing import Rebalancing

    stack = guard_stack(float_says="0")
    ledger = stack.ledger
    flows.open_platform_accounts(ledger, "m1", network, USDT)
    usdt, kes = Money.of(bought, USDT), Money.of(paid, KES)
    postings = [
        Posting.debit(flows.custody(network, USDT), usdt),
        Posting.credit(trading_account("USDT"), usdt),
        Posting.debit(trading_account("KES"), kes),
        Posting.credit(flows.merchant_liability("m1", KES), kes),
    ]
    ledger.post(EntryRequest("seed:settled", postings, "settled at customers' quotes"))
    rebalancing = Rebalancing(uow=payments_uow(stack.storage), ledger=ledger, clock=stack.clock, guard=stack.guard)
    return attrs.evolve(stack, rebalancing=rebalancing)


class TreasuryStack:
    """A ``PaymentsStack`` with the treasury wired in: fake chain balances and sweepers, the float guard in front
    of its payouts (alerts to ``ALERT_TO``), sweeps, rebalancing and the status read model.

    >>> from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
    >>> stack = TreasuryStack()
    >>> stack.treasury.status(read_chains=False).float.known is None  # no word from M-Pesa, no baseline
    True
    """

    ALERT_TO = "treasury@example.co.ke"

    def __init__(
        self,
        *,
        networks: tuple[str, ...] = ("tron",),
        reserve: str = "0",
        threshold: str = "50",
        baseline: str | None = None,
        low_alert: str | None = None,
        payments: PaymentsStack | None = None,
        store: TreasuryStore | None = None,
        gateway: MobileMoneyGateway | None = None,
    ) -> None:
        from cryptopay.core.payouts.service import Payouts
        from cryptopay.core.rails import rail_for
        from cryptopay.core.testing.notifications import InMemoryNotifier
        from cryptopay.core.treasury import FloatGuard, Rebalancing, Sweeps, Treasury

        self.payments = p = payments or PaymentsStack(networks=networks)
        networks = tuple(p.chains)
        self.baseline = Money.of(baseline, KES) if baseline is not None else None
        self.store: TreasuryStore = store or InMemoryTreasuryStore()
        self.balances = {n: FakeBalances(p.chains[n]) for n in networks}
        self.sweepers = {n: FakeSweeper(self.balances[n], hot_wallet=f"{n}-hot") for n in networks}
        self.notifier = InMemoryNotifier()
        self.guard = FloatGuard(
            uow=p.uow,
            ledger=p.ledger,
            store=self.store,
            clock=p.clock,
            answers=p.balance_queries,
            reserve=Money.of(reserve, KES),
            baseline=Money.of(baseline, KES) if baseline is not None else None,
            low_alert=Money.of(low_alert, KES) if low_alert is not None else None,
            notifier=self.notifier,
            alert_to=self.ALERT_TO,
            metrics=p.metrics,
        )
        p.payouts = Payouts(
            uow=p.uow,
            clock=p.clock,
            ids=p.ids,
            ledger=p.ledger,
            gateway=gateway or p.mpesa,
            urls=p.urls,
            metrics=p.metrics,
            guard=self.guard,
        )
        self.sweeps = Sweeps(
            uow=p.uow,
            store=self.store,
            ledger=p.ledger,
            clock=p.clock,
            ids=p.ids,
            sweepers=self.sweepers,
            balances=self.balances,
            threshold=Decimal(threshold),
        )
        self.rebalancing = Rebalancing(uow=p.uow, ledger=p.ledger, clock=p.clock, guard=self.guard)
        self.treasury = Treasury(
            uow=p.uow,
            ledger=p.ledger,
            store=self.store,
            guard=self.guard,
            rails=[rail_for(n, "USDT") for n in networks],
            chains=self.balances,
            hot_wallets={n: f"{n}-hot" for n in networks},
            metrics=p.metrics,
        )

    def reconcile(self) -> Any:
        """Reconcile the stack's books, its M-Pesa and its chains, with the treasury's checks."""
        from cryptopay.core.reconciliation import Reconciliation

        p = self.payments
        return Reconciliation(
            uow=p.uow,
            ledger=p.ledger,
            clock=p.clock,
            chains=self.balances,
            hot_wallets={n: s.hot_wallet for n, s in self.sweepers.items()},
            balance_answers=p.balance_queries,
            float_baseline=self.baseline,
            treasury=self.store,
        ).reconcile()

    def float_reported(self) -> None:
        """M-Pesa answers an Account Balance question (the fake's float now)."""
        self.payments.float_balance.ask()
        self.payments.deliver_callbacks()
