"""Where invoice creation's tail at 50/s comes from: ``make bench-api``'s creation case, every request kept and traced.

Starts what ``bench_api.py`` starts (the FX simulator, a throw-away database, the production server on it), sets up
its merchant, optionally runs its read cases first (``TAIL_SEQUENCE=full``, the bench's order; ``create``: creation
only), optionally warms creation (``TAIL_WARM=1``: 3 s at 50 users), then creates at 50 users for ``TAIL_SECONDS``
(default 15) while another process samples ``pg_stat_activity`` every 5 ms. Inside the server's workers
``tail_trace/sitecustomize.py`` times every creation (thread CPU, each statement and ``COMMIT``, Redis, FX HTTP calls,
GC pauses). Writes everything under ``OUTDIR`` and prints one JSON summary: the latency percentiles over the case, in
its first 2 s and after them; the creations' own commits by kind (idempotency claim, FX quote, invoice, idempotency
answer) and the audit head's lock wait; creations that called an FX source themselves; what the database sessions
were waiting on (shares of the busy samples).

Options for measuring what a change would give: ``TAIL_FX_DELAY`` (seconds every FX source takes to answer, the
simulator's ``timeout`` mode), ``TAIL_SYNC_OFF=1`` (every commit of the throw-away database asynchronous: the bound
of what asynchronous commits could give, not a setting to run with). Figures only: nothing is asserted.

``python tests/bench/tail_create.py OUTDIR`` from a checkout (``DATABASE_URL``, ``REDIS_URL`` as for bench_api).
"""

from __future__ import annotations

import asyncio
import collections
import glob
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_api as b
from loadgen import Case, _read_response, run_case

SECONDS = int(os.environ.get("TAIL_SECONDS", "15"))
SEQUENCE = os.environ.get("TAIL_SEQUENCE", "full")
TRACE_DIR = Path(__file__).resolve().parent / "tail_trace"

SAMPLER = r"""
import json, sys, time, psycopg
admin, name, out, stop = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
q = ("SELECT extract(epoch from clock_timestamp())::float8, state, wait_event_type, wait_event, left(query, 70), "
     "datname = %s FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
     "AND state <> 'idle'")
with psycopg.connect(admin, autocommit=True) as c, open(out, "w") as f:
    while time.time() < stop:
        f.write(json.dumps(c.execute(q, (name,)).fetchall()) + "\n")
        time.sleep(0.005)
"""


async def _user(case: Case, user: int, start: float, end: float, records: list[tuple[float, float, int]]) -> None:
    loop = asyncio.get_running_loop()
    connection = None
    n = 0
    while (scheduled := start + n) < end:
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        status = -1
        try:
            if connection is None:
                connection = await asyncio.wait_for(asyncio.open_connection(case.host, case.port), case.timeout)
            reader, writer = connection
            writer.write(case.request(user, n))
            status = await asyncio.wait_for(_read_response(reader), case.timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            if connection is not None:
                connection[1].close()
            connection = None
        records.append((time.time() - (loop.time() - scheduled), loop.time() - scheduled, status))
        n += 1
    if connection is not None:
        connection[1].close()


async def _creations(case: Case) -> list[tuple[float, float, int]]:
    """bench_api's open loop (``loadgen``), each request's scheduled time kept: (sent at, latency, status)."""
    loop = asyncio.get_running_loop()
    records: list[tuple[float, float, int]] = []
    start = loop.time() + 0.5
    rng = random.Random(7)
    users = [_user(case, u, start + rng.random(), start + case.seconds, records) for u in range(case.users)]
    await asyncio.gather(*users)
    return records


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)


def _traced(out: Path, t0: float, until: float = float("inf")) -> dict[str, Any]:
    """The creations' own commits by kind, the audit head's lock wait, and FX source calls inside requests, of the
    creations traced from ``t0`` until ``until``."""
    rows = [
        json.loads(line)
        for f in glob.glob(str(out / "traces" / "*.jsonl"))
        for line in Path(f).read_text().splitlines()
    ]
    rows = [r for r in rows if t0 <= r["t"] < until and len(r["calls"]) > 3]
    kinds: dict[str, list[float]] = collections.defaultdict(list)
    fx_calls = fx_ms = 0.0
    for row in rows:
        calls = row["calls"]
        for i, (kind, what, _start, took) in enumerate(calls):
            before = calls[i - 1][1] if i else ""
            if kind == "sql" and what.startswith("SELECT audit_head"):
                kinds["audit_head_lock_wait"].append(took)
            elif kind == "http":
                fx_calls, fx_ms = fx_calls + 1, fx_ms + took
            elif kind == "commit" and what == "COMMIT":
                name = {
                    "INSERT INTO idempotency": "commit_claim",
                    "INSERT INTO fx_quotes": "commit_quote",
                    "WITH moved AS": "commit_invoice",
                    "UPDATE idempotency_records SET response": "commit_answer",
                }
                for prefix, label in name.items():
                    if before.startswith(prefix):
                        kinds[label].append(took)
        kinds["cpu"].append(row["cpu_ms"])
    figures = {
        k: {"p50": _pct(v, 50), "p99": _pct(v, 99), "max": _pct(v, 100), "mean": round(statistics.fmean(v), 1)}
        for k, v in kinds.items()
    }
    with_fx = sum(1 for r in rows if any(c[0] == "http" for c in r["calls"]))
    return {
        "ms": figures,
        "creations_calling_fx": with_fx,
        "fx_calls_in_requests": int(fx_calls),
        "fx_ms_in_requests": round(fx_ms),
    }


def _waits(out: Path, t0: float, t1: float) -> dict[str, float]:
    shares: collections.Counter[str] = collections.Counter()
    for line in (out / "pg_samples.jsonl").read_text().splitlines():
        for at, state, kind, event, query, ours in json.loads(line):
            if not ours or not t0 <= at <= t1:
                continue
            if state == "idle in transaction":
                shares["client (idle in transaction)"] += 1
            elif kind == "Lock":
                shares[f"Lock:{event} <- {query[:30]}"] += 1
            elif event in ("WALWrite", "WALSync"):
                shares[f"{kind}:{event} (COMMIT)"] += 1
            else:
                shares["running" if kind is None else f"{kind}:{event}"] += 1
    total = sum(shares.values()) or 1
    return {k: round(v / total, 3) for k, v in shares.most_common(8)}


def main() -> None:
    out = Path(sys.argv[1])
    (out / "traces").mkdir(parents=True, exist_ok=True)
    workdir = out / "work"
    workdir.mkdir(exist_ok=True)
    (workdir / "bare_app.py").write_text(b.BARE_APP)
    admin = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    fx_port = b._free_port()
    fx_url = f"http://127.0.0.1:{fx_port}"
    fx_command = [str(b.BIN / "cryptopay"), "sandbox", "fx", "--port", str(fx_port)]
    with (
        b._process(fx_command, dict(os.environ), workdir / "fx.log", f"{fx_url}/_sandbox/fx/state"),
        b.throwaway_database("tail_create") as database_url,
    ):
        name = database_url.rsplit("/", 1)[1]
        if os.environ.get("TAIL_FX_DELAY"):
            for source in ("exchangerate-api", "binance", "kraken", "coinbase", "bitstamp"):
                body = {"mode": "timeout", "delay_seconds": os.environ["TAIL_FX_DELAY"]}
                httpx.post(f"{fx_url}/_sandbox/fx/sources/{source}", json=body).raise_for_status()
        env = {
            **os.environ,
            "CRYPTOPAY_DATA_DIR": str(workdir),
            "CRYPTOPAY_DATABASE_URL": database_url,
            "CRYPTOPAY_TOKEN_SECRET": secrets.token_urlsafe(48),
            "CRYPTOPAY_COOKIE_SECURE": "false",
            "CRYPTOPAY_FX_SANDBOX_URL": fx_url,
            "CRYPTOPAY_ETHEREUM_RPC_URL": "http://127.0.0.1:9/unused",
            "CRYPTOPAY_EVM_XPUB": b.account_xpub(b.MNEMONIC),
            "CRYPTOPAY_RATE_LIMIT": "1000000",
            "PYTHONPATH": f"{TRACE_DIR}:{workdir}",
            "TAIL_TRACE_DIR": str(out / "traces"),
        }
        if os.environ.get("REDIS_URL"):
            env["CRYPTOPAY_REDIS_URL"] = os.environ["REDIS_URL"]
            env["CRYPTOPAY_QUEUE_NAME"] = f"bench-{uuid.uuid4().hex[:6]}"
        subprocess.run([str(b.BIN / "cryptopay"), "db", "upgrade"], env=env, check=True, capture_output=True)
        if os.environ.get("TAIL_SYNC_OFF") == "1":
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        api_port, bare_port = b._free_port(), b._free_port()
        api = f"http://127.0.0.1:{api_port}"
        with (
            b._process(b._server_command(b.PRODUCTION_APP, api_port), env, workdir / "api.log", f"{api}/healthz"),
            b._process(
                b._server_command("bare_app:build_app", bare_port),
                env,
                workdir / "bare.log",
                f"http://127.0.0.1:{bare_port}/bare",
            ),
        ):
            key, _token, invoice_id = b._setup_merchant(
                httpx.Client(base_url=api, timeout=30), workdir / "notifications.jsonl"
            )
            read = b._get(f"/v1/invoices/{invoice_id}", key)
            if SEQUENCE == "full":  # bench_api's cases first, in its order
                run_case(Case("warm-up", "127.0.0.1", api_port, 1000, 3, lambda u, n: read))
                run_case(Case("warm-up", "127.0.0.1", bare_port, 1000, 3, lambda u, n: b._get("/bare", key)))
                for users, port, request in (
                    (1000, bare_port, b._get("/bare", key)),
                    (200, api_port, read),
                    (1000, api_port, read),
                ):
                    b._drained(f"{api}/healthz")
                    run_case(Case("case", "127.0.0.1", port, users, 15, lambda u, n, r=request: r))
            if os.environ.get("TAIL_WARM") == "1":
                run_case(Case("warm-up", "127.0.0.1", api_port, 50, 3, b._create(key)))  # type: ignore[arg-type]
            b._drained(f"{api}/healthz")
            stop = time.time() + SECONDS + 3
            sampler = subprocess.Popen(
                [sys.executable, "-c", SAMPLER, admin, name, str(out / "pg_samples.jsonl"), str(stop)]
            )
            records = asyncio.run(_creations(Case("POST invoice", "127.0.0.1", api_port, 50, SECONDS, b._create(key))))  # type: ignore[arg-type]
            sampler.wait(timeout=60)
    records.sort()
    t0, t1 = records[0][0], records[-1][0]
    latencies = [r[1] * 1000 for r in records]
    early = [r[1] * 1000 for r in records if r[0] - t0 < 2]
    later = [r[1] * 1000 for r in records if r[0] - t0 >= 2]
    (out / "records.json").write_text(json.dumps(records))
    summary = {
        "load_average": round(os.getloadavg()[0], 1),
        "creations": len(records),
        "errors": sum(1 for r in records if not 200 <= r[2] < 300),
        "latency_ms": {"p50": _pct(latencies, 50), "p95": _pct(latencies, 95), "p99": _pct(latencies, 99)},
        "first_2s_ms": {"p50": _pct(early, 50), "max": _pct(early, 100)},
        "after_2s_ms": {"p95": _pct(later, 95), "p99": _pct(later, 99), "max": _pct(later, 100)},
        "after_2s_traced": _traced(out, t0 + 2),
        "first_2s_cpu_ms_max": _traced(out, t0 - 1, t0 + 2)["ms"].get("cpu", {}).get("max"),  # a first creation
        "db_waits_after_2s": _waits(out, t0 + 2, t1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
