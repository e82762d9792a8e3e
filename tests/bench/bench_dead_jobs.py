"""What the minute's ``metrics.measure`` costs Redis for the dead jobs, with many of them kept: the old reading (every
dead job fetched, ``len(dead_jobs(limit=10_000))``) against today's (``dead_count()`` and ``failures()``).

Phases: ``BENCH_DEAD_JOBS`` jobs (default 10,000) enqueued on an ``RqQueue`` without retries and failed by a real RQ
worker (so each is in the failed registry with its failure result, as in production); then each reading is timed
``BENCH_TICKS`` times (default 5) and the Redis commands and round trips it sent are counted (client side, every
command and each pipeline). Then 100 more jobs fail and today's reading is measured again: its cost does not depend
on the backlog. Every key is under a fresh deployment name and deleted at the end.

Prints a table, then as its last line one JSON object: ``{"dead_jobs": ..., "before_ms": ..., "before_commands": ...,
"after_ms": ..., "after_commands": ...}``. Figures only; nothing is asserted.

Run: ``scripts/with-services.sh .venv/bin/python tests/bench/bench_dead_jobs.py`` (``REDIS_URL``).
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import redis
from cryptopay.adapters.queue import RqQueue
from cryptopay.core.ports.queue import JobRegistry
from redis.client import Pipeline


class Sent:
    commands = 0
    round_trips = 0


class CountedPipeline(Pipeline):
    def execute(self, raise_on_error: bool = True) -> list[Any]:
        if self.command_stack:
            Sent.commands += len(self.command_stack)
            Sent.round_trips += 1
        return super().execute(raise_on_error)


class CountedRedis(redis.Redis):
    """A Redis client that counts the commands it sends (a pipeline's as one round trip)."""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        Sent.commands += 1
        Sent.round_trips += 1
        return super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        return CountedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


def doomed(payload: object) -> None:
    raise RuntimeError("the node is down")


def fail(queue: RqQueue, registry: JobRegistry, count: int, start: int) -> float:
    began = time.perf_counter()
    for n in range(start, start + count):
        queue.enqueue("bench.doomed", {"n": n}, job_id=f"d{n}")
    queue.worker(registry, fork=False).work(burst=True, logging_level="CRITICAL")
    return time.perf_counter() - began


def measure(reading: Callable[[], object], ticks: int) -> tuple[float, int, int, object]:
    times: list[float] = []
    commands = trips = 0
    value: object = None
    for _ in range(ticks):
        Sent.commands = Sent.round_trips = 0
        began = time.perf_counter()
        value = reading()
        times.append((time.perf_counter() - began) * 1000)
        commands, trips = Sent.commands, Sent.round_trips
    return statistics.median(times), commands, trips, value


def main() -> None:
    total = int(os.environ.get("BENCH_DEAD_JOBS", "10000"))
    ticks = int(os.environ.get("BENCH_TICKS", "5"))
    namespace = f"bench-{secrets.token_hex(4)}"
    connection = CountedRedis.from_url(os.environ["REDIS_URL"])
    registry = JobRegistry()
    registry.register("bench.doomed", doomed)
    queue = RqQueue(connection, namespace=namespace, retries=())
    try:
        filled = fail(queue, registry, total, 0)
        print(f"{total} jobs enqueued and failed by an RQ worker in {filled:.1f} s")
        before = measure(lambda: len(queue.dead_jobs(limit=10_000)), ticks)
        after = measure(lambda: (queue.dead_count(), queue.failures()), ticks)
        fail(queue, registry, 100, total)
        grown = measure(lambda: (queue.dead_count(), queue.failures()), ticks)
        rows = [
            ("before: len(dead_jobs(limit=10_000))", before),
            ("after: dead_count() + failures()", after),
            (f"after, {total + 100} dead", grown),
        ]
        print(f"{'reading per tick':<40} {'median ms':>10} {'commands':>9} {'round trips':>12}  value")
        for label, (ms, commands, trips, value) in rows:
            print(f"{label:<40} {ms:>10.2f} {commands:>9} {trips:>12}  {value}")
        print(
            json.dumps(
                {
                    "dead_jobs": total,
                    "before_ms": round(before[0], 2),
                    "before_commands": before[1],
                    "before_round_trips": before[2],
                    "after_ms": round(after[0], 2),
                    "after_commands": after[1],
                    "after_round_trips": after[2],
                    "after_grown_commands": grown[1],
                }
            )
        )
    finally:
        keys = list(connection.scan_iter(f"*{namespace}*", count=5000))
        for start in range(0, len(keys), 1000):
            connection.delete(*keys[start : start + 1000])


if __name__ == "__main__":
    main()
