"""Review3 I24: M-Pesa (STK Push, B2C) reaches only Safaricom's ranges (data, ``mobile_money/data/mobile_ranges.txt``).
A wallet on an Airtel or Telkom number signs up, sends and receives, but its buys, sales and cash-outs are refused
up front with ``not_mpesa_number``, nothing moved; a remittance to such a number is refused at order opening
(``recipient_not_mpesa``), whether a wallet holds the number or not (review4 R4: no oracle on who is a customer)."""

from __future__ import annotations

import pytest
from cryptopay.core.mobile_money.phones import NotMpesaNumber, mobile_operator, mpesa_can_pay
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.remittances.service import RecipientNotMpesa

from tests.support.remittance_stack import remittance_stack
from tests.support.wallet_stack import wallet_stack


def test_operators_come_from_the_ranges_data():
    assert [mobile_operator("254" + n) for n in ("712345678", "733123456", "770123456", "100123456", "110123456")] == [
        "Safaricom",
        "Airtel",
        "Telkom",
        "Airtel",
        "Safaricom",
    ]
    assert mpesa_can_pay("254712345678") and not mpesa_can_pay("254763123456")  # Equitel
    assert mobile_operator("254747123456") is None and not mpesa_can_pay("254747123456")


@pytest.mark.parametrize("phone", ["0733123456", "0770123456"])
def test_an_airtel_or_telkom_wallet_cannot_buy_sell_or_cash_out_and_nothing_moves(phone):
    stack = wallet_stack()
    user = stack.sign_up(phone, tier=1)
    stack.fund(user, "10", "USDT")
    stack.fund(user, "500", "KES")
    for attempt in (
        lambda: stack.buys.start(user.id, Money.of(1000, KES)),
        lambda: stack.sells.start(user.id, Money.of(5, USDT)),
        lambda: stack.sells.cash_out(user.id, Money.of(500, KES)),
    ):
        with pytest.raises(NotMpesaNumber) as refused:
            attempt()
        assert refused.value.code == "not_mpesa_number" and "Safaricom" in refused.value.message
    assert stack.balance(user, "USDT") == Money.of(10, USDT) and stack.balance(user, "KES") == Money.of(500, KES)
    assert stack.mpesa.transactions() == [] and stack.buys.for_user(user.id) == []


@pytest.mark.parametrize("phone", ["0733123456", "0770123456", "0100123456"])
def test_a_remittance_to_a_number_mpesa_cannot_pay_is_refused_before_anything_is_paid(phone):
    stack = remittance_stack()
    with pytest.raises(RecipientNotMpesa) as refused:
        stack.order(phone=phone)
    assert refused.value.code == "recipient_not_mpesa"
    assert refused.value.details.get("field") == "recipient_phone"
    assert stack.remittances.orders() == []


@pytest.mark.parametrize("tier", [0, 1])
def test_a_remittance_to_an_airtel_number_is_refused_alike_whether_a_wallet_holds_it_or_not(tier):
    """Review4 R4: the public answer to an order for a non-Safaricom number is the same whether a wallet holds the
    number or not, and whatever the amount or the wallet's tier (before, 201 told a stranger "this number has a
    cryptopay wallet", and the amount at which it turned into a refusal told its tier)."""
    stack = remittance_stack()
    stack.wallet.sign_up("0733123456", tier=tier)
    answers = []
    for phone in ("0733123456", "0733999999"):
        for amount in ("3000", "6000", "200000"):
            with pytest.raises(RecipientNotMpesa) as refused:
                stack.order(phone=phone, amount=amount)
            answers.append((refused.value.code, refused.value.message.replace(phone[-2:], "..")))
    assert len(set(answers)) == 1, answers
    assert stack.remittances.orders() == []
