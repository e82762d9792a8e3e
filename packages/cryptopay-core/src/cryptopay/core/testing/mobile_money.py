"""An in-memory M-Pesa: the fake ``MobileMoneyGateway`` and the engine behind the Daraja sandbox.

It keeps our M-Pesa float, customer and business balances, decides each transaction by a scenario, and
emits Daraja-shaped callbacks as ``Delivery`` objects (kept in ``outbox`` unless a ``deliver`` hook is given).

Magic test numbers (any other number succeeds; ``set_scenario`` overrides per phone or shortcode):

=============  ===================  =======================================================================
phone          scenario             what happens
=============  ===================  =======================================================================
254711000001   cancelled            result 1032, the customer cancelled the prompt; no money moves
254711000002   unreachable          result 1037, the phone could not be reached; no money moves
254711000003   insufficient_funds   result 1, the customer (STK) or our float (B2C) lacks funds
254711000004   wrong_pin            result 2001, wrong PIN / invalid initiator
254711000005   unregistered         result 2040, not a registered M-Pesa customer (B2C)
254711000006   duplicate_callback   succeeds; the callback arrives twice
254711000007   late_callback        succeeds at once (a query tells); the callback arrives late
254711000008   lost_callback        succeeds; the callback never arrives (only a query tells)
254711000009   throttled            the first two calls answer 500.003.02 (sandbox); then succeeds
254711000010   token_expired        the first call answers 404.001.03 (sandbox); then succeeds
254711000011   slow                 stays "being processed" until completed (late in the sandbox)
254711000012   queue_timeout        succeeds, but only the QueueTimeOutURL is hit (a query tells)
254711000013   response_lost        processed, but the answer is lost: the caller gets ``OutcomeUnknown``
254711000014   biller_rejected      result BR0001: a (simulated) biller refused the account; no money moves
=============  ===================  =======================================================================

Simulated billers (B2B BusinessPayBill): a payment to ``PREPAID_BILLER`` (888880, KPLC prepaid's paybill) succeeds
with a 20-digit ``PrepaidToken`` ResultParameter. Real KPLC does not do this: Daraja's B2B result carries no token,
KPLC sends it by SMS to the phone registered for the meter; the simulation lets the "a token came back" path be
exercised. A payment whose AccountReference is ``REJECTED_ACCOUNT`` (eleven zeros) is refused by the biller
(``biller_rejected``), as a closed or unknown account would be.

>>> from cryptopay.core.mobile_money import StkPushRequest
>>> fake = FakeMobileMoney()
>>> accepted = fake.stk_push(StkPushRequest(phone="0711000001", amount=10, account_reference="A1",
...                                         callback_url="https://shop.example/cb/t"))
>>> fake.stk_query(accepted.checkout_request_id).result_code
'1032'
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.mobile_money import (
    AccountBalanceRequest,
    Acknowledgement,
    B2BRequest,
    B2CRequest,
    C2BRegistration,
    MpesaResult,
    ReversalRequest,
    StkPushAccepted,
    StkPushRequest,
    TransactionStatusRequest,
    error_for_envelope,
    normalize_msisdn,
    parse_payload,
    stk_query_still_processing,
)
from cryptopay.core.mobile_money.errors import OutcomeUnknown
from cryptopay.core.mobile_money.limits import B2C_TARIFF
from cryptopay.core.money import KES, Money
from cryptopay.core.ports.system import Clock
from cryptopay.core.system import SystemClock
from cryptopay.core.testing import daraja_payloads as payloads

__all__ = [
    "MAGIC_NUMBERS",
    "PREPAID_BILLER",
    "REJECTED_ACCOUNT",
    "Delay",
    "Delivery",
    "FakeMobileMoney",
    "Scenario",
    "SimTransaction",
]


class Scenario(enum.Enum):
    SUCCESS = "success"
    CANCELLED = "cancelled"
    UNREACHABLE = "unreachable"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    WRONG_PIN = "wrong_pin"
    UNREGISTERED = "unregistered"
    DUPLICATE_CALLBACK = "duplicate_callback"
    LATE_CALLBACK = "late_callback"
    LOST_CALLBACK = "lost_callback"
    THROTTLED = "throttled"
    TOKEN_EXPIRED = "token_expired"
    SLOW = "slow"
    QUEUE_TIMEOUT = "queue_timeout"
    RESPONSE_LOST = "response_lost"
    BILLER_REJECTED = "biller_rejected"


MAGIC_NUMBERS: dict[str, Scenario] = {
    f"2547110000{index:02d}": scenario for index, scenario in enumerate(list(Scenario)[1:], start=1)
}
_FAILURES = {
    Scenario.CANCELLED: ("1032", "Request cancelled by user"),
    Scenario.UNREACHABLE: ("1037", "DS timeout user cannot be reached"),
    Scenario.INSUFFICIENT_FUNDS: ("1", "The balance is insufficient for the transaction."),
    Scenario.WRONG_PIN: ("2001", "The initiator information is invalid."),
    Scenario.UNREGISTERED: (
        "2040",
        "Credit Party customer type (Unregistered or Registered Customer) can't be supported by the service.",
    ),
}
_FAILURES[Scenario.BILLER_REJECTED] = ("BR0001", "The biller rejected the account reference (simulated biller).")
_OK = ("0", "The service request is processed successfully.")
PREPAID_BILLER = "888880"  # the simulated prepaid biller: its results carry a PrepaidToken
REJECTED_ACCOUNT = "00000000000"  # a B2B AccountReference the simulated billers refuse
_INSUFFICIENT = _FAILURES[Scenario.INSUFFICIENT_FUNDS]


class Delay(enum.Enum):
    NOW = "now"
    LATE = "late"


@attrs.frozen
class Delivery:
    """One callback M-Pesa would POST: where, what, and whether it comes late."""

    url: str
    payload: Any
    delay: Delay = Delay.NOW


@attrs.define
class SimTransaction:
    """A simulated M-Pesa transaction and its fate."""

    product: str  # stk, b2c, b2b, reversal, c2b
    reference: str  # CheckoutRequestID for STK, else OriginatorConversationID
    conversation_id: str
    amount: Money
    scenario: Scenario
    phone: str | None = None
    counterparty: str | None = None  # B2B receiver, or the reversed receipt
    account_reference: str = ""  # a B2B paybill payment's or an STK Push's AccountReference
    result_url: str | None = None
    timeout_url: str | None = None
    state: str = "open"  # open, succeeded, failed
    result_code: str = ""
    result_desc: str = ""
    receipt: str | None = None
    completed_at: datetime | None = None
    reversed: bool = False
    remarks: str = ""  # the request's Remarks (B2C, B2B)


class FakeMobileMoney:
    """The in-memory gateway; ``auto_complete=False`` leaves transactions open until ``complete`` (sandbox use)."""

    def __init__(
        self,
        *,
        shortcode: str = "600000",
        payout_shortcode: str | None = None,
        float_balance: object = "10000000",
        customer_balance: object = "100000",
        clock: Clock | None = None,
        auto_complete: bool = True,
        deliver: Callable[[Delivery], None] | None = None,
    ) -> None:
        self.shortcode = shortcode  # the paybill: STK Push and C2B collections
        # the B2C/B2B PartyA (``shortcode`` when None): its statement holds the payouts. One float serves both here.
        self.payout_shortcode = payout_shortcode or shortcode
        self.float_balance = Money.of(float_balance, KES)
        # M-Pesa's own B2C charges (``B2C_TARIFF``), taken into the Charges Paid Account as Safaricom's sample B2C
        # result and Account Balance answer show it (negative): the float net of charges is the two together.
        self.charges_paid = Money.zero(KES)
        self._default_balance = Money.of(customer_balance, KES)
        self._customers: dict[str, Money] = {}
        self._businesses: dict[str, Money] = {}
        self._clock = clock or SystemClock()
        self.opened_at = self._clock.now()  # the float's account opened: its statements' earliest start
        self._auto = auto_complete
        self._deliver = deliver or self._keep
        self._scenarios: dict[str, Scenario] = dict(MAGIC_NUMBERS)
        self._names: dict[str, str] = {}  # who a number is registered to (ReceiverPartyPublicName), when set
        self._tx: dict[str, SimTransaction] = {}
        self._by_receipt: dict[str, SimTransaction] = {}
        self._c2b_urls: C2BRegistration | None = None
        self._counter = itertools.count(1)
        self._lock = threading.RLock()
        self.outbox: list[Delivery] = []
        self.held: list[Delivery] = []

    def now(self) -> datetime:
        """The simulated M-Pesa's time now (its clock)."""
        return self._now()

    # ---- controls -------------------------------------------------------------------------------------------
    def set_scenario(self, key: str, scenario: Scenario | str) -> None:
        """Choose the scenario for a phone number (any accepted form) or a business shortcode."""
        with self._lock:
            self._scenarios[_key(key)] = Scenario(scenario)

    def register_name(self, phone: str, name: str) -> None:
        """Register ``phone`` (any accepted form) to ``name``: what a B2C result's ``ReceiverPartyPublicName`` and a
        status answer's ``CreditPartyName`` then name after the number (by default ``SANDBOX CUSTOMER``)."""
        if not name.strip():
            raise InvalidInput("a registered name is not blank", field="name")
        with self._lock:
            self._names[normalize_msisdn(phone)] = name.strip()

    def registered_name(self, phone: str | None) -> str:
        """Who ``phone`` is registered to, as M-Pesa's answers name it."""
        with self._lock:
            found = self._names.get(normalize_msisdn(phone)) if phone else None
        return found or payloads.SANDBOX_CUSTOMER

    def scenario_for(self, key: str | None) -> Scenario:
        with self._lock:
            return self._scenarios.get(_key(key), Scenario.SUCCESS) if key else Scenario.SUCCESS

    def balance(self, phone: str) -> Money:
        """A customer's M-Pesa balance."""
        with self._lock:
            return self._customers.get(normalize_msisdn(phone), self._default_balance)

    def set_balance(self, phone: str, amount: object) -> None:
        with self._lock:
            self._customers[normalize_msisdn(phone)] = Money.of(amount, KES)

    def business_balance(self, shortcode: str) -> Money:
        with self._lock:
            return self._businesses.get(shortcode, Money.zero(KES))

    def transaction(self, reference: str) -> SimTransaction:
        with self._lock:
            return self._tx[reference]

    def transactions(self) -> list[SimTransaction]:
        with self._lock:
            return list(self._tx.values())

    def callbacks(self, url_prefix: str = "") -> list[MpesaResult]:
        """The callbacks delivered so far (to URLs starting with ``url_prefix``), parsed."""
        with self._lock:
            return [parse_payload(d.payload) for d in self.outbox if d.url.startswith(url_prefix)]

    def release_late(self) -> None:
        """Deliver the callbacks held back as late."""
        with self._lock:
            late, self.held = self.held, []
            self.outbox.extend(late)

    def complete_open(self) -> None:
        """Decide every transaction still open (slow ones included)."""
        with self._lock:
            for tx in [t for t in self._tx.values() if t.state == "open"]:
                self.complete(tx.reference)

    # ---- the port -------------------------------------------------------------------------------------------
    def stk_push(self, request: StkPushRequest, *, scenario: Scenario | None = None) -> StkPushAccepted:
        with self._lock:
            checkout = f"ws_CO_{self._stamp()}{self._next():06d}"
            tx = SimTransaction(
                "stk",
                checkout,
                f"{self._next()}-{self._next()}-1",
                request.amount,
                scenario or self.scenario_for(request.phone),
                phone=request.phone,
                account_reference=request.account_reference,
                result_url=request.callback_url,
            )
            self._submit(tx)
            return StkPushAccepted(
                merchant_request_id=tx.conversation_id,
                checkout_request_id=checkout,
                description="Success. Request accepted for processing",
                customer_message="Success. Request accepted for processing",
            )

    def stk_query(self, checkout_request_id: str) -> MpesaResult:
        with self._lock:
            tx = self._tx.get(checkout_request_id)
            if tx is None or tx.product != "stk":
                raise error_for_envelope("400.002.02", "Bad Request - Invalid CheckoutRequestID")
            if tx.state == "open":
                return stk_query_still_processing(checkout_request_id)
            answer = payloads.stk_query_answer(tx.conversation_id, tx.reference, tx.result_code, tx.result_desc)
            return parse_payload(answer)

    def b2c(self, request: B2CRequest, *, scenario: Scenario | None = None) -> Acknowledgement:
        with self._lock:
            if request.originator_conversation_id in self._tx:
                raise error_for_envelope("500.002.1001", "Duplicate OriginatorConversationID.")
            tx = SimTransaction(
                "b2c",
                request.originator_conversation_id,
                self._conversation(),
                request.amount,
                scenario or self.scenario_for(request.phone),
                phone=request.phone,
                result_url=request.result_url,
                timeout_url=request.timeout_url,
                remarks=request.remarks,
            )
            return self._submit(tx)

    def b2b(self, request: B2BRequest, *, scenario: Scenario | None = None) -> Acknowledgement:
        with self._lock:
            tx = SimTransaction(
                "b2b",
                f"{self._next()}-{self._next()}-1",
                self._conversation(),
                request.amount,
                scenario or self._b2b_scenario(request),
                counterparty=request.receiver,
                account_reference=request.account_reference,
                result_url=request.result_url,
                timeout_url=request.timeout_url,
                remarks=request.remarks,
            )
            return self._submit(tx)

    def _b2b_scenario(self, request: B2BRequest) -> Scenario:
        if request.account_reference == REJECTED_ACCOUNT:
            return Scenario.BILLER_REJECTED
        return self.scenario_for(request.receiver)

    def reversal(self, request: ReversalRequest, *, scenario: Scenario | None = None) -> Acknowledgement:
        with self._lock:
            original = self._by_receipt.get(request.transaction_id)
            tx = SimTransaction(
                "reversal",
                f"{self._next()}-{self._next()}-1",
                self._conversation(),
                request.amount,
                scenario or self._scenarios.get(request.transaction_id, Scenario.SUCCESS),  # set_scenario(TransID)
                phone=original.phone if original else None,
                counterparty=request.transaction_id,
                result_url=request.result_url,
                timeout_url=request.timeout_url,
            )
            return self._submit(tx)

    def transaction_status(self, request: TransactionStatusRequest, **_: object) -> Acknowledgement:
        with self._lock:
            originator, conversation = f"{self._next()}-{self._next()}-1", self._conversation()
            found = self._by_receipt.get(request.transaction_id or "") or self._tx.get(
                request.originator_conversation_id or ""
            )
            self._emit(Delivery(request.result_url, self._status_payload(found, originator, conversation)))
            return Acknowledgement(
                originator_conversation_id=originator,
                conversation_id=conversation,
                description="Accept the service request successfully.",
            )

    def account_balance(self, request: AccountBalanceRequest, **_: object) -> Acknowledgement:
        with self._lock:
            originator, conversation = f"{self._next()}-{self._next()}-1", self._conversation()
            payload = payloads.account_balance_result(
                originator, conversation, self.float_balance, self._now(), charges_paid=self.charges_paid
            )
            self._emit(Delivery(request.result_url, payload))
            return Acknowledgement(
                originator_conversation_id=originator,
                conversation_id=conversation,
                description="Accept the service request successfully.",
            )

    def register_c2b_urls(self, request: C2BRegistration, **_: object) -> Acknowledgement:
        with self._lock:
            self._c2b_urls = request
            return Acknowledgement(
                originator_conversation_id=f"{self._next()}-{self._next()}-1",
                conversation_id=None,
                description="Success",
            )

    def simulate_c2b(
        self, phone: str, amount: object, bill_ref: str, validate: Callable[[Any], Mapping[str, Any]] | None = None
    ) -> str | None:
        """A customer pays our paybill: validation (if ``validate`` is given) then confirmation; the receipt."""
        with self._lock:
            if self._c2b_urls is None:
                raise error_for_envelope("400.002.02", "Bad Request - No C2B URLs registered for this ShortCode")
            msisdn, money = normalize_msisdn(phone), Money.of(amount, KES)
            receipt = self._receipt()
            payload = payloads.c2b_confirmation(receipt, money, self.shortcode, bill_ref, msisdn, self._now())
            if validate is not None and str(validate(payload).get("ResultCode", "0")) != "0":
                return None
            if self.balance(msisdn) < money:
                return None
            self._customers[msisdn] = self.balance(msisdn) - money
            self.float_balance += money
            payload["OrgAccountBalance"] = str(self.float_balance.amount)  # the account's balance after it, as Daraja's
            tx = SimTransaction(
                "c2b",
                receipt,
                receipt,
                money,
                Scenario.SUCCESS,
                msisdn,
                account_reference=bill_ref,
                state="succeeded",
                receipt=receipt,
                completed_at=self._now(),
            )
            self._by_receipt[receipt] = self._tx[receipt] = tx  # on its record (the statement), as any payment
            self._emit(Delivery(self._c2b_urls.confirmation_url, payload))
            return receipt

    def c2b_validation_url(self) -> str | None:
        with self._lock:
            return self._c2b_urls.validation_url if self._c2b_urls else None

    # ---- completion -----------------------------------------------------------------------------------------
    def complete(self, reference: str) -> None:
        """Decide an open transaction: move money (or not) and emit its callbacks per its scenario."""
        with self._lock:
            tx = self._tx[reference]
            if tx.state != "open":
                return
            code, desc = _FAILURES.get(tx.scenario) or self._settle(tx)
            tx.result_code, tx.result_desc, tx.completed_at = code, desc, self._now()
            tx.state = "succeeded" if code == "0" else "failed"
            self._announce(tx)

    def _settle(self, tx: SimTransaction) -> tuple[str, str]:
        if tx.product == "reversal":
            return self._settle_reversal(tx)
        payer = tx.phone if tx.product == "stk" else None
        available = self.balance(payer) if payer else self.float_balance
        if available < tx.amount:
            return _INSUFFICIENT
        if payer:
            self._customers[payer] = available - tx.amount
            self.float_balance += tx.amount
        else:
            self.float_balance -= tx.amount
            if tx.product == "b2c":
                self.charges_paid -= B2C_TARIFF.charge(tx.amount)
            self._credit(tx)
        tx.receipt = self._receipt()
        self._by_receipt[tx.receipt] = tx
        return _OK

    def _credit(self, tx: SimTransaction) -> None:
        if tx.product == "b2c" and tx.phone:
            self._customers[tx.phone] = self.balance(tx.phone) + tx.amount
        elif tx.counterparty:
            self._businesses[tx.counterparty] = self.business_balance(tx.counterparty) + tx.amount

    def _settle_reversal(self, tx: SimTransaction) -> tuple[str, str]:
        original = self._by_receipt.get(tx.counterparty or "")
        if original is None or original.state != "succeeded" or original.reversed or original.product == "reversal":
            return "R000002", "The OriginalTransactionID is invalid."
        if tx.amount != original.amount:
            return "R000003", "The amount does not match the original transaction."
        if original.product in ("stk", "c2b") and original.phone:
            self.float_balance -= tx.amount
            self._customers[original.phone] = self.balance(original.phone) + tx.amount
        else:
            self.float_balance += tx.amount
            self._undo_credit(original)
        original.reversed = True
        tx.receipt = self._receipt()
        self._by_receipt[tx.receipt] = tx
        return _OK

    def _undo_credit(self, original: SimTransaction) -> None:
        if original.product == "b2c" and original.phone:
            self._customers[original.phone] = self.balance(original.phone) - original.amount
        elif original.counterparty:
            self._businesses[original.counterparty] = self.business_balance(original.counterparty) - original.amount

    def _announce(self, tx: SimTransaction) -> None:
        if tx.scenario is Scenario.LOST_CALLBACK or (tx.scenario is Scenario.QUEUE_TIMEOUT and not tx.timeout_url):
            return
        if tx.scenario is Scenario.QUEUE_TIMEOUT and tx.timeout_url:
            self._emit(Delivery(tx.timeout_url, payloads.queue_timeout_result(tx.reference, tx.conversation_id)))
            return
        delivery = Delivery(
            tx.result_url or "",
            self._result_payload(tx),
            Delay.LATE if tx.scenario is Scenario.LATE_CALLBACK else Delay.NOW,
        )
        self._emit(delivery)
        if tx.scenario is Scenario.DUPLICATE_CALLBACK:
            self._emit(delivery)

    def _result_payload(self, tx: SimTransaction) -> Any:
        at = tx.completed_at or self._now()
        if tx.product == "stk":
            return payloads.stk_callback(
                tx.conversation_id,
                tx.reference,
                tx.result_code,
                tx.result_desc,
                amount=tx.amount,
                receipt=tx.receipt,
                phone=tx.phone,
                at=at,
            )
        if tx.state != "succeeded" or tx.receipt is None:
            placeholder = f"{tx.reference[:3].upper()}0000000"
            return payloads.failed_result(tx.result_code, tx.result_desc, tx.reference, tx.conversation_id, placeholder)
        if tx.product == "b2c":
            return payloads.b2c_result(
                tx.reference,
                tx.conversation_id,
                tx.receipt,
                tx.amount,
                tx.phone or "",
                at,
                self.float_balance,
                name=self.registered_name(tx.phone),
                charges_paid=self.charges_paid,
            )
        if tx.product == "b2b":
            token = _prepaid_token(tx.receipt) if tx.counterparty == PREPAID_BILLER else None
            return payloads.b2b_result(
                tx.reference,
                tx.conversation_id,
                tx.receipt,
                tx.amount,
                tx.counterparty or "",
                at,
                tx.account_reference,
                token=token,
            )
        return payloads.reversal_result(
            tx.reference, tx.conversation_id, tx.receipt, tx.counterparty or "", tx.amount, tx.phone, at
        )

    def _status_payload(self, tx: SimTransaction | None, originator: str, conversation: str) -> Any:
        if tx is None:
            return payloads.not_found_status_result(originator, conversation)
        status = {"open": "Pending", "succeeded": "Completed", "failed": "Failed"}[tx.state]
        if tx.reversed:  # a transaction M-Pesa reversed says so when asked about by its receipt
            status = "Reversed"
        return payloads.status_result(
            originator,
            conversation,
            receipt=tx.receipt,
            status=status,
            amount=tx.amount,
            phone=tx.phone,
            original_originator=tx.reference,
            original_conversation=tx.conversation_id,
            at=tx.completed_at or self._now(),
            business=tx.counterparty if tx.product == "b2b" else None,
            name=self.registered_name(tx.phone),
            paid_to=self.shortcode if tx.product == "c2b" else None,
        )

    # ---- plumbing -------------------------------------------------------------------------------------------
    def _submit(self, tx: SimTransaction) -> Acknowledgement:
        self._tx[tx.reference] = tx
        if self._auto and tx.scenario is not Scenario.SLOW:
            self.complete(tx.reference)
        if tx.scenario is Scenario.RESPONSE_LOST and self._auto:  # the sandbox loses the answer on the wire instead
            raise OutcomeUnknown("the answer from M-Pesa was lost (fake)", reference=tx.reference)
        return Acknowledgement(
            originator_conversation_id=tx.reference,
            conversation_id=tx.conversation_id,
            description="Accept the service request successfully.",
        )

    def _emit(self, delivery: Delivery) -> None:
        self._deliver(delivery)

    def _keep(self, delivery: Delivery) -> None:
        (self.held if delivery.delay is Delay.LATE else self.outbox).append(delivery)

    def _next(self) -> int:
        return next(self._counter)

    def _now(self) -> datetime:
        return self._clock.now()

    def _stamp(self) -> str:
        return self._now().strftime("%d%m%Y%H%M%S")

    def _conversation(self) -> str:
        return f"AG_{self._now():%Y%m%d}_{self._next():020x}"

    def _receipt(self) -> str:
        return f"SBX{self._next():07d}"


def _key(key: str) -> str:
    try:
        return normalize_msisdn(key)
    except ValueError:
        return key.strip()


def _prepaid_token(receipt: str) -> str:
    """A 20-digit token derived from the receipt (the same receipt always gives the same token)."""
    return f"{int(hashlib.sha256(receipt.encode()).hexdigest(), 16) % 10**20:020d}"
