"""The small KES book the ledger tests share: an M-Pesa float account and users' wallets."""

from __future__ import annotations

from cryptopay.core.ledger import Account, AccountKind, Ledger
from cryptopay.core.money import KES, Money

__all__ = ["ALICE", "BOB", "FLOAT", "kes", "open_float_and_wallets"]

FLOAT = "assets:mpesa_float:KES"
ALICE = "liabilities:user:alice:KES"
BOB = "liabilities:user:bob:KES"


def kes(value: str) -> Money:
    """Kenyan shillings from a decimal string."""
    return Money.of(value, KES)


def open_float_and_wallets(ledger: Ledger, *wallets: str) -> Ledger:
    """Open the float (an asset that may go negative) and each KES wallet (a liability) on this ledger."""
    ledger.open_account(Account(FLOAT, AccountKind.ASSET, KES, allow_negative=True))
    for code in wallets:
        ledger.open_account(Account(code, AccountKind.LIABILITY, KES))
    return ledger
