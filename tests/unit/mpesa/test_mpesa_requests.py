"""Requests are validated before any call: whole shillings within limits, field lengths, URLs, ids."""

from __future__ import annotations

import pytest
from cryptopay.core.errors import InvalidAmount, InvalidInput, LimitExceeded
from cryptopay.core.mobile_money import (
    B2BCommand,
    B2BRequest,
    B2CRequest,
    StkPushRequest,
    TransactionStatusRequest,
    TransactionType,
)
from cryptopay.core.money import KES, USD, Money
from hypothesis import given
from hypothesis import strategies as st

URL = "https://pay.example.com/callbacks/t0k3n"


def stk(**overrides: object) -> StkPushRequest:
    fields: dict[str, object] = {
        "phone": "0708374149",
        "amount": 100,
        "account_reference": "INV-1",
        "callback_url": URL,
    }
    fields.update(overrides)
    return StkPushRequest(**fields)  # type: ignore[arg-type]


def b2c(**overrides: object) -> B2CRequest:
    fields: dict[str, object] = {
        "originator_conversation_id": "po_1",
        "phone": "254708374149",
        "amount": 100,
        "result_url": URL,
        "timeout_url": URL,
    }
    fields.update(overrides)
    return B2CRequest(**fields)  # type: ignore[arg-type]


@given(st.integers(min_value=1, max_value=250_000))
def test_stk_accepts_every_whole_amount_in_range(shillings: int) -> None:
    """Any whole shilling amount from 1 to 250,000 is a valid STK Push."""
    assert stk(amount=shillings).amount == Money.of(shillings, KES)


@given(st.integers(min_value=10, max_value=250_000))
def test_b2c_accepts_every_whole_amount_in_range(shillings: int) -> None:
    """Any whole shilling amount from 10 to 250,000 is a valid B2C payout."""
    assert b2c(amount=shillings).amount.amount == shillings


@pytest.mark.parametrize(("factory", "amount"), [(stk, 0), (stk, 250_001), (b2c, 9), (b2c, 250_001)])
def test_amounts_outside_the_product_limits_are_refused(factory: object, amount: int) -> None:
    """STK below 1 or B2C below 10, and either above 250,000, exceed the product limit."""
    with pytest.raises(LimitExceeded, match="a transaction"):
        factory(amount=amount)  # type: ignore[operator]


@pytest.mark.parametrize("amount", ["10.50", Money.of("99.99", KES)])
def test_cents_are_refused(amount: object) -> None:
    """M-Pesa moves whole shillings only."""
    with pytest.raises(InvalidAmount, match="whole shillings"):
        b2c(amount=amount)


def test_floats_and_other_currencies_are_refused() -> None:
    """A float is never money, and a USD amount is not a KES payout."""
    with pytest.raises(TypeError):
        b2c(amount=100.0)
    with pytest.raises(InvalidAmount, match="KES"):
        b2c(amount=Money.of(100, USD))


def test_field_lengths_follow_daraja() -> None:
    """AccountReference is at most 12 for STK and 13 for B2B; TransactionDesc at most 13."""
    assert stk(account_reference="A" * 12).account_reference == "A" * 12
    with pytest.raises(InvalidInput, match="AccountReference"):
        stk(account_reference="A" * 13)
    with pytest.raises(InvalidInput, match="TransactionDesc"):
        stk(description="D" * 14)
    bill = {"command": B2BCommand.PAYBILL, "receiver": "888880", "amount": 500, "result_url": URL, "timeout_url": URL}
    assert B2BRequest(**bill, account_reference="1" * 13).account_reference == "1" * 13  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="AccountReference"):
        B2BRequest(**bill, account_reference="1" * 14)  # type: ignore[arg-type]


def test_paybill_needs_an_account_and_buy_goods_needs_a_till() -> None:
    """A paybill bill payment needs the account number; a buy-goods STK needs the till."""
    with pytest.raises(InvalidInput, match="account_reference"):
        B2BRequest(command=B2BCommand.PAYBILL, receiver="888880", amount=500, result_url=URL, timeout_url=URL)
    with pytest.raises(InvalidInput, match="till_number"):
        stk(transaction_type=TransactionType.BUY_GOODS)


def test_b2c_remarks_are_two_to_a_hundred_characters() -> None:
    """Remarks shorter than 2 or longer than 100 characters are refused."""
    with pytest.raises(InvalidInput, match="Remarks"):
        b2c(remarks="x")
    with pytest.raises(InvalidInput, match="Remarks"):
        b2c(remarks="x" * 101)


@pytest.mark.parametrize(
    "url", ["ftp://x.example/cb", "not a url", "https://shop.example/mpesa/cb", "https://safaricom-hooks.example/cb"]
)
def test_callback_urls_must_be_http_and_free_of_words_daraja_refuses(url: str) -> None:
    """Non-HTTP URLs and URLs naming M-Pesa or Safaricom are refused before Daraja refuses them."""
    with pytest.raises(InvalidInput, match="CallBackURL"):
        stk(callback_url=url)


def test_originator_conversation_id_is_a_plain_identifier() -> None:
    """The payout's idempotency key must be 1-64 safe characters."""
    with pytest.raises(InvalidInput, match="OriginatorConversationID"):
        b2c(originator_conversation_id="has space")


def test_a_status_query_names_what_it_asks_about() -> None:
    """A status query without a receipt and without an OriginatorConversationID is refused."""
    with pytest.raises(InvalidInput, match="transaction_id or an originator_conversation_id"):
        TransactionStatusRequest(result_url=URL, timeout_url=URL)


def test_a_bad_phone_is_refused_before_any_call() -> None:
    """Building the request already refuses a number M-Pesa cannot reach."""
    with pytest.raises(InvalidInput, match="Kenyan mobile number"):
        b2c(phone="0201234567")
