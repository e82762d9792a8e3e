"""The audit log's hash chain catches an edited, deleted or appended-by-hand record on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptopay.adapters.sql import make_engine, upgrade
from cryptopay.adapters.sql.audit import verify_audit_log
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.audit import AuditEvent
from sqlalchemy import exc, text
from sqlalchemy.engine import Engine

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def audited(request: pytest.FixtureRequest, tmp_path: Path):
    """A database with five audit records appended through the unit of work."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
        upgrade(url)
        engine = make_engine(url)
    else:
        engine = request.getfixturevalue("pg_engine")
    storage = SqlStorage(engine)
    for n in range(5):
        with storage.unit_of_work() as uow:
            uow.audit.append(AuditEvent(f"admin:a{n}", "kyc.approve", f"user:u{n}", NOW, {"tier": str(n % 3)}))
    yield engine
    if request.param == "sqlite":
        engine.dispose()


def _tamper(engine: Engine, statement: str) -> None:
    """Bypass the append-only triggers as a database owner could, and run ``statement``."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            conn.execute(text(statement))
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(text(statement))


def test_intact_log_verifies(audited: Engine) -> None:
    """A log written only through the API verifies clean."""
    assert verify_audit_log(audited) == []


def test_the_log_refuses_updates_and_deletes(audited: Engine) -> None:
    """UPDATE and DELETE on the audit log are refused by the database."""
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log WHERE seq = 2"):
        with pytest.raises(exc.DBAPIError, match="append-only"), audited.begin() as conn:
            conn.execute(text(statement))


def test_an_edited_record_is_named(audited: Engine) -> None:
    """Editing a record's subject breaks its hash, and verification names that record."""
    _tamper(audited, "UPDATE audit_log SET subject = 'user:someone-else' WHERE seq = 3")
    problems = verify_audit_log(audited)
    assert [(p.seq, p.reason) for p in problems] == [(3, "hash does not match the record (edited)")]


def test_a_deleted_record_is_named(audited: Engine) -> None:
    """Deleting a record in the middle is seen at the next record."""
    _tamper(audited, "DELETE FROM audit_log WHERE seq = 2")
    problems = verify_audit_log(audited)
    assert [p.seq for p in problems] == [3] and "deleted" in problems[0].reason


def test_a_deleted_tail_is_named(audited: Engine) -> None:
    """Deleting the newest record is caught by the head pointer."""
    _tamper(audited, "DELETE FROM audit_log WHERE seq = 5")
    assert [p.seq for p in verify_audit_log(audited)] == [5]


def test_a_rehashed_edit_is_still_caught(audited: Engine) -> None:
    """Recomputing an edited record's own hash still breaks the link from the record after it."""
    _tamper(audited, "UPDATE audit_log SET hash = '" + "f" * 64 + "' WHERE seq = 2")
    assert [p.seq for p in verify_audit_log(audited)] == [2, 3]
