"""Personal wallets: phone sign-up, balances as ledger accounts, transfers between people, claims.

See ``model`` (the values), ``codes`` (one-time SMS codes), ``signup``, ``service`` (``Wallets``: balances, send,
freeze) and ``claims`` (transfers waiting for a recipient). Limits are checked by ``cryptopay.core.kyc``.
"""

from cryptopay.core.wallets.model import (
    HOLDINGS,
    SENDABLE,
    PhoneVerification,
    Transfer,
    TransferState,
    Usage,
    Wallet,
    valid_username,
)

__all__ = [
    "HOLDINGS",
    "SENDABLE",
    "PhoneVerification",
    "Transfer",
    "TransferState",
    "Usage",
    "Wallet",
    "valid_username",
]
