"""Pure bookkeeping rules: validate postings and compute new balances. No I/O, no clocks.

Every function here either returns new values or raises, so a refused operation changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import attrs
from cryptopay.core.errors import AssetMismatch, InsufficientFunds, InvalidInput, NotFound, UnbalancedEntry
from cryptopay.core.ledger.model import AccountBalance, EntryLine, Posting
from cryptopay.core.money import Money, exact_amount

__all__ = [
    "apply_hold",
    "apply_postings",
    "check_can_take",
    "check_non_negative",
    "release_hold",
    "request_hash",
    "validate_postings",
    "well_formed",
]


_REQUEST_TEXT = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":")).encode  # made once


def request_hash(kind: str, payload: object) -> str:
    """A stable hash of a write request, to tell a retry from a different request under the same key."""
    text = _REQUEST_TEXT([kind, payload])
    return hashlib.sha256(text.encode()).hexdigest()


def _imbalance(postings: Sequence[Posting]) -> dict[str, Decimal]:
    """What each asset's postings are off zero by (only the assets that are)."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for posting in postings:
        sums[posting.amount.asset.code] += posting.amount.amount
    return {code: total for code, total in sums.items() if total != 0}


def validate_postings(postings: Sequence[Posting], balances: Mapping[str, AccountBalance]) -> None:
    """Refuse entries with fewer than two lines, zero lines, unknown accounts, wrong assets or per-asset imbalance."""
    if len(postings) < 2:
        raise UnbalancedEntry("an entry needs at least two postings")
    # The texts never name the account (its code is ours, and names a user or merchant): it is the ``account`` detail.
    for posting in postings:
        if posting.amount.is_zero():
            raise InvalidInput(f"a movement of 0 {posting.amount.asset.code} cannot be booked", account=posting.account)
        balance = balances.get(posting.account)
        if balance is None:
            raise NotFound("an account this movement needs is not open", account=posting.account)
        if balance.account.asset != posting.amount.asset:
            raise AssetMismatch(
                f"an account of {balance.account.asset.code} cannot take {posting.amount.asset.code}",
                account=posting.account,
            )
    unbalanced = _imbalance(postings)
    if unbalanced:
        detail = ", ".join(f"{code} off by {total}" for code, total in sorted(unbalanced.items()))
        raise UnbalancedEntry(f"postings do not sum to zero per asset: {detail}")


def well_formed(postings: Sequence[Posting]) -> bool:
    """True when the postings alone pass ``validate_postings`` (two or more, none zero, zero sum per asset),
    whatever the accounts turn out to be."""
    return len(postings) >= 2 and not any(p.amount.is_zero() for p in postings) and not _imbalance(postings)


def check_non_negative(balances: Iterable[AccountBalance], before: Mapping[str, AccountBalance] | None = None) -> None:
    """Refuse if an account that may not go negative would have a negative available balance.

    The refusal is shown to whoever asked for the movement (a wallet user, a merchant): it says what the balance
    holds and what the movement needs, never the account's code (the chart of accounts and user ids are ours) nor a
    negative figure; the code is kept in its ``account`` detail for the logs.
    """
    for balance in balances:
        if not balance.account.allow_negative and balance.available.is_negative():
            asset = balance.account.asset
            was = before[balance.account.code].available if before and balance.account.code in before else None
            held = max(was, Money.zero(asset)) if was is not None else Money.zero(asset)
            needed = held - balance.available
            raise InsufficientFunds(
                f"not enough {asset.code}: the available balance is {held}; this needs {needed}",
                account=balance.account.code,
                available=str(held.amount),
                needed=str(needed.amount),
            )


def check_can_take(balance: AccountBalance, amount: Money) -> None:
    """Refuse, as posting would (``check_non_negative``'s ``InsufficientFunds``), when debiting ``amount`` from the
    account of ``balance`` would leave its available balance negative; nothing is posted (a movement's check step
    refuses what its confirm would).

    >>> from cryptopay.core.ledger.model import Account, AccountKind
    >>> from cryptopay.core.money import KES
    >>> wallet = Account("wallet:u1:KES", AccountKind.LIABILITY, KES)
    >>> check_can_take(AccountBalance(wallet, credits_posted=Decimal(100)), Money.of("100", "KES"))
    >>> check_can_take(AccountBalance(wallet, credits_posted=Decimal(100)), Money.of("101", "KES"))
    Traceback (most recent call last):
    cryptopay.core.errors.InsufficientFunds: not enough KES: the available balance is 100.00 KES; this needs 101.00 KES
    """
    check_non_negative([_posted(balance, amount.amount)], {balance.account.code: balance})


def _posted(balance: AccountBalance, signed: Decimal) -> AccountBalance:
    debits, credits = balance.debits_posted, balance.credits_posted
    if signed > 0:
        debits += signed
    else:
        credits -= signed
    return AccountBalance(balance.account, debits, credits, balance.debits_pending, balance.credits_pending)


def _posted_amount(balance: AccountBalance) -> Decimal:
    """``balance.posted.amount``, checked as ``Money`` checks it, without making the ``Money``."""
    account = balance.account
    return exact_amount(account.normal(balance.debits_posted - balance.credits_posted), account.asset)


def apply_postings(
    postings: Sequence[Posting], balances: Mapping[str, AccountBalance]
) -> tuple[dict[str, AccountBalance], tuple[EntryLine, ...]]:
    """Apply validated postings; return the new balances and the stored lines with balance history."""
    validate_postings(postings, balances)
    updated = dict(balances)
    lines = []
    for posting in postings:
        before = updated[posting.account]
        after = _posted(before, posting.amount.amount)
        updated[posting.account] = after
        lines.append(EntryLine(posting.account, posting.amount, _posted_amount(before), _posted_amount(after)))
    check_non_negative((updated[p.account] for p in postings), balances)
    return updated, tuple(lines)


def apply_hold(
    debit: AccountBalance, credit: AccountBalance, amount: Money, *, sign: int = 1
) -> tuple[AccountBalance, AccountBalance]:
    """Add (sign=1) or remove (sign=-1) a pending debit/credit pair; refuses if availability would go negative."""
    if amount.asset != debit.account.asset or amount.asset != credit.account.asset:
        raise AssetMismatch(f"a hold of {amount.asset.code} needs accounts of that asset")
    if not amount.is_positive():
        raise InvalidInput("a hold amount must be positive")
    delta = amount.amount * sign
    new_debit = attrs.evolve(debit, debits_pending=debit.debits_pending + delta)
    new_credit = attrs.evolve(credit, credits_pending=credit.credits_pending + delta)
    if sign > 0:
        check_non_negative((new_debit, new_credit), {debit.account.code: debit, credit.account.code: credit})
    return new_debit, new_credit


def release_hold(debit: AccountBalance, credit: AccountBalance, amount: Money) -> tuple[AccountBalance, AccountBalance]:
    """Remove a hold's pending amounts (before posting or when voiding)."""
    return apply_hold(debit, credit, amount, sign=-1)
