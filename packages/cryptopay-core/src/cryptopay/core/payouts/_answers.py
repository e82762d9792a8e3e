"""How an M-Pesa answer finds its payout, and when it may move money.

An answer is authenticated by its URL's token alone: every request records its callback tokens' digests (one per
URL, committed before the request is sent) and the digest finds the payout through ``PayoutRepository.by_answer_key``,
so an answer can never arrive "too early". The ids it carries must then agree with the payout (the B2C/B2B
OriginatorConversationID or ConversationID; for a status answer the original OriginatorConversationID in its
parameters), and a success must carry and match the amount and the receiving party. An answer carrying none of
the request's ids (blank ``OriginatorConversationID`` and ``ConversationID``) names nothing we can check: it is a
mismatch, whatever its outcome, a failure included (a forged 2001 on a paid payout released its hold; the retry paid
twice). A failure is final only when it names ids we knew *before* it arrived (``names_us``); otherwise (a B2B whose
acknowledgement was lost learns its ids from the answer itself) Transaction Status confirms it first.

An answer whose token names nothing is refused (nothing written), unless the caller vouches for its source (an
allowed Daraja address): then it is kept as an ``UnmatchedAnswer`` and matched later by its ids, as a reason to
ask Transaction Status, never as a result.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity.model import Forbidden
from cryptopay.core.mobile_money import MpesaResult, normalize_msisdn, parse_payload_text, token_digest
from cryptopay.core.mobile_money.phones import InvalidPhoneNumber
from cryptopay.core.payouts.answers import UnmatchedAnswer
from cryptopay.core.payouts.model import CallbackPurpose, CallbackToken, Payout, PayoutQuery, token_key
from cryptopay.core.ports.system import IdGenerator

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork

__all__ = [
    "authenticate",
    "failure_names_us",
    "find_by_ids",
    "keep",
    "keep_refused",
    "learn_ids",
    "names_another",
    "names_us",
    "receiver_name",
    "success_mismatch",
]

_RECEIVER_KEYS = ("ReceiverPartyPublicName", "CreditPartyPublicName", "CreditPartyName")
_MAX_MASKED = 6  # M-Pesa shows a phone as 2547******149
_REFUSED = "this callback's token does not belong to a request sent to this URL"


def authenticate(uow: PaymentsUnitOfWork, token: str | None, purpose: CallbackPurpose) -> tuple[Payout, CallbackToken]:
    """The payout and callback token this URL token was issued as; ``Forbidden`` (writing nothing) otherwise."""
    digest = token_digest(token) if token else ""
    payout = uow.payouts.by_answer_key(token_key(digest)) if digest else None
    callback = payout.callback(digest) if payout is not None else None
    if payout is None or callback is None or callback.purpose is not purpose:
        raise Forbidden(_REFUSED)
    return payout, callback


def names_another(payout: Payout, result: MpesaResult, *, query: PayoutQuery | None = None) -> str:
    """Why an authenticated answer does not speak of this payout ('' when its ids agree, or ours are not known yet).

    ``query``: the status query it answers (its own ids are M-Pesa's for the query, the queried payout's are in its
    parameters). Blank ids are a mismatch: an answer must name the request it answers."""
    theirs = {result.originator_conversation_id, result.conversation_id} - {None, ""}
    if not theirs:
        return "carries none of the request's ids"
    if query is not None:
        original = result.param("OriginatorConversationID")
        if original and payout.originator_id and original != payout.originator_id:
            return f"asks about {original}, not {payout.originator_id}"
        asked = {query.originator_id, query.conversation_id} - {None}
        return "names another query" if asked and not asked & theirs else ""
    ours = {payout.originator_id, payout.conversation_id} - {None}
    if ours and not ours & theirs:
        return "names another request"
    return ""


def failure_names_us(payout: Payout, result: MpesaResult, *, status: bool) -> bool:
    """A failure releases a hold only when it names the payout by the id an outsider is least likely to know: M-Pesa's
    ConversationID once its acknowledgement told us (our OriginatorConversationID is the payout's id, which merchants
    and logs see); a status answer by the queried payout's original OriginatorConversationID."""
    if not status and payout.conversation_id:
        return result.conversation_id == payout.conversation_id
    return names_us(payout, result, status=status)


def learn_ids(payout: Payout, result: MpesaResult) -> None:
    """A B2B payout learns M-Pesa's ids from its authenticated result when its acknowledgement was lost."""
    if payout.originator_id is None and result.originator_conversation_id:
        payout.originator_id = result.originator_conversation_id
    payout.conversation_id = payout.conversation_id or result.conversation_id


def success_mismatch(payout: Payout, result: MpesaResult, *, status: bool) -> str:
    """Why a success may not complete this payout: it must carry our ids, our amount and our receiving party."""
    if not names_us(payout, result, status=status):
        return "it does not carry the payout's ids"
    if result.amount is None:
        return "no amount"
    if result.amount != payout.amount:
        return f"amount {result.amount} is not {payout.amount}"
    party = _receiver(result)
    if party is None:
        return "no receiving party"
    if not _same_party(party, _destination(payout)):
        return "the receiving party is not the payout's"
    wanted = payout.b2b.account_reference if payout.b2b is not None else ""
    if wanted and result.account_reference is not None and result.account_reference != wanted:
        return "the account reference is not the payout's"  # the right paybill, someone else's bank account
    return ""


def names_us(payout: Payout, result: MpesaResult, *, status: bool) -> bool:
    """True when the answer carries an id the payout already had: a status answer the queried payout's original
    OriginatorConversationID, a result our OriginatorConversationID or M-Pesa's ConversationID."""
    if status:  # a status answer names the queried payout by its original OriginatorConversationID
        return payout.originator_id is not None and result.param("OriginatorConversationID") == payout.originator_id
    ours = {payout.originator_id, payout.conversation_id} - {None}
    return bool(ours & {result.originator_conversation_id, result.conversation_id})


def _destination(payout: Payout) -> str:
    return payout.party


def _receiver(result: MpesaResult) -> str | None:
    for key in _RECEIVER_KEYS:
        value = result.param(key)
        if value and value.split(" - ", 1)[0].strip():
            return value.split(" - ", 1)[0].strip()
    return None


def receiver_name(result: MpesaResult) -> str | None:
    """Who the receiving party is registered to, as a success names it after its number (``2547... - NAME``:
    ``ReceiverPartyPublicName`` on a B2C result, ``CreditPartyName`` on a status answer); None when it names no one.

    >>> from cryptopay.core.mobile_money import parse_payload
    >>> body = {"Result": {"ResultType": 0, "ResultCode": 0, "ResultDesc": "ok", "OriginatorConversationID": "o",
    ...     "ConversationID": "c", "TransactionID": "T", "ResultParameters": {"ResultParameter": [
    ...     {"Key": "ReceiverPartyPublicName", "Value": "254705912645 - NICHOLAS JOHN SONGOK"}]}}}
    >>> receiver_name(parse_payload(body))
    'NICHOLAS JOHN SONGOK'
    """
    for key in _RECEIVER_KEYS:
        value = result.param(key)
        if value and " - " in value and (name := value.split(" - ", 1)[1].strip()):
            return name
    return None


def _same_party(party: str, expected: str) -> bool:
    """Equal identifiers; M-Pesa may mask a phone's middle digits (``2547******149``), never more of it: a party
    masking more than six digits, or any of the last three, matches nothing (``************`` matched every phone)."""
    wanted = _canonical(expected)
    seen = _canonical(party) if "*" not in party else _masked(party)
    if seen.count("*") > _MAX_MASKED or "*" in seen[-3:]:
        return False
    return len(seen) == len(wanted) and all(a in ("*", b) for a, b in zip(seen, wanted, strict=True))


def _canonical(text: str) -> str:
    try:
        return normalize_msisdn(text)
    except InvalidPhoneNumber:
        return text.strip()


def _masked(text: str) -> str:
    text = text.strip().removeprefix("+")
    return "254" + text[1:] if text.startswith("0") else text


def keep(uow: PaymentsUnitOfWork, ids: IdGenerator, now: datetime, purpose: CallbackPurpose, body: str) -> None:
    """Keep an answer from a vouched-for source whose token named no request."""
    uow.unmatched_answers.add(UnmatchedAnswer(id=ids.new_id("ans"), received_at=now, purpose=purpose, body=body))


def keep_refused(
    uow: PaymentsUnitOfWork, ids: IdGenerator, now: datetime, purpose: CallbackPurpose, payout: Payout, body: str
) -> str:
    """Keep an answer on one of the payout's tokens that moved nothing (a mismatch, a repeat): closed at once,
    under the payout, for an operator and the audit (the house rule: every answer is kept until it is matched)."""
    answer = UnmatchedAnswer(id=ids.new_id("ans"), received_at=now, purpose=purpose, body=body)
    answer.matched_at, answer.payout_id = now, payout.id
    uow.unmatched_answers.add(answer)
    return answer.id


def find_by_ids(uow: PaymentsUnitOfWork, answer: UnmatchedAnswer) -> Payout | None:
    """The payout a kept answer names by any id it carries, if any."""
    try:
        result = parse_payload_text(answer.body)
    except InvalidInput:  # an unreadable body names nothing: it is closed, after a while, with no payout
        return None
    originals = (result.param("OriginatorConversationID"), result.originator_conversation_id)
    for originator in filter(None, originals):
        found = uow.payouts.by_originator_id(originator) or uow.payouts.by_answer_key(f"query:{originator}")
        if found is not None:
            return found
    conversations = (result.param("ConversationID"), result.conversation_id)
    for conversation in filter(None, conversations):
        found = uow.payouts.by_conversation_id(conversation) or uow.payouts.by_answer_key(
            f"query-conversation:{conversation}"
        )
        if found is not None:
            return found
    return None
