"""Alerts and cases: a rule's hit becomes an alert; officers group alerts into cases they work to a conclusion.

Case statuses: open -> investigating -> escalated -> closed_no_action | reported (a report was filed with the FRC).
A closed case is final; a note is added at every step that needs one (closing, escalating).

A case is ``reported`` only by recording its STR's filing (outside review R12-8): the officer exports the STR as goAML
XML (each export kept on the case: who, when, the SHA-256 of the XML), files it with the Financial Reporting Centre
through goAML, and records the FRC's report id and the filing date (``Case.file``). A status move to ``reported``
without a filing is refused (``StrNotFiled``), as is a filing without an export (``StrNotExported``), dated in the
future or before the export (``InvalidFiling``), or with a report id already recorded on another case
(``StrReferenceInUse``).

>>> from datetime import datetime, timezone
>>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> case = Case(id="cas_1", party_id="usr_1", alert_ids=("alr_1",), created_at=at, deadline=at, assignee="usr_ann")
>>> case.move(CaseStatus.INVESTIGATING, "usr_ann", at=at); case.status.value
'investigating'
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime

import attrs
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, Refused
from cryptopay.core.system import NAIROBI

__all__ = [
    "REFERENCE_MAX",
    "Alert",
    "AlertStatus",
    "Case",
    "CaseNote",
    "CaseStatus",
    "Clearance",
    "InvalidFiling",
    "StrExport",
    "StrFiling",
    "StrNotExported",
    "StrNotFiled",
    "StrReferenceInUse",
    "filing_date",
    "filing_reference",
    "read_details",
]

REFERENCE_MAX = 64  # the longest FRC report id (goAML's are a few digits) a filing records


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


_NEEDS_NOTE = (CaseStatus.ESCALATED, CaseStatus.CLOSED_NO_ACTION)


class StrNotFiled(Refused):
    """A status move to ``reported``: a case is reported by recording its STR's filing, never by its status alone."""

    code = "str_not_filed"


class StrNotExported(Refused):
    """A filing recorded for a case whose STR was never exported as goAML XML: there is nothing it could have filed."""

    code = "str_not_exported"


class InvalidFiling(InvalidInput):
    """A filing's FRC report id or date that cannot be right (``field``: ``reference`` or ``filed_on``)."""

    code = "invalid_str_filing"


class StrReferenceInUse(Conflict):
    """The FRC's report id is recorded on another case already: one goAML report is the filing of one case."""

    code = "str_reference_in_use"


NOT_FILED = "a case is reported by recording its STR's filing with the FRC: the goAML report id and the filing date"
NOT_EXPORTED = "export the case's STR as goAML XML before recording its filing"
BAD_REFERENCE = f"the FRC's goAML report id is 1 to {REFERENCE_MAX} printable characters"
BAD_DATE = "the filing date is a date such as 2026-03-02"
FUTURE_DATE = "the filing date is not in the future"
EARLY_DATE = "the filing date is not before the STR's export"


def filing_reference(text: str) -> str:
    """The FRC's report id as typed, trimmed: 1 to ``REFERENCE_MAX`` printable ASCII characters (``InvalidFiling``).

    >>> filing_reference(" 123456 ")
    '123456'
    """
    reference = text.strip()
    if not reference or len(reference) > REFERENCE_MAX or not (reference.isascii() and reference.isprintable()):
        raise InvalidFiling(BAD_REFERENCE, field="reference")
    return reference


def filing_date(text: str) -> date:
    """A filing date as typed (ISO, ``YYYY-MM-DD``), for the shells (``InvalidFiling`` otherwise).

    >>> filing_date("2026-03-02")
    datetime.date(2026, 3, 2)
    """
    typed = text.strip()
    try:
        if len(typed) == len("2026-03-02"):  # the extended form only (``fromisoformat`` also reads 20260302)
            return date.fromisoformat(typed)
    except ValueError:
        pass
    raise InvalidFiling(BAD_DATE, field="filed_on")


@attrs.frozen
class CaseNote:
    at: datetime
    author: str
    text: str


@attrs.frozen(kw_only=True)
class StrExport:
    """One export of the case's STR as goAML XML: the officer's user id, when, and the XML's SHA-256 (hex)."""

    at: datetime
    officer: str
    digest: str


@attrs.frozen(kw_only=True)
class StrFiling:
    """The STR as filed with the FRC through goAML: its report id there, the filing date (Nairobi), the officer who
    recorded it and when, and the digest of the export filed (the last one made by the filing date)."""

    reference: str
    filed_on: date
    officer: str
    recorded_at: datetime
    export_digest: str


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
    str_exports: tuple[StrExport, ...] = ()
    filing: StrFiling | None = None

    def move(self, status: CaseStatus, officer: str, *, at: datetime, note: str | None = None) -> None:
        """Change the status; escalating and closing need a note saying why; reporting is ``file``'s."""
        if self.status.final:
            raise InvalidState(f"case {self.id} is {self.status.value}: it is final")
        if status is self.status:
            return
        if status is CaseStatus.REPORTED:
            raise StrNotFiled(NOT_FILED, field="status")
        if status in _NEEDS_NOTE and not (note and note.strip()):
            raise InvalidInput(f"moving a case to {status.value} needs a note saying why", field="note")
        self.status = status
        if note and note.strip():
            self.add_note(officer, f"[{status.value}] {note.strip()}", at=at)
        if status.final:
            self.closed_at = at

    def exported(self, officer: str, xml: bytes, *, at: datetime) -> StrExport:
        """Keep an export of the STR as goAML XML (any status: a reported case's STR may be exported again)."""
        export = StrExport(at=at, officer=officer, digest=hashlib.sha256(xml).hexdigest())
        self.str_exports = (*self.str_exports, export)
        return export

    def file(self, officer: str, reference: str, filed_on: date, *, at: datetime, note: str | None = None) -> StrFiling:
        """Record the STR's filing with the FRC (its goAML report id, the filing date) and move the case to reported.

        The date is a Nairobi calendar day, not after ``at``'s and not before the first export's; the filing names
        the last export made by then (the XML the officer filed)."""
        if self.status.final:
            raise InvalidState(f"case {self.id} is {self.status.value}: it is final")
        reference = filing_reference(reference)
        if not self.str_exports:
            raise StrNotExported(NOT_EXPORTED)
        if filed_on > at.astimezone(NAIROBI).date():
            raise InvalidFiling(FUTURE_DATE, field="filed_on")
        made = [e for e in self.str_exports if e.at.astimezone(NAIROBI).date() <= filed_on]
        if not made:
            raise InvalidFiling(EARLY_DATE, field="filed_on")
        self.filing = StrFiling(
            reference=reference, filed_on=filed_on, officer=officer, recorded_at=at, export_digest=made[-1].digest
        )
        self.status, self.closed_at = CaseStatus.REPORTED, at
        said = f" {note.strip()}" if note and note.strip() else ""
        self.add_note(
            officer, f"[reported] STR filed with the FRC on {filed_on}: goAML report {reference}.{said}", at=at
        )
        return self.filing

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
