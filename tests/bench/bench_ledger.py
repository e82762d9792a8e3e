"""Ledger throughput on PostgreSQL against pgbench's TPC-B-like baseline, on the same server in the same run.

Phases: pgbench (scale 10, 8 clients, 20 s); the ledger's single two-posting transfers, each its own transaction,
from 8 worker processes among 1000 accounts; the ledger's batched path (``Ledger.post_many``, 100 transfers per
transaction) from a few worker processes, each moving money among its own slice of the accounts.
The ledger runs on ``SqlBatchLedgerStore``, the opt-in SDK/batch store whose new entries take the one-statement
PL/pgSQL path (migration 0006); production flows post inside a unit of work on ``SqlLedgerStore`` instead.
Prints a table, then as its last line one JSON object with the figures and the ratios
(ledger transfers per second / pgbench transactions per second).

Run: ``scripts/with-services.sh .venv/bin/python tests/bench/bench_ledger.py`` (``make bench-ledger``).
Environment: ``DATABASE_URL`` (admin URL of the server, default postgresql://postgres@127.0.0.1:5432/postgres),
``BENCH_SECONDS`` (default 20), ``BENCH_WORKERS`` (default 8), ``BENCH_BATCH_WORKERS`` (default 2).
"""

from __future__ import annotations

import glob
import json
import multiprocessing as mp
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from urllib.parse import urlsplit

import psycopg
from cryptopay.adapters.sql import SqlBatchLedgerStore, make_engine, upgrade
from cryptopay.core.ledger import Account, AccountKind, EntryRequest, Ledger, Posting
from cryptopay.core.money import KES, Money

ACCOUNTS = 1000
FUNDING = Money.of("1000000000", KES)
BATCH = 100


def _admin_url() -> str:
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    return url.replace("postgresql+psycopg://", "postgresql://")


def _pgbench() -> str:
    found = shutil.which("pgbench") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))[::-1]), None)
    if not found:
        sys.exit("pgbench not found: install PostgreSQL's client tools")
    return found


def _create_db(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{admin.rpartition('/')[0]}/{name}"


def _drop_db(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    parts = urlsplit(url)
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres"]
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = parts.password
    return [*args, parts.path.lstrip("/")], env


def run_pgbench(url: str, seconds: int, *, measure: Callable[[], AbstractContextManager[Any]] = nullcontext) -> float:
    """pgbench's built-in TPC-B-like script at scale 10 with 8 clients; returns its tps. ``measure`` is entered
    around the timed run only (not the data load)."""
    binary = _pgbench()
    args, env = _pg_args(url)
    subprocess.run([binary, "-i", "-s", "10", "-q", *args], check=True, env=env, capture_output=True)
    with measure():
        done = subprocess.run(
            [binary, "-c", "8", "-j", "2", "-T", str(seconds), *args],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        )
    match = re.search(r"tps = ([0-9.]+)", done.stdout)
    if not match:
        sys.exit(f"could not read pgbench's tps from:\n{done.stdout}\n{done.stderr}")
    return float(match.group(1))


def _code(n: int) -> str:
    return f"liabilities:user:{n:05d}:KES"


def setup_ledger(url: str) -> None:
    """Migrate, open the accounts and fund each one from an asset account (in batches)."""
    upgrade(url)
    engine = make_engine(url)
    ledger = Ledger(SqlBatchLedgerStore(engine))
    ledger.open_account(Account("assets:bank:KES", AccountKind.ASSET, KES, allow_negative=True))
    for n in range(ACCOUNTS):
        ledger.open_account(Account(_code(n), AccountKind.LIABILITY, KES))
    requests = [
        EntryRequest(f"fund-{n}", (Posting.debit("assets:bank:KES", FUNDING), Posting.credit(_code(n), FUNDING)))
        for n in range(ACCOUNTS)
    ]
    for start in range(0, ACCOUNTS, 200):
        ledger.post_many(requests[start : start + 200])
    engine.dispose()


def _transfer(rng: random.Random, key: str, accounts: range = range(ACCOUNTS)) -> EntryRequest:
    a, b = rng.sample(accounts, 2)
    amount = Money.from_minor(rng.randint(1, 100_000), KES)
    return EntryRequest(key, (Posting.debit(_code(a), amount), Posting.credit(_code(b), amount)))


def _slice(worker: int, workers: int) -> range:
    """A batch worker's own accounts: bulk runs are sharded (by merchant, say) so batches never queue on each other."""
    size = ACCOUNTS // workers
    return range(worker * size, (worker + 1) * size)


def _worker(url: str, worker: int, workers: int, batch: int, seconds: float, start: Any, results: Any) -> None:
    engine = make_engine(url, pool_size=2)
    ledger = Ledger(SqlBatchLedgerStore(engine))
    rng = random.Random(worker)
    accounts = _slice(worker, workers) if batch > 1 else range(ACCOUNTS)
    prefix = f"{'b' if batch > 1 else 's'}{worker}-{secrets.token_hex(3)}"
    count = sequence = 0
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if batch == 1:
            ledger.post(_transfer(rng, f"{prefix}-{sequence}"))
        else:
            ledger.post_many([_transfer(rng, f"{prefix}-{sequence}-{i}", accounts) for i in range(batch)])
        sequence += 1
        count += batch
    results.put(count)
    engine.dispose()


def run_ledger(url: str, *, workers: int, batch: int, seconds: int) -> float:
    """Transfers per second from ``workers`` processes posting ``batch`` transfers per transaction."""
    ctx = mp.get_context("spawn")
    start, results = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(url, w, workers, batch, seconds, start, results)) for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    start.wait()  # every worker is connected and ready: the clock starts for all at once
    began = time.monotonic()
    counts = [results.get(timeout=seconds + 120) for _ in procs]
    elapsed = time.monotonic() - began
    for proc in procs:
        proc.join()
    return sum(counts) / elapsed


def main() -> None:
    seconds = int(os.environ.get("BENCH_SECONDS", "20"))
    workers = int(os.environ.get("BENCH_WORKERS", "8"))
    batch_workers = int(os.environ.get("BENCH_BATCH_WORKERS", "2"))
    admin = _admin_url()
    tag = secrets.token_hex(3)
    names = {"pgbench": f"cryptopay_bench_pgbench_{tag}", "ledger": f"cryptopay_bench_ledger_{tag}"}
    try:
        pgbench_url = _create_db(admin, names["pgbench"])
        ledger_url = _create_db(admin, names["ledger"]).replace("postgresql://", "postgresql+psycopg://", 1)
        print(f"pgbench: TPC-B-like, scale 10, 8 clients, {seconds} s ...", file=sys.stderr)
        pgbench_tps = run_pgbench(pgbench_url, seconds)
        print(f"ledger: {ACCOUNTS} funded accounts ...", file=sys.stderr)
        setup_ledger(ledger_url)
        print(f"ledger: single transfers, {workers} workers, {seconds} s ...", file=sys.stderr)
        single = run_ledger(ledger_url, workers=workers, batch=1, seconds=seconds)
        print(f"ledger: batches of {BATCH}, {batch_workers} workers, {seconds} s ...", file=sys.stderr)
        batched = run_ledger(ledger_url, workers=batch_workers, batch=BATCH, seconds=seconds)
    finally:
        for name in names.values():
            _drop_db(admin, name)
    rows = [
        ("pgbench TPC-B-like (scale 10, 8 clients)", "transactions/s", pgbench_tps, 1.0),
        (f"ledger single transfers ({workers} workers)", "transfers/s", single, single / pgbench_tps),
        (f"ledger post_many x{BATCH} ({batch_workers} workers)", "transfers/s", batched, batched / pgbench_tps),
    ]
    print(f"{'phase':<44} {'unit':<16} {'rate':>10} {'ratio':>7}")
    for phase, unit, rate, ratio in rows:
        print(f"{phase:<44} {unit:<16} {rate:>10.1f} {ratio:>7.2f}")
    print(
        json.dumps(
            {
                "pgbench_tps": round(pgbench_tps, 1),
                "single_tps": round(single, 1),
                "batched_tps": round(batched, 1),
                "single_ratio": round(single / pgbench_tps, 3),
                "batched_ratio": round(batched / pgbench_tps, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
