"""STK Query is paced per shortcode (review4 R19): the worker's queries take tokens from the STK shortcode's bucket,
the one its payouts share when they use the same shortcode, and another shortcode's traffic never holds them up."""

from __future__ import annotations

import attrs
from cryptopay.adapters.bootstrap import Settings
from cryptopay.adapters.bootstrap.wiring import Parts
from cryptopay.adapters.ratelimit import ProcessTokenBucket
from cryptopay.core.money import KES, Money
from cryptopay.core.payouts.service import Pacing
from cryptopay.core.ports.throughput import Throughput
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay.core.testing.mobile_money import Scenario
from cryptopay.core.wallets.buys import Buy, Buys, BuyState

from tests.support.wallet_stack import WalletStack, wallet_stack

ONE_A_MINUTE = Throughput(rate=1 / 60, burst=1)


class Seconds:
    """The buckets' clock, moved by hand; a sleep moves it too."""

    def __init__(self) -> None:
        self.now, self.slept = 0.0, []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def lost_buys(stack: WalletStack, count: int) -> list[Buy]:
    """``count`` buys whose callbacks never come (M-Pesa collected each), due for STK Query."""
    buys = []
    for n in range(count):
        user = stack.sign_up(f"07110001{n:02d}")
        assert user.phone is not None
        stack.mpesa.set_scenario(user.phone, Scenario.LOST_CALLBACK)
        buys.append(stack.buys.start(user.id, Money.of(500, KES)))
    assert stack.deliver_callbacks() == 0
    stack.clock.advance(minutes=3)
    return buys


def paced(stack: WalletStack, bucket: ProcessTokenBucket, seconds: Seconds, shortcode: str) -> Buys:
    return attrs.evolve(
        stack.buys, pacing=Pacing(bucket, f"daraja:{shortcode}", ONE_A_MINUTE, max_wait=2, sleep=seconds.sleep)
    )


def test_stk_queries_take_their_shortcode_s_tokens_and_leave_the_rest_due_for_the_next_run() -> None:
    """At one request a minute on the STK shortcode, a run asks about one buy; the others stay due and later runs
    settle them, one each, nothing lost."""
    stack, seconds = wallet_stack(), Seconds()
    bucket = ProcessTokenBucket(lambda: seconds.now)
    buys = paced(stack, bucket, seconds, "174379")
    first, second = lost_buys(stack, 2)
    assert buys.follow_up() == 1 and seconds.slept == []
    assert {stack.buys.get(b.id).state for b in (first, second)} == {BuyState.CREDITED, BuyState.PROMPTED}
    assert buys.follow_up() == 0  # the bucket is still empty: nothing asked, nothing lost
    seconds.now += 60
    assert buys.follow_up() == 1
    assert {stack.buys.get(b.id).state for b in (first, second)} == {BuyState.CREDITED}


def test_another_shortcode_s_traffic_does_not_hold_stk_queries_up_but_the_same_shortcode_s_does() -> None:
    """Payouts from another shortcode emptied their bucket: the STK queries still go. Payouts from the STK shortcode
    emptied its bucket: the queries wait for it (Daraja's limit is the shortcode's, whatever asks)."""
    stack, seconds = wallet_stack(), Seconds()
    bucket = ProcessTokenBucket(lambda: seconds.now)
    (buy,) = lost_buys(stack, 1)
    payouts_elsewhere = Pacing(bucket, "daraja:600000", ONE_A_MINUTE, max_wait=0, sleep=seconds.sleep)
    assert payouts_elsewhere.admit() and not payouts_elsewhere.admit()
    same = Pacing(bucket, "daraja:174379", ONE_A_MINUTE, max_wait=0, sleep=seconds.sleep)
    assert same.admit()  # a payout from the STK shortcode took its only token
    assert paced(stack, bucket, seconds, "174379").follow_up() == 0
    assert stack.buys.get(buy.id).state is BuyState.PROMPTED
    assert paced(stack, bucket, seconds, "600999").follow_up() == 1  # had the buy been another shortcode's
    assert stack.buys.get(buy.id).state is BuyState.CREDITED


def test_the_wiring_paces_stk_queries_by_the_stk_shortcode_and_payouts_by_theirs(tmp_path) -> None:
    """CRYPTOPAY_MPESA_SHORTCODE keys the buys' bucket, the payout shortcode the payouts': one bucket each."""
    settings = Settings.from_env(
        {
            "CRYPTOPAY_DATA_DIR": str(tmp_path),
            "CRYPTOPAY_MPESA_CONSUMER_KEY": "k",
            "CRYPTOPAY_MPESA_CONSUMER_SECRET": "s",
            "CRYPTOPAY_MPESA_SHORTCODE": "174379",
            "CRYPTOPAY_MPESA_PAYOUT_SHORTCODE": "600000",
        }
    )
    parts = Parts(settings, clock=SystemClock(), ids=RandomIds())
    pacing = parts.wallet_buys.pacing
    assert pacing is not None and pacing.key == "daraja:174379"
    assert parts.daraja_pacing.key == "daraja:600000" and pacing.bucket is parts.daraja_pacing.bucket
