"""Wallet quotes: a USDT/KES price locked for one person, for one use, for a short window.

A locked ``Quote`` is only a price (``fx_quotes`` keeps every one, invoices' and settlements' too, and its id is
shown to whoever sees what it priced: an invoice's payers see its quote). A price anyone could name would be a free
option against the float: trade at the best ask or bid of the last minutes, as often as one likes. So a quote a
wallet may trade at is claimed when it is locked (``WalletQuote``: its owner, its purpose, its window), and a buy,
sale or bill takes it only when:

- it was locked by the same person for a wallet trade: any other id (someone else's, an invoice's, none) is
  ``NotFound`` alike, so ids cannot be probed;
- its purpose fits: locked to buy, it buys at the ask; to sell, it sells (or pays a bill) at the bid; a ``TRADE``
  quote (``POST /v1/wallet/quotes``, which shows both sides) does either;
- it is within its window (``DEFAULT_WALLET_QUOTE_WINDOW``, the time to read a price and confirm, shorter than
  the pricer's ``quote_ttl``);
- it was never used: ``use`` marks it in the trade's own unit of work (``QuoteUsed`` when another trade got it
  first; on PostgreSQL one conditional ``UPDATE``, so two trades racing one quote cannot both pass).

The same claims serve merchants' refunds (``QuotePurpose.REFUND``, owned by the merchant that locked the quote:
``cryptopay.core.payments.refunds``); ``owner_id`` is a wallet user's id or a merchant's, never both. Both lock
with ``claim_quote`` and look a named quote up with ``owned_quote``, then ``check_claim`` and ``use_claim``.

A trade that fails after it committed (M-Pesa refusing the prompt, a failed payout) keeps the quote used: lock a
new one. A trade refused before it committed (limits, balance) leaves it unused.

Claims are kept a week past their window (``CLAIMS_KEPT``: what used a quote, for support and audit, and a retried
trade told ``QuoteUsed`` or ``QuoteExpired`` rather than ``NotFound``), then the worker's ``wallets.prune_quotes``
deletes them (``prune_claims``); the trades keep their quote id, and ``fx_quotes`` every price.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Protocol

import attrs
from cryptopay.core.errors import InvalidInput, NotFound, QuoteExpired, QuoteUsed
from cryptopay.core.fx import Pair, Quote
from cryptopay.core.money import KES, USDT
from cryptopay.core.ports.fx import QuoteRepository
from cryptopay.core.ports.payments import Quoter
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock
from cryptopay.core.ports.wallets import WalletQuoteRepository, WalletUnitOfWork, WalletUowFactory

__all__ = [
    "CLAIMS_KEPT",
    "DEFAULT_WALLET_QUOTE_WINDOW",
    "USDT_KES",
    "ClaimsUnitOfWork",
    "QuotePurpose",
    "QuotePurposeMismatch",
    "WalletQuote",
    "WalletQuotes",
    "check_claim",
    "claim_quote",
    "owned_quote",
    "prune_claims",
    "use_claim",
]

log = logging.getLogger(__name__)

USDT_KES = Pair(USDT, KES)
DEFAULT_WALLET_QUOTE_WINDOW = timedelta(minutes=2)  # read the price, confirm (the STK prompt comes after)
CLAIMS_KEPT = timedelta(days=7)  # past its window, a claim is kept this long (then ``prune_claims`` deletes it)
PRUNE_BATCH = 1000  # claims deleted per transaction: short row locks, a bounded transaction


class QuotePurposeMismatch(InvalidInput):
    """The quote named was locked for the other side (a ``buy`` quote used to sell, or a ``sell`` one to buy)."""

    code = "quote_purpose"


class QuotePurpose(enum.Enum):
    BUY = "buy"  # buy USDT at the ask
    SELL = "sell"  # sell USDT at the bid: a sale, or a bill paid from USDT
    TRADE = "trade"  # either: the quote showed both sides
    REFUND = "refund"  # a merchant's refund on one of its invoices (``GET /v1/fx/quote``): never a wallet trade

    def allows(self, wanted: QuotePurpose) -> bool:
        trade = self is QuotePurpose.TRADE and wanted in (QuotePurpose.BUY, QuotePurpose.SELL)
        return trade or self is wanted


@attrs.frozen(kw_only=True)
class WalletQuote:
    """A quote claimed by one owner (a wallet user; a merchant, for a refund): who may use it, for what, until when;
    and the trade or refund that used it."""

    quote_id: str
    owner_id: str
    purpose: QuotePurpose
    locked_at: datetime
    expires_at: datetime
    used_by: str | None = None
    used_at: datetime | None = None


class ClaimsUnitOfWork(Protocol):
    """What the claims need of a unit of work: the wallet's and the payments' units of work both have it."""

    @property
    def wallet_quotes(self) -> WalletQuoteRepository: ...


@attrs.define
class WalletQuotes:
    """Lock, find and use wallet quotes (``Buys``, ``Sells`` and ``Bills`` hold one each)."""

    uow: WalletUowFactory
    quoter: Callable[[], Quoter]
    quotes: Callable[[], QuoteRepository]
    clock: Clock
    window: timedelta = DEFAULT_WALLET_QUOTE_WINDOW

    def __attrs_post_init__(self) -> None:
        if self.window <= timedelta(0):
            raise InvalidInput("a wallet quote's window must be positive")

    def lock(self, owner_id: str, purpose: QuotePurpose) -> Quote:
        """Lock a USDT/KES quote for ``owner_id`` alone; it is shown (and kept) with the wallet window as its end."""
        quote = self.quoter().quote(USDT_KES)
        claim = claim_quote(self.uow, quote, owner_id, purpose, now=self.clock.now(), window=self.window)
        return attrs.evolve(quote, expires_at=claim.expires_at)

    def find(self, owner_id: str, quote_id: str, purpose: QuotePurpose) -> Quote:
        """The owner's quote ``quote_id`` for ``purpose``, unused and in its window (its ``expires_at`` the
        window's end); ``NotFound`` for anyone else's or an unknown id, ``QuoteUsed``, ``QuoteExpired``."""
        owned = owned_quote(self.uow, self.quotes, owner_id, quote_id)
        if owned is None or owned[0].pair != USDT_KES:
            raise NotFound(f"no USDT/KES quote {quote_id!r} of yours", field="quote_id")
        quote, found = owned
        claim = check_claim(found, owner_id, quote_id, purpose, now=self.clock.now())
        return attrs.evolve(quote, expires_at=claim.expires_at)

    def use(self, uow: WalletUnitOfWork, owner_id: str, quote_id: str, *, used_by: str) -> None:
        """Mark the quote used by the trade ``used_by`` in the trade's unit of work; ``QuoteUsed`` if it lost."""
        use_claim(uow.wallet_quotes, owner_id, quote_id, used_by=used_by, now=self.clock.now())


def claim_quote(
    uow: Callable[[], AbstractContextManager[ClaimsUnitOfWork]],
    quote: Quote,
    owner_id: str,
    purpose: QuotePurpose,
    *,
    now: datetime,
    window: timedelta | None = None,
) -> WalletQuote:
    """Claim ``quote`` for ``owner_id`` alone, for ``purpose``, in its own transaction: until the quote expires, or
    ``window`` after ``now`` if that is sooner (a wallet trade's; a refund's claim lasts as long as its quote)."""
    expires_at = quote.expires_at if window is None else min(quote.expires_at, now + window)
    claim = WalletQuote(quote_id=quote.id, owner_id=owner_id, purpose=purpose, locked_at=now, expires_at=expires_at)
    in_transaction(uow, lambda unit: unit.wallet_quotes.add(claim))
    return claim


def owned_quote(
    uow: Callable[[], AbstractContextManager[ClaimsUnitOfWork]],
    quotes: Callable[[], QuoteRepository | None],
    owner_id: str,
    quote_id: str,
) -> tuple[Quote, WalletQuote] | None:
    """The stored quote ``quote_id`` and its claim when ``owner_id`` claimed it; ``None`` for anyone else's, an
    unknown id or no quote store (the caller's ``NotFound`` alike, so ids cannot be probed). ``quotes`` is asked only
    for the owner's claim. The claim is not checked further: ``check_claim``."""
    found = in_transaction(uow, lambda unit: unit.wallet_quotes.get(quote_id))
    if found is None or found.owner_id != owner_id:
        return None
    store = quotes()
    quote = store.get(quote_id) if store is not None else None
    return None if quote is None else (quote, found)


def check_claim(
    claim: WalletQuote | None, owner_id: str, quote_id: str, purpose: QuotePurpose, *, now: datetime
) -> WalletQuote:
    """``claim`` if it is ``owner_id``'s, for ``purpose``, unused and in its window at ``now``: ``NotFound`` for
    anyone else's or none (ids cannot be probed), ``QuotePurposeMismatch`` for another purpose, ``QuoteUsed``,
    ``QuoteExpired``."""
    if claim is None or claim.owner_id != owner_id:
        raise NotFound(f"no quote {quote_id!r} of yours", field="quote_id")
    if not claim.purpose.allows(purpose):
        raise QuotePurposeMismatch(
            f"quote {quote_id} was locked to {claim.purpose.value}; lock one to {purpose.value}", field="quote_id"
        )
    if claim.used_by is not None:
        raise _used(quote_id)
    if now >= claim.expires_at:
        raise QuoteExpired(f"quote {quote_id} expired at {claim.expires_at.isoformat()}: ask for a new one")
    return claim


def use_claim(quotes: WalletQuoteRepository, owner_id: str, quote_id: str, *, used_by: str, now: datetime) -> None:
    """Mark ``owner_id``'s quote used by ``used_by`` in the caller's unit of work; ``QuoteUsed`` if another got it."""
    if not quotes.use(quote_id, owner_id=owner_id, used_by=used_by, at=now):
        raise _used(quote_id)


def _used(quote_id: str) -> QuoteUsed:
    return QuoteUsed(f"quote {quote_id} was used already: lock a new one", field="quote_id")


def prune_claims(
    uow: WalletUowFactory, clock: Clock, *, kept: timedelta = CLAIMS_KEPT, batch: int = PRUNE_BATCH
) -> int:
    """Delete every claim whose window ended more than ``kept`` ago, used or not, ``batch`` per transaction (the
    worker's ``wallets.prune_quotes``); how many went, also logged. Such a quote can no longer be traded at anyway.
    """
    if batch < 1 or kept < timedelta(0):
        raise InvalidInput("claims are pruned at least one at a time, never before their window ended")
    before, pruned = clock.now() - kept, 0

    def one_batch(unit: WalletUnitOfWork) -> int:
        return unit.wallet_quotes.prune(before, limit=batch)

    while True:
        deleted = in_transaction(uow, one_batch)
        pruned += deleted
        if deleted < batch:
            break
    log.info("wallet quote claims pruned: %d (windows ended before %s)", pruned, before.isoformat())
    return pruned
