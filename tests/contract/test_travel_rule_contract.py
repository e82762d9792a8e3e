"""Travel Rule records: the same behaviour from the in-memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from cryptopay.core.compliance.travel_rule import (
    Assessment,
    TransferDirection,
    TravelRuleRecord,
)
from cryptopay.core.errors import Conflict
from cryptopay.core.money import Money
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.travel_rule import InMemoryTravelRule

from tests.support.sql_backends import TEST_PERSONAL
from tests.support.travel_rule_data import AT, US, ann_attests, ann_beneficiary, ann_originator, withdrawal


@pytest.fixture
def storage(engine):
    if engine is None:
        return InMemoryStorage(travel_rule=InMemoryTravelRule())
    from cryptopay.adapters.sql.uow import SqlStorage

    return SqlStorage(engine, personal=TEST_PERSONAL)


def record(record_id: str, reference: str, party: str = "usr_ann", attested: bool = True) -> TravelRuleRecord:
    transfer = withdrawal(reference=reference, party=party)
    return TravelRuleRecord(
        id=record_id,
        transfer=transfer,
        originator=ann_originator(),
        beneficiary=ann_beneficiary(),
        assessment=Assessment(transfer.amount, Money.of("1500.00", "USD"), "fxq_1", True),
        created_at=AT,
        attestation=ann_attests() if attested else None,
        vasp=US,
    )


def test_a_record_comes_back_equal_by_id_and_by_transfer(storage):
    """Every IVMS101 field, the valuation and the attestation survive storage."""
    kept = record("trr_1", "wdr_1")
    with storage.unit_of_work() as uow:
        uow.travel_rule.add(kept)
    with storage.unit_of_work() as uow:
        assert uow.travel_rule.get("trr_1") == kept
        assert uow.travel_rule.for_transfer(TransferDirection.OUT, "wdr_1") == kept
        assert uow.travel_rule.for_transfer(TransferDirection.IN, "wdr_1") is None
        assert uow.travel_rule.get("trr_9") is None


def test_a_transfer_has_one_record_and_a_refused_add_keeps_nothing(storage):
    """A second record for the same direction and reference, or the same id, is a conflict."""
    with storage.unit_of_work() as uow:
        uow.travel_rule.add(record("trr_1", "wdr_1"))
    for duplicate in (record("trr_2", "wdr_1"), record("trr_1", "wdr_2")):
        with pytest.raises(Conflict), storage.unit_of_work() as uow:
            uow.travel_rule.add(duplicate)
    with storage.unit_of_work() as uow:
        assert [r.id for r in uow.travel_rule.list()] == ["trr_1"]


def test_records_list_by_id_after_a_cursor_and_by_party(storage):
    """Keyset pages by id; a party filter keeps only that customer's records."""
    with storage.unit_of_work() as uow:
        uow.travel_rule.add(record("trr_2", "wdr_2", party="usr_bob", attested=False))
        uow.travel_rule.add(record("trr_1", "wdr_1"))
        uow.travel_rule.add(record("trr_3", "wdr_3"))
    with storage.unit_of_work() as uow:
        assert [r.id for r in uow.travel_rule.list()] == ["trr_1", "trr_2", "trr_3"]
        assert [r.id for r in uow.travel_rule.list(after="trr_1", limit=1)] == ["trr_2"]
        assert [r.id for r in uow.travel_rule.list(party_id="usr_ann")] == ["trr_1", "trr_3"]


def test_a_failed_unit_of_work_keeps_no_record(storage):
    """The record is written in the product's transaction: a rollback takes it away."""
    with pytest.raises(RuntimeError), storage.unit_of_work() as uow:
        uow.travel_rule.add(record("trr_1", "wdr_1"))
        raise RuntimeError("the withdrawal failed")
    with storage.unit_of_work() as uow:
        assert uow.travel_rule.list() == []
