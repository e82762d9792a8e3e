"""cryptopay's pure domain: money, rails, FX quotes, fees, the ledger, KYC, invoices and settlement policy.

The SDK surface a developer embedding cryptopay needs, re-exported here; ports live in ``cryptopay.core.ports``,
in-memory fakes in ``cryptopay.core.testing`` and the merchant use cases in ``cryptopay.core.payments``.

>>> from datetime import datetime, timezone
>>> from decimal import Decimal
>>> from cryptopay.core import KES, USDT, Money, Pair, Rate, lock_quote, Ledger, Account, AccountKind
>>> from cryptopay.core.testing.ledger import InMemoryLedgerStore
>>> now = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
>>> quote = lock_quote([Rate(Pair(USDT, KES), Decimal("129.20"), "market", now)], now=now, quote_id="q1")
>>> quote.convert(Money.of("100", USDT), at=now)
Money('12855.40', 'KES')
>>> ledger = Ledger(InMemoryLedgerStore())
>>> _ = ledger.open_account(Account("assets:mpesa_float:KES", AccountKind.ASSET, KES, allow_negative=True))
>>> _ = ledger.open_account(Account("liabilities:user:u1:KES", AccountKind.LIABILITY, KES))
>>> _ = ledger.transfer("t1", debit="assets:mpesa_float:KES", credit="liabilities:user:u1:KES",
...                     amount=Money.of("250", KES))
>>> ledger.trial_balance()
{'KES': Decimal('0.00')}
"""

from cryptopay.core.errors import (
    Conflict,
    CryptopayError,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidInput,
    LimitExceeded,
    NotFound,
    QuoteExpired,
    Refused,
    Unavailable,
)
from cryptopay.core.fees import FeeBook, FeeProduct, FeeQuote, FeeSchedule, FeeTier
from cryptopay.core.fx import Pair, Quote, Rate, lock_quote
from cryptopay.core.invoices import Invoice, InvoiceEvent, InvoiceException, InvoiceState, PaymentOption
from cryptopay.core.kyc import KycPolicy, KycProfile, KycStatus, KycTier, check_movement
from cryptopay.core.ledger import (
    Account,
    AccountKind,
    Entry,
    EntryRequest,
    Hold,
    HoldRequest,
    HoldState,
    Ledger,
    Posting,
)
from cryptopay.core.money import BTC, KES, USD, USDC, USDT, Asset, Money, Rounding
from cryptopay.core.rails import NETWORKS, Network, Rail, Token, network_by_name, rail_for
from cryptopay.core.settlement.policy import PayoutPlan, SettlementPolicy, plan_payouts

__all__ = [
    "BTC",
    "KES",
    "NETWORKS",
    "USD",
    "USDC",
    "USDT",
    "Account",
    "AccountKind",
    "Asset",
    "Conflict",
    "CryptopayError",
    "Entry",
    "EntryRequest",
    "FeeBook",
    "FeeProduct",
    "FeeQuote",
    "FeeSchedule",
    "FeeTier",
    "Hold",
    "HoldRequest",
    "HoldState",
    "IdempotencyConflict",
    "InsufficientFunds",
    "InvalidInput",
    "Invoice",
    "InvoiceEvent",
    "InvoiceException",
    "InvoiceState",
    "KycPolicy",
    "KycProfile",
    "KycStatus",
    "KycTier",
    "Ledger",
    "LimitExceeded",
    "Money",
    "Network",
    "NotFound",
    "Pair",
    "PaymentOption",
    "PayoutPlan",
    "Posting",
    "Quote",
    "QuoteExpired",
    "Rail",
    "Rate",
    "Refused",
    "Rounding",
    "SettlementPolicy",
    "Token",
    "Unavailable",
    "check_movement",
    "lock_quote",
    "network_by_name",
    "plan_payouts",
    "rail_for",
]
