"""Sanctions name screening against a synthetic list of 36,000 names: scoring every listed name (brute force) and
screening through the matcher's index (``Screening.screen_name``), in the same run, on the same names.

The list is the size of OFAC's SDN list with its aliases: 30,000 entries, a fifth of them with an alias, names of two
to four words from a stock of common given names and family names and of made-up words (so the list's vocabulary is
tens of thousands of words, as a real list's is). Screened names: listed names spelt the ways evasion spells them,
ordinary names, and long names. Prints ms per screening (both forms of a name, as ``screen_name`` scores them), the
index's build time, and checks both ways find the same matches. Figures only: nothing is asserted about time.

Run: ``.venv/bin/python tests/bench/bench_screening.py`` (``make bench-screening``).
Environment: ``BENCH_BRUTE`` (screenings done by brute force, default 6), ``BENCH_NAMES`` (list size, default 36000).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import SimpleNamespace
from typing import Any

from cryptopay.adapters.sanctions import RapidfuzzMatcher
from cryptopay.core.compliance.screening import ListEntry, Screening, fold_name, normalize_name
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import ManualClock, SequentialIds

GIVEN = [
    "ali",
    "mohamed",
    "hassan",
    "abdi",
    "omar",
    "ahmed",
    "yusuf",
    "ibrahim",
    "juma",
    "grace",
    "mary",
    "joseph",
    "peter",
    "john",
    "kamau",
    "otieno",
]
FAMILY = [
    "hassan",
    "abdullahi",
    "wekesa",
    "odhiambo",
    "achieng",
    "garcia",
    "nunez",
    "kim",
    "lee",
    "ivanov",
    "petrov",
    "al",
    "rahman",
    "khan",
]
SYLLABLES = [
    "ka",
    "ma",
    "li",
    "mo",
    "ha",
    "med",
    "san",
    "ab",
    "du",
    "la",
    "hi",
    "ju",
    "ot",
    "ie",
    "no",
    "we",
    "se",
    "ri",
    "an",
    "al",
    "ba",
    "ra",
    "zi",
    "vo",
    "ne",
    "ku",
    "ta",
]
SCREENED = [
    "Ali Mohamed Hassan Abdullahi",
    "Аli Моhаmеd Наssаn",
    "Alimohamed Hassan",
    "Wanjiru Kamau",
    "Grace Akinyi Achieng Odhiambo",
    "Peter Jones",
    "Brian Otieno Ochieng",
    "Jose Ramon Nunez Garcia Lopez",
    "Fatuma Ali Hassan",
    "Mohamed Ali Hassan Abdi Noor",
]


def synthetic(size: int, rng: random.Random) -> list[ListEntry]:
    def word() -> str:
        if rng.random() < 0.3:
            return rng.choice(GIVEN + FAMILY)
        return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))

    def name() -> str:
        return " ".join(word() for _ in range(rng.randint(2, 4))).title()

    entries: list[ListEntry] = []
    count = 0
    while count < size:
        names = (name(), name()) if rng.random() < 0.2 and count + 2 <= size else (name(),)
        entries.append(ListEntry(ref=f"syn:{len(entries)}", kind="individual", names=names))
        count += len(names)
    entries.append(ListEntry(ref="syn:listed", kind="individual", names=("Ali Mohamed Hassan",)))
    return entries


Forms = list[tuple[ListEntry, list[tuple[str, str]]]]


def brute(forms: Forms, matcher: RapidfuzzMatcher, name: str, threshold: float) -> list[str]:
    """Every listed name scored, as screening did before the index (the forms prepared once, as its cache did)."""
    wanted, folded = normalize_name(name), fold_name(name)
    return sorted(
        e.ref
        for e, fs in forms
        if max(max(matcher.score(wanted, p), matcher.score(folded, f)) for p, f in fs) >= threshold
    )


def reads(storage: InMemoryStorage) -> Callable[[], AbstractContextManager[Any]]:
    """Units of work reading the stored list without the in-memory storage's copy of its whole state per unit (a
    cost of the test double, not of screening: on PostgreSQL a unit of work copies nothing)."""

    @contextmanager
    def unit() -> Iterator[Any]:
        yield SimpleNamespace(sanctions=storage.repositories["sanctions"])

    return unit


def main() -> None:
    size, brute_runs = int(os.environ.get("BENCH_NAMES", "36000")), int(os.environ.get("BENCH_BRUTE", "6"))
    rng = random.Random(20261206)
    entries = synthetic(size, rng)
    matcher = RapidfuzzMatcher()
    storage = InMemoryStorage(**monitoring_repositories())
    service = Screening(uow=storage.unit_of_work, matcher=matcher, clock=ManualClock(), ids=SequentialIds())
    service.import_list("ofac_sdn", "bench", entries, actor="operator:bench")
    service = Screening(uow=reads(storage), matcher=matcher, clock=ManualClock(), ids=SequentialIds())
    names = sum(len(e.names) for e in entries)

    started = time.process_time()
    service.screen_name("warm up")  # builds the snapshot's forms and indexes
    build = time.process_time() - started

    indexed: dict[str, list[str]] = {}
    started = time.process_time()
    for name in SCREENED:
        indexed[name] = sorted(m.ref for m in service.screen_name(name, threshold=80))
    per_indexed = (time.process_time() - started) / len(SCREENED) * 1000

    forms = [(e, [(normalize_name(n), fold_name(n)) for n in e.names]) for e in entries]
    spent, same = 0.0, True
    for name in SCREENED[:brute_runs]:
        started = time.process_time()
        found = brute(forms, matcher, name, 80)
        spent += time.process_time() - started
        same = same and found == indexed[name]
    per_brute = spent / max(1, min(brute_runs, len(SCREENED))) * 1000

    print(f"list: {len(entries)} entries, {names} names; CPU time (time.process_time)")
    print(f"index build (once per list version, with the forms): {build * 1000:.0f} ms")
    print(f"indexed screening: {per_indexed:.1f} ms per name ({len(SCREENED)} names)")
    print(f"brute force:       {per_brute:.1f} ms per name ({min(brute_runs, len(SCREENED))} names)")
    print(f"same matches both ways: {same}")
    figures = {"names": names, "build_ms": build * 1000, "indexed_ms": per_indexed, "brute_ms": per_brute}
    print(json.dumps({**figures, "speedup": per_brute / per_indexed, "same": same}))


if __name__ == "__main__":
    main()
