"""Sending payouts over M-Pesa and settling them on results, status queries, and operator retries.

The protocol (see ``ports.mobile_money``): a payout is marked ``submitted`` and committed *before* M-Pesa is
called, with its unique OriginatorConversationID (the payout id; M-Pesa refuses a repeat), so a crash or a lost
answer can never lead to a second send: from then on only a Transaction Status answer of NOT_FOUND puts it back to
``planned``. ``OutcomeUnknown``, a duplicate-request refusal, a server error, a queue timeout, or no result by
``deadline`` make it ``unknown`` and ``query_stale_payouts`` asks Transaction Status. A refusal that certainly
moved nothing (a bad request, a business rejection) fails it; throttling and an expired token send it again later.

Trusting results -- the decision. M-Pesa's callbacks are unsigned, so a result moves money only when all of these
hold: its URL carries the secret token whose digest we stored for that very request (``token``; a forged or
replayed-to-the-wrong-URL callback is ``Forbidden``); it names our payout by OriginatorConversationID or
ConversationID (or, for a status answer, the status query's own id); and, for a success, its amount equals the
payout's and the receiving phone, when the result names one, is the payout's. A result that fails the match moves
nothing and makes the payout ``unknown``, so Transaction Status decides. We do not confirm every matching success
with a status query: the status answer arrives on a callback too, so it would add no assurance against forgery,
only double the calls Daraja rate-limits and slow settlement down. Results are idempotent: a repeat of a result
for a final payout changes nothing (a contradicting one is audited for an operator, still changing nothing).

B2B (paybill/till) requests carry no originator id of ours: M-Pesa's is recorded from its answer. A B2B payout
whose answer was lost without a reference cannot be queried; it stays ``unknown`` for an operator (never resent).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

import attrs
from cryptopay.core import flows
from cryptopay.core.errors import CryptopayError, InvalidInput, NotFound, Refused
from cryptopay.core.identity.model import Forbidden
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
    verify_callback_token,
)
from cryptopay.core.payments._support import audit, transaction
from cryptopay.core.payouts import _outcomes
from cryptopay.core.payouts.model import Payout, PayoutQuery, PayoutState
from cryptopay.core.ports.mobile_money import MobileMoneyGateway
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.settlement.model import SettlementMethod

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory

__all__ = ["DEFAULT_RESULT_DEADLINE", "QUEUE_TIMEOUT_CODE", "PayoutUrls", "Payouts"]

DEFAULT_RESULT_DEADLINE = timedelta(minutes=2)
QUEUE_TIMEOUT_CODE = "QueueTimeout"
_ACTOR = "system:payouts"


@attrs.frozen(kw_only=True)
class PayoutUrls:
    """Where M-Pesa posts payout results and status answers; each request appends its own secret token."""

    result: str
    timeout: str
    status_result: str
    status_timeout: str


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
        tokens: Callable[[], str] = new_callback_token,
    ) -> None:
        self._uow, self._clock, self._ids, self._ledger = uow, clock, ids, ledger
        self._gateway, self._urls, self._deadline, self._tokens = gateway, urls, deadline, tokens

    def get_payout(self, payout_id: str) -> Payout:
        """The payout, or ``NotFound``."""
        return transaction(self._uow, lambda uow: _payout(uow, payout_id))

    # --- sending ------------------------------------------------------------------------------------------------

    def submit_payouts(self, *, limit: int = 100) -> list[Payout]:
        """Send every planned payout once; returns them as they stand afterwards."""
        planned = transaction(self._uow, lambda uow: uow.payouts.by_state(PayoutState.PLANNED, limit=limit))
        return [self._submit(p.id) for p in planned]

    def _submit(self, payout_id: str) -> Payout:
        token = self._tokens()
        claimed = transaction(self._uow, lambda uow: self._claim(uow, payout_id, token))
        if claimed is None:
            return self.get_payout(payout_id)  # another worker took it
        try:
            ack = self._send(claimed, token)
        except CryptopayError as error:
            return transaction(self._uow, partial(self._refused, payout_id=payout_id, error=error))
        except Exception:
            transaction(self._uow, lambda uow: self._doubt(uow, payout_id, "the send raised unexpectedly", None))
            raise
        return transaction(self._uow, lambda uow: self._acknowledged(uow, payout_id, ack))

    def _claim(self, uow: PaymentsUnitOfWork, payout_id: str, token: str) -> Payout | None:
        payout, now = _payout(uow, payout_id), self._clock.now()
        if payout.state is not PayoutState.PLANNED:
            return None
        payout.submitted(now, token_digest=token_digest(token), check_at=now + self._deadline)
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

    def _send(self, payout: Payout, token: str) -> Acknowledgement:
        result_url, timeout_url = callback_url(self._urls.result, token), callback_url(self._urls.timeout, token)
        if payout.method is SettlementMethod.MPESA_B2C:
            assert payout.originator_id is not None  # B2C payouts are planned with our own id
            return self._gateway.b2c(
                B2CRequest(
                    originator_conversation_id=payout.originator_id,
                    phone=payout.destination,
                    amount=payout.amount,
                    result_url=result_url,
                    timeout_url=timeout_url,
                    remarks=f"Settlement {payout.settlement_id}",
                )
            )
        if payout.method is SettlementMethod.MPESA_PAYBILL:
            paybill, account = payout.destination.split("#", 1)
            command, receiver, reference = B2BCommand.PAYBILL, paybill, account[:13]
        elif payout.method is SettlementMethod.MPESA_TILL:
            command, receiver, reference = B2BCommand.BUY_GOODS, payout.destination, ""
        else:
            raise InvalidInput(f"{payout.method.value} payouts are not sent over M-Pesa")
        return self._gateway.b2b(
            B2BRequest(
                command=command,
                receiver=receiver,
                amount=payout.amount,
                account_reference=reference,
                result_url=result_url,
                timeout_url=timeout_url,
                remarks=f"Settlement {payout.settlement_id}",
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
        if (isinstance(error, MpesaError) and error.retry_safe) or isinstance(error, MpesaAuthFailed):
            payout.returned(f"sent again later: {error.message}")  # refused before anything could happen
            uow.payouts.update(payout)
        elif isinstance(error, InvalidInput | Refused):
            # Our own validation, a bad request or a business rejection: nothing moved.
            _outcomes.fail(uow, self._ledger, self._ids, payout, now, code=error.code, desc=error.message)
        else:  # OutcomeUnknown, a duplicate originator id, a server error: M-Pesa may have acted
            reference = error.reference if isinstance(error, OutcomeUnknown) else None
            return self._doubt(uow, payout_id, f"outcome unknown: {error.message}", reference)
        return payout

    def _doubt(self, uow: PaymentsUnitOfWork, payout_id: str, note: str, reference: str | None) -> Payout:
        payout, now = _payout(uow, payout_id), self._clock.now()
        if payout.is_final:
            return payout
        if reference and payout.originator_id is None:
            payout.originator_id = reference
        payout.unknown(now, note, check_at=now)  # ask Transaction Status at the next run
        uow.payouts.update(payout)
        audit(uow, _ACTOR, "payout.unknown", f"payout:{payout.id}", now, note=note)
        return payout

    # --- results ------------------------------------------------------------------------------------------------

    def handle_payout_result(self, result: MpesaResult, *, token: str | None, timed_out: bool = False) -> Payout | None:
        """Apply a B2C/B2B Result, a queue timeout, or a Transaction Status answer; None if it names no payout."""
        return transaction(self._uow, lambda uow: self._handle(uow, result, token, timed_out))

    def _handle(
        self, uow: PaymentsUnitOfWork, result: MpesaResult, token: str | None, timed_out: bool
    ) -> Payout | None:
        queried = uow.payouts.by_query_id(result.originator_conversation_id or "")
        if queried is not None:
            query = queried.query(result.originator_conversation_id)
            assert query is not None  # by_query_id found it by this id
            _check_token(token, query.token_digest)
            return self._status_answer(uow, queried, query, result)
        payout = _direct(uow, result)
        if payout is None:
            audit(
                uow,
                "mpesa:callback",
                "payout.result_unmatched",
                f"mpesa:{result.reference or '-'}",
                self._clock.now(),
                code=result.result_code or "",
            )
            return None
        _check_token(token, payout.token_digest)
        if timed_out or result.result_code == QUEUE_TIMEOUT_CODE:
            return self._doubt(uow, payout.id, "M-Pesa's queue timed out", None)
        return self._apply(uow, payout, result.outcome, result, source="result")

    def _status_answer(
        self, uow: PaymentsUnitOfWork, payout: Payout, query: PayoutQuery, result: MpesaResult
    ) -> Payout:
        outcome = status_outcome(result)
        if outcome is Outcome.NOT_FOUND:
            if payout.state is PayoutState.UNKNOWN and payout.is_latest(query):
                payout.not_found(self._clock.now())  # never reached M-Pesa: safe to send with the same id
                uow.payouts.update(payout)
                audit(
                    uow, _ACTOR, "payout.not_found", f"payout:{payout.id}", self._clock.now(), query=query.originator_id
                )
            return payout
        return self._apply(uow, payout, outcome, result, source="status")

    def _apply(
        self, uow: PaymentsUnitOfWork, payout: Payout, outcome: Outcome, result: MpesaResult, *, source: str
    ) -> Payout:
        now = self._clock.now()
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
            mismatch = _mismatch(payout, result)
            if mismatch:
                return self._doubt(uow, payout.id, f"{source} does not match the payout: {mismatch}", None)
            _outcomes.complete(uow, self._ledger, self._ids, payout, now, **details)
        elif outcome is Outcome.FAILED:
            _outcomes.fail(uow, self._ledger, self._ids, payout, now, **details)
        return payout

    # --- status queries -----------------------------------------------------------------------------------------

    def query_stale_payouts(self, *, limit: int = 100) -> list[Payout]:
        """Ask Transaction Status about every payout with no result by its deadline; returns those asked about."""
        due = transaction(self._uow, lambda uow: uow.payouts.due_for_status(self._clock.now(), limit=limit))
        return [asked for p in due if (asked := self._query(p)) is not None]

    def _query(self, payout: Payout) -> Payout | None:
        if payout.originator_id is None:
            transaction(self._uow, lambda uow: self._park(uow, payout.id))
            return None
        token = self._tokens()
        try:
            ack = self._gateway.transaction_status(
                TransactionStatusRequest(
                    result_url=callback_url(self._urls.status_result, token),
                    timeout_url=callback_url(self._urls.status_timeout, token),
                    originator_conversation_id=payout.originator_id,
                    remarks=f"Payout {payout.id}",
                )
            )
        except CryptopayError as error:
            note = f"status query failed: {error.message}"
            transaction(self._uow, lambda uow: self._later(uow, payout.id, note))
            return None
        return transaction(self._uow, lambda uow: self._asked(uow, payout.id, ack, token))

    def _asked(self, uow: PaymentsUnitOfWork, payout_id: str, ack: Acknowledgement, token: str) -> Payout:
        payout, now = _payout(uow, payout_id), self._clock.now()
        if payout.is_final or ack.originator_conversation_id is None:
            return payout
        if payout.state is PayoutState.SUBMITTED:
            payout.unknown(now, f"no result within {self._deadline}", check_at=now + self._deadline)
        payout.asked(
            PayoutQuery(ack.originator_conversation_id, token_digest(token), now), check_at=now + self._deadline
        )
        uow.payouts.update(payout)
        audit(uow, _ACTOR, "payout.status_query", f"payout:{payout.id}", now, query=ack.originator_conversation_id)
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

    # --- operator retry -----------------------------------------------------------------------------------------

    def retry_failed_payout(self, payout_id: str, *, actor: str) -> Payout:
        """A new attempt (new id, new originator id, new hold) for a definitively failed payout; once per failure."""
        return transaction(self._uow, lambda uow: self._retry(uow, payout_id, actor))

    def _retry(self, uow: PaymentsUnitOfWork, payout_id: str, actor: str) -> Payout:
        old, now = _payout(uow, payout_id), self._clock.now()
        if old.state is not PayoutState.FAILED:
            raise Refused(f"payout {old.id} is {old.state.value}: only a definitively failed payout can be retried")
        if old.retried_by is not None:
            raise Refused(f"payout {old.id} was already retried as {old.retried_by}")
        new_id = self._ids.new_id("po")
        hold = flows.start_payout(
            self._ledger,
            payout_id=new_id,
            merchant_id=old.merchant_id,
            amount=old.amount,
            charge=old.charge,
            session=uow.ledger,
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
        )
        old.retried_by = new.id
        uow.payouts.update(old)
        uow.payouts.add(new)
        audit(uow, actor, "payout.retry", f"payout:{new.id}", now, retry_of=old.id, hold=hold.id, amount=new.amount)
        return new


def _payout(uow: PaymentsUnitOfWork, payout_id: str) -> Payout:
    payout = uow.payouts.get(payout_id)
    if payout is None:
        raise NotFound(f"no payout {payout_id}")
    return payout


def _direct(uow: PaymentsUnitOfWork, result: MpesaResult) -> Payout | None:
    if result.originator_conversation_id:
        found = uow.payouts.by_originator_id(result.originator_conversation_id)
        if found is not None:
            return found
    return uow.payouts.by_conversation_id(result.conversation_id) if result.conversation_id else None


def _check_token(token: str | None, digest: str | None) -> None:
    if digest is None or not verify_callback_token(token, digest):
        raise Forbidden("this callback's token does not belong to the request it names")


def _mismatch(payout: Payout, result: MpesaResult) -> str:
    if result.amount is not None and result.amount != payout.amount:
        return f"amount {result.amount} is not {payout.amount}"
    if payout.is_b2c and result.phone is not None and result.phone != payout.destination:
        return "the receiving phone is not the payout's"
    return ""


def _contradicts(payout: Payout, outcome: Outcome) -> bool:
    succeeded = payout.state is PayoutState.COMPLETED
    return succeeded != (outcome is Outcome.SUCCEEDED)
