"""Ledger values: accounts, postings, entries, holds and balances.

Invariants (checked by ``cryptopay.core.ledger.book`` and, on PostgreSQL, by the database too):
- the postings of an entry sum to zero per asset, and an entry is immutable once posted;
- a posting's amount is signed: positive debits the account, negative credits it;
- an account that may not go negative never has a negative *available* normal balance
  (posted balance less what pending holds would take out of it).
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import attrs
from cryptopay.core.money import Asset, Money

__all__ = [
    "Account",
    "AccountBalance",
    "AccountKind",
    "Entry",
    "EntryDraft",
    "EntryLine",
    "Hold",
    "HoldState",
    "IdempotencyRecord",
    "Posting",
]


class AccountKind(enum.Enum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"

    @property
    def debit_normal(self) -> bool:
        """Assets and expenses grow with debits; liabilities, equity and revenue grow with credits."""
        return self is AccountKind.ASSET or self is AccountKind.EXPENSE  # members are singletons: no hashing


@attrs.frozen
class Account:
    """A ledger account, named by a colon path such as ``liabilities:merchant:m_1:KES``."""

    code: str
    kind: AccountKind
    asset: Asset
    allow_negative: bool = False

    def normal(self, signed: Decimal) -> Decimal:
        """Turn a signed (debit-positive) amount into this account's normal direction."""
        return signed if self.kind.debit_normal else -signed


@attrs.frozen
class Posting:
    """One line of an entry: ``amount`` > 0 debits ``account``, < 0 credits it."""

    account: str
    amount: Money

    @classmethod
    def debit(cls, account: str, amount: Money) -> Posting:
        return cls(account, amount)

    @classmethod
    def credit(cls, account: str, amount: Money) -> Posting:
        return cls(account, -amount)


@attrs.frozen
class EntryLine:
    """A posting as stored, with the account's posted normal balance before and after it (balance history)."""

    account: str
    amount: Money
    balance_before: Decimal
    balance_after: Decimal


@attrs.frozen
class Entry:
    """An immutable journal entry; a mistake is fixed by a reversing entry, never by an edit."""

    id: str
    idempotency_key: str
    lines: tuple[EntryLine, ...]
    description: str
    created_at: datetime
    quote_id: str | None = None
    reverses: str | None = None
    hold_id: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()

    @property
    def postings(self) -> tuple[Posting, ...]:
        return tuple(Posting(line.account, line.amount) for line in self.lines)


@attrs.frozen
class EntryDraft:
    """A new entry before it meets the balances: well-formed postings, an id, a time and its request's hash.

    A store that posts drafts itself (``cryptopay.core.ports.ledger.DraftPoster``) turns each into an ``Entry``
    whose lines carry the balance history.
    """

    id: str
    idempotency_key: str
    request_hash: str
    postings: tuple[Posting, ...]
    description: str
    created_at: datetime
    quote_id: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()

    def entry(self, lines: tuple[EntryLine, ...]) -> Entry:
        """The posted entry, given its stored lines (one per posting, in order)."""
        return Entry(
            self.id,
            self.idempotency_key,
            lines,
            self.description,
            self.created_at,
            self.quote_id,
            metadata=self.metadata,
        )


class HoldState(enum.Enum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


@attrs.frozen
class Hold:
    """Funds reserved from ``debit_account`` towards ``credit_account`` until posted, voided or expired."""

    id: str
    idempotency_key: str
    debit_account: str
    credit_account: str
    amount: Money
    state: HoldState
    created_at: datetime
    expires_at: datetime | None = None
    posted_amount: Money | None = None
    entry_id: str | None = None
    description: str = ""

    @property
    def is_pending(self) -> bool:
        return self.state is HoldState.PENDING


@attrs.frozen
class AccountBalance:
    """Running totals of an account (all amounts non-negative, in the account's asset).

    ``posted`` is the normal balance; ``pending_out`` is what pending holds would take out of it and
    ``pending_in`` what they would add; ``available = posted - pending_out``.
    """

    account: Account
    debits_posted: Decimal = Decimal(0)
    credits_posted: Decimal = Decimal(0)
    debits_pending: Decimal = Decimal(0)
    credits_pending: Decimal = Decimal(0)

    @property
    def posted(self) -> Money:
        return Money(self.account.normal(self.debits_posted - self.credits_posted), self.account.asset)

    @property
    def pending_out(self) -> Money:
        raw = self.credits_pending if self.account.kind.debit_normal else self.debits_pending
        return Money(raw, self.account.asset)

    @property
    def pending_in(self) -> Money:
        raw = self.debits_pending if self.account.kind.debit_normal else self.credits_pending
        return Money(raw, self.account.asset)

    @property
    def available(self) -> Money:
        """``posted - pending_out``, built as one ``Money`` (checked by its constructor as those two would be)."""
        account = self.account
        if account.kind.debit_normal:
            raw = self.debits_posted - self.credits_posted - self.credits_pending
        else:
            raw = self.credits_posted - self.debits_posted - self.debits_pending
        return Money(raw, account.asset)


@attrs.frozen
class IdempotencyRecord:
    """The first result of a keyed write: which object it produced and a hash of the request."""

    key: str
    request_hash: str
    result_kind: str  # "entry" | "hold"
    result_id: str
