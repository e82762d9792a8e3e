"""In-memory Travel Rule records (``TravelRuleRepository``): ``InMemoryStorage(travel_rule=InMemoryTravelRule())``."""

from __future__ import annotations

from cryptopay.core.compliance.travel_rule import TransferDirection, TravelRuleRecord
from cryptopay.core.errors import Conflict

__all__ = ["InMemoryTravelRule"]


class InMemoryTravelRule:
    """Records by id (records are frozen, so no copies are needed)."""

    def __init__(self) -> None:
        self._rows: dict[str, TravelRuleRecord] = {}

    def add(self, record: TravelRuleRecord) -> None:
        t = record.transfer
        if record.id in self._rows or self.for_transfer(t.direction, t.reference) is not None:
            raise Conflict(f"a Travel Rule record for {t.direction.value} {t.reference} is already kept")
        self._rows[record.id] = record

    def get(self, record_id: str) -> TravelRuleRecord | None:
        return self._rows.get(record_id)

    def for_transfer(self, direction: TransferDirection, reference: str) -> TravelRuleRecord | None:
        found = (r for r in self._rows.values() if r.transfer.direction is direction)
        return next((r for r in found if r.transfer.reference == reference), None)

    def list(
        self, *, party_id: str | None = None, after: str | None = None, limit: int = 100
    ) -> list[TravelRuleRecord]:
        ids = sorted(
            k
            for k, r in self._rows.items()
            if (party_id is None or r.transfer.party_id == party_id) and (after is None or k > after)
        )
        return [self._rows[k] for k in ids[:limit]]
