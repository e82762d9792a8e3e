"""An open-loop HTTP/1.1 load generator on asyncio (loopback only, bounded in count and time).

Each simulated user keeps one keep-alive connection and sends one request per second at a fixed phase; a
request's latency is measured from the moment it was *scheduled*, so a slow server cannot slow the load down
and hide its own queueing (no coordinated omission). A request that gets no answer within ``timeout`` counts
as an error with that latency.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections.abc import Callable

import attrs

__all__ = ["Case", "Result", "run_case"]

RequestFactory = Callable[[int, int], bytes]  # (user, n) -> the raw request bytes


@attrs.frozen
class Case:
    name: str
    host: str
    port: int
    users: int
    seconds: int
    request: RequestFactory
    timeout: float = 10.0


@attrs.define
class Result:
    name: str
    users: int
    latencies: list[float] = attrs.Factory(list)
    statuses: dict[int, int] = attrs.Factory(dict)
    errors: int = 0
    elapsed: float = 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    @property
    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def row(self) -> str:
        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")
        return (
            f"| {self.name} | {self.users} | {self.rps:.0f}/s | {self.percentile(50):.0f} ms | "
            f"{self.percentile(95):.0f} ms | {self.percentile(99):.0f} ms | {mean:.0f} ms | "
            f"{sum(self.statuses.values()) - self.ok + self.errors} |"
        )


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def _user(case: Case, user: int, start: float, end: float, result: Result) -> None:
    loop = asyncio.get_running_loop()
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    n = 0
    while (scheduled := start + n) < end:
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            if connection is None:
                connection = await asyncio.wait_for(asyncio.open_connection(case.host, case.port), case.timeout)
            reader, writer = connection
            writer.write(case.request(user, n))
            status = await asyncio.wait_for(_read_response(reader), case.timeout - (loop.time() - scheduled))
            result.statuses[status] = result.statuses.get(status, 0) + 1
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            result.errors += 1
            if connection is not None:
                connection[1].close()
            connection = None
        result.latencies.append(loop.time() - scheduled)
        n += 1
    if connection is not None:
        connection[1].close()


async def _run(case: Case) -> Result:
    loop = asyncio.get_running_loop()
    result = Result(case.name, case.users)
    start = loop.time() + 0.5
    end = start + case.seconds
    rng = random.Random(7)
    users = [_user(case, u, start + rng.random(), end, result) for u in range(case.users)]
    await asyncio.wait_for(asyncio.gather(*users), case.seconds + case.timeout + 30)
    result.elapsed = loop.time() - start
    return result


def run_case(case: Case) -> Result:
    """Drive ``case`` to its end; only loopback hosts are allowed."""
    if case.host not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError("the load generator only targets loopback")
    return asyncio.run(_run(case))
