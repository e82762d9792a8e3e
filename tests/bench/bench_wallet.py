"""P2P transfers through the wallet use case on PostgreSQL, against pgbench's TPC-B-like baseline in the same run.

Phases: pgbench (scale 10, 8 clients, ``BENCH_SECONDS``); then ``Wallets.send`` (the production use case: lock the
sender's wallet, read the month's usage, check the KYC limits, record the transfer and its usage, post the entry,
all in one unit of work on ``SqlStorage``) from 8 worker processes among 1,000 funded tier-1 wallets, each
transfer to a random other wallet by phone number. Prints a table, then as its last line one JSON object:
``{"pgbench_tps": ..., "p2p_tps": ..., "p2p_ratio": ...}`` (the goal is ``p2p_ratio >= 0.4``).

Run: ``make bench-wallet`` (``scripts/with-services.sh .venv/bin/python tests/bench/bench_wallet.py``).
Environment: ``DATABASE_URL`` (admin URL of the server), ``BENCH_SECONDS`` (default 20), ``BENCH_WORKERS`` (8).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptopay.adapters.sql import SqlLedgerStore, make_engine, upgrade
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.flows import FLOAT, open_wallet_accounts, wallet_account
from cryptopay.core.identity import Role, User
from cryptopay.core.kyc import KycProfile, PartyKind, Requirement
from cryptopay.core.ledger import EntryRequest, Ledger, Posting
from cryptopay.core.money import KES, Money
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay.core.wallets import Wallet
from cryptopay.core.wallets.service import Wallets

from tests.bench.bench_ledger import _admin_url, _create_db, _drop_db, run_pgbench

WALLETS = 1000
FUNDING = Money.of("5000000", KES)


def _phone(n: int) -> str:
    return f"2547{n:08d}"


def setup_wallets(url: str) -> None:
    """Migrate; create 1,000 users with tier-1 wallets (national ID approved) and fund each from the float."""
    upgrade(url)
    engine = make_engine(url)
    storage, ledger, now = SqlStorage(engine), Ledger(SqlLedgerStore(engine)), datetime.now(UTC)
    for start in range(0, WALLETS, 100):
        with storage.unit_of_work() as uow:
            for n in range(start, start + 100):
                user_id = f"usr_bench_{n:05d}"
                uow.users.add(User(user_id, None, "not-a-login", Role.PERSONAL, now, phone=_phone(n)))
                uow.wallets.add(Wallet(user_id=user_id, phone=_phone(n), created_at=now))
                profile = KycProfile(party_id=user_id, kind=PartyKind.PERSONAL)
                profile.submit(1, {Requirement.PHONE, Requirement.NATIONAL_ID}, at=now)
                profile.approve("usr_bench_admin", at=now)
                uow.kyc.add(profile)
                open_wallet_accounts(ledger, user_id, session=uow.ledger)
    requests = [
        EntryRequest(
            f"fund-{n}",
            (Posting.debit(FLOAT, FUNDING), Posting.credit(wallet_account(f"usr_bench_{n:05d}", KES), FUNDING)),
        )
        for n in range(WALLETS)
    ]
    for start in range(0, WALLETS, 200):
        ledger.post_many(requests[start : start + 200])
    engine.dispose()


def _worker(url: str, worker: int, seconds: float, start: Any, results: Any) -> None:
    engine = make_engine(url, pool_size=2)
    ids = RandomIds()
    wallets = Wallets(SqlStorage(engine, ids=ids).unit_of_work, Ledger(SqlLedgerStore(engine)), SystemClock(), ids)
    rng = random.Random(worker)
    count = 0
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sender, recipient = rng.sample(range(WALLETS), 2)
        amount = Money.from_minor(rng.randint(100, 10_000), KES)
        wallets.send(f"usr_bench_{sender:05d}", _phone(recipient), amount, note="bench")
        count += 1
    results.put(count)
    engine.dispose()


def run_p2p(url: str, *, workers: int, seconds: int) -> float:
    """Transfers per second from ``workers`` processes, each transfer its own unit of work."""
    ctx = mp.get_context("spawn")
    start, results = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, w, seconds, start, results)) for w in range(workers)]
    for proc in procs:
        proc.start()
    start.wait()
    began = time.monotonic()
    counts = [results.get(timeout=seconds + 120) for _ in procs]
    elapsed = time.monotonic() - began
    for proc in procs:
        proc.join()
    return sum(counts) / elapsed


def main() -> None:
    seconds = int(os.environ.get("BENCH_SECONDS", "20"))
    workers = int(os.environ.get("BENCH_WORKERS", "8"))
    admin = _admin_url()
    tag = secrets.token_hex(3)
    names = {"pgbench": f"cryptopay_bench_pgbench_{tag}", "wallet": f"cryptopay_bench_wallet_{tag}"}
    try:
        pgbench_url = _create_db(admin, names["pgbench"])
        wallet_url = _create_db(admin, names["wallet"]).replace("postgresql://", "postgresql+psycopg://", 1)
        print(f"pgbench: TPC-B-like, scale 10, 8 clients, {seconds} s ...", file=sys.stderr)
        pgbench_tps = run_pgbench(pgbench_url, seconds)
        print(f"wallets: {WALLETS} funded tier-1 wallets ...", file=sys.stderr)
        setup_wallets(wallet_url)
        print(f"wallets: P2P by phone through Wallets.send, {workers} workers, {seconds} s ...", file=sys.stderr)
        p2p = run_p2p(wallet_url, workers=workers, seconds=seconds)
    finally:
        for name in names.values():
            _drop_db(admin, name)
    print(f"{'phase':<44} {'unit':<16} {'rate':>10} {'ratio':>7}")
    print(f"{'pgbench TPC-B-like (scale 10, 8 clients)':<44} {'transactions/s':<16} {pgbench_tps:>10.1f} {1.0:>7.2f}")
    label = f"wallet P2P transfers ({workers} workers)"
    print(f"{label:<44} {'transfers/s':<16} {p2p:>10.1f} {p2p / pgbench_tps:>7.2f}")
    figures = {"pgbench_tps": round(pgbench_tps, 1), "p2p_tps": round(p2p, 1), "p2p_ratio": round(p2p / pgbench_tps, 3)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
