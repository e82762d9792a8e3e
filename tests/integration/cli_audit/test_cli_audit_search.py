"""``cryptopay audit search`` (review12 R12-6): subject or party, actor, action prefix and dates, newest first, paged
with ``--before``; audited as ``audit.searched`` by the operator; a bad date exits 2 and searches nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptopay.adapters.bootstrap import Settings, build
from cryptopay.core.audit import AuditEvent
from cryptopay_cli.context import os_login, use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

AT = datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[object]:
    built = build(Settings.for_data_dir(tmp_path))
    use_services(built)
    yield built
    use_services(None)
    built.close()


def cli(*args: str):
    return CliRunner().invoke(build_app("audit"), ["audit", *args])


def _searched(services) -> list:
    with services.uow() as uow:
        return [r for r in uow.audit.records() if r.action == "audit.searched"]


def test_search_finds_newest_first_pages_on_and_is_audited(services):
    with services.uow() as uow:
        for n in range(5):
            uow.audit.append(AuditEvent("user:usr_off", "kyc.approve", "user:usr_c1", AT + timedelta(days=n)))
        uow.audit.append(AuditEvent("user:usr_off", "alert.read", "user:usr_c1", AT))
    done = cli("search", "--subject", "usr_c1", "--action", "kyc.", "--since", "2026-03-03", "--limit", "2", "--json")
    assert done.exit_code == 0, done.output
    found = json.loads(done.output)
    assert [r["at"][:10] for r in found["records"]] == ["2026-03-06", "2026-03-05"] and found["before"]
    again = json.loads(
        cli(
            "search",
            "--subject",
            "usr_c1",
            "--action",
            "kyc.",
            "--before",
            str(found["before"]),
            "--since",
            "2026-03-03",
            "--json",
        ).output
    )
    assert [r["at"][:10] for r in again["records"]] == ["2026-03-04", "2026-03-03"] and again["before"] is None
    table = cli("search", "--actor", "user:usr_off")
    assert table.exit_code == 0 and "alert.read" in table.output and "kyc.approve" in table.output
    searched = _searched(services)
    assert len(searched) == 3 and {r.actor for r in searched} == {f"ops:{os_login()}"}
    assert dict(searched[0].details)["subject"] == "usr_c1" and dict(searched[0].details)["hits"] == "2"


def test_a_bad_date_exits_2_and_searches_nothing(services):
    done = cli("search", "--since", "March")
    assert done.exit_code == 2 and "YYYY-MM-DD" in done.output
    assert cli("search", "--limit", "0").exit_code == 2
    assert _searched(services) == []


def test_help_lists_search():
    done = CliRunner().invoke(build_app("audit"), ["audit", "--help"])
    assert done.exit_code == 0 and "search" in done.output and "verify" in done.output
