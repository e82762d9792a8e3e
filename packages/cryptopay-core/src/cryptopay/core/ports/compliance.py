"""Monitoring ports: the journal of movements the rules read, alerts, and cases (one transaction over all three).

Repositories hand out copies; a change counts once ``update``-d. Listings are keyset-paginated by id, ascending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from cryptopay.core.compliance.cases import Alert, AlertStatus, Case, CaseStatus, Clearance
from cryptopay.core.compliance.rules import Movement
from cryptopay.core.compliance.screening import AddressMatch, NameMatch, Snapshot
from cryptopay.core.ports.storage import UnitOfWork

__all__ = [
    "AlertRepository",
    "CaseRepository",
    "MonitoringUnitOfWork",
    "MovementJournal",
    "PartyHolds",
    "ScreeningPort",
]


class MovementJournal(Protocol):
    def add(self, movement: Movement) -> bool:
        """Record a movement; False (and nothing changes) if its id is already recorded."""
        ...

    def for_party(self, party_id: str, *, since: datetime) -> list[Movement]:
        """The party's movements at or after ``since``, oldest first."""
        ...

    def between(
        self, since: datetime, until: datetime, *, after: str | None = None, limit: int = 500
    ) -> list[Movement]:
        """Movements with ``since <= at < until``, by id, strictly after ``after``."""
        ...


class AlertRepository(Protocol):
    def add(self, alert: Alert) -> bool:
        """Store a new alert; False (nothing stored) if one with the same ``key`` exists."""
        ...

    def get(self, alert_id: str) -> Alert | None: ...

    def by_key(self, key: str) -> Alert | None:
        """The alert raised with this ``key`` (rule, version, movement...), if any."""
        ...

    def update(self, alert: Alert) -> None: ...

    def list(self, *, status: AlertStatus | None = None, after: str | None = None, limit: int = 100) -> list[Alert]: ...


class CaseRepository(Protocol):
    def add(self, case: Case) -> None: ...

    def get(self, case_id: str) -> Case | None: ...

    def update(self, case: Case) -> None: ...

    def list(self, *, status: CaseStatus | None = None, after: str | None = None, limit: int = 100) -> list[Case]: ...

    def filed_as(self, reference: str) -> str | None:
        """The id of the case whose STR filing has this FRC (goAML) report id, if any."""
        ...


class MonitoringUnitOfWork(UnitOfWork, Protocol):
    @property
    def movements(self) -> MovementJournal: ...

    @property
    def alerts(self) -> AlertRepository: ...

    @property
    def cases(self) -> CaseRepository: ...


class ScreeningPort(Protocol):
    """What other products ask of sanctions screening (``compliance.screening.Screening`` implements it): the wallet's
    withdrawals call ``screen_address`` before anything is signed; onboarding calls ``screen_name``; monitoring's
    ``screen_names`` tells a match (at ``threshold``) from a possible one (below it)."""

    @property
    def threshold(self) -> float:
        """The score (0 to 100) from which a listed name is a match (``CRYPTOPAY_SANCTIONS_THRESHOLD``)."""
        ...

    def screen_address(self, network: str, address: str) -> list[AddressMatch]: ...

    def screen_name(self, name: str, *, threshold: float | None = None) -> list[NameMatch]: ...

    def snapshots(self) -> list[Snapshot]:
        """Every list snapshot imported, oldest first (a rescreen looks up what an earlier one of a list raised)."""
        ...

    def must_wait(self) -> bool:
        """Whether screening is required and no list is loaded: money screened now is held (never a clean "no
        match" when nothing was checked) and screened again once a list is imported."""
        ...


class PartyHolds(Protocol):
    """Where monitoring holds a party a sanctions list names (``kyc.holds.SanctionsHolds``: the compliance freeze,
    neutral to the customer), each call in a transaction of its own, after monitoring's."""

    def hold(self, party_id: str, alert_id: str) -> bool:
        """Hold every outgoing movement of ``party_id`` on the blocking alert ``alert_id``."""
        ...

    def holding(self, party_id: str, alert_ids: Sequence[str]) -> bool:
        """Whether the hold of ``party_id`` rests on any of ``alert_ids`` (closing their case would lift it)."""
        ...

    def release(self, officer: str, party_id: str, alert_ids: Sequence[str]) -> bool:
        """``officer`` cleared ``alert_ids`` (their case closed with no action): the hold on them goes."""
        ...


class MovementMonitor(Protocol):
    """AML monitoring as the products see it (``compliance.monitoring.Monitoring`` implements it): ``check`` before
    money moves (the blocking rules; ``Blocked`` refuses), ``observe`` once it moved (the batch rules' journal)."""

    def check(self, movement: Movement, *, journal: bool = True) -> list[Alert]: ...

    def observe(self, movement: Movement) -> bool: ...

    def screen_names(self, movement: Movement, names: Sequence[tuple[str, str]], *, refuse: bool = True) -> list[Alert]:
        """Screen the parties a movement about to happen names ((role, name) pairs); ``Blocked`` on a match of a
        blocking rule; the non-blocking alerts raised (possible matches) otherwise. ``refuse=False``: nothing is
        refused, every alert raised is returned, blocking ones included (the product holds the money instead of
        telling the party, whom a refusal would tip off)."""
        ...

    def rescreen_names(self, movement: Movement, names: Sequence[tuple[str, str]]) -> list[Alert]:
        """Screen the parties of a movement already under way again (the lists changed): every alert its matches
        hold, raised now or before, blocking ones included; nothing is refused."""
        ...

    def payee_name_mismatch(self, movement: Movement, evidence: Mapping[str, str]) -> list[Alert]:
        """The alerts of the ``payee_name_mismatch`` rules watching a movement already made whose payee's registered
        name is not the one given (``evidence``: what the product compared, with its ``ref``), raised now or before
        (once per rule version and movement); none when no rule watches it."""
        ...

    def clearance(self, alert_ids: Sequence[str]) -> list[Clearance]:
        """Where compliance's review of each alert stands (in ``alert_ids``' order): what a product holding money on
        the alerts reads before an operator releases it."""
        ...

    def journals_to(self, uow: object) -> bool:
        """Whether ``observe`` journals to the storage whose unit-of-work factory is ``uow``: a product on that
        storage may then add its movements to ``uow().movements`` in its own transaction instead."""
        ...
