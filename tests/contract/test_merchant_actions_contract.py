"""Repositories behind the merchant actions (refunds, cancelled invoices, payment links) on memory, SQLite, PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.invoices import Invoice, InvoiceState
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments.model import Refund, RefundState
from cryptopay.core.rails import rail_for
from cryptopay.core.testing.payments import payments_storage

from tests.support.sql_engines import BACKENDS, backend_engine

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path):
    yield from backend_engine(request, tmp_path)


@pytest.fixture
def storage(engine):
    return payments_storage() if engine is None else SqlStorage(engine)


def refund(n: int, invoice_id: str = "inv_1", at: datetime = NOW) -> Refund:
    return Refund(
        id=f"rfd_{n:02d}",
        invoice_id=invoice_id,
        merchant_id="m1",
        rail_key="usdt-tron",
        network="tron",
        address="TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
        amount=Money.of("1.5", USDT),
        hold_id=f"hold_{n}",
        requested_by="user:u1",
        created_at=at,
        reason="settled/none",
        requested=Money.of("200", KES),
        quote_id="fxq_1",
        rate=Money.of("130.5", KES).amount,
    )


def test_refunds_list_newest_first_by_keyset_and_keep_their_quote(storage):
    """Pages go by id, descending, strictly before the cursor; the quote and the amount asked round-trip."""
    with storage.unit_of_work() as uow:
        for n in range(5):
            uow.refunds.add(refund(n, at=NOW + timedelta(seconds=n // 2)))  # pairs share a creation time
        uow.refunds.add(refund(9, invoice_id="inv_2"))
    with storage.unit_of_work() as uow:
        first = uow.refunds.list_for_invoice("inv_1", before=None, limit=2)
        second = uow.refunds.list_for_invoice("inv_1", before=first[-1].id, limit=2)
        third = uow.refunds.list_for_invoice("inv_1", before=second[-1].id, limit=2)
    assert [r.id for r in first + second + third] == ["rfd_04", "rfd_03", "rfd_02", "rfd_01", "rfd_00"]
    assert first[0].quote_id == "fxq_1" and first[0].requested == Money.of("200", KES)
    assert first[0].rate == Money.of("130.5", KES).amount and first[0].state is RefundState.REQUESTED


def test_a_cancelled_invoice_round_trips_and_is_no_longer_expiring(storage):
    """State, cancellation time and actor are stored; the expiry job no longer sees it; the watchers still do."""
    tron = rail_for("tron", "USDT", confirmations=3)
    invoice, _ = Invoice.create(
        invoice_id="inv_c", merchant_id="m1", price=Money.of("10", USDT), addresses={tron: "TXYZ"}, now=NOW
    )
    invoice.cancel(by="user:u1", now=NOW + timedelta(minutes=1))
    with storage.unit_of_work() as uow:
        uow.invoices.add(invoice)
    with storage.unit_of_work() as uow:
        found = uow.invoices.get("inv_c")
        assert found is not None and found.state is InvoiceState.CANCELLED
        assert (found.cancelled_at, found.cancelled_by) == (NOW + timedelta(minutes=1), "user:u1")
        assert uow.invoices.expiring(NOW + timedelta(hours=1)) == []
        assert [i.id for i in uow.invoices.watching(NOW + timedelta(hours=1))] == ["inv_c"]
        listed = uow.invoices.list_for_merchant("m1", before=None, limit=5, state=InvoiceState.CANCELLED)
        assert [i.id for i in listed] == ["inv_c"]
