"""Whole-store writers on PostgreSQL take the store's row lock before reading it (LASTREAD2 M-1).

Each writer reads the whole store document and puts it back. Without the row lock a second writer reads the document
while the first holds it uncommitted, waits only at its upsert, and then writes back the old document: the first
writer's change (a staff fee change, a merchant's PUT /store) is silently lost. With it, the second waits at its read
and builds on what the first committed.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import attrs
import pytest
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.payments.charges import PayoutCharging, set_payout_charges
from cryptopay.core.payments.merchant_fee import set_merchant_fee
from cryptopay.core.payments.speed import set_speed_policy
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from sqlalchemy.engine import Engine

from tests.contract.test_payments_repository_contract import SqlPaymentsStack
from tests.support.threads import joined


@pytest.fixture
def stack(pg_engine: Engine) -> SqlPaymentsStack:
    stack = SqlPaymentsStack(SqlStorage(pg_engine))
    stack.add_merchant(
        "m1", settlement=SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678")
    )
    return stack


def _fee(stack: SqlPaymentsStack) -> None:
    set_merchant_fee(stack.uow, "m1", Decimal("2.5"), actor="admin", now=stack.clock.now())


def _speed(stack: SqlPaymentsStack) -> None:
    set_speed_policy(stack.uow, "m1", (), actor="admin", now=stack.clock.now())


def _charges(stack: SqlPaymentsStack) -> None:
    set_payout_charges(stack.uow, "m1", PayoutCharging.MPESA_B2C, actor="admin", now=stack.clock.now())


@pytest.mark.parametrize("writer", [_fee, _speed, _charges], ids=["merchant_fee", "speed", "payout_charges"])
def test_a_staff_store_change_waits_for_a_concurrent_store_write_and_keeps_it(stack, writer):
    """A first writer (what PUT /store does: the store read locked, a new window put back) holds its transaction
    open; the staff change started meanwhile waits, then both changes are in the store."""
    started, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        started.set()
        try:
            writer(stack)
        except BaseException as error:  # reported by the test below
            errors.append(error)
        finally:
            done.set()

    with stack.uow() as uow:
        store = uow.stores.get("m1", lock=True)
        uow.stores.put(attrs.evolve(store, window=timedelta(minutes=42)))
        thread = threading.Thread(target=second, name="staff-change", daemon=True)
        thread.start()
        started.wait(10)
        time.sleep(0.5)  # the staff change reaches its read of the store
        assert not done.is_set(), "the staff change did not wait for the store's row lock"
    joined(thread, within=30)
    assert not errors, errors
    with stack.uow() as uow:
        final = uow.stores.get("m1")
    assert final.window == timedelta(minutes=42)  # the first writer's change is kept
