"""Merchant money flows in ledger terms: credit a paid invoice, convert at a locked quote, pay out over M-Pesa.

Each function posts one idempotent ledger entry (or hold) with a key derived from the business object, so a
retried job never books twice. Pass ``session=`` to join a caller's unit of work.

Account names: ``assets:custody:<network>:<ASSET>``, ``liabilities:merchant:<id>:<ASSET>``,
``revenue:merchant_fee:<ASSET>``, ``revenue:fx_spread:KES``, ``liabilities:payouts_in_flight:KES``,
``assets:mpesa_float:KES``, ``expenses:mpesa_charges:KES`` (what M-Pesa itself takes from the float for each payout,
by its tariff), and the trading accounts ``equity:trading:<ASSET>``.
Personal wallets: ``liabilities:wallet:<user>:<ASSET>`` (never negative), ``liabilities:wallet_claims:<ASSET>``
(transfers waiting for a recipient to sign up) and ``revenue:p2p_fee:<ASSET>``. Remittances' kept excess (dust
below the refund floor, refunds' network fees): ``revenue:remittance_dust:<ASSET>``. The treasury's own:
``assets:bank:KES`` (the company's bank account, funded outside the books), ``revenue:fx_spread:<ASSET>`` (a
stablecoin conversion's spread, in the wallet's stablecoin), ``assets:gas:<network>:<COIN>`` (the
hot wallet's coin that pays network fees), ``expenses:network_fees:<network>:<COIN>``,
``expenses:conversion_fees:KES``, ``revenue:fx_gain:KES`` and ``expenses:fx_loss:KES``. What a merchant owes the
platform for a refund it funded after the merchant's crypto was settled (outside review R25):
``assets:merchant_receivable:<id>:KES``, netted from the merchant's next settlements.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from cryptopay.core.errors import InvalidInput
from cryptopay.core.fees import FeeQuote, FeeSchedule
from cryptopay.core.fx import Quote
from cryptopay.core.ledger import Account, AccountKind, Entry, EntryRequest, Hold, HoldRequest, Ledger, Posting
from cryptopay.core.ledger.service import trading_account
from cryptopay.core.money import BTC, KES, USDT, Asset, Money, Rounding
from cryptopay.core.ports.ledger import LedgerSession

__all__ = [
    "BANK",
    "FLOAT",
    "FX_SPREAD",
    "IN_FLIGHT",
    "MPESA_CHARGES",
    "MPESA_COLLECTIONS",
    "PAYBILL_SUSPENSE",
    "PAYOUT_FEE",
    "REMITTANCE_DESK",
    "book_deposit",
    "book_paybill_payment",
    "book_wrong_network_payment",
    "buy_key",
    "complete_payout",
    "complete_withdrawal",
    "convert_for_settlement",
    "convert_remittance",
    "credit_buy",
    "credit_invoice_payment",
    "credit_remittance",
    "custody",
    "decide_held_send",
    "deposits_held",
    "fail_payout",
    "fund_refund",
    "fx_spread",
    "gas",
    "hold_withdrawal",
    "keep_remittance_excess",
    "lock_wallet_sale",
    "merchant_liability",
    "merchant_receivable",
    "mpesa_charge_entry",
    "net_receivable",
    "network_fees",
    "open_platform_accounts",
    "open_treasury_accounts",
    "open_wallet_accounts",
    "p2p_fee",
    "p2p_held",
    "p2p_send_key",
    "paybill_key",
    "payments_held",
    "release_deposit",
    "release_held_payment",
    "release_paybill_payment",
    "remittance_dust",
    "return_paybill_payment",
    "reverse_deposit",
    "sale_key",
    "sell_for_kes",
    "send_p2p",
    "settle_claim",
    "start_payout",
    "wallet_account",
    "wallet_claims",
    "wallet_withdrawals_in_flight",
    "withdrawal_fee",
    "wrong_network_suspense",
]

FLOAT = "assets:mpesa_float:KES"
IN_FLIGHT = "liabilities:payouts_in_flight:KES"
FX_SPREAD = "revenue:fx_spread:KES"
PAYOUT_FEE = "revenue:payout_fee:KES"
MPESA_CHARGES = "expenses:mpesa_charges:KES"  # M-Pesa's own tariff on our payouts, taken from the float
BANK = "assets:bank:KES"  # our bank account, which operators' bank transfers to merchants are paid from
CONVERSION_FEES = "expenses:conversion_fees:KES"
FX_GAIN = "revenue:fx_gain:KES"
FX_LOSS = "expenses:fx_loss:KES"


def custody(network: str, asset: Asset) -> str:
    return f"assets:custody:{network}:{asset.code}"


def gas(network: str, coin: Asset) -> str:
    """The hot wallet's coin that pays a network's fees (funded outside the books until a funding is booked)."""
    return f"assets:gas:{network}:{coin.code}"


def network_fees(network: str, coin: Asset) -> str:
    return f"expenses:network_fees:{network}:{coin.code}"


def merchant_liability(merchant_id: str, asset: Asset) -> str:
    return f"liabilities:merchant:{merchant_id}:{asset.code}"


def merchant_receivable(merchant_id: str) -> str:
    """What the merchant owes the platform: refunds funded after its crypto was settled, netted from its next
    settlements (``net_receivable``).

    >>> merchant_receivable("mer_1")
    'assets:merchant_receivable:mer_1:KES'
    """
    return f"assets:merchant_receivable:{merchant_id}:KES"


def fund_refund(
    ledger: Ledger,
    *,
    refund_id: str,
    merchant_id: str,
    amount: Money,
    quote: Quote,
    at: datetime,
    session: LedgerSession | None = None,
) -> tuple[Entry, Money]:
    """Sell the merchant ``amount`` of crypto on credit at the quote's ask, so that a refund whose crypto was already
    settled can be held from the merchant's balance as any other: the merchant owes the shillings.

    Dr receivable:KES (ask value, rounded up) / Cr trading:KES (mid value) / Cr revenue:fx_spread:KES (the
    difference), then Dr trading:<ASSET> / Cr merchant:<ASSET>. Keyed ``refund:<id>:fund``. Returns the entry and
    the shillings owed.
    """
    if quote.pair.quote != KES or quote.pair.base != amount.asset:
        raise InvalidInput(f"funding a refund needs a {amount.asset.code}/KES quote, got {quote.pair}")
    if not amount.is_positive():
        raise InvalidInput(f"a refund is funded with a positive amount, not {amount}")
    quote.check_valid(at)
    owed = Money.rounded(amount.amount * quote.ask, KES, Rounding.UP)
    at_mid = Money.rounded(amount.amount * quote.mid, KES, Rounding.DOWN)
    spread = owed - at_mid
    ledger.open_accounts([Account(merchant_receivable(merchant_id), AccountKind.ASSET, KES)], session=session)
    postings = [
        Posting.debit(merchant_receivable(merchant_id), owed),
        Posting.credit(trading_account(KES.code), at_mid),
        Posting.debit(trading_account(amount.asset.code), amount),
        Posting.credit(merchant_liability(merchant_id, amount.asset), amount),
    ]
    if spread.is_positive():
        postings.append(Posting.credit(FX_SPREAD, spread))
    request = EntryRequest(
        f"refund:{refund_id}:fund", postings, f"refund {refund_id} funded by the merchant at quote {quote.id}", quote.id
    )
    return ledger.post(request, session=session), owed


def net_receivable(
    ledger: Ledger, *, settlement_id: str, merchant_id: str, amount: Money, session: LedgerSession | None = None
) -> Entry:
    """Take ``amount`` of what the merchant owes from the shillings a settlement would pay it: Dr merchant:KES /
    Cr receivable:KES, keyed ``settlement:<id>:net``."""
    if amount.asset != KES or not amount.is_positive():
        raise InvalidInput(f"a settlement nets a positive KES amount, not {amount}")
    postings = [
        Posting.debit(merchant_liability(merchant_id, KES), amount),
        Posting.credit(merchant_receivable(merchant_id), amount),
    ]
    request = EntryRequest(f"settlement:{settlement_id}:net", postings, f"settlement {settlement_id} nets refunds owed")
    return ledger.post(request, session=session)


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


def wrong_network_suspense(asset: Asset) -> str:
    """What we owe the payers of wrong-network payments being refunded (``payments.wrong_network``).

    >>> wrong_network_suspense(USDT)
    'liabilities:wrong_network:USDT'
    """
    return f"liabilities:wrong_network:{asset.code}"


def book_wrong_network_payment(
    ledger: Ledger, *, payment_id: str, network: str, amount: Money, session: LedgerSession | None = None
) -> None:
    """A payment on the wrong EVM network taken into custody to be refunded; the merchant's balance is untouched.

    Dr assets:custody:<network>:<ASSET> / Cr liabilities:wrong_network:<ASSET> (keyed ``wrong_network:<id>:book``);
    the refund then holds it from the suspense account and, once confirmed, pays it out of custody."""
    suspense = wrong_network_suspense(amount.asset)
    accounts = [
        Account(custody(network, amount.asset), AccountKind.ASSET, amount.asset),
        Account(suspense, AccountKind.LIABILITY, amount.asset),
    ]
    ledger.open_accounts(accounts, session=session)
    postings = [Posting.debit(custody(network, amount.asset), amount), Posting.credit(suspense, amount)]
    request = EntryRequest(f"wrong_network:{payment_id}:book", postings, f"wrong-network payment {payment_id}")
    ledger.post(request, session=session)


def payments_held(asset: Asset) -> str:
    """What we hold of merchants' invoice payments compliance stopped (a listed payer: ``payments.crediting``).

    >>> payments_held(USDT)
    'liabilities:payments_held:USDT'
    """
    return f"liabilities:payments_held:{asset.code}"


def _merchant_share(merchant_id: str, fee: FeeQuote) -> list[Posting]:
    """A payment's credit side once the fee is taken: Cr merchant liability (net), Cr merchant fee revenue (the fee,
    when there is one); shared by a payment's credit and an officer's release of a held one."""
    asset = fee.net.asset
    share = [Posting.credit(merchant_liability(merchant_id, asset), fee.net)]
    if fee.fee.is_positive():
        share.append(Posting.credit(merchant_fee(asset), fee.fee))
    return share


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
    held: bool = False,
) -> tuple[Entry, FeeQuote]:
    """Book confirmed crypto: Dr custody (gross) / Cr merchant liability (net) / Cr merchant fee revenue.

    ``reference`` names this credit (one per payment and per re-mining of it); by default one per invoice/network.
    ``held`` (compliance stopped it: a listed payer): Dr custody / Cr ``payments_held`` (gross, no fee taken); the
    merchant's balance is untouched, so nothing of it is settled or refunded by the merchant.
    """
    fee = FeeQuote(fees.id, received, Money.zero(received.asset), ()) if held else fees.quote(received)
    postings = [Posting.debit(custody(network, received.asset), received)]
    if held:
        ledger.open_account(
            Account(payments_held(received.asset), AccountKind.LIABILITY, received.asset), session=session
        )
        postings.append(Posting.credit(payments_held(received.asset), received))
    else:
        postings.extend(_merchant_share(merchant_id, fee))
    request = EntryRequest(
        f"invoice:{reference or f'{invoice_id}:{network}'}:credit",
        postings,
        f"invoice {invoice_id} paid on {network}",
        metadata={"invoice_id": invoice_id, "merchant_id": merchant_id, "fee_schedule": fees.id},
    )
    return ledger.post(request, session=session), fee


def release_held_payment(
    ledger: Ledger,
    *,
    credit_id: str,
    invoice_id: str,
    merchant_id: str,
    received: Money,
    fees: FeeSchedule,
    session: LedgerSession | None = None,
) -> tuple[Entry, FeeQuote]:
    """An officer's release of a held payment (``payments.held``): credited to the merchant as it would have been
    (``credit_invoice_payment``), from the suspense account: Dr ``payments_held`` (gross) / Cr merchant liability
    (net) / Cr merchant fee revenue, keyed ``held:<credit>:release``; custody is untouched (the coins are there)."""
    fee = fees.quote(received)
    postings = [Posting.debit(payments_held(received.asset), received), *_merchant_share(merchant_id, fee)]
    request = EntryRequest(
        f"held:{credit_id}:release",
        postings,
        f"held payment {credit_id} of invoice {invoice_id} released",
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
        _conversion_key(settlement_id, amount.asset),
        postings,
        f"settlement {settlement_id} at quote {quote.id}",
        quote.id,
    )
    return ledger.post(request, session=session), credited


def _conversion_key(settlement_id: str, asset: Asset) -> str:
    """USDT keeps the key it always had; every other asset sold in the same settlement has its own."""
    return f"settlement:{settlement_id}:convert" + ("" if asset == USDT else f":{asset.code}")


def start_payout(
    ledger: Ledger,
    *,
    payout_id: str,
    merchant_id: str,
    amount: Money,
    charge: Money | None = None,
    session: LedgerSession | None = None,
    source: str | None = None,
) -> Hold:
    """Hold the payout and its charge from the merchant's KES balance while M-Pesa is in flight.

    ``source`` is the KES account paid from when it is not the merchant's (a personal wallet selling USDT).
    """
    total = amount + (charge or Money.zero(KES))
    debit = source or merchant_liability(merchant_id, KES)
    request = HoldRequest(f"payout:{payout_id}:hold", debit, IN_FLIGHT, total, None, f"payout {payout_id}")
    return ledger.hold(request, session=session)


def complete_payout(
    ledger: Ledger,
    *,
    payout_id: str,
    hold_id: str,
    amount: Money,
    charge: Money | None = None,
    session: LedgerSession | None = None,
    paid_from: str = FLOAT,
    mpesa_charge: Money | None = None,
) -> tuple[Entry, list[Entry]]:
    """On M-Pesa's success result: post the hold, then pay the float out and book the charge as revenue.

    Dr ``liabilities:payouts_in_flight:KES`` amount + charge / Cr ``paid_from`` amount / Cr ``revenue:payout_fee:KES``
    charge. ``paid_from`` is the M-Pesa float, or ``BANK`` for a bank transfer an operator confirmed. ``charge`` is
    what the payer was charged; ``mpesa_charge`` is what M-Pesa itself takes from the float for the payment (its
    tariff, ``Payout.mpesa_charge``), booked with it: Dr ``expenses:mpesa_charges:KES`` / Cr the float
    (``mpesa_charge_entry``). Returns the hold's posting and the payment's entries (the payment, then the charge).
    """
    fee = charge or Money.zero(KES)
    if paid_from == BANK:
        ledger.open_account(Account(BANK, AccountKind.ASSET, KES, allow_negative=True), session=session)
    postings = _payout_postings(IN_FLIGHT, paid_from, amount, fee)
    source = "the M-Pesa float" if paid_from == FLOAT else paid_from
    key = f"payout:{payout_id}:float" if paid_from == FLOAT else f"payout:{payout_id}:paid"
    paid = [EntryRequest(key, postings, f"payout {payout_id} paid from {source}")]
    if paid_from == FLOAT:
        paid += _mpesa_charge(ledger, payout_id, mpesa_charge, session)
    return ledger.post_hold_and_pay(hold_id, f"payout:{payout_id}:post", paid, session=session)


def mpesa_charge_entry(payout_id: str, charge: Money) -> EntryRequest:
    """M-Pesa's own charge for paying payout ``payout_id``: Dr ``expenses:mpesa_charges:KES`` / Cr the float, once
    per payout (key ``payout:<id>:mpesa_charge``), so the books' float falls by what M-Pesa's does.

    >>> [(p.account, str(p.amount)) for p in mpesa_charge_entry("po_1", Money.of(9, KES)).postings]
    [('expenses:mpesa_charges:KES', '9.00 KES'), ('assets:mpesa_float:KES', '-9.00 KES')]
    """
    postings = [Posting.debit(MPESA_CHARGES, charge), Posting.credit(FLOAT, charge)]
    return EntryRequest(f"payout:{payout_id}:mpesa_charge", postings, f"M-Pesa's charge for payout {payout_id}")


def _mpesa_charge(
    ledger: Ledger, payout_id: str, charge: Money | None, session: LedgerSession | None
) -> list[EntryRequest]:
    """The charge's entry (its expense account opened first), or none when M-Pesa charges nothing."""
    if charge is None or not charge.is_positive():
        return []
    ledger.open_account(Account(MPESA_CHARGES, AccountKind.EXPENSE, KES), session=session)
    return [mpesa_charge_entry(payout_id, charge)]


def pay_failed_payout(
    ledger: Ledger,
    *,
    payout_id: str,
    merchant_id: str,
    amount: Money,
    charge: Money | None = None,
    session: LedgerSession | None = None,
    source: str | None = None,
    mpesa_charge: Money | None = None,
) -> list[Entry]:
    """A payout failed (its hold voided) that M-Pesa paid after all (Transaction Status): book the payment itself.

    Dr ``source`` (the merchant's KES, or a wallet's) amount + charge / Cr ``assets:mpesa_float:KES`` amount /
    Cr ``revenue:payout_fee:KES`` charge; and M-Pesa's own charge as ``complete_payout`` books it."""
    debit = source or merchant_liability(merchant_id, KES)
    postings = _payout_postings(debit, FLOAT, amount, charge or Money.zero(KES))
    request = EntryRequest(f"payout:{payout_id}:paid_after_failure", postings, f"payout {payout_id} paid after all")
    return ledger.post_many([request, *_mpesa_charge(ledger, payout_id, mpesa_charge, session)], session=session)


def _payout_postings(debit: str, paid_from: str, amount: Money, fee: Money) -> list[Posting]:
    """Dr ``debit`` amount + fee / Cr ``paid_from`` amount / Cr ``revenue:payout_fee:KES`` fee (when there is one)."""
    postings = [Posting.debit(debit, amount + fee), Posting.credit(paid_from, amount)]
    if fee.is_positive():
        postings.append(Posting.credit(PAYOUT_FEE, fee))
    return postings


def fail_payout(ledger: Ledger, *, hold_id: str, session: LedgerSession | None = None) -> Hold:
    """On a definitive failure: void the hold so the merchant's shillings are available again."""
    return ledger.void_hold(hold_id, session=session)


# -- personal wallets -------------------------------------------------------------------------------------------
WALLET_ASSETS: tuple[Asset, ...] = (KES, USDT, BTC)


def wallet_account(user_id: str, asset: Asset) -> str:
    return f"liabilities:wallet:{user_id}:{asset.code}"


def wallet_claims(asset: Asset) -> str:
    return f"liabilities:wallet_claims:{asset.code}"


def p2p_fee(asset: Asset) -> str:
    return f"revenue:p2p_fee:{asset.code}"


def p2p_held(asset: Asset) -> str:
    """Sends to a frozen recipient, held for an officer (``wallets.held_sends``: released or returned).

    >>> p2p_held(KES)
    'liabilities:p2p_held:KES'
    """
    return f"liabilities:p2p_held:{asset.code}"


def open_wallet_accounts(ledger: Ledger, user_id: str, *, session: LedgerSession | None = None) -> None:
    """Open (idempotently) a user's wallet balances and the platform accounts its movements touch (transfers
    between people; a sale's payout: in flight, the float, the payout charge)."""
    for account in (
        Account(IN_FLIGHT, AccountKind.LIABILITY, KES),
        Account(FLOAT, AccountKind.ASSET, KES, allow_negative=True),
        Account(PAYOUT_FEE, AccountKind.REVENUE, KES),
    ):
        ledger.open_account(account, session=session)
    for asset in WALLET_ASSETS:
        ledger.open_account(Account(wallet_account(user_id, asset), AccountKind.LIABILITY, asset), session=session)
        ledger.open_account(Account(wallet_claims(asset), AccountKind.LIABILITY, asset), session=session)
        ledger.open_account(Account(p2p_fee(asset), AccountKind.REVENUE, asset), session=session)
        ledger.open_account(Account(p2p_held(asset), AccountKind.LIABILITY, asset), session=session)


def send_p2p(
    ledger: Ledger,
    *,
    transfer_id: str,
    sender_id: str,
    recipient_id: str | None,
    amount: Money,
    fee: Money,
    session: LedgerSession | None = None,
    held: bool = False,
) -> Entry:
    """Move money between people: Dr wallet:sender (amount + fee) / Cr wallet:recipient (amount) / Cr p2p fee.

    With no ``recipient_id`` (a number that has no wallet yet) the amount goes to ``wallet_claims`` instead; ``held``
    (the recipient is frozen) to ``p2p_held``, until an officer releases or returns it (``decide_held_send``).
    """
    if held:
        credit = p2p_held(amount.asset)
    else:
        credit = wallet_account(recipient_id, amount.asset) if recipient_id else wallet_claims(amount.asset)
    postings = [Posting.debit(wallet_account(sender_id, amount.asset), amount + fee), Posting.credit(credit, amount)]
    if fee.is_positive():
        postings.append(Posting.credit(p2p_fee(amount.asset), fee))
    metadata = {"kind": "p2p", "transfer_id": transfer_id, "sender": sender_id, "recipient": recipient_id or ""}
    request = EntryRequest(p2p_send_key(transfer_id), postings, f"transfer {transfer_id}", metadata=metadata)
    return ledger.post(request, session=session)


def p2p_send_key(transfer_id: str) -> str:
    """The idempotency key of a transfer's sending entry (``send_p2p``).

    >>> p2p_send_key("trf_1")
    'p2p:trf_1:send'
    """
    return f"p2p:{transfer_id}:send"


def settle_claim(
    ledger: Ledger,
    *,
    transfer_id: str,
    user_id: str,
    amount: Money,
    returned: bool,
    session: LedgerSession | None = None,
) -> Entry:
    """A waiting transfer reaches a wallet: Dr wallet_claims / Cr wallet:user (the recipient, or the sender back)."""
    step, memo = ("return", "returned to its sender") if returned else ("claim", "claimed")
    described = f"transfer {transfer_id} {memo}"
    return _p2p_to_wallet(ledger, wallet_claims(amount.asset), transfer_id, step, described, user_id, amount, session)


def decide_held_send(
    ledger: Ledger,
    *,
    transfer_id: str,
    user_id: str,
    amount: Money,
    returned: bool,
    session: LedgerSession | None = None,
) -> Entry:
    """An officer's decision on a send held for a frozen recipient: Dr p2p_held / Cr wallet:user (the recipient,
    released, or the sender, ``returned``; the fee stays earned, as for any send)."""
    step, memo = (
        ("held_return", "returned to its sender") if returned else ("held_release", "released to its recipient")
    )
    described = f"held transfer {transfer_id} {memo}"
    return _p2p_to_wallet(ledger, p2p_held(amount.asset), transfer_id, step, described, user_id, amount, session)


def _p2p_to_wallet(
    ledger: Ledger,
    source: str,
    transfer_id: str,
    step: str,
    described: str,
    user_id: str,
    amount: Money,
    session: LedgerSession | None,
) -> Entry:
    """Dr ``source`` / Cr wallet:user for a transfer's ``step`` (key ``p2p:<id>:<step>``, kind ``p2p_<step>``)."""
    request = EntryRequest(
        f"p2p:{transfer_id}:{step}",
        [Posting.debit(source, amount), Posting.credit(wallet_account(user_id, amount.asset), amount)],
        described,
        metadata={"kind": f"p2p_{step}", "transfer_id": transfer_id, "user": user_id},
    )
    return ledger.post(request, session=session)


# -- a wallet's crypto withdrawals (``cryptopay.core.wallets.withdrawals``) ------------------------------------------


def wallet_withdrawals_in_flight(asset: Asset) -> str:
    """Coins on their way out of wallets (apart from merchants' refunds, which have their own in-flight account)."""
    return f"liabilities:wallet_withdrawals_in_flight:{asset.code}"


def withdrawal_fee(asset: Asset) -> str:
    return f"revenue:withdrawal_fee:{asset.code}"


def hold_withdrawal(
    ledger: Ledger, *, withdrawal_id: str, user_id: str, total: Money, session: LedgerSession | None = None
) -> Hold:
    """Hold the amount and our fee from the wallet while the coins are in flight (recorded before anything is sent).

    Pending Dr wallet:<user>:<ASSET> / Cr wallet_withdrawals_in_flight:<ASSET>, keyed ``withdrawal:<id>:hold``.
    """
    asset = total.asset
    ledger.open_accounts(
        [
            Account(wallet_withdrawals_in_flight(asset), AccountKind.LIABILITY, asset),
            Account(withdrawal_fee(asset), AccountKind.REVENUE, asset),
        ],
        session=session,
    )
    request = HoldRequest(
        f"withdrawal:{withdrawal_id}:hold",
        wallet_account(user_id, asset),
        wallet_withdrawals_in_flight(asset),
        total,
        None,
        f"withdrawal {withdrawal_id}",
    )
    return ledger.hold(request, session=session)


def complete_withdrawal(
    ledger: Ledger,
    *,
    withdrawal_id: str,
    hold_id: str,
    network: str,
    amount: Money,
    fee: Money,
    network_fee: Money | None = None,
    session: LedgerSession | None = None,
) -> Entry:
    """A confirmed withdrawal: post the hold, then custody pays the coins out and our fee is revenue.

    Dr wallet_withdrawals_in_flight (amount + fee) / Cr assets:custody:<network>:<ASSET> (amount) /
    Cr revenue:withdrawal_fee:<ASSET> (fee); and, when the network's fee is known,
    Dr expenses:network_fees:<network>:<COIN> / Cr assets:gas:<network>:<COIN> (the hot wallet's coin paid it).
    """
    ledger.open_account(Account(custody(network, amount.asset), AccountKind.ASSET, amount.asset), session=session)
    postings = [
        Posting.debit(wallet_withdrawals_in_flight(amount.asset), amount + fee),
        Posting.credit(custody(network, amount.asset), amount),
    ]
    if fee.is_positive():
        postings.append(Posting.credit(withdrawal_fee(amount.asset), fee))
    metadata = {"kind": "withdrawal", "withdrawal_id": withdrawal_id, "network": network}
    payments = [
        EntryRequest(
            f"withdrawal:{withdrawal_id}:send",
            postings,
            f"withdrawal {withdrawal_id} sent from custody",
            metadata=metadata,
        )
    ]
    if network_fee is not None and network_fee.is_positive():
        open_treasury_accounts(ledger, session=session, networks=((network, network_fee.asset),))
        fees = [
            Posting.debit(network_fees(network, network_fee.asset), network_fee),
            Posting.credit(gas(network, network_fee.asset), network_fee),
        ]
        key = f"withdrawal:{withdrawal_id}:network_fee"
        payments.append(EntryRequest(key, fees, f"withdrawal {withdrawal_id} network fee"))
    _, [entry, *_] = ledger.post_hold_and_pay(hold_id, f"withdrawal:{withdrawal_id}:post", payments, session=session)
    return entry


MPESA_COLLECTIONS = "assets:mpesa_collections:KES"  # our paybill's takings (STK Push), apart from the B2C float


def credit_buy(
    ledger: Ledger,
    *,
    buy_id: str,
    user_id: str,
    kes: Money,
    usdt: Money,
    mid: Decimal,
    quote_id: str,
    session: LedgerSession | None = None,
) -> Entry:
    """A paid STK purchase: the shillings in, the USDT out at the locked quote, the spread against the mid as revenue.

    Dr mpesa_collections (kes) / Cr trading:KES (the USDT's value at the mid) / Cr fx_spread (the rest), and
    Dr trading:USDT / Cr wallet:<user>:USDT (usdt). Keyed ``buy:<id>:credit``: a second answer books nothing.
    """
    at_mid = min(Money.rounded(usdt.amount * mid, KES, Rounding.DOWN), kes)
    for account in (
        Account(MPESA_COLLECTIONS, AccountKind.ASSET, KES),
        Account(trading_account(KES.code), AccountKind.EQUITY, KES, allow_negative=True),
        Account(trading_account(usdt.asset.code), AccountKind.EQUITY, usdt.asset, allow_negative=True),
        Account(FX_SPREAD, AccountKind.REVENUE, KES),
    ):
        ledger.open_account(account, session=session)
    postings = [
        Posting.debit(MPESA_COLLECTIONS, kes),
        Posting.credit(trading_account(KES.code), at_mid),
        Posting.debit(trading_account(usdt.asset.code), usdt),
        Posting.credit(wallet_account(user_id, usdt.asset), usdt),
    ]
    if (kes - at_mid).is_positive():
        postings.append(Posting.credit(FX_SPREAD, kes - at_mid))
    metadata = {"kind": "buy", "buy_id": buy_id, "user": user_id}
    request = EntryRequest(buy_key(buy_id), postings, f"buy {buy_id} paid by M-Pesa", quote_id, metadata)
    return ledger.post(request, session=session)


PAYBILL_SUSPENSE = "liabilities:paybill_suspense:KES"  # paybill (C2B) payments no wallet may take yet


def paybill_key(payment_id: str, step: str) -> str:
    """The idempotency key of a paybill payment's entry (``book``, ``release``, ``return``): reconciliation and a
    repeated confirmation find it by this."""
    return f"paybill:{payment_id}:{step}"


def book_paybill_payment(
    ledger: Ledger, *, payment_id: str, kes: Money, user_id: str | None, session: LedgerSession | None = None
) -> Entry:
    """A customer paid our paybill from the SIM menu or the app (C2B, no STK prompt of ours): Dr mpesa_collections /
    Cr ``wallet:<user>:KES`` when the payment's account number names a wallet that may take it, else Cr
    ``paybill_suspense`` for an operator to resolve. Keyed ``paybill:<id>:book``: a repeated confirmation books
    nothing."""
    credit = wallet_account(user_id, KES) if user_id is not None else PAYBILL_SUSPENSE
    for account in (
        Account(MPESA_COLLECTIONS, AccountKind.ASSET, KES),
        Account(credit, AccountKind.LIABILITY, KES),
    ):
        ledger.open_account(account, session=session)
    postings = [Posting.debit(MPESA_COLLECTIONS, kes), Posting.credit(credit, kes)]
    metadata = {"kind": "paybill", "payment_id": payment_id, "user": user_id or ""}
    where = f"to wallet {user_id}" if user_id is not None else "held in suspense"
    request = EntryRequest(
        paybill_key(payment_id, "book"), postings, f"paybill payment {payment_id} {where}", None, metadata
    )
    return ledger.post(request, session=session)


def release_paybill_payment(
    ledger: Ledger, *, payment_id: str, kes: Money, user_id: str, session: LedgerSession | None = None
) -> Entry:
    """An operator credits a suspended paybill payment to a wallet: Dr paybill_suspense / Cr ``wallet:<user>:KES``."""
    ledger.open_account(Account(wallet_account(user_id, KES), AccountKind.LIABILITY, KES), session=session)
    postings = [Posting.debit(PAYBILL_SUSPENSE, kes), Posting.credit(wallet_account(user_id, KES), kes)]
    metadata = {"kind": "paybill_release", "payment_id": payment_id, "user": user_id}
    request = EntryRequest(
        paybill_key(payment_id, "release"), postings, f"paybill payment {payment_id} released", None, metadata
    )
    return ledger.post(request, session=session)


def return_paybill_payment(
    ledger: Ledger, *, payment_id: str, kes: Money, session: LedgerSession | None = None
) -> Entry:
    """An operator gives a suspended paybill payment back (M-Pesa reverses it to the payer): Dr paybill_suspense /
    Cr mpesa_collections, so the collections account holds only what we kept."""
    postings = [Posting.debit(PAYBILL_SUSPENSE, kes), Posting.credit(MPESA_COLLECTIONS, kes)]
    metadata = {"kind": "paybill_return", "payment_id": payment_id}
    request = EntryRequest(
        paybill_key(payment_id, "return"), postings, f"paybill payment {payment_id} returned", None, metadata
    )
    return ledger.post(request, session=session)


def buy_key(buy_id: str) -> str:
    """The idempotency key of a buy's credit entry: reconciliation finds the entry by it."""
    return f"buy:{buy_id}:credit"


def sale_key(sale_id: str) -> str:
    """The idempotency key of a sale's conversion entry (a bill paid from USDT is a sale under the bill's id)."""
    return f"sell:{sale_id}:convert"


def sell_for_kes(
    ledger: Ledger,
    *,
    sale_id: str,
    user_id: str,
    usdt: Money,
    kes: Money,
    mid: Decimal,
    quote_id: str,
    session: LedgerSession | None = None,
    for_bill: bool = False,
) -> Entry:
    """A wallet sells USDT at the locked bid: Dr wallet:USDT / Cr trading:USDT, and Dr trading:KES (the mid value)
    / Cr wallet:KES (``kes``, at the bid) / Cr fx_spread (the rest). The payout then holds from wallet:KES.
    ``for_bill``: the conversion of a bill paid from USDT (``sale_id`` the bill's id), said so, not as a sale."""
    at_mid = max(Money.rounded(usdt.amount * mid, KES, Rounding.DOWN), kes)
    for account in (
        Account(trading_account(KES.code), AccountKind.EQUITY, KES, allow_negative=True),
        Account(trading_account(usdt.asset.code), AccountKind.EQUITY, usdt.asset, allow_negative=True),
        Account(FX_SPREAD, AccountKind.REVENUE, KES),
    ):
        ledger.open_account(account, session=session)
    postings = [
        Posting.debit(wallet_account(user_id, usdt.asset), usdt),
        Posting.credit(trading_account(usdt.asset.code), usdt),
        Posting.debit(trading_account(KES.code), at_mid),
        Posting.credit(wallet_account(user_id, KES), kes),
    ]
    if (at_mid - kes).is_positive():
        postings.append(Posting.credit(FX_SPREAD, at_mid - kes))
    metadata = {"kind": "sell", "sale_id": sale_id, "user": user_id}
    said = f"converted for bill {sale_id}" if for_bill else f"sale {sale_id} at the bid"
    request = EntryRequest(sale_key(sale_id), postings, said, quote_id, metadata)
    return ledger.post(request, session=session)


def lock_wallet_sale(session: LedgerSession, user_id: str, sold: Asset) -> None:
    """Lock every balance a wallet's sale of ``sold`` for shillings and its payout's hold move, in one statement and
    in code order, before either posts (``Sells.start``, a bill paid in crypto): the wallet's two accounts, the
    trading accounts of ``sold`` and KES, the FX spread and the payouts in flight.

    Locked posting by posting they came out of code order: the sale's entry locked the wallet's KES and the spread,
    then its payout's hold locked ``liabilities:payouts_in_flight:KES``, which sorts before both. M-Pesa's answer to the
    same wallet's earlier payout (``Ledger.post_hold_and_pay``: the float, the payouts in flight, then the wallet's KES)
    held the payouts in flight and waited for the wallet's KES, which the sale held while it waited for the payouts in
    flight: PostgreSQL found a deadlock every time the two were lined up, and 2 in 20 rounds of sales racing a
    settlement and M-Pesa's answers (tests/integration/sql/test_settlement_cross_races.py); now none. An account
    missing (the first sale ever opens the trading accounts) is not locked here: the entry creates it in this
    transaction.
    """
    codes = {wallet_account(user_id, sold), wallet_account(user_id, KES), trading_account(sold.code)}
    session.lock_balances(sorted(codes | {trading_account(KES.code), FX_SPREAD, IN_FLIGHT}))


# -- remittances from abroad -------------------------------------------------------------------------------------
REMITTANCE_DESK = "remittances"  # the desk's invoices credit ``liabilities:merchant:remittances:<ASSET>``


def convert_remittance(
    ledger: Ledger,
    *,
    order_id: str,
    usdt: Money,
    kes: Money,
    mid: Decimal,
    quote_id: str,
    session: LedgerSession | None = None,
) -> Entry:
    """A paid remittance order's USDT becomes the shillings it promised, at its locked quote (even after the quote's
    window: the sender paid for it). Dr desk:USDT / Cr trading:USDT, and Dr trading:KES (the mid value) / Cr desk:KES
    (``kes``: the payout and its charge) / Cr fx_spread (the rest). Keyed ``remittance:<id>:convert``."""
    at_mid = max(Money.rounded(usdt.amount * mid, KES, Rounding.DOWN), kes)
    desk_usdt, desk_kes = merchant_liability(REMITTANCE_DESK, usdt.asset), merchant_liability(REMITTANCE_DESK, KES)
    for account in (
        Account(desk_kes, AccountKind.LIABILITY, KES),
        Account(trading_account(KES.code), AccountKind.EQUITY, KES, allow_negative=True),
        Account(trading_account(usdt.asset.code), AccountKind.EQUITY, usdt.asset, allow_negative=True),
        Account(FX_SPREAD, AccountKind.REVENUE, KES),
    ):
        ledger.open_account(account, session=session)
    postings = [
        Posting.debit(desk_usdt, usdt),
        Posting.credit(trading_account(usdt.asset.code), usdt),
        Posting.debit(trading_account(KES.code), at_mid),
        Posting.credit(desk_kes, kes),
    ]
    if (at_mid - kes).is_positive():
        postings.append(Posting.credit(FX_SPREAD, at_mid - kes))
    metadata = {"kind": "remittance_convert", "order_id": order_id}
    request = EntryRequest(f"remittance:{order_id}:convert", postings, f"remittance {order_id}", quote_id, metadata)
    return ledger.post(request, session=session)


def credit_remittance(
    ledger: Ledger,
    *,
    order_id: str,
    user_id: str,
    amount: Money,
    charge: Money,
    session: LedgerSession | None = None,
) -> Entry:
    """A remittance to someone with a wallet: Dr desk:KES (amount + charge) / Cr wallet:<user>:KES (amount) / Cr
    revenue:payout_fee:KES (the charge the sender paid for an M-Pesa payout that was not needed)."""
    postings = [
        Posting.debit(merchant_liability(REMITTANCE_DESK, KES), amount + charge),
        Posting.credit(wallet_account(user_id, KES), amount),
    ]
    if charge.is_positive():
        ledger.open_account(Account(PAYOUT_FEE, AccountKind.REVENUE, KES), session=session)
        postings.append(Posting.credit(PAYOUT_FEE, charge))
    metadata = {"kind": "remittance", "order_id": order_id, "user": user_id}
    request = EntryRequest(
        f"remittance:{order_id}:credit", postings, f"remittance {order_id} to a wallet", metadata=metadata
    )
    return ledger.post(request, session=session)


def remittance_dust(asset: Asset) -> str:
    """What remittance orders received beyond themselves and kept: dust below the refund floor, and the network fee
    an excess refund deducts."""
    return f"revenue:remittance_dust:{asset.code}"


def keep_remittance_excess(
    ledger: Ledger,
    *,
    order_id: str,
    rail_key: str,
    amount: Money,
    key: str,
    session: LedgerSession | None = None,
) -> Entry:
    """An order's excess kept instead of refunded: Dr desk:<ASSET> / Cr revenue:remittance_dust:<ASSET>. Keyed
    ``remittance:<id>:kept:<key>`` (one entry per decision)."""
    ledger.open_account(Account(remittance_dust(amount.asset), AccountKind.REVENUE, amount.asset), session=session)
    postings = [
        Posting.debit(merchant_liability(REMITTANCE_DESK, amount.asset), amount),
        Posting.credit(remittance_dust(amount.asset), amount),
    ]
    metadata = {"kind": "remittance_kept", "order_id": order_id, "rail": rail_key}
    request = EntryRequest(
        f"remittance:{order_id}:kept:{key}", postings, f"remittance {order_id} excess kept", metadata=metadata
    )
    return ledger.post(request, session=session)


# -- wallet deposits ----------------------------------------------------------------------------------------------
def deposits_held(asset: Asset) -> str:
    """Deposits that reached our addresses but are kept from the wallet (sanctioned sender, dust, another asset)."""
    return f"liabilities:deposits_held:{asset.code}"


def book_deposit(
    ledger: Ledger,
    *,
    key: str,
    deposit_id: str,
    user_id: str,
    network: str,
    amount: Money,
    held: bool,
    converted: tuple[Money, Money] | None = None,
    quote_id: str | None = None,
    session: LedgerSession | None = None,
) -> Entry:
    """A confirmed deposit: Dr ``assets:custody:<network>:<ASSET>`` / Cr ``liabilities:wallet:<user>:<ASSET>``, or
    Cr ``liabilities:deposits_held:<ASSET>`` when it is ``held``. Either way the coins are in our custody.
    ``converted`` (credited, its worth at the mids): USDC credited as USDT through the inventory (``_converted``)."""
    wallet_asset = converted[0].asset if converted is not None and not held else amount.asset
    credit = deposits_held(amount.asset) if held else wallet_account(user_id, wallet_asset)
    ledger.open_accounts(
        [
            Account(custody(network, amount.asset), AccountKind.ASSET, amount.asset),
            Account(credit, AccountKind.LIABILITY, wallet_asset),
        ],
        session=session,
    )
    kind = "deposit_held" if held else "deposit"
    metadata = {"kind": kind, "deposit_id": deposit_id, "user": user_id, "network": network}
    words = "held" if held else "credited"
    postings = [Posting.debit(custody(network, amount.asset), amount), Posting.credit(credit, amount)]
    if converted is not None and not held:
        _open_conversion(ledger, amount, converted[0], session)
        postings = _converted(custody(network, amount.asset), user_id, amount, *converted)
        metadata["converted_from"], words = amount.asset.code, f"credited as {converted[0]}"
    request = EntryRequest(key, postings, f"deposit {deposit_id} on {network} {words}", quote_id, metadata)
    return ledger.post(request, session=session)


def release_deposit(
    ledger: Ledger,
    *,
    key: str,
    deposit_id: str,
    user_id: str,
    amount: Money,
    converted: tuple[Money, Money] | None = None,
    quote_id: str | None = None,
    session: LedgerSession | None = None,
) -> Entry:
    """A held deposit released to the wallet (an officer's decision, or a price found for a USDC deposit held for
    want of one): Dr ``deposits_held:<ASSET>`` / Cr ``wallet:<user>:<ASSET>``; ``converted``: as ``book_deposit``."""
    postings = [
        Posting.debit(deposits_held(amount.asset), amount),
        Posting.credit(wallet_account(user_id, amount.asset), amount),
    ]
    metadata = {"kind": "deposit", "deposit_id": deposit_id, "user": user_id}
    if converted is not None:
        _open_conversion(ledger, amount, converted[0], session)
        postings = _converted(deposits_held(amount.asset), user_id, amount, *converted)
        metadata["converted_from"] = amount.asset.code
    request = EntryRequest(key, postings, f"deposit {deposit_id} released", quote_id, metadata)
    return ledger.post(request, session=session)


def reverse_deposit(
    ledger: Ledger,
    *,
    key: str,
    deposit_id: str,
    user_id: str,
    network: str,
    amount: Money,
    held: bool,
    why: str,
    reason: str | None = None,
    converted: tuple[Money, Money] | None = None,
    session: LedgerSession | None = None,
) -> Entry:
    """Undo a booked deposit whose block left the chain: Dr the account holding it now (the wallet, or
    ``deposits_held`` while held) / Cr custody. Raises ``InsufficientFunds`` when the wallet no longer holds it.
    A converted one (``converted``, credited) is undone exactly: the mirror of its conversion from custody (whether
    it was converted at once or after a hold, the two net to that). ``reason``: the code of ``why``
    (``wallets.wording.REVERSAL_REASONS``), kept in the metadata for the history's words."""
    debit = deposits_held(amount.asset) if held else wallet_account(user_id, amount.asset)
    postings = [Posting.debit(debit, amount), Posting.credit(custody(network, amount.asset), amount)]
    if converted is not None and not held:
        mirror = _converted(custody(network, amount.asset), user_id, amount, *converted)
        postings = [Posting(p.account, -p.amount) for p in mirror]
    metadata = {"kind": "deposit_reversed", "deposit_id": deposit_id, "user": user_id, "network": network}
    if reason is not None:
        metadata["reason"] = reason
    request = EntryRequest(key, postings, f"deposit {deposit_id} on {network} reversed: {why}", metadata=metadata)
    return ledger.post(request, session=session)


def fx_spread(asset: Asset) -> str:
    """The spread earned converting into ``asset`` (KES: ``FX_SPREAD``; USDT: a stablecoin conversion's)."""
    return f"revenue:fx_spread:{asset.code}"


def _converted(source: str, user_id: str, amount: Money, credited: Money, at_mid: Money) -> list[Posting]:
    """A deposit of another stablecoin (USDC) credited as the wallet's USDT, through the treasury's inventory:
    Dr ``source`` (custody, or ``deposits_held`` when it was held) / Cr ``equity:trading:USDC`` (the coins join the
    inventory), and Dr ``equity:trading:USDT`` (``at_mid``) / Cr ``wallet:<user>:USDT`` (``credited``) / Cr
    ``revenue:fx_spread:USDT`` (the spread). Each asset balances on its own; zero lines (dust) are left out."""
    postings = [
        Posting.debit(source, amount),
        Posting.credit(trading_account(amount.asset.code), amount),
        Posting.debit(trading_account(credited.asset.code), at_mid),
        Posting.credit(wallet_account(user_id, credited.asset), credited),
        Posting.credit(fx_spread(credited.asset), at_mid - credited),
    ]
    return [p for p in postings if not p.amount.is_zero()]


def _open_conversion(ledger: Ledger, amount: Money, credited: Money, session: LedgerSession | None) -> None:
    accounts = [
        Account(trading_account(amount.asset.code), AccountKind.EQUITY, amount.asset, allow_negative=True),
        Account(trading_account(credited.asset.code), AccountKind.EQUITY, credited.asset, allow_negative=True),
        Account(fx_spread(credited.asset), AccountKind.REVENUE, credited.asset),
    ]
    ledger.open_accounts(accounts, session=session)


# -- the treasury ------------------------------------------------------------------------------------------------
def open_treasury_accounts(
    ledger: Ledger, *, session: LedgerSession | None = None, networks: tuple[tuple[str, Asset], ...] = ()
) -> None:
    """Open (idempotently) the treasury's accounts: the bank, conversion fees, FX gain and loss, the float and the
    KES trading account, and per ``(network, coin)`` the gas and network-fee accounts."""
    accounts = [
        # The bank account is outside the books (like the float before its top-ups are booked): it may go negative.
        Account(BANK, AccountKind.ASSET, KES, allow_negative=True),
        Account(FLOAT, AccountKind.ASSET, KES, allow_negative=True),
        Account(CONVERSION_FEES, AccountKind.EXPENSE, KES),
        Account(FX_GAIN, AccountKind.REVENUE, KES),
        Account(FX_LOSS, AccountKind.EXPENSE, KES),
        Account(trading_account(KES.code), AccountKind.EQUITY, KES, allow_negative=True),
    ]
    for network, coin in networks:
        accounts.append(Account(gas(network, coin), AccountKind.ASSET, coin, allow_negative=True))
        accounts.append(Account(network_fees(network, coin), AccountKind.EXPENSE, coin))
    for account in accounts:
        ledger.open_account(account, session=session)


def book_sweep_fees(
    ledger: Ledger, *, sweep_id: str, network: str, fee: Money, session: LedgerSession | None = None
) -> Entry:
    """A confirmed sweep's network fees (gas top-up and transfer), paid from the hot wallet's coin.

    Dr expenses:network_fees:<network>:<COIN> / Cr assets:gas:<network>:<COIN>. The tokens themselves move between
    two addresses of ``assets:custody:<network>:<ASSET>`` (deposit address to hot wallet), so they need no posting.
    """
    open_treasury_accounts(ledger, session=session, networks=((network, fee.asset),))
    postings = [Posting.debit(network_fees(network, fee.asset), fee), Posting.credit(gas(network, fee.asset), fee)]
    request = EntryRequest(
        f"sweep:{sweep_id}:fees", postings, f"sweep {sweep_id} network fees", metadata={"sweep_id": sweep_id}
    )
    return ledger.post(request, session=session)


def record_float_topup(
    ledger: Ledger,
    *,
    reference: str,
    amount: Money,
    note: str = "",
    session: LedgerSession | None = None,
    key: str | None = None,
) -> Entry:
    """KES moved from the company's bank into the M-Pesa float: Dr assets:mpesa_float:KES / Cr assets:bank:KES,
    keyed ``key`` (default ``treasury:topup:<reference>``; ``Rebalancing.record_topup`` case-folds it)."""
    open_treasury_accounts(ledger, session=session)
    request = EntryRequest(
        key or f"treasury:topup:{reference}",
        [Posting.debit(FLOAT, amount), Posting.credit(BANK, amount)],
        f"float top-up {reference}",
        metadata={"reference": reference, "note": note},
    )
    return ledger.post(request, session=session)


def record_conversion(
    ledger: Ledger,
    *,
    reference: str,
    network: str,
    sold: Money,
    proceeds: Money,
    fee: Money,
    cost: Money,
    into: str,
    metadata: dict[str, str],
    session: LedgerSession | None = None,
) -> Entry:
    """Crypto sold for KES on an exchange or OTC desk, through the trading accounts, with the realised FX result.

    Dr equity:trading:<ASSET> / Cr assets:custody:<network>:<ASSET> (what left our wallet), then Dr ``into`` (the
    proceeds net of fees) / Dr expenses:conversion_fees:KES / Cr equity:trading:KES (``cost``: what the sold
    crypto cost at the quotes customers were given) / Cr revenue:fx_gain:KES or Dr expenses:fx_loss:KES (gross
    proceeds less that cost).
    """
    open_treasury_accounts(ledger, session=session)
    gain = proceeds - cost
    postings = [
        Posting.debit(trading_account(sold.asset.code), sold),
        Posting.credit(custody(network, sold.asset), sold),
        Posting.debit(into, proceeds - fee),
        Posting.credit(trading_account(KES.code), cost),
    ]
    if fee.is_positive():
        postings.append(Posting.debit(CONVERSION_FEES, fee))
    if gain.is_positive():
        postings.append(Posting.credit(FX_GAIN, gain))
    elif gain.is_negative():
        postings.append(Posting.debit(FX_LOSS, -gain))
    request = EntryRequest(f"treasury:conversion:{reference}", postings, f"conversion {reference}", metadata=metadata)
    return ledger.post(request, session=session)
