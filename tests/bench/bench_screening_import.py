"""The first name screening after a list import, on the synthetic 36,000-name list of ``bench_screening``: how long
the import takes, then the first screening in the process that imported and in another process (an API worker),
before and after that process's background ``Screening.prepare`` (``cryptopay_http.wsgi.keep_screening_warm``).

Before index-at-import, every process's first screening after an import built the version's name index inside the
request (about 3 s at 36,000 names); now the import builds it, an API worker's background thread builds its own
within ``SCREENING_WARM_SECONDS`` of the import, and the lazy build stays only as the fallback. Wall and CPU figures
(``perf_counter``, ``process_time``), printed, never asserted.

Run: ``.venv/bin/python tests/bench/bench_screening_import.py``. Environment: ``BENCH_NAMES`` (default 36000).
"""

from __future__ import annotations

import json
import os
import random
import time

from cryptopay.adapters.sanctions import RapidfuzzMatcher
from cryptopay.core.compliance.screening import Screening
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import ManualClock, SequentialIds

from tests.bench.bench_screening import reads, synthetic


def _ms(started: tuple[float, float]) -> str:
    """Wall and CPU milliseconds since ``started`` (``_now``): the CPU figure is what a loaded machine blurs least."""
    return f"{(time.perf_counter() - started[0]) * 1000:.0f} ms wall, {(time.process_time() - started[1]) * 1000:.0f} ms CPU"


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def main() -> None:
    entries = synthetic(int(os.environ.get("BENCH_NAMES", "36000")), random.Random(20261206))
    storage = InMemoryStorage(**monitoring_repositories())
    importing = Screening(
        uow=storage.unit_of_work, matcher=RapidfuzzMatcher(), clock=ManualClock(), ids=SequentialIds()
    )
    started = _now()
    importing.import_list("ofac_sdn", "bench", entries, actor="operator:bench")
    figures: dict[str, str] = {"import": _ms(started)}
    importing.uow = reads(storage)  # its reads without the in-memory double's copy per unit of work, as below
    started = _now()
    importing.screen_name("Ali Mohamed Hassan")
    figures["first_screening_importing_process"] = _ms(started)
    lazy = Screening(uow=reads(storage), matcher=RapidfuzzMatcher(), clock=ManualClock(), ids=SequentialIds())
    started = _now()
    lazy.screen_name("Ali Mohamed Hassan")
    figures["first_screening_other_process_lazy"] = _ms(started)
    if hasattr(Screening, "prepare"):
        warm = Screening(uow=reads(storage), matcher=RapidfuzzMatcher(), clock=ManualClock(), ids=SequentialIds())
        started = _now()
        warm.prepare()
        figures["background_prepare"] = _ms(started)
        started = _now()
        warm.screen_name("Ali Mohamed Hassan")
        figures["first_screening_other_process_prepared"] = _ms(started)
    for name, value in figures.items():
        print(f"{name}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
