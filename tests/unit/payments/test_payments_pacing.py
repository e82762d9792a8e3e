"""Payouts towards one shortcode are paced by a shared token bucket: nothing lost, nothing sent out of turn."""

from __future__ import annotations

from cryptopay.adapters.ratelimit import ProcessTokenBucket
from cryptopay.core.money import USDT, Money
from cryptopay.core.payouts import PayoutState
from cryptopay.core.payouts.service import Pacing, Payouts
from cryptopay.core.ports.throughput import Throughput
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack


class Clock:
    """Seconds for the bucket, moved by hand (and by the pacing's sleeps)."""

    def __init__(self) -> None:
        self.now, self.slept = 0.0, []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def planned(count: int) -> PaymentsStack:
    """``count`` instant merchants each settled into one planned payout (oldest first: m0, m1, ...)."""
    stack = PaymentsStack()
    for n in range(count):
        profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, f"07123456{n:02d}")
        stack.add_merchant(f"m{n}", settlement=profile)
        stack.pay(stack.invoicing.create_invoice(f"m{n}", Money.of("100", USDT)).id)
    stack.confirm(3)
    for n in range(count):
        stack.clock.advance(seconds=1)
        stack.settling.run_settlements(merchant_id=f"m{n}")
    return stack


def paced(stack: PaymentsStack, clock: Clock, limit: Throughput, max_wait: float) -> Payouts:
    pacing = Pacing(ProcessTokenBucket(lambda: clock.now), "daraja:600000", limit, max_wait, clock.sleep)
    return Payouts(
        uow=stack.uow,
        clock=stack.clock,
        ids=stack.ids,
        ledger=stack.ledger,
        gateway=stack.mpesa,
        urls=stack.urls,
        pacing=pacing,
    )


def sent_phones(stack: PaymentsStack) -> list[str | None]:
    return [t.phone for t in stack.mpesa.transactions() if t.product == "b2c"]


def test_a_short_wait_is_slept_and_every_payout_sent_in_order() -> None:
    """Burst 2 at 10 per second: the third payout waits a tenth of a second, then all three go, oldest first."""
    stack, clock = planned(3), Clock()
    payouts = paced(stack, clock, Throughput(rate=10, burst=2), max_wait=2)
    assert [p.state for p in payouts.submit_payouts()] == [PayoutState.SUBMITTED] * 3
    assert len(clock.slept) == 1 and 0 < clock.slept[0] <= 0.1
    assert [p[-2:] for p in sent_phones(stack)] == ["00", "01", "02"]


def test_a_long_wait_leaves_the_rest_planned_for_the_next_run_in_turn() -> None:
    """At one per minute, a run sends one payout and leaves the others planned; later runs send them in order."""
    stack, clock = planned(3), Clock()
    payouts = paced(stack, clock, Throughput(rate=1 / 60, burst=1), max_wait=2)
    assert len(payouts.submit_payouts()) == 1 and clock.slept == []
    with stack.uow() as uow:
        assert len(uow.payouts.by_state(PayoutState.PLANNED)) == 2
    for _ in range(2):
        clock.now += 60
        assert len(payouts.submit_payouts()) == 1
    assert [p[-2:] for p in sent_phones(stack)] == ["00", "01", "02"]
