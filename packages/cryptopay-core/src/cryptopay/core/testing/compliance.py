"""In-memory monitoring repositories (the in-memory unit of work serialises and snapshots them)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime

from cryptopay.core.compliance.cases import Alert, AlertStatus, Case, CaseStatus
from cryptopay.core.compliance.rules import Movement
from cryptopay.core.compliance.screening import ListEntry, Snapshot, address_key
from cryptopay.core.errors import Conflict, NotFound, TransientConflict

__all__ = ["InMemoryAlerts", "InMemoryCases", "InMemoryMovements", "InMemorySanctions", "monitoring_repositories"]


class InMemoryMovements:
    def __init__(self) -> None:
        self._rows: dict[str, Movement] = {}

    def add(self, movement: Movement) -> bool:
        if movement.id in self._rows:
            return False
        self._rows[movement.id] = movement
        return True

    def for_party(self, party_id: str, *, since: datetime) -> list[Movement]:
        found = [m for m in self._rows.values() if m.party_id == party_id and m.at >= since]
        return sorted(found, key=lambda m: (m.at, m.id))

    def between(
        self, since: datetime, until: datetime, *, after: str | None = None, limit: int = 500
    ) -> list[Movement]:
        ids = sorted(k for k, m in self._rows.items() if since <= m.at < until and (after is None or k > after))
        return [self._rows[k] for k in ids[:limit]]


class InMemoryAlerts:
    def __init__(self) -> None:
        self._rows: dict[str, Alert] = {}

    def add(self, alert: Alert) -> bool:
        if any(a.key == alert.key for a in self._rows.values()):
            return False
        if alert.id in self._rows:
            raise Conflict(f"alert {alert.id} exists")
        self._rows[alert.id] = copy.deepcopy(alert)
        return True

    def get(self, alert_id: str) -> Alert | None:
        row = self._rows.get(alert_id)
        return copy.deepcopy(row) if row else None

    def by_key(self, key: str) -> Alert | None:
        return next((copy.deepcopy(a) for a in self._rows.values() if a.key == key), None)

    def update(self, alert: Alert) -> None:
        if alert.id not in self._rows:
            raise NotFound(f"no alert {alert.id}")
        self._rows[alert.id] = copy.deepcopy(alert)

    def list(self, *, status: AlertStatus | None = None, after: str | None = None, limit: int = 100) -> list[Alert]:
        ids = sorted(
            k for k, a in self._rows.items() if (status is None or a.status is status) and (after is None or k > after)
        )
        return [copy.deepcopy(self._rows[k]) for k in ids[:limit]]


class InMemoryCases:
    def __init__(self) -> None:
        self._rows: dict[str, Case] = {}

    def add(self, case: Case) -> None:
        if case.id in self._rows:
            raise Conflict(f"case {case.id} exists")
        self._rows[case.id] = copy.deepcopy(case)

    def get(self, case_id: str) -> Case | None:
        row = self._rows.get(case_id)
        return copy.deepcopy(row) if row else None

    def update(self, case: Case) -> None:
        if case.id not in self._rows:
            raise NotFound(f"no case {case.id}")
        if case.filing and self.filed_as(case.filing.reference) not in (None, case.id):
            raise TransientConflict("a concurrent writer won a race (duplicate key); retry")  # as the unique index
        self._rows[case.id] = copy.deepcopy(case)

    def list(self, *, status: CaseStatus | None = None, after: str | None = None, limit: int = 100) -> list[Case]:
        ids = sorted(
            k for k, c in self._rows.items() if (status is None or c.status is status) and (after is None or k > after)
        )
        return [copy.deepcopy(self._rows[k]) for k in ids[:limit]]

    def filed_as(self, reference: str) -> str | None:
        return next((k for k, c in self._rows.items() if c.filing and c.filing.reference == reference), None)


def monitoring_repositories() -> dict[str, object]:
    """The four repositories by their unit-of-work names, for ``InMemoryStorage(**monitoring_repositories())``."""
    return {
        "movements": InMemoryMovements(),
        "alerts": InMemoryAlerts(),
        "cases": InMemoryCases(),
        "sanctions": InMemorySanctions(),
    }


class InMemorySanctions:
    """``SanctionsRepository`` in dicts."""

    def __init__(self) -> None:
        self._snapshots: dict[str, Snapshot] = {}
        self._entries: dict[str, list[ListEntry]] = {}

    def add(self, snapshot: Snapshot, entries: Sequence[ListEntry]) -> None:
        if snapshot.id in self._snapshots:
            raise Conflict(f"snapshot {snapshot.id} exists")
        self._snapshots[snapshot.id] = snapshot
        self._entries[snapshot.id] = list(entries)

    def latest(self, source: str) -> Snapshot | None:
        mine = [s for s in self._snapshots.values() if s.source == source]
        return max(mine, key=lambda s: (s.imported_at, s.id), default=None)

    def snapshots(self) -> list[Snapshot]:
        return sorted(self._snapshots.values(), key=lambda s: (s.imported_at, s.id))

    def entries(self, snapshot_id: str) -> list[ListEntry]:
        return sorted(self._entries.get(snapshot_id, []), key=lambda e: e.ref)

    def by_address(self, snapshot_ids: Sequence[str], family: str, key: str) -> list[tuple[str, str]]:
        return [
            (sid, e.ref)
            for sid in snapshot_ids
            for e in self._entries.get(sid, [])
            if any(address_key(n, a) == (family, key) for n, a in e.addresses)
        ]
