"""Alerts and cases: a rule's hit becomes an alert; officers group alerts into cases they work to a conclusion.

Case statuses: open -> investigating -> escalated -> closed_no_action | reported (a report was filed with the FRC).
A closed case is final; a note is added at every step that needs one (closing, reporting, escalating).

>>> from datetime import datetime, timezone
>>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> case = Case(id="cas_1", party_id="usr_1", alert_ids=("alr_1",), created_at=at, deadline=at, assignee="usr_ann")
>>> case.move(CaseStatus.INVESTIGATING, "usr_ann", at=at); case.status.value
'investigating'
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs
from cryptopay.core.errors import InvalidInput, InvalidState

__all__ = ["Alert", "AlertStatus", "Case", "CaseNote", "CaseStatus", "Clearance", "read_details"]


class AlertStatus(enum.Enum):
    OPEN = "open"  # waiting for an officer
    IN_CASE = "in_case"


@attrs.define(kw_only=True)
class Alert:
    """A rule's hit on a movement: the rule, its version and the evidence, kept as they were when it fired."""

    id: str
    key: str  # rule:version:movement, so a hit is raised once however often the batch runs
    rule_id: str
    rule_version: int
    kind: str
    party_id: str
    movement_id: str
    created_at: datetime
    blocking: bool = False
    evidence: Mapping[str, str] = attrs.field(factory=dict)
    status: AlertStatus = AlertStatus.OPEN
    case_id: str | None = None


class CaseStatus(enum.Enum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    ESCALATED = "escalated"
    CLOSED_NO_ACTION = "closed_no_action"
    REPORTED = "reported"

    @property
    def final(self) -> bool:
        return self in (CaseStatus.CLOSED_NO_ACTION, CaseStatus.REPORTED)


_NEEDS_NOTE = (CaseStatus.ESCALATED, CaseStatus.CLOSED_NO_ACTION, CaseStatus.REPORTED)


@attrs.frozen
class CaseNote:
    at: datetime
    author: str
    text: str


@attrs.define(kw_only=True)
class Case:
    """Alerts about one party under investigation, with an assignee, a deadline, notes and a status."""

    id: str
    party_id: str
    alert_ids: tuple[str, ...]
    created_at: datetime
    deadline: datetime
    assignee: str | None = None
    status: CaseStatus = CaseStatus.OPEN
    notes: tuple[CaseNote, ...] = ()
    closed_at: datetime | None = None

    def move(self, status: CaseStatus, officer: str, *, at: datetime, note: str | None = None) -> None:
        """Change the status; escalating, closing and reporting need a note saying why."""
        if self.status.final:
            raise InvalidState(f"case {self.id} is {self.status.value}: it is final")
        if status is self.status:
            return
        if status in _NEEDS_NOTE and not (note and note.strip()):
            raise InvalidInput(f"moving a case to {status.value} needs a note saying why", field="note")
        self.status = status
        if note and note.strip():
            self.add_note(officer, f"[{status.value}] {note.strip()}", at=at)
        if status.final:
            self.closed_at = at

    def add_note(self, officer: str, text: str, *, at: datetime) -> None:
        if not text.strip():
            raise InvalidInput("a note has text", field="text")
        self.notes = (*self.notes, CaseNote(at, officer, text.strip()))

    def overdue(self, now: datetime) -> bool:
        return not self.status.final and now > self.deadline


@attrs.frozen
class Clearance:
    """Where compliance's review of one alert stands, for a product holding money on it: ``state`` is the alert's
    case's status, ``open`` while the alert is in no case, ``missing`` for an unknown alert. Only a case closed with
    no action clears it; a reported case (a report filed with the FRC) never does.

    >>> Clearance("alr_1", "cas_1", "closed_no_action").cleared, Clearance("alr_2", None, "open").cleared
    (True, False)
    >>> Clearance("alr_2", "cas_1", "reported").why
    'alert alr_2: case cas_1 is reported'
    """

    alert_id: str
    case_id: str | None
    state: str

    @property
    def cleared(self) -> bool:
        return self.case_id is not None and self.state == CaseStatus.CLOSED_NO_ACTION.value

    @property
    def why(self) -> str:
        """What the alert's review is, for people (an operator refused a release is told which alert waits)."""
        if self.case_id is None:
            return f"alert {self.alert_id}: {'unknown' if self.state == 'missing' else 'in no case yet'}"
        return f"alert {self.alert_id}: case {self.case_id} is {self.state}"


def read_details(
    status: AlertStatus | CaseStatus | None, rows: Sequence[Alert] | Sequence[Case], *, after: str | None = None
) -> dict[str, str]:
    """What a staff read of alerts or cases records in the audit log (``compliance.alerts_viewed`` /
    ``compliance.cases_viewed``, by the API, the console and the CLI alike): the filter and the ids shown, never
    the names, numbers or amounts themselves.

    >>> read_details(None, [])
    {'status': 'all', 'after': '', 'count': '0', 'ids': ''}
    """
    shown = ",".join(row.id for row in rows)
    return {"status": status.value if status else "all", "after": after or "", "count": str(len(rows)), "ids": shown}
