"""Treasury stores (memory, SQLite, PostgreSQL): sweeps recorded once per open address, float readings kept once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.adapters.sql.repositories.treasury import SqlTreasuryStore
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.money import KES, Money
from cryptopay.core.testing.treasury import InMemoryTreasuryStore
from cryptopay.core.treasury import FloatReading, Sweep, SweepState

from tests.support.sql_engines import race

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(engine):
    return InMemoryTreasuryStore() if engine is None else SqlTreasuryStore(engine)


def sweep(n: int, address: str = "TDep1", minutes: int = 0) -> Sweep:
    return Sweep(
        id=f"swp_{n}",
        network="tron",
        deposit_address=address,
        hot_wallet="THot",
        seen=Money.of("75.5", "USDT"),
        created_at=NOW + timedelta(minutes=minutes),
    )


def test_a_sweep_is_kept_exactly_and_listed_by_state_oldest_first(store):
    """A sweep reads back as stored; lists are oldest first, by state or open only."""
    first, second = sweep(1, "TDep1", 1), sweep(2, "TDep2", 0)
    store.add_sweep(first)
    store.add_sweep(second)
    assert store.get_sweep("swp_1") == first and store.get_sweep("swp_9") is None
    assert [s.id for s in store.sweeps(open_only=True)] == ["swp_2", "swp_1"]
    first.confirmed(NOW, swept=Money.of("75.5", "USDT"), fee=Money.of("1.25", "TRX"), entry_id="ent_1")
    store.update_sweep(first)
    assert store.get_sweep("swp_1") == first
    assert [s.id for s in store.sweeps(open_only=True)] == ["swp_2"]
    assert [s.id for s in store.sweeps(state=SweepState.CONFIRMED)] == ["swp_1"]
    assert [s.id for s in store.sweeps(limit=1)] == ["swp_2"]


def test_an_address_has_one_open_sweep_and_a_closed_one_frees_it(store):
    """A second open sweep of an address is a Conflict until the first is closed; unknown updates are NotFound."""
    first = sweep(1)
    store.add_sweep(first)
    with pytest.raises(Conflict):
        store.add_sweep(sweep(2))
    with pytest.raises(Conflict):
        store.add_sweep(sweep(1, "TDep9"))  # its id is taken
    first.moved(NOW, SweepState.EMPTY, note="nothing left")
    store.update_sweep(first)
    store.add_sweep(sweep(3))
    with pytest.raises(NotFound):
        store.update_sweep(sweep(9))


def test_a_stale_copy_never_reopens_a_closed_sweep(store):
    """Two workers advanced one sweep: the one that confirmed it wins; the other's stale SENT writes nothing (False)
    instead of reopening a booked sweep; an open sweep is still updated."""
    store.add_sweep(sweep(1))
    stale, winner = store.get_sweep("swp_1"), store.get_sweep("swp_1")
    winner.confirmed(NOW, swept=Money.of("75.5", "USDT"), fee=Money.of("1.25", "TRX"), entry_id="ent_1")
    assert store.update_sweep(winner) is True
    stale.moved(NOW, SweepState.SENT, sweep_tx="0xabc", swept=Money.of("75.5", "USDT"))
    assert store.update_sweep(stale) is False
    assert store.get_sweep("swp_1").state is SweepState.CONFIRMED
    assert store.sweeps(open_only=True) == []


def test_racing_planners_open_one_sweep_of_an_address(store):
    """Four workers planning the same address at once: exactly one sweep is recorded."""

    def plan(i: int) -> bool:
        try:
            store.add_sweep(sweep(10 + i))
        except Conflict:
            return False
        return True

    assert sorted(race(4, plan)) == [False, False, False, True]
    assert len(store.sweeps(open_only=True)) == 1


def test_float_readings_are_kept_once_and_the_latest_wins(store):
    """A reading is kept once by id; the latest by time is the float's latest word."""

    def reading(n: int, minutes: int, utility: str) -> FloatReading:
        return FloatReading(
            id=f"b2c:po_{n}",
            source="b2c_result",
            reference=f"po_{n}",
            at=NOW + timedelta(minutes=minutes),
            utility=Money.of(utility, KES),
            working=Money.of("1199371.00", KES),
            books=Money.of("-250", KES),
        )

    assert store.latest_reading() is None
    assert store.add_reading(reading(1, 5, "8959269.60")) is True
    assert store.add_reading(reading(2, 1, "9000000")) is True
    assert store.add_reading(reading(1, 9, "1")) is False  # a repeat of the same result changes nothing
    assert store.latest_reading() == reading(1, 5, "8959269.60")
