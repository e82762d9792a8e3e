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

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from cryptopay.adapters.sql.personal import SEALED_PREFIX, PersonalFields, is_lookup_key
from cryptopay.adapters.sql.repositories.compliance import (
    ALERT_FIELDS,
    CASE_FIELDS,
    KYC_APPLICATION_FIELDS,
    MOVEMENT_FIELDS,
)
from cryptopay.adapters.sql.repositories.kyc_fees import KYC_PROFILE_FIELDS
from cryptopay.adapters.sql.repositories.payments import _Documents
from cryptopay.adapters.sql.repositories.reconciliation import RESULT_FIELDS
from cryptopay.adapters.sql.tables_compliance import (
    compliance_alerts,
    compliance_cases,
    compliance_movements,
    kyc_applications,
)
from cryptopay.adapters.sql.tables_identity import merchant_invitations, merchants, users
from cryptopay.adapters.sql.tables_kyc_fees import kyc_profiles
from cryptopay.adapters.sql.tables_reconciliation import reconciliation_results
from cryptopay.adapters.sql.tables_travel_rule import travel_rule_records
from cryptopay.adapters.sql.uow import SqlStorage, SqlUnitOfWork
from cryptopay.core.errors import RowChanged
from cryptopay.core.ports.storage import retrying

__all__ = ["seal_personal_data"]

_DOCUMENT_TABLES: tuple[tuple[str, Callable[[SqlUnitOfWork], _Documents[Any]]], ...] = (
    ("wallets", lambda uow: uow.wallets),
    ("phone_verifications", lambda uow: uow.phone_verifications),
    ("wallet_transfers", lambda uow: uow.wallet_transfers),
    ("wallet_buys", lambda uow: uow.wallet_buys),
    ("paybill_payments", lambda uow: uow.paybill_payments),
    ("remittance_orders", lambda uow: uow.remittances),
    ("payouts", lambda uow: uow.payouts),
    ("settlements", lambda uow: uow.settlements),
    ("unmatched_answers", lambda uow: uow.unmatched_answers),
)


T = TypeVar("T")


def seal_personal_data(storage: SqlStorage, *, all_rows: bool = False, batch: int = 200) -> dict[str, int]:
    """Seal the rows still holding personal data in the clear (``all_rows``: every row); rows rewritten per table."""
    if not storage.personal.sealing and not all_rows:
        return dict.fromkeys(_names(), 0)
    counts = {}
    for name, (query, needs, rewrite) in _ROW_TABLES.items():
        step = _row_step(query, (lambda _row: True) if all_rows else needs, rewrite, batch)
        counts[name] = _pass(storage, batch, step)
    for name, repository in _DOCUMENT_TABLES:
        counts[name] = _pass(storage, batch, _document_step(repository, batch, all_rows))
    return counts


def _document_step(
    repository: Callable[[SqlUnitOfWork], _Documents[Any]], batch: int, all_rows: bool
) -> Callable[[SqlUnitOfWork, str], tuple[int, str | None]]:
    return lambda uow, after: _documents(repository(uow), after, batch, all_rows)


# The rows a rewrite writes only over the version it read (review11 R11-1, R11-3).
_CHANGED = (RowChanged,)


def _names() -> list[str]:
    return [*_ROW_TABLES, *(name for name, _ in _DOCUMENT_TABLES)]


def _pass(storage: SqlStorage, batch: int, step: Callable[[SqlUnitOfWork, str], tuple[int, str | None]]) -> int:
    """Run ``step`` (rewrite one batch after an id; the count and the last id read) until the table is done."""
    total, after = 0, ""

    def one_batch() -> tuple[int, str | None]:
        with storage.unit_of_work() as uow:
            return step(uow, after)

    while True:
        # A versioned row written by a request between the batch's read and its rewrite (``…Changed``: the batch
        # wrote nothing; a backstop, the batch's rows are read ``FOR UPDATE``): the batch is read and rewritten again.
        # Document tables retry a changed row in ``_documents`` itself.
        rewritten, last = retrying(one_batch, on=_CHANGED)
        total += rewritten
        if last is None:
            return total
        after = last


def _clear(value: str | None) -> bool:
    return value is not None and not value.startswith(SEALED_PREFIX)


def _row_step(
    query: Callable[[], sa.Select[Any]],
    needs: Callable[[Any], bool],
    rewrite: Callable[[SqlUnitOfWork, Any], None],
    batch: int,
) -> Callable[[SqlUnitOfWork, str], tuple[int, str | None]]:
    """One batch of a table read by ``query`` (its id first): each row that ``needs`` it read through its repository
    and written back (``rewrite``), which seals it under the current keys.

    The batch is read ``FOR UPDATE`` (PostgreSQL; SQLite's one writer already keeps requests out until the batch
    commits): most of these rewrites (a case, an application, a journal entry, an alert) have no version to write
    over, so a request's write between the batch's read and its rewrite would be undone (reader2 L2-6); a request
    instead commits before the batch reads its row or waits for the batch and then writes its own version."""

    def step(uow: SqlUnitOfWork, after: str) -> tuple[int, str | None]:
        select = query()
        key = select.selected_columns[0]
        rows = uow.connection.execute(select.where(key > after).order_by(key).limit(batch).with_for_update()).all()
        wanted = [row for row in rows if needs(row)]
        for row in wanted:
            rewrite(uow, row)
        return len(wanted), rows[-1][0] if len(rows) == batch else None

    return step


def _rewritten(
    get: Callable[[SqlUnitOfWork, str], T | None], update: Callable[[SqlUnitOfWork, T], None]
) -> Callable[[SqlUnitOfWork, Any], None]:
    """A row's rewrite: read back through its repository (which opens what is sealed, reads what is not) and
    written again (which seals it)."""

    def rewrite(uow: SqlUnitOfWork, row: Any) -> None:
        found = get(uow, row.id)
        assert found is not None
        update(uow, found)

    return rewrite


def _resealed(
    table: sa.Table, fields: PersonalFields, where: Callable[[Any], sa.ColumnElement[bool]] | None = None
) -> Callable[[SqlUnitOfWork, Any], None]:
    """A row's rewrite for a table with no repository update (the monitoring journal, alerts, profiles, kept
    reconciliation results): its document's personal fields, bound to ``row.id``, opened and sealed afresh under
    the current keys, in place (``where``: the row, from its document; default: its one-column key is ``row.id``)."""

    key = next(iter(table.primary_key.columns))

    def rewrite(uow: SqlUnitOfWork, row: Any) -> None:
        personal = uow.personal
        doc = fields.seal(fields.open(row.doc, row.id, personal), row.id, personal)
        found = where(row.doc) if where is not None else key == row.id
        uow.connection.execute(table.update().where(found).values(doc=doc))

    return rewrite


def _result_row(doc: Any) -> sa.ColumnElement[bool]:
    c = reconciliation_results.c
    return sa.and_(c.run_id == doc["run_id"], c.check_name == doc["name"])


_RowTable = tuple[Callable[[], sa.Select[Any]], Callable[[Any], bool], Callable[[SqlUnitOfWork, Any], None]]
_ROW_TABLES: dict[str, _RowTable] = {
    "users": (
        lambda: sa.select(users.c.id, users.c.email, users.c.phone, users.c.display_name),
        lambda r: _clear(r.email) or _clear(r.display_name) or (r.phone is not None and not is_lookup_key(r.phone)),
        _rewritten(lambda uow, id: uow.users.get(id), lambda uow, user: uow.users.update(user)),
    ),
    "kyc_applications": (
        lambda: sa.select(kyc_applications.c.id, kyc_applications.c.doc, kyc_applications.c.id_lookup),
        # rows written before the ID's keyed hash (0045; a KYB's registration number and directors' IDs: 0048) get
        # it here (rewriting an application writes its directors' hashes too)
        lambda r: (
            KYC_APPLICATION_FIELDS.unsealed(r.doc)
            or (r.id_lookup is None and bool(r.doc.get("person") or r.doc.get("business")))
        ),
        _rewritten(lambda uow, id: uow.kyc_applications.get(id), lambda uow, a: uow.kyc_applications.update(a)),
    ),
    "travel_rule_records": (
        lambda: sa.select(travel_rule_records.c.id, travel_rule_records.c.doc),
        lambda r: not isinstance(r.doc["ivms101"], str),
        lambda uow, r: uow.travel_rule.reseal(r.doc),
    ),
    "merchants": (
        lambda: sa.select(merchants.c.id, merchants.c.settlement_destination),
        lambda r: _clear(r.settlement_destination),
        _rewritten(lambda uow, id: uow.merchants.get(id), lambda uow, m: uow.merchants.update(m)),
    ),
    "merchant_invitations": (
        lambda: sa.select(merchant_invitations.c.id, merchant_invitations.c.email),
        lambda r: _clear(r.email),
        _rewritten(lambda uow, id: uow.teams.invitation(id), lambda uow, i: uow.teams.update_invitation(i)),
    ),
    "compliance_cases": (
        lambda: sa.select(compliance_cases.c.id, compliance_cases.c.doc),
        lambda r: CASE_FIELDS.unsealed(r.doc),
        _rewritten(lambda uow, id: uow.cases.get(id), lambda uow, case: uow.cases.update(case)),
    ),
    "compliance_movements": (
        lambda: sa.select(compliance_movements.c.id, compliance_movements.c.doc),
        lambda r: MOVEMENT_FIELDS.unsealed(r.doc),
        _resealed(compliance_movements, MOVEMENT_FIELDS),
    ),
    "kyc_profiles": (
        lambda: sa.select(kyc_profiles.c.party_id.label("id"), kyc_profiles.c.doc),
        lambda r: KYC_PROFILE_FIELDS.unsealed(r.doc),
        _resealed(kyc_profiles, KYC_PROFILE_FIELDS),
    ),
    "reconciliation_results": (
        lambda: sa.select(
            (reconciliation_results.c.run_id + ":" + reconciliation_results.c.check_name).label("id"),
            reconciliation_results.c.doc,
        ),
        lambda r: RESULT_FIELDS.unsealed(r.doc),
        _resealed(reconciliation_results, RESULT_FIELDS, _result_row),
    ),
    "compliance_alerts": (
        lambda: sa.select(compliance_alerts.c.id, compliance_alerts.c.doc),
        lambda r: ALERT_FIELDS.unsealed(r.doc),
        _resealed(compliance_alerts, ALERT_FIELDS),
    ),
}
"""Tables sealed row by row through their repositories: the query of what tells a row in the clear (id first), the
test, and the rewrite."""


def _documents(repository: _Documents[Any], after: str, batch: int, all_rows: bool) -> tuple[int, str | None]:
    """One batch of a document table: each document still in the clear (``all_rows``: each) written back sealed,
    only over the stored text it was read from (reader2 L2-6: a request's write between the batch's read and the
    rewrite, e.g. M-Pesa's callback completing a payout, is never undone): a document a request rewrote meanwhile
    is read again and rewritten from that version (at most ``_ROW_ATTEMPTS`` reads: one rewritten by requests every
    time is left for the next pass), one that is gone is skipped. No row lock is held."""
    table, fields = repository.table, repository.fields
    assert isinstance(fields, PersonalFields)
    conn, stored = repository._conn, _stored(table)
    found = conn.execute(sa.select(table.c.id, stored).where(table.c.id > after).order_by(table.c.id).limit(batch))
    rows = found.all()
    rewritten = 0
    for row_id, text in rows:
        current: str | None = text
        for _attempt in range(_ROW_ATTEMPTS):
            if current is None:
                break
            doc = json.loads(current)  # as ``JsonText`` reads it
            if not (all_rows or fields.unsealed(doc)):
                break
            row = repository._row(repository._item(row_id, doc))
            if conn.execute(table.update().where(table.c.id == row_id, stored == current).values(**row)).rowcount:
                rewritten += 1
                break
            current = conn.execute(sa.select(stored).where(table.c.id == row_id)).scalar_one_or_none()
        else:  # rewritten by requests each time it was read: left as it is for the next pass, not retried forever
            _log.warning(
                "sealing: %s %s changed on each of %d reads; left for the next pass", table.name, row_id, _ROW_ATTEMPTS
            )
    return rewritten, rows[-1][0] if len(rows) == batch else None


_ROW_ATTEMPTS = 8  # reads of one document a batch rewrites at most
_log = logging.getLogger(__name__)


def _stored(table: sa.Table) -> sa.ColumnElement[str]:
    """A table's ``doc`` column as the text stored (what a rewrite compares against, not the parsed document)."""
    return sa.type_coerce(table.c.doc, sa.Text)
