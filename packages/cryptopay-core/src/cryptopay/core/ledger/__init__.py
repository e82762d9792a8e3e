"""Double-entry ledger: the sum of an entry's postings is zero per asset, always.

See ``model`` for the values, ``book`` for the pure rules and ``service.Ledger`` for the API.
"""

from cryptopay.core.ledger.model import (
    Account,
    AccountBalance,
    AccountKind,
    Entry,
    EntryLine,
    Hold,
    HoldState,
    Posting,
)
from cryptopay.core.ledger.service import EntryRequest, HoldRequest, Ledger, trading_account

__all__ = [
    "Account",
    "AccountBalance",
    "AccountKind",
    "Entry",
    "EntryLine",
    "EntryRequest",
    "Hold",
    "HoldRequest",
    "HoldState",
    "Ledger",
    "Posting",
    "trading_account",
]
