"""What a worker's first invoice creation costs, with and without the warm-up at start (``cryptopay_http.warmup``).

A fresh process per run, as a server's worker is after a deploy, a reload or a respawn: it builds the app as
``cryptopay serve``'s workers do, either as main did before the warm-up (``build``, ``create_app``, the screening
warmer, ``settle_heap``) or through ``build_production_app`` (the same, with ``warm_up`` before the heap is settled),
then calls the WSGI app directly (no server, as ``cpu_api.py``): one invoice read, then creations. For each run it
prints the start's CPU, and the first creation's and the next creations' CPU (``time.thread_time`` of the calling
thread: what it holds the GIL for; the database and Redis run elsewhere) and wall time. Runs alternate
``plain``/``warm`` so a neighbour's load hits both alike; the medians per kind are printed last, one JSON line.

``python tests/bench/first_create.py`` (``DATABASE_URL``, ``REDIS_URL``; ``FIRST_RUNS``, default 4 of each kind).
``--profile plain|warm`` prints a cProfile of one such process's first creation instead. Figures only.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
RUNS = int(os.environ.get("FIRST_RUNS", "4"))
BODY = b'{"amount": "1500", "currency": "KES", "rails": ["usdt-ethereum"]}'


def _child(kind: str, profile: bool) -> None:
    """One worker's start and first requests (env: the deployment's settings, ``FIRST_KEY``, ``FIRST_INVOICE``)."""
    started = time.process_time()
    wall = time.perf_counter()
    if kind == "warm":
        from cryptopay_http.wsgi import build_production_app

        app = build_production_app()
    else:
        from cryptopay.adapters.bootstrap import build
        from cryptopay.core import logs
        from cryptopay_http.wsgi import build_app, keep_screening_warm, settle_heap

        logs.configure(structured=True)
        services = build()
        app = build_app(services)
        keep_screening_warm(services)
        settle_heap()
    start_cpu, start_wall = (time.process_time() - started) * 1000, (time.perf_counter() - wall) * 1000
    from tests.bench.cpu_api import _caller

    auth = {"Authorization": f"Bearer {os.environ['FIRST_KEY']}"}

    def create() -> int:
        headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        return _caller(app, "POST", "/v1/invoices", headers, BODY)()

    def timed(call: object) -> tuple[float, float]:
        cpu, began = time.thread_time(), time.perf_counter()
        status = call()  # type: ignore[operator]
        if status not in (200, 201):
            raise RuntimeError(f"status {status}")
        return (time.thread_time() - cpu) * 1000, (time.perf_counter() - began) * 1000

    if os.environ.get("FIRST_TRACE"):  # diagnosis: what the first creation builds (converters, compiled statements)
        import cattrs.dispatch
        import sqlalchemy.sql.compiler

        real_dispatch = cattrs.dispatch.MultiStrategyDispatch.dispatch_without_caching
        real_init = sqlalchemy.sql.compiler.SQLCompiler.__init__

        def dispatch(self: object, typ: object) -> object:
            print("cattrs", typ)
            if os.environ.get("FIRST_TRACE") == "stack":
                import traceback

                traceback.print_stack(limit=12, file=sys.stdout)
                os.environ["FIRST_TRACE"] = "1"
            return real_dispatch(self, typ)  # type: ignore[arg-type]

        def init(self: object, dialect: object, statement: object, *args: object, **kw: object) -> None:
            real_init(self, dialect, statement, *args, **kw)  # type: ignore[arg-type]
            print("compile", self.string.split(chr(10))[0][:100], kw.get("column_keys"))  # type: ignore[attr-defined]

        cattrs.dispatch.MultiStrategyDispatch.dispatch_without_caching = dispatch  # type: ignore[method-assign]
        sqlalchemy.sql.compiler.SQLCompiler.__init__ = init  # type: ignore[method-assign]
        create()
        return
    if profile:
        profiler = cProfile.Profile(time.thread_time)
        profiler.runcall(create)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(25)
        print(out.getvalue())
        return
    first = timed(create)
    after = [timed(create) for _ in range(5)]
    print(
        json.dumps(
            {
                "kind": kind,
                "start_cpu_ms": round(start_cpu, 1),
                "start_wall_ms": round(start_wall, 1),
                "first_create_cpu_ms": round(first[0], 1),
                "first_create_wall_ms": round(first[1], 1),
                "next_create_cpu_ms": round(statistics.median(c for c, _ in after), 1),
                "next_create_wall_ms": round(statistics.median(w for _, w in after), 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=["plain", "warm"])
    parser.add_argument("--profile", choices=["plain", "warm"])
    args = parser.parse_args()
    if args.child:
        _child(args.child, profile=bool(os.environ.get("FIRST_PROFILE")))
        return
    from cryptopay.adapters.bootstrap import Settings, build
    from cryptopay.adapters.evm.keys import account_xpub
    from cryptopay.adapters.sql import upgrade
    from cryptopay_http.app import create_app

    from tests.bench.bench_api import throwaway_database
    from tests.bench.cpu_api import _merchant
    from tests.support.fx_sandbox import running_fx_sandbox

    with running_fx_sandbox() as fx, throwaway_database("first_create") as database_url:
        upgrade(database_url)
        env = {
            "CRYPTOPAY_DATA_DIR": os.environ.get("TMPDIR", "/tmp"),
            "CRYPTOPAY_DATABASE_URL": database_url,
            "CRYPTOPAY_DEPLOYMENT": f"first{uuid.uuid4().hex[:8]}",
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
        try:
            key, invoice = _merchant(create_app(services))
        finally:
            services.close()
        child_env = {**os.environ, **env, "FIRST_KEY": key, "FIRST_INVOICE": invoice}
        if args.profile:
            child_env["FIRST_PROFILE"] = "1"
        if os.environ.get("FIRST_TRACE"):
            child_env["FIRST_TRACE"] = os.environ["FIRST_TRACE"]
        kinds = [args.profile] if args.profile else ["plain", "warm"] * RUNS
        runs: dict[str, list[dict[str, float]]] = {"plain": [], "warm": []}
        for kind in kinds:
            done = subprocess.run(
                [sys.executable, __file__, "--child", kind],
                env=child_env,
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"{kind} run failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-6000:]}"
                )
            if args.profile:
                print(done.stdout)
                print("\n".join(line for line in done.stderr.splitlines() if "cryptopay.warmup" in line))
                return
            line = done.stdout.strip().splitlines()[-1]
            print(line)
            runs[kind].append(json.loads(line))
    medians = {
        kind: {k: round(statistics.median(r[k] for r in rows), 1) for k in rows[0] if k != "kind"}
        for kind, rows in runs.items()
    }
    print(f"medians over {RUNS} runs each, load average {os.getloadavg()[0]:.1f}")
    print(json.dumps(medians))


if __name__ == "__main__":
    main()
