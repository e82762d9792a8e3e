"""Parse any Daraja payload into one ``MpesaResult``, tolerant of Safaricom's shape drift.

ResultCode may be an int, a string or alphanumeric; ResultParameter and ReferenceItem may be one object or
a list; items may lack a Value; amounts may read ``1.00``; times are Nairobi-time numbers or strings.

>>> result = parse_payload_text('{"Body": {"stkCallback": {"MerchantRequestID": "m", "CheckoutRequestID": "ws_1",'
...     ' "ResultCode": 1032, "ResultDesc": "Request cancelled by user"}}}')
>>> result.kind.value, result.success, result.result_code, result.reference
('stk_callback', False, '1032', 'ws_1')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cryptopay.core.errors import InvalidInput
from cryptopay.core.jsontext import MAX_JSON_DEPTH, JsonTooDeep, loads_untrusted
from cryptopay.core.mobile_money._values import (
    amount_of,
    code_of,
    moment_of,
    pairs_of,
    phone_in_party,
    text_of,
)
from cryptopay.core.mobile_money.phones import try_normalize_msisdn
from cryptopay.core.mobile_money.results import MpesaResult, Outcome, PayloadKind

__all__ = ["PENDING_CODES", "load_json", "parse_payload", "parse_payload_text", "stk_query_still_processing"]

PENDING_CODES = frozenset({"4999"})  # STK query: "The transaction is still under processing"
_RECEIPT_KEYS = ("MpesaReceiptNumber", "TransactionReceipt", "ReceiptNo", "TransID")
_AMOUNT_KEYS = ("Amount", "TransactionAmount", "TransAmount")
_TIME_KEYS = (
    "TransactionDate",
    "TransactionCompletedDateTime",
    "TransCompletedTime",
    "FinalisedTime",
    "BOCompletedTime",
    "InitiatedTime",
    "TransTime",
)
_PARTY_KEYS = (
    "ReceiverPartyPublicName",
    "CreditPartyPublicName",
    "CreditPartyName",
    "DebitPartyPublicName",
    "DebitPartyName",
)


def load_json(text: str | bytes) -> Any:
    """JSON with every number that has a fraction read as ``Decimal`` (never a float), at most 32 deep; no
    ``NaN``/``Infinity`` and no integer past Python's digit limit (``ValueError``): both are "not JSON"."""
    try:
        return loads_untrusted(text)
    except JsonTooDeep:
        raise InvalidInput(f"not a Daraja payload: nests deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
        raise InvalidInput(f"not JSON: {error}") from None


def parse_payload_text(text: str | bytes) -> MpesaResult:
    """Parse the raw text of a Daraja payload."""
    return parse_payload(load_json(text))


def parse_payload(data: Any) -> MpesaResult:
    """Recognise a Daraja payload by its shape and normalise it; ``InvalidInput`` if it is none we know."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"a Daraja payload is a JSON object, not {type(data).__name__}")
    for recognises, parse in _PARSERS:
        if recognises(data):
            return parse(data)
    keys = ", ".join(sorted(str(key) for key in data)[:8]) or "none"
    raise InvalidInput(f"not a Daraja payload this parser knows (keys: {keys})")


def stk_query_still_processing(
    checkout_request_id: str, message: str = "The transaction is being processed"
) -> MpesaResult:
    """The STK query answer while the customer has not yet answered the prompt (Daraja says ``500.001.1001``)."""
    return MpesaResult(
        kind=PayloadKind.STK_QUERY,
        outcome=Outcome.PENDING,
        result_code="500.001.1001",
        result_desc=message,
        reference=checkout_request_id,
        checkout_request_id=checkout_request_id,
    )


def _nested(body: Mapping[str, Any], outer: str, inner: str) -> Any:
    value = body.get(outer)
    return value.get(inner) if isinstance(value, Mapping) else value


def _first(pairs: dict[str, str | None], keys: tuple[str, ...]) -> str | None:
    return next((pairs[key] for key in keys if pairs.get(key)), None)


def _first_dict(pairs: tuple[tuple[str, str | None], ...]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for key, value in pairs:
        if key not in found or found[key] is None:
            found[key] = value
    return found


def _outcome(code: str | None) -> Outcome:
    if code == "0":
        return Outcome.SUCCEEDED
    return Outcome.PENDING if code in PENDING_CODES else Outcome.FAILED


def _party_phone(pairs: tuple[tuple[str, str | None], ...]) -> str | None:
    for wanted in _PARTY_KEYS:
        for key, value in pairs:
            if key == wanted and (phone := phone_in_party(value)):
                return phone
    return None


def _stk_callback(data: Mapping[str, Any]) -> MpesaResult:
    body = data["Body"]["stkCallback"]
    pairs = pairs_of(_nested(body, "CallbackMetadata", "Item"), "Name")
    found = _first_dict(pairs)
    code = code_of(body.get("ResultCode"))
    return MpesaResult(
        kind=PayloadKind.STK_CALLBACK,
        outcome=_outcome(code),
        result_code=code,
        result_desc=text_of(body.get("ResultDesc")) or "",
        reference=text_of(body.get("CheckoutRequestID")),
        receipt=_first(found, _RECEIPT_KEYS),
        amount=amount_of(_first(found, _AMOUNT_KEYS)),
        phone=try_normalize_msisdn(found.get("PhoneNumber")),
        occurred_at=moment_of(_first(found, _TIME_KEYS)),
        merchant_request_id=text_of(body.get("MerchantRequestID")),
        checkout_request_id=text_of(body.get("CheckoutRequestID")),
        parameters=pairs,
    )


def _result(data: Mapping[str, Any]) -> MpesaResult:
    body = data["Result"]
    pairs = pairs_of(_nested(body, "ResultParameters", "ResultParameter"), "Key")
    found = _first_dict(pairs)
    code = code_of(body.get("ResultCode"))
    originator = text_of(body.get("OriginatorConversationID"))
    conversation = text_of(body.get("ConversationID"))
    references = dict(pairs_of(_nested(body, "ReferenceData", "ReferenceItem"), "Key"))
    return MpesaResult(
        kind=PayloadKind.RESULT,
        outcome=_outcome(code),
        result_code=code,
        result_desc=text_of(body.get("ResultDesc")) or "",
        reference=originator or conversation,
        receipt=_first(found, _RECEIPT_KEYS),
        amount=amount_of(_first(found, _AMOUNT_KEYS)),
        phone=_party_phone(pairs),
        occurred_at=moment_of(_first(found, _TIME_KEYS)),
        originator_conversation_id=originator,
        conversation_id=conversation,
        transaction_id=text_of(body.get("TransactionID")),
        account_reference=references.get("BillReferenceNumber"),  # a B2B paybill payment's AccountReference
        parameters=pairs,
    )


def _stk_query(data: Mapping[str, Any]) -> MpesaResult:
    code = code_of(data.get("ResultCode"))
    return MpesaResult(
        kind=PayloadKind.STK_QUERY,
        outcome=_outcome(code),
        result_code=code,
        result_desc=text_of(data.get("ResultDesc")) or "",
        reference=text_of(data.get("CheckoutRequestID")),
        merchant_request_id=text_of(data.get("MerchantRequestID")),
        checkout_request_id=text_of(data.get("CheckoutRequestID")),
    )


def _c2b(data: Mapping[str, Any]) -> MpesaResult:
    pairs = tuple((str(key), text_of(value)) for key, value in data.items())
    return MpesaResult(
        kind=PayloadKind.C2B,
        outcome=Outcome.SUCCEEDED,
        result_code="0",
        result_desc=text_of(data.get("TransactionType")) or "C2B payment",
        receipt=text_of(data.get("TransID")),
        amount=amount_of(data.get("TransAmount")),
        phone=try_normalize_msisdn(text_of(data.get("MSISDN"))),
        occurred_at=moment_of(data.get("TransTime")),
        account_reference=text_of(data.get("BillRefNumber")),
        parameters=pairs,
    )


def _error(data: Mapping[str, Any]) -> MpesaResult:
    message = text_of(data.get("errorMessage")) or ""
    return MpesaResult(
        kind=PayloadKind.ERROR,
        outcome=Outcome.PENDING if "being processed" in message.lower() else Outcome.FAILED,
        result_code=text_of(data.get("errorCode")),
        result_desc=message,
        request_id=text_of(data.get("requestId")),
    )


def _acknowledgement(data: Mapping[str, Any]) -> MpesaResult:
    code = code_of(data.get("ResponseCode"))
    # "OriginatorCoversationID" (sic) is how C2B URL registration spells it.
    originator = text_of(data.get("OriginatorConversationID") or data.get("OriginatorCoversationID"))
    checkout = text_of(data.get("CheckoutRequestID"))
    conversation = text_of(data.get("ConversationID"))
    return MpesaResult(
        kind=PayloadKind.ACKNOWLEDGEMENT,
        outcome=Outcome.ACCEPTED if code == "0" else Outcome.FAILED,
        result_code=code,
        result_desc=text_of(data.get("ResponseDescription")) or "",
        reference=checkout or originator or conversation,
        merchant_request_id=text_of(data.get("MerchantRequestID")),
        checkout_request_id=checkout,
        originator_conversation_id=originator,
        conversation_id=conversation,
    )


def _request(data: Mapping[str, Any]) -> MpesaResult:
    # Safaricom's own examples sometimes write "Command ID" and "Transaction ID": compare without spaces.
    fields = {str(key).replace(" ", ""): value for key, value in data.items()}
    originator = text_of(fields.get("OriginatorConversationID") or fields.get("OriginalConversationID"))
    phone = try_normalize_msisdn(text_of(fields.get("PhoneNumber") or fields.get("PartyB")))
    return MpesaResult(
        kind=PayloadKind.REQUEST,
        outcome=Outcome.NONE,
        result_code=None,
        result_desc=text_of(fields.get("CommandID") or fields.get("TransactionType")) or "request",
        reference=text_of(fields.get("CheckoutRequestID")) or originator,
        amount=amount_of(fields.get("Amount")),
        phone=phone,
        originator_conversation_id=originator,
        transaction_id=text_of(fields.get("TransactionID")),
        account_reference=text_of(fields.get("AccountReference")),
    )


def _is_stk_callback(data: Mapping[str, Any]) -> bool:
    body = data.get("Body")
    return isinstance(body, Mapping) and isinstance(body.get("stkCallback"), Mapping)


def _is_request(data: Mapping[str, Any]) -> bool:
    keys = {str(key).replace(" ", "") for key in data}
    return bool(keys & {"CommandID", "SecurityCredential", "Password", "InitiatorName", "Initiator"})


_PARSERS: tuple[tuple[Callable[[Mapping[str, Any]], bool], Callable[[Mapping[str, Any]], MpesaResult]], ...] = (
    (_is_stk_callback, _stk_callback),
    (lambda data: isinstance(data.get("Result"), Mapping), _result),
    (lambda data: "errorCode" in data, _error),
    (lambda data: "ResultCode" in data and "CheckoutRequestID" in data, _stk_query),
    (lambda data: "TransID" in data or "TransAmount" in data, _c2b),
    (lambda data: "ResponseCode" in data, _acknowledgement),
    (_is_request, _request),
)
