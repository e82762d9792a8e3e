"""Travel Rule records on SQL (``uow.travel_rule``); also works standalone on an Engine."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.personal import PersonalData
from cryptopay.adapters.sql.repositories._base import Bind, insert_new, reading, writing
from cryptopay.adapters.sql.tables_travel_rule import travel_rule_records
from cryptopay.core.compliance.travel_rule import TransferDirection, TravelRuleRecord, record_from_json, record_json
from cryptopay.core.errors import Conflict

__all__ = ["SqlTravelRule"]


class SqlTravelRule:
    """``TravelRuleRepository``: id and (direction, reference) are unique, so a transfer has one record.

    The IVMS101 payload (names, addresses, ID numbers, dates of birth of originator and beneficiary) is sealed whole
    by ``personal`` (``cryptopay.adapters.sql.personal``), bound to the record.
    """

    def __init__(self, bind: Bind, *, personal: PersonalData | None = None) -> None:
        self._bind = bind
        self._personal = personal or PersonalData.plaintext()

    def _sealed(self, doc: dict[str, Any]) -> dict[str, Any]:
        context = f"travel_rule_records:{doc['id']}:ivms101"
        return {**doc, "ivms101": self._personal.seal_json(doc["ivms101"], context=context)}

    def _opened(self, doc: dict[str, Any]) -> TravelRuleRecord:
        return record_from_json(self.opened_document(doc))

    def opened_document(self, doc: dict[str, Any]) -> dict[str, Any]:
        """A stored document with its IVMS101 payload opened (the sealing pass re-seals it)."""
        context = f"travel_rule_records:{doc['id']}:ivms101"
        return {**doc, "ivms101": self._personal.open_json(doc["ivms101"], context=context)}

    def reseal(self, doc: dict[str, Any]) -> None:
        """Store a stored document again, its IVMS101 payload sealed under the current key (the sealing pass)."""
        sealed = self._sealed(self.opened_document(doc))
        statement = travel_rule_records.update().where(travel_rule_records.c.id == doc["id"]).values(doc=sealed)
        with writing(self._bind) as conn:
            conn.execute(statement)

    def add(self, record: TravelRuleRecord) -> None:
        t = record.transfer
        row = {
            "id": record.id,
            "direction": t.direction.value,
            "reference": t.reference,
            "party_id": t.party_id,
            "created_at": record.created_at,
            "doc": self._sealed(record_json(record)),
        }
        with writing(self._bind) as conn:
            if not insert_new(conn, travel_rule_records, row):
                raise Conflict(f"a Travel Rule record for {t.direction.value} {t.reference} is already kept")

    def get(self, record_id: str) -> TravelRuleRecord | None:
        return self._one(travel_rule_records.c.id == record_id)

    def for_transfer(self, direction: TransferDirection, reference: str) -> TravelRuleRecord | None:
        c = travel_rule_records.c
        return self._one(sa.and_(c.direction == direction.value, c.reference == reference))

    def list(
        self, *, party_id: str | None = None, after: str | None = None, limit: int = 100
    ) -> list[TravelRuleRecord]:
        c = travel_rule_records.c
        query = sa.select(c.doc)
        if party_id is not None:
            query = query.where(c.party_id == party_id)
        if after is not None:
            query = query.where(c.id > after)
        with reading(self._bind) as conn:
            docs = conn.scalars(query.order_by(c.id).limit(limit)).all()
        return [self._opened(doc) for doc in docs]

    def _one(self, where: sa.ColumnElement[bool]) -> TravelRuleRecord | None:
        with reading(self._bind) as conn:
            doc = conn.scalars(sa.select(travel_rule_records.c.doc).where(where)).first()
        return self._opened(doc) if doc is not None else None
