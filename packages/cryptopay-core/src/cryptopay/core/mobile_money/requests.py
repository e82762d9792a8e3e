"""What we ask M-Pesa to do, validated before any call: numbers, whole-shilling amounts, field lengths, URLs.

>>> request = StkPushRequest(phone="0708 374 149", amount="10", account_reference="INV-1",
...                          callback_url="https://pay.example.com/callbacks/stk/tok")
>>> request.phone, str(request.amount)
('254708374149', '10.00 KES')
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from typing import Any

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.mobile_money.limits import B2B_LIMITS, B2C_LIMITS, REVERSAL_LIMITS, STK_LIMITS
from cryptopay.core.mobile_money.phones import normalize_msisdn
from cryptopay.core.money import Money

__all__ = [
    "AccountBalanceRequest",
    "B2BCommand",
    "B2BRequest",
    "B2CCommand",
    "B2CRequest",
    "C2BRegistration",
    "ReversalRequest",
    "StkPushRequest",
    "TransactionStatusRequest",
    "TransactionType",
]

# Daraja refuses callback URLs that contain these words (its own advice); fail here with a clear message.
_FORBIDDEN_URL_WORDS = ("mpesa", "m-pesa", "safaricom")
_URL = re.compile(r"https?://[^\s/]+(/\S*)?")
_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,64}")
_SHORTCODE = re.compile(r"\d{5,8}")


class TransactionType(enum.Enum):
    PAYBILL = "CustomerPayBillOnline"
    BUY_GOODS = "CustomerBuyGoodsOnline"


class B2CCommand(enum.Enum):
    BUSINESS_PAYMENT = "BusinessPayment"
    SALARY_PAYMENT = "SalaryPayment"
    PROMOTION_PAYMENT = "PromotionPayment"


class B2BCommand(enum.Enum):
    PAYBILL = "BusinessPayBill"
    BUY_GOODS = "BusinessBuyGoods"


def _text(field: str, maximum: int, minimum: int = 1) -> Callable[[Any, Any, str], None]:
    def check(_instance: Any, _attribute: Any, value: str) -> None:
        if not isinstance(value, str) or not minimum <= len(value.strip()) <= maximum:
            raise InvalidInput(f"{field} must be {minimum} to {maximum} characters, got {value!r}")

    return check


def _url(field: str) -> Callable[[Any, Any, str], None]:
    def check(_instance: Any, _attribute: Any, value: str) -> None:
        if not isinstance(value, str) or not _URL.fullmatch(value):
            raise InvalidInput(f"{field} must be an http(s) URL, got {value!r}")
        if any(word in value.lower() for word in _FORBIDDEN_URL_WORDS):
            raise InvalidInput(f"{field} must not contain the words M-Pesa or Safaricom: Daraja refuses such URLs")

    return check


def _identifier(field: str) -> Callable[[Any, Any, str], None]:
    def check(_instance: Any, _attribute: Any, value: str) -> None:
        if not isinstance(value, str) or not _ID.fullmatch(value):
            raise InvalidInput(f"{field} must be 1 to 64 letters, digits or _-.: characters, got {value!r}")

    return check


def _optional_identifier(field: str) -> Callable[[Any, Any, str | None], None]:
    check = _identifier(field)

    def optional(instance: Any, attribute: Any, value: str | None) -> None:
        if value is not None:
            check(instance, attribute, value)

    return optional


def _shortcode(_instance: Any, _attribute: Any, value: str) -> None:
    if not isinstance(value, str) or not _SHORTCODE.fullmatch(value):
        raise InvalidInput(f"a paybill, till or shortcode is 5 to 8 digits, got {value!r}")


def _stk_amount(value: object) -> Money:
    return STK_LIMITS.check(value)


def _b2c_amount(value: object) -> Money:
    return B2C_LIMITS.check(value)


def _b2b_amount(value: object) -> Money:
    return B2B_LIMITS.check(value)


def _reversal_amount(value: object) -> Money:
    return REVERSAL_LIMITS.check(value)


def _optional_phone(value: object) -> str | None:
    return None if value is None else normalize_msisdn(value)


@attrs.frozen(kw_only=True)
class StkPushRequest:
    """Prompt a customer's phone to pay us (buy crypto); the result arrives at ``callback_url``."""

    phone: str = attrs.field(converter=normalize_msisdn)
    amount: Money = attrs.field(converter=_stk_amount)
    account_reference: str = attrs.field(validator=_text("AccountReference", 12))
    callback_url: str = attrs.field(validator=_url("CallBackURL"))
    description: str = attrs.field(default="Payment", validator=_text("TransactionDesc", 13))
    transaction_type: TransactionType = TransactionType.PAYBILL
    till_number: str | None = None  # PartyB for buy goods; the shortcode otherwise

    def __attrs_post_init__(self) -> None:
        if self.transaction_type is TransactionType.BUY_GOODS and self.till_number is None:
            raise InvalidInput("a buy-goods STK push needs the till_number (PartyB)")
        if self.till_number is not None:
            _shortcode(self, None, self.till_number)


@attrs.frozen(kw_only=True)
class B2CRequest:
    """Pay a customer (a payout); ``originator_conversation_id`` is our unique idempotency key for it."""

    originator_conversation_id: str = attrs.field(validator=_identifier("OriginatorConversationID"))
    phone: str = attrs.field(converter=normalize_msisdn)
    amount: Money = attrs.field(converter=_b2c_amount)
    result_url: str = attrs.field(validator=_url("ResultURL"))
    timeout_url: str = attrs.field(validator=_url("QueueTimeOutURL"))
    remarks: str = attrs.field(default="Payout", validator=_text("Remarks", 100, minimum=2))
    occasion: str = attrs.field(default="", validator=_text("Occassion", 100, minimum=0))
    command: B2CCommand = B2CCommand.BUSINESS_PAYMENT


@attrs.frozen(kw_only=True)
class B2BRequest:
    """Pay a business: a paybill with an account (e.g. KPLC 888880 + meter) or a till (buy goods)."""

    command: B2BCommand
    receiver: str = attrs.field(validator=_shortcode)
    amount: Money = attrs.field(converter=_b2b_amount)
    result_url: str = attrs.field(validator=_url("ResultURL"))
    timeout_url: str = attrs.field(validator=_url("QueueTimeOutURL"))
    account_reference: str = attrs.field(default="", validator=_text("AccountReference", 13, minimum=0))
    requester: str | None = attrs.field(default=None, converter=_optional_phone)
    remarks: str = attrs.field(default="Bill payment", validator=_text("Remarks", 100, minimum=2))

    def __attrs_post_init__(self) -> None:
        if self.command is B2BCommand.PAYBILL and not self.account_reference.strip():
            raise InvalidInput("a paybill payment needs an account_reference (the account or meter number)")


@attrs.frozen(kw_only=True)
class TransactionStatusRequest:
    """Ask what became of a transaction, by its receipt or by our OriginatorConversationID."""

    result_url: str = attrs.field(validator=_url("ResultURL"))
    timeout_url: str = attrs.field(validator=_url("QueueTimeOutURL"))
    transaction_id: str | None = attrs.field(default=None, validator=_optional_identifier("TransactionID"))
    originator_conversation_id: str | None = attrs.field(
        default=None, validator=_optional_identifier("OriginalConversationID")
    )
    remarks: str = attrs.field(default="Status check", validator=_text("Remarks", 100, minimum=2))
    occasion: str = attrs.field(default="", validator=_text("Occasion", 100, minimum=0))
    shortcode: str | None = None  # the shortcode that made the transaction; the payout shortcode if None

    def __attrs_post_init__(self) -> None:
        if self.shortcode is not None:
            _shortcode(self, None, self.shortcode)
        if self.transaction_id is None and self.originator_conversation_id is None:
            raise InvalidInput("a status query needs a transaction_id or an originator_conversation_id")


@attrs.frozen(kw_only=True)
class AccountBalanceRequest:
    """Ask for our shortcode's account balances (to reconcile the M-Pesa float)."""

    result_url: str = attrs.field(validator=_url("ResultURL"))
    timeout_url: str = attrs.field(validator=_url("QueueTimeOutURL"))
    remarks: str = attrs.field(default="Balance check", validator=_text("Remarks", 100, minimum=2))


@attrs.frozen(kw_only=True)
class ReversalRequest:
    """Reverse a completed transaction identified by its receipt."""

    transaction_id: str = attrs.field(validator=_identifier("TransactionID"))
    amount: Money = attrs.field(converter=_reversal_amount)
    result_url: str = attrs.field(validator=_url("ResultURL"))
    timeout_url: str = attrs.field(validator=_url("QueueTimeOutURL"))
    remarks: str = attrs.field(default="Reversal", validator=_text("Remarks", 100, minimum=2))
    occasion: str = attrs.field(default="", validator=_text("Occasion", 100, minimum=0))


@attrs.frozen(kw_only=True)
class C2BRegistration:
    """Where Daraja sends customer-initiated payments to our paybill; ``Cancelled`` refuses if validation is down."""

    confirmation_url: str = attrs.field(validator=_url("ConfirmationURL"))
    validation_url: str = attrs.field(validator=_url("ValidationURL"))
    response_type: str = attrs.field(default="Completed", validator=attrs.validators.in_(("Completed", "Cancelled")))
