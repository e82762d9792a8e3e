"""Refunds to an address the customer gives: a merchant's refund of an order, an overpayment, a late payment.

Invariants:
- a refund on a rail never takes more than the invoice received there, confirmed, less every refund on it that has
  not failed (requested and sent ones included): ``refundable``. Requests on one invoice are serialised by the
  invoice's row lock, so two concurrent refunds cannot both take the same funds;
- the default amount is what the customer is owed beyond the price (``owed``): for a settled invoice the confirmed
  excess plus every late payment; for an expired, cancelled or invalid one everything confirmed;
- what the platform kept of an invoice's receipts and booked as its revenue is never refunded (``kept_on``): a
  remittance order's excess too small to send back (dust at or below ``CRYPTOPAY_REMITTANCE_EXCESS_FLOOR_USDT`` or
  the network's fee) and the network fees its excess refunds deducted, in ``revenue:remittance_dust:USDT``. Neither
  ``refundable`` nor ``owed`` counts it, and a refund asking for it is refused naming the amount kept
  (``KeptAsRevenue``), whoever asks (the worker, ``cryptopay refunds create``, the API). The desk's USDT is every
  order's: a refund on a desk invoice takes only what its order still holds, never the price it took for its payout
  (paying or paid out) or, its invoice settled, is about to take (awaiting funding or held: ``keeps_price``), and so
  never another order's coins;
- an amount in shillings (or the invoice's own currency) is converted at a locked quote, named by the merchant
  (``quote_id``, from ``/v1/fx/quote``) or locked for the refund; the refund keeps the quote's id and rate (its ask: the
  shillings buy the crypto the platform would sell them). A named quote must be one the invoice's merchant locked
  for refunds (``lock_quote``: a ``QuotePurpose.REFUND`` claim, ``cryptopay.core.wallets.quotes``), and converts one
  refund: any other id (another merchant's, a wallet user's, an invoice's) is ``NotFound``, a used one ``QuoteUsed``,
  marked in the refund's own transaction;
- the refund holds the amount from the merchant's balance towards ``liabilities:withdrawals_in_flight:<ASSET>``
  in the transaction that records it, before anything is sent (recorded before sent), and the network's
  ``ChainSender`` is idempotent on the refund id. On confirmation the hold is posted and custody pays out (Dr in
  flight / Cr custody; every account locked first, in code order: ``Ledger.post_hold_and_pay``); a definitive
  failure voids the hold. Each follow-up locks the refund's row first, so two workers at once settle it once. A
  requested refund whose invoice's confirmed receipts on the rail no longer cover its refunds (a payment
  reorganised off the chain after it was asked) fails before it is sent. The network fee is the platform's;
- a payment on the wrong EVM network (``payments.wrong_network``) is refunded whole, never from the merchant's
  balance: once as deep as that network's rail asks, it is booked into custody against
  ``liabilities:wrong_network:<ASSET>`` and the refund holds it from there (``refund_wrong_network``);
- a payment compliance held (a listed payer) that an officer returns (``payments.held``) goes back whole to the
  address that paid it, held from ``liabilities:payments_held:<ASSET>`` (``return_held``), never the merchant's
  balance, and screened as every refund is (so never while a list still names that address);
- a refund never goes to an address on a sanctions list: its destination is screened (``compliance.addresses``)
  before anything is held, a listed one refused with ``Blocked`` (422 ``blocked_by_compliance``), a blocking
  alert raised (rule ``sanctioned-address``) and every refusal audited ``refund.blocked``; the coins stay where they
  were (a remittance order's are held for an operator);
- a refund never goes to an address the platform controls (a hot wallet, or a wallet's, an invoice's or a
  remittance order's deposit address, on any network sharing its key): ``InternalAddress`` (422
  ``internal_address``), checked in the transaction that holds the coins (``cryptopay.core.payments.internal``);
- a merchant's refund after its crypto was settled (outside review R25; ``fund_after_settlement``, what the API,
  the dashboard and the CLI ask, never the remittance desk's) is funded by the merchant: the shortfall of its
  balance in the rail's asset is sold to it on credit at a locked ``<ASSET>/KES`` quote's ask (the refund's own
  quote when it converted shillings), booked as ``assets:merchant_receivable:<id>:KES`` (``flows.fund_refund``,
  audited ``refund.fund``), and the refund is then held from the merchant's balance as any other. The merchant
  repays it from its next settlements (``Settling`` nets it, never below zero; the rest carries over). It is refused
  (``BeyondRecentVolume``, 422) when what the merchant would then owe is more than its settlements credited it in
  the last 30 days (``RECEIVABLE_WINDOW``): more than it could be expected to repay. A funded refund that fails
  leaves the crypto on the merchant's balance, settled back at the next run;
- a refund never leaves a party compliance froze (``PayoutGate.frozen``, the gate payouts ask; review6 F9): a frozen
  merchant's request is refused with the neutral ``MovementUnavailable`` (422 ``movement_unavailable``, audited
  ``refund.refused`` with the reason for officers) before any quote is locked or anything held or funded, and
  ``send_refunds`` asks again before each send, so a refund recorded before the freeze stays requested (its coins
  held) until the freeze is lifted, as a planned payout does. A wrong-network refund is held alike; a held
  payment's return (``return_held``) is itself an officer's decision and is not;
- every state is an outbox message (``refund.requested|sent|confirmed|failed``, a merchant webhook) and an audit
  record, in the same transaction as the change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from functools import partial
from typing import TYPE_CHECKING, cast

import attrs
from cryptopay.core import flows
from cryptopay.core.compliance.addresses import REFUND, RULE, listed_address
from cryptopay.core.compliance.feed import MonitoringFeed
from cryptopay.core.compliance.monitoring import Blocked
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.compliance.screening import SCREENING_UNAVAILABLE
from cryptopay.core.errors import (
    MOVEMENT_UNAVAILABLE,
    CryptopayError,
    InsufficientFunds,
    InvalidInput,
    InvalidState,
    MovementUnavailable,
    NotFound,
    Refused,
    Unavailable,
)
from cryptopay.core.fx import Pair, Quote
from cryptopay.core.identity.model import check_merchant_open, check_not_closed
from cryptopay.core.invoices import Invoice, InvoiceState, PaymentOption, TransferKey, is_confirmed
from cryptopay.core.kyc.gate import PayoutGate
from cryptopay.core.ledger import Account, AccountKind, EntryRequest, HoldRequest, Ledger, Posting, trading_account
from cryptopay.core.money import KES, Asset, Money, Rounding
from cryptopay.core.payments._support import audit, available, load_invoice, publish, transaction
from cryptopay.core.payments.internal import PlatformAddresses
from cryptopay.core.payments.model import HoldDecision, PaymentCredit, Refund, RefundState, address_key
from cryptopay.core.payments.wrong_network import (
    NotThePayer,
    WrongNetworkPayment,
    WrongNetworkState,
    load_wrong_network_payment,
    store_address,
)
from cryptopay.core.ports.chains import ChainSender, SentTransaction, TxState, WithdrawalRequest
from cryptopay.core.ports.fx import QuoteRepository
from cryptopay.core.ports.identity import MerchantRepository
from cryptopay.core.ports.storage import page_past
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.rails import NETWORKS, AddressFormat, Rail, rail_for
from cryptopay.core.wallets.quotes import QuotePurpose, check_claim, claim_quote, owned_quote, use_claim

if TYPE_CHECKING:
    from cryptopay.core.ports.compliance import ScreeningPort
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory, Quoter
    from cryptopay.core.ports.remittances import RemittanceUnitOfWork
    from cryptopay.core.remittances.model import RemittanceOrder

__all__ = [
    "RECEIVABLE_WINDOW",
    "AddressValidator",
    "BeyondRecentVolume",
    "KeptAsRevenue",
    "RefundRequest",
    "Refunds",
    "check_address_shape",
    "kept_on",
    "may_be_signed",
    "refundable_on",
    "refuse_burn_address",
    "valid_address",
    "withdrawals_in_flight",
]

AddressValidator = Callable[[str], str]
"""Checks an address for one network and returns its normal form, or raises ``InvalidInput`` saying why."""

_ADDRESS = {
    AddressFormat.EVM: re.compile(r"0x[0-9a-fA-F]{40}"),
    AddressFormat.TRON: re.compile(r"T[1-9A-HJ-NP-Za-km-z]{33}"),
    AddressFormat.BITCOIN: re.compile(r"(bc1|tb1|bcrt1)[02-9ac-hj-np-z]{8,87}|[13mn2][1-9A-HJ-NP-Za-km-z]{25,34}"),
}
_WRONG_NETWORK = "wrong_network/"  # the reason of a wrong-network payment's refund, before the payment's id
HELD_RETURN = "held/"  # the reason of a held payment's return (``payments.held``), before its credit's id
_CLOSED = (InvoiceState.SETTLED, InvoiceState.EXPIRED, InvoiceState.INVALID, InvoiceState.CANCELLED)
_EVENTS = {
    RefundState.REQUESTED: "refund.requested",
    RefundState.SENT: "refund.sent",
    RefundState.CONFIRMED: "refund.confirmed",
    RefundState.FAILED: "refund.failed",
}


class KeptAsRevenue(Refused):
    """A refund asked for what the platform kept of the invoice's receipts (a remittance order's dust, booked as
    revenue): the message names the amount kept and the most a refund may take."""

    code = "kept_as_revenue"


class BeyondRecentVolume(Refused):
    """A refund funded by the merchant after settlement would leave it owing more than it was recently paid."""

    code = "beyond_recent_volume"


RECEIVABLE_WINDOW = timedelta(days=30)  # what a merchant may owe for refunds: at most its settlements' in this window


def withdrawals_in_flight(asset: Asset) -> str:
    return f"liabilities:withdrawals_in_flight:{asset.code}"


@attrs.frozen
class RefundRequest:
    """What a refund asks for once its amount is in the rail's asset (and the quote that converted it, if any)."""

    rail_key: str
    amount: Money | None  # None: what the customer is owed
    requested: Money | None  # the amount as asked, when a quote converted it
    quote: Quote | None
    named: bool = False  # the merchant named the quote (its claim is used by the refund)


class Refunds:
    """The refund use cases."""

    def __init__(
        self,
        *,
        uow: PaymentsUowFactory,
        clock: Clock,
        ids: IdGenerator,
        ledger: Ledger,
        senders: Mapping[str, ChainSender],
        pricer: Quoter | None = None,
        quotes: QuoteRepository | None = None,
        validators: Mapping[str, AddressValidator] | None = None,
        rails: Mapping[str, Rail] | None = None,
        platform: PlatformAddresses | None = None,
        screening: Callable[[], ScreeningPort | None] = lambda: None,
        monitoring: Callable[[], MonitoringFeed] = MonitoringFeed,
        merchants: MerchantRepository | None = None,
        gate: PayoutGate | None = None,
    ) -> None:
        """``merchants``: where ``refund`` reads whether the invoice's merchant was closed (None: never asked);
        ``gate``: compliance's freezes, asked before a refund is recorded and again before it is sent (None: none)."""
        self._merchants, self._gate = merchants, gate
        self._uow, self._clock, self._ids, self._ledger, self._senders = uow, clock, ids, ledger, dict(senders)
        self._screening, self._monitoring = screening, monitoring  # a listed destination is refused (and alerted)
        self._pricer, self._quotes, self._validators = pricer, quotes, dict(validators or {})
        self._rails = dict(rails or {})  # the deployment's rails: a wrong-network payment's depth before a refund
        self._platform = platform or PlatformAddresses()  # the hot wallets: a refund never goes to one (nor a deposit)

    def refuse_internal(self, network: str, address: str, *, field: str = "address") -> None:
        """``InternalAddress`` when ``address`` on ``network`` is one the platform controls (a hot wallet, or a
        wallet's, an invoice's or a remittance order's deposit address: ``cryptopay.core.payments.internal``)."""
        work = partial(self._platform.refuse, network=network, address=address, field=field)
        transaction(self._uow, lambda uow: work(uow.deposit_addresses))

    def refundable(self, invoice_id: str, rail: str) -> Money:
        """The most a refund on ``rail`` (a rail key such as ``usdt-tron``) may still take: what the invoice
        received there, confirmed, less every refund on it that has not failed and what the platform kept
        (``kept_on``)."""
        return transaction(self._uow, lambda uow: refundable_on(uow, load_invoice(uow, invoice_id), rail))

    def owed(self, invoice_id: str, rail: str) -> Money:
        """What the customer is owed beyond the price on ``rail`` (the default amount of a refund)."""
        return transaction(self._uow, lambda uow: _owed(uow, load_invoice(uow, invoice_id), rail))

    def lock_quote(self, merchant_id: str, pair: Pair) -> Quote:
        """Lock a quote for ``pair`` that ``merchant_id`` alone may name in one refund (until the quote expires)."""
        if self._pricer is None:
            raise Unavailable("no FX rates are configured to lock a quote")
        quote = self._pricer.quote(pair)
        claim_quote(self._uow, quote, merchant_id, QuotePurpose.REFUND, now=self._clock.now())
        return quote

    def refund(
        self,
        invoice_id: str,
        *,
        address: str,
        requested_by: str,
        rail: str | None = None,
        amount: Money | None = None,
        quote_id: str | None = None,
        closed_merchant: str | None = None,
        fund_after_settlement: bool = False,
        operator_reason: str | None = None,
    ) -> Refund:
        """Hold and record a refund to ``address`` (default amount: what is owed on the invoice's paid rail).

        ``amount`` is in the rail's asset, or in KES (or the invoice's currency), converted at the quote ``quote_id``
        or at one locked now. ``fund_after_settlement``: what the merchant's balance in the rail's asset no longer
        covers (already settled) is sold to it on credit and netted from its next settlements (module docstring).

        A closed merchant's invoice (``close_merchant``: its own logins and keys may no longer refund) is refunded
        only by an operator who says so: ``closed_merchant`` is why (kept on the ``refund.request`` audit record as
        ``merchant_closed``); without it, ``MerchantClosed`` (403 ``merchant_closed``), and with it on an open
        merchant's invoice, ``InvalidInput``: returning a closed merchant's customers' money is often exactly what
        closing needs, but it is never done by accident.

        ``operator_reason`` (an operator's refund from the shell says why) is audited ``refund.shell_requested`` in
        the refund's own transaction: neither the refund nor the operator's reason for it is kept without the other.

        >>> # refunds.refund("inv_1", address="T...", requested_by="user:u1", amount=Money.of("500", "KES"))
        """
        invoice = self.get_invoice(invoice_id)
        because = self._closed_merchant(invoice.merchant_id, closed_merchant)
        self.refuse_frozen(invoice, requested_by=requested_by)
        option = _closed_option(invoice, refund_rail(invoice, rail))  # refused before any quote is locked
        network = option.rail.network.name
        self.refuse_listed(f"invoice:{invoice.id}", invoice.merchant_id, network, address, requested_by=requested_by)
        wanted = self._convert(invoice, option, amount, quote_id)
        funding = None
        if fund_after_settlement and because is None and invoice.merchant_id != flows.REMITTANCE_DESK:
            funding = self._funding_quote(invoice, wanted)  # locked outside the transaction (the pricer's own writes)
        work = partial(self._request, invoice_id=invoice_id, address=address, requested_by=requested_by)
        work = partial(work, wanted=wanted, closed_merchant=because, funding=funding)
        if operator_reason is None:
            return transaction(self._uow, work)
        return transaction(self._uow, partial(self._with_reason, work, requested_by, operator_reason))

    def _with_reason(
        self, work: Callable[[PaymentsUnitOfWork], Refund], by: str, reason: str, uow: PaymentsUnitOfWork
    ) -> Refund:
        """``work``'s refund, with the operator's ``reason`` for it audited in the same transaction."""
        refund = work(uow)
        details = {"refund": refund.id, "address": refund.address, "amount": refund.amount, "reason": reason}
        audit(uow, by, "refund.shell_requested", f"invoice:{refund.invoice_id}", self._clock.now(), **details)
        return refund

    def refuse_frozen(self, invoice: Invoice, *, requested_by: str) -> None:
        """``MovementUnavailable`` (its neutral words: no tipping off) when compliance froze the invoice's merchant,
        the refusal audited ``refund.refused`` with the reason in its own transaction; nothing is held or funded."""
        if self._gate is None or invoice.merchant_id not in self._gate.frozen([invoice.merchant_id]):
            return
        now = self._clock.now()
        details = {"invoice": invoice.id, "merchant": invoice.merchant_id, "reason": "compliance freeze"}
        transaction(
            self._uow, lambda uow: audit(uow, requested_by, "refund.refused", f"invoice:{invoice.id}", now, **details)
        )
        raise MovementUnavailable(MOVEMENT_UNAVAILABLE)

    def _funding_quote(self, invoice: Invoice, wanted: RefundRequest) -> Quote | None:
        """The ``<ASSET>/KES`` quote a refund the merchant's balance does not cover is funded at (its own quote when
        it converted shillings), or None when the balance covers it now."""
        asset = invoice.option(wanted.rail_key).rail.asset

        def short(uow: PaymentsUnitOfWork) -> bool:
            amount = wanted.amount or _owed(uow, load_invoice(uow, invoice.id), wanted.rail_key)
            return amount > available(uow, flows.merchant_liability(invoice.merchant_id, asset), Money.zero(asset))

        if not transaction(self._uow, short):
            return None
        if wanted.quote is not None and wanted.quote.pair == Pair(asset, KES):
            return wanted.quote
        if self._pricer is None:
            raise Unavailable("no FX rates are configured to fund a refund after settlement")
        return self._pricer.quote(Pair(asset, KES))

    def _fund(
        self, uow: PaymentsUnitOfWork, invoice: Invoice, refund_id: str, amount: Money, quote: Quote, by: str
    ) -> tuple[Money, Money] | None:
        """Sell the merchant what its balance lacks of ``amount`` on credit (``flows.fund_refund``), within what it
        could repay (``BeyondRecentVolume``): the crypto sold and the shillings owed for it; None when its balance
        covers it."""
        merchant, now = invoice.merchant_id, self._clock.now()
        receivable = flows.merchant_receivable(merchant)
        self._ledger.open_accounts([Account(receivable, AccountKind.ASSET, KES)], session=uow.ledger)
        # Every balance the funding moves, locked at once in code order, as a settlement locks its books: one of the
        # merchant's refunds on another invoice waits here (one cap for all), and neither deadlocks with a settlement.
        liability = flows.merchant_liability(merchant, amount.asset)
        books = [receivable, liability, trading_account(amount.asset.code), trading_account(KES.code), flows.FX_SPREAD]
        uow.ledger.lock_balances(sorted(books))
        short = amount - available(uow, liability, Money.zero(amount.asset))
        if not short.is_positive():
            return None
        owing = available(uow, receivable, Money.zero(KES))
        owed = Money.rounded(short.amount * quote.ask, KES, Rounding.UP)
        credited = _credited_since(uow, merchant, now - RECEIVABLE_WINDOW)
        if owing + owed > credited:
            raise BeyondRecentVolume(
                f"the merchant's {amount.asset.code} balance covers {amount - short} of this {amount} refund (the "
                f"rest was settled); funding the rest would bring what it owes to {owing + owed}, more than the "
                f"{credited} its settlements paid it in the last {RECEIVABLE_WINDOW.days} days"
            )
        entry, owed = flows.fund_refund(
            self._ledger,
            refund_id=refund_id,
            merchant_id=merchant,
            amount=short,
            quote=quote,
            at=now,
            session=uow.ledger,
        )
        details = {"invoice": invoice.id, "funded": short, "owed": owed, "quote": quote.id, "ask": quote.ask}
        audit(uow, by, "refund.fund", f"refund:{refund_id}", now, **details, entry=entry.id, owing=owing + owed)
        return short, owed

    def _closed_merchant(self, merchant_id: str, reason: str | None) -> str | None:
        """The reason to record for refunding a closed merchant's invoice (see ``refund``), or None for an open one."""
        merchant = None if self._merchants is None else self._merchants.get(merchant_id)
        closed = merchant is not None and merchant.closed_at is not None
        if reason is not None and not reason.strip():
            raise InvalidInput("say why a closed merchant's invoice is refunded", field="closed_merchant")
        if closed and reason is None:
            check_merchant_open(merchant)  # raises: an operator names why (cryptopay refunds create --closed-merchant)
        if not closed and reason is not None:
            raise InvalidInput(
                f"merchant {merchant_id} is not closed: a refund of its invoice needs no closed-merchant reason",
                field="closed_merchant",
            )
        return reason.strip() if reason is not None else None

    def check_sender(self, network: str) -> None:
        """``Refused`` when no hot wallet sends refunds on ``network``."""
        if network not in self._senders:
            raise Refused(f"refunds on {network} are not configured (no hot wallet)")

    def screening(self) -> ScreeningPort | None:
        """The sanctions screening refunds ask (None: not configured)."""
        return self._screening()

    def refuse_listed(self, subject: str, party: str, network: str, address: str, *, requested_by: str) -> None:
        """``Blocked`` when ``address`` on ``network`` is on a sanctions list (a blocking alert raised on ``party``,
        once; the refusal audited ``refund.blocked`` on ``subject`` every time, whatever the monitor does, but for a
        worker's repeat: ``_audit_blocked``): what a refund asks before anything is held or sent, and a remittance
        order of its refund address when it opens.

        >>> # refunds.refuse_listed("invoice:inv_1", "mer_1", "tron", "T...", requested_by="user:u1")
        """
        now, target = self._clock.now(), address.strip()
        movement = Movement(
            id=f"refund:{subject}:{':'.join(address_key(network, target))}",
            party_id=party,
            product=REFUND,
            direction=Direction.OUT,
            amount=Money.zero(KES),  # not yet priced: the rule screens the address, never the value
            at=now,
            counterparty=target,
            network=network,
        )
        monitoring = self._monitoring()
        matches, alerts = listed_address(self._screening(), monitoring, movement)
        if not matches:
            return
        refs = ",".join(sorted({m.ref for m in matches}))
        details = {"network": network, "address": target, "lists": refs, "alerts": ",".join(alerts)}
        transaction(self._uow, lambda uow: _audit_blocked(uow, requested_by, subject, now, details))
        raise Blocked(f"refused by compliance rule {RULE!r}: the refund address is on a sanctions list", rule=RULE)

    def refund_wrong_network(
        self, payment_id: str, *, requested_by: str, address: str | None = None, redirect_reason: str = ""
    ) -> Refund:
        """Send a payment made on the wrong EVM network (or of the wrong asset) back whole to the address that paid
        it (the transfer's ``from_address``; ``address``, if given, must be it).

        The coins are the payer's, never the merchant's: another ``address`` only with a ``redirect_reason`` (an
        operator's decision, or the remittance desk sending to the refund address its sender gave), audited with
        the paying address; without one, ``NotThePayer`` (review R27). Refused until it is as deep as that
        network's rail asks; a conflict unless it is pending (or refunded by a refund that failed). The merchant's
        balance is never touched."""
        payment = transaction(self._uow, lambda uow: load_wrong_network_payment(uow, payment_id))
        payer = payment.transfer.from_address
        redirected = address is not None and (
            payer is None or address_key(payment.network, address.strip()) != address_key(payment.network, payer)
        )
        if redirected and not redirect_reason.strip():
            raise NotThePayer(
                f"wrong-network payment {payment.id} goes back only to the address that paid it ({payer or 'unknown'})"
                ": another address is an operator's decision",
                field="address",
            )
        target = address if address is not None else payer
        if target is None:
            raise NotThePayer(f"the address that paid {payment.id} is not known: an operator must name one")
        invoice_id = payment.invoice_id
        invoice = self.get_invoice(invoice_id)
        merchant = invoice.merchant_id
        self.refuse_frozen(invoice, requested_by=requested_by)
        self.refuse_listed(f"invoice:{invoice_id}", merchant, payment.network, target, requested_by=requested_by)
        work = partial(self._refund_stray, invoice_id=invoice_id, payment_id=payment_id)
        redirect = redirect_reason.strip() if redirected else ""
        return transaction(self._uow, partial(work, address=target, requested_by=requested_by, redirect=redirect))

    def _refund_stray(
        self,
        uow: PaymentsUnitOfWork,
        invoice_id: str,
        payment_id: str,
        address: str,
        requested_by: str,
        redirect: str = "",
    ) -> Refund:
        # The invoice, then its record: the scan's lock order, so a scan and a refund never deadlock.
        invoice, now = load_invoice(uow, invoice_id), self._clock.now()
        payment = load_wrong_network_payment(uow, payment_id)
        rail = self._rails.get(payment.rail_key) or rail_for(payment.network, payment.transfer.amount.asset)
        self._check_refundable_stray(uow, payment, rail)
        option = PaymentOption(rail, payment.transfer.to_address, payment.transfer.amount)
        target = self._check_address(uow, option, address)
        amount = payment.transfer.amount
        if not payment.booked:
            store_address(uow.deposit_addresses, payment, now=now)
            flows.book_wrong_network_payment(
                self._ledger, payment_id=payment.id, network=payment.network, amount=amount, session=uow.ledger
            )
        refund_id = self._ids.new_id("rfd")
        hold_id = self._hold_from(uow, flows.wrong_network_suspense(amount.asset), refund_id, amount)
        refund = Refund(
            id=refund_id,
            invoice_id=invoice.id,
            merchant_id=invoice.merchant_id,
            rail_key=rail.key,
            network=payment.network,
            address=target,
            amount=amount,
            hold_id=hold_id,
            requested_by=requested_by,
            created_at=now,
            reason=f"{_WRONG_NETWORK}{payment.id}",
            token_contract=rail.token.contract,
        )
        uow.refunds.add(refund)
        uow.wrong_network_payments.update(payment.refunding(refund.id, by=requested_by, now=now))
        _publish(uow, self._ids, refund, now)
        details = {"invoice": invoice.id, "amount": amount, "address": refund.address, "hold": hold_id}
        if redirect:  # not to the paying address: whose decision and why, next to the address that paid
            details |= {"payer": payment.transfer.from_address or "unknown", "redirect_reason": redirect}
        audit(uow, requested_by, "refund.request", f"refund:{refund.id}", now, **details, payment=payment.id)
        return refund

    def return_held(
        self, uow: PaymentsUnitOfWork, invoice: Invoice, credit: PaymentCredit, address: str, *, requested_by: str
    ) -> Refund:
        """Send a held payment (``credit``, ``payments.held``) back whole to ``address`` (the one that paid it), in
        the caller's unit of work: held from ``payments_held``, never the merchant's balance. The caller screened
        the address first (``refuse_listed``). ``Refused`` without a hot wallet on its network."""
        network = credit.transfer[0]
        option, target = self.check_held_return(uow, invoice, credit, address)
        now = self._clock.now()
        refund_id = self._ids.new_id("rfd")
        hold_id = self._hold_from(uow, flows.payments_held(credit.received.asset), refund_id, credit.received)
        refund = Refund(
            id=refund_id,
            invoice_id=invoice.id,
            merchant_id=invoice.merchant_id,
            rail_key=option.rail.key,
            network=network,
            address=target,
            amount=credit.received,
            hold_id=hold_id,
            requested_by=requested_by,
            created_at=now,
            reason=f"{HELD_RETURN}{credit.id}",
            token_contract=option.rail.token.contract,
        )
        uow.refunds.add(refund)
        _publish(uow, self._ids, refund, now)
        details = {"invoice": invoice.id, "amount": credit.received, "address": target, "hold": hold_id}
        audit(uow, requested_by, "refund.request", f"refund:{refund.id}", now, **details, credit=credit.id)
        return refund

    def check_held_return(
        self, uow: PaymentsUnitOfWork, invoice: Invoice, credit: PaymentCredit, address: str
    ) -> tuple[PaymentOption, str]:
        """Everything that refuses a held payment's return, asked before anything is concluded or written (the
        caller's ``payments.held`` closes the alerts only after it): ``Refused`` without a hot wallet on its network
        or without an option of the invoice on its rail, ``InvalidInput``/``InternalAddress`` for an address no
        refund may go to. The option it is returned through and the address, as sent."""
        network, asset = credit.transfer[0], credit.received.asset
        self.check_sender(network)
        option = next((o for o in invoice.options if o.rail.network.name == network and o.due.asset == asset), None)
        if option is None:
            raise Refused(
                f"held payment {credit.id} came on {network} in {asset.code}, which invoice {invoice.id} offers no "
                "option for: it cannot be returned through the invoice's refunds (keep it, or release it)"
            )
        return option, self._check_address(uow, option, address)

    def _check_refundable_stray(self, uow: PaymentsUnitOfWork, payment: WrongNetworkPayment, rail: Rail) -> None:
        if payment.state is WrongNetworkState.REFUNDED:
            previous = uow.refunds.get(payment.refund_id or "")
            if previous is None or previous.state is not RefundState.FAILED:
                raise InvalidState(f"wrong-network payment {payment.id} is being refunded by {payment.refund_id}")
        elif payment.state is not WrongNetworkState.PENDING:
            raise InvalidState(f"wrong-network payment {payment.id} is {payment.state.value}: only a pending one")
        self.check_sender(payment.network)
        if not payment.booked and payment.confirmations < rail.confirmations:
            raise Refused(
                f"wrong-network payment {payment.id} has {payment.confirmations} of the {rail.confirmations} "
                f"confirmations {payment.network} needs before it is refunded: try again later"
            )

    def get_invoice(self, invoice_id: str) -> Invoice:
        return transaction(self._uow, lambda uow: load_invoice(uow, invoice_id))

    def get_refund(self, refund_id: str) -> Refund:
        """The refund, or ``NotFound``."""
        return transaction(self._uow, lambda uow: _refund(uow, refund_id))

    def list_merchant_refunds(self, merchant_id: str, *, before: str | None = None, limit: int = 50) -> list[Refund]:
        """A page of the refunds of every invoice of the merchant, newest first, older than the refund id ``before``."""
        return transaction(
            self._uow, lambda uow: uow.refunds.list_for_merchant(merchant_id, before=before, limit=limit)
        )

    def list_refunds(self, invoice_id: str, *, before: str | None = None, limit: int = 50) -> list[Refund]:
        """A page of the invoice's refunds, newest first; ``before`` is the last id of the previous page."""
        return transaction(self._uow, lambda uow: uow.refunds.list_for_invoice(invoice_id, before=before, limit=limit))

    def send_refunds(self, *, limit: int = 100) -> list[Refund]:
        """Broadcast up to ``limit`` requested refunds, oldest first (the sender is idempotent on the refund id); one
        whose invoice no longer holds the confirmed payments it refunds fails instead (``_check_received``). One of a
        merchant compliance froze since it was asked stays requested, its coins held, until the freeze is lifted (a
        held payment's return, an officer's decision, excepted), and the run reads past it (``page_past``: a frozen
        merchant's many never hold up the others')."""

        def requested_after(after: tuple[datetime, str] | None) -> list[Refund]:
            return transaction(
                self._uow, lambda uow: uow.refunds.by_state(RefundState.REQUESTED, limit=limit, after=after)
            )

        requested = page_past(requested_after, self._not_frozen, lambda r: (r.created_at, r.id), limit=limit)
        screening = self._screening()
        if screening is not None and screening.must_wait():  # no list to screen against: held, never sent unscreened
            return [transaction(self._uow, partial(self._hold_for_screening, refund_id=r.id)) for r in requested]
        checked = [transaction(self._uow, partial(self._check_received, refund=r)) for r in requested]
        screened = [self._screen_held(r) if r.is_open and r.held is not None else r for r in checked]
        return [self._follow(r, send=True) if r.is_open else r for r in screened]

    def _hold_for_screening(self, uow: PaymentsUnitOfWork, refund_id: str) -> Refund:
        """Keep a requested refund unsent while screening is required and no list is loaded (R12-3): its coins stay
        held, ``held`` says why (audited ``refund.held`` once)."""
        refund, now = _refund(uow, refund_id), self._clock.now()
        if not refund.is_open or refund.held is not None:
            return refund
        refund.held, refund.updated_at = SCREENING_UNAVAILABLE, now
        uow.refunds.update(refund)
        audit(uow, "system:refunds", "refund.held", f"refund:{refund.id}", now, reason=SCREENING_UNAVAILABLE)
        return refund

    def _screen_held(self, refund: Refund) -> Refund:
        """A list is loaded now: a refund held for it is screened before it is sent; a listed address fails it (its
        hold voided, the blocking alert raised, ``refund.blocked``), else it goes on (``refund.released``)."""
        movement = Movement(
            id=f"refund:{refund.id}",
            party_id=refund.merchant_id,
            product=REFUND,
            direction=Direction.OUT,
            amount=Money.zero(KES),
            at=self._clock.now(),
            counterparty=refund.address,
            network=refund.network,
        )
        matches, alerts = listed_address(self._screening(), self._monitoring(), movement)
        refs = ",".join(sorted({m.ref for m in matches}))
        return transaction(self._uow, partial(self._released, refund_id=refund.id, refs=refs, alerts=alerts))

    def _released(self, uow: PaymentsUnitOfWork, refund_id: str, refs: str, alerts: tuple[str, ...]) -> Refund:
        refund, now = _refund(uow, refund_id), self._clock.now()
        if refund.held is None:
            return refund
        reason, refund.held, refund.updated_at = refund.held, None, now
        uow.refunds.update(refund)
        audit(uow, "system:refunds", "refund.released", f"refund:{refund.id}", now, reason=reason)
        if not refs:
            return refund
        details = {"network": refund.network, "address": refund.address, "lists": refs, "alerts": ",".join(alerts)}
        _audit_blocked(uow, "system:refunds", f"refund:{refund.id}", now, details)
        return self._settle(uow, refund.id, None, f"the address was listed before sending ({refs})")

    def _not_frozen(self, page: list[Refund]) -> list[Refund]:
        """``page`` without the refunds of merchants compliance froze (a held payment's return excepted)."""
        if self._gate is None:
            return page
        frozen = self._gate.frozen([r.merchant_id for r in page])
        return [r for r in page if r.merchant_id not in frozen or r.reason.startswith(HELD_RETURN)]

    def _check_received(self, uow: PaymentsUnitOfWork, refund: Refund) -> Refund:
        """Fail a requested refund (its hold voided, nothing sent) when the invoice's confirmed receipts on its rail
        no longer cover the refunds on it that have not failed: a payment it refunds was reorganised off the chain
        since it was asked (its credit reversed from the merchant's other funds), and sending it would pay the
        customer twice over. Under the invoice's lock (the lock the reorg's withdrawal takes), then the refund's.
        A wrong-network refund is covered by its own booking, never by the invoice's receipts, while the payment it
        refunds still stands (``_check_stray_refund``); a held payment's return (``return_held``) by its payment,
        while that is still confirmed and its hold not reversed."""
        if refund.reason.startswith(_WRONG_NETWORK):
            return self._check_stray_refund(uow, refund)
        if refund.reason.startswith(HELD_RETURN):
            return self._check_held_return(uow, refund)
        invoice = load_invoice(uow, refund.invoice_id)
        option = invoice.option(refund.rail_key)
        held = _held_transfers(uow, invoice)  # a held payment covers only its own return
        confirmed = [
            p.amount
            for p in invoice.payments
            if p.rail_key == refund.rail_key and is_confirmed(p, option) and p.key not in held
        ]
        received = sum(confirmed, Money.zero(refund.amount.asset))
        if received >= _refunded(uow, invoice, refund.rail_key, refund.amount.asset):
            return refund
        why = f"the invoice's confirmed receipts on {refund.rail_key} ({received}) no longer cover its refunds"
        return self._settle(uow, refund.id, None, f"{why}: a payment left the chain (reorganisation)")

    def _check_stray_refund(self, uow: PaymentsUnitOfWork, refund: Refund) -> Refund:
        """Fail a wrong-network refund whose payment's transfer left the chain since it was asked (detection follows
        a refunded payment for reorgs and withdraws it): its coins are not in custody. Found by revpass5: it was
        sent unchecked. Under the invoice's lock, then the payment's (the scan's order)."""
        load_invoice(uow, refund.invoice_id)
        payment = load_wrong_network_payment(uow, refund.reason.removeprefix(_WRONG_NETWORK))
        if payment.refunded_by(refund.id):
            return refund
        why = f"the wrong-network payment it refunds ({payment.id}) is {payment.state.value}"
        return self._settle(uow, refund.id, None, f"{why}: its transfer left the chain (reorganisation)")

    def _check_held_return(self, uow: PaymentsUnitOfWork, refund: Refund) -> Refund:
        """Fail a held payment's return whose payment left the chain (its credit reversed, or owed a clawback, or the
        payment no longer confirmed): the coins it would send are not in custody. Under the invoice's lock."""
        invoice = load_invoice(uow, refund.invoice_id)
        credit = uow.payment_credits.get(refund.reason.removeprefix(HELD_RETURN))
        payment = next((p for p in invoice.payments if credit is not None and p.key == credit.transfer), None)
        if (
            credit is not None
            and credit.reversal_entry_id is None
            and not credit.clawback_pending
            and payment is not None
            and is_confirmed(payment, invoice.option(payment.rail_key))
        ):
            return refund
        why = f"the held payment it returns ({refund.reason.removeprefix(HELD_RETURN)}) left the chain"
        return self._settle(uow, refund.id, None, f"{why} (reorganisation)")

    def check_refunds(self, *, limit: int = 100) -> list[Refund]:
        """Follow every sent refund to its end: post the hold when confirmed, void it when failed."""
        sent = transaction(self._uow, lambda uow: uow.refunds.by_state(RefundState.SENT, limit=limit))
        return [self._follow(r, send=False) for r in sent]

    def _convert(
        self, invoice: Invoice, option: PaymentOption, amount: Money | None, quote_id: str | None
    ) -> RefundRequest:
        """The request in the rail's asset: as given, or converted from the invoice's currency at a locked quote."""
        asset = option.rail.asset
        if amount is None or amount.asset == asset:
            if quote_id is not None:
                raise InvalidInput(
                    "a quote converts an amount in the invoice's currency; this one is not", field="quote_id"
                )
            return RefundRequest(option.rail.key, amount, None, None)
        if amount.asset not in (invoice.price.asset, KES):
            raise InvalidInput(f"a refund on {option.rail.key} is in {asset.code} or KES", field="currency")
        if not amount.is_positive():
            raise InvalidInput("a refund amount must be positive", field="amount")
        quote = self._quote(Pair(asset, amount.asset), quote_id, invoice.merchant_id)
        converted = quote.convert(amount, at=self._clock.now())
        if not converted.is_positive():
            raise InvalidInput(f"{amount} is less than the smallest unit of {asset.code}", field="amount")
        return RefundRequest(option.rail.key, converted, amount, quote, named=quote_id is not None)

    def _quote(self, pair: Pair, quote_id: str | None, merchant_id: str) -> Quote:
        if quote_id is None:
            if self._pricer is None:
                raise Unavailable("no FX rates are configured to convert a refund amount")
            return self._pricer.quote(pair)
        owned = owned_quote(self._uow, lambda: self._quotes, merchant_id, quote_id)
        if owned is None:
            raise NotFound(f"no quote {quote_id!r} of this merchant's", field="quote_id")
        quote, found = owned
        check_claim(found, merchant_id, quote_id, QuotePurpose.REFUND, now=self._clock.now())
        if quote.pair != pair:
            raise InvalidInput(f"quote {quote_id} is for {quote.pair}, this refund needs {pair}", field="quote_id")
        quote.check_valid(self._clock.now())
        return quote

    def _request(
        self,
        uow: PaymentsUnitOfWork,
        invoice_id: str,
        address: str,
        requested_by: str,
        wanted: RefundRequest,
        closed_merchant: str | None = None,
        funding: Quote | None = None,
    ) -> Refund:
        invoice, now = load_invoice(uow, invoice_id), self._clock.now()
        if closed_merchant is None and self._merchants is not None:
            # again in the refund's own transaction, the merchant's row share-locked to the commit: a close that
            # committed since ``refund``'s first look refuses it, and one still running waits for it
            check_not_closed(invoice.merchant_id, uow.stores.closed_at(invoice.merchant_id))
        option = invoice.option(wanted.rail_key)
        self.check_sender(option.rail.network.name)
        target = self._check_address(uow, option, address)
        rail_key = option.rail.key
        kept, price = kept_on(uow, invoice, rail_key), _desk_price_on(uow, invoice, rail_key)
        most = refundable_on(uow, invoice, rail_key) - price
        amount = wanted.amount or _owed(uow, invoice, rail_key)
        if wanted.amount is None and not amount.is_positive():
            if kept.is_positive():
                raise KeptAsRevenue(f"nothing is owed beyond the price on invoice {invoice.id}: {_kept_words(kept)}")
            raise InvalidInput(
                f"nothing is owed beyond the price on invoice {invoice.id}: name the amount to refund", field="amount"
            )
        if amount.asset != option.rail.asset or not amount.is_positive():
            raise InvalidInput(
                f"a refund on {option.rail.key} is a positive {option.rail.asset.code} amount", field="amount"
            )
        if amount > most:
            taken = "earlier refunds" + (
                f" and the {price} its remittance order keeps for its payout" if price.is_positive() else ""
            )
            refused = f"at most {most} can be refunded on invoice {invoice.id} (received, less {taken}), not {amount}"
            if kept.is_positive():
                raise KeptAsRevenue(f"{refused}: {_kept_words(kept)}")
            raise Refused(refused)
        refund_id = self._ids.new_id("rfd")
        quote = wanted.quote
        if quote is not None and wanted.named:  # under the invoice's lock, in the refund's transaction
            use_claim(uow.wallet_quotes, invoice.merchant_id, quote.id, used_by=refund_id, now=now)
        funded = None if funding is None else self._fund(uow, invoice, refund_id, amount, funding, requested_by)
        hold_id = self._hold(uow, invoice, refund_id, amount)
        refund = Refund(
            id=refund_id,
            invoice_id=invoice.id,
            merchant_id=invoice.merchant_id,
            rail_key=option.rail.key,
            network=option.rail.network.name,
            address=target,
            amount=amount,
            hold_id=hold_id,
            requested_by=requested_by,
            created_at=now,
            reason=_reason(invoice),
            token_contract=option.rail.token.contract,
            requested=wanted.requested,
            quote_id=quote.id if quote else None,
            rate=quote.ask if quote else None,
            funded=funded[0] if funded else None,
            owed=funded[1] if funded else None,
        )
        uow.refunds.add(refund)
        _publish(uow, self._ids, refund, now)
        audit(
            uow,
            requested_by,
            "refund.request",
            f"refund:{refund.id}",
            now,
            invoice=invoice.id,
            amount=amount,
            address=refund.address,
            hold=hold_id,
            quote=refund.quote_id or "",
            **({} if closed_merchant is None else {"merchant_closed": closed_merchant}),
        )
        return refund

    def _check_address(self, uow: PaymentsUnitOfWork, option: PaymentOption, address: str) -> str:
        network = option.rail.network.name
        if address_key(network, address) == address_key(network, option.address):
            raise InvalidInput("a refund cannot go to the invoice's own deposit address", field="address")
        refuse_burn_address(address, [option.rail])
        target = valid_address(network, address, self._validators)
        self._platform.refuse(uow.deposit_addresses, network, target)  # in the transaction that holds the coins
        return target

    def _hold(self, uow: PaymentsUnitOfWork, invoice: Invoice, refund_id: str, amount: Money) -> str:
        source = flows.merchant_liability(invoice.merchant_id, amount.asset)
        try:
            return self._hold_from(uow, source, refund_id, amount)
        except InsufficientFunds:
            raise Refused(
                f"the merchant's {amount.asset.code} balance no longer covers {amount} (already settled): "
                "the merchant may refund it funded from its next settlements (the API, the dashboard or the CLI)"
            ) from None

    def _hold_from(self, uow: PaymentsUnitOfWork, source: str, refund_id: str, amount: Money) -> str:
        """Hold ``amount`` from ``source`` towards the withdrawals in flight while the refund is out."""
        in_flight = withdrawals_in_flight(amount.asset)
        self._ledger.open_account(Account(in_flight, AccountKind.LIABILITY, amount.asset), session=uow.ledger)
        request = HoldRequest(f"refund:{refund_id}:hold", source, in_flight, amount, None, f"refund {refund_id}")
        return self._ledger.hold(request, session=uow.ledger).id

    def _follow(self, refund: Refund, *, send: bool) -> Refund:
        sender = self._senders[refund.network]
        try:
            sent = sender.send(_withdrawal(refund)) if send else sender.status(refund.id)
            if sent.state is TxState.DROPPED:
                sent = sender.send(_withdrawal(refund))  # rebroadcast the same withdrawal
        except Unavailable:
            return refund  # try again on the next run
        except CryptopayError as error:
            if send and may_be_signed(sender, refund.id):
                return refund  # its transaction exists and may still land: keep the hold, resend the same one later
            return transaction(self._uow, partial(self._settle, refund_id=refund.id, sent=None, error=error.message))
        return transaction(self._uow, lambda uow: self._settle(uow, refund.id, sent, None))

    def _settle(
        self, uow: PaymentsUnitOfWork, refund_id: str, sent: SentTransaction | None, error: str | None
    ) -> Refund:
        refund, now = _refund(uow, refund_id), self._clock.now()
        if not refund.is_open:
            return refund
        before = (refund.state, refund.tx_hash, refund.failure)
        if sent is None or sent.state is TxState.FAILED:
            self._ledger.void_hold(refund.hold_id, session=uow.ledger)
            refund.state, refund.failure = RefundState.FAILED, error or f"transaction {sent and sent.tx_hash} failed"
            action = "refund.failed"
            if refund.reason.startswith(HELD_RETURN):
                _undecide_held(uow, refund)
        elif sent.state is TxState.CONFIRMED:
            self._pay_out(uow, refund)
            refund.state, action = RefundState.CONFIRMED, "refund.confirmed"
        elif sent.state is TxState.DROPPED:
            # Still unknown to the network after rebroadcasting the same bytes (its nonce or inputs spent elsewhere?):
            # it might yet land, so the hold stays and nothing is re-signed; an operator decides.
            refund.state, action = RefundState.SENT, "refund.needs_operator"
            refund.failure = f"transaction {sent.tx_hash} dropped by the network after a rebroadcast"
        else:
            refund.state, action = RefundState.SENT, "refund.sent"
        refund.tx_hash, refund.updated_at = (sent.tx_hash if sent else refund.tx_hash), now
        uow.refunds.update(refund)
        if refund.state is not before[0]:
            _publish(uow, self._ids, refund, now)
        if (refund.state, refund.tx_hash, refund.failure) != before:  # a check that changed nothing is no event
            audit(
                uow, "system:refunds", action, f"refund:{refund.id}", now, tx=refund.tx_hash or "", amount=refund.amount
            )
        return refund

    def _pay_out(self, uow: PaymentsUnitOfWork, refund: Refund) -> None:
        postings = [
            Posting.debit(withdrawals_in_flight(refund.amount.asset), refund.amount),
            Posting.credit(flows.custody(refund.network, refund.amount.asset), refund.amount),
        ]
        request = EntryRequest(f"refund:{refund.id}:send", postings, f"refund {refund.id} sent from custody")
        self._ledger.post_hold_and_pay(refund.hold_id, f"refund:{refund.id}:post", [request], session=uow.ledger)


def _undecide_held(uow: PaymentsUnitOfWork, refund: Refund) -> None:
    """A held payment's return failed: the payment is held still, so it waits for an officer's decision again
    (``HeldPayments.waiting``), the failed refund still named on it (the decision's audit record keeps the rest)."""
    # Locked: the credit is written back whole, so a reversal or clawback landing meanwhile must wait, not be undone.
    credit = uow.payment_credits.get(refund.reason.removeprefix(HELD_RETURN), lock=True)
    if credit is None or credit.decision is not HoldDecision.RETURNED or credit.refund_id != refund.id:
        return
    credit.decision = credit.decided_by = credit.decided_at = credit.decision_note = None
    uow.payment_credits.update(credit)


def refundable_on(uow: PaymentsUnitOfWork, invoice: Invoice, rail_key: str) -> Money:
    """Confirmed receipts on the rail less every refund on it that has not failed (pending ones included) and what
    the platform kept (``kept_on``), in the caller's unit of work (``Refunds.refundable`` in its own). A payment
    compliance holds (a listed payer: ``crediting``) is not the merchant's to refund until an officer releases it
    (``payments.held``: then credited to the merchant as it would have been)."""
    option = _closed_option(invoice, rail_key)
    held = _held_transfers(uow, invoice)
    mine = [p for p in invoice.payments if p.rail_key == rail_key and is_confirmed(p, option) and p.key not in held]
    received = sum((p.amount for p in mine), Money.zero(option.due.asset))
    taken = _refunded(uow, invoice, rail_key, option.due.asset) + kept_on(uow, invoice, rail_key)
    return max(received - taken, Money.zero(option.due.asset))


def _held_transfers(uow: PaymentsUnitOfWork, invoice: Invoice) -> set[TransferKey]:
    """The invoice's payments compliance holds and no officer released: never the merchant's receipts."""
    return {
        c.transfer
        for c in uow.payment_credits.for_invoice(invoice.id)
        if c.held and c.reversal_entry_id is None and c.decision is not HoldDecision.RELEASED
    }


def kept_on(uow: PaymentsUnitOfWork, invoice: Invoice, rail_key: str) -> Money:
    """What the platform kept of the invoice's receipts on the rail and booked as its revenue, never to be refunded:
    for an invoice of the remittance desk, its order's kept excess (``RemittanceOrder.excess_kept``: dust too small
    to send back, and the network fees its excess refunds deducted; ``revenue:remittance_dust:<ASSET>``); nothing
    for any other invoice."""
    order = _desk_order(uow, invoice)
    return order.kept(rail_key) if order is not None else Money.zero(invoice.option(rail_key).due.asset)


def _desk_price_on(uow: PaymentsUnitOfWork, invoice: Invoice, rail_key: str) -> Money:
    """What a remittance desk invoice's order took (or, settled and not yet funded, is about to take) of the receipts
    on the rail for its payout: its price, taken from the rails in the order the coins came (as ``Remittances.
    refund_excess`` takes it). The desk's USDT is every order's: a refund on one invoice holds only what its order
    still holds, never another order's coins. Nothing for any other invoice. Before ``keeps_price`` counted an order
    awaiting its funding, a refund asked between the invoice's settlement and the worker's advance took the price, and
    the advance then funded the payout from another order's USDT, or failed on the desk's balance."""
    zero = Money.zero(invoice.option(rail_key).due.asset)
    order = _desk_order(uow, invoice)
    if order is None or invoice.state is not InvoiceState.SETTLED or not order.keeps_price:
        return zero
    price = order.usdt
    confirmed = [p.rail_key for p in invoice.payments if is_confirmed(p, invoice.option(p.rail_key))]
    for rail in dict.fromkeys(confirmed):
        taken = min(refundable_on(uow, invoice, rail), price)
        if rail == rail_key:
            return taken
        price -= taken
    return zero


def _desk_order(uow: PaymentsUnitOfWork, invoice: Invoice) -> RemittanceOrder | None:
    """The remittance order of an invoice of the remittance desk (None for any other invoice)."""
    if invoice.merchant_id != flows.REMITTANCE_DESK or invoice.order_id is None:
        return None
    # A desk invoice's unit of work is the remittance one: the deployment gives both one storage.
    order = cast("RemittanceUnitOfWork", uow).remittances.get(invoice.order_id)
    return order if order is not None and order.invoice_id == invoice.id else None


def _kept_words(kept: Money) -> str:
    return (
        f"{kept} of what arrived was kept by the remittance desk as revenue (revenue:remittance_dust: an excess at "
        "or below the refund floor or the network's fee, or the network fee an excess refund deducted) and is not "
        "refunded"
    )


def _credited_since(uow: PaymentsUnitOfWork, merchant_id: str, since: datetime) -> Money:
    """The shillings the merchant's settlements since ``since`` credited it (its latest 100 settlements: an
    instant schedule's older ones do not count, which only makes the cap stricter)."""
    recent = uow.settlements.list_for_merchant(merchant_id, before=None, limit=100)
    return sum((s.credited for s in recent if s.created_at >= since), Money.zero(KES))


def _owed(uow: PaymentsUnitOfWork, invoice: Invoice, rail_key: str) -> Money:
    """What the customer is owed beyond the price on the rail (late payments, overpayment), less refunds and what
    the platform kept (``kept_on``)."""
    option = _closed_option(invoice, rail_key)
    confirmed = [p for p in invoice.payments if is_confirmed(p, invoice.option(p.rail_key))]
    on_time = [p for p in confirmed if not p.is_late(invoice.expires_at)]
    mine = [p for p in confirmed if p.rail_key == rail_key]
    late = sum((p.amount for p in mine if p.is_late(invoice.expires_at)), Money.zero(option.due.asset))
    timely = sum((p.amount for p in mine if not p.is_late(invoice.expires_at)), Money.zero(option.due.asset))
    if invoice.state is InvoiceState.SETTLED:
        share = sum(
            (Fraction(p.amount.amount) / Fraction(invoice.option(p.rail_key).due.amount) for p in on_time), Fraction(0)
        )
        excess = max(Fraction(0), share - 1) * Fraction(option.due.amount)
        over = Decimal(excess.numerator) / Decimal(excess.denominator)
        timely = min(timely, Money(over.quantize(option.due.asset.quantum, rounding=ROUND_DOWN), option.due.asset))
    refunded = _refunded(uow, invoice, rail_key, option.due.asset) + kept_on(uow, invoice, rail_key)
    return max(timely + late - refunded, Money.zero(option.due.asset))


def _closed_option(invoice: Invoice, rail_key: str) -> PaymentOption:
    option = invoice.option(rail_key)
    if invoice.state not in _CLOSED:
        raise Refused(f"invoice {invoice.id} is {invoice.state.value}: refunds wait until it is settled or expired")
    return option


def _refunded(uow: PaymentsUnitOfWork, invoice: Invoice, rail_key: str, asset: Asset) -> Money:
    """Every refund on the rail that has not failed: requested and sent ones hold their amount too."""
    refunds = uow.refunds.for_invoice(invoice.id)
    standing = [r for r in refunds if r.rail_key == rail_key and r.state is not RefundState.FAILED]
    taken = [r.amount for r in standing if not r.reason.startswith(HELD_RETURN)]  # a held payment's: its own
    return sum(taken, Money.zero(asset))


def _publish(uow: PaymentsUnitOfWork, ids: IdGenerator, refund: Refund, now: datetime) -> None:
    """The refund's state as a merchant webhook (``refund.requested|sent|confirmed|failed``)."""
    payload = {
        "merchant_id": refund.merchant_id,
        "refund_id": refund.id,
        "invoice_id": refund.invoice_id,
        "state": refund.state.value,
        "rail": refund.rail_key,
        "amount": str(refund.amount.amount),
        "asset": refund.amount.asset.code,
        "address": refund.address,
        "tx_hash": refund.tx_hash or "",
        "quote_id": refund.quote_id or "",
        "failure": refund.outward_failure or "",
        # payload version 2 only (``webhooks.payloads.v2_only_fields``): what the merchant funded after settlement
        # and owes for it (R25), empty when it funded nothing
        "funded_by_merchant": str(refund.funded.amount) if refund.funded else "",
        "funded_by_merchant_asset": refund.funded.asset.code if refund.funded else "",
        "owed_by_merchant": str(refund.owed.amount) if refund.owed else "",
    }
    publish(uow, ids, _EVENTS[refund.state], payload, at=now, key=refund.id)


def refund_rail(invoice: Invoice, rail: str | None) -> str:
    """The rail to refund on: the one named (an option of the invoice), else the only one the invoice was paid on
    (``InvalidInput`` otherwise); the shell's address check asks it before the refund does (LASTREAD2 M-8)."""
    if rail is not None:
        key = rail.strip().lower()
        if key not in {o.rail.key for o in invoice.options}:
            offered = ", ".join(o.rail.key for o in invoice.options)
            raise InvalidInput(f"invoice {invoice.id} has no rail {rail}; it offers {offered}", field="rail")
        return key
    paid = {p.rail_key for p in invoice.payments if not p.withdrawn}
    if len(paid) != 1:
        raise InvalidInput(
            f"invoice {invoice.id} was paid on {len(paid)} rails: name the rail to refund on", field="rail"
        )
    return paid.pop()


def valid_address(network: str, address: str, validators: Mapping[str, AddressValidator]) -> str:
    """``address`` in its normal form if it is one on ``network`` (its validator, else the network's address
    pattern); ``InvalidInput`` saying why otherwise."""
    validate = validators.get(network)
    if validate is None:
        return _check_pattern(network, address)
    try:
        return validate(address)
    except InvalidInput as error:
        raise InvalidInput(f"not a {network} address: {error.message}", field="address") from None


def _check_pattern(network: str, address: str) -> str:
    """The address's shape for its network (deployments validate checksums too: ``Refunds(validators=...)``)."""
    known = NETWORKS.get(network)
    pattern = _ADDRESS.get(known.address_format) if known else None
    if pattern is not None and not pattern.fullmatch(address.strip()):
        raise InvalidInput(f"{address!r} is not a {network} address", field="address")
    return address.strip()


check_address_shape = _check_pattern  # the shape check, for other products sending to an outside address

# Well-formed addresses nobody holds the key of: the EVM zero address and Tron's (0x41 and twenty zero bytes).
_ZERO_ADDRESSES = frozenset({"0x" + "0" * 40, "t9yd14nj9j7xab4dbgeix9h8unkkhxuwwb"})
# The burn addresses in common use (compared lower-cased, like the zero addresses): tokens "burnt" by sending them
# where no key exists. EVM 0x...dEaD and 0xdead...42069, their Tron forms (0x41 + the same 20 bytes), the EVM
# "native coin" placeholder of DEX aggregators, the first precompiled contracts, and Bitcoin's "eater" address.
_BURN_ADDRESSES = frozenset(
    {
        "0x000000000000000000000000000000000000dead",
        "0xdead000000000000000042069420694206942069",
        "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
        "0xffffffffffffffffffffffffffffffffffffffff",
        *(f"0x{n:040x}" for n in range(1, 11)),  # ecrecover, sha256, ... : precompiles hold no tokens' keys
        "t9yd14nj9j7xab4dbgeix9h8upfcg3pbby",
        "twgcftvfxlbxn7zzwvpnmkvxkk41pk2p1i",
        "1bitcoineateraddressdontsendf59kue",
    }
)


def refuse_burn_address(address: str, rails: Iterable[Rail], *, field: str = "address") -> None:
    """``InvalidInput`` if coins sent to ``address`` would be lost for good: the zero address, a common burn address
    (``0x...dEaD`` and the like), or the token contract of one of ``rails`` (a token sent to its own contract stays
    there). Refunds, remittance refunds and withdrawals check their destination with it.

    >>> from cryptopay.core.rails import rail_for
    >>> refuse_burn_address("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", [rail_for("tron", "USDT")])
    Traceback (most recent call last):
    cryptopay.core.errors.InvalidInput: that is the USDT contract on tron, not a wallet: USDT sent to it is lost
    """
    key = address.strip().lower()
    if key in _ZERO_ADDRESSES:
        raise InvalidInput("that is the zero address: nobody can spend what is sent to it", field=field)
    if key in _BURN_ADDRESSES:
        raise InvalidInput("that is a burn address: nobody can spend what is sent to it", field=field)
    for rail in rails:
        contract = rail.token.contract
        if contract is not None and key == contract.strip().lower():
            asset, network = rail.asset.code, rail.network.name
            raise InvalidInput(
                f"that is the {asset} contract on {network}, not a wallet: {asset} sent to it is lost", field=field
            )


def _reason(invoice: Invoice) -> str:
    return f"{invoice.state.value}/{invoice.exception.value}"


def may_be_signed(sender: ChainSender, withdrawal_id: str) -> bool:
    """Whether the sender may hold a signed transaction for the withdrawal (only NotFound says it does not): a
    refund's or a wallet withdrawal's send that failed keeps its hold while it may."""
    try:
        sender.status(withdrawal_id)
    except NotFound:
        return False
    except CryptopayError:
        return True
    return True


def _withdrawal(refund: Refund) -> WithdrawalRequest:
    return WithdrawalRequest(refund.id, refund.network, refund.address, refund.amount, refund.token_contract)


def _refund(uow: PaymentsUnitOfWork, refund_id: str) -> Refund:
    refund = uow.refunds.get(refund_id)
    if refund is None:
        raise NotFound(f"no refund {refund_id}")
    return refund


def _audit_blocked(uow: PaymentsUnitOfWork, actor: str, subject: str, at: datetime, details: Mapping[str, str]) -> None:
    """``refund.blocked`` for a refusal by screening: every refusal a person or a request asked for is recorded,
    with its alerts or none (a rule set that raises none, or the alert raised by an earlier refusal); a worker
    (``system:...``), which asks again every run, is recorded once per subject and address."""
    if actor.startswith("system:"):
        address = details["address"]
        for record in uow.audit.about([subject]):
            if (
                record.action == "refund.blocked"
                and record.actor == actor
                and dict(record.details)["address"] == address
            ):
                return
    audit(uow, actor, "refund.blocked", subject, at, **details)
