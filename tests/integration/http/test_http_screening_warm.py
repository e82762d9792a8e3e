"""An API worker builds each new sanctions list version's name index in the background (``keep_screening_warm``,
started by ``build_production_app``), so a screening in a request after a list import finds it ready."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import attrs
from cryptopay.adapters.bootstrap import ready
from cryptopay.adapters.bootstrap.lazy import missing
from cryptopay.core.compliance.screening import ListEntry, Screening
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import ManualClock, SequentialIds
from cryptopay_http.wsgi import keep_screening_warm

from tests.support.services import in_memory_services
from tests.support.threads import joined
from tests.unit.compliance.test_screening_prepared import CountingMatcher

LISTED = ListEntry(ref="ofac:1", kind="individual", names=("Ali Mohamed Hassan",))
LATER = ListEntry(ref="ofac:2", kind="individual", names=("Juma Otieno Wekesa",))


def _until(done: Callable[[], bool], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)
    return done()


def test_a_worker_builds_each_new_version_in_the_background_and_screenings_build_nothing() -> None:
    storage, matcher, ids = InMemoryStorage(**monitoring_repositories()), CountingMatcher(), SequentialIds()
    importer = Screening(uow=storage.unit_of_work, matcher=matcher, clock=ManualClock(), ids=ids)  # the CLI
    importer.import_list("ofac_sdn", "1", [LISTED], actor="ops:amina")
    worker = Screening(uow=storage.unit_of_work, matcher=matcher, clock=ManualClock(), ids=ids)  # an API worker's
    stopped = threading.Event()
    thread = keep_screening_warm(
        attrs.evolve(in_memory_services(), screening=ready(worker)), every=0.05, stopped=stopped
    )
    assert thread is not None
    try:
        assert _until(lambda: len(matcher.built) == 4)  # the import's two indexes, then the worker's at its start
        importer.import_list("ofac_sdn", "2", [LISTED, LATER], actor="ops:amina")
        assert _until(lambda: len(matcher.built) == 8)  # the import's, then the worker's of the new version
        assert [m.ref for m in worker.screen_name("Juma Otieno Wekesa")] == ["ofac:2"]
        assert len(matcher.built) == 8  # the request built nothing
    finally:
        stopped.set()
        joined(thread)


def test_a_deployment_without_screening_starts_no_thread() -> None:
    services = attrs.evolve(in_memory_services(), screening=missing("sanctions screening"))
    assert keep_screening_warm(services, stopped=threading.Event()) is None
