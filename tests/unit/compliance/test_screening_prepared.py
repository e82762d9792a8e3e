"""A list version's name index is built when the list is imported (``Screening.import_list``), and a long-running
process builds it in the background (``Screening.prepare``), so a screening after an import finds it ready: with
36,000 names the build takes about 3 s, which the first screening after an import used to pay inside someone's
request. The lazy build stays as the fallback, once per version whatever the concurrency."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from cryptopay.adapters.sanctions import RapidfuzzMatcher
from cryptopay.adapters.sanctions.matching import RapidfuzzIndex
from cryptopay.core.compliance.screening import ListEntry, Screening
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import ManualClock, SequentialIds

from tests.support.threads import joined

ENTRIES = [
    ListEntry(ref="ofac:1", kind="individual", names=("Ali Mohamed Hassan",)),
    ListEntry(ref="ofac:2", kind="entity", names=("Badguy Crypto Ltd", "BGC")),
]


class CountingMatcher(RapidfuzzMatcher):
    """The production matcher, recording each index it builds (two per list version: plain and folded names)."""

    def __init__(self) -> None:
        self.built: list[int] = []

    def index(self, names: Sequence[str]) -> RapidfuzzIndex:
        self.built.append(len(names))
        return super().index(names)


IDS = SequentialIds()  # one id sequence however many processes' screenings import


def _screening(storage: InMemoryStorage, matcher: CountingMatcher) -> Screening:
    return Screening(uow=storage.unit_of_work, matcher=matcher, clock=ManualClock(), ids=IDS)


def test_the_import_builds_the_index_so_the_first_screening_after_it_builds_nothing() -> None:
    storage, matcher = InMemoryStorage(**monitoring_repositories()), CountingMatcher()
    importing = _screening(storage, matcher)
    importing.import_list("ofac_sdn", "1", ENTRIES, actor="ops:amina")
    assert len(matcher.built) == 2
    assert [m.ref for m in importing.screen_name("Ali Mohamed Hassan")] == ["ofac:1"]
    assert len(matcher.built) == 2
    importing.import_list("ofac_sdn", "1", ENTRIES, actor="ops:amina")  # the same list again: nothing new to build
    assert len(matcher.built) == 2


def test_another_process_prepares_new_versions_in_the_background_and_the_lazy_path_stays() -> None:
    storage, matcher = InMemoryStorage(**monitoring_repositories()), CountingMatcher()
    _screening(storage, matcher).import_list("ofac_sdn", "1", ENTRIES, actor="ops:amina")
    api = _screening(storage, matcher)  # an API worker's own screening, as a process holds it
    assert [s.version for s in api.prepare()] == ["1"] and len(matcher.built) == 4
    assert api.prepare() == [] and len(matcher.built) == 4  # nothing new: nothing built
    assert api.screen_name("Badguy Crypto Ltd") and len(matcher.built) == 4
    newer = [*ENTRIES, ListEntry(ref="ofac:3", kind="individual", names=("Juma Otieno Wekesa",))]
    _screening(storage, matcher).import_list("ofac_sdn", "2", newer, actor="ops:amina")
    assert [s.version for s in api.prepare()] == ["2"] and len(matcher.built) == 8
    never = _screening(storage, matcher)  # a process that never prepared: its first screening builds (the fallback)
    assert [m.ref for m in never.screen_name("Juma Otieno Wekesa")] == ["ofac:3"] and len(matcher.built) == 10


def test_screenings_arriving_during_a_build_wait_for_it_rather_than_build_again() -> None:
    storage, matcher = InMemoryStorage(**monitoring_repositories()), CountingMatcher()
    _screening(storage, matcher).import_list("ofac_sdn", "1", ENTRIES, actor="ops:amina")
    api, found = _screening(storage, matcher), []
    threads = [threading.Thread(target=lambda: found.append(api.screen_name("Ali Mohamed Hassan"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    joined(*threads)
    assert len(found) == 4 and len(matcher.built) == 2 + 2  # the import's build, then this process's one
