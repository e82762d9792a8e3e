"""Compliance on SQL: KYC/KYB applications (``uow.kyc_applications``), the monitoring journal (``uow.movements``),
alerts (``uow.alerts``) and cases (``uow.cases``); each also works standalone on an Engine."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from cryptopay.adapters.sql.documents import document, from_document
from cryptopay.adapters.sql.personal import PersonalData, PersonalFields
from cryptopay.adapters.sql.repositories._base import Bind, insert_new, reading, update_one, writing
from cryptopay.adapters.sql.tables_compliance import (
    compliance_alerts,
    compliance_cases,
    compliance_movements,
    kyc_applications,
    kyc_director_lookups,
    sanctions_addresses,
    sanctions_entries,
    sanctions_snapshots,
)
from cryptopay.core.compliance.cases import Alert, AlertStatus, Case, CaseStatus
from cryptopay.core.compliance.rules import Movement
from cryptopay.core.compliance.screening import ListEntry, Snapshot, address_key
from cryptopay.core.errors import Conflict
from cryptopay.core.kyc.applications import ApplicationState, KycApplication
from cryptopay.core.kyc.tiers import PartyKind

__all__ = [
    "ALERT_FIELDS",
    "CASE_FIELDS",
    "KYC_APPLICATION_FIELDS",
    "MOVEMENT_FIELDS",
    "SqlAlerts",
    "SqlCases",
    "SqlKycApplications",
    "SqlMovementJournal",
    "SqlSanctions",
    "movement_row",
]

T = TypeVar("T")


KYC_APPLICATION_FIELDS = PersonalFields(
    "kyc_applications",
    (
        "notify_to",
        "person.legal_name",
        "person.date_of_birth",
        "person.id_number",
        "person.phone",
        "person.address",
        "business.phone",
        "business.address",
        "business.directors[].name",
        "business.directors[].id_number",
        "business.directors[].date_of_birth",
        "business.directors[].phone",
        "business.directors[].address",
        "reason",
        "history[].note",
        "sanctions_matches[]",
        "id_link_reason",
    ),
)
"""An application's personal fields, sealed at rest (the business's registered name, number and KRA PIN are not
personal data and stay searchable); the officers' reason and review notes and the screening's matches too (free text
about the applicant, and the listed names they were matched to)."""

CASE_FIELDS = PersonalFields("compliance_cases", ("notes[].text",))
"""A case's personal fields: the officers' free-text notes (they name people and what they did)."""


class SqlKycApplications:
    """``KycApplicationRepository``: one row per application; ``get`` locks it (``FOR UPDATE`` on PostgreSQL).

    The applicant's (and directors') personal fields are sealed by ``personal``: ``KYC_APPLICATION_FIELDS``.
    """

    def __init__(self, bind: Bind, *, personal: PersonalData | None = None) -> None:
        self._bind = bind
        self._personal = personal or PersonalData.plaintext()

    def add(self, application: KycApplication) -> None:
        with writing(self._bind) as conn:
            if not insert_new(conn, kyc_applications, self._row(application)):
                raise Conflict(f"application {application.id} already exists")
            self._write_directors(conn, application, fresh=True)

    def get(self, application_id: str) -> KycApplication | None:
        c = kyc_applications.c
        found = self._select(sa.select(c.id, c.doc).where(c.id == application_id).with_for_update())
        return found[0] if found else None

    def update(self, application: KycApplication) -> None:
        where, missing = kyc_applications.c.id == application.id, f"no application {application.id} to update"
        with writing(self._bind) as conn:
            update_one(conn, kyc_applications, where, self._row(application), missing=missing)
            self._write_directors(conn, application, fresh=False)

    def for_party(self, party_id: str) -> list[KycApplication]:
        c = kyc_applications.c
        query = sa.select(c.id, c.doc).where(c.party_id == party_id).order_by(c.created_at, c.id)
        return self._select(query)

    def queue(
        self, states: Sequence[ApplicationState], *, after: str | None = None, limit: int = 100
    ) -> list[KycApplication]:
        c = kyc_applications.c
        query = sa.select(c.id, c.doc).where(c.state.in_([s.value for s in states]))
        if after is not None:
            query = query.where(c.id > after)
        return self._select(query.order_by(c.id).limit(limit))

    def sharing_id(self, key: str, *, directors: bool = False) -> list[KycApplication]:
        c, lookup = kyc_applications.c, self._personal.lookup(key)
        if directors:
            d = kyc_director_lookups.c
            naming = sa.select(d.application_id).where(d.lookup == lookup)
            query = sa.select(c.id, c.doc).where(c.id.in_(naming))
        else:
            query = sa.select(c.id, c.doc).where(c.id_lookup == lookup)
        return self._select(query.order_by(c.created_at, c.id))

    def _write_directors(self, conn: sa.Connection, application: KycApplication, *, fresh: bool) -> None:
        """A KYB's directors' keyed ID hashes, rewritten whole (directors change while it is editable, and go when
        the application's particulars are erased); a personal application has none."""
        if application.kind is not PartyKind.MERCHANT:
            return
        d = kyc_director_lookups.c
        if not fresh:
            conn.execute(kyc_director_lookups.delete().where(d.application_id == application.id))
        rows = [
            {"application_id": application.id, "director_id": director_id, "lookup": self._personal.lookup(key)}
            for director_id, key in application.director_keys().items()
        ]
        if rows:
            conn.execute(kyc_director_lookups.insert(), rows)

    def _select(self, query: sa.Select[Any]) -> list[KycApplication]:
        with reading(self._bind) as conn:
            rows = conn.execute(query).all()
        opened = (KYC_APPLICATION_FIELDS.open(doc, row_id, self._personal) for row_id, doc in rows)
        return [from_document(KycApplication, doc) for doc in opened]

    def _row(self, application: KycApplication) -> dict[str, Any]:
        key = application.id_key()
        return {
            "id": application.id,
            "party_id": application.party_id,
            "kind": application.kind.value,
            "state": application.state.value,
            "created_at": application.created_at,
            "id_lookup": self._personal.lookup(key) if key is not None else None,
            "doc": KYC_APPLICATION_FIELDS.seal(document(application), application.id, self._personal),
        }


_USER_ID = re.compile(r"usr_[0-9A-Za-z_]{1,64}")


def is_user_id(value: str) -> bool:
    """Whether a counterparty is one of our users' ids (``usr_...``): no personal data, and in the clear already in
    the tables that name people by id (``wallet_transfers.sender_id``, ``recipient_id``; every ``party_id``).

    >>> is_user_id("usr_01JD3ZQ8M2"), is_user_id("254712345678"), is_user_id("@amina"), is_user_id("usr_1 Jane")
    (True, False, False, False)
    """
    return _USER_ID.fullmatch(value) is not None


MOVEMENT_FIELDS = PersonalFields("compliance_movements", ("counterparty",), clear=is_user_id)
"""A journaled movement's personal field: its counterparty (a phone, a bank account, a remittance sender's name, an
address: sealed), unless it is one of our users' ids (the other side of a P2P send or claim), kept as it is."""

ALERT_FIELDS = PersonalFields("compliance_alerts", ("evidence.counterparty", "evidence.name"))
"""An alert's personal field: the counterparty its evidence names (sanctioned counterparty, round trip)."""


class SqlMovementJournal:
    """``MovementJournal``: one row per movement id (a second ``add`` of the same id stores nothing); counterparties
    are sealed by ``personal`` (``MOVEMENT_FIELDS``) and opened on read, where the rules compare them."""

    def __init__(self, bind: Bind, *, personal: PersonalData | None = None) -> None:
        self._bind = bind
        self._personal = personal or PersonalData.plaintext()

    def add(self, movement: Movement) -> bool:
        with writing(self._bind) as conn:
            return insert_new(conn, compliance_movements, movement_row(movement, self._personal))

    def for_party(self, party_id: str, *, since: datetime) -> list[Movement]:
        c = compliance_movements.c
        query = sa.select(c.doc).where(c.party_id == party_id, c.at >= since).order_by(c.at, c.id)
        return _docs(self._bind, query, Movement, MOVEMENT_FIELDS, self._personal)

    def between(
        self, since: datetime, until: datetime, *, after: str | None = None, limit: int = 500
    ) -> list[Movement]:
        c = compliance_movements.c
        query = sa.select(c.doc).where(c.at >= since, c.at < until)
        if after is not None:
            query = query.where(c.id > after)
        return _docs(self._bind, query.order_by(c.id).limit(limit), Movement, MOVEMENT_FIELDS, self._personal)


def movement_row(movement: Movement, personal: PersonalData) -> dict[str, Any]:
    """A movement's ``compliance_movements`` row, as ``SqlMovementJournal.add`` stores it (the P2P send writes its
    movements in its own statement from these rows)."""
    doc = MOVEMENT_FIELDS.seal(document(movement), movement.id, personal)
    return {"id": movement.id, "party_id": movement.party_id, "at": movement.at, "doc": doc}


class SqlAlerts:
    """``AlertRepository``: the key column is unique, so a hit is stored once whoever raises it; the counterparty
    its evidence names is sealed (``ALERT_FIELDS``)."""

    def __init__(self, bind: Bind, *, personal: PersonalData | None = None) -> None:
        self._bind = bind
        self._personal = personal or PersonalData.plaintext()

    def add(self, alert: Alert) -> bool:
        with writing(self._bind) as conn:
            exists = conn.scalars(sa.select(compliance_alerts.c.id).where(compliance_alerts.c.key == alert.key)).first()
            return exists is None and insert_new(conn, compliance_alerts, _alert_row(alert, self._personal))

    def get(self, alert_id: str) -> Alert | None:
        c = compliance_alerts.c
        query = sa.select(c.doc).where(c.id == alert_id).with_for_update()
        found = _docs(self._bind, query, Alert, ALERT_FIELDS, self._personal)
        return found[0] if found else None

    def by_key(self, key: str) -> Alert | None:
        c = compliance_alerts.c
        found = _docs(self._bind, sa.select(c.doc).where(c.key == key), Alert, ALERT_FIELDS, self._personal)
        return found[0] if found else None

    def update(self, alert: Alert) -> None:
        row = _alert_row(alert, self._personal)
        update_one(
            self._bind, compliance_alerts, compliance_alerts.c.id == alert.id, row, missing=f"no alert {alert.id}"
        )

    def list(self, *, status: AlertStatus | None = None, after: str | None = None, limit: int = 100) -> list[Alert]:
        c = compliance_alerts.c
        query = sa.select(c.doc)
        if status is not None:
            query = query.where(c.status == status.value)
        if after is not None:
            query = query.where(c.id > after)
        return _docs(self._bind, query.order_by(c.id).limit(limit), Alert, ALERT_FIELDS, self._personal)


class SqlCases:
    """``CaseRepository``; the officers' free-text notes are sealed by ``personal`` (``CASE_FIELDS``)."""

    def __init__(self, bind: Bind, *, personal: PersonalData | None = None) -> None:
        self._bind = bind
        self._personal = personal or PersonalData.plaintext()

    def add(self, case: Case) -> None:
        with writing(self._bind) as conn:
            if not insert_new(conn, compliance_cases, self._row(case)):
                raise Conflict(f"case {case.id} exists")

    def get(self, case_id: str) -> Case | None:
        c = compliance_cases.c
        found = _cases(self._bind, sa.select(c.id, c.doc).where(c.id == case_id).with_for_update(), self._personal)
        return found[0] if found else None

    def update(self, case: Case) -> None:
        where = compliance_cases.c.id == case.id
        update_one(self._bind, compliance_cases, where, self._row(case), missing=f"no case {case.id}")

    def list(self, *, status: CaseStatus | None = None, after: str | None = None, limit: int = 100) -> list[Case]:
        c = compliance_cases.c
        query = sa.select(c.id, c.doc)
        if status is not None:
            query = query.where(c.status == status.value)
        if after is not None:
            query = query.where(c.id > after)
        return _cases(self._bind, query.order_by(c.id).limit(limit), self._personal)

    def filed_as(self, reference: str) -> str | None:
        c = compliance_cases.c
        with reading(self._bind) as conn:
            found: str | None = conn.execute(sa.select(c.id).where(c.str_reference == reference)).scalar()
        return found

    def _row(self, case: Case) -> dict[str, Any]:
        doc = CASE_FIELDS.seal(document(case), case.id, self._personal)
        reference = case.filing.reference if case.filing else None
        return {
            "id": case.id,
            "party_id": case.party_id,
            "status": case.status.value,
            "doc": doc,
            "str_reference": reference,
        }


def _cases(bind: Bind, query: sa.Select[Any], personal: PersonalData) -> list[Case]:
    """The cases a query selecting (id, doc) finds, their notes opened."""
    with reading(bind) as conn:
        rows = conn.execute(query).all()
    return [from_document(Case, CASE_FIELDS.open(doc, row_id, personal)) for row_id, doc in rows]


def _alert_row(alert: Alert, personal: PersonalData) -> dict[str, Any]:
    doc = ALERT_FIELDS.seal(document(alert), alert.id, personal)
    return {"id": alert.id, "key": alert.key, "party_id": alert.party_id, "status": alert.status.value, "doc": doc}


def _docs(
    bind: Bind,
    query: sa.Select[Any],
    cls: type[T],
    fields: PersonalFields | None = None,
    personal: PersonalData | None = None,
) -> list[T]:
    """The ``cls`` documents a query selecting ``doc`` finds; ``fields`` opened by ``personal`` (each document
    names its own id, which the sealed values are bound to)."""
    with reading(bind) as conn:
        docs = conn.scalars(query).all()
    if fields is not None and personal is not None:
        docs = [fields.open(doc, doc["id"], personal) for doc in docs]
    return [from_document(cls, doc) for doc in docs]


class SqlSanctions:
    """``SanctionsRepository``: a snapshot row, one row per entry, one per listed address (looked up by key)."""

    def __init__(self, bind: Bind) -> None:
        self._bind = bind

    def add(self, snapshot: Snapshot, entries: Sequence[ListEntry]) -> None:
        row = {
            "id": snapshot.id,
            "source": snapshot.source,
            "imported_at": snapshot.imported_at,
            "doc": document(snapshot),
        }
        rows = [{"snapshot_id": snapshot.id, "ref": e.ref, "doc": document(e)} for e in entries]
        listed = {(*address_key(network, address), e.ref) for e in entries for network, address in e.addresses}
        addresses = [{"family": f, "address": a, "snapshot_id": snapshot.id, "ref": r} for f, a, r in sorted(listed)]
        with writing(self._bind) as conn:
            if not insert_new(conn, sanctions_snapshots, row):
                raise Conflict(f"snapshot {snapshot.id} exists")
            for start in range(0, len(rows), 1000):
                conn.execute(sanctions_entries.insert(), rows[start : start + 1000])
            if addresses:
                conn.execute(sanctions_addresses.insert(), addresses)

    def latest(self, source: str) -> Snapshot | None:
        c = sanctions_snapshots.c
        query = sa.select(c.doc).where(c.source == source).order_by(c.imported_at.desc(), c.id.desc()).limit(1)
        found = _docs(self._bind, query, Snapshot)
        return found[0] if found else None

    def snapshots(self) -> list[Snapshot]:
        c = sanctions_snapshots.c
        return _docs(self._bind, sa.select(c.doc).order_by(c.imported_at, c.id), Snapshot)

    def entries(self, snapshot_id: str) -> list[ListEntry]:
        c = sanctions_entries.c
        return _docs(self._bind, sa.select(c.doc).where(c.snapshot_id == snapshot_id).order_by(c.ref), ListEntry)

    def by_address(self, snapshot_ids: Sequence[str], family: str, key: str) -> list[tuple[str, str]]:
        if not snapshot_ids:
            return []
        c = sanctions_addresses.c
        query = sa.select(c.snapshot_id, c.ref).where(
            c.family == family, c.address == key, c.snapshot_id.in_(list(snapshot_ids))
        )
        with reading(self._bind) as conn:
            return [(str(sid), str(ref)) for sid, ref in conn.execute(query.order_by(c.snapshot_id, c.ref)).all()]
