"""KYC/KYB applications on SQL, as ``uow.kyc_applications`` (or standalone on an Engine)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.documents import document, from_document
from cryptopay.adapters.sql.repositories._base import Bind, insert_new, reading, writing
from cryptopay.adapters.sql.tables_compliance import kyc_applications
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.kyc.applications import ApplicationState, KycApplication

__all__ = ["SqlKycApplications"]


class SqlKycApplications:
    """``KycApplicationRepository``: one row per application; ``get`` locks it (``FOR UPDATE`` on PostgreSQL)."""

    def __init__(self, bind: Bind) -> None:
        self._bind = bind

    def add(self, application: KycApplication) -> None:
        with writing(self._bind) as conn:
            if not insert_new(conn, kyc_applications, _row(application)):
                raise Conflict(f"application {application.id} already exists")

    def get(self, application_id: str) -> KycApplication | None:
        c = kyc_applications.c
        with reading(self._bind) as conn:
            doc = conn.scalars(sa.select(c.doc).where(c.id == application_id).with_for_update()).first()
        return from_document(KycApplication, doc) if doc is not None else None

    def update(self, application: KycApplication) -> None:
        c = kyc_applications.c
        statement = kyc_applications.update().where(c.id == application.id).values(**_row(application))
        with writing(self._bind) as conn:
            if conn.execute(statement).rowcount != 1:
                raise NotFound(f"no application {application.id} to update")

    def for_party(self, party_id: str) -> list[KycApplication]:
        c = kyc_applications.c
        query = sa.select(c.doc).where(c.party_id == party_id).order_by(c.created_at, c.id)
        return self._select(query)

    def queue(
        self, states: Sequence[ApplicationState], *, after: str | None = None, limit: int = 100
    ) -> list[KycApplication]:
        c = kyc_applications.c
        query = sa.select(c.doc).where(c.state.in_([s.value for s in states]))
        if after is not None:
            query = query.where(c.id > after)
        return self._select(query.order_by(c.id).limit(limit))

    def _select(self, query: sa.Select[Any]) -> list[KycApplication]:
        with reading(self._bind) as conn:
            docs = conn.scalars(query).all()
        return [from_document(KycApplication, doc) for doc in docs]


def _row(application: KycApplication) -> dict[str, Any]:
    return {
        "id": application.id,
        "party_id": application.party_id,
        "kind": application.kind.value,
        "state": application.state.value,
        "created_at": application.created_at,
        "doc": document(application),
    }
