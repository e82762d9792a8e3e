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
held in ``liabilities:paybill_suspense:KES`` with the reason, for staff who either credit it to a wallet or return
it to its payer by M-Pesa's Reversal, each four-eyes (below). Each decision needs a note and is audited. (A payment
``returned`` by one operator before returns were four-eyes, reversed by hand in the M-Pesa portal, stays valid:
Dr suspense / Cr mpesa_collections, and reconciliation expects that reversal on the statement.)

Verified with M-Pesa before anything is booked (decision, fix6c). The confirmation URL's token lives as long as
the registration, so whoever learns it could post confirmations of money M-Pesa never received. A confirmation is
therefore only *recorded* (``verifying``, nothing booked); ``verify_due`` (the worker's ``wallets.paybill_verify``
job, paced by the shortcode's bucket as STK queries are) asks Daraja's Transaction Status about its TransID, the
query's result and timeout URLs each ending in a fresh token whose digest is committed on the payment before the
query leaves (as the payouts' status queries). Only a result on such a token counts: a completed transaction whose
amount, debit party (the payer's number, compared with the digits the masked MSISDN shows) and credit party (our
shortcode) match books the payment as described above; "not found", a failed or reversed transaction, or any
mismatch makes it ``unverified``: nothing booked (no money came, so nothing is held in suspense either), the reason
kept, audited ``paybill.unverified`` and logged as a warning for an operator. No answer, a queue timeout or a query
that failed asks again later, less often each time. A repeated result changes nothing.

Operators on what could not be verified or matched (decision, paybillops). An ``unverified`` payment (or one in
suspense) stays so until an operator acts; each action needs a note and is audited:
- ``reverify``: back to ``verifying``, due at once; the worker records a new Transaction Status query (its tokens
  committed before it leaves) and its answer is kept and matched as the first one's; a suspended payment with no
  M-Pesa record (booked into suspense on its confirmation alone, before migration 0186) is asked about the same way
  but stays in suspense, never booked again: a matching answer only keeps M-Pesa's record (``paid_to_us``);
- ``propose_credit`` / ``approve_credit``: four-eyes, as held payments and KYC: one officer proposes the wallet, a
  second one approves (the proposer is refused, ``SameOfficer``, audited); the wallet's limits are checked at the
  approval; a suspended payment leaves the suspense account, an unverified one is booked (Dr collections / Cr
  wallet). Both refused unless M-Pesa's own record (a Transaction Status answer, ``paid_to_us``) shows the payment
  paid into our paybill for its amount (decision, paybillapi): two officers vouching for a payment M-Pesa has no
  record of would credit money that may never have come (the confirmation URL's token may have leaked); the refusal
  says to re-verify. A suspended payment stored before ``paid_to_us`` was kept counts its matching Transaction Status
  answer (it was booked into suspense only after one, ``mpesa_record``); one stored before payments were verified at
  all (migration 0186) has none. The paybill's statement (``reconcile --mpesa-statement``) is compared, never kept,
  so it is no proof here;
- ``propose_return`` / ``approve_return`` (decision, paybillapi): a return sends money out of our paybill, so it is
  four-eyes too: one officer proposes, a second approves (``SameOfficer`` for the proposer) and the approval sends
  M-Pesa's Reversal of the TransID; refused unless M-Pesa's record shows the TransID paid into our shortcode (it
  returns the amount that record shows: a TransID of one of our payouts, or of nothing, is not the payer's money).
  ``approve`` carries out whichever is proposed; ``decline`` clears either. Shells may decline, never propose or
  approve (they cannot prove which officer is at the keyboard; a shell's proposal is refused, audited
  ``paybill.shell_proposal_refused``);
- the Reversal (``TransactionReversal``, ``RecieverIdentifierType`` 11), recorded
  ``reversing`` with the tokens of its result and timeout URLs before it is sent; its result is matched by the token
  and the OriginatorConversationID / ConversationID Daraja acknowledged. Success: ``reversed`` (a suspended one out
  of the suspense account, Dr suspense / Cr collections; an unverified one was never booked). A failure (``R000002``
  ...) or a synchronous refusal: back where it waited, the reason kept. A queue timeout, or no result within
  ``REVERSAL_WAIT``, asks Transaction Status (the worker's same job): about the reversal by its
  OriginatorConversationID, or, when the acknowledgement was lost, about the original TransID (``Reversed``).
The unverified counter counts payments ever unverified, so none of this lowers it.

Validation answers accept unless the payment is not to our shortcode or has no positive amount: an unknown
reference is accepted and held rather than refused, because the payer cannot be told why at the till.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

import attrs
from cryptopay.core import flows
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.feed import MonitoringFeed, movement
from cryptopay.core.compliance.four_eyes import FourEyes
from cryptopay.core.compliance.own_party import OwnParty, own_party_refusal, refuse_own_party
from cryptopay.core.compliance.rules import Direction
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound, Refused
from cryptopay.core.identity.credentials import hash_secret, new_secret
from cryptopay.core.identity.model import Forbidden
from cryptopay.core.kyc import Decision, KycProfile, Product, check_wallet_movement, product_limited
from cryptopay.core.ledger import Ledger
from cryptopay.core.mobile_money import (
    Acknowledgement,
    C2BRegistration,
    MpesaResult,
    Outcome,
    PayloadKind,
    ReversalRequest,
    TransactionStatusRequest,
    c2b_accept,
    c2b_reject,
)
from cryptopay.core.mobile_money.callbacks import callback_url, new_callback_token, token_digest
from cryptopay.core.mobile_money.errors import MpesaError, OutcomeUnknown
from cryptopay.core.mobile_money.interpret import status_outcome
from cryptopay.core.mobile_money.phones import try_normalize_msisdn
from cryptopay.core.money import KES, Money
from cryptopay.core.payouts.service import Pacing
from cryptopay.core.ports.mobile_money import MobileMoneyGateway
from cryptopay.core.ports.paybill import PaybillUnitOfWork, PaybillUowFactory
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.wallets.model import Usage, Wallet
from cryptopay.core.wallets.service import spending

__all__ = [
    "ASKED",
    "PAYBILL",
    "Paybill",
    "PaybillPayment",
    "PaybillProposal",
    "PaybillState",
    "RegistrationState",
    "UrlRegistration",
]

PAYBILL = "wallet_paybill"  # the monitoring product of a paybill top-up
MAX_NOTE = 500
STATUS_WAIT = timedelta(minutes=1)  # ask Transaction Status again when no answer came by then (doubling, capped)
STATUS_WAIT_CAP = timedelta(hours=1)
REVERSAL_WAIT = timedelta(minutes=10)  # a reversal with no result by then is asked about by Transaction Status
_log = logging.getLogger("cryptopay.wallets.paybill")


class PaybillProposal(enum.Enum):
    """What one officer proposed on a payment that waits, for a second officer to approve (four-eyes)."""

    CREDIT = "credit"  # credit it to a wallet (``proposed_to``)
    RETURN = "return"  # give it back to the payer by M-Pesa's Reversal of its TransID


class PaybillState(enum.Enum):
    VERIFYING = "verifying"  # confirmed by a callback only: nothing booked until Transaction Status agrees
    UNVERIFIED = "unverified"  # M-Pesa does not know it, or knows it otherwise (``reason``): nothing booked
    CREDITED = "credited"  # its account number named a wallet that took it
    SUSPENDED = "suspended"  # in the suspense account, waiting for an operator (``reason`` says why)
    RELEASED = "released"  # an operator credited it to a wallet out of the suspense account
    RETURNED = "returned"  # an operator gave it back to the payer (an M-Pesa reversal of its TransID)
    REVERSING = "reversing"  # an M-Pesa Reversal of its TransID was sent: waiting for its result
    REVERSED = "reversed"  # M-Pesa reversed it: the payer has the money back, nothing of it is ours


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
    check_at: datetime | None = None  # when to ask Transaction Status (while verifying)
    queries: int = 0  # Transaction Status queries sent about it
    status_digest: str | None = attrs.field(default=None, repr=False)  # the open query's result URL token
    timeout_digest: str | None = attrs.field(default=None, repr=False)  # and its QueueTimeOutURL token
    answers: tuple[str, ...] = ()  # what the status answers said (code and state), in order
    unverified_at: datetime | None = None  # when Transaction Status first did not confirm it (the metric counts these)
    # what M-Pesa's record (the last conclusive Transaction Status answer) shows paid into our shortcode, if anything:
    # only that may be returned by a Reversal (a TransID of a payout of ours, or of nothing, is not the payer's money)
    paid_to_us: Money | None = None
    # suspended before payments were verified (migration 0186: booked on the confirmation alone) and asked about since
    # (``reverify``): only ``paid_to_us`` is M-Pesa's record then, never the answers alone (``mpesa_record``)
    reverified_in_suspense: bool = False
    # four-eyes: a credit to a wallet, or a return to the payer, proposed by one officer, carried out when another
    # approves it (a proposal stored before returns were four-eyes has no kind: it is a credit, see ``proposal``)
    proposal_kind: PaybillProposal | None = None
    proposed_to: str | None = None  # the wallet's user id (a credit)
    proposed_by: str | None = None
    proposed_at: datetime | None = None
    proposal_note: str = ""
    # a Reversal (returning the money to the payer through M-Pesa), recorded before it is sent
    reversal_from: PaybillState | None = None  # the state it waits in again if the reversal fails
    reversal_by: str | None = None
    reversal_note: str = ""
    reversal_digest: str | None = attrs.field(default=None, repr=False)  # its ResultURL's token
    reversal_timeout_digest: str | None = attrs.field(default=None, repr=False)  # and its QueueTimeOutURL's
    reversal_originator: str | None = None  # OriginatorConversationID of Daraja's acknowledgement
    reversal_conversation: str | None = None  # ConversationID of Daraja's acknowledgement
    reversal_receipt: str | None = None  # the reversal's own TransactionID, once M-Pesa did it

    @property
    def proposal(self) -> PaybillProposal | None:
        """What is proposed and waits for a second officer, if anything."""
        if self.proposed_by is None:
            return None
        return self.proposal_kind or PaybillProposal.CREDIT

    @property
    def mpesa_record(self) -> Money | None:
        """What M-Pesa's own record shows paid into our paybill for it (what a credit or a return may move): the last
        conclusive Transaction Status answer's ``paid_to_us``; for a suspended payment stored before that was kept,
        its amount when Transaction Status answered about it (``answers``): it reached suspense only after an answer
        matching its amount, payer and our shortcode (``_book``). None: no record (one confirmed only, or stored
        before payments were verified, migration 0186, until re-verified)."""
        if self.paid_to_us is not None:
            return self.paid_to_us
        legacy = self.state is PaybillState.SUSPENDED and not self.reverified_in_suspense
        return self.kes if legacy and self.answers else None

    @property
    def booked(self) -> bool:
        """Whether it ever reached the books (verified by Transaction Status, or credited by two officers);
        returned and reversed ones included, unless reversed while unverified (then nothing was ever booked)."""
        if self.state in (PaybillState.VERIFYING, PaybillState.UNVERIFIED):
            return False
        return not (self.state in _REVERSAL_STATES and self.reversal_from is PaybillState.UNVERIFIED)

    @property
    def returned_kes(self) -> Money:
        """What a Reversal gives back: what M-Pesa's record shows we received (the confirmation may have said else)."""
        return self.paid_to_us if self.state is not PaybillState.SUSPENDED and self.paid_to_us else self.kes

    @property
    def given_back(self) -> bool:
        """Returned to its payer (by hand or by an M-Pesa Reversal): nothing of it stays in our books."""
        return self.state in (PaybillState.RETURNED, PaybillState.REVERSED)

    @property
    def in_suspense(self) -> bool:
        """Held in the suspense account (a reversal of a suspended payment keeps it there until M-Pesa did it)."""
        return self.state is PaybillState.SUSPENDED or (
            self.state is PaybillState.REVERSING and self.reversal_from is PaybillState.SUSPENDED
        )

    @property
    def was_unverified(self) -> bool:
        """Transaction Status did not confirm it at least once (whatever an operator did since)."""
        return self.state is PaybillState.UNVERIFIED or self.unverified_at is not None

    @property
    def actionable(self) -> bool:
        """An operator may re-verify it, credit it or return it (each four-eyes): unverified, or in suspense."""
        return self.state in (PaybillState.UNVERIFIED, PaybillState.SUSPENDED)

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
    pacing: Pacing | None = None  # the shortcode's bucket: status queries share it with every other request
    tokens: Callable[[], str] = new_callback_token
    # approvals' check (``compliance.four_eyes``); unwired: the same officer only
    four_eyes: FourEyes = attrs.Factory(FourEyes)

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
        """A payment to our paybill as a confirmation tells it: recorded ``verifying`` (nothing booked until
        Transaction Status agrees, see ``verify_due``); once per TransID. ``Forbidden`` for a token we never issued
        (nothing written)."""
        trans_id, kes = self._checked(result)
        try:
            return in_transaction(self.uow, lambda uow: self._record(uow, result, trans_id, kes, token))
        except Conflict:  # the same TransID confirmed at the same moment: the first one recorded it
            return in_transaction(self.uow, lambda uow: self._record(uow, result, trans_id, kes, token))

    def _checked(self, result: MpesaResult) -> tuple[str, Money]:
        if result.kind is not PayloadKind.C2B or not result.receipt:
            raise InvalidInput("not a C2B confirmation: no TransID", field="TransID")
        if not _TRANS_ID.fullmatch(result.receipt):
            raise InvalidInput("a TransID is 6 to 32 letters and digits", field="TransID")
        if result.amount is None or not result.amount.is_positive():
            raise InvalidInput("a C2B confirmation needs a positive TransAmount", field="TransAmount")
        return result.receipt, result.amount

    def _record(
        self, uow: PaybillUnitOfWork, result: MpesaResult, trans_id: str, kes: Money, token: str
    ) -> PaybillPayment:
        self._registration(uow, token)
        now = self.clock.now()
        known = uow.paybill_payments.by_trans_id(trans_id, lock=True)
        if known is not None:
            known.repeats += 1
            differs = _differences(known, result, kes)
            if differs and known.state is PaybillState.VERIFYING and not known.reason:
                # Transaction Status cannot tell which account number is M-Pesa's: an operator decides (revpass6 P2)
                known.reason = f"{_DISAGREE}: {differs}"
            uow.paybill_payments.update(known)
            details = {"trans_id": trans_id, "same": str(not differs).lower(), "differs": differs}
            uow.audit.append(
                AuditEvent("mpesa:callback", "paybill.confirmation_repeated", _subject(known), now, details)
            )
            if differs:
                _log.warning("paybill payment %s: confirmations of TransID %s differ (%s)", known.id, trans_id, differs)
            return known
        payment = PaybillPayment(
            id=self.ids.new_id("pbl"),
            trans_id=trans_id,
            kes=kes,
            shortcode=result.param("BusinessShortCode") or "",
            bill_ref=(result.account_reference or "").strip()[:64],
            msisdn=(result.param("MSISDN") or "")[:80],
            payer=" ".join(p for k in ("FirstName", "MiddleName", "LastName") if (p := result.param(k))).strip()[:120],
            paid_at=result.occurred_at or now,
            received_at=now,
            state=PaybillState.VERIFYING,
            check_at=now,
        )
        uow.paybill_payments.add(payment)  # a TransID kept already is a Conflict: this transaction writes nothing
        details = {"trans_id": trans_id, "amount": str(kes.amount)}
        uow.audit.append(AuditEvent("mpesa:callback", "paybill.verifying", _subject(payment), now, details))
        return payment

    # -- verification by Transaction Status --------------------------------------------------------------------
    def verify_due(self, *, limit: int = 50) -> list[PaybillPayment]:
        """Ask Transaction Status about every payment still verifying whose time has come (the worker's job), paced
        by the shortcode's bucket; the query and its tokens are committed before it leaves. Those asked about."""
        now = self.clock.now()
        due = in_transaction(
            self.uow, lambda uow: [p.id for p in uow.paybill_payments.due_for_status(now, limit=limit)]
        )
        asked: list[PaybillPayment] = []
        for payment_id in due:
            if self.pacing is not None and not self.pacing.admit():
                break  # the bucket is empty for longer than a short wait: the rest stay due for the next run
            result_token, timeout_token = self.tokens(), self.tokens()
            recorded = in_transaction(
                self.uow, partial(self._record_query, payment_id=payment_id, tokens=(result_token, timeout_token))
            )
            if recorded is None:
                continue
            # a reversal with no result by its deadline: asked about by its OriginatorConversationID (or, when the
            # acknowledgement was lost, the original TransID, whose status then says whether it was reversed)
            about_reversal = recorded.state is PaybillState.REVERSING and recorded.reversal_originator is not None
            request = TransactionStatusRequest(
                result_url=callback_url(f"{self.hooks}/status/result", result_token),
                timeout_url=callback_url(f"{self.hooks}/status/timeout", timeout_token),
                transaction_id=None if about_reversal else recorded.trans_id,
                originator_conversation_id=recorded.reversal_originator if about_reversal else None,
                shortcode=self.shortcode,
                remarks=f"Paybill payment {recorded.trans_id}",
            )
            try:
                self.mpesa().transaction_status(request)
            except MpesaError as error:  # asked again at its (later) check_at
                _log.warning("Transaction Status about paybill payment %s failed: %s", recorded.id, error.code)
            asked.append(recorded)
        return asked

    def _record_query(
        self, uow: PaybillUnitOfWork, *, payment_id: str, tokens: tuple[str, str]
    ) -> PaybillPayment | None:
        result_token, timeout_token = tokens
        payment, now = uow.paybill_payments.get(payment_id, lock=True), self.clock.now()
        if payment is None or payment.state not in ASKED:
            return None
        if payment.check_at is None or payment.check_at > now:
            return None  # asked about by another worker meanwhile
        wait = min(STATUS_WAIT * 2 ** min(payment.queries, 8), STATUS_WAIT_CAP)  # ask less often, never stop
        payment.queries += 1
        payment.status_digest, payment.timeout_digest = token_digest(result_token), token_digest(timeout_token)
        payment.check_at = now + wait
        uow.paybill_payments.update(payment)
        details = {"trans_id": payment.trans_id, "query": str(payment.queries)}
        uow.audit.append(AuditEvent("system:paybill", "paybill.status_query", _subject(payment), now, details))
        return payment

    def on_status(self, result: MpesaResult, *, token: str, timed_out: bool = False) -> PaybillPayment:
        """A Transaction Status answer (or its queue timeout) on the URL of a query we recorded: a completed
        transaction that matches books the payment; not found, failed or different leaves it ``unverified`` with
        nothing booked; anything else asks again later. ``Forbidden`` for a token of no recorded query (nothing
        written); a repeat changes nothing."""
        digest = token_digest(token)

        def work(uow: PaybillUnitOfWork) -> PaybillPayment:
            payment = uow.paybill_payments.by_status_token(digest, timeout=timed_out, lock=True)
            if payment is None:
                raise Forbidden("unknown callback token")
            now = self.clock.now()
            answer = "timeout" if timed_out else f"{result.result_code} {result.param('TransactionStatus') or ''}"
            if payment.state is PaybillState.REVERSING:
                return self._reversal_status(uow, payment, result, answer.strip(), timed_out, now)
            if payment.state is PaybillState.SUSPENDED and payment.check_at is not None:
                return self._suspended_status(uow, payment, result, answer.strip(), timed_out, now)
            if payment.state is not PaybillState.VERIFYING:
                details = {"trans_id": payment.trans_id, "answer": answer.strip()}
                uow.audit.append(
                    AuditEvent("mpesa:callback", "paybill.status_repeated", _subject(payment), now, details)
                )
                return payment
            payment.answers = (*payment.answers, answer.strip())[-20:]
            outcome = Outcome.PENDING if timed_out else status_outcome(result)
            if outcome is not Outcome.PENDING:
                payment.paid_to_us = self._paid_to_us(result) if outcome is Outcome.SUCCEEDED else None
            if outcome is Outcome.SUCCEEDED and (mismatch := self._mismatch(payment, result)) is None:
                payment.check_at = None
                return self._book(uow, payment, now)
            if outcome is Outcome.PENDING:  # we learnt nothing: asked again at its check_at
                uow.paybill_payments.update(payment)
                return payment
            if outcome is Outcome.NOT_FOUND:
                why = "M-Pesa does not know this TransID"
            elif outcome is Outcome.FAILED:
                why = f"M-Pesa says the transaction is {(result.param('TransactionStatus') or 'failed').lower()}"
            else:
                why = f"M-Pesa's record of this TransID differs: {mismatch}"
                if payment.paid_to_us is None:  # a payout of ours, another business's: never to be credited
                    why = f"{why}; {_NOT_OURS}"
            return self._unverified(uow, payment, why, now)

        payment = in_transaction(self.uow, work)
        if payment.state is PaybillState.CREDITED and payment.user_id is not None and payment.decided_at is None:
            self._observed(payment, payment.user_id)
        return payment

    def _suspended_status(
        self,
        uow: PaybillUnitOfWork,
        payment: PaybillPayment,
        result: MpesaResult,
        answer: str,
        timed_out: bool,
        now: datetime,
    ) -> PaybillPayment:
        """A Transaction Status answer about a suspended payment re-verified (booked into suspense before payments
        were verified): nothing is booked again. A completed transaction that matches keeps M-Pesa's record
        (``paid_to_us``: a credit or a return may follow); anything conclusive else keeps none, with the reason
        (escalate it); no answer asks again later. Audited ``paybill.reverified``."""
        payment.answers = (*payment.answers, answer)[-20:]
        outcome = Outcome.PENDING if timed_out else status_outcome(result)
        if outcome is Outcome.PENDING:  # asked again at its check_at
            uow.paybill_payments.update(payment)
            return payment
        mismatch = self._mismatch(payment, result) if outcome is Outcome.SUCCEEDED else "not completed"
        payment.check_at, payment.paid_to_us = None, payment.kes if mismatch is None else None
        if mismatch is not None:
            why = f"M-Pesa's record does not show this payment ({answer}: {mismatch}): still in suspense, escalate it"
            payment.reason = _kept(payment, why[:300])
            _log.warning(
                "suspended paybill payment %s (TransID %s) not verified: %s", payment.id, payment.trans_id, why
            )
        uow.paybill_payments.update(payment)
        details = {"trans_id": payment.trans_id, "answer": answer[:200], "verified": str(mismatch is None).lower()}
        uow.audit.append(AuditEvent("mpesa:callback", "paybill.reverified", _subject(payment), now, details))
        return payment

    def _paid_to_us(self, result: MpesaResult) -> Money | None:
        """What M-Pesa's record (a completed transaction's Transaction Status) shows paid into our shortcode; None
        when it is no payment to us (a payout of ours, another business's): nothing of ours to return."""
        amount = _decimal(result.param("Amount"))
        if _party(result, "CreditPartyName") != self.shortcode or amount is None or amount <= 0:
            return None
        try:
            return Money.of(amount, KES)
        except (InvalidInput, ValueError):
            return None

    def _mismatch(self, payment: PaybillPayment, result: MpesaResult) -> str | None:
        """Why M-Pesa's record (a Transaction Status result) is not the payment the confirmation told; None: it is."""
        amount = _decimal(result.param("Amount"))
        if amount is None or amount != payment.kes.amount:
            return f"amount {result.param('Amount') or '?'}, confirmed {payment.kes.amount}"
        credit = _party(result, "CreditPartyName")
        if credit != self.shortcode or payment.shortcode != self.shortcode:
            return f"paid to {credit or '?'}, not our shortcode"
        debit = _party(result, "DebitPartyName")
        if not _same_payer(payment.msisdn, debit):
            return "the payer's number differs"
        return None

    def _unverified(self, uow: PaybillUnitOfWork, payment: PaybillPayment, why: str, now: datetime) -> PaybillPayment:
        payment.state, payment.reason, payment.check_at = PaybillState.UNVERIFIED, _kept(payment, why), None
        payment.unverified_at = payment.unverified_at or now
        uow.paybill_payments.update(payment)
        details = {"trans_id": payment.trans_id, "amount": str(payment.kes.amount), "reason": why}
        uow.audit.append(AuditEvent("mpesa:callback", "paybill.unverified", _subject(payment), now, details))
        _log.warning("paybill payment %s (TransID %s) not verified: %s", payment.id, payment.trans_id, why)
        return payment

    def _book(self, uow: PaybillUnitOfWork, payment: PaybillPayment, now: datetime) -> PaybillPayment:
        """A verified payment: to the wallet its account number names, or held in the suspense account."""
        kes = payment.kes
        if payment.reason.startswith(_DISAGREE):  # two confirmations named different accounts: never a guess
            wallet, why = None, payment.reason
        else:
            wallet, why = self._taker(uow, payment.bill_ref, kes, now)
        if wallet is not None:
            payment.state, payment.user_id = PaybillState.CREDITED, wallet.user_id
            uow.wallet_usage.add(
                Usage(self.ids.new_id("use"), wallet.user_id, Product.RECEIVE.value, kes, now, payment.id)
            )
        else:
            payment.state = PaybillState.SUSPENDED
        payment.reason = why
        uow.paybill_payments.update(payment)
        flows.book_paybill_payment(
            self.ledger, payment_id=payment.id, kes=kes, user_id=payment.user_id, session=uow.ledger
        )
        action = "paybill.credited" if wallet is not None else "paybill.suspended"
        details = {"trans_id": payment.trans_id, "amount": str(kes.amount), "reason": why}
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

    # -- operators: unverified and suspended payments (re-verify; credit or return, each four-eyes) -------------
    def reverify(self, payment_id: str, *, actor: str, note: str) -> PaybillPayment:
        """Ask M-Pesa again about an unverified payment: back to ``verifying``, due at once (``verify_due`` records
        the new Transaction Status query and its tokens before it leaves; its answer books it or makes it
        ``unverified`` again). A suspended payment with no M-Pesa record (stored before payments were verified,
        migration 0186: booked into suspense on the confirmation alone) is asked about the same way but stays in
        suspense, booked once: a matching answer keeps M-Pesa's record (``paid_to_us``), so officers may credit or
        return it as any other (``_suspended_status``). Moves no money; audited with the note."""
        text = _note(note)

        def work(uow: PaybillUnitOfWork) -> PaybillPayment:
            payment = self._actionable(uow, payment_id)
            if payment.state is PaybillState.SUSPENDED and payment.mpesa_record is not None:
                raise InvalidState(
                    f"paybill payment {payment_id} is in suspense with M-Pesa's record kept: credit or return it"
                )
            if payment.proposal is not None:
                raise Conflict(
                    f"a {payment.proposal.value} of paybill payment {payment.id} is proposed: decline it before "
                    "re-verifying"
                )
            now = self.clock.now()
            if payment.state is PaybillState.SUSPENDED:  # stays in suspense: it was booked there once already
                payment.reverified_in_suspense, payment.check_at, payment.queries = True, now, 0
                payment.status_digest = payment.timeout_digest = None
                uow.paybill_payments.update(payment)
                details = {"trans_id": payment.trans_id, "note": text, "reason": payment.reason}
                uow.audit.append(AuditEvent(actor, "paybill.reverify_requested", _subject(payment), now, details))
                return payment
            payment.unverified_at = payment.unverified_at or now
            payment.state, payment.check_at, payment.queries = PaybillState.VERIFYING, now, 0
            payment.status_digest = payment.timeout_digest = None  # answers to the older queries count no more
            uow.paybill_payments.update(payment)
            details = {"trans_id": payment.trans_id, "note": text, "reason": payment.reason}
            uow.audit.append(AuditEvent(actor, "paybill.reverify_requested", _subject(payment), now, details))
            return payment

        return in_transaction(self.uow, work)

    def _shell_refused(self, payment_id: str, operator: str, details: dict[str, str], what: str) -> Refused:
        """A proposal from a shell: audited ``paybill.shell_proposal_refused`` by its operator, nothing else
        written; the refusal to raise (revpass7 P4: the shell cannot prove which officer is at the keyboard)."""
        payment = self.get(payment_id)
        facts = {"trans_id": payment.trans_id, "proposal": what, **details}
        event = AuditEvent(operator, "paybill.shell_proposal_refused", _subject(payment), self.clock.now(), facts)
        in_transaction(self.uow, lambda uow: uow.audit.append(event))
        return Refused(
            f"{what}ing paybill payment {payment.id} moves money, so it is proposed only by an officer signed in "
            f"with a fresh one-time code: on the console (/console/paybill/{payment.id}) or the admin API, not from "
            "the shell: the shell cannot prove which officer is at the keyboard"
        )

    def _proposed(
        self, uow: PaybillUnitOfWork, payment: PaybillPayment, kind: PaybillProposal, officer: str, note: str
    ) -> None:
        """Record ``officer``'s proposal on ``payment`` (``Conflict`` while another one waits), audited."""
        if payment.proposal is not None:
            raise Conflict(
                f"a {payment.proposal.value} of paybill payment {payment.id} is proposed already: approve or decline it"
            )
        now = self.clock.now()
        payment.proposal_kind, payment.proposed_by, payment.proposed_at = kind, officer, now
        payment.proposal_note = note
        uow.paybill_payments.update(payment)
        details = {"trans_id": payment.trans_id, "user": payment.proposed_to or "", "note": note}
        uow.audit.append(
            AuditEvent(f"user:{officer}", f"paybill.{kind.value}_proposed", _subject(payment), now, details)
        )

    def propose_credit(
        self, payment_id: str, to: str, *, officer: str, note: str, operator: str | None = None
    ) -> PaybillPayment:
        """Propose crediting an unverified or suspended payment to the wallet ``to`` names (phone, username or user
        id); a second officer ``approve_credit``s it. Refused unless M-Pesa's record (a Transaction Status answer)
        shows the payment paid into our paybill for its amount (``_creditable``: re-verify first). ``Conflict``
        while another proposal waits. Never from a shell (``operator`` given): ``Refused``, audited
        ``paybill.shell_proposal_refused`` by the operator, nothing else changes, so proposals are made on the
        console or the admin API, by an officer signed in with a fresh one-time code."""
        text = _note(note)  # checked first: the refusal's record keeps only a valid note
        if operator is not None:
            raise self._shell_refused(payment_id, operator, {"officer": officer, "to": to[:64], "note": text}, "credit")

        def work(uow: PaybillUnitOfWork) -> PaybillPayment | OwnParty:
            named = _officer_named(uow, to)  # looked up once: the own-party check and the proposal read it
            if named is not None and (refusal := self._own(payment_id, officer, named.user_id, "credit_proposal")):
                uow.audit.append(refusal[0])  # committed alone (nothing else written): the refusal raised after
                return refusal[1]
            payment = self._actionable(uow, payment_id)
            if payment.proposal is None:
                _creditable(payment)
                if named is None:
                    raise NotFound(f"no wallet for {to!r}")
                payment.proposed_to = named.user_id
            self._proposed(uow, payment, PaybillProposal.CREDIT, officer, text)
            return payment

        proposed = in_transaction(self.uow, work)
        if isinstance(proposed, OwnParty):
            raise proposed
        return proposed

    def propose_return(
        self, payment_id: str, *, officer: str, note: str, operator: str | None = None
    ) -> PaybillPayment:
        """Propose giving an unverified or suspended payment back to its payer by M-Pesa's Reversal of its TransID;
        a second officer ``approve_return``s it (then the Reversal is sent). Refused unless M-Pesa's record shows
        the TransID paid into our paybill (``_returnable``: a TransID of a payout of ours, or of nothing, is not
        the payer's money). ``Conflict`` while another proposal waits; never from a shell (as ``propose_credit``)."""
        text = _note(note)
        if operator is not None:
            raise self._shell_refused(payment_id, operator, {"officer": officer, "note": text}, "return")

        def work(uow: PaybillUnitOfWork) -> PaybillPayment:
            payment = self._actionable(uow, payment_id)
            if payment.proposal is None:
                _returnable(payment)
            self._proposed(uow, payment, PaybillProposal.RETURN, officer, text)
            return payment

        return in_transaction(self.uow, work)

    def approve(
        self,
        payment_id: str,
        *,
        officer: str,
        expected: PaybillProposal | None = None,
        expected_to: str | None = None,
        operator: str | None = None,
    ) -> PaybillPayment:
        """Carry out what another officer proposed, a credit or a return; ``expected``: the proposal the approver
        read (another one now is a ``Conflict``), ``expected_to`` the wallet of a credit."""
        if operator is not None:
            raise Refused(
                f"paybill payment {payment_id} is credited or returned when a second officer approves it: approve it "
                "on the console or the admin API (signed in with your second factor), not from the shell"
            )
        proposal = self.get(payment_id).proposal
        if proposal is None:
            raise InvalidState(f"nothing is proposed on paybill payment {payment_id}")
        if expected is not None and proposal is not expected:
            raise Conflict(f"paybill payment {payment_id} now has a {proposal.value} proposed: read it again")
        if proposal is PaybillProposal.RETURN:
            return self.approve_return(payment_id, officer=officer)
        return self.approve_credit(payment_id, officer=officer, expected_to=expected_to)

    def _not_own(self, payment_id: str, officer: str, user_id: str, action: str) -> None:
        """``OwnParty`` (403, audited ``paybill.own_party_refused``) when the wallet to credit is the officer's own:
        nobody proposes or approves money into their own wallet (lastread B9; outside review R12's rule)."""
        subject, at = f"paybill:{payment_id}", self.clock.now()
        refuse_own_party(self.uow, None, officer, user_id, scope="paybill", action=action, subject=subject, at=at)

    def _own(self, payment_id: str, officer: str, user_id: str, action: str) -> tuple[AuditEvent, OwnParty] | None:
        """``_not_own``'s refusal (its audit record and error) for a caller committing the record in its own work."""
        subject, at = f"paybill:{payment_id}", self.clock.now()
        return own_party_refusal(None, officer, user_id, scope="paybill", action=action, subject=subject, at=at)

    def _second_officer(self, payment_id: str, officer: str, kind: PaybillProposal) -> PaybillPayment:
        """The payment with ``kind`` proposed, read before its approval; its proposer is refused ``SameOfficer``
        (audited ``paybill.<kind>_same_officer_refused``), an officer related to it or appointed too recently as
        ``compliance.four_eyes`` says (``paybill.<kind>_<code>_refused``)."""
        payment = self.get(payment_id)
        if payment.proposal is not kind:
            raise InvalidState(f"no {kind.value} of paybill payment {payment_id} is proposed")
        now = self.clock.now()
        refused = self.four_eyes.refusal(payment.proposed_by or "", officer, now=now, what=kind.value)
        if refused is not None:
            details = {"trans_id": payment.trans_id, "user": payment.proposed_to or "", **refused.audit_details}
            action = refused.action(f"paybill.{kind.value}")
            event = AuditEvent(f"user:{officer}", action, _subject(payment), now, details)
            in_transaction(self.uow, lambda uow: uow.audit.append(event))
            raise refused
        return payment

    def _still_proposed(self, uow: PaybillUnitOfWork, read: PaybillPayment, payment_id: str) -> PaybillPayment:
        """The payment locked, its proposal unchanged since ``read`` (else ``Conflict``: read it again)."""
        locked = self._actionable(uow, payment_id)
        seen = (read.proposal, read.proposed_by, read.proposed_to, read.proposed_at)
        if (locked.proposal, locked.proposed_by, locked.proposed_to, locked.proposed_at) != seen:
            raise Conflict(f"the proposal on paybill payment {payment_id} changed: read it again")
        return locked

    def approve_credit(
        self, payment_id: str, *, officer: str, expected_to: str | None = None, operator: str | None = None
    ) -> PaybillPayment:
        """Carry out the credit another officer proposed (``SameOfficer`` for its proposer, audited); M-Pesa's
        record and the wallet's limits checked now. ``expected_to``: the wallet the approver read (another one now
        is a ``Conflict``). Never from a shell (``operator`` given): one operator could name any two officers there."""
        if operator is not None:
            raise Refused(
                f"paybill payment {payment_id} is credited when a second officer approves it: approve it on the "
                "console or the admin API (signed in with your second factor), not from the shell"
            )
        payment = self._second_officer(payment_id, officer, PaybillProposal.CREDIT)
        if expected_to is not None and payment.proposed_to != expected_to:
            raise Conflict(f"paybill payment {payment_id} now has a credit to another wallet proposed: read it again")
        if payment.proposed_to is not None:
            self._not_own(payment_id, officer, payment.proposed_to, "credit_approval")

        def work(uow: PaybillUnitOfWork) -> PaybillPayment:
            locked = self._still_proposed(uow, payment, payment_id)
            _creditable(locked)
            assert locked.proposed_to is not None
            wallet, now = self._receiving(uow, locked.proposed_to, locked.kes), self.clock.now()
            uow.wallet_usage.add(
                Usage(self.ids.new_id("use"), wallet.user_id, Product.RECEIVE.value, locked.kes, now, locked.id)
            )
            if locked.state is PaybillState.SUSPENDED:  # out of the suspense account
                flows.release_paybill_payment(
                    self.ledger, payment_id=locked.id, kes=locked.kes, user_id=wallet.user_id, session=uow.ledger
                )
            else:  # never booked (unverified, yet M-Pesa's record shows it paid into our paybill for its amount)
                flows.book_paybill_payment(
                    self.ledger, payment_id=locked.id, kes=locked.kes, user_id=wallet.user_id, session=uow.ledger
                )
            locked.unverified_at = locked.unverified_at or (now if locked.state is PaybillState.UNVERIFIED else None)
            locked.state, locked.user_id = PaybillState.RELEASED, wallet.user_id
            proposer = locked.proposed_by or ""
            return self._decided(
                uow,
                locked,
                f"user:{officer}",
                locked.proposal_note,
                "paybill.credit_approved",
                user=wallet.user_id,
                proposed_by=proposer,
            )

        credited = in_transaction(self.uow, work)
        assert credited.user_id is not None
        self._observed(credited, credited.user_id)
        return credited

    def decline(self, payment_id: str, *, officer: str, note: str) -> PaybillPayment:
        """Decline (or, its proposer, withdraw) the credit or return proposed: nothing moves, audited with the
        note (``paybill.credit_declined`` / ``paybill.return_declined``)."""
        text = _note(note)

        def work(uow: PaybillUnitOfWork) -> PaybillPayment:
            payment = self._actionable(uow, payment_id)
            kind = payment.proposal
            if kind is None:
                raise InvalidState(f"nothing is proposed on paybill payment {payment_id}")
            now = self.clock.now()
            details = {
                "trans_id": payment.trans_id,
                "user": payment.proposed_to or "",
                "proposed_by": payment.proposed_by or "",
                "note": text,
            }
            _cleared(payment)
            uow.paybill_payments.update(payment)
            action = f"paybill.{kind.value}_declined"
            uow.audit.append(AuditEvent(f"user:{officer}", action, _subject(payment), now, details))
            return payment

        return in_transaction(self.uow, work)

    def approve_return(self, payment_id: str, *, officer: str, operator: str | None = None) -> PaybillPayment:
        """Carry out the return another officer proposed (``SameOfficer`` for its proposer, audited): M-Pesa's
        Reversal of the TransID, recorded ``reversing`` (the tokens of its result and timeout URLs committed, the
        proposal cleared) before the request leaves; its result (``on_reversal``) or, with none by the deadline, a
        Transaction Status answer settles it. Refused by M-Pesa at once: back where it waited, with the reason (a
        new proposal then). Audited ``paybill.reversal_requested`` in the approver's name, naming the proposer."""
        if operator is not None:
            raise Refused(
                f"paybill payment {payment_id} is returned when a second officer approves it: approve it on the "
                "console or the admin API (signed in with your second factor), not from the shell"
            )
        read = self._second_officer(payment_id, officer, PaybillProposal.RETURN)
        result_token, timeout_token = self.tokens(), self.tokens()

        def work(uow: PaybillUnitOfWork) -> PaybillPayment:
            payment = self._still_proposed(uow, read, payment_id)
            _returnable(payment)
            now, proposer, note = self.clock.now(), payment.proposed_by or "", payment.proposal_note
            # an unverified one stays counted (the metric's counter never goes down), also one stored before 0200
            payment.unverified_at = payment.unverified_at or (now if payment.state is PaybillState.UNVERIFIED else None)
            payment.reversal_from, payment.state = payment.state, PaybillState.REVERSING
            payment.reversal_by, payment.reversal_note = f"user:{officer}", note
            payment.reversal_digest = token_digest(result_token)
            payment.reversal_timeout_digest = token_digest(timeout_token)
            payment.reversal_originator = payment.reversal_conversation = payment.reversal_receipt = None
            payment.check_at, payment.queries = now + REVERSAL_WAIT, 0  # no result by then: Transaction Status
            payment.status_digest = payment.timeout_digest = None
            _cleared(payment)
            uow.paybill_payments.update(payment)
            details = {
                "trans_id": payment.trans_id,
                "amount": str(payment.returned_kes.amount),
                "note": note,
                "proposed_by": proposer,
            }
            uow.audit.append(
                AuditEvent(f"user:{officer}", "paybill.reversal_requested", _subject(payment), now, details)
            )
            return payment

        recorded = in_transaction(self.uow, work)
        request = ReversalRequest(
            transaction_id=recorded.trans_id,
            amount=recorded.returned_kes,
            result_url=callback_url(f"{self.hooks}/reversal/result", result_token),
            timeout_url=callback_url(f"{self.hooks}/reversal/timeout", timeout_token),
            remarks=f"Return of paybill payment {recorded.trans_id}"[:100],
        )
        try:
            ack = self.mpesa().reversal(request)
        except OutcomeUnknown:
            _log.warning("the Reversal of paybill payment %s may have reached M-Pesa: asked about later", recorded.id)
            return recorded
        except MpesaError as error:  # refused before it started: nothing was reversed
            why = f"M-Pesa refused the reversal: {error.code}"
            return in_transaction(self.uow, partial(self._refused_reversal, payment_id=recorded.id, why=why))
        return in_transaction(self.uow, partial(self._acknowledged, payment_id=recorded.id, ack=ack))

    def _acknowledged(self, uow: PaybillUnitOfWork, *, payment_id: str, ack: Acknowledgement) -> PaybillPayment:
        payment = uow.paybill_payments.get(payment_id, lock=True)
        assert payment is not None
        if payment.state is PaybillState.REVERSING and payment.reversal_originator is None:
            payment.reversal_originator = ack.originator_conversation_id
            payment.reversal_conversation = ack.conversation_id
            uow.paybill_payments.update(payment)
        return payment

    def _refused_reversal(self, uow: PaybillUnitOfWork, *, payment_id: str, why: str) -> PaybillPayment:
        payment = uow.paybill_payments.get(payment_id, lock=True)
        assert payment is not None
        if payment.state is not PaybillState.REVERSING:
            return payment
        return self._reversal_failed(uow, payment, why, self.clock.now())

    def on_reversal(self, result: MpesaResult, *, token: str, timed_out: bool = False) -> PaybillPayment:
        """A Reversal's result (or its queue timeout) on the URL of a reversal we recorded, matched by its token and
        the OriginatorConversationID / ConversationID Daraja acknowledged: success marks the payment ``reversed``
        (a suspended one out of the suspense account); a failure puts it back where it waited, with the reason; a
        timeout asks Transaction Status. A success after the reversal was taken as failed still reverses a payment
        that waits undecided (M-Pesa's result is the word that counts), closing a credit or return proposed since
        (declined by the callback, with the reason). ``Forbidden`` for a token of no recorded
        reversal or an answer naming another request (nothing written); a repeat changes nothing."""
        digest = token_digest(token)

        def work(uow: PaybillUnitOfWork) -> PaybillPayment:
            payment = uow.paybill_payments.by_reversal_token(digest, timeout=timed_out, lock=True)
            if payment is None:
                raise Forbidden("unknown callback token")
            if not _same_request(payment, result):
                raise Forbidden("the answer names another reversal request")
            now = self.clock.now()
            answer = "timeout" if timed_out else f"{result.result_code} {result.result_desc}".strip()
            late = payment.state is not PaybillState.REVERSING and result.outcome is Outcome.SUCCEEDED
            if late and not timed_out and payment.actionable:
                # Transaction Status had found no reversal, yet M-Pesa did it: its own result is the word that counts
                # (the payer has the money back), so a proposal made since is closed (lastread A10)
                _log.warning("paybill payment %s: M-Pesa reversed it after we took the reversal as failed", payment.id)
                self._closed_by_reversal(uow, payment, now)
                return self._reversed(uow, payment, result.transaction_id or result.receipt, now)
            if payment.state is not PaybillState.REVERSING:
                if late and not timed_out and payment.state is not PaybillState.REVERSED:
                    _log.error("paybill payment %s is %s but M-Pesa reversed it", payment.id, payment.state.value)
                details = {"trans_id": payment.trans_id, "answer": answer[:200]}
                uow.audit.append(
                    AuditEvent("mpesa:callback", "paybill.reversal_repeated", _subject(payment), now, details)
                )
                return payment
            payment.answers = (*payment.answers, f"reversal {answer}"[:200])[-20:]
            if timed_out or result.outcome is Outcome.PENDING:
                payment.check_at = now  # Transaction Status settles it
                uow.paybill_payments.update(payment)
                return payment
            if result.outcome is Outcome.SUCCEEDED:
                return self._reversed(uow, payment, result.transaction_id or result.receipt, now)
            why = f"M-Pesa did not reverse it: {result.result_code} {result.result_desc}".strip()
            return self._reversal_failed(uow, payment, why, now)

        return in_transaction(self.uow, work)

    def _closed_by_reversal(self, uow: PaybillUnitOfWork, payment: PaybillPayment, now: datetime) -> None:
        """The credit or return proposed on a payment M-Pesa turns out to have reversed: declined with the reason,
        audited ``paybill.<kind>_declined`` by M-Pesa's callback (nothing of it is left to credit or return)."""
        kind = payment.proposal
        if kind is None:
            return
        details = {
            "trans_id": payment.trans_id,
            "user": payment.proposed_to or "",
            "proposed_by": payment.proposed_by or "",
            "note": _REVERSED_LATE,
        }
        _cleared(payment)
        action = f"paybill.{kind.value}_declined"
        uow.audit.append(AuditEvent("mpesa:callback", action, _subject(payment), now, details))

    def _reversal_status(
        self,
        uow: PaybillUnitOfWork,
        payment: PaybillPayment,
        result: MpesaResult,
        answer: str,
        timed_out: bool,
        now: datetime,
    ) -> PaybillPayment:
        """A Transaction Status answer about a reversal that sent no result by its deadline."""
        payment.answers = (*payment.answers, f"reversal status {answer}"[:200])[-20:]
        outcome = Outcome.PENDING if timed_out else status_outcome(result)
        state = (result.param("TransactionStatus") or "").strip().lower()
        if payment.reversal_originator is None:  # asked about the original TransID: reversed, or not (yet)
            if state == "reversed":
                return self._reversed(uow, payment, None, now)
            outcome = Outcome.FAILED if outcome is Outcome.SUCCEEDED else outcome  # completed: not reversed
        if outcome is Outcome.SUCCEEDED:
            return self._reversed(uow, payment, result.param("ReceiptNo") or None, now)
        if outcome in (Outcome.FAILED, Outcome.NOT_FOUND):
            seen = f"the reversal is {state or 'failed'}"
            if outcome is Outcome.NOT_FOUND:
                seen = "no record of the reversal"
            return self._reversal_failed(uow, payment, f"M-Pesa's Transaction Status: {seen}", now)
        uow.paybill_payments.update(payment)  # asked again at its check_at
        return payment

    def _reversed(
        self, uow: PaybillUnitOfWork, payment: PaybillPayment, receipt: str | None, now: datetime
    ) -> PaybillPayment:
        if payment.reversal_from is PaybillState.SUSPENDED:  # it was booked: out of the suspense account
            flows.return_paybill_payment(self.ledger, payment_id=payment.id, kes=payment.kes, session=uow.ledger)
        payment.state, payment.check_at, payment.reversal_receipt = PaybillState.REVERSED, None, receipt
        payment.decided_by, payment.decided_at, payment.note = payment.reversal_by, now, payment.reversal_note
        uow.paybill_payments.update(payment)
        details = {"trans_id": payment.trans_id, "amount": str(payment.kes.amount), "receipt": receipt or ""}
        uow.audit.append(AuditEvent("mpesa:callback", "paybill.reversed", _subject(payment), now, details))
        return payment

    def _reversal_failed(
        self, uow: PaybillUnitOfWork, payment: PaybillPayment, why: str, now: datetime
    ) -> PaybillPayment:
        payment.state = payment.reversal_from or PaybillState.UNVERIFIED
        payment.reason, payment.check_at = _kept(payment, why[:300]), None  # its tokens stay: a late success counts
        uow.paybill_payments.update(payment)
        details = {"trans_id": payment.trans_id, "reason": why[:300], "state": payment.state.value}
        uow.audit.append(AuditEvent("mpesa:callback", "paybill.reversal_failed", _subject(payment), now, details))
        _log.warning("the reversal of paybill payment %s failed: %s", payment.id, why)
        return payment

    def _actionable(self, uow: PaybillUnitOfWork, payment_id: str, only: PaybillState | None = None) -> PaybillPayment:
        payment = uow.paybill_payments.get(payment_id, lock=True)
        if payment is None:
            raise NotFound(f"no paybill payment {payment_id}")
        if not payment.actionable or (only is not None and payment.state is not only):
            wanted = only.value if only is not None else "unverified or in suspense"
            raise InvalidState(f"paybill payment {payment_id} is {payment.state.value}, not {wanted}")
        return payment

    def _receiving(self, uow: PaybillUnitOfWork, user_id: str, kes: Money) -> Wallet:
        """The wallet ``user_id``, locked, if it may take ``kes`` now (a frozen one ``InvalidState``, over its
        limits ``LimitExceeded``)."""
        wallet = uow.wallets.get(user_id, lock=True)
        if wallet is None:
            raise NotFound(f"no wallet for {user_id!r}")
        decision = _receivable(uow, wallet, kes, self.clock.now())
        if isinstance(decision, str):
            raise InvalidState(f"{decision}: unfreeze it first or return the payment" if wallet.frozen else decision)
        decision.enforce()
        return wallet

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


_TRANS_ID = re.compile(r"[A-Za-z0-9]{6,32}")
_REVERSAL_STATES = (PaybillState.REVERSING, PaybillState.REVERSED)
# asked about by Transaction Status while ``check_at`` is set (a suspended one only when re-verified: ``reverify``)
ASKED = (PaybillState.VERIFYING, PaybillState.REVERSING, PaybillState.SUSPENDED)
_REVERSED_LATE = "M-Pesa reversed the payment after its reversal was taken as failed: the payer has the money back"


def _decimal(text: str | None) -> Decimal | None:
    try:
        return Decimal((text or "").replace(",", "").strip())
    except InvalidOperation:
        return None


def _party(result: MpesaResult, key: str) -> str:
    """The number or shortcode a Transaction Status party names (``254708374149 - John Doe`` -> its digits)."""
    return (result.param(key) or "").split(" - ", 1)[0].strip()


def _same_payer(sent: str, number: str) -> bool:
    """Whether the MSISDN a confirmation sent (whole, masked ``2547 ***** 126`` or Daraja's SHA-256 of it) is
    ``number``, the debit party M-Pesa's record names. Fails closed (revpass6 P2): a confirmation showing no
    number, or a mask showing fewer than 3 digits at either end, names no payer to compare, so it is not the same.

    >>> sent = ("2547 ***** 001", "254799000001", "", "*", "2547*1", "2547 ***** 002")
    >>> [_same_payer(s, "254799000001") for s in sent]
    [True, True, False, False, False, False]
    """
    text = sent.replace(" ", "")
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return hashlib.sha256(number.encode()).hexdigest() == text.lower()
    if "*" in text:
        head, tail = text.split("*", 1)[0], text.rsplit("*", 1)[-1]
        shown = len(head) >= 3 and len(tail) >= 3 and (head + tail).isdigit()
        return shown and bool(number) and number.startswith(head) and number.endswith(tail)
    whole, theirs = try_normalize_msisdn(text), try_normalize_msisdn(number)
    return whole is not None and whole == theirs


_DISAGREE = "confirmations of this TransID disagree"
# in an unverified payment's reason: M-Pesa's completed record is not a payment into our paybill (``_creditable``)
_NOT_OURS = "it shows no payment into our paybill"


def _kept(payment: PaybillPayment, why: str) -> str:
    """``why`` as a payment's new reason, after the disagreement of its confirmations if they disagreed: a payment
    asked about again and then verified must still go to suspense, never to the account a confirmation named."""
    if payment.reason.startswith(_DISAGREE):
        return f"{payment.reason.split('; ', 1)[0]}; {why}"
    return why


def _differences(known: PaybillPayment, result: MpesaResult, kes: Money) -> str:
    """What a repeated confirmation of ``known``'s TransID says otherwise (amount, account number, payer, shortcode);
    empty when it is the same."""
    said = {
        "amount": (str(known.kes.amount), str(kes.amount)),
        "account number": (known.bill_ref, (result.account_reference or "").strip()[:64]),
        "payer": (known.msisdn, (result.param("MSISDN") or "")[:80]),
        "shortcode": (known.shortcode, result.param("BusinessShortCode") or ""),
    }
    return ", ".join(name for name, (first, again) in said.items() if first != again)


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


def _officer_named(uow: PaybillUnitOfWork, to: str) -> Wallet | None:
    """The wallet an officer names (phone, username or user id), if any."""
    return _named(uow, to) or uow.wallets.get(to.strip())


def _creditable(payment: PaybillPayment) -> None:
    """Refuse crediting a payment unless M-Pesa's own record (a Transaction Status answer, kept as ``paid_to_us``)
    shows it paid into our paybill for the amount credited: not one M-Pesa has no record of (two officers vouching
    is no proof: the confirmation URL's token may have leaked), nor one recorded with another amount (a confirmation
    that claimed more than was paid would credit money that never came), nor one whose record is no payment into our
    paybill at all (a payout of ours, another business's; revpass7 P1)."""
    if payment.mpesa_record == payment.kes:
        return
    if payment.mpesa_record is not None:
        raise InvalidState(
            f"M-Pesa's record shows {payment.mpesa_record} received, the confirmation said {payment.kes}: return it to "
            "the payer or ask M-Pesa again (re-verify)"
        )
    if payment.state is PaybillState.UNVERIFIED and _NOT_OURS in payment.reason:
        raise InvalidState(
            f"M-Pesa's record of TransID {payment.trans_id} shows {_NOT_OURS.removeprefix('it shows ')}: nothing came "
            "in to credit (re-verify: ask M-Pesa again if the record was wrong)"
        )
    raise InvalidState(
        f"no record of M-Pesa's shows TransID {payment.trans_id} paid into our paybill for {payment.kes}: re-verify "
        "it first (ask M-Pesa's Transaction Status again); a credit needs M-Pesa's word, not the confirmation's"
    )


def _returnable(payment: PaybillPayment) -> None:
    """Refuse returning a payment unless M-Pesa's record shows its TransID paid into our paybill (what a Reversal
    gives back): a TransID of a payout of ours, or of nothing, is not the payer's money."""
    if payment.mpesa_record is None:
        raise InvalidState(
            f"no record of M-Pesa's shows TransID {payment.trans_id} paid into our paybill: nothing of the payer's "
            "to return; re-verify it first (ask M-Pesa's Transaction Status again)"
        )


def _cleared(payment: PaybillPayment) -> None:
    """The proposal waiting on ``payment`` gone (declined, or carried out)."""
    payment.proposal_kind = payment.proposed_to = payment.proposed_by = payment.proposed_at = None
    payment.proposal_note = ""


def _same_request(payment: PaybillPayment, result: MpesaResult) -> bool:
    """Whether a Reversal's answer is about the request Daraja acknowledged (its OriginatorConversationID and
    ConversationID); an answer that came before the acknowledgement was kept is judged by its token alone."""
    pairs = (
        (payment.reversal_originator, result.originator_conversation_id or result.reference),
        (payment.reversal_conversation, result.conversation_id),
    )
    return all(ours is None or theirs is None or ours == theirs for ours, theirs in pairs)


def _refusal(uow: PaybillUnitOfWork, wallet: Wallet, kes: Money, now: datetime) -> str:
    """Why ``wallet`` may not take ``kes`` now (empty: it may)."""
    decision = _receivable(uow, wallet, kes, now)
    if isinstance(decision, str):
        return decision
    return "" if decision.allowed else f"refused by the wallet's limits: {decision.reason}"


def _receivable(uow: PaybillUnitOfWork, wallet: Wallet, kes: Money, now: datetime) -> Decision | str:
    """Why ``wallet`` may take nothing (frozen, no KYC profile), else its limits' decision on ``kes`` now (its receive
    lock taken first): the one check of the booking (``_refusal``) and of an officers' credit (``_receiving``)."""
    if wallet.frozen:
        return "the wallet is frozen"
    profile = uow.kyc.get(wallet.user_id)
    if profile is None:
        return "the wallet has no KYC profile"
    _lock_receiving(uow, wallet.user_id, profile, now)
    return check_wallet_movement(profile, Product.RECEIVE, kes, spent=spending(uow, wallet.user_id, now), at=now)


def _lock_receiving(uow: PaybillUnitOfWork, user_id: str, profile: KycProfile, now: datetime) -> None:
    """Before reading what a wallet whose tier limits receiving received: its receive lock, as a send to it, a claim
    and a deposit take it (after the wallet's row, before any balance: the lock order in ``wallets.service``), so a
    paybill credit and a send at the same moment cannot both pass a limit only one fits (revpass7 P2)."""
    if product_limited(profile, Product.RECEIVE, at=now):
        uow.wallet_usage.lock_receiving(user_id)


def _note(note: str) -> str:
    text = note.strip()
    if not text or len(text) > MAX_NOTE:
        raise InvalidInput(f"say why, in 1 to {MAX_NOTE} characters", field="note")
    return text
