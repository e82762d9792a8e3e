"""The Travel Rule's storage port: one record per crypto transfer at or above the threshold (see
``cryptopay.core.compliance.travel_rule``). Records are immutable once kept; listings are keyset-paginated by id.
"""

from __future__ import annotations

from typing import Protocol

from cryptopay.core.compliance.travel_rule import TransferDirection, TravelRuleRecord
from cryptopay.core.ports.storage import UnitOfWork

__all__ = ["TravelRuleRepository", "TravelRuleUnitOfWork"]


class TravelRuleRepository(Protocol):
    def add(self, record: TravelRuleRecord) -> None:
        """Keep ``record``; ``Conflict`` (nothing stored) if its id, or its transfer's direction and reference, is
        already kept."""
        ...

    def get(self, record_id: str) -> TravelRuleRecord | None: ...

    def for_transfer(self, direction: TransferDirection, reference: str) -> TravelRuleRecord | None:
        """The record of the product's transfer ``reference`` (``wdr_...``, ``rmt_...``), if one was kept."""
        ...

    def list(
        self, *, party_id: str | None = None, after: str | None = None, limit: int = 100
    ) -> list[TravelRuleRecord]:
        """Records by id, strictly after ``after``; only ``party_id``'s when given."""
        ...


class TravelRuleUnitOfWork(UnitOfWork, Protocol):
    @property
    def travel_rule(self) -> TravelRuleRepository: ...
