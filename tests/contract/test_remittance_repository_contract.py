"""Remittance orders and the remittance use case: the same behaviour on the in-memory fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import attrs
import pytest
from cryptopay.core.compliance.travel_rule import Assessment
from cryptopay.core.errors import Conflict
from cryptopay.core.money import KES, USD, USDT, Money
from cryptopay.core.remittances import RemittanceOrder, RemittanceRoute, RemittanceState, Sender
from cryptopay.core.remittances.service import RetryPolicy
from cryptopay.core.testing.mobile_money import Scenario

from tests.support.remittance_stack import TRON_REFUND, remittance_stack
from tests.support.sql_backends import Backend
from tests.support.wallet_stack import memory_wallet_backend

AT = datetime(2026, 12, 6, 8, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def in_memory_backend() -> Backend:
    """The contract's in-memory variant of ``backend`` (tests/contract/conftest.py)."""
    return memory_wallet_backend()


def _order(n: int, **changes: object) -> RemittanceOrder:
    order = RemittanceOrder(
        id=f"rmt_{n}",
        public_id=f"pub{n}",
        created_at=AT,
        recipient_phone="254712345678",
        recipient_name="Achieng Otieno",
        sender=Sender(name="Grace Otieno", country="GB", address="12 Acacia Road, London"),
        refund_address=TRON_REFUND,
        requested=Money.of(1000, KES),
        usdt=Money.of("7.82", USDT),
        kes=Money.of(1000, KES),
        charge=Money.of(11, KES),
        quote_id="q_1",
        bid=Decimal("129.35"),
        mid=Decimal("130"),
        invoice_id=f"inv_{n}",
        assessment=Assessment(Money.of("7.82", USDT), Money.of("7.82", USD), "q_2", False),
    )
    return attrs.evolve(order, **changes)


def test_orders_round_trip_and_are_found_by_public_id_only_once(backend: Backend):
    """An order comes back equal, by id and by public id; a second order with its public id or invoice conflicts."""
    with backend.uow() as uow:
        uow.remittances.add(_order(1))
    with backend.uow() as uow:
        assert uow.remittances.get("rmt_1") == _order(1)
        assert uow.remittances.by_public_id("pub1").id == "rmt_1"
        assert uow.remittances.by_public_id("rmt_1") is None
    for clash in (_order(2, public_id="pub1"), _order(3, invoice_id="inv_1")):
        with pytest.raises(Conflict), backend.uow() as uow:
            uow.remittances.add(clash)


def test_the_worker_walks_active_orders_and_operators_list_by_state(backend: Backend):
    """Active: not final nor held, or paid out and not yet told; oldest first. Listings newest first by state."""
    with backend.uow() as uow:
        uow.remittances.add(_order(1))
        uow.remittances.add(_order(2, state=RemittanceState.PAID_OUT))
        uow.remittances.add(_order(3, state=RemittanceState.PAID_OUT, notified_at=AT))
        uow.remittances.add(_order(4, state=RemittanceState.HELD, note="frozen"))
        uow.remittances.add(_order(5, state=RemittanceState.EXPIRED))
    with backend.uow() as uow:
        assert [o.id for o in uow.remittances.active(limit=9)] == ["rmt_1", "rmt_2"]
        told = uow.remittances.get("rmt_2")
        told.notified_at = AT
        uow.remittances.update(told)
    with backend.uow() as uow:
        assert [o.id for o in uow.remittances.active(limit=9)] == ["rmt_1"]
        paid = uow.remittances.list(state=RemittanceState.PAID_OUT, before=None, limit=9)
        assert [o.id for o in paid] == ["rmt_3", "rmt_2"]
        assert [o.id for o in uow.remittances.list(state=None, before="rmt_3", limit=1)] == ["rmt_2"]


def test_a_remittance_is_paid_out_end_to_end(backend: Backend):
    """Order, payment, confirmations, B2C, SMS: paid out and the books balance, on every backend."""
    stack = remittance_stack(backend)
    order = stack.order(amount="2500")
    stack.pay(order)
    stack.confirm()
    stack.run()
    done = stack.get(order)
    assert (done.state, done.route, done.network) == (RemittanceState.PAID_OUT, RemittanceRoute.MPESA, "tron")
    assert done.notified_at is not None and stack.books_balanced()


def test_a_remittance_whose_payouts_fail_is_refunded_end_to_end(backend: Backend):
    """One attempt allowed, M-Pesa refuses: the USDT goes back to the sender's address, and the books balance."""
    stack = remittance_stack(backend, policy=RetryPolicy(attempts=1))
    stack.wallet.mpesa.set_scenario("254712345678", Scenario.INSUFFICIENT_FUNDS)
    order = stack.order(amount="2500")
    stack.pay(order)
    stack.confirm()
    stack.run()
    stack.confirm_refunds()
    stack.run()
    assert stack.get(order).state is RemittanceState.REFUNDED and stack.books_balanced()


def test_a_stored_order_holds_no_name_or_phone_in_the_clear(backend: Backend):
    """On SQL the recipient's name and phone and the sender's name and address are sealed (read the raw row)."""
    with backend.uow() as uow:
        uow.remittances.add(_order(1))
    if backend.engine is None:
        return  # the in-memory fake keeps objects, not bytes
    import sqlalchemy as sa

    with backend.engine.connect() as conn:
        raw = str(conn.execute(sa.text("SELECT doc FROM remittance_orders")).scalar_one())
    assert [s for s in ("Achieng", "254712345678", "Grace", "Acacia") if s in raw] == []
    with backend.uow() as uow:
        assert uow.remittances.get("rmt_1") == _order(1)


def test_workers_paying_one_recipient_at_once_never_pass_the_daily_limit(backend: Backend):
    """A KES 5,000 daily limit used up by a first order; eight orders of KES 2,000 to the same number wait for the
    next day (each recipient told once). At midnight eight workers advance them at the same instant: two payouts are
    planned and six orders wait again, whatever the interleaving. On PostgreSQL the recipient's advisory lock is
    what makes it so: without it each worker sees the new day's room unused and plans its payout."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from cryptopay.core.kyc.limits import day_bounds
    from cryptopay.core.mobile_money.limits import B2C_LIMITS
    from cryptopay.core.payouts import PayoutState
    from cryptopay.core.settlement.policy import PayoutLimits

    phone = "254712345678"
    stack = remittance_stack(backend)
    stack.remittances = attrs.evolve(
        stack.remittances, limits=PayoutLimits(part=B2C_LIMITS, per_day=Money.of(5_000, KES))
    )
    first = stack.order(amount="5000")
    stack.pay(first)
    stack.confirm()
    stack.run()
    orders = [stack.order(amount="2000") for _ in range(8)]
    for order in orders:
        stack.pay(order)
    stack.confirm()
    stack.run(rounds=2)
    assert [stack.get(o).payout_id for o in orders] == [None] * 8
    waiting = [m for m in stack.wallet.sms.sent_to(phone) if "daily limit" in m.text]
    assert len(waiting) == 8  # one per order, however many ticks

    tomorrow = day_bounds(stack.clock.now())[1]
    stack.clock.set(tomorrow)
    start = Barrier(len(orders))

    def worker(order_id: str) -> RemittanceOrder:
        start.wait()
        return stack.remittances._advance(order_id)  # one worker's step on one order, as ``advance`` takes it

    with ThreadPoolExecutor(max_workers=len(orders)) as pool:
        list(pool.map(worker, [o.id for o in orders]))
    with backend.uow() as uow:
        today = [p for p in uow.payouts.to_destination(phone, since=tomorrow) if p.state is not PayoutState.FAILED]
    assert sum(p.amount.amount for p in today) <= 5_000
    assert len(today) == 2
    assert sorted(stack.get(o).payout_id is None for o in orders) == [False] * 2 + [True] * 6
    assert stack.books_balanced()
