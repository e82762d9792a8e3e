"""Payments customers make to our paybill from the SIM menu or the M-Pesa app (Daraja C2B), outside any STK prompt.

A customer who pays the paybill with a wallet's phone number or username as the account number (BillRefNumber) is
topping that wallet up with shillings. M-Pesa tells us twice: it asks our ValidationURL first (when external
validation is enabled for the shortcode) and posts the completed payment to our ConfirmationURL.

URLs and their secret (decision). C2B URLs are registered once per shortcode, not per request, so ``register_urls``
issues a fresh token for each registration and keeps only its digest (committed before Daraja is asked); both URLs
end in it, and a confirmation or validation on any other token is ``Forbidden`` (a 403, nothing written), whatever
it names. A newer registration Daraja accepted supersedes the older ones: their tokens stop working. The source
allowlist and the rate limit of the other Daraja hooks apply in front (``daraja_hooks``).

Booking (decision: nothing is lost, nothing credited at a guess). ``confirm`` is idempotent on M-Pesa's TransID
(the statement's receipt): a repeated confirmation books nothing and is audited. A payment whose BillRefNumber names
a wallet (a phone number in any form people write it, or a username) that may receive it now (not frozen, a KYC
profile, its tier's ``Product.RECEIVE`` limits) credits the wallet's KES: Dr ``assets:mpesa_collections:KES`` / Cr
``liabilities:wallet:<user>:KES``. Anything else (no wallet by that reference, over the limit, a frozen wallet) is
held in ``liabilities:paybill_suspense:KES`` with the reason, for an operator who either ``release``s it to a wallet
(the limits checked again) or ``send_back``s it (the payer gets it back by an M-Pesa reversal of the TransID:
Dr suspense / Cr mpesa_collections; reconciliation then expects that reversal on the statement). Each decision
needs a note and is audited.

Validation answers accept unless the payment is not to our shortcode or has no positive amount: an unknown
reference is accepted and held rather than refused, because the payer cannot be told why at the till.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs
from cryptopay.core import flows
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.feed import MonitoringFeed, movement
from cryptopay.core.compliance.rules import Direction
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound
from cryptopay.core.identity.credentials import hash_secret, new_secret
from cryptopay.core.identity.model import Forbidden
from cryptopay.core.kyc import Product, check_wallet_movement
from cryptopay.core.ledger import Ledger
from cryptopay.core.mobile_money import C2BRegistration, MpesaResult, PayloadKind, c2b_accept, c2b_reject
from cryptopay.core.mobile_money.errors import MpesaError, OutcomeUnknown
from cryptopay.core.mobile_money.phones import try_normalize_msisdn
from cryptopay.core.money import KES, Money
from cryptopay.core.ports.mobile_money import MobileMoneyGateway
from cryptopay.core.ports.paybill import PaybillUnitOfWork, PaybillUowFactory
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.wallets.model import Usage, Wallet
from cryptopay.core.wallets.service import spending

__all__ = ["PAYBILL", "Paybill", "PaybillPayment", "PaybillState", "RegistrationState", "UrlRegistration"]

PAYBILL = "wallet_paybill"  # the monitoring product of a paybill top-up
MAX_NOTE = 500


class PaybillState(enum.Enum):
    CREDITED = "credited"  # its account number named a wallet that took it
    SUSPENDED = "suspended"  # in the suspense account, waiting for an operator (``reason`` says why)
    RELEASED = "released"  # an operator credited it to a wallet out of the suspense account
    RETURNED = "returned"  # an operator gave it back to the payer (an M-Pesa reversal of its TransID)


@attrs.define(kw_only=True)
class PaybillPayment:
    """One customer payment to our paybill, as M-Pesa's confirmation told it, and where it went."""

    id: str
    trans_id: str  # M-Pesa's TransID: the statement's receipt
    kes: Money
    shortcode: str
    bill_ref: str  # the account number the payer typed
    msisdn: str  # as M-Pesa sent it: Daraja v2 masks it (``2547 ***** 126``)
    payer: str  # FirstName MiddleName LastName as sent
    paid_at: datetime  # TransTime
    received_at: datetime
    state: PaybillState
    user_id: str | None = None  # the wallet credited (at once or by an operator)
    reason: str = ""  # why it was held in the suspense account
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str = ""
    repeats: int = 0  # confirmations of the same TransID after the first

    @property
    def booked_to_wallet(self) -> bool:
        return self.state in (PaybillState.CREDITED, PaybillState.RELEASED)


class RegistrationState(enum.Enum):
    PENDING = "pending"  # recorded; Daraja not answered yet (its URLs may already be in use)
    ACTIVE = "active"  # Daraja accepted the URLs
    FAILED = "failed"  # Daraja refused them: its token answers nothing
    SUPERSEDED = "superseded"  # a newer registration was accepted: its token answers nothing


@attrs.define(kw_only=True)
class UrlRegistration:
    """One registration of our C2B URLs for a shortcode; the URLs end in a token only its digest of is kept."""

    id: str
    shortcode: str
    token_digest: str = attrs.field(repr=False)
    state: RegistrationState
    registered_at: datetime
    answered_at: datetime | None = None
    answer: str = ""
    by: str = ""

    @property
    def answers(self) -> bool:
        """Whether callbacks on its token are taken (a pending one's URLs may be in use before its answer comes)."""
        return self.state in (RegistrationState.PENDING, RegistrationState.ACTIVE)


@attrs.define
class Paybill:
    """Top-ups of wallets by payments to our paybill (C2B): the URLs, the callbacks, the operators' decisions."""

    uow: PaybillUowFactory
    ledger: Ledger
    mpesa: Callable[[], MobileMoneyGateway]
    hooks: str  # the base of our C2B URLs: ``<hooks>/confirmation/<token>`` and ``<hooks>/validation/<token>``
    shortcode: str  # our paybill (BusinessShortCode)
    clock: Clock
    ids: IdGenerator
    monitor: MonitoringFeed = attrs.Factory(MonitoringFeed)  # AML: the journal of what was credited

    # -- URLs -------------------------------------------------------------------------------------------------
    def register_urls(self, *, actor: str) -> UrlRegistration:
        """Register fresh confirmation and validation URLs with Daraja (``Completed``: a payment goes through when
        our validation cannot be reached); the registration, recorded before Daraja is asked, with its answer."""
        token, now = new_secret(), self.clock.now()
        registration = UrlRegistration(
            id=self.ids.new_id("c2b"),
            shortcode=self.shortcode,
            token_digest=hash_secret(token),
            state=RegistrationState.PENDING,
            registered_at=now,
            by=actor,
        )
        in_transaction(self.uow, lambda uow: uow.paybill_urls.add(registration))
        request = C2BRegistration(
            confirmation_url=f"{self.hooks}/confirmation/{token}", validation_url=f"{self.hooks}/validation/{token}"
        )
        try:
            ack = self.mpesa().register_c2b_urls(request)
        except OutcomeUnknown:
            return registration  # Daraja may have them: the token answers until a later registration supersedes it
        except MpesaError as error:
            self._answered(registration.id, RegistrationState.FAILED, f"{error.code}: refused", actor)
            raise
        return self._answered(registration.id, RegistrationState.ACTIVE, ack.description, actor)

    def _answered(self, registration_id: str, state: RegistrationState, answer: str, actor: str) -> UrlRegistration:
        def work(uow: PaybillUnitOfWork) -> UrlRegistration:
            now, found = self.clock.now(), None
            for registration in uow.paybill_urls.for_shortcode(self.shortcode):
                if registration.id == registration_id:
                    registration.state, registration.answered_at, registration.answer = state, now, answer[:200]
                    found = registration
                elif state is RegistrationState.ACTIVE and registration.answers:
                    registration.state = RegistrationState.SUPERSEDED
                else:
                    continue
                uow.paybill_urls.update(registration)
            assert found is not None
            details = {"shortcode": self.shortcode, "state": state.value}
            uow.audit.append(AuditEvent(actor, "mpesa.c2b_urls_registered", f"c2b:{registration_id}", now, details))
            return found

        return in_transaction(self.uow, work)

    def _registration(self, uow: PaybillUnitOfWork, token: str) -> UrlRegistration:
        registration = uow.paybill_urls.by_token(hash_secret(token))
        if registration is None or not registration.answers:
            raise Forbidden("unknown callback token")
        return registration

    # -- callbacks --------------------------------------------------------------------------------------------
    def validate(self, result: MpesaResult, *, token: str) -> Mapping[str, Any]:
        """Daraja's question before a payment completes: the answer to send (``Forbidden`` for a token we never
        issued). Accepted unless it is not to our shortcode or has no positive amount."""
        in_transaction(self.uow, lambda uow: self._registration(uow, token))
        if result.kind is not PayloadKind.C2B or result.param("BusinessShortCode") != self.shortcode:
            return c2b_reject("C2B00015", "Rejected")  # invalid shortcode
        if result.amount is None or not result.amount.is_positive():
            return c2b_reject("C2B00013", "Rejected")  # invalid amount
        return c2b_accept()

    def confirm(self, result: MpesaResult, *, token: str) -> PaybillPayment:
        """A completed payment to our paybill: credited to the wallet its account number names, or held in the
        suspense account; once per TransID. ``Forbidden`` for a token we never issued (nothing written)."""
        trans_id, kes = self._checked(result)
        try:
            payment = in_transaction(self.uow, lambda uow: self._book(uow, result, trans_id, kes, token))
        except Conflict:  # the same TransID confirmed at the same moment: the first one booked it
            payment = in_transaction(self.uow, lambda uow: self._book(uow, result, trans_id, kes, token))
        if payment.state is PaybillState.CREDITED and payment.user_id is not None and not payment.repeats:
            self._observed(payment, payment.user_id)
        return payment

    def _checked(self, result: MpesaResult) -> tuple[str, Money]:
        if result.kind is not PayloadKind.C2B or not result.receipt:
            raise InvalidInput("not a C2B confirmation: no TransID", field="TransID")
        if result.amount is None or not result.amount.is_positive():
            raise InvalidInput("a C2B confirmation needs a positive TransAmount", field="TransAmount")
        return result.receipt, result.amount

    def _book(
        self, uow: PaybillUnitOfWork, result: MpesaResult, trans_id: str, kes: Money, token: str
    ) -> PaybillPayment:
        self._registration(uow, token)
        now = self.clock.now()
        known = uow.paybill_payments.by_trans_id(trans_id, lock=True)
        if known is not None:
            known.repeats += 1
            uow.paybill_payments.update(known)
            details = {"trans_id": trans_id, "same": str(known.kes == kes)}
            uow.audit.append(
                AuditEvent("mpesa:callback", "paybill.confirmation_repeated", _subject(known), now, details)
            )
            return known
        payment = PaybillPayment(
            id=self.ids.new_id("pbl"),
            trans_id=trans_id,
            kes=kes,
            shortcode=result.param("BusinessShortCode") or "",
            bill_ref=(result.account_reference or "").strip()[:64],
            msisdn=(result.param("MSISDN") or "")[:32],
            payer=" ".join(p for k in ("FirstName", "MiddleName", "LastName") if (p := result.param(k))).strip()[:120],
            paid_at=result.occurred_at or now,
            received_at=now,
            state=PaybillState.SUSPENDED,
        )
        wallet, why = self._taker(uow, payment.bill_ref, kes, now)
        if payment.shortcode != self.shortcode:
            wallet, why = None, f"paid to shortcode {payment.shortcode or '?'}, not ours"
        if wallet is not None:
            payment.state, payment.user_id = PaybillState.CREDITED, wallet.user_id
            uow.wallet_usage.add(
                Usage(self.ids.new_id("use"), wallet.user_id, Product.RECEIVE.value, kes, now, payment.id)
            )
        payment.reason = why
        uow.paybill_payments.add(payment)  # a TransID kept already is a Conflict: this transaction books nothing
        flows.book_paybill_payment(
            self.ledger, payment_id=payment.id, kes=kes, user_id=payment.user_id, session=uow.ledger
        )
        action = "paybill.credited" if wallet is not None else "paybill.suspended"
        details = {"trans_id": trans_id, "amount": str(kes.amount), "reason": why}
        uow.audit.append(AuditEvent("mpesa:callback", action, _subject(payment), now, details))
        return payment

    def _taker(self, uow: PaybillUnitOfWork, reference: str, kes: Money, now: datetime) -> tuple[Wallet | None, str]:
        """The wallet ``reference`` names if it may receive ``kes`` now (locked: its movements queue), else why not."""
        wallet = _named(uow, reference)
        if wallet is None:
            return None, "the account number names no wallet"
        wallet = uow.wallets.get(wallet.user_id, lock=True) or wallet
        return (wallet, "") if not (why := _refusal(uow, wallet, kes, now)) else (None, why)

    def _observed(self, payment: PaybillPayment, user_id: str) -> None:
        at, kes = payment.decided_at or payment.received_at, payment.kes
        self.monitor.after(movement(payment.id, user_id, PAYBILL, Direction.IN, kes, at, asset=KES.code))

    # -- operators --------------------------------------------------------------------------------------------
    def release(self, payment_id: str, to: str, *, actor: str, note: str) -> PaybillPayment:
        """Credit a suspended payment to the wallet ``to`` names (phone, username or user id), its limits checked
        again (``LimitExceeded``, a frozen wallet ``InvalidState``); audited with the note."""
        text = _note(note)

        def work(uow: PaybillUnitOfWork) -> PaybillPayment:
            payment = self._suspended(uow, payment_id)
            wallet = _named(uow, to) or uow.wallets.get(to)
            if wallet is None:
                raise NotFound(f"no wallet for {to!r}")
            wallet = uow.wallets.get(wallet.user_id, lock=True) or wallet
            now = self.clock.now()
            if wallet.frozen:
                raise InvalidState("that wallet is frozen: unfreeze it first or return the payment")
            profile = uow.kyc.get(wallet.user_id)
            if profile is None:
                raise InvalidState("that wallet has no KYC profile")
            spent = spending(uow, wallet.user_id, now)
            check_wallet_movement(profile, Product.RECEIVE, payment.kes, spent=spent, at=now).enforce()
            kes = payment.kes
            uow.wallet_usage.add(
                Usage(self.ids.new_id("use"), wallet.user_id, Product.RECEIVE.value, kes, now, payment.id)
            )
            flows.release_paybill_payment(
                self.ledger, payment_id=payment.id, kes=kes, user_id=wallet.user_id, session=uow.ledger
            )
            payment.state, payment.user_id = PaybillState.RELEASED, wallet.user_id
            return self._decided(uow, payment, actor, text, "paybill.released", user=wallet.user_id)

        payment = in_transaction(self.uow, work)
        assert payment.user_id is not None
        self._observed(payment, payment.user_id)
        return payment

    def send_back(self, payment_id: str, *, actor: str, note: str) -> PaybillPayment:
        """Give a suspended payment back to its payer: out of the suspense account and the collections (the TransID is
        reversed at M-Pesa, which reconciliation then expects on the statement); audited with the note."""
        text = _note(note)

        def work(uow: PaybillUnitOfWork) -> PaybillPayment:
            payment = self._suspended(uow, payment_id)
            flows.return_paybill_payment(self.ledger, payment_id=payment.id, kes=payment.kes, session=uow.ledger)
            payment.state = PaybillState.RETURNED
            return self._decided(uow, payment, actor, text, "paybill.returned", trans_id=payment.trans_id)

        return in_transaction(self.uow, work)

    def _suspended(self, uow: PaybillUnitOfWork, payment_id: str) -> PaybillPayment:
        payment = uow.paybill_payments.get(payment_id, lock=True)
        if payment is None:
            raise NotFound(f"no paybill payment {payment_id}")
        if payment.state is not PaybillState.SUSPENDED:
            raise InvalidState(f"paybill payment {payment_id} is {payment.state.value}, not in suspense")
        return payment

    def _decided(
        self, uow: PaybillUnitOfWork, payment: PaybillPayment, actor: str, note: str, action: str, **details: str
    ) -> PaybillPayment:
        now = self.clock.now()
        payment.decided_by, payment.decided_at, payment.note = actor, now, note
        uow.paybill_payments.update(payment)
        facts = {"amount": str(payment.kes.amount), "note": note, **details}
        uow.audit.append(AuditEvent(actor, action, _subject(payment), now, facts))
        return payment

    # -- reading ----------------------------------------------------------------------------------------------
    def get(self, payment_id: str) -> PaybillPayment:
        found: PaybillPayment | None = in_transaction(self.uow, lambda uow: uow.paybill_payments.get(payment_id))
        if found is None:
            raise NotFound(f"no paybill payment {payment_id}")
        return found

    def listed(
        self, *, state: PaybillState | None = None, after: str | None = None, limit: int = 50
    ) -> list[PaybillPayment]:
        """Payments newest first (``state``: only those, e.g. the suspended ones an operator must decide)."""
        return in_transaction(self.uow, lambda uow: uow.paybill_payments.listed(state=state, after=after, limit=limit))


def _subject(payment: PaybillPayment) -> str:
    return f"paybill:{payment.id}"


def _named(uow: PaybillUnitOfWork, reference: str) -> Wallet | None:
    """The wallet an account number names: a phone number (``0712…``, ``+254 712…``, ``254712…``) or a username."""
    text = reference.strip()
    if not text:
        return None
    phone = try_normalize_msisdn(text)
    if phone is not None:
        return uow.wallets.by_phone(phone)
    return uow.wallets.by_username(text.removeprefix("@").lower())


def _refusal(uow: PaybillUnitOfWork, wallet: Wallet, kes: Money, now: datetime) -> str:
    """Why ``wallet`` may not take ``kes`` now (empty: it may)."""
    if wallet.frozen:
        return "the wallet is frozen"
    profile = uow.kyc.get(wallet.user_id)
    if profile is None:
        return "the wallet has no KYC profile"
    decision = check_wallet_movement(profile, Product.RECEIVE, kes, spent=spending(uow, wallet.user_id, now), at=now)
    return "" if decision.allowed else f"refused by the wallet's limits: {decision.reason}"


def _note(note: str) -> str:
    text = note.strip()
    if not text or len(text) > MAX_NOTE:
        raise InvalidInput(f"say why, in 1 to {MAX_NOTE} characters", field="note")
    return text
