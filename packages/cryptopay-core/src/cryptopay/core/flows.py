"""Merchant money flows in ledger terms: credit a paid invoice, convert at a locked quote, pay out over M-Pesa.

Each function posts one idempotent ledger entry (or hold) with a key derived from the business object, so a
retried job never books twice. Pass ``session=`` to join a caller's unit of work.

Account names: ``assets:custody:<network>:<ASSET>``, ``liabilities:merchant:<id>:<ASSET>``,
``revenue:merchant_fee:<ASSET>``, ``revenue:fx_spread:KES``, ``liabilities:payouts_in_flight:KES``,
``assets:mpesa_float:KES``, and the trading accounts ``equity:trading:<ASSET>``.
"""

from __future__ import annotations

from datetime import datetime

from cryptopay.core.errors import InvalidInput
from cryptopay.core.fees import FeeQuote, FeeSchedule
from cryptopay.core.fx import Quote
from cryptopay.core.ledger import Account, AccountKind, Entry, EntryRequest, Hold, HoldRequest, Ledger, Posting
from cryptopay.core.ledger.service import trading_account
from cryptopay.core.money import KES, Asset, Money, Rounding
from cryptopay.core.ports.ledger import LedgerSession

__all__ = [
    "FLOAT",
    "FX_SPREAD",
    "IN_FLIGHT",
    "PAYOUT_FEE",
    "complete_payout",
    "convert_for_settlement",
    "credit_invoice_payment",
    "custody",
    "fail_payout",
    "merchant_liability",
    "open_platform_accounts",
    "start_payout",
]

FLOAT = "assets:mpesa_float:KES"
IN_FLIGHT = "liabilities:payouts_in_flight:KES"
FX_SPREAD = "revenue:fx_spread:KES"
PAYOUT_FEE = "revenue:payout_fee:KES"


def custody(network: str, asset: Asset) -> str:
    return f"assets:custody:{network}:{asset.code}"


def merchant_liability(merchant_id: str, asset: Asset) -> str:
    return f"liabilities:merchant:{merchant_id}:{asset.code}"


def merchant_fee(asset: Asset) -> str:
    return f"revenue:merchant_fee:{asset.code}"


def open_platform_accounts(
    ledger: Ledger, merchant_id: str, network: str, asset: Asset, *, session: LedgerSession | None = None
) -> None:
    """Open (idempotently) every account a merchant's payments on one rail touch."""
    accounts = [
        Account(custody(network, asset), AccountKind.ASSET, asset),
        Account(merchant_liability(merchant_id, asset), AccountKind.LIABILITY, asset),
        Account(merchant_liability(merchant_id, KES), AccountKind.LIABILITY, KES),
        Account(merchant_fee(asset), AccountKind.REVENUE, asset),
        Account(FX_SPREAD, AccountKind.REVENUE, KES),
        Account(PAYOUT_FEE, AccountKind.REVENUE, KES),
        Account(IN_FLIGHT, AccountKind.LIABILITY, KES),
        # The float is money we hold at Safaricom; topping it up is recorded elsewhere, so it may dip below zero
        # in the books until the top-up is booked, and reconciliation compares it with Account Balance results.
        Account(FLOAT, AccountKind.ASSET, KES, allow_negative=True),
        Account(trading_account(asset.code), AccountKind.EQUITY, asset, allow_negative=True),
        Account(trading_account(KES.code), AccountKind.EQUITY, KES, allow_negative=True),
    ]
    ledger.open_accounts(accounts, session=session)


def credit_invoice_payment(
    ledger: Ledger,
    *,
    invoice_id: str,
    merchant_id: str,
    network: str,
    received: Money,
    fees: FeeSchedule,
    reference: str | None = None,
    session: LedgerSession | None = None,
) -> tuple[Entry, FeeQuote]:
    """Book confirmed crypto: Dr custody (gross) / Cr merchant liability (net) / Cr merchant fee revenue.

    ``reference`` names this credit (one per payment and per re-mining of it); by default one per invoice/network.
    """
    fee = fees.quote(received)
    postings = [Posting.debit(custody(network, received.asset), received)]
    postings.append(Posting.credit(merchant_liability(merchant_id, received.asset), fee.net))
    if fee.fee.is_positive():
        postings.append(Posting.credit(merchant_fee(received.asset), fee.fee))
    request = EntryRequest(
        f"invoice:{reference or f'{invoice_id}:{network}'}:credit",
        postings,
        f"invoice {invoice_id} paid on {network}",
        metadata={"invoice_id": invoice_id, "merchant_id": merchant_id, "fee_schedule": fees.id},
    )
    return ledger.post(request, session=session), fee


def convert_for_settlement(
    ledger: Ledger,
    *,
    settlement_id: str,
    merchant_id: str,
    amount: Money,
    quote: Quote,
    at: datetime,
    session: LedgerSession | None = None,
) -> tuple[Entry, Money]:
    """Convert a merchant's crypto to KES at the quote's bid; the spread against the mid is FX revenue.

    Dr merchant:<ASSET> / Cr trading:<ASSET>, then Dr trading:KES (mid value) / Cr merchant:KES (bid value)
    / Cr revenue:fx_spread:KES (the difference). Returns the entry and the KES credited to the merchant.
    """
    if quote.pair.quote != KES or quote.pair.base != amount.asset:
        raise InvalidInput(f"settlement needs a {amount.asset.code}/KES quote, got {quote.pair}")
    credited = quote.convert(amount, at=at, rounding=Rounding.DOWN)
    at_mid = Money.rounded(amount.amount * quote.mid, KES, Rounding.DOWN)
    spread = at_mid - credited
    postings = [
        Posting.debit(merchant_liability(merchant_id, amount.asset), amount),
        Posting.credit(trading_account(amount.asset.code), amount),
        Posting.debit(trading_account(KES.code), at_mid),
        Posting.credit(merchant_liability(merchant_id, KES), credited),
    ]
    if spread.is_positive():
        postings.append(Posting.credit(FX_SPREAD, spread))
    request = EntryRequest(
        f"settlement:{settlement_id}:convert", postings, f"settlement {settlement_id} at quote {quote.id}", quote.id
    )
    return ledger.post(request, session=session), credited


def start_payout(
    ledger: Ledger,
    *,
    payout_id: str,
    merchant_id: str,
    amount: Money,
    charge: Money | None = None,
    session: LedgerSession | None = None,
) -> Hold:
    """Hold the payout and its charge from the merchant's KES balance while M-Pesa is in flight."""
    total = amount + (charge or Money.zero(KES))
    request = HoldRequest(
        f"payout:{payout_id}:hold", merchant_liability(merchant_id, KES), IN_FLIGHT, total, None, f"payout {payout_id}"
    )
    return ledger.hold(request, session=session)


def complete_payout(
    ledger: Ledger,
    *,
    payout_id: str,
    hold_id: str,
    amount: Money,
    charge: Money | None = None,
    session: LedgerSession | None = None,
) -> tuple[Entry, Entry]:
    """On M-Pesa's success result: post the hold, then pay the float out and book the charge as revenue."""
    posted = ledger.post_hold(hold_id, f"payout:{payout_id}:post", session=session)
    fee = charge or Money.zero(KES)
    postings = [Posting.debit(IN_FLIGHT, amount + fee), Posting.credit(FLOAT, amount)]
    if fee.is_positive():
        postings.append(Posting.credit(PAYOUT_FEE, fee))
    paid = ledger.post(
        EntryRequest(f"payout:{payout_id}:float", postings, f"payout {payout_id} paid from the M-Pesa float"),
        session=session,
    )
    return posted, paid


def fail_payout(ledger: Ledger, *, hold_id: str, session: LedgerSession | None = None) -> Hold:
    """On a definitive failure: void the hold so the merchant's shillings are available again."""
    return ledger.void_hold(hold_id, session=session)
