"""Sending payouts over M-Pesa and settling them on results, status queries, and operator retries.

The protocol (see ``ports.mobile_money``): a payout is marked ``submitted`` and committed *before* M-Pesa is
called, with its unique OriginatorConversationID (the payout id; M-Pesa refuses a repeat), so a crash or a lost
answer can never lead to a second send: from then on only a Transaction Status answer of NOT_FOUND puts it back to
``planned``. ``OutcomeUnknown``, a duplicate-request refusal, a server error, a queue timeout, or no result by
``deadline`` make it ``unknown`` and ``query_stale_payouts`` asks Transaction Status, again after every
``deadline`` until it is decided; a payout ``unknown`` for longer than ``unknown_bound`` is reported once
(``report_overdue_payouts``: an audit record and a warning). A refusal that certainly moved nothing (a bad request,
a business rejection) fails it; throttling and an expired token send it again later.

Recorded before sent -- the decision. Every request whose answer comes back later (the B2C/B2B itself, each status
query) gets one fresh secret token per callback URL, and the tokens' digests are committed with the request's
record *before* the request leaves. An answer is found by its token's digest, so it can never arrive before the
record it needs (the old race: a status answer faster than the commit that stored the query's id was dropped).

Trusting results -- the decision. M-Pesa's callbacks are unsigned, so a result moves money only when all of these
hold: its URL carries a token we recorded for that very URL (result, timeout, status result, status timeout: a
token is valid on its own URL only, and once); the ids it carries agree with the payout (see ``_answers``); and, for
a success, it carries and matches the payout's amount and receiving party. A result that fails the match moves
nothing and makes the payout ``unknown``, so Transaction Status decides; a *failure* result for a payout whose
outcome was already unknown waits for a status answer too. A repeat of an answer changes nothing (a contradicting
one for a final payout is audited for an operator, still changing nothing); every answer on a real token that
moves nothing is kept (``unmatched_answers``, closed under the payout). A payout failed by a callback is retried
only once Transaction Status, asked by the retry itself, confirms the failure; found paid, it is completed instead.

B2B (paybill/till) requests carry no originator id of ours: M-Pesa's is recorded from its answer. A B2B payout
whose answer was lost without a reference cannot be queried; it stays ``unknown`` for an operator (never resent).
Any payout ``unknown`` past the bound is a reconciliation difference (``payouts-unresolved``) until two people
conclude it from M-Pesa's own record (``propose_conclusion`` by one, ``approve_conclusion`` by another: R10-4).

A settlement's payout from planned to completed (the in-memory stack; the worker's ``payouts.start`` job calls
``submit_payouts``, and M-Pesa's result callback reaches ``handle_payout_result``):

>>> from cryptopay.core.money import Money
>>> from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
>>> from cryptopay.core.testing.payments_stack import PaymentsStack
>>> stack = PaymentsStack()
>>> _ = stack.add_merchant(
...     "m1", settlement=SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "0712345678")
... )
>>> invoice = stack.invoicing.create_invoice("m1", Money.of("1000", "KES"))
>>> _ = stack.chains["tron"].pay(invoice.options[0].address, invoice.options[0].due)
>>> stack.confirm()  # the payment is confirmed and credited to the merchant
>>> (run,) = stack.settling.run_settlements()
>>> [(p.state.value, p.amount) for p in run.payouts]
[('planned', Money('990.00', 'KES'))]
>>> [p.state.value for p in stack.payouts.submit_payouts()]  # recorded as submitted before M-Pesa is called
['submitted']
>>> _ = stack.deliver_callbacks()  # M-Pesa's B2C result, on its tokened URL
>>> payout = stack.payouts.get_payout(run.payouts[0].id)
>>> payout.state.value, payout.receipt is not None, stack.books_balanced()
('completed', True, True)
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, NoReturn

import attrs
from cryptopay.core import faults, flows
from cryptopay.core.compliance.four_eyes import FourEyes, SameOfficer
from cryptopay.core.errors import (
    Conflict,
    CryptopayError,
    InvalidInput,
    InvalidState,
    LimitExceeded,
    NotFound,
    Refused,
)
from cryptopay.core.faults import NO_FAULTS, FaultPoints
from cryptopay.core.identity.model import Forbidden
from cryptopay.core.kyc.gate import PayoutGate
from cryptopay.core.kyc.limits import day_bounds
from cryptopay.core.ledger import Ledger
from cryptopay.core.mobile_money import (
    Acknowledgement,
    B2BCommand,
    B2BRequest,
    B2CRequest,
    MpesaAuthFailed,
    MpesaError,
    MpesaResult,
    Outcome,
    OutcomeUnknown,
    TransactionStatusRequest,
    callback_url,
    new_callback_token,
    status_outcome,
    token_digest,
)
from cryptopay.core.mobile_money.limits import DAILY_CUSTOMER_LIMIT
from cryptopay.core.mobile_money.phones import mask_msisdn
from cryptopay.core.money import KES, Money
from cryptopay.core.payments._support import audit, publish, transaction
from cryptopay.core.payouts import _answers, _conclusions, _corrections, _outcomes, matching
from cryptopay.core.payouts._conclusions import StatementAmbiguous, StatementContradicts
from cryptopay.core.payouts.model import (
    DEFAULT_RESULT_DEADLINE,
    DEFAULT_UNKNOWN_BOUND,
    B2BTarget,
    CallbackPurpose,
    CallbackToken,
    Conclusion,
    ConclusionOutcome,
    Payout,
    PayoutKind,
    PayoutQuery,
    PayoutState,
    ReceiptCorrection,
    StatementEvidence,
    bank_reference,
    mpesa_receipt,
)
from cryptopay.core.ports.mobile_money import MobileMoneyGateway
from cryptopay.core.ports.monitoring import Metrics
from cryptopay.core.ports.storage import page_past
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.throughput import Throughput, TokenBucket
from cryptopay.core.settlement.model import SettlementMethod

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory, PayoutRepository
    from cryptopay.core.ports.treasury import PayoutGuard
    from cryptopay.core.reconciliation.statement import Statement

__all__ = [
    "DEFAULT_RESULT_DEADLINE",
    "DEFAULT_UNKNOWN_BOUND",
    "PREPAID_TOKEN",
    "QUEUE_TIMEOUT_CODE",
    "AwaitingStatus",
    "CallbackPurpose",
    "Pacing",
    "PayoutUrls",
    "Payouts",
    "SamePerson",
    "StatementAmbiguous",
    "StatementContradicts",
]

QUEUE_TIMEOUT_CODE = "QueueTimeout"
_ACTOR = "system:payouts"
_log = logging.getLogger("cryptopay.payouts")
_ABOUT_OVERDUE = "payouts unknown for longer than the bound (an operator should look)"
_QUERY_WAIT_CAP = timedelta(minutes=30)
# A prepaid biller's token in a B2B result. Not a Daraja field: real KPLC sends its token by SMS to the meter's
# phone; the sandbox's simulated prepaid biller returns one under this name, and a result that has one keeps it.
PREPAID_TOKEN = "PrepaidToken"
_BANK_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9./-]{0,63}", re.ASCII)


@attrs.frozen(kw_only=True)
class PayoutUrls:
    """Where M-Pesa posts payout results and status answers; each request appends its own secret token."""

    result: str
    timeout: str
    status_result: str
    status_timeout: str

    def purpose_of(self, url: str) -> CallbackPurpose | None:
        """Which of these URLs ``url`` was built from (its token appended), if any."""
        bases = {
            CallbackPurpose.RESULT: self.result,
            CallbackPurpose.TIMEOUT: self.timeout,
            CallbackPurpose.STATUS_RESULT: self.status_result,
            CallbackPurpose.STATUS_TIMEOUT: self.status_timeout,
        }
        return next((p for p, base in bases.items() if url.startswith(base.rstrip("/") + "/")), None)


class Payouts:
    """The payout use cases."""

    def __init__(
        self,
        *,
        uow: PaymentsUowFactory,
        clock: Clock,
        ids: IdGenerator,
        ledger: Ledger,
        gateway: MobileMoneyGateway,
        urls: PayoutUrls,
        deadline: timedelta = DEFAULT_RESULT_DEADLINE,
        unknown_bound: timedelta = DEFAULT_UNKNOWN_BOUND,
        tokens: Callable[[], str] = new_callback_token,
        faults: FaultPoints = NO_FAULTS,
        metrics: Metrics | None = None,
        pacing: Pacing | None = None,
        guard: PayoutGuard | None = None,
        gate: PayoutGate | None = None,
        per_day: Money | None = DAILY_CUSTOMER_LIMIT,
        payout_shortcode: str | None = None,
        four_eyes: FourEyes | None = None,
    ) -> None:
        self._uow, self._clock, self._ids, self._ledger = uow, clock, ids, ledger
        # the Short Code payouts go out from: a statement read as a conclusion's evidence must be its (LASTREAD
        # L-4); None: not checked (an in-memory stack without M-Pesa), "": none configured, every statement refused
        self._payout_shortcode = payout_shortcode
        self._per_day = per_day  # M-Pesa's per-recipient daily limit, checked again by a B2C retry (None: not)
        self._guard = guard  # the treasury's refusal before overdraft: what the float cannot cover is held
        self._gateway, self._urls, self._deadline, self._tokens = gateway, urls, deadline, tokens
        self._unknown_bound, self._faults, self._metrics = unknown_bound, faults, metrics
        self._pacing = pacing
        self._gate = gate  # compliance: a frozen merchant's payouts stay planned (None: nothing is held)
        self.four_eyes = four_eyes or FourEyes()  # a conclusion's approval (``compliance.four_eyes``)

    @property
    def unknown_bound(self) -> timedelta:
        """How long a payout may stay ``unknown`` before it is reported and may be concluded (a deployment setting,
        ``CRYPTOPAY_PAYOUT_UNKNOWN_BOUND_MINUTES``, the same one the ``payouts-unresolved`` check reads)."""
        return self._unknown_bound

    def get_payout(self, payout_id: str) -> Payout:
        """The payout, or ``NotFound``."""
        return transaction(self._uow, lambda uow: _payout(uow, payout_id))

    def _ask_status(self, tokens: dict[CallbackPurpose, str], originator_id: str, payout_id: str) -> Acknowledgement:
        """Send M-Pesa a Transaction Status query about ``payout_id`` (already recorded, with its ``tokens``)."""
        return self._gateway.transaction_status(
            TransactionStatusRequest(
                result_url=callback_url(self._urls.status_result, tokens[CallbackPurpose.STATUS_RESULT]),
                timeout_url=callback_url(self._urls.status_timeout, tokens[CallbackPurpose.STATUS_TIMEOUT]),
                originator_conversation_id=originator_id,
                remarks=f"Payout {payout_id}",
            )
        )

    def _issue(
        self, request: str, *purposes: CallbackPurpose
    ) -> tuple[dict[CallbackPurpose, str], tuple[CallbackToken, ...]]:
        """Fresh tokens for a request's callback URLs, and their records (digests only) to commit before sending."""
        tokens = {purpose: self._tokens() for purpose in purposes}
        return tokens, tuple(CallbackToken(token_digest(t), p, request) for p, t in tokens.items())

    # --- sending ------------------------------------------------------------------------------------------------

    def submit_payouts(self, *, limit: int = 100) -> list[Payout]:
        """Send up to ``limit`` planned payouts once, oldest first, as fast as the shortcode's bucket allows
        (``Pacing``); returns those sent as they stand afterwards. When the bucket would make it wait too long, it
        stops: the rest stay planned, in order, for the next run (nothing is lost or sent out of turn). A payout
        whose owner compliance holds (frozen) stays planned, its shillings held, and the run reads past it
        (``page_past``: a frozen merchant's many never hold up the others')."""

        def planned_after(after: tuple[datetime, str] | None) -> list[Payout]:
            return transaction(
                self._uow, lambda uow: uow.payouts.by_state(PayoutState.PLANNED, limit=limit, after=after)
            )

        planned = page_past(planned_after, self._not_held, lambda p: (p.created_at, p.id), limit=limit)
        if self._guard is not None:
            planned = self._guard.admit(planned)  # the rest are held with a reason until the float covers them
        sent = []
        for payout in planned:
            if self._pacing is not None and not self._pacing.admit():
                break
            sent.append(self._submit(payout))
        return sent

    def _not_held(self, page: list[Payout]) -> list[Payout]:
        """``page`` without the payouts whose owner (a merchant, a wallet's user) compliance holds, their profiles
        read once. A remittance's owner is the desk, not a party with a profile: its compliance is the order's
        (monitoring, the Travel Rule)."""
        if self._gate is None:
            return page
        owners = sorted({p.merchant_id for p in page if p.kind is not PayoutKind.REMITTANCE})
        decisions = self._gate.held_many(owners)
        return [p for p in page if p.kind is PayoutKind.REMITTANCE or decisions[p.merchant_id].allowed]

    def _submit(self, planned: Payout) -> Payout:
        payout_id = planned.id
        tokens, records = self._issue(
            f"send:{planned.submissions + 1}", CallbackPurpose.RESULT, CallbackPurpose.TIMEOUT
        )
        claimed = transaction(self._uow, lambda uow: self._claim(uow, payout_id, records))
        if claimed is None:
            return self.get_payout(payout_id)  # another worker took it
        self._faults.reached(faults.PAYOUT_SUBMITTED)
        try:
            ack = self._send(claimed, tokens)
        except CryptopayError as error:
            return transaction(self._uow, partial(self._refused, payout_id=payout_id, error=error))
        except Exception:
            transaction(self._uow, lambda uow: self._doubt(uow, payout_id, "the send raised unexpectedly", None))
            raise
        self._faults.reached(faults.PAYOUT_SENT)
        done = transaction(self._uow, lambda uow: self._acknowledged(uow, payout_id, ack))
        self._faults.reached(faults.PAYOUT_ACKNOWLEDGED)
        return done

    def _claim(self, uow: PaymentsUnitOfWork, payout_id: str, records: tuple[CallbackToken, ...]) -> Payout | None:
        payout, now = _payout(uow, payout_id), self._clock.now()
        if payout.state is not PayoutState.PLANNED:
            return None
        payout.submitted(now, callbacks=records, check_at=now + self._deadline)
        uow.payouts.update(payout)
        audit(
            uow,
            _ACTOR,
            "payout.submit",
            f"payout:{payout.id}",
            now,
            amount=payout.amount,
            method=payout.method.value,
            originator=payout.originator_id or "",
        )
        return payout

    def _send(self, payout: Payout, tokens: dict[CallbackPurpose, str]) -> Acknowledgement:
        result_url = callback_url(self._urls.result, tokens[CallbackPurpose.RESULT])
        timeout_url = callback_url(self._urls.timeout, tokens[CallbackPurpose.TIMEOUT])
        if payout.method is SettlementMethod.MPESA_B2C:
            assert payout.originator_id is not None  # B2C payouts are planned with our own id
            return self._gateway.b2c(
                B2CRequest(
                    originator_conversation_id=payout.originator_id,
                    phone=payout.destination,
                    amount=payout.amount,
                    result_url=result_url,
                    timeout_url=timeout_url,
                    remarks=payout.remark,
                )
            )
        target = payout.b2b or _legacy_b2b_target(payout)
        return self._gateway.b2b(
            B2BRequest(
                command=target.command,
                receiver=target.party,
                amount=payout.amount,
                account_reference=target.account_reference,
                result_url=result_url,
                timeout_url=timeout_url,
                remarks=payout.remark,
            )
        )

    def _acknowledged(self, uow: PaymentsUnitOfWork, payout_id: str, ack: Acknowledgement) -> Payout:
        payout = _payout(uow, payout_id)
        payout.acknowledged(
            originator_id=None if payout.is_b2c else ack.originator_conversation_id,
            conversation_id=ack.conversation_id,
        )
        uow.payouts.update(payout)
        return payout

    def _refused(self, uow: PaymentsUnitOfWork, payout_id: str, error: CryptopayError) -> Payout:
        """Sort a failed send: certainly not acted on (fail it, or send it later) versus maybe acted on (ask)."""
        payout, now = _payout(uow, payout_id), self._clock.now()
        if payout.state is not PayoutState.SUBMITTED:
            return payout  # an answer arrived meanwhile and decided it
        if (isinstance(error, MpesaError) and error.retry_safe) or isinstance(error, MpesaAuthFailed):
            payout.returned(f"sent again later: {error.message}")  # refused before anything could happen
            uow.payouts.update(payout)
        elif isinstance(error, InvalidInput | Refused):
            # Our own validation, a bad request or a business rejection: nothing moved.
            _outcomes.fail(uow, self._ledger, self._ids, payout, now, code=error.code, desc=error.message)
        else:  # OutcomeUnknown, a duplicate originator id, a server error: M-Pesa may have acted
            reference = error.reference if isinstance(error, OutcomeUnknown) else None
            return self._doubt_payout(uow, payout, f"outcome unknown: {error.message}", reference)
        return payout

    def _doubt(self, uow: PaymentsUnitOfWork, payout_id: str, note: str, reference: str | None) -> Payout:
        return self._doubt_payout(uow, _payout(uow, payout_id), note, reference)

    def _doubt_payout(self, uow: PaymentsUnitOfWork, payout: Payout, note: str, reference: str | None) -> Payout:
        """No usable result: the payout is ``unknown`` and Transaction Status is asked at the next run."""
        now = self._clock.now()
        if payout.is_final:
            return payout
        if reference and payout.originator_id is None:
            payout.originator_id = reference
        payout.unknown(now, note, check_at=now)
        uow.payouts.update(payout)
        audit(uow, _ACTOR, "payout.unknown", f"payout:{payout.id}", now, note=note)
        return payout

    # --- answers ------------------------------------------------------------------------------------------------

    def handle_payout_result(
        self,
        result: MpesaResult,
        *,
        token: str | None,
        purpose: CallbackPurpose,
        keep: str | None = None,
        raw: str | None = None,
    ) -> Payout | None:
        """Apply a B2C/B2B Result, a queue timeout or a Transaction Status answer posted to ``purpose``'s URL.

        ``token`` (the URL's) must be one we recorded for that very URL, else ``Forbidden`` and nothing is
        written; a caller that vouches for the sender (an allowed Daraja source address) passes the raw body as
        ``keep``, and then an answer whose token names no request is kept for ``match_kept_answers`` instead.
        ``raw``: the body as received, kept when the answer on a real token moves nothing (a mismatch, a repeat).
        """
        body = keep or raw or json.dumps(attrs.asdict(result), default=str)
        try:
            payout = transaction(self._uow, lambda uow: self._handle(uow, result, token, purpose, body))
        except Forbidden:
            if keep is None:
                raise
        else:
            if self._guard is not None and payout.state is PayoutState.COMPLETED:
                self._guard.reported(payout, result)  # the balances M-Pesa's result carries, for the treasury
            return payout
        transaction(self._uow, lambda uow: _answers.keep(uow, self._ids, self._clock.now(), purpose, keep))
        return None

    def _handle(
        self, uow: PaymentsUnitOfWork, result: MpesaResult, token: str | None, purpose: CallbackPurpose, body: str
    ) -> Payout:
        payout, callback = _answers.authenticate(uow, token, purpose)
        now = self._clock.now()
        if callback.used_at is not None:
            return self._again(uow, payout, purpose, result, body)
        payout.use_callback(callback.digest, now)
        uow.payouts.update(payout)
        query = payout.query(callback.request) if purpose.is_status else None
        stranger = _answers.names_another(payout, result, query=query)  # before the answer's ids are learnt
        if query is not None:
            payout.query_answered(
                query.query_id, originator_id=result.originator_conversation_id, conversation_id=result.conversation_id
            )
            uow.payouts.update(payout)
        if stranger:
            return self._suspect(uow, payout, purpose, stranger, body)
        if purpose.is_timeout or result.result_code == QUEUE_TIMEOUT_CODE:
            return self._doubt_payout(uow, payout, "M-Pesa's queue timed out", None)
        if query is not None:
            return self._status_answer(uow, payout, query, result)
        known = _answers.names_us(payout, result, status=False)  # ids we had before this answer told us any
        _answers.learn_ids(payout, result)
        return self._apply(uow, payout, result.outcome, result, source="result", known_ids=known)

    def _suspect(
        self, uow: PaymentsUnitOfWork, payout: Payout, purpose: CallbackPurpose, why: str, body: str
    ) -> Payout:
        """An answer on a real token that does not name the payout: kept and audited; Transaction Status decides."""
        now = self._clock.now()
        kept = _answers.keep_refused(uow, self._ids, now, purpose, payout, body)
        audit(
            uow,
            "mpesa:callback",
            "payout.result_mismatch",
            f"payout:{payout.id}",
            now,
            url=purpose.value,
            why=why,
            answer=kept,
        )
        return self._doubt_payout(uow, payout, f"an answer on the {purpose.value} URL {why}", None)

    def _again(
        self, uow: PaymentsUnitOfWork, payout: Payout, purpose: CallbackPurpose, result: MpesaResult, body: str
    ) -> Payout:
        """A second answer on a used token moves nothing (single use), but it is kept and compared, never dropped:
        one contradicting the payout's state is a ``payout.result_conflict``; on an open payout it makes
        Transaction Status decide now (the first answer may have been the forgery)."""
        now = self._clock.now()
        kept = _answers.keep_refused(uow, self._ids, now, purpose, payout, body)
        outcome = status_outcome(result) if purpose.is_status else result.outcome
        conflict = payout.is_final and outcome in (Outcome.SUCCEEDED, Outcome.FAILED) and _contradicts(payout, outcome)
        action = "payout.result_conflict" if conflict else "payout.answer_repeated"
        audit(
            uow,
            "mpesa:callback",
            action,
            f"payout:{payout.id}",
            now,
            url=purpose.value,
            state=payout.state.value,
            code=result.result_code or "",
            answer=kept,
        )
        if not payout.is_final and payout.state is not PayoutState.PLANNED:
            payout.check_at = now
            uow.payouts.update(payout)
        return payout

    def _status_answer(
        self, uow: PaymentsUnitOfWork, payout: Payout, query: PayoutQuery, result: MpesaResult
    ) -> Payout:
        outcome, now = status_outcome(result), self._clock.now()
        if outcome is Outcome.NOT_FOUND or (
            outcome in (Outcome.SUCCEEDED, Outcome.FAILED) and _answers.names_us(payout, result, status=True)
        ):
            payout.query_outcome(query.query_id, outcome.value)  # what a retry of a failed payout waits for
            uow.payouts.update(payout)
        if outcome is Outcome.NOT_FOUND:
            if payout.state is PayoutState.UNKNOWN and payout.is_latest(query):
                payout.not_found(now)  # never reached M-Pesa: safe to send with the same id
                uow.payouts.update(payout)
                audit(uow, _ACTOR, "payout.not_found", f"payout:{payout.id}", now, query=query.query_id)
            return payout
        return self._apply(uow, payout, outcome, result, source="status")

    def _apply(
        self,
        uow: PaymentsUnitOfWork,
        payout: Payout,
        outcome: Outcome,
        result: MpesaResult,
        *,
        source: str,
        known_ids: bool = True,
    ) -> Payout:
        now = self._clock.now()
        if payout.is_final and self._paid_after_all(uow, payout, outcome, result, source=source):
            return payout
        if payout.is_final:
            if outcome in (Outcome.SUCCEEDED, Outcome.FAILED) and _contradicts(payout, outcome):
                audit(
                    uow,
                    "mpesa:callback",
                    "payout.result_conflict",
                    f"payout:{payout.id}",
                    now,
                    source=source,
                    state=payout.state.value,
                    code=result.result_code or "",
                )
            return payout
        details = {
            "receipt": result.receipt or result.transaction_id,
            "code": result.result_code,
            "desc": result.result_desc,
        }
        if outcome is Outcome.SUCCEEDED:
            mismatch = _answers.success_mismatch(payout, result, status=source == "status")
            if mismatch:
                return self._doubt_payout(uow, payout, f"{source} does not match the payout: {mismatch}", None)
            token = result.param(PREPAID_TOKEN) if payout.b2b is not None else None
            name = _answers.receiver_name(result) if payout.is_b2c else None  # the number's registered name
            _outcomes.complete(uow, self._ledger, self._ids, payout, now, token=token, name=name, **details)
        elif outcome is Outcome.FAILED and not _answers.failure_names_us(payout, result, status=source == "status"):
            return self._doubt_payout(uow, payout, f"{source} failure does not carry the payout's ids", None)
        elif (
            outcome is Outcome.FAILED and source == "result" and (payout.state is PayoutState.UNKNOWN or not known_ids)
        ):
            # Its outcome was in doubt, or its ids were learnt from this very answer: a failure releases the hold
            # only once Transaction Status confirms it.
            payout.check_at, payout.note = now, f"a failure result ({result.result_code}) awaits a status query"
            uow.payouts.update(payout)
            audit(uow, _ACTOR, "payout.failure_unconfirmed", f"payout:{payout.id}", now, code=result.result_code or "")
        elif outcome is Outcome.FAILED:
            _outcomes.fail(uow, self._ledger, self._ids, payout, now, **details)
        return payout

    def _paid_after_all(
        self, uow: PaymentsUnitOfWork, payout: Payout, outcome: Outcome, result: MpesaResult, *, source: str
    ) -> bool:
        """A Transaction Status success, matching in every detail, for a failed payout not retried yet: M-Pesa paid
        it after all, so it is completed (booked from the balance its voided hold released) and cannot be retried.
        A failed payout already retried stays a conflict for an operator (two attempts may both have paid)."""
        if source != "status" or outcome is not Outcome.SUCCEEDED or payout.state is not PayoutState.FAILED:
            return False
        if payout.retried_by is not None or _answers.success_mismatch(payout, result, status=True):
            return False
        details = {"receipt": result.receipt or result.transaction_id, "code": result.result_code}
        details["name"] = _answers.receiver_name(result) if payout.is_b2c else None
        now, source_account = self._clock.now(), _source(payout)
        _outcomes.paid_after_all(
            uow, self._ledger, self._ids, payout, now, source_account, desc=result.result_desc, **details
        )
        return True

    def match_kept_answers(self, *, limit: int = 100) -> list[Payout]:
        """Match answers kept without a known token by the ids they carry: each names a payout to ask about now."""
        pending = transaction(self._uow, lambda uow: uow.unmatched_answers.pending(limit=limit))
        found = [transaction(self._uow, partial(self._match_kept, answer_id=kept.id)) for kept in pending]
        return [p for p in found if p is not None]

    def _match_kept(self, uow: PaymentsUnitOfWork, answer_id: str) -> Payout | None:
        answer, now = uow.unmatched_answers.get(answer_id), self._clock.now()
        if answer is None or answer.matched_at is not None:
            return None
        payout = _answers.find_by_ids(uow, answer)
        answer.tried(now, payout.id if payout else None)
        uow.unmatched_answers.update(answer)
        if payout is None or payout.is_final:
            return None
        # Its token was not ours, so it moves no money: it only makes Transaction Status decide now.
        audit(uow, _ACTOR, "payout.answer_matched", f"payout:{payout.id}", now, answer=answer.id)
        if payout.state is PayoutState.PLANNED:
            return payout
        payout.check_at = now
        uow.payouts.update(payout)
        return payout

    # --- status queries -----------------------------------------------------------------------------------------

    def follow_up_payouts(self, *, limit: int = 100) -> list[Payout]:
        """The scheduled job: match kept answers, report payouts unknown past the bound, ask about every due one."""
        self.match_kept_answers(limit=limit)
        self.report_overdue_payouts(limit=limit)
        return self.query_stale_payouts(limit=limit)

    def query_stale_payouts(self, *, limit: int = 100) -> list[Payout]:
        """Ask Transaction Status about every payout with no result by its deadline; returns those asked about."""
        due = transaction(self._uow, lambda uow: uow.payouts.due_for_status(self._clock.now(), limit=limit))
        asked = []
        for payout in due:
            if self._pacing is not None and not self._pacing.admit():
                break  # the rest are still due: the next run asks
            if (query := self._query(payout)) is not None:
                asked.append(query)
        return asked

    def _query(self, payout: Payout) -> Payout | None:
        if payout.originator_id is None:
            transaction(self._uow, lambda uow: self._park(uow, payout.id))
            return None
        query_id = self._ids.new_id("pq")
        tokens, records = self._issue(query_id, CallbackPurpose.STATUS_RESULT, CallbackPurpose.STATUS_TIMEOUT)
        recorded = transaction(self._uow, lambda uow: self._record_query(uow, payout.id, query_id, records))
        if recorded is None or recorded.originator_id is None:
            return None
        self._faults.reached(faults.STATUS_RECORDED)
        try:
            ack = self._ask_status(tokens, recorded.originator_id, payout.id)
        except CryptopayError as error:
            note = f"status query failed: {error.message}"
            transaction(self._uow, lambda uow: self._later(uow, payout.id, note))
            return None
        self._faults.reached(faults.STATUS_ASKED)
        return transaction(self._uow, lambda uow: self._asked(uow, payout.id, query_id, ack))

    def _record_query(
        self, uow: PaymentsUnitOfWork, payout_id: str, query_id: str, records: tuple[CallbackToken, ...]
    ) -> Payout | None:
        """Commit the query and its callback tokens before asking, so its answer always finds them."""
        payout, now = _payout(uow, payout_id), self._clock.now()
        if payout.is_final or payout.check_at is None or payout.check_at > now:
            return None  # decided, or asked about by another worker meanwhile
        if payout.state is PayoutState.SUBMITTED:
            payout.unknown(now, f"no result within {self._deadline}", check_at=now + self._deadline)
        wait = min(self._deadline * 2 ** min(len(payout.queries), 8), _QUERY_WAIT_CAP)  # ask less often, not never
        payout.asking(PayoutQuery(query_id=query_id, asked_at=now), records, check_at=now + wait)
        uow.payouts.update(payout)
        audit(uow, _ACTOR, "payout.status_query", f"payout:{payout.id}", now, query=query_id)
        return payout

    def _asked(self, uow: PaymentsUnitOfWork, payout_id: str, query_id: str, ack: Acknowledgement) -> Payout:
        """Remember M-Pesa's ids for the query (an extra key for its answer; the token already finds it)."""
        payout = _payout(uow, payout_id)
        payout.query_answered(
            query_id, originator_id=ack.originator_conversation_id, conversation_id=ack.conversation_id
        )
        uow.payouts.update(payout)
        return payout

    def _later(self, uow: PaymentsUnitOfWork, payout_id: str, note: str) -> None:
        payout = _payout(uow, payout_id)
        if not payout.is_final:
            payout.check_at, payout.note = self._clock.now() + self._deadline, note
            uow.payouts.update(payout)

    def _park(self, uow: PaymentsUnitOfWork, payout_id: str) -> None:
        payout, now = _payout(uow, payout_id), self._clock.now()
        if payout.is_final or payout.check_at is None:
            return
        payout.check_at, payout.note = None, "needs an operator: sent without an answer and no id to query by"
        uow.payouts.update(payout)
        audit(uow, _ACTOR, "payout.needs_operator", f"payout:{payout.id}", now, note=payout.note)

    # --- the bound on unknown -------------------------------------------------------------------------------------

    def report_overdue_payouts(self, *, limit: int = 100) -> list[Payout]:
        """Alert (audit, log, gauge) once about each payout ``unknown`` past the bound; status is still asked."""
        unknown = transaction(self._uow, lambda uow: uow.payouts.by_state(PayoutState.UNKNOWN, limit=limit))
        now = self._clock.now()
        late = [p for p in unknown if p.overdue(now, self._unknown_bound)]
        if self._metrics is not None:
            self._metrics.gauge("cryptopay_payouts_unknown", len(unknown), about="payouts whose outcome is unknown")
            self._metrics.gauge("cryptopay_payouts_unknown_overdue", len(late), about=_ABOUT_OVERDUE)
        reported = [transaction(self._uow, partial(self._overdue, payout_id=p.id)) for p in late if not p.overdue_since]
        return [p for p in reported if p is not None]

    def _overdue(self, uow: PaymentsUnitOfWork, payout_id: str) -> Payout | None:
        payout, now = _payout(uow, payout_id), self._clock.now()
        if not payout.overdue(now, self._unknown_bound) or payout.overdue_since is not None:
            return None
        payout.overdue_since = now
        payout.check_at = min(payout.check_at or now, now)  # and ask again at once
        uow.payouts.update(payout)
        since = payout.unknown_since.isoformat() if payout.unknown_since else ""
        audit(uow, _ACTOR, "payout.unknown_overdue", f"payout:{payout.id}", now, since=since, amount=payout.amount)
        _log.warning(
            "payout %s has been unknown since %s (bound %s): an operator should look",
            payout.id,
            since,
            self._unknown_bound,
        )
        return payout

    # --- bank transfers (operators) ------------------------------------------------------------------------------

    def bank_file(self, *, actor: str, limit: int = 1000) -> list[Payout]:
        """Bank transfers awaiting an operator, oldest first, each marked as exported (audited): the rows of the
        bank file (``bank_file_csv``). A payout stays in later files until it is confirmed or failed, except while a
        confirmation of it is proposed: an admin has said it left the bank, and a bank's bulk upload of the next file
        would pay it twice (LASTREAD reader1 L-3). Declined, it is listed again."""
        return transaction(self._uow, lambda uow: self._export(uow, actor, limit))

    def _export(self, uow: PaymentsUnitOfWork, actor: str, limit: int) -> list[Payout]:
        now = self._clock.now()
        waiting = _listed(uow, PayoutState.SUBMITTED, _unproposed_bank_transfer, limit=limit)
        for payout in waiting:  # the first file it was in: it cannot have left the bank before (reconciliation)
            if payout.exported_at is None:
                payout.exported_at = now
                uow.payouts.update(payout)
        total = sum((p.amount for p in waiting), Money.zero(KES))
        audit(uow, actor, "payout.bank_file", "payouts:bank", now, payouts=len(waiting), total=total)
        return waiting

    def propose_bank_confirmation(self, payout_id: str, *, reference: str, note: str, by: str) -> Payout:
        """Propose that a bank transfer left our bank account under the bank's ``reference`` (R10-7): kept as the
        payout's proposed conclusion (``completed`` with the reference as its receipt), nothing moves until a second
        staff member approves it (``approve_bank_confirmation``); audited ``payout.bank_confirmation_proposed``.

        ``InvalidInput`` for a bad reference or note, ``NotFound``, ``Refused`` for a payout that is not a bank
        transfer awaiting one, ``Conflict`` when a confirmation is proposed already or the reference is another
        payout's."""
        ref, why = bank_reference(reference), note.strip()  # kept as compared: one debit is one reference
        if not _BANK_REFERENCE.fullmatch(ref):
            raise InvalidInput("a bank reference is 1 to 64 letters, digits, '-', '/' or '.'", field="reference")
        if len(why) > 500:
            raise InvalidInput("a note is at most 500 characters", field="note")
        at = self._clock.now()
        conclusion = Conclusion(
            outcome=ConclusionOutcome.COMPLETED, receipt=ref, evidence=f"bank reference {ref}", note=why, by=by, at=at
        )
        return transaction(self._uow, lambda uow: self._propose_bank(uow, payout_id, conclusion))

    def _propose_bank(self, uow: PaymentsUnitOfWork, payout_id: str, conclusion: Conclusion) -> Payout:
        payout = _payout(uow, payout_id)
        if not payout.is_bank_transfer:
            raise Refused(f"payout {payout.id} is paid over M-Pesa: its result comes from M-Pesa, not an operator")
        if payout.state is not PayoutState.SUBMITTED:
            raise Refused(f"payout {payout.id} is {payout.state.value}: only one awaiting a transfer is confirmed")
        if payout.conclusion is not None:
            raise Conflict(f"payout {payout.id} has a confirmation proposed already ({payout.conclusion.summary})")
        _conclusions.receipt_free(uow, payout, conclusion.receipt, what="the bank reference")
        payout.conclusion = conclusion
        uow.payouts.update(payout)
        audit(
            uow,
            conclusion.by,
            "payout.bank_confirmation_proposed",
            f"payout:{payout.id}",
            conclusion.at,
            reference=conclusion.receipt or "",
            note=conclusion.note,
            amount=payout.amount,
        )
        return payout

    def awaiting_bank_transfer(self, *, limit: int = 1000, after: str | None = None) -> list[Payout]:
        """Bank transfers awaiting their confirmation, oldest first, each with the one proposed (if any): what a
        second admin approves (as ``bank_file`` lists them, without marking them exported). Up to ``limit`` of
        them after the payout ``after`` (a listing's cursor; ``InvalidInput`` for no payout): read past the M-Pesa
        payouts in flight, however many (R13-15: the 1,000 oldest in flight of every method were read)."""
        return transaction(
            self._uow, lambda uow: _listed(uow, PayoutState.SUBMITTED, _bank_transfer, limit=limit, after=after)
        )

    def pending_bank_confirmations(self, *, limit: int = 1000, after: str | None = None) -> list[Payout]:
        """The bank transfers whose confirmation one admin proposed and a second has yet to approve or refuse
        (``awaiting_bank_transfer``'s with a proposal), oldest first, up to ``limit`` after the payout ``after``:
        the CLI's ``bank-confirmations`` and the console's list."""
        return transaction(
            self._uow,
            lambda uow: _listed(uow, PayoutState.SUBMITTED, _proposed_bank_transfer, limit=limit, after=after),
        )

    def approve_bank_confirmation(self, payout_id: str, *, by: str, reference: str) -> Payout:
        """A second staff member completes the bank transfer another proposed, paid from ``assets:bank:KES``
        (``reference``: the one the approver read; another proposed since is a ``Conflict``); audited
        ``payout.bank_confirmed`` naming both. The proposer is refused (``SamePerson``, 409 ``same_officer``).
        ``Refused`` for a payout that is not a bank transfer (its conclusion is ``approve_conclusion``'s)."""
        if not self.get_payout(payout_id).is_bank_transfer:
            raise Refused(f"payout {payout_id} is paid over M-Pesa: approve its conclusion instead")
        read = bank_reference(reference) or None
        return self.approve_conclusion(payout_id, by=by, outcome=ConclusionOutcome.COMPLETED, receipt=read)

    # --- concluding an unknown payout from M-Pesa's record (two people) -------------------------------------------

    def unresolved(self, *, limit: int = 100, after: str | None = None) -> list[Payout]:
        """Payouts ``unknown`` past the bound, oldest first: each one an operator concludes from M-Pesa's record
        (the reconciliation's ``payouts-unresolved`` differences), with any conclusion proposed. Up to ``limit``
        after the payout ``after`` (a listing's cursor; ``InvalidInput`` for no payout): the lists page on with the
        last one shown (R13-15: the 100 oldest were all anyone saw)."""
        now, bound = self._clock.now(), self._unknown_bound
        overdue: Callable[[Payout], bool] = lambda p: p.overdue(now, bound)  # noqa: E731
        return transaction(self._uow, lambda uow: _listed(uow, PayoutState.UNKNOWN, overdue, limit=limit, after=after))

    def propose_conclusion(
        self,
        payout_id: str,
        *,
        outcome: ConclusionOutcome,
        receipt: str | None,
        evidence: str,
        note: str,
        by: str,
        statement: Statement | None = None,
    ) -> Payout:
        """Propose ending a payout ``unknown`` past the bound from M-Pesa's own record (R10-4): ``failed`` (M-Pesa
        shows no such payment: its hold is voided, the money is back where it came from and ``retry`` may send it
        again) or ``completed`` with M-Pesa's ``receipt``. ``evidence`` names the record read (the statement's file
        and period, a Transaction Status answer); with ``statement`` given it is read (``_conclusions``) and its
        finding is added to the evidence. Nothing moves until a second person ``approve_conclusion``s it; audited
        ``payout.conclusion_proposed``.

        ``statement`` (M-Pesa's statement uploaded, R10-4) is read by ``_conclusions.from_statement`` and kept with the
        proposal as what it shows of the payout (``Conclusion.statement``); ``evidence`` may then be empty.

        ``InvalidInput`` (no note, no evidence nor statement, a receipt missing or malformed, a statement that cannot
        speak of the payout: not ours, no period, not covering its send, or too short to show it absent),
        ``NotFound``, ``Refused`` (not ``unknown``, or still within the bound: Transaction Status is still asked),
        ``StatementContradicts`` (409: the statement shows otherwise), ``StatementAmbiguous`` (409: the payment named
        could equally be another open payout's, review12 R12-9), ``Conflict`` (a conclusion is proposed already, or
        the receipt is another payout's)."""
        why = _text(note, "note")
        paid = mpesa_receipt(receipt) or None  # as kept and compared: ``sbx0000004`` is SBX0000004 (R13-12)
        if outcome is ConclusionOutcome.COMPLETED and (paid is None or not _conclusions.RECEIPT.fullmatch(paid)):
            raise InvalidInput("a completion names M-Pesa's receipt (6 to 20 letters and digits)", field="receipt")
        if outcome is ConclusionOutcome.FAILED and paid is not None:
            raise InvalidInput("a failure has no receipt: M-Pesa paid nothing", field="receipt")
        shown = None
        if statement is not None:
            payout, others, booked = transaction(self._uow, lambda uow: _statement_context(uow, payout_id, statement))
            try:
                shown = _conclusions.from_statement(
                    payout,
                    outcome,
                    paid,
                    statement,
                    self._unknown_bound,
                    shortcode=self._payout_shortcode,
                    now=self._clock.now(),
                    others=others,
                    booked=booked,
                )
            except (_conclusions.StatementContradicts, _conclusions.StatementAmbiguous) as refused:
                # The attempt that could pay twice (failed while the statement shows it paid) is kept (reader1 L-6).
                at, action = self._clock.now(), f"payout.conclusion_{refused.code}_refused"
                details = {"outcome": outcome.value, "receipt": paid or "", "statement": statement.digest}
                details["why"] = refused.message
                transaction(self._uow, lambda uow: audit(uow, by, action, f"payout:{payout_id}", at, **details))
                raise
        seen = _evidence(evidence, shown)
        conclusion = Conclusion(
            outcome=outcome, receipt=paid, evidence=seen, note=why, by=by, at=self._clock.now(), statement=shown
        )
        return transaction(self._uow, lambda uow: self._propose(uow, payout_id, conclusion))

    def _propose(self, uow: PaymentsUnitOfWork, payout_id: str, conclusion: Conclusion) -> Payout:
        payout, now = _payout(uow, payout_id), self._clock.now()
        if payout.state is not PayoutState.UNKNOWN:
            raise Refused(
                f"payout {payout.id} is {payout.state.value}: only a payout whose outcome is unknown is concluded"
            )
        if not payout.overdue(now, self._unknown_bound):
            raise Refused(
                f"payout {payout.id} is unknown for less than {self._unknown_bound}: Transaction Status is still "
                "asked; conclude it after that"
            )
        if payout.conclusion is not None:
            raise Conflict(f"payout {payout.id} has a conclusion proposed already ({payout.conclusion.summary})")
        _conclusions.receipt_free(uow, payout, conclusion.receipt)
        payout.conclusion = conclusion
        uow.payouts.update(payout)
        audit(
            uow,
            conclusion.by,
            "payout.conclusion_proposed",
            f"payout:{payout.id}",
            now,
            outcome=conclusion.outcome.value,
            receipt=conclusion.receipt or "",
            evidence=conclusion.evidence,
            note=conclusion.note,
            amount=payout.amount,
        )
        return payout

    def refuse_from_shell(self, payout_id: str, *, by: str, step: str) -> NoReturn:
        """``Refused`` (the shell's exit 5), audited ``payout.conclusion_refused`` by ``by`` naming the ``step``
        (``propose``, ``approve``, ``confirm-bank``, ``correct-receipt`` or ``approve-receipt-correction``): a
        conclusion voids a hold or posts a payment, so both people are proven on the admin API with a step-up, as a
        remittance's release (LASTREAD L-2: a proposer in the shell, ``ops:<login>``, and an approver on the API,
        ``user:<id>``, could be one person and four-eyes would never see it). A bank transfer's confirmation is such a
        conclusion (R10-7); a receipt correction moves no money but is two admins' word on the books all the same."""
        at = self._clock.now()
        transaction(
            self._uow,
            lambda uow: audit(uow, by, "payout.conclusion_refused", f"payout:{payout_id}", at, step=step, via="shell"),
        )
        if step in ("correct-receipt", "approve-receipt-correction"):
            raise Refused(
                f"a receipt correction of payout {payout_id} is two admins' word, so one proposes it with the reason "
                f"(POST /v1/admin/payouts/{payout_id}/receipt-correction) and a second approves it "
                "(.../receipt-correction/approve), each signed in with their second factor (or on the console's "
                "payout page), not from the shell: the shell cannot prove who is at the keyboard"
            )
        if step == "confirm-bank":
            raise Refused(
                f"a bank transfer's confirmation completes payout {payout_id} from the bank account, so one admin "
                f"proposes it with the bank's reference (POST /v1/admin/payouts/{payout_id}/bank-confirmation) and "
                "a second approves it (.../bank-confirmation/approve), each signed in with their second factor, not "
                "from the shell: the shell cannot prove who is at the keyboard"
            )
        where, who = ("/conclusion", "propose and approve") if step == "propose" else ("/conclusion/approve", "approve")
        raise Refused(
            f"the conclusion of payout {payout_id} moves money, so two admins {who} it on the API, each signed in "
            f"with their second factor (POST /v1/admin/payouts/{payout_id}{where}), not from the shell: the shell "
            "cannot prove who is at the keyboard"
        )

    def approve_conclusion(self, payout_id: str, *, by: str, outcome: ConclusionOutcome, receipt: str | None) -> Payout:
        """A second person carries out the conclusion another proposed, in one unit of work: ``failed`` voids the
        hold (``payout.failed``; the failure counts as confirmed, so ``retry`` may send it again), ``completed``
        posts it with the receipt (``payout.completed``); audited ``payout.concluded`` naming both. ``outcome`` and
        ``receipt`` are what the approver read (R9-1): a conclusion withdrawn and proposed again otherwise since
        (another outcome, another receipt) is a ``Conflict`` and nothing moves. The proposer is refused
        (``SamePerson``, 409, audited ``payout.conclusion_same_person_refused``), an admin related to it or appointed
        too recently as ``compliance.four_eyes`` says (audited ``payout.conclusion_<code>_refused``); ``InvalidState``
        when none is proposed or M-Pesa's answer decided the payout meanwhile. A bank transfer's proposed confirmation
        (``propose_bank_confirmation``) is approved the same way and completes it from the bank account, audited
        ``payout.bank_confirmed`` instead."""
        found, at = self.get_payout(payout_id), self._clock.now()
        seen = None if found.conclusion is None else (found.conclusion.by, found.conclusion.at)
        read = _Read(outcome, mpesa_receipt(receipt) or None, seen)
        refused = None
        if found.conclusion is not None:
            refused = self.four_eyes.refusal(found.conclusion.by, by, now=at, what="conclusion")
        if isinstance(refused, SameOfficer):
            transaction(
                self._uow,
                lambda uow: audit(uow, by, "payout.conclusion_same_person_refused", f"payout:{found.id}", at),
            )
            raise SamePerson("you proposed this conclusion: a second person approves it")
        if refused is not None:
            action, facts = refused.action("payout.conclusion"), refused.audit_details
            transaction(self._uow, lambda uow: audit(uow, by, action, f"payout:{found.id}", at, **facts))
            raise refused
        return transaction(self._uow, lambda uow: self._conclude(uow, payout_id, by, read))

    def _conclude(self, uow: PaymentsUnitOfWork, payout_id: str, by: str, read: _Read) -> Payout:
        payout, now = _payout(uow, payout_id), self._clock.now()
        proposed = payout.conclusion
        if proposed is None or proposed.approved_by is not None:
            raise InvalidState(f"no conclusion of payout {payout.id} is proposed")
        if payout.is_bank_transfer:  # compared and booked canonical, whatever case or spacing was typed (L-2)
            proposed = attrs.evolve(proposed, receipt=bank_reference(proposed.receipt) or None)
            read = attrs.evolve(read, receipt=bank_reference(read.receipt) or None)
        else:  # and M-Pesa's receipt in its case (a proposal kept before R13-12 may be in another)
            proposed = attrs.evolve(proposed, receipt=mpesa_receipt(proposed.receipt) or None)
        if (proposed.outcome, proposed.receipt) != (read.outcome, read.receipt):
            raise Conflict(f"payout {payout.id} now has {proposed.summary} proposed: read it again")
        if (proposed.by, proposed.at) != read.proposed:  # four-eyes was checked against another proposal (R13-3)
            raise Conflict(
                f"payout {payout.id}'s conclusion was proposed again since you read it ({proposed.summary} at "
                f"{proposed.at.isoformat()}): read it again"
            )
        if payout.state is not (PayoutState.SUBMITTED if payout.is_bank_transfer else PayoutState.UNKNOWN):
            decided = "" if payout.is_bank_transfer else ": M-Pesa's answer decided it"
            raise InvalidState(f"payout {payout.id} is {payout.state.value} already{decided}")
        if proposed.by == by:
            raise SamePerson("you proposed this conclusion: a second person approves it")
        what = "the bank reference" if payout.is_bank_transfer else "M-Pesa's receipt"
        _conclusions.receipt_free(uow, payout, proposed.receipt, what=what)  # booked elsewhere since proposed?
        payout.conclusion = attrs.evolve(proposed, approved_by=by, approved_at=now)
        if payout.is_bank_transfer:
            self._bank_confirmed(uow, payout, proposed, by, now)
            return payout
        desc = f"concluded from M-Pesa's record by {proposed.by} and {by}: {proposed.evidence}"
        audit(
            uow,
            by,
            "payout.concluded",
            f"payout:{payout.id}",
            now,
            outcome=proposed.outcome.value,
            receipt=proposed.receipt or "",
            proposed_by=proposed.by,
            evidence=proposed.evidence,
            note=proposed.note,
            amount=payout.amount,
        )
        if proposed.outcome is ConclusionOutcome.COMPLETED:
            _outcomes.complete(
                uow, self._ledger, self._ids, payout, now, receipt=proposed.receipt, code="0", desc=desc[:500]
            )
        else:
            _outcomes.fail(uow, self._ledger, self._ids, payout, now, code="concluded", desc=desc[:500])
        return payout

    def _bank_confirmed(
        self, uow: PaymentsUnitOfWork, payout: Payout, proposed: Conclusion, by: str, now: datetime
    ) -> None:
        """The approved bank transfer completes from the bank account (``flows``: Dr in-flight / Cr bank)."""
        reference = proposed.receipt or ""
        audit(
            uow,
            by,
            "payout.bank_confirmed",
            f"payout:{payout.id}",
            now,
            reference=reference,
            proposed_by=proposed.by,
            amount=payout.amount,
        )
        desc = f"bank transfer confirmed by {proposed.by} and {by}"
        _outcomes.complete(uow, self._ledger, self._ids, payout, now, receipt=reference, code="bank", desc=desc)

    def decline_conclusion(self, payout_id: str, *, by: str, note: str) -> Payout:
        """Decline (or, its proposer, withdraw) the conclusion proposed, saying why: nothing moves, the payout stays
        ``unknown``; audited ``payout.conclusion_declined``."""
        why = _text(note, "note")
        return transaction(self._uow, lambda uow: self._decline(uow, payout_id, by, why))

    def _decline(self, uow: PaymentsUnitOfWork, payout_id: str, by: str, note: str) -> Payout:
        payout, now = _payout(uow, payout_id), self._clock.now()
        proposed = payout.conclusion
        if proposed is None or proposed.approved_by is not None:
            raise InvalidState(f"no conclusion of payout {payout.id} is proposed")
        payout.conclusion = None
        uow.payouts.update(payout)
        audit(uow, by, "payout.conclusion_declined", f"payout:{payout.id}", now, proposed_by=proposed.by, note=note)
        return payout

    # --- correcting a concluded payout's receipt (two admins; the ledger untouched: ``_corrections``) ---------------

    def propose_receipt_correction(self, payout_id: str, *, receipt: str, reason: str, by: str) -> Payout:
        """Propose ``receipt`` in place of the M-Pesa receipt a payout concluded completed by two admins was booked
        with, saying why; nothing changes until a second admin approves it. ``InvalidInput`` (a receipt not M-Pesa's
        format or the payout's already, no reason), ``NotFound``, ``Refused`` (not concluded completed by two
        admins: a receipt from M-Pesa's own result, a bank transfer), ``Conflict`` (one proposed already, or the
        receipt is another payout's)."""
        new, why = _corrections.receipt_of(receipt), _corrections.reason_of(reason)
        at = self._clock.now()
        correction = ReceiptCorrection(before=None, receipt=new, reason=why, by=by, at=at)
        return transaction(self._uow, lambda uow: _corrections.propose(uow, _payout(uow, payout_id), correction))

    def approve_receipt_correction(self, payout_id: str, *, by: str, receipt: str) -> Payout:
        """A second admin books the receipt another proposed (``receipt``: the one they read; another proposed since
        is a ``Conflict``), the old one kept in the payout's ``corrections``; the ledger is untouched; a merchant's
        payout is announced again (``payout.receipt_corrected``, the new receipt). The proposer is
        refused (``SamePerson``, audited ``payout.receipt_correction_same_person_refused``), an admin related to it
        or appointed too recently as ``compliance.four_eyes`` says; ``InvalidState`` when none is proposed."""
        read, found, at = _corrections.receipt_of(receipt), self.get_payout(payout_id), self._clock.now()
        proposer = found.correction.by if found.correction is not None else None
        refused = None if proposer is None else self.four_eyes.refusal(proposer, by, now=at, what="receipt correction")
        if isinstance(refused, SameOfficer):
            action = "payout.receipt_correction_same_person_refused"
            transaction(self._uow, lambda uow: audit(uow, by, action, f"payout:{found.id}", at))
            raise SamePerson("you proposed this receipt correction: a second admin approves it")
        if refused is not None:
            action, facts = refused.action("payout.receipt_correction"), refused.audit_details
            transaction(self._uow, lambda uow: audit(uow, by, action, f"payout:{found.id}", at, **facts))
            raise refused

        def book(uow: PaymentsUnitOfWork) -> Payout:
            payout = _payout(uow, payout_id)
            if payout.correction is not None and payout.correction.by == by:  # proposed again by the approver since
                raise SamePerson("you proposed this receipt correction: a second admin approves it")
            if payout.correction is not None and payout.correction != found.correction:
                # withdrawn and proposed again since four-eyes looked (by someone it did not check: R13-3's class)
                raise Conflict(f"payout {payout.id}'s receipt correction was proposed again since: read it again")
            now = self._clock.now()
            done = _corrections.approve(uow, payout, by=by, read=read, now=now)
            if done.kind.is_merchants:  # the merchant was told the old receipt (``payout.completed``)
                payload = _outcomes.payout_payload(done)
                publish(uow, self._ids, "payout.receipt_corrected", payload, at=now, key=done.settlement_id)
            return done

        return transaction(self._uow, book)

    def decline_receipt_correction(self, payout_id: str, *, by: str, note: str) -> Payout:
        """Decline (or, its proposer, withdraw) the receipt correction proposed, saying why; nothing changes."""
        why = _corrections.reason_of(note, "note")
        return transaction(
            self._uow,
            lambda uow: _corrections.decline(uow, _payout(uow, payout_id), by=by, note=why, now=self._clock.now()),
        )

    # --- operator retry -----------------------------------------------------------------------------------------

    def retry_failed_payout(
        self, payout_id: str, *, actor: str, check: Callable[[PaymentsUnitOfWork], None] | None = None
    ) -> Payout:
        """A new attempt (new id, new originator id, new hold) for a definitively failed payout; once per failure.

        ``check`` runs in the same unit of work before the attempt is made (a caller's limit, under its lock). A B2C
        attempt is then checked against M-Pesa's per-recipient daily limit (``per_day``): what the number received or
        has in flight since midnight in Nairobi (every payout to it, failed ones excluded) plus this one, read under
        the number's lock (``payouts.lock_destination``) held to the attempt's creation, as a settlement's planning
        and a remittance's retry hold it. Past the limit it is refused (``LimitExceeded``, ``mpesa.daily``, with what
        remains today and the day it is possible again) and the refusal is audited (``payout.retry_refused``). A
        remittance's payout is retried only by its order (``Remittances.retry``, which passes ``check``): ``Refused``
        otherwise, as its order may be held for compliance (reviewer10 R10-1)."""
        try:
            return transaction(self._uow, lambda uow: self._retry(uow, payout_id, actor, check))
        except _Unconfirmed:
            raise self._ask_before_retry(payout_id, actor) from None
        except _PastDailyLimit as refused:
            at, subject, details = self._clock.now(), refused.subject, {k: str(v) for k, v in refused.details.items()}
            transaction(self._uow, lambda uow: audit(uow, actor, "payout.retry_refused", subject, at, **details))
            raise

    def _retry(
        self, uow: PaymentsUnitOfWork, payout_id: str, actor: str, check: Callable[[PaymentsUnitOfWork], None] | None
    ) -> Payout:
        old, now = _payout(uow, payout_id), self._clock.now()
        if old.kind is PayoutKind.REMITTANCE and check is None:  # reviewer10 R10-1: its order's hold is checked there
            raise Refused(
                f"payout {old.id} pays a remittance: it is retried with its order (cryptopay remittances retry "
                f"{old.settlement_id}), which checks what holds it (compliance, the daily limit)"
            )
        if old.state is not PayoutState.FAILED:
            raise Refused(f"payout {old.id} is {old.state.value}: only a definitively failed payout can be retried")
        if old.retried_by is not None:
            raise Refused(f"payout {old.id} was already retried as {old.retried_by}")
        if not old.failure_confirmed():
            raise _Unconfirmed(old.id)
        if check is not None:
            check(uow)
        if old.is_b2c:
            self._within_daily_limit(uow, old, now)
        new_id = self._ids.new_id("po")
        hold = flows.start_payout(
            self._ledger,
            payout_id=new_id,
            merchant_id=old.merchant_id,
            amount=old.amount,
            charge=old.charge,
            session=uow.ledger,
            source=_source(old),
        )
        new = Payout(
            id=new_id,
            settlement_id=old.settlement_id,
            merchant_id=old.merchant_id,
            originator_id=new_id if old.is_b2c else None,
            method=old.method,
            destination=old.destination,
            amount=old.amount,
            charge=old.charge,
            hold_id=hold.id,
            created_at=now,
            attempt=old.attempt + 1,
            retry_of=old.id,
            b2b=old.b2b,
            kind=old.kind,
        )
        if new.is_bank_transfer:
            new.awaiting_transfer(now)
        old.retried_by = new.id
        uow.payouts.update(old)
        uow.payouts.add(new)
        audit(uow, actor, "payout.retry", f"payout:{new.id}", now, retry_of=old.id, hold=hold.id, amount=new.amount)
        return new

    def confirm_failure(self, payout_id: str, *, actor: str) -> bool:
        """Whether a failed payout's failure is confirmed, before its money goes back another way (a remittance's
        refund of the sender's USDT after its last attempt): nothing to ask about, or Transaction Status, asked since
        it failed, said failed or not found. Otherwise Transaction Status is asked (the query recorded first, audited
        ``payout.refund_status_query``, then sent; not again while one asked within the result deadline is awaited)
        and False returned: the caller asks again on its next run. An answer finding it paid completes the payout
        (``flows.pay_failed_payout``), so the caller sees it completed, never failed."""
        payout = self.get_payout(payout_id)
        if payout.state is not PayoutState.FAILED:
            return False
        if payout.failure_confirmed():
            return True
        self._ask_before_retry(payout_id, actor, action="payout.refund_status_query")
        return False

    def _ask_before_retry(
        self, payout_id: str, actor: str, *, action: str = "payout.retry_status_query"
    ) -> AwaitingStatus:
        """Ask Transaction Status about a failed payout before it may be retried (the failure came in a callback,
        which anyone holding its URL could have posted): the query and its tokens are committed first, then sent.
        Its answer confirms the failure (a retry then proceeds) or finds it paid (it is completed instead)."""
        query_id = self._ids.new_id("pq")
        tokens, records = self._issue(query_id, CallbackPurpose.STATUS_RESULT, CallbackPurpose.STATUS_TIMEOUT)
        recorded = transaction(
            self._uow, lambda uow: self._record_retry_query(uow, payout_id, query_id, records, actor, action)
        )
        refused = AwaitingStatus(
            f"payout {payout_id} failed by M-Pesa's callback: Transaction Status is asked first whether it was paid; "
            "retry again once it has answered",
            payout_id=payout_id,
        )
        if recorded is None or recorded.originator_id is None:
            return refused  # a query asked moments ago is still awaited
        try:
            ack = self._ask_status(tokens, recorded.originator_id, payout_id)
        except CryptopayError as error:
            _log.warning("status query before retrying payout %s failed: %s", payout_id, error.message)
            return refused
        transaction(self._uow, lambda uow: self._asked(uow, payout_id, query_id, ack))
        return refused

    def _record_retry_query(
        self,
        uow: PaymentsUnitOfWork,
        payout_id: str,
        query_id: str,
        records: tuple[CallbackToken, ...],
        actor: str,
        action: str,
    ) -> Payout | None:
        payout, now = _payout(uow, payout_id), self._clock.now()
        if payout.state is not PayoutState.FAILED or payout.asked_since_failure(now, self._deadline):
            return None
        payout.asking(PayoutQuery(query_id=query_id, asked_at=now), records, check_at=now)
        payout.check_at = None  # a final payout is never due for the stale-payout job
        uow.payouts.update(payout)
        audit(uow, actor, action, f"payout:{payout.id}", now, query=query_id)
        return payout

    def _within_daily_limit(self, uow: PaymentsUnitOfWork, old: Payout, now: datetime) -> None:
        """Refuse a new attempt at ``old`` that M-Pesa's daily limit of its number cannot take today. Takes the
        number's lock first (the global lock order: before the ledger's balances the attempt's hold takes)."""
        per_day = self._per_day
        if per_day is None:
            return
        uow.payouts.lock_destination(old.destination)
        midnight, tomorrow = day_bounds(now)
        paid = paid_to(uow.payouts, old.destination, since=midnight)  # the failed attempt is not counted
        if paid + old.amount <= per_day:
            return
        left, day = max(per_day - paid, Money.zero(KES)), tomorrow.date().isoformat()
        raise _PastDailyLimit(
            f"M-Pesa's daily limit: {mask_msisdn(old.destination)} may receive at most KES {per_day.amount:,} a day "
            f"and KES {left.amount:,} remains today, less than the payout's KES {old.amount.amount:,}; retry payout "
            f"{old.id} on {day} (from midnight in Nairobi)",
            subject=f"payout:{old.id}",
            limit="mpesa.daily",
            remaining=str(left.amount),
            possible_from=day,
            amount=str(old.amount.amount),
        )


_OPEN_PAGE = 500


def _statement_context(
    uow: PaymentsUnitOfWork, payout_id: str, statement: Statement
) -> tuple[Payout, list[Payout], dict[str, Payout]]:
    """What a statement read for a conclusion is compared with (review12 R12-9): the payout, the other payouts M-Pesa
    may still pay (``submitted``, ``unknown``: over M-Pesa, every page), and the payouts carrying the receipt of a
    payment row that could be one of them (asked only for those rows, in one ``with_receipts``, by the receipt
    index)."""
    payout = _payout(uow, payout_id)
    others: list[Payout] = []
    for state in (PayoutState.SUBMITTED, PayoutState.UNKNOWN):
        after: tuple[datetime, str] | None = None
        while page := uow.payouts.by_state(state, limit=_OPEN_PAGE, after=after):
            others += [p for p in page if p.id != payout.id and not p.is_bank_transfer]
            if len(page) < _OPEN_PAGE:
                break
            after = (page[-1].created_at, page[-1].id)
    pool = [payout, *others]
    rows = [line for line in statement.lines if line.is_payout and any(matching.could_pay(p, line) for p in pool)]
    carried = uow.payouts.with_receipts({line.receipt for line in rows})  # one read, not one per row (L2-4)
    booked = {line.receipt: carried[line.receipt][0] for line in rows if line.receipt in carried}
    return payout, others, booked


@attrs.frozen
class _Read:
    """The conclusion the approver read: its outcome and receipt, and who proposed it when (the proposal four-eyes
    was checked against: review13 R13-3)."""

    outcome: ConclusionOutcome
    receipt: str | None
    proposed: tuple[str, datetime] | None = None


class SamePerson(Conflict):
    """Four-eyes: who proposed a payout's conclusion cannot approve it too."""

    code = "same_officer"


def _evidence(said: str, shown: StatementEvidence | None) -> str:
    """The conclusion's evidence for the record: what the proposer says they read and, with a statement uploaded,
    what it shows of the payout (then the words may be left out: the statement is the evidence)."""
    if shown is None:
        return _text(said, "evidence")
    if not said.strip():
        return shown.summary[:500]
    return f"{_text(said, 'evidence')}; {shown.summary}"[:500]


def _text(value: str, field: str) -> str:
    text = value.strip()
    if not text or len(text) > 500:
        raise InvalidInput(f"say what M-Pesa's record shows ({field}: 1 to 500 characters)", field=field)
    return text


class AwaitingStatus(Refused):
    """A retry refused until Transaction Status has confirmed the failed payout was not paid."""

    code = "awaiting_status"


class _Unconfirmed(Exception):
    """Inside the retry's unit of work: the failure is not confirmed by Transaction Status yet."""


class _PastDailyLimit(LimitExceeded):
    """A retry refused by M-Pesa's per-recipient daily limit (audited, unlike a caller's own ``check``)."""

    def __init__(self, message: str, *, subject: str, **details: object) -> None:
        super().__init__(message, **details)
        self.subject = subject


def _legacy_b2b_target(payout: Payout) -> B2BTarget:
    """The B2B target of a payout planned before targets were recorded on payouts (paybill or till profiles)."""
    if payout.method is SettlementMethod.MPESA_PAYBILL:
        paybill, account = payout.destination.split("#", 1)
        return B2BTarget(command=B2BCommand.PAYBILL, party=paybill, account_reference=account[:13])
    if payout.method is SettlementMethod.MPESA_TILL:
        return B2BTarget.till(payout.destination)
    raise InvalidInput(f"{payout.method.value} payouts to {payout.destination} are not sent over M-Pesa")


def _source(payout: Payout) -> str | None:
    """The KES account a payout's hold is drawn from: a wallet's own for its sale or bill, else (None) the
    merchant's balance (a settlement; the remittance desk's, for a remittance)."""
    if payout.kind in (PayoutKind.SALE, PayoutKind.BILL):
        return flows.wallet_account(payout.merchant_id, KES)
    return None


def _payout(uow: PaymentsUnitOfWork, payout_id: str) -> Payout:
    payout = uow.payouts.get(payout_id)
    if payout is None:
        raise NotFound(f"no payout {payout_id}")
    return payout


def _contradicts(payout: Payout, outcome: Outcome) -> bool:
    succeeded = payout.state is PayoutState.COMPLETED
    return succeeded != (outcome is Outcome.SUCCEEDED)


@attrs.frozen
class Pacing:
    """Daraja's throughput limit is per shortcode: every request towards it takes a token from the bucket shared by
    all workers (``key``: the shortcode). A short wait is slept; a longer one defers the rest to the next run."""

    bucket: TokenBucket
    key: str
    limit: Throughput
    max_wait: float = 2.0  # seconds
    sleep: Callable[[float], None] = time.sleep

    def admit(self) -> bool:
        """True once a token is taken (after sleeping at most ``max_wait`` in all); False to stop for now."""
        waited = 0.0
        while (wait := self.bucket.take(self.key, self.limit)) > 0:
            if waited + wait > self.max_wait:
                return False
            self.sleep(wait)
            waited += wait
        return True


def paid_to(payouts: PayoutRepository, destination: str, *, since: datetime) -> Money:
    """What ``destination`` received or has in flight since ``since`` (every payout to it, failed ones excluded): the
    figure M-Pesa's per-recipient daily limit is checked against. A caller planning a payout on it holds
    ``payouts.lock_destination(destination)`` first, in the same unit of work (docs/architecture.md, lock order)."""
    mine = (p.amount for p in payouts.to_destination(destination, since=since) if p.state is not PayoutState.FAILED)
    return sum(mine, Money.zero(KES))


def _listed(
    uow: PaymentsUnitOfWork,
    state: PayoutState,
    admit: Callable[[Payout], bool],
    *,
    limit: int,
    after: str | None = None,
) -> list[Payout]:
    """Up to ``limit`` payouts in ``state`` that ``admit`` takes, oldest first, after the payout ``after``: read
    page by page past the others (``page_past``), so none is hidden behind them (R13-15)."""
    start = None
    if after is not None:
        cursor = uow.payouts.get(after)
        if cursor is None:
            raise InvalidInput(f"no payout {after} to list after", field="after")
        start = (cursor.created_at, cursor.id)
    return page_past(
        lambda key: uow.payouts.by_state(state, limit=limit, after=key),
        lambda page: [p for p in page if admit(p)],
        lambda p: (p.created_at, p.id),
        limit=limit,
        start=start,
    )


def _bank_transfer(payout: Payout) -> bool:
    return payout.is_bank_transfer


def _unproposed_bank_transfer(payout: Payout) -> bool:
    return payout.is_bank_transfer and payout.conclusion is None


def _proposed_bank_transfer(payout: Payout) -> bool:
    return payout.is_bank_transfer and payout.conclusion is not None
