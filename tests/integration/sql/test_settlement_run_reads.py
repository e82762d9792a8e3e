"""A settlement run reads a page of merchants at a time: its statements do not grow one-per-merchant (no N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptopay.adapters.bootstrap import Services, Settings, build
from cryptopay.core.testing.system import ManualClock

from tests.bench.bench_settlement import RUN_AT, SEEDED_AT, seed, settling_for

MERCHANTS = 60


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build(Settings.from_env({"CRYPTOPAY_DATA_DIR": str(tmp_path / "data")}), clock=ManualClock(SEEDED_AT))
    seed(built, MERCHANTS)
    yield built
    built.close()


def statements_of(work) -> tuple[int, object]:
    counted: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        counted.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
    try:
        result = work()
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)
    return len(counted), result


def test_planning_sixty_merchants_takes_a_handful_of_statements(services: Services) -> None:
    """A dry run over 60 due merchants plans every one with fewer statements than merchants (a page read each)."""
    settling = settling_for(services, ManualClock(RUN_AT))
    statements, runs = statements_of(lambda: settling.run_settlements(dry_run=True))
    assert len(runs) == MERCHANTS and all(run.plan is not None and run.plan.parts for run in runs)
    assert statements < MERCHANTS // 4


def test_a_second_run_skips_settled_merchants_without_reading_each(services: Services) -> None:
    """After the run, a second run finds every merchant settled at this cut-off from the page reads alone."""
    settling = settling_for(services, ManualClock(RUN_AT))
    assert sum(len(run.payouts) for run in settling.run_settlements()) == MERCHANTS
    statements, again = statements_of(settling.run_settlements)
    assert all(run.reason.startswith("not due") for run in again) and statements < MERCHANTS // 4
