"""A hypothesis state machine that drives the real ledger with random operations and checks every invariant.

After every step: each entry sums to zero per asset, the trial balance is zero per asset, no account that may
not go negative has a negative available balance, pending holds add up to the pending totals, every
idempotency key maps to exactly one result, and a rejected operation changed nothing.

Reuse it against another store by subclassing and overriding ``make_store`` (see tests/contract/).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from cryptopay.core.errors import CryptopayError
from cryptopay.core.ledger import (
    Account,
    AccountKind,
    EntryRequest,
    HoldRequest,
    HoldState,
    Ledger,
    Posting,
)
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.testing.ledger import InMemoryLedgerStore
from cryptopay.core.testing.system import ManualClock, SequentialIds
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

ACCOUNTS = [
    Account("assets:custody:KES", AccountKind.ASSET, KES, allow_negative=True),
    Account("liabilities:user:a:KES", AccountKind.LIABILITY, KES),
    Account("liabilities:user:b:KES", AccountKind.LIABILITY, KES),
    Account("liabilities:user:c:KES", AccountKind.LIABILITY, KES),
    Account("assets:custody:USDT", AccountKind.ASSET, USDT, allow_negative=True),
    Account("liabilities:user:a:USDT", AccountKind.LIABILITY, USDT),
    Account("liabilities:user:b:USDT", AccountKind.LIABILITY, USDT),
]
KES_CODES = [a.code for a in ACCOUNTS if a.asset == KES]
USDT_CODES = [a.code for a in ACCOUNTS if a.asset == USDT]

amounts = st.integers(min_value=1, max_value=500_000).map(lambda cents: Money.from_minor(cents, KES))
usdt_amounts = st.integers(min_value=1, max_value=50_000_000).map(lambda units: Money.from_minor(units, USDT))
keys = st.integers(min_value=0, max_value=30).map(lambda n: f"k{n}")


class LedgerMachine(RuleBasedStateMachine):
    """Random transfers, holds, posts, voids, reversals, conversions and duplicate keys."""

    def make_store(self) -> Any:
        return InMemoryLedgerStore()

    @initialize()
    def open_books(self) -> None:
        self.store = self.make_store()
        self.ledger = Ledger(self.store, clock=ManualClock(), ids=SequentialIds(), sleep=lambda _s: None)
        for account in ACCOUNTS:
            self.ledger.open_account(account)
        self.results: dict[str, str] = {}  # idempotency key -> result id
        self.entries: list[str] = []
        self.holds: list[str] = []

    def _snapshot(self) -> list[Any]:
        return [
            (b.account.code, b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending)
            for b in self.store.balances()
        ]

    def _attempt(self, key: str, action: Any) -> Any:
        before = self._snapshot()
        try:
            result = action()
        except CryptopayError:
            assert self._snapshot() == before, "a rejected operation changed balances"
            return None
        if key in self.results:
            assert self.results[key] == result.id, f"key {key} produced a second result"
        self.results[key] = result.id
        return result

    @rule(key=keys, source=st.sampled_from(KES_CODES), dest=st.sampled_from(KES_CODES), amount=amounts)
    def transfer(self, key: str, source: str, dest: str, amount: Money) -> None:
        self._transfer(key, source, dest, amount)

    def _transfer(self, key: str, source: str, target: str, amount: Money) -> None:
        entry = self._attempt(key, lambda: self.ledger.transfer(key, debit=source, credit=target, amount=amount))
        if entry is not None and entry.id not in self.entries:
            self.entries.append(entry.id)

    @rule(
        batch=st.lists(
            st.tuples(keys, st.sampled_from(KES_CODES), st.sampled_from(KES_CODES), amounts),
            min_size=1,
            max_size=4,
            unique_by=lambda item: item[0],
        )
    )
    def post_batch(self, batch: list[tuple[str, str, str, Money]]) -> None:
        """``post_many``: all of the batch or none of it (a repeated key replays its own entry)."""
        requests = [EntryRequest(k, (Posting.debit(s, a), Posting.credit(d, a))) for k, s, d, a in batch]
        before = self._snapshot()
        try:
            posted = self.ledger.post_many(requests)
        except CryptopayError:
            assert self._snapshot() == before, "a rejected batch changed balances"
            return
        for request, entry in zip(requests, posted, strict=True):
            assert self.results.setdefault(request.key, entry.id) == entry.id, f"key {request.key} posted twice"
            if entry.id not in self.entries:
                self.entries.append(entry.id)

    @rule(key=keys, source=st.sampled_from(USDT_CODES), dest=st.sampled_from(USDT_CODES), amount=usdt_amounts)
    def transfer_usdt(self, key: str, source: str, dest: str, amount: Money) -> None:
        self._transfer(key, source, dest, amount)

    @rule(key=keys, source=st.sampled_from(USDT_CODES), amount=usdt_amounts, kes=amounts)
    def convert(self, key: str, source: str, amount: Money, kes: Money) -> None:
        def action() -> Any:
            return self.ledger.convert(
                key,
                source_account=source,
                target_account="liabilities:user:a:KES",
                source=amount,
                target=kes,
                quote_id="q1",
            )

        entry = self._attempt(key, action)
        if entry is not None and entry.id not in self.entries:
            self.entries.append(entry.id)

    @rule(key=keys, source=st.sampled_from(KES_CODES), dest=st.sampled_from(KES_CODES), amount=amounts)
    def place_hold(self, key: str, source: str, dest: str, amount: Money) -> None:
        hold = self._attempt(key, lambda: self.ledger.hold(HoldRequest(key, source, dest, amount)))
        if hold is not None and hold.id not in self.holds:
            self.holds.append(hold.id)

    @rule(key=keys, index=st.integers(min_value=0, max_value=50), fraction=st.sampled_from(["1", "0.5", "0.01"]))
    def post_hold(self, key: str, index: int, fraction: str) -> None:
        if not self.holds:
            return
        hold_id = self.holds[index % len(self.holds)]
        [hold] = [h for h in self.store.holds() if h.id == hold_id]
        part = hold.amount.times(Decimal(fraction), "ROUND_DOWN")
        amount = part if part.is_positive() else hold.amount
        entry = self._attempt(key, lambda: self.ledger.post_hold(hold_id, key, amount=amount))
        if entry is not None and entry.id not in self.entries:
            self.entries.append(entry.id)

    @rule(index=st.integers(min_value=0, max_value=50))
    def void_hold(self, index: int) -> None:
        if not self.holds:
            return
        hold_id = self.holds[index % len(self.holds)]
        before = self._snapshot()
        try:
            self.ledger.void_hold(hold_id)
        except CryptopayError:
            assert self._snapshot() == before

    @rule(key=keys, index=st.integers(min_value=0, max_value=50))
    def reverse(self, key: str, index: int) -> None:
        if not self.entries:
            return
        entry_id = self.entries[index % len(self.entries)]
        entry = self._attempt(key, lambda: self.ledger.reverse(entry_id, key))
        if entry is not None and entry.id not in self.entries:
            self.entries.append(entry.id)

    @rule(key=keys)
    def unbalanced_is_refused(self, key: str) -> None:
        request = EntryRequest(
            key,
            (
                Posting.debit("assets:custody:KES", Money.of("1", KES)),
                Posting.credit("liabilities:user:a:KES", Money.of("2", KES)),
            ),
        )
        before = self._snapshot()
        try:
            self.ledger.post(request)
        except CryptopayError:
            assert self._snapshot() == before
        else:
            raise AssertionError("an unbalanced entry was accepted")

    @invariant()
    def entries_balance_per_asset(self) -> None:
        for entry in self.store.entries(limit=10_000):
            sums: dict[str, Decimal] = defaultdict(Decimal)
            for line in entry.lines:
                sums[line.amount.asset.code] += line.amount.amount
            assert all(total == 0 for total in sums.values()), entry

    @invariant()
    def trial_balance_is_zero(self) -> None:
        if hasattr(self, "ledger"):
            assert all(total == 0 for total in self.ledger.trial_balance().values())

    @invariant()
    def no_forbidden_negative(self) -> None:
        for balance in self.store.balances():
            if not balance.account.allow_negative:
                assert not balance.available.is_negative(), balance
                assert not balance.posted.is_negative(), balance

    @invariant()
    def holds_add_up(self) -> None:
        debits: dict[str, Decimal] = defaultdict(Decimal)
        credits: dict[str, Decimal] = defaultdict(Decimal)
        for hold in self.store.holds(pending_only=True):
            debits[hold.debit_account] += hold.amount.amount
            credits[hold.credit_account] += hold.amount.amount
        for balance in self.store.balances():
            assert balance.debits_pending == debits[balance.account.code], balance
            assert balance.credits_pending == credits[balance.account.code], balance
        for hold in self.store.holds():
            if hold.state is HoldState.POSTED:
                assert hold.posted_amount is not None and hold.posted_amount <= hold.amount
