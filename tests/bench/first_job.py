"""What an RQ job costs in a work-horse forked from a worker that has built nothing, against the same job in a
process that has run it once: ``cryptopay-worker`` forks one work-horse per job (RQ's default), and nothing the
work-horse builds survives it, so every job pays what a first job pays.

``python tests/bench/first_job.py`` (``DATABASE_URL``, ``REDIS_URL``; ``FIRST_JOB``, default ``outbox.relay``;
``FIRST_JOB_RUNS``, default 5). For each run a fresh parent builds the worker's registry as ``run_worker`` does,
then forks a child that runs the job once (its CPU, ``time.process_time`` in the child, is the work-horse's), then
runs it twice itself (the first and the second call). Medians printed, one JSON line. Figures only.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

JOB = os.environ.get("FIRST_JOB", "outbox.relay")
RUNS = int(os.environ.get("FIRST_JOB_RUNS", "5"))


def _child() -> None:
    from cryptopay_worker.jobs import build_registry
    from cryptopay_worker.services import services

    handler = build_registry(services()).get(JOB)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the work-horse
        started = time.process_time()
        handler({})
        os.write(write, f"{(time.process_time() - started) * 1000:.1f}".encode())
        os._exit(0)
    os.waitpid(pid, 0)
    forked = float(os.read(read, 64))
    cpu = []
    for _ in range(2):
        started = time.process_time()
        handler({})
        cpu.append((time.process_time() - started) * 1000)
    print(json.dumps({"forked_ms": forked, "first_in_process_ms": round(cpu[0], 1), "second_ms": round(cpu[1], 1)}))


def main() -> None:
    if sys.argv[1:] == ["--child"]:
        _child()
        return
    from cryptopay.adapters.sql import upgrade

    from tests.bench.bench_api import throwaway_database

    with throwaway_database("first_job") as database_url:
        upgrade(database_url)
        env = {
            **os.environ,
            "CRYPTOPAY_DATA_DIR": os.environ.get("TMPDIR", "/tmp"),
            "CRYPTOPAY_DATABASE_URL": database_url,
            "CRYPTOPAY_DEPLOYMENT": f"job{uuid.uuid4().hex[:8]}",
            "CRYPTOPAY_TOKEN_SECRET": secrets.token_urlsafe(48),
            "CRYPTOPAY_QUEUE_NAME": f"first-job-{uuid.uuid4().hex[:6]}",
        }
        if os.environ.get("REDIS_URL"):
            env["CRYPTOPAY_REDIS_URL"] = os.environ["REDIS_URL"]
        rows = []
        for _ in range(RUNS):
            done = subprocess.run(
                [sys.executable, __file__, "--child"], env=env, capture_output=True, text=True, timeout=180, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-3000:])
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(rows[-1])
    medians = {k: round(statistics.median(r[k] for r in rows), 1) for k in rows[0]}
    print(f"{JOB}: medians over {RUNS} runs, load average {os.getloadavg()[0]:.1f}")
    print(json.dumps(medians))


if __name__ == "__main__":
    main()
