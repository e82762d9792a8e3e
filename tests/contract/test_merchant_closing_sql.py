"""Closing a merchant on SQLite and PostgreSQL (review R22): its API keys are revoked, its unpaid new invoices are
cancelled (announced, audited), a partly paid one is left, another merchant's are untouched; closing again keeps
the first date and winds down what was left. Everything through the SQL repositories."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from cryptopay.adapters.sql.audit import SqlAuditTrail
from cryptopay.adapters.sql.repositories.identity import SqlApiKeys, SqlMerchants, SqlUsers
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.identity.merchants import Merchants
from cryptopay.core.identity.model import ApiKey, MerchantChanged, MerchantClosed, Role, User
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.money import USDT, Money
from cryptopay.core.privacy.closing import MerchantClosing
from cryptopay.core.privacy.retention import RetentionPurge
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.notifications import InMemoryNotifier
from sqlalchemy.engine import Engine

from tests.contract.test_payments_repository_contract import SqlPaymentsStack
from tests.support.sql_backends import TEST_PERSONAL
from tests.support.sql_engines import SQL_BACKENDS, backend_engine, race

PROFILE = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")


@pytest.fixture(params=SQL_BACKENDS)
def sql_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine | None]:
    yield from backend_engine(request, tmp_path)


def _stack(engine: Engine) -> SqlPaymentsStack:
    stack = SqlPaymentsStack(SqlStorage(engine, personal=TEST_PERSONAL))
    stack.merchants = SqlMerchants(engine, personal=TEST_PERSONAL)
    users = SqlUsers(engine, personal=TEST_PERSONAL)
    for merchant in ("m1", "m2"):
        users.add(User(f"user-{merchant}", f"{merchant}@shops.test", "-", Role.MERCHANT, stack.clock.now()))
    stack.wire_use_cases()
    stack.add_merchant("m1", settlement=PROFILE)
    stack.add_merchant("m2", settlement=PROFILE)
    return stack


def test_closing_revokes_the_keys_and_cancels_the_unpaid_invoices_on_sql(sql_engine):
    stack = _stack(sql_engine)
    keys = SqlApiKeys(sql_engine)
    now = stack.clock.now()
    for key_id, merchant in (("key_1", "m1"), ("key_2", "m1"), ("key_3", "m2")):
        keys.add(ApiKey(key_id, merchant, "shop", frozenset({"invoices:write"}), "h" * 64, now, "user-" + merchant))
    unpaid = [stack.invoicing.create_invoice("m1", Money.of("10", USDT)).id for _ in range(3)]
    partly = stack.invoicing.create_invoice("m1", Money.of("10", USDT)).id
    stack.pay(partly, Money.of("1", USDT))
    stack.confirm(1)
    others = stack.invoicing.create_invoice("m2", Money.of("10", USDT)).id
    retention = RetentionPurge(stack.uow, stack.ledger, stack.clock)
    closing = MerchantClosing(retention, keys, SqlAuditTrail(sql_engine, stack.ids), stack.clock, stack.invoicing)

    done = closing.close("m1", actor="ops:achieng", reason="wound up")

    assert done.keys_revoked == 2 and sorted(done.invoices_cancelled) == sorted(unpaid)
    assert done.invoices_kept == (partly,)
    assert [k.revoked_at is not None for k in (keys.get("key_1"), keys.get("key_2"), keys.get("key_3"))] == [
        True,
        True,
        False,
    ]
    assert {stack.invoice(i).state for i in unpaid} == {InvoiceState.CANCELLED}
    assert stack.invoice(partly).state is InvoiceState.NEW and stack.invoice(others).state is InvoiceState.NEW
    with stack.uow() as uow:
        records = uow.audit.records()
        announced = [m for m in uow.outbox.due(stack.clock.now(), limit=100) if m.topic == "invoice.cancelled"]
    assert sorted(m.payload["invoice_id"] for m in announced) == sorted(unpaid)
    cancels = [r for r in records if r.action == "invoice.cancel"]
    assert {dict(r.details)["reason"] for r in cancels} == {"merchant_closed"} and len(cancels) == 3
    revocations = [r for r in records if r.action == "api_key.revoked"]
    assert sorted(r.subject for r in revocations) == ["api_key:key_1", "api_key:key_2"]
    assert [r.action for r in records if r.subject == "merchant:m1"] == ["merchant.closed", "merchant.wound_down"]

    stack.tick(minutes=1)
    again = closing.close("m1", actor="ops:achieng", reason="again")  # the first date stands; nothing left to do
    assert again.merchant.closed_at == done.merchant.closed_at
    assert again.keys_revoked == 0 and again.invoices_cancelled == ()


def test_a_refund_s_look_at_the_merchant_holds_a_close_off_until_it_commits(sql_engine):
    """``stores.closed_at`` reads the closing under a share lock (PostgreSQL): a close's update of the merchant waits
    for the transaction that looked (here it gives up after its lock timeout), and goes through once it ends."""
    import sqlalchemy as sa

    stack = _stack(sql_engine)
    with stack.uow() as uow:
        assert uow.stores.closed_at("m1") is None and uow.stores.closed_at("nobody") is None
        if sql_engine.dialect.name == "postgresql":
            with sql_engine.connect() as other, pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                other.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
                other.execute(sa.text("UPDATE merchants SET closed_at = now() WHERE id = 'm1'"))
    retention = RetentionPurge(stack.uow, stack.ledger, stack.clock)
    closed = retention.close_merchant("m1", actor="ops:achieng", reason="wound up")
    with stack.uow() as uow:
        assert uow.stores.closed_at("m1") == closed.closed_at is not None


def _renames(stack: SqlPaymentsStack, engine: Engine) -> Merchants:
    """The use case of ``PATCH /v1/merchants/{id}`` over the SQL repositories."""
    users, audit = SqlUsers(engine, personal=TEST_PERSONAL), SqlAuditTrail(engine, stack.ids)
    return Merchants(stack.merchants, stack.clock, stack.ids, users, audit, InMemoryNotifier())


def _closing(stack: SqlPaymentsStack, engine: Engine) -> MerchantClosing:
    retention = RetentionPurge(stack.uow, stack.ledger, stack.clock)
    return MerchantClosing(
        retention, SqlApiKeys(engine), SqlAuditTrail(engine, stack.ids), stack.clock, stack.invoicing
    )


def test_a_rename_read_before_a_close_is_refused_after_it_and_the_close_stays(sql_engine):
    """Review11 R11-3: the owner's PATCH read the merchant open, the operator's close committed, then the PATCH
    writes: it is 403 ``merchant_closed`` and nothing is written, so ``closed_at`` is not written back to NULL."""
    stack = _stack(sql_engine)
    renames = _renames(stack, sql_engine)
    stale = stack.merchants.get("m1")
    closed = _closing(stack, sql_engine).close("m1", actor="ops:achieng", reason="fraud").merchant.closed_at
    assert closed is not None
    with pytest.raises(MerchantClosed):
        renames.update(stale, business_name="Still Open Ltd", actor="user:user-m1")
    stored = stack.merchants.get("m1")
    assert stored.closed_at == closed and stored.business_name != "Still Open Ltd"
    with pytest.raises(MerchantClosed):  # and a PATCH read after the close is refused before it writes anything
        renames.update(stack.merchants.get("m1"), business_name="Still Open Ltd", actor="user:user-m1")


def test_a_close_while_the_owner_keeps_renaming_stays_closed_on_postgres(sql_engine):
    """Review11 R11-3's reproduction, on PostgreSQL with threads: three renamers PATCH back to back (read, then
    write) while an operator closes the merchant. The close is kept (re-read and re-decided if a rename lands
    between its read and its write), every rename is written, 409 (another came first) or 403 ``merchant_closed``,
    and a rename after the close is 403 ``merchant_closed``."""
    if sql_engine.dialect.name != "postgresql":
        pytest.skip("the race needs concurrent writers (PostgreSQL)")
    stack = _stack(sql_engine)
    renames, closing = _renames(stack, sql_engine), _closing(stack, sql_engine)
    stop, outcomes = threading.Event(), []

    def rename(n: int) -> None:
        i = 0
        while not stop.is_set() or i < 3:
            i += 1
            try:
                renames.update(stack.merchants.get("m1"), business_name=f"Duka {n} {i}", actor="user:user-m1")
                outcomes.append(200)
            except MerchantChanged:
                outcomes.append(409)
            except MerchantClosed:
                outcomes.append(403)

    def close(n: int) -> None:
        if n == 3:
            time.sleep(0.3)
            assert closing.close("m1", actor="ops:achieng", reason="fraud").merchant.closed_at is not None
            time.sleep(0.2)
            stop.set()
        else:
            rename(n)

    race(4, close)
    assert stack.merchants.get("m1").closed_at is not None
    assert outcomes.count(200) > 0 and outcomes.count(403) > 0 and set(outcomes) <= {200, 403, 409}
    with pytest.raises(MerchantClosed):
        renames.update(stack.merchants.get("m1"), business_name="Still Open Ltd", actor="user:user-m1")
