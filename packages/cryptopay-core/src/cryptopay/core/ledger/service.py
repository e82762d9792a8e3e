"""The ledger service: double-entry writes with idempotency keys, two-phase holds and reversals.

>>> from cryptopay.core.testing.ledger import InMemoryLedgerStore
>>> from cryptopay.core.money import KES, Money
>>> ledger = Ledger(InMemoryLedgerStore())
>>> _ = ledger.open_account(Account("assets:mpesa_float:KES", AccountKind.ASSET, KES, allow_negative=True))
>>> _ = ledger.open_account(Account("liabilities:user:u1:KES", AccountKind.LIABILITY, KES))
>>> entry = ledger.transfer("topup-1", debit="assets:mpesa_float:KES", credit="liabilities:user:u1:KES",
...                         amount=Money.of("500", KES))
>>> ledger.balance("liabilities:user:u1:KES").posted
Money('500.00', 'KES')
>>> ledger.transfer("topup-1", debit="assets:mpesa_float:KES", credit="liabilities:user:u1:KES",
...                 amount=Money.of("500", KES)).id == entry.id
True
>>> ledger.trial_balance()
{'KES': Decimal('0.00')}
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

import attrs
from cryptopay.core.errors import (
    Conflict,
    IdempotencyConflict,
    InvalidInput,
    InvalidState,
    NotFound,
)
from cryptopay.core.ledger import book
from cryptopay.core.ledger.model import (
    Account,
    AccountBalance,
    AccountKind,
    Entry,
    EntryDraft,
    Hold,
    HoldState,
    IdempotencyRecord,
    Posting,
)
from cryptopay.core.money import Money
from cryptopay.core.ports.storage import in_transaction, retrying
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.system import RandomIds, SystemClock

if TYPE_CHECKING:  # the port imports the model; importing it at module level here could be circular
    from cryptopay.core.ports.ledger import LedgerSession, LedgerStore

__all__ = ["EntryRequest", "HoldRequest", "Ledger", "trading_account"]

T = TypeVar("T")


def _as_postings(postings: Iterable[Posting]) -> tuple[Posting, ...]:
    return tuple(postings)


def _as_metadata(metadata: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(dict(metadata).items()))


@attrs.frozen
class EntryRequest:
    """A request to post an entry; ``key`` makes it idempotent."""

    key: str
    postings: tuple[Posting, ...] = attrs.field(converter=_as_postings)
    description: str = ""
    quote_id: str | None = None
    metadata: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_as_metadata)

    def fingerprint(self) -> str:
        lines = [(p.account, str(p.amount.amount), p.amount.asset.code) for p in self.postings]
        return book.request_hash("entry", [lines, self.description, self.quote_id, list(self.metadata)])


@attrs.frozen
class HoldRequest:
    """Reserve ``amount`` from ``debit`` towards ``credit`` until posted, voided or ``expires_at``."""

    key: str
    debit: str
    credit: str
    amount: Money
    expires_at: datetime | None = None
    description: str = ""

    def fingerprint(self) -> str:
        return book.request_hash(
            "hold", [self.debit, self.credit, str(self.amount), str(self.expires_at), self.description]
        )


def trading_account(asset_code: str) -> str:
    """The per-asset trading account that currency conversions pass through."""
    return f"equity:trading:{asset_code}"


class Ledger:
    """Double-entry ledger over a ``LedgerStore``.

    Each public method is one transaction; pass ``session=`` to take part in a caller's transaction
    instead (then the caller owns commit and retries).
    """

    def __init__(
        self,
        store: LedgerStore,
        *,
        clock: Clock | None = None,
        ids: IdGenerator | None = None,
        max_attempts: int = 8,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._clock = clock or SystemClock()
        self._ids = ids or RandomIds()
        self._max_attempts = max_attempts
        self._sleep = sleep
        from cryptopay.core.ports.ledger import DraftPoster

        self._drafts = store if isinstance(store, DraftPoster) and store.posts_drafts else None

    # -- plumbing -----------------------------------------------------------------------------------------
    def _run(self, work: Callable[[LedgerSession], T], session: LedgerSession | None) -> T:
        if session is not None:
            return work(session)
        return in_transaction(self._store.session, work, max_attempts=self._max_attempts, sleep=self._sleep)

    def _replay(self, s: LedgerSession, key: str, fingerprint: str, kind: str) -> str | None:
        record = s.find_idempotency(key)
        if record is None:
            return None
        if record.request_hash != fingerprint or record.result_kind != kind:
            raise IdempotencyConflict(f"idempotency key {key!r} was already used for a different request")
        return record.result_id

    # -- accounts -----------------------------------------------------------------------------------------
    def open_account(self, account: Account, *, session: LedgerSession | None = None) -> Account:
        """Open an account, or return the existing one if it has the same definition."""

        return self._run(lambda s: self._open_in(s, account), session)

    def open_accounts(self, accounts: Sequence[Account], *, session: LedgerSession | None = None) -> None:
        """``open_account`` for each, in one transaction, reading the existing ones with one query."""
        return self._run(lambda s: self._open_all_in(s, accounts), session)

    @staticmethod
    def _open_in(s: LedgerSession, account: Account) -> Account:
        existing = s.get_account(account.code)
        if existing is None:
            s.add_account(account)
            return account
        if existing != account:
            raise Conflict(f"account {account.code} exists with a different definition")
        return existing

    @staticmethod
    def _open_all_in(s: LedgerSession, accounts: Sequence[Account]) -> None:
        existing = s.get_accounts([a.code for a in accounts])
        for account in accounts:
            found = existing.get(account.code)
            if found is None:
                s.add_account(account)
                existing[account.code] = account
            elif found != account:
                raise Conflict(f"account {account.code} exists with a different definition")

    # -- entries ------------------------------------------------------------------------------------------
    def _post_in(self, s: LedgerSession, request: EntryRequest, *, reverses: str | None = None) -> Entry:
        fingerprint = request.fingerprint()
        codes = sorted({p.account for p in request.postings})
        s.prefetch([request.key], codes)
        done = self._replay(s, request.key, fingerprint, "entry")
        if done is not None:
            return self._entry(s, done)
        balances = s.lock_balances(codes)
        updated, lines = book.apply_postings(request.postings, balances)
        entry = Entry(
            id=self._ids.new_id("ent"),
            idempotency_key=request.key,
            lines=lines,
            description=request.description,
            created_at=self._clock.now(),
            quote_id=request.quote_id,
            reverses=reverses,
            metadata=request.metadata,
        )
        s.add_entry(entry)
        s.save_balances(updated[c] for c in codes)
        s.add_idempotency(IdempotencyRecord(request.key, fingerprint, "entry", entry.id))
        return entry

    @staticmethod
    def _entry(s: LedgerSession, entry_id: str) -> Entry:
        entry = s.get_entry(entry_id)
        if entry is None:
            raise NotFound(f"no ledger entry {entry_id!r}")
        return entry

    def _post_drafts(self, requests: Sequence[EntryRequest]) -> list[Entry] | None:
        """New entries through a store that posts drafts itself (one round trip); None: take the general path."""
        poster = self._drafts
        if poster is None or not all(book.well_formed(r.postings) for r in requests):
            return None
        hashes = [r.fingerprint() for r in requests]

        def attempt() -> list[Entry] | None:  # fresh ids and times on every attempt, as the general path has
            drafts = [
                EntryDraft(
                    self._ids.new_id("ent"),
                    r.key,
                    h,
                    r.postings,
                    r.description,
                    self._clock.now(),
                    r.quote_id,
                    r.metadata,
                )
                for r, h in zip(requests, hashes, strict=True)
            ]
            return poster.post_drafts(drafts)

        return retrying(attempt, max_attempts=self._max_attempts, sleep=self._sleep)

    def post(self, request: EntryRequest, *, session: LedgerSession | None = None) -> Entry:
        """Post a balanced entry (idempotent on ``request.key``)."""
        if session is None and (posted := self._post_drafts([request])) is not None:
            return posted[0]
        return self._run(lambda s: self._post_in(s, request), session)

    def post_many(self, requests: Sequence[EntryRequest], *, session: LedgerSession | None = None) -> list[Entry]:
        """Post several entries in one transaction: all of them or none."""
        if len({r.key for r in requests}) != len(requests):
            raise InvalidInput("a batch cannot repeat an idempotency key")
        if session is None and requests and (posted := self._post_drafts(requests)) is not None:
            return posted

        def work(s: LedgerSession) -> list[Entry]:
            # One read of the keys and one lock of every account, in code order, for the whole batch: two
            # batches touching the same accounts then queue instead of deadlocking on a per-entry lock order.
            s.prefetch([r.key for r in requests], sorted({p.account for r in requests for p in r.postings}))
            return [self._post_in(s, r) for r in requests]

        return self._run(work, session)

    def transfer(
        self,
        key: str,
        *,
        debit: str,
        credit: str,
        amount: Money,
        description: str = "",
        metadata: Mapping[str, str] | None = None,
        session: LedgerSession | None = None,
    ) -> Entry:
        """Post a two-line entry: debit one account, credit the other, by ``amount``."""
        request = EntryRequest(
            key, (Posting.debit(debit, amount), Posting.credit(credit, amount)), description, None, metadata or {}
        )
        return self.post(request, session=session)

    def convert(
        self,
        key: str,
        *,
        source_account: str,
        target_account: str,
        source: Money,
        target: Money,
        quote_id: str,
        description: str = "",
        session: LedgerSession | None = None,
    ) -> Entry:
        """Convert between assets as two balanced legs through per-asset trading accounts, naming the quote."""
        postings = (
            Posting.debit(source_account, source),
            Posting.credit(trading_account(source.asset.code), source),
            Posting.debit(trading_account(target.asset.code), target),
            Posting.credit(target_account, target),
        )
        request = EntryRequest(key, postings, description, quote_id)

        def work(s: LedgerSession) -> Entry:
            for money in (source, target):
                code = trading_account(money.asset.code)
                self._open_in(s, Account(code, AccountKind.EQUITY, money.asset, allow_negative=True))
            return self._post_in(s, request)

        return self._run(work, session)

    def reverse(self, entry_id: str, key: str, *, description: str = "", session: LedgerSession | None = None) -> Entry:
        """Post the mirror image of an entry; an entry can be reversed once."""

        def work(s: LedgerSession) -> Entry:
            original = self._entry(s, entry_id)
            request = EntryRequest(
                key,
                tuple(Posting(p.account, -p.amount) for p in original.postings),
                description or f"reversal of {entry_id}",
                original.quote_id,
            )
            done = self._replay(s, key, request.fingerprint(), "entry")
            if done is not None:
                return self._entry(s, done)
            if s.find_reversal(entry_id) is not None:
                raise InvalidState(f"entry {entry_id} was already reversed")
            return self._post_in(s, request, reverses=entry_id)

        return self._run(work, session)

    # -- holds --------------------------------------------------------------------------------------------
    def hold(self, request: HoldRequest, *, session: LedgerSession | None = None) -> Hold:
        """Reserve funds: they stop being available now and move only when the hold is posted."""

        def work(s: LedgerSession) -> Hold:
            fingerprint, codes = request.fingerprint(), sorted({request.debit, request.credit})
            s.prefetch([request.key], codes)
            done = self._replay(s, request.key, fingerprint, "hold")
            if done is not None:
                return self._hold(s, done)
            if request.debit == request.credit:
                raise InvalidInput("a hold needs two different accounts")
            balances = s.lock_balances(codes)
            for code in (request.debit, request.credit):
                if code not in balances:  # the code in a detail, never the text (book.validate_postings)
                    raise NotFound("an account this movement needs is not open", account=code)
            debit, credit = book.apply_hold(balances[request.debit], balances[request.credit], request.amount)
            hold = Hold(
                id=self._ids.new_id("hld"),
                idempotency_key=request.key,
                debit_account=request.debit,
                credit_account=request.credit,
                amount=request.amount,
                state=HoldState.PENDING,
                created_at=self._clock.now(),
                expires_at=request.expires_at,
                description=request.description,
            )
            s.add_hold(hold)
            s.save_balances((debit, credit))
            s.add_idempotency(IdempotencyRecord(request.key, fingerprint, "hold", hold.id))
            return hold

        return self._run(work, session)

    @staticmethod
    def _hold(s: LedgerSession, hold_id: str) -> Hold:
        hold = s.get_hold(hold_id)
        if hold is None:
            raise NotFound(f"no hold {hold_id!r}")
        return hold

    def _release(self, s: LedgerSession, hold: Hold) -> dict[str, AccountBalance]:
        balances = s.lock_balances(sorted({hold.debit_account, hold.credit_account}))
        debit, credit = book.release_hold(balances[hold.debit_account], balances[hold.credit_account], hold.amount)
        return {debit.account.code: debit, credit.account.code: credit}

    def post_hold(
        self, hold_id: str, key: str, *, amount: Money | None = None, session: LedgerSession | None = None
    ) -> Entry:
        """Complete a hold (fully, or partially with ``amount``; the rest is released)."""
        return self._run(lambda s: self._post_hold_in(s, hold_id, key, amount), session)

    def post_hold_and_pay(
        self, hold_id: str, key: str, payments: Sequence[EntryRequest], *, session: LedgerSession | None = None
    ) -> tuple[Entry, list[Entry]]:
        """Complete a hold in full, then post ``payments`` (what the funds now in flight pay out of custody or the
        float, and what that costs), every account of them all locked first, in code order.

        Posting the hold and then its payment would lock the paying asset account (``assets:...``) after the hold's
        liabilities, against the code order every other writer keeps: a payment credited to the same custody and
        merchant at that moment deadlocked with a refund's confirmation."""

        def work(s: LedgerSession) -> tuple[Entry, list[Entry]]:
            hold = self._hold(s, hold_id)
            codes = {hold.debit_account, hold.credit_account, *(p.account for r in payments for p in r.postings)}
            s.prefetch([key, *(r.key for r in payments)], sorted(codes))
            return self._post_hold_in(s, hold_id, key, None), [self._post_in(s, r) for r in payments]

        return self._run(work, session)

    def _post_hold_in(self, s: LedgerSession, hold_id: str, key: str, amount: Money | None) -> Entry:
        hold = self._hold(s, hold_id)
        posted = amount or hold.amount
        fingerprint = book.request_hash("post_hold", [hold_id, str(posted)])
        s.prefetch([key], sorted({hold.debit_account, hold.credit_account}))
        done = self._replay(s, key, fingerprint, "entry")
        if done is not None:
            return self._entry(s, done)
        if not hold.is_pending:
            raise InvalidState(f"hold {hold_id} is {hold.state.value}, not pending")
        if not posted.is_positive() or posted > hold.amount:
            raise InvalidInput(f"can post between 0 and {hold.amount} on hold {hold_id}")
        released = self._release(s, hold)
        postings = (Posting.debit(hold.debit_account, posted), Posting.credit(hold.credit_account, posted))
        updated, lines = book.apply_postings(postings, released)
        entry = Entry(self._ids.new_id("ent"), key, lines, hold.description, self._clock.now(), hold_id=hold.id)
        s.add_entry(entry)
        s.save_balances(updated.values())
        s.update_hold(attrs.evolve(hold, state=HoldState.POSTED, posted_amount=posted, entry_id=entry.id))
        s.add_idempotency(IdempotencyRecord(key, fingerprint, "entry", entry.id))
        return entry

    def _finish_hold(self, hold_id: str, state: HoldState, session: LedgerSession | None) -> Hold:
        def work(s: LedgerSession) -> Hold:
            hold = self._hold(s, hold_id)
            if hold.state is state:
                return hold  # voiding or expiring twice is harmless
            if not hold.is_pending:
                raise InvalidState(f"hold {hold_id} is {hold.state.value}, not pending")
            s.save_balances(self._release(s, hold).values())
            finished = attrs.evolve(hold, state=state)
            s.update_hold(finished)
            return finished

        return self._run(work, session)

    def void_hold(self, hold_id: str, *, session: LedgerSession | None = None) -> Hold:
        """Cancel a pending hold: the funds become available again (idempotent)."""
        return self._finish_hold(hold_id, HoldState.VOIDED, session)

    def expire_holds(self, now: datetime | None = None) -> list[Hold]:
        """Expire every pending hold whose ``expires_at`` has passed."""
        moment = now or self._clock.now()
        due = self._store.holds(pending_only=True, expiring_before=moment)
        return [self._finish_hold(h.id, HoldState.EXPIRED, None) for h in due]

    # -- reads --------------------------------------------------------------------------------------------
    def balance(self, code: str) -> AccountBalance:
        found = self._store.balances([code])
        if not found:
            raise NotFound(f"no ledger account {code!r}")
        return found[0]

    def entries(
        self,
        *,
        account: str | None = None,
        limit: int = 100,
        since: datetime | None = None,
        until: datetime | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> list[Entry]:
        """The latest entries (touching ``account``), newest first, each line with its balance before and after;
        created in [``since``, ``until``) and older than the keyset ``before`` when given (see ``walk``)."""
        return self._store.entries(account=account, limit=limit, since=since, until=until, before=before)

    def entry(self, entry_id: str) -> Entry | None:
        """The entry with this id, or None."""
        with self._store.session() as s:
            return s.get_entry(entry_id)

    def walk(
        self,
        account: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        before: tuple[datetime, str] | None = None,
        page: int = 500,
    ) -> Iterator[Entry]:
        """Every entry touching ``account`` created in [``since``, ``until``), newest first, read ``page`` at a time
        (keyset pages on ``(created_at, id)``: nothing skipped or repeated, however many there are).

        >>> from cryptopay.core.testing.ledger import InMemoryLedgerStore
        >>> from cryptopay.core.ledger import Account, AccountKind
        >>> from cryptopay.core.money import KES, Money
        >>> ledger = Ledger(InMemoryLedgerStore())
        >>> _ = ledger.open_account(Account("assets:bank:KES", AccountKind.ASSET, KES, allow_negative=True))
        >>> _ = ledger.open_account(Account("liabilities:user:u1:KES", AccountKind.LIABILITY, KES))
        >>> for n in range(5):
        ...     _ = ledger.transfer(f"k{n}", debit="assets:bank:KES", credit="liabilities:user:u1:KES",
        ...                         amount=Money.of("1", KES))
        >>> [e.idempotency_key for e in ledger.walk("liabilities:user:u1:KES", page=2)]
        ['k4', 'k3', 'k2', 'k1', 'k0']
        """
        if page < 1:
            raise ValueError("a page holds at least one entry")
        while True:
            found = self._store.entries(account=account, limit=page, since=since, until=until, before=before)
            yield from found
            if len(found) < page:
                return
            before = (found[-1].created_at, found[-1].id)

    def balances(self, codes: Sequence[str]) -> dict[str, AccountBalance]:
        """The balances of ``codes`` in one read (accounts that do not exist are absent)."""
        return {b.account.code: b for b in self._store.balances(list(codes))} if codes else {}

    def trial_balance(self) -> dict[str, Decimal]:
        """Sum of debits less credits per asset over all accounts: zero for every asset, always."""
        sums: dict[str, Decimal] = defaultdict(Decimal)
        quanta: dict[str, Decimal] = {}
        for b in self._store.balances():
            code = b.account.asset.code
            sums[code] += b.debits_posted - b.credits_posted
            if code not in quanta:
                quanta[code] = b.account.asset.quantum
        return {code: total.quantize(quanta[code]) for code, total in sorted(sums.items())}
