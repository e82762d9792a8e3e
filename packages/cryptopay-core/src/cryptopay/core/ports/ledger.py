"""Ledger store port: what the ledger service needs from a database, one transaction at a time.

A ``LedgerSession`` is one database transaction. ``lock_balances`` must lock the rows it returns until the
session ends (``SELECT ... FOR UPDATE`` in a fixed order on PostgreSQL) so concurrent writers serialise on
the accounts they share. Stores raise ``TransientConflict`` for races that a retry resolves.

A session may answer repeated reads from what it already read or wrote in the same transaction (locked rows
stay locked; a key read as absent that a concurrent writer then records makes this session's write fail with
``TransientConflict``, and the retry sees it), so batched work costs one query per kind, not one per item.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, runtime_checkable

from cryptopay.core.ledger.model import Account, AccountBalance, Entry, EntryDraft, Hold, IdempotencyRecord

__all__ = ["DraftPoster", "IdempotencyRecord", "LedgerSession", "LedgerStore"]


class LedgerSession(Protocol):
    def get_account(self, code: str) -> Account | None: ...

    def get_accounts(self, codes: Sequence[str]) -> dict[str, Account]:
        """Bulk ``get_account`` (one query for a batch); the accounts found, by code."""
        ...

    def add_account(self, account: Account) -> None: ...

    def lock_balances(self, codes: Sequence[str]) -> dict[str, AccountBalance]:
        """Lock and return the balances of these accounts (missing accounts are left out)."""
        ...

    def save_balances(self, balances: Iterable[AccountBalance]) -> None: ...

    def find_idempotency(self, key: str) -> IdempotencyRecord | None: ...

    def find_idempotencies(self, keys: Sequence[str]) -> dict[str, IdempotencyRecord]:
        """Bulk ``find_idempotency`` (one query for a batch); the keys found, each with its record."""
        ...

    def prefetch(self, keys: Sequence[str], codes: Sequence[str]) -> None:
        """Read these idempotency keys and lock these accounts at once (one round trip on PostgreSQL); later
        ``find_idempotency``/``lock_balances`` calls for them are answered from the session. May do nothing."""
        ...

    def add_idempotency(self, record: IdempotencyRecord) -> None: ...

    def add_entry(self, entry: Entry) -> None: ...

    def get_entry(self, entry_id: str) -> Entry | None: ...

    def find_reversal(self, entry_id: str) -> Entry | None: ...

    def get_hold(self, hold_id: str) -> Hold | None:
        """The hold, locked for update until the session ends."""
        ...

    def add_hold(self, hold: Hold) -> None: ...

    def update_hold(self, hold: Hold) -> None: ...


class LedgerStore(Protocol):
    def session(self) -> AbstractContextManager[LedgerSession]:
        """A transaction: committed when the block exits normally, rolled back on an exception."""
        ...

    def accounts(self) -> list[Account]: ...

    def balances(self, codes: Sequence[str] | None = None) -> list[AccountBalance]: ...

    def entries(
        self,
        *,
        account: str | None = None,
        limit: int = 100,
        since: datetime | None = None,
        until: datetime | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> list[Entry]:
        """At most ``limit`` entries (touching ``account``), newest first by ``(created_at, id)``: created at or after
        ``since`` and before ``until``, and with ``before`` (the ``(created_at, id)`` of the previous page's last
        entry) only those strictly older than it: a keyset page, so paging reads every entry exactly once."""
        ...

    def holds(self, *, pending_only: bool = False, expiring_before: datetime | None = None) -> list[Hold]: ...


@runtime_checkable
class DraftPoster(Protocol):
    """An optional ``LedgerStore`` capability: post brand-new entries in one round trip, rules applied by the store.

    ``Ledger.post``/``post_many`` hand their drafts here first when the store offers it and no caller's
    transaction is involved; anything unusual goes the general way (``LedgerSession``), which then replays,
    refuses with the precise error, or posts.
    """

    @property
    def posts_drafts(self) -> bool:
        """False when this store would decline every draft (so the ledger does not build them): SQLite, say."""
        ...

    def post_drafts(self, drafts: Sequence[EntryDraft]) -> list[Entry] | None:
        """Post every draft in one transaction of the store's own (all or none) and return the entries, in order.

        Applies the ledger's rules exactly as ``cryptopay.core.ledger.book.apply_postings`` does: accounts locked
        in code order, balance history per line, and no account that may not go negative left negative by any
        entry. Returns ``None`` having written nothing when a draft needs the general path: its idempotency key is
        already recorded, an account is missing or holds another asset, an available balance would go negative,
        or the store cannot post drafts at all. May raise ``TransientConflict`` (a concurrent writer won; retry).
        """
        ...
