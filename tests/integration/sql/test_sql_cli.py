"""The ``cryptopay db``, ``audit`` and ``ledger`` commands, run through Typer's CliRunner on a SQLite file."""

from __future__ import annotations

import json
import os
import pwd
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptopay.adapters.sql import SqlLedgerStore, head, make_engine
from cryptopay.adapters.sql.audit import SqlAuditLog
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.audit import AuditEvent
from cryptopay.core.ledger import Account, AccountKind, Ledger
from cryptopay.core.money import KES, Money
from cryptopay_cli.main import build_app
from sqlalchemy import text
from typer.testing import CliRunner

app = build_app()

runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_db_upgrade_current_downgrade(url: str) -> None:
    """``db upgrade`` migrates to the newest revision, ``db current`` says so, ``db downgrade base`` undoes it."""
    code, out = _run("db", "current", "--url", url, "--json")
    assert code == 0 and json.loads(out)["revision"] is None
    code, out = _run("db", "upgrade", "--url", url)
    assert code == 0 and f"at revision {head()}" in out
    code, out = _run("db", "current", "--url", url, "--json")
    assert json.loads(out) == {"url": url, "revision": head(), "head": head()}
    code, out = _run("db", "downgrade", "base", "--url", url, "--yes")
    assert code == 0 and "base (empty)" in out


def _schema_records(url: str) -> list[tuple[str, str, dict[str, str]]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            records = SqlAuditLog(conn).records()
    finally:
        engine.dispose()
    return [(r.actor, r.action, dict(r.details)) for r in records if r.subject == "database:schema"]


def test_db_upgrade_and_downgrade_name_the_operator_in_the_audit_trail(url: str, monkeypatch: pytest.MonkeyPatch):
    """smallfix (review10 R10-5): a schema change from the shell is the OS operator's (``ops:<login>`` from the
    password database, not ``$LOGNAME``), recorded in the migrated database's chain with the revisions it moved
    between; a downgrade that keeps the audit log is recorded there too."""
    monkeypatch.setenv("LOGNAME", "mallory")
    me = f"ops:{pwd.getpwuid(os.getuid()).pw_name}"
    assert _run("db", "upgrade", "--url", url, "--revision", "0186")[0] == 0
    assert _run("db", "upgrade", "--url", url)[0] == 0
    assert _run("db", "downgrade", "0186", "--url", url, "--yes")[0] == 0
    assert _schema_records(url) == [
        (me, "db.upgraded", {"from_revision": "base", "to_revision": "0186"}),
        (me, "db.upgraded", {"from_revision": "0186", "to_revision": head()}),
        (me, "db.downgraded", {"from_revision": head(), "to_revision": "0186"}),
    ]
    assert _run("audit", "verify", "--url", url)[0] == 0
    result = CliRunner().invoke(app, ["db", "downgrade", "base", "--url", url, "--yes"])
    assert result.exit_code == 0 and "audit log was dropped" in result.stderr


def test_db_downgrade_to_an_unknown_revision_exits_2_in_one_line(url: str) -> None:
    """R10-11: revisions are sparse (0175 -> 0186 -> 0200); a guessed one is the caller's error, exit 2, one line
    naming it and how to list them (``db history``), not alembic's traceback; the database is unchanged."""
    assert _run("db", "upgrade", "--url", url)[0] == 0
    result = CliRunner().invoke(app, ["db", "downgrade", "0199", "--url", url, "--yes"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == "error: no migration revision '0199': list them with `cryptopay db history`"
    assert "Traceback" not in result.output
    assert json.loads(_run("db", "current", "--url", url, "--json")[1])["revision"] == head()
    listed = json.loads(_run("db", "history", "--json")[1])["revisions"]
    assert listed[0]["revision"] == head() and "0186" in [r["revision"] for r in listed]


_PRODUCTION_DB_ONLY = {
    "CRYPTOPAY_ENV": "production",
    "CRYPTOPAY_DARAJA_CALLBACK_SOURCES": "",
    "CRYPTOPAY_VAULT_KEKS": "",
}


def test_db_upgrade_needs_only_the_database_and_says_what_it_did(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """review4 R16: a production upgrade run with the database's settings alone migrates, says so and exits 0; the
    sealing it could not run is named as skipped (with why and what to run), not an unrelated settings error."""
    for name, value in _PRODUCTION_DB_ONLY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CRYPTOPAY_DATABASE_URL", url)
    monkeypatch.setenv("CRYPTOPAY_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"at revision {head()}" in result.stdout
    assert "sealing skipped" in result.stderr and "cryptopay privacy seal" in result.stderr
    result = CliRunner().invoke(app, ["db", "upgrade", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["revision"] == head()
    assert json.loads(result.stdout)["sealed"] is None


def test_db_downgrade_asks_first_and_production_refuses_base(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """review4 R16: ``db downgrade`` asks before dropping anything (``--yes`` skips the question; a "no" changes
    nothing); in production ``base`` (every table) is refused unless ``--destroy-all-data`` says so explicitly."""
    assert _run("db", "upgrade", "--url", url)[0] == 0
    result = CliRunner().invoke(app, ["db", "downgrade", "--url", url, "--", "-1"], input="n\n")
    assert result.exit_code != 0 and "Nothing changed" in result.output
    assert json.loads(_run("db", "current", "--url", url, "--json")[1])["revision"] == head()
    monkeypatch.setenv("CRYPTOPAY_ENV", "production")
    for args in (["--yes"], ["--yes", "--json"]):
        result = CliRunner().invoke(app, ["db", "downgrade", "base", "--url", url, *args])
        assert result.exit_code == 2 and "--destroy-all-data" in result.output, result.output
    assert json.loads(_run("db", "current", "--url", url, "--json")[1])["revision"] == head()
    result = CliRunner().invoke(app, ["db", "downgrade", "base", "--url", url, "--destroy-all-data"], input="y\n")
    assert result.exit_code == 0 and "base (empty)" in result.output


def test_db_url_defaults_to_the_environment(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``--url`` the commands use ``CRYPTOPAY_DATABASE_URL``."""
    monkeypatch.setenv("CRYPTOPAY_DATABASE_URL", url)
    assert _run("db", "upgrade")[0] == 0
    assert json.loads(_run("db", "current", "--json")[1])["revision"] == head()


def test_audit_verify_reports_intact_then_broken(url: str) -> None:
    """``audit verify`` exits 0 on an intact log and non-zero naming the first broken record after an edit."""
    _run("db", "upgrade", "--url", url)
    engine = make_engine(url)
    storage = SqlStorage(engine)
    for n in range(3):
        with storage.unit_of_work() as uow:
            uow.audit.append(AuditEvent("admin:a1", "kyc.approve", f"user:u{n}", datetime(2026, 1, 5, tzinfo=UTC)))
    code, out = _run("audit", "verify", "--url", url)
    assert code == 0 and "intact" in out
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET actor = 'admin:mallory' WHERE seq = 2"))
    engine.dispose()
    code, out = _run("audit", "verify", "--url", url)
    assert code != 0 and "#2" in out and "edited" in out
    code, out = _run("audit", "verify", "--url", url, "--json")
    assert code != 0 and json.loads(out.splitlines()[0])["problems"][0]["seq"] == 2


def test_ledger_balances_and_trial_balance(url: str) -> None:
    """``ledger balances`` lists accounts with string amounts; ``ledger trial-balance`` is zero per asset."""
    _run("db", "upgrade", "--url", url)
    engine = make_engine(url)
    ledger = Ledger(SqlLedgerStore(engine))
    ledger.open_account(Account("assets:bank:KES", AccountKind.ASSET, KES, allow_negative=True))
    ledger.open_account(Account("liabilities:user:a:KES", AccountKind.LIABILITY, KES))
    ledger.transfer("t1", debit="assets:bank:KES", credit="liabilities:user:a:KES", amount=Money.of("12.50", KES))
    engine.dispose()
    code, out = _run("ledger", "balances", "--url", url, "--json")
    assert code == 0
    accounts = {a["account"]: a for a in json.loads(out)["accounts"]}
    assert accounts["liabilities:user:a:KES"]["posted"] == "12.50"
    code, out = _run("ledger", "trial-balance", "--url", url, "--json")
    assert code == 0 and json.loads(out) == {"balanced": True, "assets": {"KES": "0.00"}}
    code, out = _run("ledger", "balances", "--url", url)
    assert code == 0 and "liabilities:user:a:KES" in out


def test_decimals_print_positionally_never_in_exponent_form() -> None:
    """Review3 I23: a BTC zero of the trial balance (``Decimal("0E-8")``) prints as ``0.00000000``, in tables and
    ``--json`` alike."""
    from decimal import Decimal

    import typer
    from cryptopay_cli.output import emit_json, emit_table
    from typer.testing import CliRunner

    app = typer.Typer()

    @app.command()
    def show() -> None:
        emit_json({"BTC": Decimal("0E-8")})
        emit_table([{"asset": "BTC", "total": Decimal("0E-8")}], ["asset", "total"])

    out = CliRunner().invoke(app, []).output
    assert '"BTC": "0.00000000"' in out and "0.00000000" in out.splitlines()[-1] and "E-" not in out
