"""P2P transfers through the wallet use case on PostgreSQL, against pgbench's TPC-B-like baseline in the same run.

Phases: pgbench (scale 10, 8 clients, ``BENCH_SECONDS``); then ``Wallets.send`` as production wires it (built by
the composition root, ``cryptopay.adapters.bootstrap.build``: personal data sealed and phones keyed by the
development keys in a temporary data directory, AML monitoring's feed journaling each send's two movements) from
8 worker processes among 1,000 funded tier-1 wallets, each transfer to a random other wallet by phone number. A
send locks the sender's wallet, reads the month's usage, checks the KYC limits, records the transfer and its usage,
posts the entry, all in one unit of work, and journals its movements for monitoring. On the wire (PostgreSQL) that
is two round trips of prepared statements: ``BEGIN; SET LOCAL ...; EXECUTE`` the read, then ``EXECUTE`` the one
write (the ledger's entry, lines, balances and key, the transfer, usage and journal rows, each table's rows as one
array of a row type) with the ``COMMIT``.

Prints a table (with the CPU each phase cost per transaction: the server's, read from ``/proc`` for the benchmark
database's backends when the server is local, and the wallet workers' own, ``time.process_time``), then as its last
line one JSON object: ``{"pgbench_tps": ..., "p2p_tps": ..., "p2p_ratio": ...}`` (the goal is ``p2p_ratio >= 0.4``).

Run: ``make bench-wallet`` (``scripts/with-services.sh .venv/bin/python tests/bench/bench_wallet.py``).
Environment: ``DATABASE_URL`` (admin URL of the server), ``BENCH_SECONDS`` (default 20), ``BENCH_WORKERS`` (8),
``BENCH_WIRING`` (``root``, the default; ``bare``: ``Wallets`` over ``SqlStorage`` without monitoring or sealing, to
see what those cost).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import psycopg
from cryptopay.adapters.bootstrap import Settings, build
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


class _Wiring:
    """``Wallets`` with the unit of work and ledger under it: as the composition root builds them (``root``), or
    bare over ``SqlStorage`` (``bare``: no monitoring, personal data in the clear)."""

    def __init__(self, url: str, data_dir: str, kind: str) -> None:
        if kind == "root":
            env = {"CRYPTOPAY_DATA_DIR": data_dir, "CRYPTOPAY_DATABASE_URL": url}
            services = build(Settings.from_env(env))
            self.wallets, self.uow, self.ledger = services.wallets, services.uow, services.ledger
            self.close: Callable[[], None] = services.close
        elif kind == "bare":
            engine, ids = make_engine(url, pool_size=2), RandomIds()
            self.uow, self.ledger = SqlStorage(engine, ids=ids).unit_of_work, Ledger(SqlLedgerStore(engine))
            self.wallets = Wallets(self.uow, self.ledger, SystemClock(), ids)
            self.close = engine.dispose
        else:
            sys.exit(f"BENCH_WIRING is root or bare, not {kind!r}")


def setup_wallets(url: str, data_dir: str, kind: str, count: int = WALLETS) -> None:
    """Migrate; create ``count`` (1,000) users with tier-1 wallets (national ID approved) and fund each from the
    float."""
    upgrade(url)
    wiring, now = _Wiring(url, data_dir, kind), datetime.now(UTC)
    for start in range(0, count, 100):
        with wiring.uow() as uow:
            for n in range(start, min(start + 100, count)):
                user_id = f"usr_bench_{n:05d}"
                uow.users.add(User(user_id, None, "not-a-login", Role.PERSONAL, now, phone=_phone(n)))
                uow.wallets.add(Wallet(user_id=user_id, phone=_phone(n), created_at=now))
                profile = KycProfile(party_id=user_id, kind=PartyKind.PERSONAL)
                profile.submit(1, {Requirement.PHONE, Requirement.NATIONAL_ID}, at=now)
                profile.approve("usr_bench_admin", at=now)
                uow.kyc.add(profile)
                open_wallet_accounts(wiring.ledger, user_id, session=uow.ledger)
    requests = [
        EntryRequest(
            f"fund-{n}",
            (Posting.debit(FLOAT, FUNDING), Posting.credit(wallet_account(f"usr_bench_{n:05d}", KES), FUNDING)),
        )
        for n in range(count)
    ]
    for start in range(0, count, 200):
        wiring.ledger.post_many(requests[start : start + 200])
    wiring.close()


def _worker(url: str, data_dir: str, kind: str, worker: int, seconds: float, start: Any, results: Any) -> None:
    wiring = _Wiring(url, data_dir, kind)
    rng = random.Random(worker)

    def send() -> None:
        sender, recipient = rng.sample(range(WALLETS), 2)
        # KES 50-100: a send by phone is worth at least an invitation (review H19; it was KES 1-100)
        amount = Money.from_minor(rng.randint(5_000, 10_000), KES)
        wiring.wallets.send(f"usr_bench_{sender:05d}", _phone(recipient), amount, note="bench")

    send()  # the pool's connection is open and the statements known, as in a running server
    count = 0
    start.wait()
    cpu, deadline = time.process_time(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        send()
        count += 1
    results.put((count, time.process_time() - cpu))
    wiring.close()


class ServerCpu:
    """CPU seconds the server's backends of one database spend while ``measuring``: ``/proc/<pid>/stat`` of each
    backend (``pg_stat_activity``), sampled every 0.2 s from when it is first seen (so a phase's setup is not
    counted). ``None`` when the server is not on this machine (no ``/proc`` of its backends)."""

    def __init__(self, admin: str, database: str) -> None:
        self._admin, self._database = admin, database
        self._seen: dict[int, list[int]] = {}

    @contextmanager
    def measuring(self) -> Iterator[None]:
        done = threading.Event()
        with psycopg.connect(self._admin, autocommit=True) as conn:

            def sample() -> None:
                while not done.wait(0.2):
                    self._sample(conn)

            sampler = threading.Thread(target=sample)
            self._sample(conn)
            sampler.start()
            try:
                yield
            finally:
                done.set()
                sampler.join()

    def _sample(self, conn: psycopg.Connection[Any]) -> None:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
        for (pid,) in conn.execute(query, [self._database]).fetchall():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # not on this machine, or the backend just ended
                continue
            ticks = int(fields[11]) + int(fields[12])  # utime + stime
            self._seen.setdefault(pid, [ticks, ticks])[1] = ticks

    def seconds(self) -> float | None:
        if not self._seen:
            return None
        return sum(last - first for first, last in self._seen.values()) / os.sysconf("SC_CLK_TCK")


def run_p2p(
    url: str, data_dir: str, kind: str, *, workers: int, seconds: int, cpu: ServerCpu
) -> tuple[float, int, float]:
    """Transfers per second from ``workers`` processes, each transfer its own unit of work; also how many there were
    and the CPU seconds the workers spent on them."""
    ctx = mp.get_context("spawn")
    start, results = ctx.Barrier(workers + 1), ctx.Queue()
    args = (url, data_dir, kind)
    procs = [ctx.Process(target=_worker, args=(*args, w, seconds, start, results)) for w in range(workers)]
    for proc in procs:
        proc.start()
    with cpu.measuring():
        start.wait()
        began = time.monotonic()
        counts = [results.get(timeout=seconds + 120) for _ in procs]
        elapsed = time.monotonic() - began
    for proc in procs:
        proc.join()
    sends = sum(count for count, _ in counts)
    return sends / elapsed, sends, sum(spent for _, spent in counts)


def _ms(seconds: float | None, count: float) -> str:
    return "n/a" if seconds is None or not count else f"{1000 * seconds / count:.2f}"


def main() -> None:
    seconds = int(os.environ.get("BENCH_SECONDS", "20"))
    workers = int(os.environ.get("BENCH_WORKERS", "8"))
    kind = os.environ.get("BENCH_WIRING", "root")
    admin = _admin_url()
    tag = secrets.token_hex(3)
    names = {"pgbench": f"cryptopay_bench_pgbench_{tag}", "wallet": f"cryptopay_bench_wallet_{tag}"}
    pgbench_cpu, wallet_cpu = ServerCpu(admin, names["pgbench"]), ServerCpu(admin, names["wallet"])
    try:
        with tempfile.TemporaryDirectory(prefix="cryptopay-bench-wallet-") as data_dir:
            pgbench_url = _create_db(admin, names["pgbench"])
            wallet_url = _create_db(admin, names["wallet"]).replace("postgresql://", "postgresql+psycopg://", 1)
            print(f"pgbench: TPC-B-like, scale 10, 8 clients, {seconds} s ...", file=sys.stderr)
            pgbench_tps = run_pgbench(pgbench_url, seconds, measure=pgbench_cpu.measuring)
            print(f"wallets: {WALLETS} funded tier-1 wallets ({kind} wiring) ...", file=sys.stderr)
            setup_wallets(wallet_url, data_dir, kind)
            print(f"wallets: P2P by phone through Wallets.send, {workers} workers, {seconds} s ...", file=sys.stderr)
            p2p, sends, client = run_p2p(wallet_url, data_dir, kind, workers=workers, seconds=seconds, cpu=wallet_cpu)
    finally:
        for name in names.values():
            _drop_db(admin, name)
    print(f"{'phase':<44} {'unit':<16} {'rate':>10} {'ratio':>7} {'server ms':>10} {'client ms':>10}")
    transactions = pgbench_tps * seconds
    server = _ms(pgbench_cpu.seconds(), transactions)
    print(
        f"{'pgbench TPC-B-like (scale 10, 8 clients)':<44} {'transactions/s':<16} {pgbench_tps:>10.1f} {1.0:>7.2f} {server:>10} {'':>10}"
    )
    label = f"wallet P2P transfers ({workers} workers, {kind})"
    server, mine = _ms(wallet_cpu.seconds(), sends), _ms(client, sends)
    print(f"{label:<44} {'transfers/s':<16} {p2p:>10.1f} {p2p / pgbench_tps:>7.2f} {server:>10} {mine:>10}")
    print("(server ms: the backends' CPU per transaction; client ms: the wallet workers' CPU per send)")
    figures = {"pgbench_tps": round(pgbench_tps, 1), "p2p_tps": round(p2p, 1), "p2p_ratio": round(p2p / pgbench_tps, 3)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
