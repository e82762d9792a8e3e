"""KYC profiles and fee schedules on SQL, as ``uow.kyc`` and ``uow.fee_schedules`` (or standalone on an Engine).

Each takes an ``Engine`` (every call is one short transaction) or a unit of work's ``Connection``. ``get`` of a
profile locks its row (``FOR UPDATE`` on PostgreSQL): an admin's read-approve-update inside one unit of work
cannot lose another admin's concurrent approval.

>>> import tempfile, pathlib
>>> from datetime import datetime, timezone
>>> from cryptopay.adapters.sql import make_engine, upgrade
>>> from cryptopay.core.kyc import PartyKind, Requirement
>>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'doc.db'}"
>>> _ = upgrade(url)
>>> profiles = SqlKycProfiles(make_engine(url))
>>> alice = KycProfile(party_id="usr_1", kind=PartyKind.PERSONAL)
>>> _ = alice.submit(1, {Requirement.PHONE, Requirement.EMAIL, Requirement.NATIONAL_ID},
...                  at=datetime(2026, 3, 2, tzinfo=timezone.utc))
>>> profiles.add(alice)
>>> [p.party_id for p in profiles.pending()]
['usr_1']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.documents import document, from_document
from cryptopay.adapters.sql.personal import PersonalData, PersonalFields
from cryptopay.adapters.sql.repositories._base import Bind, insert_new, reading, update_one, writing
from cryptopay.adapters.sql.tables_kyc_fees import fee_schedules, kyc_profiles
from cryptopay.core.errors import Conflict
from cryptopay.core.fees import FeeBook, FeeProduct, FeeSchedule
from cryptopay.core.kyc import KycProfile, KycStatus
from cryptopay.core.money import Asset

__all__ = ["KYC_PROFILE_FIELDS", "SqlFeeSchedules", "SqlKycProfiles", "sql_kyc_fee_repositories"]

KYC_PROFILE_FIELDS = PersonalFields("kyc_profiles", ("reason", "freeze_reason"))
"""A profile's personal fields: the officers' free text (a rejection's reason or the information asked for, a
freeze's reason), bound to the party's row."""


class SqlKycProfiles:
    """``KycRepository``: one row per party, the profile as a document, status and levels as columns; the officers'
    free text in it is sealed by ``personal`` (``KYC_PROFILE_FIELDS``)."""

    def __init__(self, bind: Bind, *, personal: PersonalData | None = None) -> None:
        self._bind = bind
        self._personal = personal or PersonalData.plaintext()

    def add(self, profile: KycProfile) -> None:
        with writing(self._bind) as conn:
            if not insert_new(conn, kyc_profiles, _profile_row(profile, self._personal)):
                raise Conflict(f"{profile.party_id} already has a KYC profile")

    def get(self, party_id: str) -> KycProfile | None:
        query = sa.select(kyc_profiles.c.doc).where(kyc_profiles.c.party_id == party_id).with_for_update()
        found = self._profiles(query)
        return found[0] if found else None

    def update(self, profile: KycProfile) -> None:
        where = kyc_profiles.c.party_id == profile.party_id
        missing = f"{profile.party_id} has no KYC profile to update"
        update_one(self._bind, kyc_profiles, where, _profile_row(profile, self._personal), missing=missing)

    def find(self, party_ids: Sequence[str]) -> dict[str, KycProfile]:
        if not party_ids:
            return {}
        query = sa.select(kyc_profiles.c.doc).where(kyc_profiles.c.party_id.in_(list(party_ids)))
        return {p.party_id: p for p in self._profiles(query)}

    def pending(self, *, after: str | None = None, limit: int = 100) -> list[KycProfile]:
        query = sa.select(kyc_profiles.c.doc).where(kyc_profiles.c.status == KycStatus.PENDING.value)
        if after is not None:
            query = query.where(kyc_profiles.c.party_id > after)
        return self._profiles(query.order_by(kyc_profiles.c.party_id).limit(limit))

    def _profiles(self, query: sa.Select[Any]) -> list[KycProfile]:
        """The profiles of a query selecting ``doc``, their sealed fields opened."""
        with reading(self._bind) as conn:
            docs = conn.scalars(query).all()
        return [open_profile(doc, self._personal) for doc in docs]


def open_profile(doc: Any, personal: PersonalData) -> KycProfile:
    """A stored profile document as a ``KycProfile``, its sealed fields opened (the P2P send reads it raw too)."""
    return from_document(KycProfile, KYC_PROFILE_FIELDS.open(doc, doc["party_id"], personal))


def _profile_row(profile: KycProfile, personal: PersonalData) -> dict[str, Any]:
    # Evidence is a set: stored as a sorted list so the document is JSON and compares byte for byte.
    doc = document(profile) | {"evidence": sorted(r.value for r in profile.evidence)}
    doc = KYC_PROFILE_FIELDS.seal(doc, profile.party_id, personal)
    return {
        "party_id": profile.party_id,
        "kind": profile.kind.value,
        "status": profile.status.value,
        "level": profile.level,
        "requested_level": profile.requested_level,
        "expires_at": profile.expires_at,
        "doc": doc,
    }


class SqlFeeSchedules:
    """``FeeScheduleRepository``: one row per version; percents and amounts are exact strings in the document."""

    def __init__(self, bind: Bind) -> None:
        self._bind = bind

    def add(self, schedule: FeeSchedule) -> None:
        row = {
            "product": schedule.product.value,
            "asset": schedule.asset.code,
            "name": schedule.name,
            "version": schedule.version,
            "effective_from": schedule.effective_from,
            "doc": document(schedule),
        }
        with writing(self._bind) as conn:
            if not insert_new(conn, fee_schedules, row):
                raise Conflict(f"fee schedule {schedule.id} is already stored; publish a new version instead")

    def versions(self, product: FeeProduct, asset: Asset, name: str = "standard") -> list[FeeSchedule]:
        c = fee_schedules.c
        where = (c.product == product.value, c.asset == asset.code, c.name == name)
        return self._select(sa.select(c.doc).where(*where))

    def book(self) -> FeeBook:
        return FeeBook(self._select(sa.select(fee_schedules.c.doc)))

    def _select(self, query: sa.Select[Any]) -> list[FeeSchedule]:
        c = fee_schedules.c
        with reading(self._bind) as conn:
            docs = conn.scalars(query.order_by(c.product, c.asset, c.name, c.version)).all()
        return [from_document(FeeSchedule, doc) for doc in docs]


def sql_kyc_fee_repositories(bind: Bind) -> dict[str, Any]:
    """Both repositories on one engine or connection, by their unit-of-work names (``kyc``, ``fee_schedules``)."""
    return {"kyc": SqlKycProfiles(bind), "fee_schedules": SqlFeeSchedules(bind)}
