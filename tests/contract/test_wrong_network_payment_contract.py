"""``WrongNetworkPaymentRepository``: the same rules from the in-memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.errors import Conflict
from cryptopay.core.money import USDT, Money
from cryptopay.core.payments.wrong_network import FOLLOW_DEPTH, WrongNetworkPayment, WrongNetworkState
from cryptopay.core.ports.chains import ObservedTransfer
from cryptopay.core.testing.payments import payments_storage

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ADDRESS = "0xAbCdEf0000000000000000000000000000000001"


@pytest.fixture
def storage(engine):
    return payments_storage() if engine is None else SqlStorage(engine)


def record(n: int, *, invoice: str = "inv_1", merchant: str = "m1", network: str = "polygon") -> WrongNetworkPayment:
    transfer = ObservedTransfer(
        network, f"0xAB{n:062x}", n % 3, ADDRESS, Money.of(f"{n}.5", USDT), 100 + n, f"0x{n:064x}", NOW, "0xPayer"
    )
    return WrongNetworkPayment.seen(f"wnp_{n:03d}", invoice, merchant, transfer, ("usdt-ethereum",), now=NOW)


def test_a_record_round_trips_and_is_found_by_its_transfer(storage):
    """What is stored comes back equal, by id and by its transfer key (the hash compared lower-cased)."""
    stored = record(1)
    with storage.unit_of_work() as uow:
        uow.wrong_network_payments.add(stored)
    with storage.unit_of_work() as uow:
        assert uow.wrong_network_payments.get("wnp_001") == stored
        assert uow.wrong_network_payments.by_transfer(("polygon", stored.transfer.tx_hash.lower(), 1)) == stored
        assert uow.wrong_network_payments.by_transfer(("bsc", stored.transfer.tx_hash.lower(), 1)) is None
        assert uow.wrong_network_payments.get("wnp_404") is None


def test_one_transfer_is_one_record(storage):
    """A second record of the same transfer (another id) is a conflict; the same hash on another network is not."""
    first = record(1)
    with storage.unit_of_work() as uow:
        uow.wrong_network_payments.add(first)
    again = WrongNetworkPayment.seen("wnp_900", "inv_2", "m1", first.transfer, ("usdt-bsc",), now=NOW)
    with pytest.raises(Conflict), storage.unit_of_work() as uow:
        uow.wrong_network_payments.add(again)
    elsewhere = attrs.evolve(first.transfer, network="bsc")
    with storage.unit_of_work() as uow:
        uow.wrong_network_payments.add(WrongNetworkPayment.seen("wnp_901", "inv_2", "m1", elsewhere, (), now=NOW))
    with storage.unit_of_work() as uow:
        listed = uow.wrong_network_payments.list(state=None, before=None, limit=10)
        assert [p.id for p in listed] == ["wnp_901", "wnp_001"]


def test_updates_move_it_between_followed_pending_and_decided(storage):
    """Followed while pending and shallow; deep, withdrawn or accepted it is no longer followed; pending counted."""
    with storage.unit_of_work() as uow:
        for n in (1, 2, 3, 4):
            uow.wrong_network_payments.add(record(n))
        uow.wrong_network_payments.add(record(5, network="bsc"))
    with storage.unit_of_work() as uow:
        repo = uow.wrong_network_payments
        repo.update(repo.get("wnp_002").deepen(FOLLOW_DEPTH, now=NOW))
        repo.update(repo.get("wnp_003").withdraw("block reorganised away", now=NOW))
        repo.update(repo.get("wnp_004").accept(by="user:owner", now=NOW))
    with storage.unit_of_work() as uow:
        repo = uow.wrong_network_payments
        assert [p.id for p in repo.followed("polygon")] == ["wnp_001"]
        assert [p.id for p in repo.followed("bsc")] == ["wnp_005"]
        assert repo.count_pending() == 3
        assert repo.get("wnp_003").state is WrongNetworkState.WITHDRAWN
        assert repo.get("wnp_004").decided_by == "user:owner"


def test_listings_by_invoice_state_and_merchant_page_newest_first(storage):
    """An invoice's records oldest first; the listing newest first, filtered, strictly before the cursor."""
    with storage.unit_of_work() as uow:
        for n in range(1, 6):
            uow.wrong_network_payments.add(record(n, invoice=f"inv_{n % 2}", merchant="m1" if n < 5 else "m2"))
    with storage.unit_of_work() as uow:
        repo = uow.wrong_network_payments
        repo.update(repo.get("wnp_002").accept(by="ops:amina", now=NOW))
    with storage.unit_of_work() as uow:
        repo = uow.wrong_network_payments
        assert [p.id for p in repo.for_invoice("inv_1")] == ["wnp_001", "wnp_003", "wnp_005"]
        pending = WrongNetworkState.PENDING
        assert [p.id for p in repo.list(state=pending, before=None, limit=10)] == [
            "wnp_005",
            "wnp_004",
            "wnp_003",
            "wnp_001",
        ]
        assert [p.id for p in repo.list(state=pending, before="wnp_004", limit=1)] == ["wnp_003"]
        assert [p.id for p in repo.list(state=None, before=None, limit=10, merchant_id="m2")] == ["wnp_005"]
