"""The sealing pass: rewrite rows whose personal data is still in the clear (or every row, after a key rotation).

``cryptopay db upgrade`` runs it after the migrations with the deployment's keys (a migration script holds no keys),
so a database written before personal data was sealed is sealed by the upgrade. Each row is read through its
repository (which reads plain and sealed values alike) and written back (which seals every personal field under
the current key-encryption key and recomputes the keyed hashes), in short transactions of ``batch`` rows.

Key rotation: put the new KEK first in ``CRYPTOPAY_VAULT_KEKS`` (keep the old one after it), run
``cryptopay privacy seal --all`` (every row re-sealed under the new KEK), then remove the old KEK. A new
``CRYPTOPAY_PII_LOOKUP_KEY`` needs the same ``--all`` pass, run with the new lookup key before lookups are
served (the hashes are recomputed from the sealed values).

>>> import tempfile, pathlib
>>> from cryptopay.adapters.sql import make_engine, upgrade
>>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'doc.db'}"
>>> _ = upgrade(url)
>>> from cryptopay.adapters.sql.uow import SqlStorage
>>> set(seal_personal_data(SqlStorage(make_engine(url))).values())  # no keys, nothing to seal
{0}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.personal import SEALED_PREFIX, PersonalFields, is_lookup_key
from cryptopay.adapters.sql.repositories.compliance import KYC_APPLICATION_FIELDS
from cryptopay.adapters.sql.repositories.payments import _Documents
from cryptopay.adapters.sql.tables_compliance import kyc_applications
from cryptopay.adapters.sql.tables_identity import users
from cryptopay.adapters.sql.tables_travel_rule import travel_rule_records
from cryptopay.adapters.sql.uow import SqlStorage, SqlUnitOfWork

__all__ = ["seal_personal_data"]

_DOCUMENT_TABLES: tuple[tuple[str, Callable[[SqlUnitOfWork], _Documents[Any]]], ...] = (
    ("wallets", lambda uow: uow.wallets),
    ("phone_verifications", lambda uow: uow.phone_verifications),
    ("wallet_transfers", lambda uow: uow.wallet_transfers),
    ("wallet_buys", lambda uow: uow.wallet_buys),
    ("remittance_orders", lambda uow: uow.remittances),
)


def seal_personal_data(storage: SqlStorage, *, all_rows: bool = False, batch: int = 200) -> dict[str, int]:
    """Seal the rows still holding personal data in the clear (``all_rows``: every row); rows rewritten per table."""
    if not storage.personal.sealing and not all_rows:
        return dict.fromkeys(_names(), 0)
    counts = {"users": _pass(storage, batch, lambda uow, after: _users(uow, after, batch, all_rows))}
    counts["kyc_applications"] = _pass(storage, batch, lambda uow, after: _applications(uow, after, batch, all_rows))
    counts["travel_rule_records"] = _pass(storage, batch, lambda uow, after: _travel_rule(uow, after, batch, all_rows))
    for name, repository in _DOCUMENT_TABLES:
        counts[name] = _pass(storage, batch, _document_step(repository, batch, all_rows))
    return counts


def _document_step(
    repository: Callable[[SqlUnitOfWork], _Documents[Any]], batch: int, all_rows: bool
) -> Callable[[SqlUnitOfWork, str], tuple[int, str | None]]:
    return lambda uow, after: _documents(repository(uow), after, batch, all_rows)


def _names() -> list[str]:
    return ["users", "kyc_applications", "travel_rule_records", *(name for name, _ in _DOCUMENT_TABLES)]


def _pass(storage: SqlStorage, batch: int, step: Callable[[SqlUnitOfWork, str], tuple[int, str | None]]) -> int:
    """Run ``step`` (rewrite one batch after an id; the count and the last id read) until the table is done."""
    total, after = 0, ""
    while True:
        with storage.unit_of_work() as uow:
            rewritten, last = step(uow, after)
        total += rewritten
        if last is None:
            return total
        after = last


def _clear(value: str | None) -> bool:
    return value is not None and not value.startswith(SEALED_PREFIX)


def _users(uow: SqlUnitOfWork, after: str, batch: int, all_rows: bool) -> tuple[int, str | None]:
    c = users.c
    query = sa.select(c.id, c.email, c.phone, c.display_name).where(c.id > after).order_by(c.id).limit(batch)
    rows = uow.connection.execute(query).all()
    rewritten = 0
    for user_id, email, phone, display_name in rows:
        plain_phone = phone is not None and not is_lookup_key(phone)
        if all_rows or _clear(email) or _clear(display_name) or plain_phone:
            user = uow.users.get(user_id)
            assert user is not None
            uow.users.update(user)
            rewritten += 1
    return rewritten, rows[-1][0] if len(rows) == batch else None


def _applications(uow: SqlUnitOfWork, after: str, batch: int, all_rows: bool) -> tuple[int, str | None]:
    c = kyc_applications.c
    rows = uow.connection.execute(sa.select(c.id, c.doc).where(c.id > after).order_by(c.id).limit(batch)).all()
    rewritten = 0
    for application_id, doc in rows:
        if all_rows or KYC_APPLICATION_FIELDS.unsealed(doc):
            application = uow.kyc_applications.get(application_id)
            assert application is not None
            uow.kyc_applications.update(application)
            rewritten += 1
    return rewritten, rows[-1][0] if len(rows) == batch else None


def _travel_rule(uow: SqlUnitOfWork, after: str, batch: int, all_rows: bool) -> tuple[int, str | None]:
    c = travel_rule_records.c
    rows = uow.connection.execute(sa.select(c.id, c.doc).where(c.id > after).order_by(c.id).limit(batch)).all()
    rewritten = 0
    for _record_id, doc in rows:
        if all_rows or not isinstance(doc["ivms101"], str):
            uow.travel_rule.reseal(doc)
            rewritten += 1
    return rewritten, rows[-1][0] if len(rows) == batch else None


def _documents(repository: _Documents[Any], after: str, batch: int, all_rows: bool) -> tuple[int, str | None]:
    table, fields = repository.table, repository.fields
    assert isinstance(fields, PersonalFields)
    conn = repository._conn
    rows = conn.execute(sa.select(table.c.id, table.c.doc).where(table.c.id > after).order_by(table.c.id).limit(batch))
    found = rows.all()
    rewritten = 0
    for row_id, doc in found:
        if all_rows or fields.unsealed(doc):
            repository._update(repository._item(row_id, doc))
            rewritten += 1
    return rewritten, found[-1][0] if len(found) == batch else None
