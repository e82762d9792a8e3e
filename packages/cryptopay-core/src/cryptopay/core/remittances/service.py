"""Receiving remittances: a sender abroad opens an order, pays USDT, and the recipient in Kenya is paid shillings.

Backed by the invoice machinery -- the decision. An order is an invoice of the remittance desk (``flows.
REMITTANCE_DESK``, an internal store that is never settled: ``Settling`` skips it), priced in USDT and payable on
every USDT rail whose network the sender's refund address belongs to (so a refund can always go back the way the
coins came). The invoice brings the one-time deposit address per network, detection, confirmations, reorg handling,
crediting (the desk's ``liabilities:merchant:remittances:USDT``) and the refund machinery; the order adds what a
remittance is: the locked quote, the recipient, the sender's originator data, and the payout.

The steps (``advance``, the worker's ``remittances.advance`` job; each step one unit of work on the order's locked
row, and each derived from the state of the invoice, payout or refund it waits for, so a repeated or crashed run
does each thing once; an order whose step raises is logged by its id and the error's kind, never the error's text,
counted in the run's ``cryptopay_remittances_failed`` gauge and left as it was for the next run, and the others move
on: one bad order never stops the rest, nor the excess refunds after them):
1. the invoice is settled (paid and confirmed): its USDT is converted at the order's locked quote into the
   shillings it promised (``flows.convert_remittance``, even after the quote's window: the sender paid for it),
   then either credited to the recipient's wallet (a wallet at that phone, not frozen, within its KYC limits for
   ``Product.REMITTANCE``, and whose holder's verified legal name matches the order's ``recipient_name``: the
   Travel Rule beneficiary and the screened name are the account's holder, else the phone is paid by B2C, where
   M-Pesa's registered holder applies, audited ``remittance.name_mismatch``; a tier-0 holder has no verified name
   and takes small amounts only) or paid by a B2C payout of kind ``remittance`` from the desk's KES, which the payout
   machinery sends, matches and queries exactly as it does a merchant's (a phone with no wallet, or one whose
   wallet's tier cannot take it now: tier 0 holds small amounts only, so more goes to the same phone's M-Pesa
   account, bounded by M-Pesa's own limits below); held for an operator when the wallet or its holder is frozen;
2. the payout completed: ``paid_out``, and the recipient is told by SMS (``notified_at`` records it);
3. the payout failed: after ``RetryPolicy.wait`` a new attempt (``Payouts.retry_failed_payout``), up to
   ``RetryPolicy.attempts`` in all; then, once Transaction Status has confirmed the last attempt was not paid
   (``Payouts.confirm_failure``: the query recorded first, then sent; until its answer came the order waits and the
   next run asks again; an answer finding it paid completes the payout, so the order is ``paid_out``, never
   refunded), the conversion is reversed and the USDT refunded on chain to the sender's refund address
   (``Refunds``: held before it is sent, the hot wallet's sender), ``refunded`` once confirmed;
4. the invoice expired unpaid: ``expired`` (a late payment can be refunded by an operator: ``refund``).

M-Pesa's limits (decision). A B2C payout is never sent to fail on M-Pesa's limits (``limits``: the same
``PayoutLimits`` data merchant settlements use, ``MPESA_B2C_PAYOUTS`` by default). The per-transaction size is
checked when the order is opened (one order is one payment, at most KES 250,000). The per-recipient daily limit (KES
500,000 a day to one customer) counts every B2C payout to the recipient's number since midnight in Nairobi, failed
ones excluded (wallet sales and merchant payouts to the same number too: M-Pesa counts what the customer receives).
When the order would pass it, the payout *waits*: the order stays ``paying_out`` with no payout, its ``note`` says
why and ``next_attempt_at`` is the next midnight in Nairobi, when the worker checks again (an automatic retry of a
failed payout waits the same way). It is not split: the sender paid for one payment of the amount shown, and one
payment arrives, whole, the next day. The recipient is told by SMS, once per wait, that the money waits and on which
day it is paid (the wait is claimed under the order's row lock with its audit record, and the SMS sent after that
commits: two workers never both send it, and a worker that dies in between loses a courtesy, never money); the
second SMS comes when it is paid. An operator's ``retry`` that would pass the limit is refused (``LimitExceeded``,
``mpesa.daily``, with what remains today).

Serialised per recipient (decision). The look at what the number received today and the payout planned on it are one
unit of work holding the recipient's lock (``uow.payouts.lock_destination``: a transaction-level advisory lock on the
number's keyed hash on PostgreSQL; SQLite serialises writers anyway), so two workers paying two orders to one number
at the same moment cannot both see room under the daily limit.

Compliance: the sender's country goes to monitoring with the order (``Monitoring.check``, a ``remittance`` movement
in), where the high-risk-jurisdiction rule reads it; the sender's and the recipient's names are screened against the
sanctions lists when the order opens (``Monitoring.screen_names``, never refusing: a match, strong (a blocking alert)
or possible, opens the order as any other -- a refusal told anyone a name is on our lists, for nothing (tipping-off) --
and keeps its alerts (``review_alerts``, audited on ``remittance.create`` for officers); once paid its payout is
``held`` until an operator refunds it or retries it, which needs compliance to have cleared every alert in a case
closed with no action: ``UnderReview`` otherwise, and so is an operator's refund, which two compliance officers decide
instead (``propose_refund``, ``approve_refund``: review8 R8); a release is audited ``remittance.released``; unpaid,
it expires as any order does); the recipient's wallet credit is within its KYC limits
(beyond them, B2C to the same phone, as above); an order to a party compliance froze opens as any other (review4
R6: a refusal, however neutral, was an oracle on someone's freeze, since nothing else refuses a Safaricom number),
audited ``remittance.frozen_recipient`` for officers, and once paid it is held, as one frozen after it opened.
Orders at or above the Travel Rule threshold need full originator data (see ``travel``).

No list to screen against (decision, R12-3): with screening required (``CRYPTOPAY_SCREENING_REQUIRED``, on in
production) and no sanctions list loaded, an order still opens (``screening_pending``: its parties were screened
against nothing, audited on ``remittance.create``), and once paid its USDT is converted but nothing is paid out: it
waits, ``paying_out`` with no route and a ``note`` saying why (audited ``remittance.waiting``, reason
``screening_unavailable``, once), looked at again every ``screening_wait``. The first run after a list is imported
screens its parties (``_screen_pending``, audited ``remittance.screened``): a match holds it for compliance as any
rescreen does, else it is paid out by the wallet or B2C as usual. Held, never failed or refunded for it.

Linked orders (decision): an order below the threshold whose sum with the orders the same originator opened in the
last 24 hours and paid (``ORIGINATOR_WINDOW``; the same refund address or the same sender name as name matching
compares it, ``originator_keys``; only funded orders: review4 R5, see ``_originator_sum``) reaches it needs the full
originator data too: it is refused with 422 ``travel_rule_incomplete`` before the sender pays (rather than held
after: the sender can give the data, and no money waits on an operator), and once paid its Travel Rule record is
kept as for one large order. The sum is checked again in the order's own insert, under the originator's lock
(``uow.remittances.lock_originator``: transaction-level advisory locks on the keyed hashes of its refund address and
of its name on PostgreSQL), so two orders of one originator opened at the same instant are summed one after the
other. Orders opened together and paid together are summed again when each is funded, under the same lock
(``_linked_at_funding``): one reaching the threshold without full data is held (``travel_rule_incomplete``;
refunded, never retried). The batch rule ``structuring-travel-rule`` (``compliance/data/rules.json``) also flags
split orders to one recipient after the fact (across originators).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import cast

import attrs
from cryptopay.core import flows
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.addresses import REMITTANCE_PAYMENT, ListedPayer, listed_payer
from cryptopay.core.compliance.cases import Alert, CaseStatus, Clearance
from cryptopay.core.compliance.feed import MonitoringFeed
from cryptopay.core.compliance.four_eyes import FourEyes
from cryptopay.core.compliance.monitoring import Monitoring, UnderReview
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.compliance.screening import SCREENING_UNAVAILABLE, NameMatcher, normalize_name
from cryptopay.core.compliance.travel_rule import Assessment, IncompleteTravelRuleData, TravelRule, check_complete
from cryptopay.core.errors import (
    Conflict,
    CryptopayError,
    InvalidInput,
    InvalidName,
    InvalidState,
    LimitExceeded,
    NotFound,
    Refused,
)
from cryptopay.core.fx import Pair, Quote
from cryptopay.core.invoices import (
    Invoice,
    InvoiceException,
    InvoicePayment,
    InvoiceState,
    is_confirmed,
)
from cryptopay.core.kyc import Decision, Product, check_wallet_movement
from cryptopay.core.kyc.applications import ApplicationState
from cryptopay.core.kyc.limits import day_bounds, product_limited
from cryptopay.core.ledger import Ledger
from cryptopay.core.mobile_money.limits import B2C_LIMITS, B2C_TARIFF, Tariff
from cryptopay.core.mobile_money.phones import (
    NotMpesaNumber,
    mask_msisdn,
    normalize_msisdn,
    off_mpesa,
)
from cryptopay.core.mobile_money.wording import payout_wording
from cryptopay.core.money import KES, USDC, USDT, Asset, Money
from cryptopay.core.payments.invoicing import Invoicing, new_public_id
from cryptopay.core.payments.model import Refund, RefundState, StoreSettings
from cryptopay.core.payments.refunds import (
    AddressValidator,
    Refunds,
    refundable_on,
    refuse_burn_address,
    valid_address,
)
from cryptopay.core.payments.wrong_network import WrongNetworkPayment, WrongNetworkState
from cryptopay.core.payouts import AwaitingStatus, Payout, PayoutKind, Payouts, PayoutState, paid_to
from cryptopay.core.ports.chains import WithdrawalRequest
from cryptopay.core.ports.compliance import MonitoringUnitOfWork, ScreeningPort
from cryptopay.core.ports.monitoring import Metrics
from cryptopay.core.ports.payments import PaymentsUnitOfWork, Quoter
from cryptopay.core.ports.remittances import RemittanceUnitOfWork, RemittanceUowFactory
from cryptopay.core.ports.sms import SmsMessage, SmsSender
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.withdrawals import NetworkFeeEstimator
from cryptopay.core.rails import Rail, rail_for
from cryptopay.core.remittances import travel
from cryptopay.core.remittances.model import (
    DESK,
    RefundProposal,
    ReleaseProposal,
    RemittanceOrder,
    RemittanceRoute,
    RemittanceState,
    Sender,
    check_sender,
    originator_keys,
    remittance_unconvert_key,
)
from cryptopay.core.remittances.watch import current_payout as _current_payout
from cryptopay.core.remittances.watch import payout_attempts as _attempts
from cryptopay.core.settlement.model import SettlementMethod
from cryptopay.core.settlement.policy import MPESA_B2C_PAYOUTS, PayoutLimits
from cryptopay.core.system import NAIROBI
from cryptopay.core.text import person_name_problem, quoted_name
from cryptopay.core.wallets.model import Usage, Wallet
from cryptopay.core.wallets.service import spending
from cryptopay.core.wallets.withdrawals import network_fee

__all__ = [
    "ORIGINATOR_WINDOW",
    "OrderRequest",
    "RecipientNotMpesa",
    "RemittanceRules",
    "Remittances",
    "RetryPolicy",
    "waiting_text",
]

# How far back an originator's orders are summed for the Travel Rule (decision): a day, FATF's linked-transactions
# horizon for occasional transactions; at most ``_ORIGINATOR_ORDERS`` of them are read (more is far past it anyway).
ORIGINATOR_WINDOW = timedelta(hours=24)
_ORIGINATOR_ORDERS = 200


class RecipientNotMpesa(NotMpesaNumber):
    """The recipient's number is in another operator's range (Airtel, Telkom): M-Pesa B2C cannot pay it (review3
    I24). Refused before the sender pays anything, whether a wallet holds the number or not (review4 R4)."""

    code = "recipient_not_mpesa"


_log = logging.getLogger(__name__)
_ACTOR = "system:remittances"
_ABOUT_FAILED = (
    "remittance orders (or excess-refund passes) that raised in the worker's last run; each waits for the next"
)
_SCREENING = "system:screening"  # the sanctions lists changed
_CLOSED_INVOICES = (InvoiceState.SETTLED, InvoiceState.EXPIRED, InvoiceState.INVALID, InvoiceState.CANCELLED)
_EXCESS_EXCEPTIONS = (InvoiceException.PAID_OVER, InvoiceException.PAID_LATE, InvoiceException.PAID_PARTIAL)
_UNDER_WAY = (RemittanceState.AWAITING_PAYMENT, RemittanceState.PAYING_OUT, RemittanceState.HELD)  # rescreened
_EXCESS_STATES = (
    RemittanceState.PAYING_OUT,
    RemittanceState.PAID_OUT,
    RemittanceState.EXPIRED,
    RemittanceState.REFUNDED,
)
USDT_KES = Pair(USDT, KES)


@attrs.frozen
class _PayeeName:
    """Who M-Pesa says a completed payout's number is registered to, scored against the order's recipient name, and
    the alerts a mismatch raised."""

    payout_id: str
    score: float
    alerts: tuple[str, ...]

    def matched(self, threshold: float) -> bool:
        return self.score >= threshold


@attrs.frozen
class RetryPolicy:
    """How often a failed remittance payout is tried (``attempts`` in all), ``wait`` apart, before it is refunded."""

    attempts: int = 3
    wait: timedelta = timedelta(minutes=10)

    def __attrs_post_init__(self) -> None:
        if self.attempts < 1 or self.wait < timedelta(0):
            raise InvalidInput("a remittance payout is tried at least once, with a wait that is not negative")


@attrs.frozen(kw_only=True)
class RemittanceRules:
    """The platform's bounds on remittances (data): the least a recipient receives (``minimum``: an order must pay
    for the B2C payment and the SMS it costs, and a tiny one is the cheapest way to text a stranger from the
    platform's sender ID), and how many remittance SMS one number gets a day (``sms_per_day``; past it the money
    still arrives, untold, and the skipped SMS is audited ``remittance.sms_capped``)."""

    minimum: Money = attrs.field(factory=lambda: Money.of(100, KES))
    sms_per_day: int = 3
    # The least excess refunded (at least the network's fee too): below it, dust is kept (``refund_excess``)
    excess_floor: Money = attrs.field(factory=lambda: Money.of(1, USDT))

    def __attrs_post_init__(self) -> None:
        if self.minimum.asset != KES or not self.minimum.is_positive() or self.sms_per_day < 1:
            raise InvalidInput("a remittance minimum is a positive KES amount and at least one SMS a day is sent")
        if self.excess_floor.asset != USDT or self.excess_floor.is_negative():
            raise InvalidInput("a remittance's excess refund floor is a USDT amount, zero or more")

    def stray_floor(self, asset: Asset) -> Money | None:
        """The excess floor in ``asset`` for a stray (a payment in an asset the order does not ask for): read as
        dollars for a dollar stablecoin, None for any other asset (only the network's fee bounds its refund).

        >>> str(RemittanceRules().stray_floor(USDC))
        '1.000000 USDC'
        """
        return Money.of(self.excess_floor.amount, asset) if asset in _DOLLARS else None


@attrs.frozen(kw_only=True)
class OrderRequest:
    """What a sender asks: ``amount`` in KES (what the recipient receives) or USDT (what the sender sends)."""

    recipient_phone: str
    recipient_name: str
    amount: Money
    sender: Sender
    refund_address: str


@attrs.define(kw_only=True)
class Remittances:
    """The remittance use cases (see the module docstring)."""

    uow: RemittanceUowFactory
    ledger: Ledger
    invoicing: Invoicing
    payouts: Callable[[], Payouts]  # built on first payout: reading orders needs no M-Pesa settings
    refunds: Refunds
    quoter: Callable[[], Quoter]
    clock: Clock
    ids: IdGenerator
    rails: tuple[Rail, ...]  # the USDT rails an order may be paid on
    validators: Mapping[str, AddressValidator] = attrs.field(factory=dict)
    sms: Callable[[], SmsSender | None] = lambda: None
    monitoring: MonitoringFeed = attrs.Factory(MonitoringFeed)  # AML: blocking rules before, the journal once paid
    policy: RetryPolicy = attrs.Factory(RetryPolicy)
    travel_rule: TravelRule | None = None  # FATF R.16: the threshold and the records (None: not applied)
    tariff: Tariff = B2C_TARIFF
    limits: PayoutLimits = MPESA_B2C_PAYOUTS  # M-Pesa's size of one B2C payment and a recipient's daily limit (data)
    window: timedelta = timedelta(minutes=30)  # how long an order waits for its USDT
    rules: RemittanceRules = attrs.Factory(RemittanceRules)  # the minimum received, the SMS a number gets a day
    # The hot wallets' fee estimates: an excess refund deducts the network's fee (valued as withdrawals value it)
    estimators: Callable[[], Mapping[str, NetworkFeeEstimator]] = lambda: {}
    # The recipient's name against a wallet holder's verified legal name (the screening's matcher; None: unchecked):
    # a wallet is credited only when ``recipient_name`` scores at least ``name_match`` against it (review3 I18)
    matcher: NameMatcher | None = None
    name_match: float = 70.0
    metrics: Metrics | None = None  # how many orders the last run could not move (``cryptopay_remittances_failed``)
    # The alerts' cases, concluded with an officers' refund of a held order (None: no monitoring wired)
    cases: Callable[[], Monitoring | None] = lambda: None
    # approvals' check (``compliance.four_eyes``); unwired: the same officer only
    four_eyes: FourEyes = attrs.Factory(FourEyes)
    # whether the parties could be screened (``ScreeningPort.must_wait``): with no list loaded while screening is
    # required, a paid order waits for one (None: never waits)
    screening: ScreeningPort | None = None
    screening_wait: timedelta = timedelta(minutes=10)  # how often a paid order waiting for a list looks again

    # --- the sender ----------------------------------------------------------------------------------------------

    def create(self, request: OrderRequest) -> RemittanceOrder:
        """Open an order: lock a quote, price it, check the recipient can receive it, and open the desk's invoice.

        ``InvalidInput`` for a bad phone, name, amount or refund address; ``InternalAddress`` for a refund address
        the platform controls (a hot wallet, a wallet's or an invoice's deposit address); ``Blocked`` when a
        blocking monitoring rule refuses it (a sender's country under a call for action, a listed refund address).
        Nothing is stored then (but the refusal's audit record). A sanctions list naming the sender or the
        recipient refuses nothing: the order opens with the alerts, held for compliance once paid.
        """
        try:
            phone = normalize_msisdn(request.recipient_phone)
        except InvalidInput as error:
            raise InvalidInput(error.message, field="recipient_phone") from None
        name = _recipient_name(request.recipient_name)
        _sender_name(request.sender.name)
        check_sender(request.sender, today=self.clock.now().date())
        rails = self._rails_for(request.refund_address)
        quote = self.quoter().quote(USDT_KES)
        usdt, kes, charge = self._price(request.amount, quote)
        order_id, now = self.ids.new_id("rmt"), self.clock.now()
        for network in sorted({rail.network.name for rail in rails}):  # a listed refund address: refused, alerted
            self.refunds.refuse_listed(
                f"remittance:{order_id}",
                f"phone:{phone}",
                network,
                request.refund_address,
                requested_by=f"remittance:{order_id}",
            )
        valued = self.travel_rule.valuer(USDT) if self.travel_rule is not None else None  # one quote, locked here
        assessment = self._travel_check(order_id, request, name, phone, usdt, rails[0].network.name, valued)
        recipient, frozen = in_transaction(self.uow, lambda uow: self._recipient(uow, phone, kes + charge, now))
        self._check_reachable(phone)
        party = recipient.user_id if recipient else f"phone:{phone}"
        planned = _movement(order_id, party, kes + charge, request.sender, now, recipient)
        self.monitoring.before(planned)
        names = (("sender", request.sender.name), ("recipient", name))
        # Whether a list is loaded is read before screening: a first import landing between them would leave an order
        # screened against nothing and not marked (lastread L3-6); marked, it is screened again before its payout.
        pending = self._must_wait()  # screened against no list: screened again before it is paid out
        review = self.monitoring.screen_names(planned, names, refuse=False)  # never told: held once paid
        self._open_desk()

        created: list[RemittanceOrder] = []
        network = rails[0].network.name

        def linked(uow: PaymentsUnitOfWork) -> None:
            # Again under the originator's lock, in the insert's transaction: two orders of one originator opened at
            # the same instant are summed one after the other, never both against the orders before them.
            nonlocal assessment
            assessment = self._travel_check(order_id, request, name, phone, usdt, network, valued, _remittance_uow(uow))

        def record(uow: PaymentsUnitOfWork, invoice: Invoice) -> None:
            order = RemittanceOrder(
                id=order_id,
                public_id=new_public_id(),
                created_at=now,
                recipient_phone=phone,
                recipient_name=name,
                sender=request.sender,
                refund_address=request.refund_address.strip(),
                requested=request.amount,
                usdt=usdt,
                kes=kes,
                charge=charge,
                quote_id=quote.id,
                bid=quote.bid,
                mid=quote.mid,
                invoice_id=invoice.id,
                assessment=assessment,
                review_alerts=tuple(alert.id for alert in review),
                note=_screened(review),
                screening_pending=pending,
            )
            _remittance_uow(uow).remittances.add(order)
            details = {"invoice": invoice.id, "kes": str(kes), "usdt": str(usdt), "country": request.sender.country}
            if review:
                details["review_alerts"] = ",".join(order.review_alerts)
            if pending:
                details["screening"] = SCREENING_UNAVAILABLE
            uow.audit.append(_event(f"remittance:{order_id}", "remittance.create", order_id, now, details))
            if frozen and recipient is not None:  # opened as for anyone (no tipping-off); the officers are told
                told = {"recipient": recipient.user_id, "limit": _FROZEN}
                uow.audit.append(_event(_ACTOR, "remittance.frozen_recipient", order_id, now, told))
            created.append(order)

        self.invoicing.create_invoice(
            DESK,
            usdt,
            rails=[rail.key for rail in rails],
            order_id=order_id,
            actor=f"remittance:{order_id}",
            metadata={"remittance": order_id},
            within=linked,
            then=record,
            default_bounds=False,  # an order is bounded by the remittance rules (its least received, its limits)
            generated_order_id=True,  # ours: its random letters and digits may fold into a brand by chance
        )
        return created[-1]

    def _travel_check(
        self,
        order_id: str,
        request: OrderRequest,
        name: str,
        phone: str,
        usdt: Money,
        network: str,
        valued: Callable[[Money], Assessment] | None,
        uow: RemittanceUnitOfWork | None = None,
    ) -> Assessment | None:
        """At or above the Travel Rule threshold, refuse (``IncompleteTravelRuleData``) unless the originator data
        is full, before the sender pays anything; ``valued``: the Travel Rule's valuation at the quote locked when
        the order opened (no quote is locked inside a transaction). With ``uow`` (the order's own insert's): the
        originator's lock is taken first, so the orders summed include every one another order of theirs committed
        meanwhile."""
        if valued is None:
            return None
        assessment = valued(usdt)
        keys = originator_keys(request.refund_address, request.sender.name)
        sender = travel.originator(request.sender, request.refund_address.strip())
        parties = (travel.transfer(order_id, network, usdt), sender, travel.beneficiary(name, phone))
        if assessment.applies:
            check_complete(*parties, None, None)
            return assessment
        if uow is None:
            earlier = in_transaction(self.uow, partial(self._originator_sum, keys=keys))
        else:
            uow.remittances.lock_originator(*keys)
            earlier = self._originator_sum(uow, keys)
        if not earlier.is_positive() or not (total := valued(earlier + usdt)).applies:
            return assessment
        try:
            check_complete(*parties, None, None)
        except IncompleteTravelRuleData as error:
            raise IncompleteTravelRuleData(
                f"with this sender's paid orders of the last 24 hours (same refund address or name) this order reaches "
                f"the Travel Rule threshold ({total.equivalent} in all): {error.message}"
            ) from None
        return attrs.evolve(assessment, applies=True)  # the record is kept once paid, as for one order that large

    def _originator_sum(self, uow: RemittanceUnitOfWork, keys: tuple[str, str], *, besides: str | None = None) -> Money:
        """The USDT of the orders the same originator (refund address or sender name: ``originator_keys``) opened in
        the last ``ORIGINATOR_WINDOW`` whose USDT arrived (``_FUNDED``; ``besides``: an order not counted). An
        unpaid order moved nothing and anyone can open one (review4 R5: counting them let a stranger read, by
        bisection, what a refund address ordered, and spend its owner's threshold); orders opened together and paid
        together are summed when each is funded (``_linked_at_funding``)."""
        since = self.clock.now() - ORIGINATOR_WINDOW
        found = uow.remittances.by_originator(*keys, since=since, limit=_ORIGINATOR_ORDERS)
        counted = [o.usdt for o in found if o.state in _FUNDED and o.id != besides]
        return sum(counted, Money.zero(USDT))

    def _rails_for(self, address: str) -> list[Rail]:
        """The desk's USDT rails whose network ``address`` belongs to: the refund goes back the way coins came."""
        fits = []
        for rail in self.rails:
            try:
                valid_address(rail.network.name, address, self.validators)
            except InvalidInput:
                continue
            fits.append(rail)
        if not address.strip() or not fits:
            networks = ", ".join(sorted({r.network.name for r in self.rails}))
            raise InvalidInput(
                f"the refund address is not an address on a network USDT can be sent on here ({networks})",
                field="refund_address",
            )
        refuse_burn_address(address, self.rails, field="refund_address")
        for network in sorted({rail.network.name for rail in fits}):  # never one of the platform's own addresses
            self.refunds.refuse_internal(network, address, field="refund_address")
        return fits

    def _price(self, amount: Money, quote: Quote) -> tuple[Money, Money, Money]:
        """(USDT to pay, KES the recipient receives, M-Pesa's charge), at the quote's bid; the shillings within one
        B2C payment's sizes (``InvalidInput`` on ``amount`` otherwise)."""
        try:
            return self._priced(amount, quote)
        except LimitExceeded as error:
            raise InvalidInput(
                f"the recipient receives what one M-Pesa payment can carry: {error.message}", field="amount"
            ) from None

    def _priced(self, amount: Money, quote: Quote) -> tuple[Money, Money, Money]:
        at = self.clock.now()
        if amount.asset == KES:
            if amount != amount.whole():
                raise InvalidInput("the recipient receives whole shillings", field="amount")
            kes = self._one_payment(self._at_least_minimum(amount, amount))
            charge = self.tariff.charge(kes)
            return quote.base_needed(kes + charge, at=at), kes, charge
        if amount.asset != USDT or not amount.is_positive():
            raise InvalidInput("send a positive amount of KES (received) or USDT (sent)", field="amount")
        kes = self._one_payment(self._at_least_minimum(self.tariff.most_sent(quote.convert(amount, at=at)), amount))
        return amount, kes, self.tariff.charge(kes)  # the charge at the band of what is sent

    def _at_least_minimum(self, kes: Money, asked: Money) -> Money:
        """``kes`` if the recipient would receive at least the platform's minimum (``InvalidInput`` otherwise)."""
        least = self.rules.minimum
        if kes < least:
            raise InvalidInput(
                f"a remittance delivers at least KES {least.amount:,.0f}; "
                f"{asked} delivers KES {max(kes.amount, 0):,.0f}",
                field="amount",
            )
        return kes

    def _one_payment(self, kes: Money) -> Money:
        """``kes`` if one B2C payment can carry it on one day (``LimitExceeded`` otherwise)."""
        checked = (self.limits.part or B2C_LIMITS).check(kes)
        per_day = self.limits.per_day
        if per_day is not None and checked > per_day:
            raise LimitExceeded(f"M-Pesa pays one customer at most KES {per_day.amount:,} a day")
        return checked

    def _recipient(
        self, uow: RemittanceUnitOfWork, phone: str, value: Money, now: datetime
    ) -> tuple[Wallet | None, bool]:
        """The recipient's wallet if they have one, and whether compliance froze its holder (the order opens as
        any other, so the anonymous sender learns nothing, review4 R6; officers are told by its audit record
        ``remittance.frozen_recipient``, and once paid it is held: ``_pay_out``). An order beyond what the wallet's
        tier may take is opened and paid by B2C to the same phone (``_pay_out``), as for a phone with no wallet."""
        wallet = uow.wallets.by_phone(phone)
        if wallet is None:
            return None, False
        return wallet, _credit_check(uow, wallet, value, now).limit == _FROZEN

    @staticmethod
    def _check_reachable(phone: str) -> None:
        """``RecipientNotMpesa`` unless M-Pesa can pay ``phone`` (a Safaricom range): an order the platform could
        never pay would cost the sender a refund's network fee after every B2C attempt failed (result 2040).

        Decision (review4 R4): judged on the number's range alone, public data, never on whether a wallet holds the
        number nor on what its tier may take. Admitting a non-Safaricom number whose wallet takes the order (review3
        I24) made this public, credential-free route an oracle: 201 told a stranger "this number has a cryptopay
        wallet", and the amount at which it turned into a refusal told its KYC tier. The smallest change keeping the
        order's promise (one order, one payment, decided before the sender pays): every non-Safaricom number is
        refused alike; its wallet still receives from inside (P2P, deposits)."""
        off = off_mpesa(phone)
        if off is None:
            return
        raise RecipientNotMpesa(
            f"{off}: remittances are paid out by M-Pesa, which pays only "
            "Safaricom numbers; send to the recipient's M-Pesa number",
            field="recipient_phone",
        )

    def _open_desk(self) -> None:
        """The desk's store: the order rails, no fee (the spread is the desk's margin), its window, no tolerance."""

        def work(uow: RemittanceUnitOfWork) -> None:
            found = uow.stores.get(DESK, lock=True)
            wanted = StoreSettings(merchant_id=DESK, rails=self.rails, window=self.window)
            if found is None or found.rails != wanted.rails or found.window != wanted.window:
                uow.stores.put(wanted)

        in_transaction(self.uow, work)

    def get_public(self, public_id: str) -> RemittanceOrder:
        """The order behind an unguessable public id (``NotFound`` for any other)."""
        found: RemittanceOrder | None = in_transaction(self.uow, lambda uow: uow.remittances.by_public_id(public_id))
        if found is None:
            raise NotFound("no such remittance order")
        return found

    def invoice(self, order: RemittanceOrder) -> Invoice:
        """Where and how much to pay: the order's invoice."""
        return self.invoicing.get_invoice(order.invoice_id)

    # --- operators -----------------------------------------------------------------------------------------------

    def get(self, order_id: str) -> RemittanceOrder:
        return in_transaction(self.uow, lambda uow: _order(uow, order_id))

    def orders(
        self, *, state: RemittanceState | None = None, before: str | None = None, limit: int = 50
    ) -> list[RemittanceOrder]:
        return in_transaction(self.uow, lambda uow: uow.remittances.list(state=state, before=before, limit=limit))

    def payout_of(self, order: RemittanceOrder) -> Payout | None:
        """The order's current payout: its first, or the retry that replaced it."""
        return in_transaction(self.uow, lambda uow: _current_payout(uow, order))

    def retry(self, order_id: str, *, actor: str) -> RemittanceOrder:
        """Pay a held or failed order out again now: a new payout attempt (``Refused`` while one is in flight).

        An order with compliance alerts (a possible sanctions match) is released only once two compliance officers
        decided every one of them (``propose_release``/``approve_release``, or a refund approved): a case one officer
        closed with no action is not enough (reviewer10 R10-1: one person closed the case and retried, paying a
        listed name); ``UnderReview`` otherwise, naming the alerts waiting, the refusal audited
        ``remittance.release_refused`` by ``actor``;
        an order whose shillings went back into USDT to be refunded (its refund failed) is ``Refused``: it is refunded
        again, never paid from the desk's shillings, which are other orders';
        the release of a held order is audited ``remittance.released`` (who, the alerts, the cases that cleared
        them)."""
        order = self.get(order_id)
        current = self._retriable(order)
        cleared = self._cleared(order, actor)
        if current is None:
            return in_transaction(self.uow, lambda uow: self._plan_within_limit(uow, order, actor, cleared))
        return self._retry(order_id, current.id, actor, refuse_over_limit=True, cleared=cleared)

    def _retriable(self, order: RemittanceOrder) -> Payout | None:
        """``Refused`` unless ``order`` may be paid out again now (paid, converted, no payout in flight, no Travel
        Rule record missing); its current payout (failed), or None when it has none."""
        current = self.payout_of(order)
        if order.state not in (RemittanceState.PAYING_OUT, RemittanceState.HELD) or order.conversion_entry_id is None:
            raise Refused(f"remittance {order.id} is {order.state.value}: only a paid order being paid out is retried")
        if order.assessment is not None and order.assessment.applies and order.travel_rule_id is None:
            raise Refused(
                f"remittance {order.id} reaches the Travel Rule threshold with its sender's paid orders and has no "
                "full originator data: it is refunded (refund), never paid out"
            )
        if current is not None and current.state is not PayoutState.FAILED:
            raise Refused(f"remittance {order.id}'s payout {current.id} is {current.state.value}, not failed")
        return current

    def _cleared(self, order: RemittanceOrder, actor: str) -> Mapping[str, str]:
        """The cases that cleared each of the order's compliance alerts (alert id -> case id); ``UnderReview``
        (audited ``remittance.release_refused`` by ``actor``) while two officers have not decided any of them."""
        found = self.monitoring.clearance(order.review_alerts) if order.review_alerts else []
        waiting = [c for c in found if not _decided(order, c)]
        if waiting:
            details = {"alerts": ",".join(c.alert_id for c in waiting), "state": order.state.value}
            now = self.clock.now()
            in_transaction(
                self.uow,
                lambda uow: uow.audit.append(_event(actor, "remittance.release_refused", order.id, now, details)),
            )
            raise UnderReview(
                f"remittance {order.id} is held for compliance: {'; '.join(_why(c) for c in waiting)}; its release "
                "is two compliance officers' decision, proposed and approved with their second factor on the admin "
                f"API (POST /v1/admin/compliance/held-remittances/{order.id}/release, then .../approve-release), or "
                "its refund (.../refund, then .../approve)",
                alerts=[c.alert_id for c in waiting],
            )
        return {c.alert_id: c.case_id or "" for c in found}

    def _waiting(self, order: RemittanceOrder) -> list[Clearance]:
        """The order's compliance alerts two officers have not decided yet (``_decided``)."""
        if not order.review_alerts:
            return []
        return [c for c in self.monitoring.clearance(order.review_alerts) if not _decided(order, c)]

    def _release(
        self, uow: RemittanceUnitOfWork, order: RemittanceOrder, actor: str, cleared: Mapping[str, str]
    ) -> None:
        """Audit an operator's release of a held order (in the unit of work that pays it out again)."""
        details = {"held": order.note or ""}
        if cleared:
            details["alerts"] = ",".join(cleared)
            details["cases"] = ",".join(sorted(set(cleared.values())))
        uow.audit.append(_event(actor, "remittance.released", order.id, self.clock.now(), details))

    def _plan_within_limit(
        self, uow: RemittanceUnitOfWork, order: RemittanceOrder, actor: str, cleared: Mapping[str, str]
    ) -> RemittanceOrder:
        """The daily limit checked and the payout planned in one unit of work, under the recipient's lock (a held
        order's release audited with it)."""
        self._payable(uow, order)
        if _order(uow, order.id, lock=True).state is RemittanceState.HELD:
            self._release(uow, order, actor, cleared)
        return self._plan_b2c(uow, order.id, actor)

    def refund(
        self, order_id: str, *, actor: str, address: str | None = None, reason: str | None = None
    ) -> RemittanceOrder:
        """An operator sends the order's USDT back to the sender (``address``: another refund address on the same
        network, with a ``reason``: audited ``remittance.refund_address_changed`` from the old address to the new
        one, in the unit of work that starts the refund).

        Refused once paid out, while a payout is in flight, when a refund is already under way, or when nothing
        confirmed arrived (nothing changes then); refused
        (``AwaitingStatus``) while Transaction Status, asked then, has not confirmed a failed payout was not paid.
        An order with compliance alerts not cleared (a sanctions match, a listed payer: each alert in a case closed
        with no action clears it) is never an operator's to refund (review8 R8: one shell operator sent an order
        paid from a listed address to an address of their choosing, its alert left open): ``UnderReview``, the
        refusal audited ``remittance.refund_refused`` by the operator, nothing changes."""
        order = self.get(order_id)
        self._refuse_under_review(order, actor, address)
        if address is not None:
            checked = self._refund_address(order, address)
            if not _same_address(checked, order.refund_address) and not (reason or "").strip():
                raise InvalidInput(
                    "a refund to another address than the sender gave says why (who asked for it, and how they "
                    "showed the order is theirs)",
                    field="reason",
                )
            order.refund_address = checked
        self._confirm_not_paid(order, actor)
        self._screen_refund(order, order.refund_address, actor)  # refused before the order changes
        why = (reason or "").strip()
        in_transaction(self.uow, lambda uow: self._start_refund(uow, order_id, actor, order.refund_address, why))
        return self._request_refund(order_id, actor)

    def _confirm_not_paid(self, order: RemittanceOrder, actor: str) -> None:
        """``AwaitingStatus`` while Transaction Status, asked now, has not confirmed a failed payout was not paid."""
        current = self.payout_of(order)
        failed = current is not None and current.state is PayoutState.FAILED
        if current is not None and failed and not self.payouts().confirm_failure(current.id, actor=actor):
            raise AwaitingStatus(
                f"remittance {order.id}'s payout {current.id} failed by M-Pesa's callback: Transaction Status is "
                "asked first whether it was paid; refund again once it has answered",
                payout_id=current.id,
            )

    def _screen_refund(self, order: RemittanceOrder, address: str, actor: str) -> None:
        """``Blocked`` (audited, alerted) while a sanctions list names ``address`` on a network the order was paid
        on."""
        invoice = self.invoice(order)
        for network in sorted({p.transfer.network for p in invoice.payments}):
            party = order.recipient_id or f"phone:{order.recipient_phone}"
            self.refunds.refuse_listed(f"remittance:{order.id}", party, network, address, requested_by=actor)

    def _refuse_under_review(self, order: RemittanceOrder, actor: str, address: str | None) -> None:
        """``UnderReview`` (audited ``remittance.refund_refused`` by ``actor``) while any of the order's compliance
        alerts is not cleared: its refund is the compliance officers' decision, not an operator's."""
        waiting = self._waiting(order)
        if not waiting:
            return
        details = {"alerts": ",".join(c.alert_id for c in waiting), "state": order.state.value}
        if address is not None:
            details["address"] = address
        now = self.clock.now()
        in_transaction(
            self.uow, lambda uow: uow.audit.append(_event(actor, "remittance.refund_refused", order.id, now, details))
        )
        raise UnderReview(
            f"remittance {order.id} is held for compliance ({'; '.join(_why(c) for c in waiting)}): its refund is "
            "two compliance officers' decision, proposed and approved with their second factor on the admin API "
            f"(POST /v1/admin/compliance/held-remittances/{order.id}/refund, then .../approve), not an "
            "operator's; an operator refunds it once two officers released it",
            alerts=[c.alert_id for c in waiting],
        )

    # --- compliance officers: a held order's refund, four-eyes (review8 R8) ---------------------------------------

    def propose_refund(self, order_id: str, *, officer: str, note: str, address: str | None = None) -> RemittanceOrder:
        """An officer proposes refunding an order held for compliance (its alerts not all cleared) to the sender's
        refund address, or to ``address`` on the network it was paid on; checked as the refund will be (screened,
        refundable now), audited ``remittance.refund_proposed`` (the note, the address from and to); nothing moves
        and the alerts stay open until a second officer ``approve_refund``s it; a second proposal while one waits
        is a ``Conflict``. Only on the admin API, with a step-up: the shell has no door to it (its ``refund`` is
        refused for such an order, ``UnderReview``), as it cannot prove which officer is at the keyboard. An order
        not under review is an operator's ``refund`` (``InvalidState``)."""
        order = self.get(order_id)
        why = _officers_note(note)
        if not self._waiting(order):
            raise InvalidState(f"remittance {order.id} is not held for compliance: an operator refunds it")
        target = order.refund_address if address is None else self._refund_address(order, address)
        actor = f"user:{officer}"
        self._screen_refund(order, target, actor)
        in_transaction(self.uow, lambda uow: self._refundable(uow, _order(uow, order_id)))
        proposal = RefundProposal(officer=officer, at=self.clock.now(), note=why, address=target)
        return in_transaction(self.uow, partial(self._proposed, order_id=order_id, proposal=proposal))

    def _proposed(self, uow: RemittanceUnitOfWork, order_id: str, proposal: RefundProposal) -> RemittanceOrder:
        order = _order(uow, order_id, lock=True)
        if order.refund_proposal is not None:
            raise Conflict(f"a refund of remittance {order.id} is proposed already: approve or decline it")
        if order.release_proposal is not None:
            raise Conflict(f"a release of remittance {order.id} is proposed: approve or decline it first")
        self._refundable(uow, order)
        order.refund_proposal = proposal
        uow.remittances.update(order)
        details = {"note": proposal.note, "from": order.refund_address, "to": proposal.address}
        uow.audit.append(
            _event(f"user:{proposal.officer}", "remittance.refund_proposed", order.id, proposal.at, details)
        )
        return order

    def _second_officer(self, order_id: str, actor: str, proposed_by: str, kind: str) -> None:
        """Four-eyes on a refund's or a release's approval (``compliance.four_eyes``): its proposer, an officer
        related to it or appointed too recently is refused, audited ``remittance.<kind>_<code>_refused`` in a unit of
        work of its own."""
        now = self.clock.now()
        refused = self.four_eyes.refusal(proposed_by, actor, now=now, what=kind)
        if refused is None:
            return
        details = {"proposed_by": proposed_by, **refused.audit_details}
        action = refused.action(f"remittance.{kind}")
        in_transaction(self.uow, lambda uow: uow.audit.append(_event(actor, action, order_id, now, details)))
        raise refused

    def approve_refund(self, order_id: str, *, officer: str, expected: str | None = None) -> RemittanceOrder:
        """A second officer carries out the refund another proposed (``SameOfficer`` for its proposer, audited
        ``remittance.refund_same_officer_refused``; ``expected``: the address the approver read, another one now is a
        ``Conflict``). In one unit of work: the order's alerts concluded (``Monitoring.conclude``: grouped into a
        case closed with no action, with the proposal's note), the address change audited from the old to the new,
        the conversion reversed, audited ``remittance.refund_approved`` naming both officers and the cases; then the
        refund is asked as any order's (the admin API, with a step-up)."""
        order = self.get(order_id)
        proposal = order.refund_proposal
        if proposal is None:
            raise InvalidState(f"no refund of remittance {order.id} is proposed")
        if expected is not None and not _same_address(expected, proposal.address):
            raise Conflict(f"the refund proposed on remittance {order.id} goes elsewhere now: read it again")
        actor = f"user:{officer}"
        self._second_officer(order.id, actor, proposal.officer, "refund")
        self._confirm_not_paid(order, actor)
        self._screen_refund(order, proposal.address, actor)
        cases = self.cases()
        in_transaction(
            self.uow, partial(self._approved, order_id=order_id, officer=officer, proposal=proposal, cases=cases)
        )
        return self._request_refund(order_id, actor)

    def _approved(
        self,
        uow: RemittanceUnitOfWork,
        order_id: str,
        officer: str,
        proposal: RefundProposal,
        cases: Monitoring | None,
    ) -> None:
        order, now = _order(uow, order_id, lock=True), self.clock.now()
        if order.refund_proposal != proposal:
            raise Conflict(f"the refund proposed on remittance {order.id} changed meanwhile: read it again")
        self._refundable(uow, order)
        concluded: list[str] = []
        if cases is not None and order.review_alerts:  # concluded with the money's move below, or not at all
            decided = cast(MonitoringUnitOfWork, uow)
            note = f"remittance refund: {proposal.note}"
            concluded = cases.conclude(decided, officer, order.review_alerts, CaseStatus.CLOSED_NO_ACTION, note)
        order.refund_proposal = None
        order.cleared_alerts = order.review_alerts  # two officers decided them
        uow.remittances.update(order)
        details = {"proposed_by": proposal.officer, "note": proposal.note, "address": proposal.address}
        details |= {"alerts": ",".join(order.review_alerts), "cases": ",".join(concluded)}
        uow.audit.append(_event(f"user:{officer}", "remittance.refund_approved", order.id, now, details))
        self._start_refund(uow, order_id, f"user:{officer}", proposal.address, proposal.note)

    def decline_refund(
        self, order_id: str, *, officer: str, note: str, proposed_at: datetime | None = None
    ) -> RemittanceOrder:
        """Any officer declines (its proposer withdraws) the refund proposed, with a note: nothing moves, audited
        ``remittance.refund_proposal_declined``. ``proposed_at``: when the proposal the officer read was made;
        another one proposed since is a ``Conflict`` and stays (reader2 M-9, as approvals name what they read)."""
        why = _officers_note(note)

        def decline(uow: RemittanceUnitOfWork) -> RemittanceOrder:
            order = _order(uow, order_id, lock=True)
            proposal = order.refund_proposal
            if proposal is None:
                raise InvalidState(f"no refund of remittance {order.id} is proposed")
            _refuse_another(order.id, "refund", proposal.at, proposed_at)
            order.refund_proposal = None
            uow.remittances.update(order)
            details = {"proposed_by": proposal.officer, "address": proposal.address, "note": why}
            action = "remittance.refund_proposal_declined"
            uow.audit.append(_event(f"user:{officer}", action, order.id, self.clock.now(), details))
            return order

        return in_transaction(self.uow, decline)

    # --- compliance officers: a held order's release, four-eyes (reviewer10 R10-1) ---------------------------------

    def propose_release(self, order_id: str, *, officer: str, note: str) -> RemittanceOrder:
        """An officer proposes releasing an order whose compliance alerts two officers have not decided (a sanctions
        match, a listed payer): a held order is then paid out (checked now as its payout will be: paid, no payout in
        flight, the Travel Rule), one not held (expired, refunded) has what it holds beyond itself refunded by the
        worker as any order's. Audited ``remittance.release_proposed`` with the note; nothing moves and the alerts
        stay open until a second officer ``approve_release``s it; a second proposal, or one while a refund is
        proposed, is a ``Conflict``. Only on the admin API, with a step-up (the shell cannot prove which officer is
        at the keyboard: its ``retry`` of such an order is refused, ``UnderReview``). An order with nothing waiting
        is ``InvalidState``: an operator retries it."""
        order = self.get(order_id)
        why = _officers_note(note)
        waiting = self._waiting(order)
        if not waiting:
            raise InvalidState(f"remittance {order.id} is not held for compliance: an operator retries it")
        if order.state is RemittanceState.HELD:
            self._retriable(order)
        proposal = ReleaseProposal(officer=officer, at=self.clock.now(), note=why)

        def propose(uow: RemittanceUnitOfWork) -> RemittanceOrder:
            order = _order(uow, order_id, lock=True)
            if order.release_proposal is not None:
                raise Conflict(f"a release of remittance {order.id} is proposed already: approve or decline it")
            if order.refund_proposal is not None:
                raise Conflict(f"a refund of remittance {order.id} is proposed: approve or decline it first")
            order.release_proposal = proposal
            uow.remittances.update(order)
            details = {"note": why, "alerts": ",".join(c.alert_id for c in waiting), "state": order.state.value}
            uow.audit.append(_event(f"user:{officer}", "remittance.release_proposed", order.id, proposal.at, details))
            return order

        return in_transaction(self.uow, propose)

    def approve_release(self, order_id: str, *, officer: str) -> RemittanceOrder:
        """A second officer carries out the release another proposed (``SameOfficer`` for its proposer, audited
        ``remittance.release_same_officer_refused``). In one unit of work: the order's alerts concluded
        (``Monitoring.conclude``: a case closed with no action, with the proposal's note), recorded as decided
        (``cleared_alerts``), audited ``remittance.release_approved`` naming both officers and the cases, and a held
        order's payout planned (the recipient's daily limit checked first: refused, nothing is concluded); a held
        order whose last payout failed is retried just after. The admin API, with a step-up."""
        order = self.get(order_id)
        proposal = order.release_proposal
        if proposal is None:
            raise InvalidState(f"no release of remittance {order.id} is proposed")
        actor = f"user:{officer}"
        self._second_officer(order.id, actor, proposal.officer, "release")
        held = order.state is RemittanceState.HELD
        current = self._retriable(order) if held else None
        cases = self.cases()
        pay = held and current is None
        decided = in_transaction(
            self.uow,
            partial(
                self._release_approved, order_id=order_id, officer=officer, proposal=proposal, cases=cases, pay=pay
            ),
        )
        if held and current is not None:
            return self._retry(order_id, current.id, actor, refuse_over_limit=False)
        return decided

    def _release_approved(
        self,
        uow: RemittanceUnitOfWork,
        order_id: str,
        officer: str,
        proposal: ReleaseProposal,
        cases: Monitoring | None,
        pay: bool,
    ) -> RemittanceOrder:
        order, now = _order(uow, order_id, lock=True), self.clock.now()
        if order.release_proposal != proposal:
            raise Conflict(f"the release proposed on remittance {order.id} changed meanwhile: read it again")
        if pay:
            self._payable(uow, order)  # the daily limit, an unconverted order: refused before anything is decided
        concluded: list[str] = []
        if cases is not None and order.review_alerts:  # concluded with the release below, or not at all
            note = f"remittance release: {proposal.note}"
            monitored = cast(MonitoringUnitOfWork, uow)
            concluded = cases.conclude(monitored, officer, order.review_alerts, CaseStatus.CLOSED_NO_ACTION, note)
        order.release_proposal, order.cleared_alerts = None, order.review_alerts
        uow.remittances.update(order)
        details = {"proposed_by": proposal.officer, "note": proposal.note, "state": order.state.value}
        details |= {"alerts": ",".join(order.review_alerts), "cases": ",".join(concluded)}
        uow.audit.append(_event(f"user:{officer}", "remittance.release_approved", order.id, now, details))
        return self._plan_b2c(uow, order_id, f"user:{officer}") if pay else order

    def decline_release(
        self, order_id: str, *, officer: str, note: str, proposed_at: datetime | None = None
    ) -> RemittanceOrder:
        """Any officer declines (its proposer withdraws) the release proposed, with a note: nothing moves, audited
        ``remittance.release_proposal_declined``. ``proposed_at`` as ``decline_refund``'s."""
        why = _officers_note(note)

        def decline(uow: RemittanceUnitOfWork) -> RemittanceOrder:
            order = _order(uow, order_id, lock=True)
            proposal = order.release_proposal
            if proposal is None:
                raise InvalidState(f"no release of remittance {order.id} is proposed")
            _refuse_another(order.id, "release", proposal.at, proposed_at)
            order.release_proposal = None
            uow.remittances.update(order)
            details = {"proposed_by": proposal.officer, "note": why}
            action = "remittance.release_proposal_declined"
            uow.audit.append(_event(f"user:{officer}", action, order.id, self.clock.now(), details))
            return order

        return in_transaction(self.uow, decline)

    def _refund_address(self, order: RemittanceOrder, address: str) -> str:
        invoice = self.invoice(order)
        networks = {p.transfer.network for p in invoice.payments} or {o.rail.network.name for o in invoice.options}
        refuse_burn_address(address, self.rails)
        for network in sorted(networks):
            try:
                checked = valid_address(network, address, self.validators)
            except InvalidInput:
                continue
            self.refunds.refuse_internal(network, checked)  # the refund refuses it too: said before anything moves
            return checked
        raise InvalidInput(f"not an address on {', '.join(sorted(networks))}", field="address")

    # --- the sanctions lists changed -------------------------------------------------------------------------

    def rescreen(self) -> list[RemittanceOrder]:
        """Screen the sender and the recipient of every order still under way (awaiting payment, paying out,
        held) against the latest lists again: run once a new list snapshot is imported (``cryptopay compliance
        lists import``) and by the worker's ``compliance.rescreen`` every 6 hours. Alerts are keyed per list
        snapshot, so a list version raises each match once however often this runs, and an order changes only for
        alerts it does not hold yet (idempotent per version, and a run that died half-way is finished by the next
        one).

        A new match on an order awaiting payment, strong or possible: the order keeps the alerts (audited
        ``remittance.rescreened``) and goes on as any other, held once paid, expired if unpaid (it was refused, its
        invoice cancelled, before: its sender saw an order expire before its time, tipping-off). A new match on a
        paid order not yet paid out holds it for an operator (``held``, audited ``remittance.held``, reason
        ``sanctions_rescreen``), released only once two officers decided every alert (``approve_release``) or
        refunded; a payout M-Pesa already has cannot be stopped (the alert is kept on the order and audited
        ``remittance.rescreened`` with the payout for compliance; if it fails the worker holds the order instead of
        trying again). Returns the orders changed."""
        changed = []
        for state in _UNDER_WAY:
            before: str | None = None
            while page := in_transaction(self.uow, partial(_orders_in, state=state, before=before)):
                changed += [found for order in page if (found := self._rescreen(order)) is not None]
                before = page[-1].id
        return changed

    def _rescreen(self, order: RemittanceOrder) -> RemittanceOrder | None:
        wallet = in_transaction(self.uow, lambda uow: uow.wallets.by_phone(order.recipient_phone))
        party = wallet.user_id if wallet else f"phone:{order.recipient_phone}"  # the party it was opened for
        movement = _movement(order.id, party, order.value, order.sender, order.created_at, wallet)
        names = (("sender", order.sender.name), ("recipient", order.recipient_name))
        fresh = [a for a in self.monitoring.rescreen_names(movement, names) if a.id not in order.review_alerts]
        if not fresh:
            return None
        return in_transaction(self.uow, partial(self._hold_on, order_id=order.id, alerts=fresh))

    def _hold_on(self, uow: RemittanceUnitOfWork, order_id: str, alerts: list[Alert]) -> RemittanceOrder | None:
        """Keep new alerts on the order; a paid order with no payout in flight is held for an operator."""
        order, now = _order(uow, order_id, lock=True), self.clock.now()
        fresh = [a for a in alerts if a.id not in order.review_alerts]
        if not fresh or order.state not in _UNDER_WAY:
            return None
        ids = ",".join(a.id for a in fresh)
        match = "strong" if any(a.evidence.get("match") == "strong" for a in fresh) else "possible"
        order.review_alerts = (*order.review_alerts, *(a.id for a in fresh))
        details = {"alerts": ids, "match": match, "state": order.state.value}
        action = "remittance.rescreened"
        current = _current_payout(uow, order) if order.state is RemittanceState.PAYING_OUT else None
        if order.state is RemittanceState.PAYING_OUT and (current is None or current.state is PayoutState.FAILED):
            order.hold(
                f"the sanctions lists changed: a {match} match is under compliance review (alerts {ids}): an operator "
                "pays it out (retry) once two compliance officers released it, or they refund it"
            )
            action, details["reason"] = "remittance.held", "sanctions_rescreen"
        elif current is not None:
            details["payout"] = current.id  # M-Pesa has it: compliance reviews the alert, the payment goes on
        elif order.state is RemittanceState.AWAITING_PAYMENT:  # the officers' note; its sender is never told
            order.note = f"the sanctions lists changed: a {match} match is under compliance review (alerts {ids}): "
            order.note += "held once paid"
        uow.remittances.update(order)
        uow.audit.append(_event(_SCREENING, action, order.id, now, details))
        return order

    # --- the worker ----------------------------------------------------------------------------------------------

    def advance(self, *, limit: int = 100) -> list[RemittanceOrder]:
        """The worker's job: move every active order one step (see the module docstring), then refund what any
        order received beyond it (``refund_excess``); returns the active orders after."""
        active = in_transaction(self.uow, lambda uow: uow.remittances.active(limit=limit))
        moved, failed = [], 0
        for order in active:
            try:
                moved.append(self._advance(order.id))
            except Exception as error:  # one bad order must not stop the others: it waits for the next run
                failed += 1
                _failed(order.id, "advance", error)
        try:
            self.refund_excess()
        except Exception as error:  # its own orders are isolated there; this is the read of them failing
            failed += 1
            _failed("(excess refunds)", "refund_excess", error)
        if self.metrics is not None:
            self.metrics.gauge("cryptopay_remittances_failed", failed, about=_ABOUT_FAILED)
        return moved

    # --- what arrived beyond the order -----------------------------------------------------------------------

    def refund_excess(self) -> list[RemittanceOrder]:
        """Send back, to the order's refund address, whatever an order's address received beyond what the order took:
        of a paid order (paying or paid out) everything received beyond its price (a second payment, an overpayment,
        a late one), of an order that expired (underpaid) or was refunded already everything received (less refunds
        that have not failed, per rail; the price taken from the rail paid first). Read from the invoices the
        watchers still scan (a late payment can only arrive on one) whose exception says something unusual arrived
        (paid over, late, partial) -- only those are read (``watched_with_exception``: the desk's watched invoices
        by their exception, an index on SQL), never every watched invoice -- each refund through ``Refunds`` (held
        from the desk's balance, sent by the hot wallet) and audited ``remittance.excess_refund``. What is owed on a
        rail is summed over every payment not yet decided on; it goes back less the network's fee (the hot wallet's
        estimate x 1.25 in USDT, ``network_fee``, as withdrawals charge it), and only when it is worth more than
        ``RemittanceRules.excess_floor`` and that fee: a smaller one is kept (``revenue:remittance_dust:USDT``,
        ``RemittanceOrder.excess_kept``, audited ``remittance.excess_kept``), so dust sent to a paid order's address
        never costs an on-chain refund; the fee deducted is kept the same way. One that cannot be asked (no hot
        wallet on that network) is kept on the order (``excess_note``), audited ``remittance.excess_held`` for an
        operator, and is a reconciliation difference (``remittances-owed``) until it is refunded. Orders still
        awaiting payment, being refunded whole or held are left to their own path. Returns the orders with a new
        refund or note."""
        now = self.clock.now()
        owed = in_transaction(
            self.uow,
            lambda uow: [
                (invoice.order_id, invoice.id)
                for invoice in uow.invoices.watched_with_exception(DESK, _EXCESS_EXCEPTIONS, now)
                if invoice.order_id and invoice.state in _CLOSED_INVOICES
            ],
        )
        changed = []
        for order_id, invoice_id in owed:
            try:
                order = self._refund_excess_of(order_id, invoice_id)
            except Exception as error:  # one bad order must not stop the others' refunds
                _failed(order_id, "refund_excess", error)
                continue
            if order is not None:
                changed.append(order)
        return changed + self.refund_strays()

    def refund_strays(self) -> list[RemittanceOrder]:
        """Send back, whole, what reached an order's address in an asset or on a network the order does not ask for
        (USDC to a USDT order's address: detection records it as a pending wrong-asset payment of the desk's invoice,
        ``payments.wrong_network``), to the order's refund address, through the invoice machinery's own
        ``Refunds.refund_wrong_network`` (custody, never the desk's balance), once it is as deep as that network's
        rail asks (until then the next run tries again). Whatever the order's state: the sender's coins are not the
        order's. The refund is the order's (``excess_refund_ids``: the status shows it as ``excess`` /
        ``excess_refund`` in its asset), audited ``remittance.stray_refund``; one that cannot be sent is kept on the
        order (``excess_note``, audited ``remittance.excess_held``) for an operator, and so is one worth no more
        than the excess floor or the network's fee (``_stray_held``, marked in ``strays_held``: dust is never sent
        back on chain at the platform's cost, review8 R1). Returns the orders changed."""
        changed: list[RemittanceOrder] = []
        before: str | None = None
        run = _StrayRun()  # dust left pending is paged again every run: each order read once, each fee asked once
        while page := in_transaction(self.uow, partial(_pending_strays, before=before)):
            before = page[-1][0].id
            for stray, order_id in page:
                if order_id is None:
                    continue
                try:
                    order = self._refund_stray(stray, order_id, run)
                except Exception as error:  # one bad order must not stop the others' refunds
                    _failed(order_id, "refund_stray", error)
                    continue
                if order is not None:
                    changed.append(order)
        return changed

    def _refund_stray(self, stray: WrongNetworkPayment, order_id: str, run: _StrayRun) -> RemittanceOrder | None:
        order = run.orders[order_id] if order_id in run.orders else self.get(order_id)
        run.orders[order_id] = order
        amount = stray.transfer.amount
        floor = self.rules.stray_floor(amount.asset)
        dust = floor is not None and amount <= floor  # not even worth the fee's estimate (a chain call)
        if dust:
            fee = Money.zero(amount.asset)
        elif stray.rail_key in run.fees:
            fee = run.fees[stray.rail_key]
        else:
            fee = run.fees[stray.rail_key] = self._stray_fee(order, stray)
        if amount <= max(floor or Money.zero(amount.asset), fee):
            if stray.id in order.strays_held:
                return None  # noted already (this run or before): nothing to write
            held = partial(self._stray_held, order_id=order_id, stray=stray, floor=floor, fee=fee)
            noted = in_transaction(self.uow, held)
            run.orders[order_id] = noted or attrs.evolve(order, strays_held=(*order.strays_held, stray.id))
            return noted
        if self._kept_for_review(order):
            return None
        run.orders.pop(order_id, None)  # a refund or a note changes it: read again
        try:
            refund = self.refunds.refund_wrong_network(
                stray.id,
                address=order.refund_address,
                redirect_reason=f"the refund address the sender gave for remittance order {order.id}",
                requested_by=_ACTOR,
            )
        except InvalidState:
            return None  # not deep enough yet (or another worker refunded it meanwhile): the next run looks again
        except CryptopayError as error:
            return in_transaction(self.uow, partial(self._excess_held, order_id=order_id, error=error))

        def asked(uow: RemittanceUnitOfWork) -> RemittanceOrder:
            found, now = _order(uow, order_id, lock=True), self.clock.now()
            found.excess_refund_ids = (*found.excess_refund_ids, refund.id)
            uow.remittances.update(found)
            details = {"refund": refund.id, "amount": str(refund.amount), "payment": stray.id, "wrong": stray.wrong}
            uow.audit.append(_event(_ACTOR, "remittance.stray_refund", order_id, now, details))
            return found

        return in_transaction(self.uow, asked)

    def _stray_fee(self, order: RemittanceOrder, stray: WrongNetworkPayment) -> Money:
        """What sending ``stray`` back costs the platform (``_refund_fee``, in the stray's asset); zero where the
        network cannot say or the stray is no token of a rail we know."""
        try:
            rail = rail_for(stray.network, stray.transfer.amount.asset)
        except CryptopayError:
            return Money.zero(stray.transfer.amount.asset)
        return self._refund_fee(order, rail, stray.transfer.amount)

    def _stray_held(
        self,
        uow: RemittanceUnitOfWork,
        order_id: str,
        stray: WrongNetworkPayment,
        floor: Money | None,
        fee: Money,
    ) -> RemittanceOrder | None:
        """A stray too small to send back on chain (at most the excess floor, in dollars for a stablecoin, or the
        network's fee: review8 R1, anyone can aim dust at an order's address and each refund's fee is the
        platform's) is not sent: it stays pending for an operator (``cryptopay refunds wrong-network``: refund it,
        or leave it), the order marking it (``strays_held``, its own field: ``excess_note`` is a held excess's reason,
        lastread A2, and the two used to overwrite each other every run; audited ``remittance.stray_held`` once per
        stray, never per run). None when it is marked already."""
        order = _order(uow, order_id, lock=True)
        if stray.id in order.strays_held:
            return None
        order.strays_held = (*order.strays_held, stray.id)
        if order.excess_note == _STRAY_NOTE:  # written there before strays had their own marker
            order.excess_note = None
        uow.remittances.update(order)
        zero = Money.zero(stray.transfer.amount.asset)
        details = {
            "payment": stray.id,
            "amount": str(stray.transfer.amount),
            "wrong": stray.wrong,
            "floor": str(floor or zero),
            "network_fee": str(fee),
        }
        uow.audit.append(_event(_ACTOR, "remittance.stray_held", order.id, self.clock.now(), details))
        return order

    def _refund_excess_of(self, order_id: str, invoice_id: str) -> RemittanceOrder | None:
        order = self.get(order_id)
        if order.invoice_id != invoice_id or order.state not in _EXCESS_STATES:
            return None
        if order.state is RemittanceState.REFUNDED and order.refund_id is None:
            return None
        if self._kept_for_review(order):
            return None
        invoice = self.invoicing.get_invoice(invoice_id)
        confirmed = [p.rail_key for p in invoice.payments if is_confirmed(p, invoice.option(p.rail_key))]
        rails = list(dict.fromkeys(confirmed))  # in the order the coins came: the price is taken from the first
        took = invoice.state is InvoiceState.SETTLED and order.took_price
        price = order.usdt if took else Money.zero(USDT)
        changed = None
        for rail in rails:
            # received on the rail, less refunds not failed and what the order kept (dust, refunds' network fees:
            # ``refunds.kept_on``): every excess payment not yet decided on, summed
            left = self.refunds.refundable(invoice_id, rail)
            taken = min(left, price)
            price, amount = price - taken, left - taken
            if not amount.is_positive():
                continue
            fee = self._refund_fee(order, invoice.option(rail).rail, amount)
            if amount <= max(self.rules.excess_floor, fee):
                keep = partial(self._excess_kept, order_id=order_id, rail=rail, amount=amount, fee=fee)
                changed = in_transaction(self.uow, keep)
                continue
            try:
                refund = self.refunds.refund(
                    invoice_id, address=order.refund_address, requested_by=_ACTOR, rail=rail, amount=amount - fee
                )
            except CryptopayError as error:
                if self.refunds.refundable(invoice_id, rail) > taken:  # else another worker refunded it meanwhile
                    changed = in_transaction(self.uow, partial(self._excess_held, order_id=order_id, error=error))
                continue
            asked = partial(self._excess_asked, order_id=order_id, refund=refund, fee=fee)
            changed = in_transaction(self.uow, asked)
        return changed

    def _refund_fee(self, order: RemittanceOrder, rail: Rail, amount: Money) -> Money:
        """What sending ``amount`` back on ``rail`` costs the platform: the network's fee estimate x 1.25 valued in
        USDT (``network_fee``, as withdrawals charge it); zero where the network cannot say (the floor stands)."""
        request = WithdrawalRequest(
            f"{order.id}:excess", rail.network.name, order.refund_address, amount, rail.token.contract
        )
        found = network_fee(self.estimators().get(rail.network.name), request, self.quoter)
        return found.value if found is not None and found.value.asset == amount.asset else Money.zero(amount.asset)

    def _excess_asked(self, uow: RemittanceUnitOfWork, order_id: str, refund: Refund, fee: Money) -> RemittanceOrder:
        order, now = _order(uow, order_id, lock=True), self.clock.now()
        order.excess_refund_ids, order.excess_note = (*order.excess_refund_ids, refund.id), None
        details = {"refund": refund.id, "amount": str(refund.amount), "rail": refund.rail_key}
        if fee.is_positive():  # the network's fee, deducted from what goes back: the platform pays it
            self._keep(uow, order, refund.rail_key, fee, key=refund.id)
            details["network_fee"] = str(fee)
        uow.remittances.update(order)
        details["state"] = order.state.value
        uow.audit.append(_event(_ACTOR, "remittance.excess_refund", order.id, now, details))
        return order

    def _excess_kept(
        self, uow: RemittanceUnitOfWork, order_id: str, rail: str, amount: Money, fee: Money
    ) -> RemittanceOrder:
        """An excess too small to refund (at most the floor, or the network's fee) kept as the platform's dust
        revenue, audited ``remittance.excess_kept``; what the order keeps is no longer owed to the sender."""
        order, now = _order(uow, order_id, lock=True), self.clock.now()
        invoice = uow.invoices.get(order.invoice_id)
        if invoice is None or amount > refundable_on(uow, invoice, rail):  # net of what the order kept
            return order  # another worker refunded or kept it meanwhile
        self._keep(uow, order, rail, amount, key=f"{rail}:{order.kept(rail).amount}")  # kept only grows: unique
        order.excess_note = None
        uow.remittances.update(order)
        floor = max(self.rules.excess_floor, fee)
        details = {"amount": str(amount), "rail": rail, "floor": str(floor), "network_fee": str(fee)}
        details["state"] = order.state.value
        uow.audit.append(_event(_ACTOR, "remittance.excess_kept", order.id, now, details))
        return order

    def _keep(self, uow: RemittanceUnitOfWork, order: RemittanceOrder, rail: str, amount: Money, key: str) -> None:
        """Book ``amount`` of the order's excess on ``rail`` as kept (the desk's USDT to dust revenue)."""
        flows.keep_remittance_excess(
            self.ledger, order_id=order.id, rail_key=rail, amount=amount, key=key, session=uow.ledger
        )
        order.excess_kept = {**order.excess_kept, rail: order.kept(rail) + amount}

    def _kept_for_review(self, order: RemittanceOrder) -> bool:
        """Whether the worker must leave what ``order`` received where it is: any of its compliance alerts (a sanctions
        or name match at creation, a list imported since, a listed payer) not cleared. Its money then goes back only
        by two officers' decision (``propose_refund``/``approve_refund``), never by the worker's excess or stray
        refund (lastread A9: a matched sender paying short, late or in the wrong asset was refunded automatically).
        The order notes it once (``excess_note``; audited ``remittance.excess_held``, reason
        ``under_compliance_review``) for the officers and reconciliation."""
        waiting = self._waiting(order)
        if not waiting:
            return False
        error = UnderReview(
            "held for compliance review: two compliance officers decide its refund (held remittances, admin API)",
            alerts=[c.alert_id for c in waiting],
        )
        if order.excess_note != _held_note(error):  # noted already: no locking transaction every 15 s
            in_transaction(self.uow, partial(self._excess_held, order_id=order.id, error=error))
        return True

    def _excess_held(self, uow: RemittanceUnitOfWork, order_id: str, error: CryptopayError) -> RemittanceOrder:
        order = _order(uow, order_id, lock=True)
        note = _held_note(error)
        if order.excess_note != note:  # audited once per reason, not every 15 seconds
            order.excess_note = note
            uow.remittances.update(order)
            details = {"reason": error.code, "note": note}
            uow.audit.append(_event(_ACTOR, "remittance.excess_held", order.id, self.clock.now(), details))
        return order

    def excess_refunds(self, order: RemittanceOrder) -> list[Refund]:
        """The refunds of what ``order`` received beyond itself, oldest first."""
        return [self.refunds.get_refund(refund_id) for refund_id in order.excess_refund_ids]

    def wrong_payments(self, order: RemittanceOrder) -> list[WrongNetworkPayment]:
        """What reached the order's addresses in an asset or on a network it does not ask for (USDC to its USDT
        address), oldest first, withdrawn ones (a reorg took them) left out: none of it pays the order."""
        found = in_transaction(self.uow, lambda uow: uow.wrong_network_payments.for_invoice(order.invoice_id))
        return [p for p in found if p.state is not WrongNetworkState.WITHDRAWN]

    def _advance(self, order_id: str) -> RemittanceOrder:
        before = self.get(order_id)
        if before.screening_pending and not self._must_wait():
            before = self._screen_pending(before)
        payer = self._listed_payer(before)  # read before the step's transaction, as deposits screen theirs
        payee = self._payee_name(before)  # likewise: the alert's transaction is monitoring's own
        valued = self._funding_valuer(before)  # a quote is never locked inside the step's transaction
        order, action = in_transaction(self.uow, lambda uow: self._step(uow, order_id, payer, payee, valued))
        if action in ("funded", "funded_waiting"):
            # The money arrived (committed): journal the movement for the batch rules (the high-risk country).
            # Once, here (detection does not journal the desk's invoices as a merchant's payments): with the network
            # and the payer's address of the payment the order took, as the monthly flow report and rules read them.
            party = order.recipient_id or f"phone:{order.recipient_phone}"
            paid = _first_confirmed(self.invoice(order))
            self.monitoring.after(_movement(order.id, party, order.value, order.sender, order.created_at, None, paid))
            waiting = "waiting" if action == "funded_waiting" else None
            action = "notify" if order.state is RemittanceState.PAID_OUT else waiting
        if action == "waiting":
            return self._tell_waiting(order)
        if action == "retry" and order.payout_id is not None:
            if undecided := self._waiting(order):  # a list named a party while its payout was in flight; it failed
                return in_transaction(self.uow, partial(self._hold_for_review, order_id=order_id, waiting=undecided))
            current = self.payout_of(order)
            return self._retry(order_id, current.id if current else order.payout_id, _ACTOR)
        if action == "refund":
            return self._request_refund(order_id, _ACTOR)
        if action == "confirm" and order.payout_id is not None:
            # The last attempt failed by a callback: ask Transaction Status (recorded first, then sent). Its answer
            # completes the payout if M-Pesa paid it (paid_out next run) or confirms the failure (refunded next run).
            current = self.payout_of(order)
            self.payouts().confirm_failure(current.id if current else order.payout_id, actor=_ACTOR)
            return order
        if action == "notify":
            return self._notify(order)
        return order

    def _must_wait(self) -> bool:
        """Whether parties screened now are screened against nothing that must be checked (``must_wait``)."""
        return self.screening is not None and self.screening.must_wait()

    def _screen_pending(self, order: RemittanceOrder) -> RemittanceOrder:
        """A list is loaded now: the parties of an order opened with none are screened (``_rescreen``: a match
        holds it, paid, for compliance, as the lists' rescreen does), and it is no longer pending (audited
        ``remittance.screened``); a paid order waiting for this is paid out by the step that follows."""
        if order.state in _UNDER_WAY:
            self._rescreen(order)

        def screened(uow: RemittanceUnitOfWork) -> RemittanceOrder:
            found, now = _order(uow, order.id, lock=True), self.clock.now()
            if not found.screening_pending:
                return found
            found.screening_pending, found.next_attempt_at = False, None
            uow.remittances.update(found)
            details = {"alerts": ",".join(found.review_alerts), "state": found.state.value}
            uow.audit.append(_event(_SCREENING, "remittance.screened", found.id, now, details))
            return found

        return in_transaction(self.uow, screened)

    def _wait_for_screening(self, uow: RemittanceUnitOfWork, order: RemittanceOrder, now: datetime) -> None:
        """A paid order whose parties were screened against no list is not paid out: it waits (``paying_out``, no
        route, no payout; audited ``remittance.waiting``, reason ``screening_unavailable``, once) and the first step
        after a list is imported screens it (``_screen_pending``) and pays it out (``_on_payout``)."""
        again = order.state is not RemittanceState.PAYING_OUT or order.route is not None
        order.state, order.route = RemittanceState.PAYING_OUT, None
        order.next_attempt_at = now + self.screening_wait
        order.note = (
            "waiting for sanctions screening: no list is loaded to screen its sender and recipient against; paid out "
            "once one is imported and they are screened"
        )
        uow.remittances.update(order)
        if again:
            details = {"reason": SCREENING_UNAVAILABLE}
            uow.audit.append(_event(_ACTOR, "remittance.waiting", order.id, now, details))

    def _hold_for_review(
        self, uow: RemittanceUnitOfWork, order_id: str, waiting: Sequence[Clearance]
    ) -> RemittanceOrder:
        """An order whose payout failed while compliance alerts wait on it is not tried again by the worker: held
        (audited ``remittance.held``, reason ``sanctions_review``) until two officers release or refund it."""
        order = _order(uow, order_id, lock=True)
        if order.state is not RemittanceState.PAYING_OUT:
            return order
        alerts = ",".join(c.alert_id for c in waiting)
        order.hold(
            f"its payout failed while a sanctions screening match is under compliance review (alerts {alerts}): paid "
            "out again once two compliance officers released it (held remittances), or they refund it"
        )
        uow.remittances.update(order)
        details = {"reason": "sanctions_review", "alerts": alerts}
        uow.audit.append(_event(_ACTOR, "remittance.held", order.id, self.clock.now(), details))
        return order

    def _payee_name(self, order: RemittanceOrder) -> _PayeeName | None:
        """Once M-Pesa paid the order's current payout: the name its result says the number is registered to
        (``ReceiverPartyPublicName``) against the order's ``recipient_name``, by the matcher the wallet credit's name
        match uses. A mismatch raises the ``payee-name-mismatch`` alert for the officers (once: the same alert is
        returned again); the payout stands (the money has gone). None before that, or with no matcher or no name."""
        if self.matcher is None or order.state is not RemittanceState.PAYING_OUT or order.payout_id is None:
            return None
        payout = self.payout_of(order)
        if payout is None or payout.state is not PayoutState.COMPLETED or not payout.receiver_name:
            return None
        score = self._name_score(order.recipient_name, payout.receiver_name)
        if score >= self.name_match:
            return _PayeeName(payout.id, score, ())
        party = order.recipient_id or f"phone:{order.recipient_phone}"
        made = _movement(order.id, party, order.value, order.sender, order.created_at, None)
        evidence = {"role": "recipient", "counterparty": order.recipient_name, "name": payout.receiver_name}
        evidence |= {"score": f"{score:.0f}", "threshold": f"{self.name_match:g}", "ref": payout.id}
        alerts = self.monitoring.payee_name_mismatch(made, evidence)
        return _PayeeName(payout.id, score, tuple(a.id for a in alerts))

    def _listed_payer(self, order: RemittanceOrder) -> ListedPayer | None:
        """A paid order's paying addresses screened against the sanctions lists (the blocking alert raised through
        monitoring's ``sanctioned-address`` rule, product ``remittance_payment``); None when none is listed."""
        if order.state is not RemittanceState.AWAITING_PAYMENT:
            return None
        invoice = self.invoice(order)
        if invoice.state is not InvoiceState.SETTLED:
            return None
        party = order.recipient_id or f"phone:{order.recipient_phone}"
        for payment in invoice.payments:
            transfer = payment.transfer
            if not transfer.from_address or not is_confirmed(payment, invoice.option(payment.rail_key)):
                continue
            movement = attrs.evolve(
                _movement(order.id, party, order.value, order.sender, order.created_at, None, payment),
                id=f"remittance-payment:{order.id}:{transfer.tx_hash}:{transfer.index}",
                product=REMITTANCE_PAYMENT,
            )
            listed = listed_payer(self.refunds.screening(), self.monitoring, movement)
            if listed is not None:
                return listed
        return None

    def _step(
        self,
        uow: RemittanceUnitOfWork,
        order_id: str,
        payer: ListedPayer | None = None,
        payee: _PayeeName | None = None,
        valued: Callable[[Money], Assessment] | None = None,
    ) -> tuple[RemittanceOrder, str | None]:
        order, now = _order(uow, order_id, lock=True), self.clock.now()
        if order.state is RemittanceState.AWAITING_PAYMENT:
            return order, self._on_invoice(uow, order, now, payer, valued)
        elif order.state is RemittanceState.PAYING_OUT:
            return order, self._on_payout(uow, order, now, payee)
        elif order.state is RemittanceState.REFUNDING:
            return order, self._on_refund(uow, order, now)
        elif order.state is RemittanceState.PAID_OUT and order.notified_at is None:
            return order, "notify"
        return order, None

    def _on_invoice(
        self,
        uow: RemittanceUnitOfWork,
        order: RemittanceOrder,
        now: datetime,
        payer: ListedPayer | None = None,
        valued: Callable[[Money], Assessment] | None = None,
    ) -> str | None:
        invoice = uow.invoices.get(order.invoice_id)
        if invoice is None:
            raise NotFound(f"remittance {order.id} has no invoice {order.invoice_id}")
        if invoice.state in (InvoiceState.EXPIRED, InvoiceState.INVALID, InvoiceState.CANCELLED):
            order.finish(RemittanceState.EXPIRED, now, f"the invoice is {invoice.state.value}: nothing was paid out")
            uow.remittances.update(order)
            uow.audit.append(_event(_ACTOR, "remittance.expired", order.id, now, {"invoice": invoice.id}))
        elif invoice.state is InvoiceState.SETTLED:
            if self.limits.per_day is not None:  # the global lock order: the recipient's lock before the ledger's
                uow.payouts.lock_destination(order.recipient_phone)
            short = self._linked_at_funding(uow, order, invoice, valued)
            _lock_receiving(uow, order.recipient_phone, now)  # before the conversion locks the desk's balances
            self._fund(uow, order, invoice, now)
            if payer is not None:
                self._hold_listed_payer(uow, order, payer, now)
                return "funded"
            if short is not None:
                self._hold_for_originator_data(uow, order, short, now)
                return "funded"
            wait = self._pay_out(uow, order, now)
            return "funded_waiting" if wait is not None and wait.new else "funded"
        return None

    def _funding_valuer(self, order: RemittanceOrder) -> Callable[[Money], Assessment] | None:
        """The Travel Rule's valuation at a quote locked now, for an order whose USDT has just settled and which is
        below the threshold alone (None otherwise: nothing to sum at its funding)."""
        if self.travel_rule is None or order.state is not RemittanceState.AWAITING_PAYMENT:
            return None
        if order.assessment is not None and order.assessment.applies:
            return None
        if self.invoice(order).state is not InvoiceState.SETTLED:
            return None
        return self.travel_rule.valuer(USDT)

    def _linked_at_funding(
        self,
        uow: RemittanceUnitOfWork,
        order: RemittanceOrder,
        invoice: Invoice,
        valued: Callable[[Money], Assessment] | None,
    ) -> str | None:
        """The Travel Rule's 24-hour sum again when the order's USDT arrives, with the originator's orders funded
        before it (under the originator's lock, so two of its orders funded at once are summed one after the other):
        orders opened together and paid together (structuring) are caught here, since an unpaid order is not summed
        when another opens (review4 R5). Reaching the threshold with full originator data: the order's assessment
        applies, so its record is kept as for one large order (None returned); without it: why the order is held
        (the caller holds it once funded)."""
        if valued is None:
            return None
        uow.remittances.lock_originator(*order.originator)
        earlier = self._originator_sum(uow, order.originator, besides=order.id)
        if not earlier.is_positive() or not (total := valued(earlier + order.usdt)).applies:
            return None
        linked = attrs.evolve(valued(order.usdt), applies=True)
        sender = travel.originator(order.sender, order.refund_address)
        recipient = travel.beneficiary(order.recipient_name, order.recipient_phone)
        try:
            network = paid.transfer.network if (paid := _first_confirmed(invoice)) else order.network or "unknown"
            check_complete(travel.transfer(order.id, network, order.usdt), sender, recipient, None, None)
        except IncompleteTravelRuleData as error:  # no record can be kept: the assessment applies once held
            return (
                f"with this sender's paid orders of the last 24 hours this order reaches the Travel Rule threshold "
                f"({total.equivalent} in all): {error.message}"
            )
        order.assessment = linked
        return None

    def _hold_for_originator_data(
        self, uow: RemittanceUnitOfWork, order: RemittanceOrder, why: str, now: datetime
    ) -> None:
        """Funded, but its originator's paid orders reach the Travel Rule threshold without the full originator data:
        nothing is paid out (no record could be kept); held, and an operator refunds it to the sender (``retry`` is
        refused for an order whose assessment applies without a kept record)."""
        if order.assessment is not None:
            order.assessment = attrs.evolve(order.assessment, applies=True)  # never paid out without a record
        order.hold(f"{why}; held: an operator refunds it to the sender")
        uow.remittances.update(order)
        uow.audit.append(_event(_ACTOR, "remittance.held", order.id, now, {"reason": "travel_rule_incomplete"}))

    def _hold_listed_payer(
        self, uow: RemittanceUnitOfWork, order: RemittanceOrder, payer: ListedPayer, now: datetime
    ) -> None:
        """A listed address paid the order: nothing is paid out; held for compliance (its alerts on the order, so a
        release needs them cleared, as a sanctions match's does), an operator refunds or retries."""
        order.review_alerts = (*order.review_alerts, *(a for a in payer.alerts if a not in order.review_alerts))
        order.hold(
            f"the address that paid it is on a sanctions list ({payer.network}): held for compliance review; an "
            "operator pays it out (retry) once two compliance officers released it, or it stays with compliance"
        )
        uow.remittances.update(order)
        details = {"reason": "sanctioned_payer", "network": payer.network, "address": payer.address}
        details |= {"lists": payer.refs, "alerts": ",".join(payer.alerts)}
        uow.audit.append(_event(_ACTOR, "remittance.held", order.id, now, details))

    def _fund(self, uow: RemittanceUnitOfWork, order: RemittanceOrder, invoice: Invoice, now: datetime) -> None:
        """Convert the order's USDT into the shillings it promised, at its locked quote."""
        paid = [p for p in invoice.payments if is_confirmed(p, invoice.option(p.rail_key))]
        order.network = paid[0].transfer.network if paid else None
        order.paid_from = tuple(dict.fromkeys(p.transfer.from_address for p in paid if p.transfer.from_address))
        entry = flows.convert_remittance(
            self.ledger,
            order_id=order.id,
            usdt=order.usdt,
            kes=order.value,
            mid=order.mid,
            quote_id=order.quote_id,
            session=uow.ledger,
        )
        order.conversion_entry_id = entry.id
        self._keep_travel_record(uow, order, paid[0].transfer.tx_hash if paid else "")
        details = {"entry": entry.id, "network": order.network or "", "paid_from": ",".join(order.paid_from)}
        uow.audit.append(_event(_ACTOR, "remittance.funded", order.id, now, details))

    def _keep_travel_record(self, uow: RemittanceUnitOfWork, order: RemittanceOrder, tx_hash: str) -> None:
        """The order's Travel Rule record, in the transaction that takes its USDT (none below the threshold)."""
        if self.travel_rule is None or order.assessment is None or order.network is None:
            return
        record = self.travel_rule.keep(
            uow,
            travel.transfer(order.id, order.network, order.usdt, tx_hash),
            order.assessment,
            originator=travel.originator(order.sender, order.refund_address, paid_from=order.paid_from),
            beneficiary=travel.beneficiary(order.recipient_name, order.recipient_phone),
            actor=_ACTOR,
        )
        order.travel_rule_id = record.id if record else None

    def _pay_out(self, uow: RemittanceUnitOfWork, order: RemittanceOrder, now: datetime) -> _Wait | None:
        """Credit the recipient's wallet when it can take it, else plan the B2C payout (or wait for the next day);
        held when a possible sanctions match is under review, or the recipient's wallet is frozen; waiting while its
        parties were never screened against a list (``screening_pending``)."""
        if order.screening_pending:
            self._wait_for_screening(uow, order, now)
            return None
        if [a for a in order.review_alerts if a not in order.cleared_alerts]:  # two officers released none of them
            alerts = ",".join(order.review_alerts)
            order.hold(
                f"a sanctions screening match is under compliance review (alerts {alerts}): paid out once two "
                "compliance officers released it (held remittances), or they refund it"
            )
            uow.remittances.update(order)
            details = {"reason": "sanctions_review", "alerts": alerts}
            uow.audit.append(_event(_ACTOR, "remittance.held", order.id, now, details))
            return None
        wallet = uow.wallets.by_phone(order.recipient_phone)
        if wallet is not None and wallet.frozen:
            order.hold("the recipient's wallet is frozen: an operator retries (B2C) or refunds")
            uow.remittances.update(order)
            uow.audit.append(_event(_ACTOR, "remittance.held", order.id, now, {"reason": "wallet_frozen"}))
            return None
        decision = None if wallet is None else _credit_check(uow, wallet, order.value, now)
        if decision is not None and decision.limit == _FROZEN:  # frozen by compliance since the order opened
            order.hold("compliance froze the recipient: an operator retries (B2C) once it is lifted, or refunds")
            uow.remittances.update(order)
            uow.audit.append(_event(_ACTOR, "remittance.held", order.id, now, {"reason": "recipient_frozen"}))
            return None
        if wallet is not None and decision is not None and decision.allowed:
            if (score := self._name_mismatch(uow, order, wallet)) is None:
                self._credit(uow, order, wallet, now)
                return None
            # The holder's verified name is not the beneficiary the sender named: not credited to that account;
            # M-Pesa pays the phone, whose registered name Safaricom identified (the sender's risk, as with no wallet).
            details = {"user": wallet.user_id, "score": f"{score:.0f}", "route": RemittanceRoute.MPESA.value}
            uow.audit.append(_event(_ACTOR, "remittance.name_mismatch", order.id, now, details))
        # No wallet, or more than its tier may take now (tier 0: ``PRODUCT_LIMITS``), or a holder whose verified name
        # is not the recipient's: M-Pesa pays the same phone.
        order.route, order.state = RemittanceRoute.MPESA, RemittanceState.PAYING_OUT
        if wait := self._wait_for_daily_limit(uow, order, now):
            return wait
        uow.remittances.update(order)
        self._plan_b2c(uow, order.id, _ACTOR)
        return None

    def _daily_room(self, uow: PaymentsUnitOfWork, order: RemittanceOrder, now: datetime) -> Money | None:
        """None when M-Pesa may pay the order's shillings to its recipient today, else what remains today.

        Takes the recipient's lock first (held to the end of the unit of work, where the payout is planned)."""
        per_day = self.limits.per_day
        if per_day is None:
            return None
        uow.payouts.lock_destination(order.recipient_phone)
        paid = paid_to(uow.payouts, order.recipient_phone, since=day_bounds(now)[0])
        return None if paid + order.kes <= per_day else max(per_day - paid, Money.zero(KES))

    def _wait_for_daily_limit(self, uow: RemittanceUnitOfWork, order: RemittanceOrder, now: datetime) -> _Wait | None:
        """The wait when the order's payout waits for the next day in Nairobi (the recipient's M-Pesa daily limit
        would be passed today; None otherwise); the order says why and when it is tried again (audited once per
        wait: ``new`` then, and the recipient is told)."""
        left = self._daily_room(uow, order, now)
        if left is None:
            return None
        _, tomorrow = day_bounds(now)
        per_day = self.limits.per_day
        assert per_day is not None
        note = (
            f"waiting for M-Pesa's daily limit: a customer receives at most KES {per_day.amount:,} a day and "
            f"KES {left.amount:,} remains today for {mask_msisdn(order.recipient_phone)}; paid after midnight"
        )
        again = order.next_attempt_at != tomorrow
        order.next_attempt_at, order.note = tomorrow, note
        uow.remittances.update(order)
        if again:
            details = {"until": tomorrow.isoformat(), "remaining_today": str(left.amount), "amount": str(order.kes)}
            uow.audit.append(_event(_ACTOR, "remittance.waiting", order.id, now, details))
        return _Wait(tomorrow, new=again)

    def _payable(self, uow: PaymentsUnitOfWork, order: RemittanceOrder) -> None:
        """Refuse (``Refused``) a new payout of an order whose shillings went back into USDT to refund its sender
        (its conversion reversed: the desk's KES it would hold is other orders'), then check the daily limit."""
        if uow.ledger.find_idempotencies([remittance_unconvert_key(order.id)]):
            raise _Unconverted(
                f"remittance {order.id}'s shillings went back into USDT to refund its sender: it is refunded "
                "(refund), not paid out"
            )
        self._within_daily_limit(uow, order)

    def _within_daily_limit(self, uow: PaymentsUnitOfWork, order: RemittanceOrder) -> None:
        """Refuse (``LimitExceeded``) a payout the recipient's M-Pesa daily limit cannot take today."""
        left = self._daily_room(uow, order, self.clock.now())
        if left is not None:
            raise LimitExceeded(
                f"M-Pesa cannot pay {order.kes} to {mask_msisdn(order.recipient_phone)} today: KES {left.amount:,} "
                "remains of the recipient's daily limit; the worker pays it after midnight in Nairobi",
                limit="mpesa.daily",
                remaining=str(left.amount),
            )

    def _name_score(self, given: str, registered: str) -> float:
        """How alike a name the sender gave and a name on record are (0-100): the best of the two ways round of
        ``matcher``'s score on the normalised names (a sender may write fewer or more of the names)."""
        assert self.matcher is not None  # the callers check it
        one, other = normalize_name(given), normalize_name(registered)
        return max(self.matcher.score(one, other), self.matcher.score(other, one))

    def _name_mismatch(self, uow: RemittanceUnitOfWork, order: RemittanceOrder, wallet: Wallet) -> float | None:
        """How far the order's ``recipient_name`` is from the wallet holder's verified legal name (their approved
        KYC application's), when it is below ``name_match``: the best of the two ways round of ``matcher``'s score
        (a sender may write fewer or more of the names). None when they match, when no matcher is configured, or
        when the holder has no verified name (tier 0: a phone only, whose remittance limits are small)."""
        if self.matcher is None:
            return None
        applications = uow.kyc_applications.for_party(wallet.user_id)
        approved = [a.person for a in applications if a.state is ApplicationState.APPROVED and a.person is not None]
        if not approved:
            return None
        score = self._name_score(order.recipient_name, approved[-1].legal_name)
        return score if score < self.name_match else None

    def _credit(self, uow: RemittanceUnitOfWork, order: RemittanceOrder, wallet: Wallet, now: datetime) -> None:
        flows.open_wallet_accounts(self.ledger, wallet.user_id, session=uow.ledger)
        entry = flows.credit_remittance(
            self.ledger,
            order_id=order.id,
            user_id=wallet.user_id,
            amount=order.kes,
            charge=order.charge,
            session=uow.ledger,
        )
        usage = Usage(self.ids.new_id("use"), wallet.user_id, Product.REMITTANCE.value, order.value, now, order.id)
        uow.wallet_usage.add(usage)
        order.route, order.recipient_id, order.paid_out_at = RemittanceRoute.WALLET, wallet.user_id, now
        order.finish(RemittanceState.PAID_OUT, now, "credited to the recipient's wallet")
        uow.remittances.update(order)
        details = {  # R10-10: what the sender paid, what the wallet got, at which quote
            "entry": entry.id,
            "user": wallet.user_id,
            "amount": str(order.kes),
            "charge": str(order.charge),
            "usdt": str(order.usdt),
            "quote": order.quote_id,
        }
        uow.audit.append(_event(_ACTOR, "remittance.credited", order.id, now, details))

    def _plan_b2c(self, uow: RemittanceUnitOfWork, order_id: str, actor: str) -> RemittanceOrder:
        order, now = _order(uow, order_id, lock=True), self.clock.now()
        payout_id = self.ids.new_id("po")
        hold = flows.start_payout(
            self.ledger,
            payout_id=payout_id,
            merchant_id=DESK,
            amount=order.kes,
            charge=order.charge,
            session=uow.ledger,
        )
        payout = Payout(
            id=payout_id,
            settlement_id=order.id,
            merchant_id=DESK,
            originator_id=payout_id,
            method=SettlementMethod.MPESA_B2C,
            destination=order.recipient_phone,
            amount=order.kes,
            charge=order.charge,
            hold_id=hold.id,
            created_at=now,
            kind=PayoutKind.REMITTANCE,
        )
        uow.payouts.add(payout)
        order.route, order.payout_id, order.attempts = RemittanceRoute.MPESA, payout_id, order.attempts + 1
        order.state, order.next_attempt_at, order.note = RemittanceState.PAYING_OUT, None, None
        uow.remittances.update(order)
        details = {"payout": payout_id, "amount": str(order.kes), "attempt": str(order.attempts)}
        uow.audit.append(_event(actor, "remittance.payout", order.id, now, details))
        return order

    def _on_payout(
        self, uow: RemittanceUnitOfWork, order: RemittanceOrder, now: datetime, payee: _PayeeName | None = None
    ) -> str | None:
        if order.payout_id is None and order.route is None:  # waited for screening (``_wait_for_screening``)
            if order.next_attempt_at is not None and now < order.next_attempt_at:
                return None
            if self.limits.per_day is not None:  # the lock order of a paid order's first step (``_on_invoice``)
                uow.payouts.lock_destination(order.recipient_phone)
            _lock_receiving(uow, order.recipient_phone, now)
            wait = self._pay_out(uow, order, now)
            return "waiting" if wait is not None and wait.new else None
        if order.payout_id is None:  # waiting for the recipient's M-Pesa daily limit
            if order.next_attempt_at is not None and now < order.next_attempt_at:
                return None
            if (wait := self._wait_for_daily_limit(uow, order, now)) is None:
                self._plan_b2c(uow, order.id, _ACTOR)
                return None
            return "waiting" if wait.new else None
        attempts = _attempts(uow, order)
        payout = attempts[-1] if attempts else None
        if len(attempts) != order.attempts:  # a retry made elsewhere (an operator, another worker) counts too
            order.attempts = len(attempts)
            uow.remittances.update(order)
        if payout is None or not payout.is_final:
            return None
        if payout.state is PayoutState.COMPLETED:
            named = self.matcher is not None and bool(payout.receiver_name)
            if named and (payee is None or payee.payout_id != payout.id):
                return None  # completed since the name was compared (none yet): the next run compares it first
            order.paid_out_at = payout.finished_at or now
            order.finish(RemittanceState.PAID_OUT, now, f"paid by M-Pesa, receipt {payout.receipt}")
            uow.remittances.update(order)
            details = {"payout": payout.id, "receipt": payout.receipt or ""}
            uow.audit.append(_event(_ACTOR, "remittance.paid_out", order.id, now, details))
            if payee is not None and payee.payout_id == payout.id:  # who M-Pesa says it paid, for the officers
                checked = {"payout": payout.id, "score": f"{payee.score:.0f}"}
                if payee.matched(self.name_match):
                    uow.audit.append(_event(_ACTOR, "remittance.payout_name_matched", order.id, now, checked))
                else:
                    checked["alert"] = ",".join(payee.alerts)
                    uow.audit.append(_event(_ACTOR, "remittance.payout_name_mismatch", order.id, now, checked))
            return "notify"
        why = f"payout {payout.id} failed ({payout.result_code}: {payout_wording(payout.result_code)})"
        if order.attempts >= self.policy.attempts:
            if not payout.failure_confirmed():  # M-Pesa may have paid it after all: Transaction Status decides first
                note = f"{why}; Transaction Status is asked whether it was paid before the USDT is refunded"
                if order.note != note:
                    order.note = note
                    uow.remittances.update(order)
                return "confirm"
            self._unconvert(uow, order, now, f"{why}; {order.attempts} attempts: refunding")
            return "refund"
        if order.next_attempt_at is None:
            order.next_attempt_at, order.note = now + self.policy.wait, f"{why}; tried again after {self.policy.wait}"
            uow.remittances.update(order)
            return None
        if now < order.next_attempt_at:
            return None
        if wait := self._wait_for_daily_limit(uow, order, now):
            return "waiting" if wait.new else None
        return "retry"

    def _retry(
        self,
        order_id: str,
        payout_id: str,
        actor: str,
        *,
        refuse_over_limit: bool = False,
        cleared: Mapping[str, str] | None = None,
    ) -> RemittanceOrder:
        """A new attempt, the daily limit checked in its unit of work (under the recipient's lock). Past the limit an
        operator is refused (``refuse_over_limit``); the worker's next step makes the order wait instead."""
        order = self.get(order_id)
        try:
            self.payouts().retry_failed_payout(payout_id, actor=actor, check=lambda uow: self._payable(uow, order))
        except (LimitExceeded, AwaitingStatus):  # past the limit, or Transaction Status asked: the next run retries
            if refuse_over_limit:
                raise
            return order
        except _Unconverted:
            raise
        except Refused:  # retried already (a crashed run, another worker): the order adopts that attempt
            pass

        def adopt(uow: RemittanceUnitOfWork) -> RemittanceOrder:
            order = _order(uow, order_id, lock=True)
            if order.state in (RemittanceState.PAYING_OUT, RemittanceState.HELD):
                if order.state is RemittanceState.HELD and cleared is not None:
                    self._release(uow, order, actor, cleared)
                # Counted from the payouts themselves: two workers retrying at once make one attempt, counted once.
                order.state, order.attempts, order.next_attempt_at = (
                    RemittanceState.PAYING_OUT,
                    len(_attempts(uow, order)),
                    None,
                )
                uow.remittances.update(order)
                uow.audit.append(_event(actor, "remittance.retry", order.id, self.clock.now(), {"failed": payout_id}))
            return order

        return in_transaction(self.uow, adopt)

    # --- refunds -------------------------------------------------------------------------------------------------

    def _start_refund(
        self, uow: RemittanceUnitOfWork, order_id: str, actor: str, address: str, reason: str = ""
    ) -> None:
        order, now = _order(uow, order_id, lock=True), self.clock.now()
        self._refundable(uow, order)
        if not _same_address(address, order.refund_address):  # who sent the sender's money elsewhere, and why
            details = {"from": order.refund_address, "to": address, "reason": reason}
            uow.audit.append(_event(actor, "remittance.refund_address_changed", order.id, now, details))
        order.refund_address = address
        self._unconvert(uow, order, now, f"refund asked by {actor}")

    def _refundable(self, uow: RemittanceUnitOfWork, order: RemittanceOrder) -> None:
        """``Refused`` once paid out or refunding, or while a payout is in flight; refused when nothing confirmed
        arrived (``_paid_rail``)."""
        payout = _current_payout(uow, order)
        if order.state in (RemittanceState.PAID_OUT, RemittanceState.REFUNDED, RemittanceState.REFUNDING):
            raise Refused(f"remittance {order.id} is {order.state.value}: it cannot be refunded now")
        if payout is not None and payout.state is not PayoutState.FAILED:
            raise Refused(f"remittance {order.id}'s payout {payout.id} is {payout.state.value}: wait for its result")
        invoice = uow.invoices.get(order.invoice_id)
        if invoice is None:
            raise NotFound(f"remittance {order.id} has no invoice {order.invoice_id}")
        _paid_rail(invoice)  # nothing confirmed arrived: refused before the order leaves its state

    def _unconvert(self, uow: RemittanceUnitOfWork, order: RemittanceOrder, now: datetime, note: str) -> None:
        """Back to USDT (the conversion reversed), to be refunded: ``refunding``."""
        if order.conversion_entry_id is not None:
            key = remittance_unconvert_key(order.id)
            self.ledger.reverse(order.conversion_entry_id, key, description=note, session=uow.ledger)
        order.state, order.note, order.next_attempt_at = RemittanceState.REFUNDING, note, None
        uow.remittances.update(order)
        uow.audit.append(_event(_ACTOR, "remittance.refunding", order.id, now, {"note": note}))

    def _on_refund(self, uow: RemittanceUnitOfWork, order: RemittanceOrder, now: datetime) -> str | None:
        if order.refund_id is None:
            return "refund"
        refund = uow.refunds.get(order.refund_id)
        if refund is None or refund.state in (RefundState.REQUESTED, RefundState.SENT):
            return None
        if refund.state is RefundState.CONFIRMED:
            order.finish(RemittanceState.REFUNDED, now, f"refunded {refund.amount} in {refund.tx_hash}")
        else:
            order.hold(f"the refund {refund.id} failed ({refund.failure}): an operator refunds again")
        uow.remittances.update(order)
        details = {"refund": refund.id, "state": refund.state.value}
        uow.audit.append(_event(_ACTOR, f"remittance.{order.state.value}", order.id, now, details))
        return None

    def _request_refund(self, order_id: str, actor: str) -> RemittanceOrder:
        """Ask the refund machinery to send everything the invoice received back (adopting one already asked)."""
        order = self.get(order_id)
        mine = [r for r in self.refunds.list_refunds(order.invoice_id) if r.id not in order.excess_refund_ids]
        open_ = [r for r in mine if r.state is not RefundState.FAILED]
        if open_:
            refund_id = open_[0].id
        else:
            invoice = self.invoice(order)
            try:
                rail = _paid_rail(invoice)  # the worker holds an order with nothing to refund, never raises on it
                amount = self.refunds.refundable(invoice.id, rail)
                refund_id = self.refunds.refund(
                    invoice.id, address=order.refund_address, requested_by=actor, rail=rail, amount=amount
                ).id
            except CryptopayError as error:
                raced = [
                    r
                    for r in self.refunds.list_refunds(order.invoice_id)
                    if r.state is not RefundState.FAILED and r.id not in order.excess_refund_ids
                ]
                if not raced:  # else another worker asked for it meanwhile (the invoice's lock let one through)
                    return in_transaction(self.uow, partial(self._refund_refused, order_id=order_id, error=error))
                refund_id = raced[0].id

        def record(uow: RemittanceUnitOfWork) -> RemittanceOrder:
            found = _order(uow, order_id, lock=True)
            found.refund_id, found.state = refund_id, RemittanceState.REFUNDING
            uow.remittances.update(found)
            return found

        return in_transaction(self.uow, record)

    def _refund_refused(self, uow: RemittanceUnitOfWork, order_id: str, error: CryptopayError) -> RemittanceOrder:
        order = _order(uow, order_id, lock=True)
        order.hold(f"the refund could not be asked: {error.message}")
        uow.remittances.update(order)
        uow.audit.append(_event(_ACTOR, "remittance.held", order.id, self.clock.now(), {"reason": error.code}))
        return order

    # --- telling the recipient -----------------------------------------------------------------------------------

    def _tell_waiting(self, order: RemittanceOrder) -> RemittanceOrder:
        """One SMS to the recipient when a payout starts waiting for the next day (the wait was claimed, once, in
        the step's unit of work); its outcome is audited. English, then Swahili: a recipient without an account has
        told us no language."""
        until = order.next_attempt_at
        assert until is not None
        outcome = self._send_capped(order, waiting_text(order.id, order.kes, order.sender, until))
        assert outcome is not None  # only an order's notice can find it told already
        details = {"to": mask_msisdn(order.recipient_phone), "until": until.isoformat(), "outcome": outcome}
        in_transaction(
            self.uow,
            lambda uow: uow.audit.append(
                _event(_ACTOR, "remittance.waiting_notified", order.id, self.clock.now(), details)
            ),
        )
        return order

    def _send_capped(self, order: RemittanceOrder, text: str, *, notice: bool = False) -> str | None:
        """Send an SMS about ``order`` unless its number had ``rules.sms_per_day`` remittance SMS today (then the
        skipped SMS is audited ``remittance.sms_capped``); the outcome for the audit record.

        The count and the reservation are one unit of work holding the number's lock
        (``uow.payouts.lock_destination``, after the order's row lock: the lock order every remittance step keeps):
        for the order's ``notice`` it marks the order told (``notified_at``), which the next worker's count includes
        as soon as this commits, so two workers telling one number at once cannot both send its last SMS of the day,
        and two workers on one order cannot both tell it (None: another worker told it already). The SMS is sent
        after that commits: a worker that dies in between loses a courtesy, never sends one twice."""
        now, cap = self.clock.now(), self.rules.sms_per_day

        def reserve(uow: RemittanceUnitOfWork) -> int | None:
            found = _order(uow, order.id, lock=True) if notice else None
            if found is not None and found.notified_at is not None:
                return None
            uow.payouts.lock_destination(order.recipient_phone)
            texted = _texted_today(uow, order, now, cap)
            if found is not None:
                found.notified_at = now
                uow.remittances.update(found)
            if texted >= cap:
                details = {"to": mask_msisdn(order.recipient_phone), "texted_today": str(texted)}
                uow.audit.append(_event(_ACTOR, "remittance.sms_capped", order.id, now, details))
            return texted

        texted = in_transaction(self.uow, reserve)
        if texted is None:
            return None
        if texted < cap:
            return self._send_sms(order.recipient_phone, text)
        return f"skipped: {cap} remittance SMS a day to this number"

    def _send_sms(self, phone: str, text: str) -> str:
        """Send one courtesy SMS; the outcome for the audit record (a failure never stops the money)."""
        sender = self.sms()
        if sender is None:
            return "skipped: no SMS provider"
        try:
            return f"sent {sender.send(SmsMessage(phone, text))}"
        except Exception as error:  # the money is safe either way; the message is a courtesy
            return f"failed: {type(error).__name__}"

    def _notify(self, order: RemittanceOrder) -> RemittanceOrder:
        """One SMS to the recipient, once (``_send_capped`` marks the order told before sending); its outcome is
        audited (a failed SMS too: the money is theirs either way)."""
        outcome = self._send_capped(order, notice_text(order), notice=True)

        def record(uow: RemittanceUnitOfWork) -> RemittanceOrder:
            found = _order(uow, order.id)
            if outcome is not None:
                details = {"to": mask_msisdn(order.recipient_phone), "outcome": outcome}
                uow.audit.append(_event(_ACTOR, "remittance.notified", order.id, self.clock.now(), details))
            return found

        return in_transaction(self.uow, record)


class _Unconverted(Refused):
    """A new payout of an order whose conversion was reversed (to refund its sender): it has no shillings."""


@attrs.frozen
class _Wait:
    """A payout waiting for the next day in Nairobi: ``until`` then; ``new`` when this step began the wait."""

    until: datetime
    new: bool


def _texted_today(uow: RemittanceUnitOfWork, order: RemittanceOrder, now: datetime, enough: int) -> int:
    """How many other remittances to ``order``'s number were told today (in Nairobi; counting stops at ``enough``):
    those paid by M-Pesa to the number today and those credited to the wallet at the number."""
    since = day_bounds(now)[0]
    phone = order.recipient_phone
    ids = {p.settlement_id for p in uow.payouts.to_destination(phone, since=since) if p.kind is PayoutKind.REMITTANCE}
    wallet = uow.wallets.by_phone(phone)
    if wallet is not None:
        uses = uow.wallet_usage.references(wallet.user_id, Product.REMITTANCE.value, after=None, limit=enough + 1)
        ids.update(uses)
    ids.discard(order.id)
    texted = 0
    for other_id in sorted(ids, reverse=True):
        other = uow.remittances.get(other_id)
        if other is not None and other.notified_at is not None and other.notified_at >= since:
            texted += 1
            if texted >= enough:
                break
    return texted


_SENDER_ABROAD_SW = "mtumaji wa ng'ambo"  # quoted_name's "a sender abroad", in Swahili


def notice_text(order: RemittanceOrder) -> str:
    """The recipient's SMS once the money arrived. The sender's name is quoted only as a valid person's name, cut
    to 40 characters (``quoted_name``): whatever else a sender typed never goes out under the platform's sender ID.

    >>> from datetime import UTC
    >>> from decimal import Decimal
    >>> order = RemittanceOrder(id="rmt_1", public_id="p", created_at=datetime(2026, 3, 2, tzinfo=UTC),
    ...     recipient_phone="254712345678", recipient_name="Achieng", refund_address="T",
    ...     sender=Sender(name="M-PESA Reversal: call 0700111222", country="GB"), requested=Money.of(100, KES),
    ...     usdt=Money.of(1, USDT), kes=Money.of(100, KES), charge=Money.of(0, KES), quote_id="q", bid=Decimal(1),
    ...     mid=Decimal(1), invoice_id="inv_1", route=RemittanceRoute.MPESA)
    >>> for part in notice_text(order).split(" / "):
    ...     print(part)
    You have received KES 100.00 from a sender abroad (GB), sent to your M-Pesa. Ref rmt_1.
    Umepokea KES 100.00 kutoka kwa mtumaji wa ng'ambo (GB), zimetumwa kwa M-Pesa yako. Ref rmt_1.

    In English and then Swahili, as every SMS to a number that has told us no language (review12 R12-7).
    """
    wallet = order.route is RemittanceRoute.WALLET
    where = "credited to your cryptopay wallet" if wallet else "sent to your M-Pesa"
    mahali = "zimewekwa kwenye pochi yako ya cryptopay" if wallet else "zimetumwa kwa M-Pesa yako"
    country, amount = order.sender.country, f"KES {order.kes.amount:,}"
    who = f"{quoted_name(order.sender.name)} ({country})"
    nani = f"{quoted_name(order.sender.name, fallback=_SENDER_ABROAD_SW)} ({country})"
    return (
        f"You have received {amount} from {who}, {where}. Ref {order.id}. / "
        f"Umepokea {amount} kutoka kwa {nani}, {mahali}. Ref {order.id}."
    )


def waiting_text(order_id: str, kes: Money, sender: Sender, until: datetime) -> str:
    """The recipient's SMS for a payout that waits for the next day, in English and then Swahili; the day is
    Nairobi's.

    >>> from datetime import UTC
    >>> until = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)  # midnight in Nairobi
    >>> text = waiting_text("rmt_1", Money.of(6000, KES), Sender(name="Grace Otieno", country="GB"), until)
    >>> text.startswith("cryptopay: KES 6,000 from Grace Otieno (GB) is paid to your M-Pesa on 03/03/2026")
    True
    >>> "zitatumwa kwa M-Pesa yako tarehe 03/03/2026" in text and "Ref rmt_1." in text
    True
    """
    day = until.astimezone(NAIROBI).strftime("%d/%m/%Y")
    amount, who = f"KES {kes.amount:,.0f}", f"{quoted_name(sender.name)} ({sender.country})"  # whole shillings
    return (
        f"cryptopay: {amount} from {who} is paid to your M-Pesa on {day}, after midnight: M-Pesa's daily limit "
        f"for this number is reached today. Ref {order_id}. / {amount} kutoka kwa {who} zitatumwa kwa M-Pesa "
        f"yako tarehe {day}, baada ya saa sita usiku: kikomo cha M-Pesa cha kila siku kwa nambari hii kimefikiwa leo."
    )


def _movement(
    order_id: str,
    party: str,
    value: Money,
    sender: Sender,
    at: datetime,
    wallet: Wallet | None,
    paid: InvoicePayment | None = None,
) -> Movement:
    """The remittance as monitoring sees it: value in, to the recipient, from the sender's country; once paid
    (``paid``: the payment the order took), on its network from the payer's address (before, the sender's name is
    the only counterparty there is)."""
    return Movement(
        id=f"remittance:{order_id}",
        party_id=party,
        product="remittance",
        direction=Direction.IN,
        amount=value,
        at=at,
        counterparty=(paid.transfer.from_address if paid else None) or sender.name,
        network=paid.transfer.network if paid else None,
        party_since=wallet.created_at if wallet else None,
        asset=USDT.code,
        country=sender.country,
    )


def _first_confirmed(invoice: Invoice) -> InvoicePayment | None:
    """The invoice's first confirmed payment (the one an order's price is taken from), if any."""
    return next((p for p in invoice.payments if is_confirmed(p, invoice.option(p.rail_key))), None)


_FROZEN = "frozen"  # ``check_wallet_movement``'s limit for a party compliance froze
# The states of an order whose USDT arrived (funded): what the Travel Rule's 24-hour sum counts (review4 R5)
_FUNDED = (
    RemittanceState.PAYING_OUT,
    RemittanceState.PAID_OUT,
    RemittanceState.HELD,
    RemittanceState.REFUNDING,
    RemittanceState.REFUNDED,
)


def _lock_receiving(uow: RemittanceUnitOfWork, phone: str, now: datetime) -> None:
    """Before a paid order's credit reads what the recipient's wallet took (``_pay_out`` -> ``_credit_check``): the
    wallet's receive lock when its tier limits remittances (tier 0), as a send to it, a claim, a deposit and a
    paybill credit take it (``UsageRepository.lock_receiving``; after the order's row, the number's lock and the
    originator's, before any ledger balance: the lock order in ``cryptopay.core.wallets.service``). Two runners
    crediting two orders to one wallet at once (the worker's tick, an operator's ``remittances advance``) read its
    usage one after the other, so both cannot pass a limit only one fits: the second goes by B2C (review8 R2)."""
    wallet = uow.wallets.by_phone(phone)
    if wallet is None or wallet.frozen:
        return
    profile = uow.kyc.get(wallet.user_id)
    if profile is not None and product_limited(profile, Product.REMITTANCE, at=now):
        uow.wallet_usage.lock_receiving(wallet.user_id)


def _credit_check(uow: RemittanceUnitOfWork, wallet: Wallet, value: Money, now: datetime) -> Decision:
    """Whether the recipient's wallet may take ``value`` now (its KYC limits for receiving remittances); a paid
    order's credit takes the wallet's receive lock first (``_lock_receiving``)."""
    profile = uow.kyc.get(wallet.user_id)
    if profile is None:
        raise NotFound(f"{wallet.user_id} has no KYC profile")
    return check_wallet_movement(profile, Product.REMITTANCE, value, spent=spending(uow, wallet.user_id, now), at=now)


def _paid_rail(invoice: Invoice) -> str:
    confirmed = [p for p in invoice.payments if is_confirmed(p, invoice.option(p.rail_key))]
    if not confirmed:
        raise Refused(f"invoice {invoice.id} received nothing confirmed: there is nothing to refund")
    return confirmed[0].rail_key


def _orders_in(uow: RemittanceUnitOfWork, *, state: RemittanceState, before: str | None) -> list[RemittanceOrder]:
    return uow.remittances.list(state=state, before=before, limit=200)


def _order(uow: RemittanceUnitOfWork, order_id: str, *, lock: bool = False) -> RemittanceOrder:
    found = uow.remittances.get(order_id, lock=lock)
    if found is None:
        raise NotFound(f"no remittance order {order_id}")
    return found


def _remittance_uow(uow: PaymentsUnitOfWork) -> RemittanceUnitOfWork:
    """The invoice's unit of work is the remittance one: ``Remittances`` is given one storage for both."""
    return cast(RemittanceUnitOfWork, uow)


def _failed(order_id: str, step: str, error: Exception) -> None:
    """Log an order the worker could not move: its id, the step and the error's kind and code, never the error's
    text (it may carry a phone, a name or a URL with a key); the order waits, unchanged, for the next run."""
    code = error.code if isinstance(error, CryptopayError) else "unexpected"
    _log.warning("remittance %s: %s raised %s (%s); left for the next run", order_id, step, type(error).__name__, code)


def _decided(order: RemittanceOrder, clearance: Clearance) -> bool:
    """Whether two officers decided the alert (a release or a refund approved: ``cleared_alerts``) and its case stays
    closed with no action; a case one officer closed (``Monitoring.move``) is not a decision on the money."""
    return clearance.cleared and clearance.alert_id in order.cleared_alerts


def _why(clearance: Clearance) -> str:
    """What an alert still waits for, for people (``Clearance.why``; a case one officer closed says so)."""
    if clearance.cleared:
        return f"alert {clearance.alert_id}: case {clearance.case_id} was closed by one officer, not released by two"
    return clearance.why


def _refuse_another(order_id: str, kind: str, at: datetime, read: datetime | None) -> None:
    """``Conflict`` when the officer read a proposal made at ``read`` and the one standing was made at ``at``."""
    if read is not None and read != at:
        raise Conflict(f"the {kind} proposed on remittance {order_id} is another one now: read it again")


def _officers_note(note: str) -> str:
    """An officer's decision says why (``InvalidInput`` naming ``note`` otherwise)."""
    if not note.strip():
        raise InvalidInput("a compliance decision on a held order says why", field="note")
    return note.strip()


def _same_address(one: str, other: str) -> bool:
    """Whether two refund addresses are one (an EVM address's checksum case is not part of it).

    >>> _same_address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x70997970c51812dc3a010c7d01b50e0d17dc79c8")
    True
    """
    return originator_keys(one, "")[0] == originator_keys(other, "")[0]


def _event(actor: str, action: str, order_id: str, at: datetime, details: Mapping[str, str]) -> AuditEvent:
    return AuditEvent(actor, action, f"remittance:{order_id}", at, dict(details))


def _screened(alerts: Sequence[Alert]) -> str | None:
    """The officers' note on an order opened with sanctions screening alerts (its sender is never told).

    >>> _screened([])
    """
    if not alerts:
        return None
    match = "strong" if any(a.blocking for a in alerts) else "possible"
    ids = ",".join(a.id for a in alerts)
    return f"opened with a {match} sanctions match under compliance review (alerts {ids}): held once paid"


def _sender_name(name: str) -> str:
    """The sender's name as an order takes it: a person's name (``person_name_problem``), 422 ``invalid_name``."""
    if (problem := person_name_problem(name)) is not None:
        raise InvalidName(f"the sender's name: {problem}", field="sender.name")
    return name.strip()


def _recipient_name(name: str) -> str:
    """The recipient's name as an order takes it: a person's name, as the sender's (422 ``invalid_name`` on
    ``recipient_name``): it goes into the Travel Rule's beneficiary record, the STR export and sanctions screening,
    so it carries no phone number, link or instruction either. At most 100 characters (the request's bound)."""
    if (problem := person_name_problem(name, most=100)) is not None:
        raise InvalidName(f"the recipient's name: {problem}", field="recipient_name")
    return name.strip()


_STRAY_PAGE = 100


# Stablecoins the excess floor (a USDT amount) is read for as dollars: a stray of another asset is held by the fee.
_DOLLARS = frozenset({USDT, USDC})
# What ``_stray_held`` wrote in ``excess_note`` before strays had their own marker (``strays_held``): cleared.
_STRAY_NOTE = (
    "a payment in an asset or on a network the order does not ask for is too small to send back on chain "
    "(at most the floor or the network's fee): an operator decides (refunds wrong-network)"
)


@attrs.define
class _StrayRun:
    """What one ``refund_strays`` run read already: orders by id, refund fees by rail key."""

    orders: dict[str, RemittanceOrder] = attrs.field(factory=dict)
    fees: dict[str, Money] = attrs.field(factory=dict)


def _pending_strays(uow: RemittanceUnitOfWork, before: str | None) -> list[tuple[WrongNetworkPayment, str | None]]:
    """A page of the desk's pending wrong-network and wrong-asset payments with the order of each one's invoice."""
    page = uow.wrong_network_payments.list(
        state=WrongNetworkState.PENDING, before=before, limit=_STRAY_PAGE, merchant_id=DESK
    )
    orders: dict[str, str | None] = {}  # many strays to one order (dust aimed at it): its invoice read once
    for stray in page:
        if stray.invoice_id not in orders:
            invoice = uow.invoices.get(stray.invoice_id)
            orders[stray.invoice_id] = invoice.order_id if invoice else None
    return [(stray, orders[stray.invoice_id]) for stray in page]


def _held_note(error: CryptopayError) -> str:
    """The order's ``excess_note`` for what arrived beyond it that ``error`` kept from being refunded."""
    return f"what arrived beyond the order could not be refunded: {error.message}"
