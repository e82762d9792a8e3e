"""An in-memory ``LedgerStore``: serialisable (one writer at a time), all-or-nothing sessions.

It is the reference the SQL stores are held to by the contract tests; ``DraftPostingLedgerStore`` adds the
reference ``post_drafts`` (the ``DraftPoster`` capability).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import attrs
from cryptopay.core.errors import AssetMismatch, Conflict, InsufficientFunds, InvalidAmount, NotFound
from cryptopay.core.ledger import book
from cryptopay.core.ledger.model import Account, AccountBalance, Entry, EntryDraft, Hold, HoldState
from cryptopay.core.ports.ledger import IdempotencyRecord

__all__ = ["DraftPostingLedgerStore", "InMemoryLedgerStore"]


@attrs.define
class _State:
    accounts: dict[str, Account] = attrs.Factory(dict)
    balances: dict[str, AccountBalance] = attrs.Factory(dict)
    entries: dict[str, Entry] = attrs.Factory(dict)
    holds: dict[str, Hold] = attrs.Factory(dict)
    keys: dict[str, IdempotencyRecord] = attrs.Factory(dict)
    reversals: dict[str, str] = attrs.Factory(dict)

    def copy(self) -> _State:
        return _State(*(dict(getattr(self, f.name)) for f in attrs.fields(_State)))


class _Session:
    def __init__(self, state: _State) -> None:
        self.state = state

    def get_account(self, code: str) -> Account | None:
        return self.state.accounts.get(code)

    def get_accounts(self, codes: Sequence[str]) -> dict[str, Account]:
        return {c: self.state.accounts[c] for c in codes if c in self.state.accounts}

    def add_account(self, account: Account) -> None:
        if account.code in self.state.accounts:
            raise Conflict(f"account {account.code} exists")
        self.state.accounts[account.code] = account
        self.state.balances[account.code] = AccountBalance(account)

    def lock_balances(self, codes: Sequence[str]) -> dict[str, AccountBalance]:
        return {c: self.state.balances[c] for c in codes if c in self.state.balances}

    def save_balances(self, balances: Iterable[AccountBalance]) -> None:
        for balance in balances:
            self.state.balances[balance.account.code] = balance

    def find_idempotency(self, key: str) -> IdempotencyRecord | None:
        return self.state.keys.get(key)

    def find_idempotencies(self, keys: Sequence[str]) -> dict[str, IdempotencyRecord]:
        return {k: self.state.keys[k] for k in keys if k in self.state.keys}

    def prefetch(self, keys: Sequence[str], codes: Sequence[str]) -> None:
        """Nothing to do: the whole state is at hand."""

    def add_idempotency(self, record: IdempotencyRecord) -> None:
        if record.key in self.state.keys:
            raise Conflict(f"idempotency key {record.key} exists")
        self.state.keys[record.key] = record

    def add_entry(self, entry: Entry) -> None:
        self.state.entries[entry.id] = entry
        if entry.reverses:
            self.state.reversals[entry.reverses] = entry.id

    def get_entry(self, entry_id: str) -> Entry | None:
        return self.state.entries.get(entry_id)

    def find_reversal(self, entry_id: str) -> Entry | None:
        reversal = self.state.reversals.get(entry_id)
        return self.state.entries[reversal] if reversal else None

    def get_hold(self, hold_id: str) -> Hold | None:
        return self.state.holds.get(hold_id)

    def add_hold(self, hold: Hold) -> None:
        self.state.holds[hold.id] = hold

    def update_hold(self, hold: Hold) -> None:
        self.state.holds[hold.id] = hold


class InMemoryLedgerStore:
    """Dict-backed store; a session works on a copy that replaces the state only on success."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.RLock()

    @contextmanager
    def session(self) -> Iterator[_Session]:
        with self._lock:
            working = _Session(self._state.copy())
            yield working
            self._state = working.state

    def accounts(self) -> list[Account]:
        return sorted(self._state.accounts.values(), key=lambda a: a.code)

    def balances(self, codes: Sequence[str] | None = None) -> list[AccountBalance]:
        state = self._state
        wanted = sorted(state.balances) if codes is None else [c for c in codes if c in state.balances]
        return [state.balances[c] for c in wanted]

    def entries(
        self,
        *,
        account: str | None = None,
        limit: int = 100,
        since: datetime | None = None,
        until: datetime | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> list[Entry]:
        found = [
            e
            for e in self._state.entries.values()
            if (account is None or account in {x.account for x in e.lines})
            and (since is None or e.created_at >= since)
            and (until is None or e.created_at < until)
            and (before is None or (e.created_at, e.id) < before)
        ]
        return sorted(found, key=lambda e: (e.created_at, e.id), reverse=True)[:limit]

    def holds(self, *, pending_only: bool = False, expiring_before: datetime | None = None) -> list[Hold]:
        found = list(self._state.holds.values())
        if pending_only:
            found = [h for h in found if h.state is HoldState.PENDING]
        if expiring_before is not None:
            found = [h for h in found if h.expires_at is not None and h.expires_at <= expiring_before]
        return sorted(found, key=lambda h: h.id)


class _Declined(Exception):
    """A draft needs the general path: the whole batch is declined."""


class DraftPostingLedgerStore(InMemoryLedgerStore):
    """The in-memory store that also posts drafts itself: the reference ``DraftPoster`` (the contract tests hold
    PostgreSQL's one-statement path to it). A ``Ledger`` over it takes the draft path for new entries.

    >>> from cryptopay.core.ledger import Account, AccountKind, Ledger, Posting
    >>> from cryptopay.core.money import KES, Money
    >>> store = DraftPostingLedgerStore()
    >>> ledger = Ledger(store)
    >>> _ = ledger.open_account(Account("assets:bank:KES", AccountKind.ASSET, KES, allow_negative=True))
    >>> _ = ledger.open_account(Account("liabilities:user:u1:KES", AccountKind.LIABILITY, KES))
    >>> five = Money.of("5", KES)
    >>> draft = EntryDraft("ent_1", "k1", "hash", (Posting.debit("assets:bank:KES", five),
    ...                    Posting.credit("liabilities:user:u1:KES", five)), "", datetime(2026, 12, 5))
    >>> [line.balance_after for line in store.post_drafts([draft])[0].lines]
    [Decimal('5.00'), Decimal('5.00')]
    >>> store.post_drafts([draft]) is None  # its key is recorded now: the general path replays it
    True
    """

    posts_drafts = True

    def post_drafts(self, drafts: Sequence[EntryDraft]) -> list[Entry] | None:
        try:
            with self.session() as s:
                posted = []
                for draft in drafts:
                    if s.find_idempotency(draft.idempotency_key) is not None:
                        raise _Declined
                    balances = s.lock_balances(sorted({p.account for p in draft.postings}))
                    try:
                        updated, lines = book.apply_postings(draft.postings, balances)
                    except (NotFound, AssetMismatch, InsufficientFunds, InvalidAmount, ArithmeticError) as refused:
                        # InvalidAmount / ArithmeticError: a balance beyond the decimal context's precision
                        raise _Declined from refused
                    entry = draft.entry(lines)
                    s.add_entry(entry)
                    s.save_balances(updated.values())
                    s.add_idempotency(IdempotencyRecord(draft.idempotency_key, draft.request_hash, "entry", draft.id))
                    posted.append(entry)
                return posted
        except _Declined:
            return None
