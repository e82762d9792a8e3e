"""The books the draft-path tests share: KES wallets, a float, an expense account, a USDT wallet, ETH accounts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptopay.core.ledger import Account, AccountKind, EntryRequest, Ledger, Posting
from cryptopay.core.ledger.model import EntryDraft
from cryptopay.core.money import ETH, KES, USDT
from cryptopay.core.testing.system import ManualClock, SequentialIds

from tests.support.ledger_books import kes

__all__ = [
    "ACCOUNTS",
    "DOLLARS",
    "ETHER",
    "ETH_FLOAT",
    "EXPENSE",
    "FLOAT",
    "NOBODY",
    "NOW",
    "A",
    "B",
    "C",
    "draft",
    "kes",
    "open_books",
]

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
FLOAT, A, B, C = "assets:float:KES", "liabilities:user:a:KES", "liabilities:user:b:KES", "liabilities:user:c:KES"
EXPENSE, DOLLARS, NOBODY = "expenses:fees:KES", "liabilities:user:a:USDT", "liabilities:user:nobody:KES"
ETH_FLOAT, ETHER = "assets:float:ETH", "liabilities:user:a:ETH"
ACCOUNTS = [
    Account(FLOAT, AccountKind.ASSET, KES, allow_negative=True),
    Account(A, AccountKind.LIABILITY, KES),
    Account(B, AccountKind.LIABILITY, KES),
    Account(C, AccountKind.LIABILITY, KES),
    Account(EXPENSE, AccountKind.EXPENSE, KES),
    Account(DOLLARS, AccountKind.LIABILITY, USDT),
    Account(ETH_FLOAT, AccountKind.ASSET, ETH, allow_negative=True),
    Account(ETHER, AccountKind.LIABILITY, ETH),
]


def open_books(store: Any) -> Ledger:
    """The accounts above; A and B funded with KES 100 each from the float."""
    ledger = Ledger(store, clock=ManualClock(NOW), ids=SequentialIds(), sleep=lambda _s: None)
    for account in ACCOUNTS:
        ledger.open_account(account)
    ledger.post_many(
        [EntryRequest(f"fund-{c}", (Posting.debit(FLOAT, kes("100")), Posting.credit(c, kes("100")))) for c in (A, B)]
    )
    return ledger


def draft(key: str, *postings: Posting) -> EntryDraft:
    return EntryDraft(f"ent_{key}", key, "0" * 64, postings, "", NOW)
