"""R10-12: an STK buy M-Pesa never gives a final answer to (STK Query says "still processing", or keeps failing) is
failed past the answer bound with a reason the customer reads, audited, counted in a gauge and a reconciliation
difference while open; the customer can buy again; a later success is still credited at the locked quote; an
operator may decide one sooner (``give_up``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptopay.core.errors import Conflict, InvalidInput
from cryptopay.core.mobile_money.errors import MpesaUnavailable
from cryptopay.core.money import KES, Money
from cryptopay.core.reconciliation.wallets import buys_collected
from cryptopay.core.testing.metrics import RecordingMetrics
from cryptopay.core.wallets.buys import STK_ANSWER_BOUND, BuyState, PromptOpen

from tests.support.wallet_stack import wallet_stack

SLOW = "0711000011"  # the fake M-Pesa keeps the prompt open: STK Query answers "still processing"


def _actions(stack, buy_id):
    return [r.action for r in stack.backend.storage.audit_records() if r.subject == f"buy:{buy_id}"]


def test_a_buy_never_answered_is_failed_past_the_bound_and_the_customer_can_buy_again():
    stack = wallet_stack()
    stack.buys.metrics = metrics = RecordingMetrics()
    user = stack.sign_up(SLOW)
    buy = stack.buys.start(user.id, Money.of(700, KES))
    for _ in range(3):  # 18 h: still open, still asked
        stack.clock.advance(hours=6)
        stack.buys.follow_up()
    assert stack.buys.get(buy.id).state is BuyState.PROMPTED
    with pytest.raises(PromptOpen):
        stack.buys.start(user.id, Money.of(500, KES))
    stack.clock.advance(hours=7)
    assert stack.buys.follow_up() == 1
    failed = stack.buys.get(buy.id)
    assert failed.state is BuyState.FAILED and failed.result_code == "no_final_answer"
    assert "no final answer" in failed.reason and "buy again" in failed.reason
    assert _actions(stack, buy.id)[-2:] == ["wallet.buy_failed", "wallet.buy_unanswered"]
    assert metrics.get("cryptopay_wallet_buys_open_overdue") == 0
    again = stack.buys.start(user.id, Money.of(500, KES))  # the customer can buy again
    assert again.state is BuyState.PROMPTED
    # the customer did pay the first after all: M-Pesa's late success is confirmed by STK Query and credited
    stack.mpesa.complete(failed.checkout_request_id)
    stack.deliver_callbacks()
    paid = stack.buys.get(buy.id)
    assert paid.state is BuyState.CREDITED and stack.balance(user, "USDT") == buy.usdt


def test_a_buy_whose_query_keeps_failing_is_failed_past_the_bound():
    stack = wallet_stack()
    user = stack.sign_up(SLOW)
    buy = stack.buys.start(user.id, Money.of(700, KES))

    class Down:
        def stk_query(self, checkout_request_id):
            raise MpesaUnavailable("Daraja is down")

    real = stack.buys.mpesa
    stack.buys.mpesa = lambda: Down()
    stack.clock.advance(hours=12)
    stack.buys.follow_up()
    assert stack.buys.get(buy.id).open
    stack.clock.advance(hours=13)
    stack.buys.follow_up()
    assert stack.buys.get(buy.id).state is BuyState.FAILED
    stack.buys.mpesa = real


def test_an_open_buy_past_the_bound_is_a_reconciliation_difference_and_in_the_gauge():
    stack = wallet_stack()
    user = stack.sign_up(SLOW)
    buy = stack.buys.start(user.id, Money.of(700, KES))
    stack.buys.pacing = _Empty()  # the shortcode's bucket stays empty: the worker cannot ask
    stack.buys.metrics = metrics = RecordingMetrics()
    stack.clock.advance(seconds=(STK_ANSWER_BOUND + timedelta(minutes=1)).total_seconds())
    stack.buys.follow_up()
    assert stack.buys.get(buy.id).open
    assert metrics.get("cryptopay_wallet_buys_open_overdue") == 1
    records = _Records(wallets=_Books(buys=(stack.buys.get(buy.id),)), at=stack.clock.now())
    (difference,) = buys_collected(records)
    assert f"buy {buy.id}" in difference.subject and "stk-fail" in difference.detail


def test_an_operator_gives_up_an_open_buy_audited_with_a_note():
    stack = wallet_stack()
    user = stack.sign_up(SLOW)
    buy = stack.buys.start(user.id, Money.of(700, KES))
    with pytest.raises(InvalidInput):
        stack.buys.give_up(buy.id, actor="ops:alice", note=" ")
    given = stack.buys.give_up(buy.id, actor="ops:alice", note="customer says the prompt never came")
    assert given.state is BuyState.FAILED and given.queries == 1  # STK Query was asked once more first
    (record,) = [r for r in stack.backend.storage.audit_records() if r.action == "wallet.buy_unanswered"]
    assert record.actor == "ops:alice" and dict(record.details)["note"].startswith("customer says")
    with pytest.raises(Conflict):
        stack.buys.give_up(buy.id, actor="ops:alice", note="again")


class _Empty:
    def admit(self) -> bool:
        return False


class _Books:
    def __init__(self, buys):
        self.buys, self.buy_entries, self.paybill = buys, {}, ()
        self.collections = self.suspense = Money.zero(KES)


class _Records:
    def __init__(self, wallets, at):
        self.wallets, self.at = wallets, at
