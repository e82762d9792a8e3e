"""The client's CPU per P2P send, in one process: ``Wallets.send`` as the composition root wires it (as
``bench_wallet.py`` does, BENCH_WIRING=root), among 1,000 funded tier-1 wallets on a throw-away database.

Prints the CPU (``time.process_time``) per send over ``PROFILE_SENDS`` sends (default 3,000) in ``PROFILE_ROUNDS``
rounds (6), the best and the median round, the kernel's part, and the cyclic garbage collector's runs and CPU.
``PROFILE=cprofile``: cProfile (CPU-time clock) of the sends, top ``PROFILE_TOP`` (30) by own and cumulative time;
``PROFILE=sample``: a sampler on the process's CPU-time timer (``ITIMER_PROF``, as often as the kernel's tick allows),
each function's share of the samples, on its own (with the C code it calls) and within it. One process, one send at
a time: the figure depends far less on how busy the machine is than throughput does (still, compare runs made one
after the other, alternated).

``PROFILE_OP=check``: ``Wallets.check_send`` instead (the send's read round trip and every rule, then a read-only
``COMMIT``), for the ceiling of a one-round-trip send: what a send costs beyond its read (``send`` less ``check``)
is about what a send whose read went with its write would cost at least. Both print the server's CPU per send too
(``bench_wallet.ServerCpu``, ``/proc`` of the database's backends, when the server is local).

Run: ``scripts/with-services.sh .venv/bin/python tests/bench/profile_send.py``.
"""

from __future__ import annotations

import collections
import cProfile
import gc
import os
import pstats
import random
import secrets
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptopay.core.money import KES, Money

from tests.bench.bench_ledger import _admin_url, _create_db, _drop_db
from tests.bench.bench_wallet import WALLETS, ServerCpu, _phone, _Wiring, setup_wallets


class _Sampler:
    """Samples the Python stack every ``PROFILE_INTERVAL_US`` (200) microseconds of the process's CPU time
    (``ITIMER_PROF``: time waiting for the server is not counted); C code is counted to the Python function that
    called it."""

    def __init__(self) -> None:
        self.own: collections.Counter[str] = collections.Counter()
        self.within: collections.Counter[str] = collections.Counter()
        self.samples = 0
        self._interval = int(os.environ.get("PROFILE_INTERVAL_US", "200")) / 1e6
        signal.signal(signal.SIGPROF, self._sample)

    def _sample(self, _signum: int, frame: object) -> None:
        names: list[str] = []
        while frame is not None:
            code = frame.f_code  # type: ignore[attr-defined]
            names.append(f"{code.co_qualname} ({'/'.join(code.co_filename.split('/')[-2:])}:{code.co_firstlineno})")
            frame = frame.f_back  # type: ignore[attr-defined]
        if not any(name.startswith("main.<locals>.send ") for name in names):
            return
        self.samples += 1
        self.own[names[0]] += 1
        for name in set(names):
            self.within[name] += 1

    def start(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, self._interval, self._interval)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)

    def report(self, top: int) -> None:
        print(f"{self.samples} samples of the CPU time; own (with the C code it calls), then within")
        for counter in (self.own, self.within):
            for name, count in counter.most_common(top):
                print(f"{100 * count / self.samples:6.1f}% {name}")
            print()


class _Collections:
    """The cyclic garbage collector's runs while ``on`` and the CPU time they took."""

    def __init__(self) -> None:
        self.on, self.runs, self.seconds, self._began = False, collections.Counter[int](), 0.0, 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if not self.on:
            return
        if phase == "start":
            self._began = time.process_time()
        else:
            self.runs[info["generation"]] += 1
            self.seconds += time.process_time() - self._began


def main() -> None:
    sends = int(os.environ.get("PROFILE_SENDS", "3000"))
    rounds = int(os.environ.get("PROFILE_ROUNDS", "6"))
    kind = os.environ.get("BENCH_WIRING", "root")
    admin, name = _admin_url(), f"cryptopay_profile_send_{secrets.token_hex(3)}"
    try:
        with tempfile.TemporaryDirectory(prefix="cryptopay-profile-send-") as data_dir:
            url = _create_db(admin, name).replace("postgresql://", "postgresql+psycopg://", 1)
            setup_wallets(url, data_dir, kind)
            wiring = _Wiring(url, data_dir, kind)
            rng = random.Random(1)
            operation = wiring.wallets.check_send if os.environ.get("PROFILE_OP") == "check" else wiring.wallets.send

            def send() -> None:
                sender, recipient = rng.sample(range(WALLETS), 2)
                amount = Money.from_minor(rng.randint(5_000, 10_000), KES)
                operation(f"usr_bench_{sender:05d}", _phone(recipient), amount, note="bench")

            for _ in range(50):  # warm: connections open, statements prepared
                send()
            mode = os.environ.get("PROFILE", "")
            profiler = cProfile.Profile(time.process_time) if mode == "cprofile" else None
            sampler = _Sampler() if mode == "sample" else None
            per_round, figures, kernel, collections_ = sends // rounds, [], [], _Collections()
            server = ServerCpu(admin, name)
            with server.measuring():  # the server's CPU over every round
                collections_.on = True
                for _ in range(rounds):
                    if profiler:
                        profiler.enable()
                    if sampler:
                        sampler.start()
                    cpu, times = time.process_time(), os.times()
                    for _ in range(per_round):
                        send()
                    figures.append(1000 * (time.process_time() - cpu) / per_round)
                    kernel.append(1000 * (os.times().system - times.system) / per_round)
                    if profiler:
                        profiler.disable()
                    if sampler:
                        sampler.stop()
                collections_.on = False
            wiring.close()
    finally:
        _drop_db(admin, name)
    print(
        f"client CPU per {os.environ.get('PROFILE_OP') or 'send'} ({kind}, {per_round * rounds} in {rounds} rounds): "
        f"best {min(figures):.3f} ms, median {statistics.median(figures):.3f} ms "
        f"(of which in the kernel: median {statistics.median(kernel):.3f} ms)"
        + (" (under cProfile)" if profiler else "")
        + (" (sampled)" if sampler else "")
    )
    server_seconds = server.seconds()
    if server_seconds is not None:
        print(f"server CPU per send: {1000 * server_seconds / (per_round * rounds):.3f} ms (all rounds)")
    runs = ", ".join(f"{collections_.runs[g]} of generation {g}" for g in sorted(collections_.runs)) or "none"
    print(f"garbage collections: {runs}; {1000 * collections_.seconds / (per_round * rounds):.3f} ms per send")
    top = int(os.environ.get("PROFILE_TOP", "30"))
    if sampler:
        sampler.report(top)
    if profiler:
        stats = pstats.Stats(profiler).strip_dirs()
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)


if __name__ == "__main__":
    main()
