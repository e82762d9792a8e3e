"""Daraja-shaped payloads for simulated transactions, exactly as Safaricom writes them (numbers as numbers).

Shared by the in-memory fake and the HTTP sandbox so both speak the same wire format the parsers read.
Amounts are ``Decimal`` (``1.00`` on the wire), phone numbers and dates are integers in STK callbacks.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from cryptopay.core.mobile_money.interpret import NOT_FOUND_CODE
from cryptopay.core.money import Money
from cryptopay.core.system import NAIROBI

__all__ = [
    "SANDBOX_CUSTOMER",
    "account_balance_result",
    "b2b_result",
    "b2c_result",
    "c2b_confirmation",
    "failed_result",
    "not_found_status_result",
    "queue_timeout_result",
    "reversal_result",
    "status_result",
    "stk_callback",
    "stk_query_answer",
]

SANDBOX_CUSTOMER = "SANDBOX CUSTOMER"  # the name a number is registered to unless a test registers one


def _stamp(moment: datetime) -> str:
    return moment.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def _code(code: str) -> int | str:
    return int(code) if code.isdigit() else code  # callbacks carry numeric codes as numbers


def _result(code: str, desc: str, originator: str, conversation: str, transaction_id: str, **extra: Any) -> Any:
    body: dict[str, Any] = {
        "ResultType": 0,
        "ResultCode": _code(code),
        "ResultDesc": desc,
        "OriginatorConversationID": originator,
        "ConversationID": conversation,
        "TransactionID": transaction_id,
    }
    bill_reference = extra.pop("bill_reference", None)
    body.update(extra)
    timeout = {"Key": "QueueTimeoutURL", "Value": "https://sandbox.invalid/timeout"}
    items: Any = (
        timeout if bill_reference is None else [{"Key": "BillReferenceNumber", "Value": bill_reference}, timeout]
    )
    body["ReferenceData"] = {"ReferenceItem": items}
    return {"Result": body}


def _params(*pairs: tuple[str, Any]) -> dict[str, Any]:
    items = [{"Key": key} if value is None else {"Key": key, "Value": value} for key, value in pairs]
    return {"ResultParameters": {"ResultParameter": items[0] if len(items) == 1 else items}}


def stk_callback(
    merchant_id: str,
    checkout_id: str,
    code: str,
    desc: str,
    *,
    amount: Money | None = None,
    receipt: str | None = None,
    phone: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """An STK callback; success carries CallbackMetadata with a value-less ``Balance`` item, as Daraja's does."""
    body: dict[str, Any] = {
        "MerchantRequestID": merchant_id,
        "CheckoutRequestID": checkout_id,
        "ResultCode": _code(code),
        "ResultDesc": desc,
    }
    if code == "0" and amount is not None and at is not None and phone is not None:
        body["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": amount.amount},
                {"Name": "MpesaReceiptNumber", "Value": receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(_stamp(at))},
                {"Name": "PhoneNumber", "Value": int(phone)},
            ]
        }
    return {"Body": {"stkCallback": body}}


def stk_query_answer(merchant_id: str, checkout_id: str, code: str, desc: str) -> dict[str, Any]:
    """The STK query's synchronous answer: codes are strings here."""
    return {
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successsfully",
        "MerchantRequestID": merchant_id,
        "CheckoutRequestID": checkout_id,
        "ResultCode": code,
        "ResultDesc": desc,
    }


def failed_result(code: str, desc: str, originator: str, conversation: str, transaction_id: str) -> Any:
    """A failed Result: no ResultParameters at all."""
    return _result(code, desc, originator, conversation, transaction_id)


def b2c_result(
    originator: str,
    conversation: str,
    receipt: str,
    amount: Money,
    phone: str,
    at: datetime,
    utility: Money,
    name: str = SANDBOX_CUSTOMER,
    charges_paid: Money | None = None,
) -> Any:
    """A successful B2C Result with the date as ``dd.MM.yyyy HH:mm:ss``; ``name``: who the number is registered
    to, as ``ReceiverPartyPublicName`` names it after the number; ``charges_paid``: the Charges Paid Account's
    balance (M-Pesa's charges taken so far, negative, as in Safaricom's sample: -1980.00)."""
    when = at.astimezone(NAIROBI).strftime("%d.%m.%Y %H:%M:%S")
    params = _params(
        ("TransactionAmount", int(amount.amount)),
        ("TransactionReceipt", receipt),
        ("ReceiverPartyPublicName", f"{phone} - {name}"),
        ("TransactionCompletedDateTime", when),
        ("B2CUtilityAccountAvailableFunds", utility.amount),
        ("B2CWorkingAccountAvailableFunds", Decimal("0.00")),
        ("B2CRecipientIsRegisteredCustomer", "Y"),
        ("B2CChargesPaidAccountAvailableFunds", charges_paid.amount if charges_paid else Decimal("0.00")),
    )
    return _result("0", "The service request is processed successfully.", originator, conversation, receipt, **params)


def b2b_result(
    originator: str,
    conversation: str,
    receipt: str,
    amount: Money,
    receiver: str,
    at: datetime,
    account_reference: str = "",
    token: str | None = None,
) -> Any:
    """A successful B2B Result, as Safaricom documents BusinessPayBill's: the paybill payment's AccountReference comes
    back as the ``BillReferenceNumber`` reference item. ``token`` (not Safaricom's: the simulated prepaid biller's)
    adds a ``PrepaidToken`` ResultParameter."""
    extra = (("PrepaidToken", token),) if token is not None else ()
    params = _params(
        *extra,
        ("DebitAccountBalance", "{Amount={CurrencyCode=KES, MinimumAmount=618683, BasicAmount=6186.83}}"),
        ("Amount", amount.amount),
        ("DebitPartyAffectedAccountBalance", "Working Account|KES|346760.00|346760.00|0.00|0.00"),
        ("TransCompletedTime", int(_stamp(at))),
        ("DebitPartyCharges", None),
        ("ReceiverPartyPublicName", f"{receiver} - SANDBOX BUSINESS"),
        ("Currency", "KES"),
        ("InitiatorAccountCurrentBalance", "{Amount={CurrencyCode=KES, MinimumAmount=618683, BasicAmount=6186.83}}"),
    )
    reference = {"bill_reference": account_reference} if account_reference else {}
    code, desc = "0", "The service request is processed successfully."
    return _result(code, desc, originator, conversation, receipt, **params, **reference)


def reversal_result(
    originator: str, conversation: str, receipt: str, original: str, amount: Money, phone: str | None, at: datetime
) -> Any:
    """A successful Reversal Result."""
    params = _params(
        ("Amount", amount.amount),
        ("TransCompletedTime", int(_stamp(at))),
        ("OriginalTransactionID", original),
        ("Charge", Decimal("0.00")),
        ("CreditPartyPublicName", f"{phone} - SANDBOX CUSTOMER" if phone else None),
    )
    return _result("0", "The service request is processed successfully.", originator, conversation, receipt, **params)


def status_result(
    originator: str,
    conversation: str,
    *,
    receipt: str | None,
    status: str,
    amount: Money,
    phone: str | None,
    original_originator: str,
    original_conversation: str,
    at: datetime,
    business: str | None = None,
    name: str = SANDBOX_CUSTOMER,
    paid_to: str | None = None,
) -> Any:
    """A Transaction Status Result: the query succeeded; ``TransactionStatus`` tells the queried one's state.

    ``business`` (a paybill or till) makes it the answer about a B2B payment: that shortcode is the credit party;
    ``paid_to`` (our paybill) the answer about a customer's payment to it (C2B): the customer is the debit party;
    ``name``: who the customer's number is registered to."""
    credit: str | None = f"{phone} - {name}" if phone else None
    debit: str | None = None
    reason = "Business Payment to Customer via API"
    if business is not None:
        credit, reason = f"{business} - SANDBOX BUSINESS", "Business Pay Bill"
    if paid_to is not None:
        debit, credit, reason = credit, f"{paid_to} - SANDBOX BUSINESS", "Pay Bill"
    params = _params(
        *((("DebitPartyName", debit),) if debit is not None else ()),
        ("ReceiptNo", receipt),
        ("Amount", str(int(amount.amount))),
        ("TransactionStatus", status),
        ("FinalisedTime", _stamp(at)),
        ("CreditPartyName", credit),
        ("OriginatorConversationID", original_originator),
        ("ConversationID", original_conversation),
        ("TransactionReason", None),
        ("ReasonType", reason),
    )
    return _result(
        "0", "The service request is processed successfully.", originator, conversation, "SBX0000000", **params
    )


def not_found_status_result(originator: str, conversation: str) -> Any:
    """The sandbox's Transaction Status answer for a transaction it never saw."""
    desc = "No transaction matches this TransactionID or OriginalConversationID (not found)."
    return _result(NOT_FOUND_CODE, desc, originator, conversation, "SBX0000000")


def queue_timeout_result(originator: str, conversation: str) -> Any:
    """What the sandbox posts to a QueueTimeOutURL: not a final answer, only a cue to query the status."""
    return _result(
        "QueueTimeout",
        "The request timed out in the queue; query the transaction status.",
        originator,
        conversation,
        "SBX0000000",
    )


def account_balance_result(
    originator: str, conversation: str, utility: Money, at: datetime, charges_paid: Money | None = None
) -> Any:
    """An Account Balance Result; the float is the Utility Account, less the charges M-Pesa took into the Charges
    Paid Account (named when ``charges_paid`` is given, negative as in Safaricom's sample)."""
    value = f"Working Account|KES|0.00|0.00|0.00|0.00&Utility Account|KES|{utility.amount}|{utility.amount}|0.00|0.00"
    if charges_paid is not None:
        value += f"&Charges Paid Account|KES|{charges_paid.amount}|{charges_paid.amount}|0.00|0.00"
    params = _params(("AccountBalance", value), ("BOCompletedTime", _stamp(at)))
    return _result(
        "0", "The service request is processed successfully", originator, conversation, "SBX0000000", **params
    )


def c2b_confirmation(receipt: str, amount: Money, shortcode: str, bill_ref: str, phone: str, at: datetime) -> Any:
    """A C2B confirmation (v2 field names; the sandbox does not mask the number)."""
    return {
        "TransactionType": "Pay Bill",
        "TransID": receipt,
        "TransTime": _stamp(at),
        "TransAmount": str(amount.amount),
        "BusinessShortCode": shortcode,
        "BillRefNumber": bill_ref,
        "InvoiceNumber": "",
        "OrgAccountBalance": "",
        "ThirdPartyTransID": "",
        "MSISDN": phone,
        "FirstName": "SANDBOX",
        "MiddleName": "",
        "LastName": "",
    }
