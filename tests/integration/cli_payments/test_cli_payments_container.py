"""The payment commands over the real composition root: an embedded SQLite deployment built from the environment."""

from __future__ import annotations

import json
import os

import pytest
from cryptopay_cli.context import begin_invocation, use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

app = build_app()


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    """No installed services: the commands build the root's ``Services`` from a fresh data directory."""
    for name in [n for n in os.environ if n.startswith("CRYPTOPAY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CRYPTOPAY_DATA_DIR", str(tmp_path / "data"))
    previous = use_services(None)
    yield
    begin_invocation()
    use_services(previous)


def test_cli_payment_commands_read_a_fresh_sqlite_deployment(embedded):
    """On a new embedded deployment the listings are empty and the books reconcile (exit 0)."""
    runner = CliRunner()
    report = runner.invoke(app, ["reconcile", "--json"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["clean"] is True
    for group in ("merchants", "invoices", "payouts", "settlements"):
        listed = runner.invoke(app, [group, "list", "--json"])
        assert listed.exit_code == 0, listed.output
        assert json.loads(listed.stdout) == {group: []}


def test_an_unknown_payout_is_not_found_without_daraja_settings(embedded):
    """`payouts show` and `payouts retry` of an unknown id exit 3 (not found) on a deployment with no M-Pesa settings:
    the Daraja client is built only when M-Pesa is asked (review 3, I8: it was exit 2 "missing Daraja settings")."""
    runner = CliRunner()
    for command in (["payouts", "show", "po_nope"], ["payouts", "retry", "po_nope"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 3, result.output
        assert "no payout po_nope" in result.output and "Daraja" not in result.output
