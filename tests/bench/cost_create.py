"""What one invoice creation costs, counted so that the machine's load does not change the figures.

``make bench-api`` times creations under load, which a busy machine (or a slower one) moves by tens of percent. This
script counts instead, in one process, over ``COST_CREATES`` creations (default 500) through the production app
(``build(Settings)`` on a throw-away PostgreSQL database and Redis, called through WSGI as ``cpu_api.py`` does):

- SQL statements per creation, and how many went through SQLAlchemy's execution layer (the rest: ``DriverRead``);
- the statements themselves, of one creation (first line each), so a change shows which statement came or went;
- PostgreSQL transactions per creation (``pg_stat_database``: the throw-away database's commits and rollbacks);
- round trips per creation: to PostgreSQL, the driver's exchanges (each ``execute`` of a query or a command such as
  BEGIN and COMMIT is a round trip; a pipeline's exchanges are counted apart), and to Redis, commands sent;
- the client's CPU per creation (``time.process_time``, median of ``COST_ROUNDS`` rounds; the load moves it a
  little: cache misses), garbage collections per creation and the longest pause of each generation (``gc.callbacks``),
  and the wall time of one creation at a time, its p50, p99 and max (what the load moves most; here no request
  queues behind another, so a tail is the creation's own: a collection, a lock wait, a slow commit).

``COST_PROFILE=FILE`` also writes a cProfile (CPU time) of ``COST_CREATES`` more creations to ``FILE`` (``pstats``).
``COST_THREADS=N`` (default 8, a server worker's threads; 0: skipped) then creates from N threads at once for
``COST_SECONDS`` (default 10) while another connection samples ``pg_stat_activity`` every 5 ms: what the database's
sessions of this app were doing (running, waiting for the client, or waiting on a lock, the WAL, I/O), a share of
the samples each, and the creations' wall-time percentiles: where a creation's tail waits when creations overlap.

``python tests/bench/cost_create.py`` (``DATABASE_URL``, ``REDIS_URL``; ``COST_CREATES``, ``COST_ROUNDS``). Run it
under ``valgrind --tool=callgrind`` with two ``COST_CREATES`` and take the difference for instructions per creation.
Prints a table and, last, one JSON line. Figures only: nothing is asserted (the budget is asserted, as a count, by
``tests/integration/http/test_http_hot_paths.py``).
"""

from __future__ import annotations

import cProfile
import gc
import json
import os
import secrets
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psycopg
import psycopg._connection_base
import psycopg._cursor_base
import psycopg._pipeline_base
import sqlalchemy as sa
from redis.connection import AbstractConnection

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cryptopay.adapters.bootstrap import Settings, build
from cryptopay.adapters.evm.keys import account_xpub
from cryptopay.adapters.sql import upgrade
from cryptopay_http.app import create_app
from cryptopay_http.wsgi import settle_heap

from tests.bench.bench_api import throwaway_database
from tests.bench.cpu_api import _caller, _merchant
from tests.support.fx_sandbox import running_fx_sandbox

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
CREATES = int(os.environ.get("COST_CREATES", "500"))
ROUNDS = int(os.environ.get("COST_ROUNDS", "5"))


def _transactions(admin: psycopg.Connection, name: str) -> int:
    admin.execute("SELECT pg_stat_clear_snapshot()")
    row = admin.execute(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", (name,)
    ).fetchone()
    return int(row[0]) if row else 0


class _Counted:
    """What the calling thread sends: SQL statements (through the driver, every one, and through SQLAlchemy), the
    driver's exchanges with PostgreSQL (``execute`` generators: one round trip each; pipeline exchanges apart) and
    Redis commands. The driver's generators are wrapped where its modules look them up (its C ones included)."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.through_sqlalchemy = self.round_trips = self.pipelined = self.redis = 0
        self._thread = threading.get_ident()
        real = psycopg.Cursor.execute

        def execute(cursor: psycopg.Cursor, query: object, *args: object, **options: object) -> object:
            if threading.get_ident() == self._thread:
                text = query.decode() if isinstance(query, bytes) else str(query)
                self.sql.append(text.split("\n", 1)[0][:110])
            return real(cursor, query, *args, **options)  # type: ignore[arg-type]

        self._real, self._execute = real, execute
        self._generators: list[tuple[object, str, object]] = []

    def _count(self, module: object, name: str, counter: str) -> None:
        real = getattr(module, name)

        def counted(*args: object, **options: object) -> object:
            if threading.get_ident() == self._thread:
                setattr(self, counter, getattr(self, counter) + 1)
            return real(*args, **options)

        self._generators.append((module, name, real))
        setattr(module, name, counted)

    def _on_sql(self, *_args: object) -> None:
        if threading.get_ident() == self._thread:
            self.through_sqlalchemy += 1

    def __enter__(self) -> _Counted:
        psycopg.Cursor.execute = self._execute  # type: ignore[method-assign]
        self._count(psycopg._cursor_base, "execute", "round_trips")
        self._count(psycopg._connection_base.generators, "execute", "round_trips")  # BEGIN, COMMIT
        self._count(psycopg._pipeline_base, "pipeline_communicate", "pipelined")
        self._count(AbstractConnection, "send_packed_command", "redis")
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self._on_sql)
        return self

    def __exit__(self, *_exc: object) -> None:
        psycopg.Cursor.execute = self._real  # type: ignore[method-assign]
        for module, name, real in reversed(self._generators):
            setattr(module, name, real)
        self._generators.clear()
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self._on_sql)


def _overlapping(create: Callable[[], int], admin_url: str, name: str) -> dict[str, object]:
    """``COST_THREADS`` threads creating for ``COST_SECONDS`` while ``pg_stat_activity`` is sampled (see above)."""
    threads, seconds = int(os.environ.get("COST_THREADS", "8")), float(os.environ.get("COST_SECONDS", "10"))
    walls: list[float] = []
    states: Counter[str] = Counter()
    stop = time.monotonic() + seconds

    def creating() -> None:
        while time.monotonic() < stop:
            began = time.perf_counter()
            status = create()
            walls.append((time.perf_counter() - began) * 1000)
            if status != 201:
                raise RuntimeError(f"status {status}")

    workers = [threading.Thread(target=creating) for _ in range(threads)]
    for worker in workers:
        worker.start()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        query = (
            "SELECT state, wait_event_type, wait_event, left(query, 40) FROM pg_stat_activity WHERE datname = %s "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'"
        )
        while time.monotonic() < stop:
            for state, kind, event, statement in admin.execute(query, (name,)).fetchall():
                if state == "idle in transaction":
                    states[f"idle in transaction ({kind}:{event})"] += 1
                elif kind == "Lock" or event in ("WALWrite", "WALSync"):  # which statement: a row lock's, a commit's
                    states[f"{kind}:{event} <- {statement.split(chr(10))[0]}"] += 1
                else:
                    states["running" if kind is None else f"{kind}:{event}"] += 1
            time.sleep(0.005)
    for worker in workers:
        worker.join(timeout=60)
    total = sum(states.values()) or 1
    cuts = statistics.quantiles(walls, n=100)
    return {
        "threads": threads,
        "creations_per_s": round(len(walls) / seconds, 1),
        "wall_ms": {"p50": round(cuts[49], 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1)},
        "busy_sessions": {k: round(v / total, 3) for k, v in states.most_common(12)},
    }


def _cpu_ms(call: Callable[[], int], count: int, expected: int) -> float:
    started = time.process_time()
    for _ in range(count):
        status = call()
        if status != expected:
            raise RuntimeError(f"status {status}, expected {expected}")
    return (time.process_time() - started) * 1000 / count


def main() -> None:
    with running_fx_sandbox() as fx, throwaway_database("cost_create") as database_url:
        upgrade(database_url)
        name = database_url.rsplit("/", 1)[1]
        env = {
            "CRYPTOPAY_DATA_DIR": os.environ.get("TMPDIR", "/tmp"),
            "CRYPTOPAY_DATABASE_URL": database_url,
            "CRYPTOPAY_DEPLOYMENT": f"cost{uuid.uuid4().hex[:8]}",
            "CRYPTOPAY_TOKEN_SECRET": secrets.token_urlsafe(48),
            "CRYPTOPAY_COOKIE_SECURE": "false",
            "CRYPTOPAY_FX_SANDBOX_URL": fx.url,
            "CRYPTOPAY_ETHEREUM_RPC_URL": "http://127.0.0.1:9/unused",
            "CRYPTOPAY_EVM_XPUB": account_xpub(MNEMONIC),
            "CRYPTOPAY_RATE_LIMIT": "100000000",
        }
        if os.environ.get("REDIS_URL"):
            env["CRYPTOPAY_REDIS_URL"] = os.environ["REDIS_URL"]
        services = build(Settings.from_env(env))
        admin_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        try:
            app = create_app(services)
            key, _invoice = _merchant(app)
            auth = {"Authorization": f"Bearer {key}"}
            body = b'{"amount": "1500", "currency": "KES", "rails": ["usdt-ethereum"]}'

            def create() -> int:
                headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
                return _caller(app, "POST", "/v1/invoices", headers, body)()

            _cpu_ms(create, 30, 201)
            settle_heap()
            with _Counted() as one:
                create()
            collections, pauses, started = [0], {0: 0.0, 1: 0.0, 2: 0.0}, [0.0]

            def collected(phase: str, info: dict[str, int]) -> None:
                if phase == "start":
                    collections[0] += 1
                    started[0] = time.perf_counter()
                else:
                    generation = info["generation"]
                    pauses[generation] = max(pauses[generation], time.perf_counter() - started[0])

            with psycopg.connect(admin_url, autocommit=True) as admin, _Counted() as counted:
                gc.callbacks.append(collected)
                xacts, walls = _transactions(admin, name), []
                for _ in range(CREATES):
                    began = time.perf_counter()
                    _cpu_ms(create, 1, 201)
                    walls.append((time.perf_counter() - began) * 1000)
                xacts = _transactions(admin, name) - xacts
                gc.callbacks.remove(collected)
            cpu = [_cpu_ms(create, CREATES // ROUNDS, 201) for _ in range(ROUNDS)]
            if os.environ.get("COST_PROFILE"):
                profiler = cProfile.Profile(time.process_time)
                profiler.runcall(_cpu_ms, create, CREATES, 201)
                profiler.dump_stats(os.environ["COST_PROFILE"])
            overlapping = _overlapping(create, admin_url, name) if os.environ.get("COST_THREADS") != "0" else {}
        finally:
            services.close()
    figures = {
        "statements_per_create": round(len(counted.sql) / CREATES, 2),
        "through_sqlalchemy_per_create": round(counted.through_sqlalchemy / CREATES, 2),
        "transactions_per_create": round(xacts / CREATES, 2),
        "pg_round_trips_per_create": round(counted.round_trips / CREATES, 2),
        "pg_pipeline_exchanges_per_create": round(counted.pipelined / CREATES, 2),
        "redis_commands_per_create": round(counted.redis / CREATES, 2),
        "gc_per_create": round(collections[0] / CREATES, 3),
        "cpu_ms_per_create": round(statistics.median(cpu), 3),
        "gc_longest_pause_ms": {f"gen{g}": round(p * 1000, 2) for g, p in pauses.items()},
        "wall_ms_one_at_a_time": {
            "p50": round(statistics.median(walls), 2),
            "p99": round(statistics.quantiles(walls, n=100)[98], 2),
            "max": round(max(walls), 2),
        },
    }
    print(f"{CREATES} creations in-process, load average {os.getloadavg()[0]:.1f}")
    print("one creation's statements:")
    for statement in one.sql:
        print(f"  {statement}")
    print("| figure | per creation |")
    print("|---|---|")
    for figure, value in figures.items():
        print(f"| {figure} | {value} |")
    print(json.dumps(figures))
    if overlapping:
        print("overlapping:", json.dumps(overlapping))


if __name__ == "__main__":
    main()
