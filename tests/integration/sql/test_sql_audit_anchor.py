"""R10-2: the audit chain anchored outside the database. Someone who can write the database (triggers lifted) can
rewrite a suffix and re-hash it with the project's own ``chain_next``, or wipe the log and reset the head: the chain
alone then verifies clean; an anchor the worker logged before (``audit.anchor``) catches both, on SQLite and
PostgreSQL, and ``cryptopay audit verify --anchor`` / ``--anchors-file`` exits 1 naming the record."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptopay.adapters.sql import make_engine, upgrade
from cryptopay.adapters.sql.audit import SqlAuditLog, anchor_audit_head, verify_audit_log
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.audit import GENESIS_HASH, Anchor, AuditEvent, chain_next
from cryptopay.core.logs import JsonFormatter
from cryptopay_cli.main import build_app
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture(params=["sqlite", "postgres"])
def audited(request: pytest.FixtureRequest, tmp_path: Path):
    """A database with six audit records appended through the unit of work."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
        upgrade(url)
        engine = make_engine(url)
    else:
        engine = request.getfixturevalue("pg_engine")
    storage = SqlStorage(engine)
    for n in range(6):
        with storage.unit_of_work() as uow:
            uow.audit.append(AuditEvent(f"admin:a{n}", "settlement.run", f"mer:m{n}", NOW, {"paid": "5000.00 KES"}))
    yield engine
    if request.param == "sqlite":
        engine.dispose()


def _owner_writes(engine: Engine, *statements: str, params: list[dict[str, object]] | None = None) -> None:
    """Lift the append-only triggers as the table's owner can, run ``statements``, put the triggers back (PG)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        for statement in statements:
            conn.execute(text(statement), params or [{}])
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def _rewrite_from(engine: Engine, first: int) -> None:
    """R10-2's reproduction: edit record ``first`` ("paid 50.00 KES"), drop the tail record, re-hash from ``first``
    to the end with ``chain_next`` and move the head: the chain is whole again."""
    with engine.connect() as conn:
        records = SqlAuditLog(conn).records()
    kept = records[:-1]
    previous = (kept[first - 2].seq, kept[first - 2].hash) if first > 1 else None
    rewritten = []
    for record in kept[first - 1 :]:
        details = {"paid": "50.00 KES"} if record.seq == first else dict(record.details)
        event = AuditEvent(record.actor, record.action, record.subject, record.at, details)
        again = chain_next(previous, event, record.id)
        rewritten.append(
            {
                "seq": again.seq,
                "details": json.dumps([list(p) for p in again.details]),
                "prev_hash": again.prev_hash,
                "hash": again.hash,
            }
        )
        previous = (again.seq, again.hash)
    assert previous is not None
    _owner_writes(engine, f"DELETE FROM audit_log WHERE seq = {records[-1].seq}")
    details = "CAST(:details AS JSON)" if engine.dialect.name == "postgresql" else ":details"
    _owner_writes(
        engine,
        f"UPDATE audit_log SET details = {details}, prev_hash = :prev_hash, hash = :hash WHERE seq = :seq",
        params=rewritten,
    )
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": previous[0], "h": previous[1]}
        )


def test_a_rewritten_suffix_passes_the_chain_but_not_an_older_anchor(
    audited: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """The anchor the job logged at record #4 catches a rewrite from #3 that the bare chain accepts."""
    with caplog.at_level(logging.INFO, logger="cryptopay.audit.anchor"):
        logged = anchor_audit_head(audited)
    assert logged.seq == 6 and f"audit head anchored: seq=6 hash={logged.hash}" in caplog.messages
    with audited.connect() as conn:
        at_4 = next(r for r in SqlAuditLog(conn).records() if r.seq == 4)
    _rewrite_from(audited, 3)
    assert verify_audit_log(audited) == []  # the finding: the chain alone says intact
    problems = verify_audit_log(audited, [Anchor(4, at_4.hash), logged])
    assert [(p.seq, p.reason.split(":")[0]) for p in problems] == [
        (4, "hash differs from the anchor kept outside (rewritten)"),
        (6, "the log ends before record #6 that an anchor kept outside names (deleted)"),
    ]
    assert verify_audit_log(audited, [Anchor(2, chain_hash(audited, 2))]) == []  # before the rewrite: still true


def chain_hash(engine: Engine, seq: int) -> str:
    with engine.connect() as conn:
        return next(r.hash for r in SqlAuditLog(conn).records() if r.seq == seq)


def test_a_wiped_log_is_caught_by_an_anchor(audited: Engine) -> None:
    """Every record deleted and the head reset to the genesis: intact alone, caught by the logged anchor."""
    logged = anchor_audit_head(audited)
    _owner_writes(audited, "DELETE FROM audit_log")
    with audited.begin() as conn:
        conn.execute(text("UPDATE audit_head SET seq = 0, hash = :h WHERE id = 1"), {"h": GENESIS_HASH})
    assert verify_audit_log(audited) == []
    problems = verify_audit_log(audited, [logged])
    assert [(p.seq, "deleted" in p.reason) for p in problems] == [(6, True)]


def test_the_cli_checks_anchors_and_anchor_files(tmp_path: Path) -> None:
    """``--anchor`` and ``--anchors-file`` (the worker's JSON log lines): exit 0 while the chain passes them, exit 1
    after a rewrite; a malformed anchor is exit 2 and reads nothing."""
    url, engine = _sqlite_with_records(tmp_path, 6)
    logs = tmp_path / "worker.log"
    first = _logged_anchor(engine, logs)
    app = build_app()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["audit", "verify", "--url", url, *args])
        return result.exit_code, result.output

    assert run("--anchor", str(first), "--anchors-file", str(logs)) == (0, "audit log intact (passes 1 anchor)\n")
    code, out = run("--anchor", "6:nothex")
    assert code == 2 and "not an audit anchor" in out
    empty = tmp_path / "empty.log"
    empty.write_text("nothing here\n", encoding="utf-8")
    assert run("--anchors-file", str(empty))[0] == 2
    _rewrite_from(engine, 3)
    engine.dispose()
    assert run() == (0, "audit log intact\n")
    code, out = run("--anchors-file", str(logs))
    assert code == 1 and "#6" in out and "anchor kept outside" in out
    code, out = run("--anchor", str(first), "--json")
    assert code == 1 and json.loads(out.splitlines()[0])["problems"][0]["seq"] == 6


def _sqlite_with_records(tmp_path: Path, count: int) -> tuple[str, Engine]:
    """A migrated SQLite file whose audit log holds ``count`` records (each in its own unit of work)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    storage = SqlStorage(engine)
    for n in range(count):
        with storage.unit_of_work() as uow:
            uow.audit.append(AuditEvent(f"admin:a{n}", "settlement.run", f"mer:m{n}", NOW, {"paid": "5000.00 KES"}))
    return url, engine


def _logged_anchor(engine: Engine, into: Path) -> Anchor:
    """``anchor_audit_head`` with the worker's JSON log line written to ``into``, as the worker's stderr has it."""
    handler = logging.FileHandler(into, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("cryptopay.audit.anchor")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        return anchor_audit_head(engine)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


def test_only_the_workers_structured_anchor_counts_never_words_in_a_message(tmp_path: Path) -> None:
    """reader2 M-6: any line holding ``audit head anchored: seq=N hash=H`` counted, so a message quoting such words
    (a form field, a URL logged by another logger, a plain-text line) raised a false "rewritten" alarm. Only a
    ``SEQ:HASH`` line or the worker's JSON line's ``audit_anchor`` field (logger ``cryptopay.audit.anchor``) counts;
    a real rewrite is still caught by the real anchor."""
    url, engine = _sqlite_with_records(tmp_path, 4)
    logs = tmp_path / "worker.log"
    real = _logged_anchor(engine, logs)
    false = f"audit head anchored: seq=2 hash={'0' * 64}"
    injected = [
        json.dumps({"logger": "cryptopay.http", "level": "info", "message": f"GET /pay?note={false}"}),
        json.dumps({"logger": "cryptopay.audit.anchor", "message": false}),  # the words without the field
        f"2026-12-07 10:00:00 INFO cryptopay.http: {false}",
    ]
    with logs.open("a", encoding="utf-8") as out:
        out.write("\n".join(injected) + "\n")
    assert [str(a) for a in Anchor.found_in(logs.read_text(encoding="utf-8"))] == [str(real)]
    app = build_app()
    result = runner.invoke(app, ["audit", "verify", "--url", url, "--anchors-file", str(logs)])
    assert (result.exit_code, result.output) == (0, "audit log intact (passes 1 anchor)\n")
    only_false = tmp_path / "false.log"
    only_false.write_text("\n".join(injected) + "\n", encoding="utf-8")
    assert runner.invoke(app, ["audit", "verify", "--url", url, "--anchors-file", str(only_false)]).exit_code == 2
    _rewrite_from(engine, 2)
    engine.dispose()
    result = runner.invoke(app, ["audit", "verify", "--url", url, "--anchors-file", str(logs)])
    assert result.exit_code == 1 and "#4" in result.output and "anchor kept outside" in result.output
