"""Buying USDT with M-Pesa over the fake M-Pesa: the prompt, the callback, the query, the failures."""

from __future__ import annotations

import pytest
from cryptopay.core.errors import LimitExceeded, QuoteExpired
from cryptopay.core.flows import MPESA_COLLECTIONS
from cryptopay.core.identity.model import Forbidden
from cryptopay.core.mobile_money import parse_payload
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.testing.daraja_payloads import stk_callback
from cryptopay.core.wallets.buys import BuyState

from tests.support.wallet_stack import wallet_stack


@pytest.fixture
def stack():
    return wallet_stack()


def test_a_paid_prompt_credits_usdt_at_the_locked_ask(stack):
    """KES 1,000 at an ask of 130.65 (a 0.5% margin on 130) buys 7.654037 USDT; the spread is revenue; books balance."""
    amina = stack.sign_up("0712000001")
    quote = stack.buys.quote(amina.id)
    buy = stack.buys.start(amina.id, Money.of(1000, KES), quote_id=quote.id)
    assert buy.state is BuyState.PROMPTED and buy.checkout_request_id
    assert buy.usdt == Money.rounded(1000 / quote.ask, USDT, "ROUND_DOWN")
    assert stack.deliver_callbacks() == 1
    done = stack.buys.get(buy.id)
    assert done.state is BuyState.CREDITED and done.receipt
    assert stack.balance(amina, "USDT") == buy.usdt
    assert stack.ledger.balance(MPESA_COLLECTIONS).posted == Money.of(1000, KES)
    assert set(stack.ledger.trial_balance().values()) == {0}
    token = stack.mpesa.transaction(buy.checkout_request_id).result_url.rsplit("/", 1)[-1]
    stack.buys.on_callback(_success(done, done.kes), token=token)  # Daraja repeats itself: nothing more is booked
    assert stack.balance(amina, "USDT") == buy.usdt


def _success(buy, amount):
    payload = stk_callback(
        buy.merchant_request_id,
        buy.checkout_request_id,
        "0",
        "The service request is processed successfully.",
        amount=amount,
        receipt="QK1ABCDEF",
        phone=buy.phone,
        at=buy.created_at,
    )
    return parse_payload(payload)


@pytest.mark.parametrize(
    ("phone", "code", "said"),
    [
        ("0711000001", "1032", "cancelled"),
        ("0711000002", "1037", "could not be reached"),
        ("0711000003", "1", "not enough"),
        ("0711000004", "2001", "PIN"),
    ],
)
def test_failed_prompts_credit_nothing_and_say_why(stack, phone, code, said):
    """Cancelled, unreachable, insufficient funds and wrong PIN credit nothing and give the limit back."""
    user = stack.sign_up(phone)
    buy = stack.buys.start(user.id, Money.of(500, KES))
    stack.deliver_callbacks()
    done = stack.buys.get(buy.id)
    assert (done.state, done.result_code) == (BuyState.FAILED, code) and said in done.reason
    assert stack.balance(user, "USDT").is_zero()
    # the failure gave the usage back: 5,000 is prompted and, once answered (one prompt at a time), 5,000 more:
    # the whole 10,000 a day (the first 500 no longer counts)
    for _ in range(2):
        stack.buys.start(user.id, Money.of(5000, KES))
        stack.deliver_callbacks()


def test_a_lost_callback_is_settled_by_the_stk_query(stack):
    """No callback ever comes: the scheduled query finds the payment and credits it."""
    user = stack.sign_up("0711000008")
    buy = stack.buys.start(user.id, Money.of(700, KES))
    assert stack.deliver_callbacks() == 0
    assert stack.buys.follow_up() == 0  # not due yet
    stack.clock.advance(minutes=3)
    assert stack.buys.follow_up() == 1
    assert stack.buys.get(buy.id).state is BuyState.CREDITED
    assert stack.balance(user, "USDT") == buy.usdt


def test_a_late_success_is_credited_at_the_locked_quote(stack):
    """The rate moves and the quote expires; the success that arrives late still buys what was quoted."""
    user = stack.sign_up("0711000007")
    buy = stack.buys.start(user.id, Money.of(1300, KES))
    stack.rates.set("USDT/KES", "150")
    stack.clock.advance(minutes=30)
    stack.mpesa.release_late()
    stack.deliver_callbacks()
    assert stack.balance(user, "USDT") == buy.usdt


def test_an_expired_quote_is_refused_before_anything_is_sent(stack):
    """Naming a quote past its window is refused; nothing is recorded or prompted."""
    user = stack.sign_up("0712000001")
    quote = stack.buys.quote(user.id)
    stack.clock.advance(minutes=2)  # a wallet quote is tradable for 2 minutes (Buys.quote_window)
    with pytest.raises(QuoteExpired):
        stack.buys.start(user.id, Money.of(100, KES), quote_id=quote.id)
    assert stack.buys.for_user(user.id) == [] and stack.mpesa.transactions() == []


def test_tier_0_buys_small_amounts_only(stack):
    """Tier 0 buys at most KES 5,000 at once: more is refused by the buy limit before any prompt."""
    user = stack.sign_up("0712000001")
    with pytest.raises(LimitExceeded) as refused:
        stack.buys.start(user.id, Money.of(6000, KES))
    assert refused.value.details["limit"] == "single"
    assert stack.mpesa.transactions() == []


def test_an_unknown_token_or_a_mismatched_answer_credits_nothing(stack):
    """A callback to a token we never issued is refused; one whose amount differs is kept and not credited."""
    user = stack.sign_up("0711000011")  # slow: the prompt stays open
    buy = stack.buys.start(user.id, Money.of(1000, KES))
    forged = _success(buy, Money.of(10, KES))
    with pytest.raises(Forbidden):
        stack.buys.on_callback(forged, token="not-ours")
    token = stack.mpesa.transaction(buy.checkout_request_id).result_url.rsplit("/", 1)[-1]
    kept = stack.buys.on_callback(forged, token=token)
    assert kept.state is BuyState.PROMPTED and "amount" in kept.reason and stack.balance(user, "USDT").is_zero()


def _token(stack, buy):
    return stack.mpesa.transaction(buy.checkout_request_id).result_url.rsplit("/", 1)[-1]


def _bare_success(buy):
    """The reviewer's forgery: ResultCode 0 with no CallbackMetadata (no Amount, PhoneNumber or receipt)."""
    return parse_payload(stk_callback("1", buy.checkout_request_id, "0", "ok"))


def test_a_success_without_payment_details_credits_nothing(stack):
    """A success callback without Amount, PhoneNumber and MpesaReceiptNumber is kept, not credited."""
    user = stack.sign_up("0711000011")  # slow: the prompt stays open
    buy = stack.buys.start(user.id, Money.of(1000, KES))
    kept = stack.buys.on_callback(_bare_success(buy), token=_token(stack, buy))
    assert kept.state is BuyState.PROMPTED and "amount" in kept.reason and stack.balance(user, "USDT").is_zero()
    receiptless = parse_payload(
        stk_callback("1", buy.checkout_request_id, "0", "ok", amount=buy.kes, phone=buy.phone, at=buy.created_at)
    )
    assert stack.buys._mismatch(buy, receiptless) == "MpesaReceiptNumber"


def test_a_bare_success_after_the_buyer_cancelled_credits_nothing(stack):
    """The reviewer's case: a buy failed with 1032, then ResultCode 0 with no details on its token stays failed."""
    user = stack.sign_up("0711000001")  # the buyer cancels
    buy = stack.buys.start(user.id, Money.of(500, KES))
    stack.deliver_callbacks()
    after = stack.buys.on_callback(_bare_success(buy), token=_token(stack, buy))
    assert (after.state, after.receipt) == (BuyState.FAILED, None) and stack.balance(user, "USDT").is_zero()


def test_a_full_success_after_a_cancel_is_held_when_stk_query_says_it_was_not_paid(stack):
    """A success carrying every detail, for a buy M-Pesa cancelled, asks STK Query (1032) and is held, not credited."""
    user = stack.sign_up("0711000001")
    buy = stack.buys.start(user.id, Money.of(500, KES))
    stack.deliver_callbacks()
    queries = buy.queries
    held = stack.buys.on_callback(_success(buy, buy.kes), token=_token(stack, buy))
    assert held.state is BuyState.FAILED and "STK Query" in held.reason and stack.balance(user, "USDT").is_zero()
    assert held.queries == queries + 1 and held.answers[-1] == "query 1032"


def test_a_success_after_a_forged_failure_credits_once_stk_query_says_paid(stack):
    """A buy failed by a callback, then M-Pesa's real success: STK Query says paid, so it is credited (late)."""
    user = stack.sign_up("0711000007")  # paid, its callback held back
    buy = stack.buys.start(user.id, Money.of(1000, KES))
    failure = parse_payload(stk_callback(buy.merchant_request_id, buy.checkout_request_id, "1032", "cancelled"))
    assert stack.buys.on_callback(failure, token=_token(stack, buy)).state is BuyState.FAILED
    stack.mpesa.release_late()
    assert stack.deliver_callbacks() == 1
    paid = stack.buys.get(buy.id)
    assert paid.state is BuyState.CREDITED and paid.receipt and stack.balance(user, "USDT") == buy.usdt


def test_a_second_callback_on_a_token_is_kept_and_compared_never_applied_twice(stack):
    """Daraja repeats a success: the second is kept on the buy and audited; nothing more is booked."""
    user = stack.sign_up("0712000001")
    buy = stack.buys.start(user.id, Money.of(1000, KES))
    stack.deliver_callbacks()
    done = stack.buys.get(buy.id)
    again = stack.buys.on_callback(_success(done, done.kes), token=_token(stack, done))
    assert again.state is BuyState.CREDITED and again.answers[-1].startswith("callback again 0")
    assert stack.balance(user, "USDT") == buy.usdt
