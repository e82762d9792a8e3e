"""R10-6: ledger entries sealed into the audit chain by the worker. Someone who can write the database (triggers
lifted) edits a sealed line, deletes a sealed entry or slips one into a sealed range: ``cryptopay audit verify
--ledger`` exits 1 naming the batch. On PostgreSQL an entry of a transaction still under way is never passed over
(it commits into the next batch, not before a sealed one), and two sealers at once seal each entry once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptopay.adapters.sql import make_engine, upgrade
from cryptopay.adapters.sql.ledger_seal import SqlLedgerSeals, verify_ledger_seals
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.ledger import Account, AccountKind, EntryRequest, Ledger, Posting
from cryptopay.core.ledger.sealing import LedgerSealing
from cryptopay.core.money import KES, Money
from cryptopay.core.testing.system import ManualClock
from cryptopay_cli.main import build_app
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from tests.support.ledger_seal import wait_sealable

runner = CliRunner()


def _ledger(engine: Engine) -> Ledger:
    ledger = Ledger(SqlStorage(engine).ledger_store)
    ledger.open_account(Account("assets:float:KES", AccountKind.ASSET, KES))
    ledger.open_account(Account("equity:owner:KES", AccountKind.EQUITY, KES))
    return ledger


def _post(ledger: Ledger, key: str, amount: str = "10.00") -> str:
    postings = [
        Posting.debit("assets:float:KES", Money.of(amount, KES)),
        Posting.credit("equity:owner:KES", Money.of(amount, KES)),
    ]
    return ledger.post(EntryRequest(key, postings, f"capital {key}")).id


def _sealing(engine: Engine, **bounds: int) -> LedgerSealing:
    return LedgerSealing(SqlLedgerSeals(engine), ManualClock(), **bounds)


@pytest.fixture(params=["sqlite", "postgres"])
def sealed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, str, list[str]]]:
    """Five entries sealed in batches of two (three ``ledger.sealed`` records); the engine, its URL, the entry ids."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'seal.db'}"
        upgrade(url)
        engine = make_engine(url)
    else:
        engine = request.getfixturevalue("pg_engine")
        url = request.getfixturevalue("sql_pg_url")
    ledger = _ledger(engine)
    ids = [_post(ledger, f"seal-{n}") for n in range(5)]
    wait_sealable(engine)
    assert [b.count for b in _sealing(engine, batch=2).seal()] == [2, 2, 1]
    yield engine, url, ids
    if request.param == "sqlite":
        engine.dispose()


def _owner_writes(engine: Engine, *statements: str) -> None:
    """Lift the ledger's append-only triggers as the tables' owner can, run ``statements``, put them back (PG)."""
    tables = ("ledger_entries", "ledger_lines")
    with engine.begin() as conn:
        for table in tables:
            if engine.dialect.name == "postgresql":
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
            else:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        for statement in statements:
            conn.execute(text(statement))
        if engine.dialect.name == "postgresql":
            for table in tables:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only"))


def _verify(url: str) -> tuple[int, str]:
    result = runner.invoke(build_app(), ["audit", "verify", "--ledger", "--url", url])
    return result.exit_code, result.output


def test_intact_seals_verify_and_say_how_many(sealed: tuple[Engine, str, list[str]]) -> None:
    """Sealed and untouched: exit 0, five sealed in three batches; a newer entry waits for the next seal."""
    engine, url, _ = sealed
    assert _verify(url) == (
        0,
        "audit log intact\nledger seals intact: 5 entries sealed in 3 batches, 0 waiting for the next seal\n",
    )
    _post(_ledger(engine), "late")
    report = verify_ledger_seals(engine)
    assert (report.sealed, report.waiting, report.problems) == (5, 1, ())


def test_an_edited_sealed_line_is_named(sealed: tuple[Engine, str, list[str]]) -> None:
    """A sealed line's amount changed in SQL (the balancing entry too, so the ledger still sums to zero): the batch
    holding it is named, exit 1; the audit chain itself is intact."""
    engine, url, ids = sealed
    _owner_writes(engine, f"UPDATE ledger_lines SET amount = amount * 100 WHERE entry_id = '{ids[2]}'")
    [problem] = verify_ledger_seals(engine).problems
    assert ids[2] in problem.batch and "edited" in problem.reason
    code, out = _verify(url)
    assert code == 1 and "audit log intact" in out and f"ledger seal broken at ledger seal #{problem.seq}" in out
    result = runner.invoke(build_app(), ["audit", "verify", "--ledger", "--json", "--url", url])
    found = json.loads(result.output.splitlines()[0])
    assert result.exit_code == 1 and not found["intact"] and found["ledger"]["problems"][0]["seq"] == problem.seq


def test_a_deleted_sealed_entry_is_named(sealed: tuple[Engine, str, list[str]]) -> None:
    """A sealed entry deleted with its lines: its batch holds one entry fewer than sealed."""
    engine, _, ids = sealed
    _owner_writes(
        engine,
        f"DELETE FROM ledger_lines WHERE entry_id = '{ids[4]}'",
        f"DELETE FROM ledger_entries WHERE id = '{ids[4]}'",
    )
    [problem] = verify_ledger_seals(engine).problems
    assert ids[4] in problem.batch and problem.reason == "0 entries where 1 were sealed (deleted or inserted)"


def test_an_edited_description_is_named(sealed: tuple[Engine, str, list[str]]) -> None:
    """Any stored field of a sealed entry counts, not only the amounts."""
    engine, _, ids = sealed
    _owner_writes(engine, f"UPDATE ledger_entries SET description = 'nothing to see' WHERE id = '{ids[0]}'")
    [problem] = verify_ledger_seals(engine).problems
    assert ids[0] in problem.batch and "edited" in problem.reason


def test_an_entry_slipped_into_a_sealed_range_is_named(pg_engine: Engine) -> None:
    """PostgreSQL: an entry inserted by hand with a sealed entry's transaction id (and an id sorting before it) lands
    inside a sealed batch."""
    ledger = _ledger(pg_engine)
    first = _post(ledger, "real")
    wait_sealable(pg_engine)
    _sealing(pg_engine).seal()
    with pg_engine.begin() as conn:
        tx = conn.execute(text("SELECT commit_tx FROM ledger_entries WHERE id = :id"), {"id": first}).scalar_one()
        conn.execute(
            text(
                "INSERT INTO ledger_entries (id, idempotency_key, description, created_at, meta, commit_tx) "
                "VALUES ('ent_00forged', 'forged', 'forged', now(), '[]', :tx)"
            ),
            {"tx": tx},
        )
        conn.execute(
            text(
                "INSERT INTO ledger_lines (entry_id, line_no, account_code, asset, amount, balance_before, balance_after) "
                "VALUES ('ent_00forged', 0, 'assets:float:KES', 'KES', 5, 0, 5), "
                "('ent_00forged', 1, 'equity:owner:KES', 'KES', -5, 0, 5)"
            )
        )
    [problem] = verify_ledger_seals(pg_engine).problems
    assert "2 entries where 1 were sealed" in problem.reason


def test_an_entry_of_a_transaction_under_way_is_not_passed_over(pg_engine: Engine) -> None:
    """PostgreSQL: while a transaction that began before a later entry is still open, the seal stops before that
    later entry; once the open one commits its entry, the next seal takes both, in transaction order, and verifies."""
    ledger = _ledger(pg_engine)
    early = _post(ledger, "early")
    wait_sealable(pg_engine)
    with pg_engine.connect() as open_conn:
        open_tx = open_conn.begin()
        open_conn.execute(text("SELECT pg_current_xact_id()"))  # a transaction id, older than the next entry's
        later = _post(ledger, "later")
        [first] = _sealing(pg_engine).seal()
        assert (first.count, first.last.entry_id) == (1, early)
        assert verify_ledger_seals(pg_engine).waiting == 1
        open_conn.execute(
            text(
                "INSERT INTO ledger_entries (id, idempotency_key, description, created_at, meta) "
                "VALUES ('ent_0inflight', 'inflight', 'in flight', now(), '[]')"
            )
        )
        open_conn.execute(
            text(
                "INSERT INTO ledger_lines (entry_id, line_no, account_code, asset, amount, balance_before, balance_after) "
                "VALUES ('ent_0inflight', 0, 'assets:float:KES', 'KES', 1, 0, 1), "
                "('ent_0inflight', 1, 'equity:owner:KES', 'KES', -1, 0, -1)"
            )
        )
        open_tx.commit()
    wait_sealable(pg_engine)
    [second] = _sealing(pg_engine).seal()
    assert (second.after, second.first.entry_id, second.last.entry_id, second.count) == (
        first.last,
        "ent_0inflight",
        later,
        2,
    )
    report = verify_ledger_seals(pg_engine)
    assert (report.sealed, report.waiting, report.problems) == (3, 0, ())


def test_a_second_sealer_skips_while_the_first_holds_the_head(pg_engine: Engine) -> None:
    """PostgreSQL: with the head claimed elsewhere a run seals nothing; two runs at once seal every entry once."""
    ledger = _ledger(pg_engine)
    for n in range(12):
        _post(ledger, f"race-{n}", "1")
    with pg_engine.connect() as other, other.begin():
        other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 0x6C65_6467_7365_616C})
        assert _sealing(pg_engine).seal() == []
    wait_sealable(pg_engine)
    results: list[int] = []

    def run() -> None:
        results.extend(b.count for b in _sealing(pg_engine, batch=1).seal())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(results) == 12
    report = verify_ledger_seals(pg_engine)
    assert (report.batches, report.sealed, report.problems) == (12, 12, ())


def test_a_p2p_send_is_sealed_and_an_edit_of_it_is_named(pg_engine: Engine) -> None:
    """A P2P send (which audits nothing itself) is sealed by the next run, its entry naming the transfer; its amount
    edited in SQL afterwards is named by verify."""
    from tests.support.sql_backends import Backend
    from tests.support.wallet_stack import wallet_stack

    stack = wallet_stack(Backend("postgres", SqlStorage(pg_engine), pg_engine))
    amina = stack.sign_up("254712000001", tier=1)
    stack.sign_up("254712000002", tier=1)
    stack.fund(amina, "500", "KES")
    transfer_id = stack.wallets.send(amina.id, "254712000002", Money.of("50", KES)).id
    wait_sealable(pg_engine)
    batches = _sealing(pg_engine).seal()
    with SqlLedgerSeals(pg_engine).reading() as session:
        entries = session.between(None, batches[-1].last)
    [entry] = [e for e in entries if dict(e.metadata).get("transfer_id") == transfer_id]
    assert entry.transfer is not None and entry.transfer.amount == Decimal("50")
    # R10-6 rest: the transfer's row is sealed too, its fixed fields only: a state change is no problem...
    _transfer_writes(pg_engine, transfer_id, state="returned")
    assert verify_ledger_seals(pg_engine).problems == ()
    # ...its amount, or its sender, changed in SQL is named as an edit of the batch (no keys needed to verify)
    # (a document that no longer holds an amount at all too: named, not a crash of the verification)
    for change in ({"amount": {"amount": "5000.00", "asset": "KES"}}, {"sender_id": "usr_mallory"}, {"amount": None}):
        edited = _transfer_writes(pg_engine, transfer_id, **change)
        [problem] = verify_ledger_seals(pg_engine).problems
        assert "edited" in problem.reason
        _transfer_writes(pg_engine, transfer_id, **edited)  # put back
    assert verify_ledger_seals(pg_engine).problems == ()
    _owner_writes(pg_engine, f"UPDATE ledger_lines SET amount = -amount WHERE entry_id = '{entry.id}'")
    [problem] = verify_ledger_seals(pg_engine).problems
    assert "edited" in problem.reason


def _transfer_writes(engine: Engine, transfer_id: str, **doc: Any) -> dict[str, Any]:
    """Change a transfer's stored document (and its ``sender_id`` column with it), as a database writer could; what
    was there before."""
    from cryptopay.adapters.sql.tables_wallets import wallet_transfers

    t = wallet_transfers.c
    with engine.begin() as conn:
        stored = conn.execute(sa.select(t.doc).where(t.id == transfer_id)).scalar_one()
        before = {key: stored[key] for key in doc}
        columns = {"sender_id": doc["sender_id"]} if "sender_id" in doc else {}
        conn.execute(wallet_transfers.update().where(t.id == transfer_id).values(doc=stored | doc, **columns))
    return before


def test_entries_from_before_the_migration_are_sealed_in_id_order(pg_engine: Engine) -> None:
    """PostgreSQL: entries written before 0272 all read commit_tx 1; they are sealed first, by id, in batches, before
    the entries written since, and verify."""
    ledger = _ledger(pg_engine)
    old = [_post(ledger, f"old-{n}") for n in range(5)]
    _owner_writes(pg_engine, f"UPDATE ledger_entries SET commit_tx = 1 WHERE id IN ({', '.join(repr(i) for i in old)})")
    new = _post(ledger, "new")
    wait_sealable(pg_engine)
    batches = _sealing(pg_engine, batch=2).seal()
    assert [b.count for b in batches] == [2, 2, 2]
    assert [(b.first.tx, b.first.entry_id) for b in batches[:2]] == [(1, sorted(old)[0]), (1, sorted(old)[2])]
    assert (batches[2].first.tx, batches[2].first.entry_id, batches[2].last.entry_id) == (1, sorted(old)[4], new)
    report = verify_ledger_seals(pg_engine)
    assert (report.sealed, report.waiting, report.problems) == (6, 0, ())
