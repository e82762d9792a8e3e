"""The suite in parallel: ``make test PYTEST_WORKERS=2`` runs pytest-xdist workers (``-n 2 --dist loadgroup``).

``make test`` runs two workers on this 2-core machine (``PYTEST_WORKERS=0`` for one process): a clean clone's
``bash .ci/run`` took 8 min 31 s on a quiet machine, pytest 7 min 49 s, against 13.6 to 14.4 minutes of serial
pytest. The suite's own processes use at least 712 s of CPU, so two workers cannot take much less; the ``stacks``
group (browser tests and demos) does not bound them: its worker finishes the group first and takes other tests.

Each xdist worker is a pytest session of its own, so its session fixtures (the PostgreSQL databases, named by the
worker's pid; an anvil node on a free port; the sandbox simulators on free ports; ``tmp_path_factory``'s
directories, under ``popen-gwN``) are its own. What is shared by name on the machine is split here, per worker:

- Redis: worker ``gwN`` uses database number ``N + 1`` of ``REDIS_URL`` (the tests' keys and queue names are unique
  anyway; RQ's worker registry and scheduler keys are not).
- bitcoinlib's data directory (``BCL_DATA_DIR``): it is written when bitcoinlib is first imported, and three workers
  importing it at once into one fresh directory could read each other's half-copied files.
- Our data directory (``CRYPTOPAY_DATA_DIR``, else ``.cryptopay`` in the working directory: the embedded SQLite
  database, the dev keys, a sandbox's manifest, ``serve --dev``'s address): each test process (each worker, or the
  one process of a serial run) has a new one, unless the variable is set, so that a test that builds on the defaults
  meets neither the other worker's files nor those an earlier run, a demo or a developer left in the checkout.

A test that runs an RQ worker in this process leaves RQ's SIGINT/SIGTERM handlers installed; they are put back
after each test (an xdist worker being shut down is interrupted with SIGINT, which RQ's handler turned into a
``StopRequested`` traceback at the end of the run).

Tests that share one stack run on one worker (``GROUPS``, by path: a scheduler of our own): the browser tests (one
live stack and one Chromium for all of them) and the end-to-end demos (one whole stack at a time).

Password hashing in the test processes (``cheap_password_hashing``): Argon2id at the cost of the HTTP tests'
``fast_hasher`` (one pass over 1 MiB) wherever the code under test takes the library's default parameters (the root
wiring's ``Argon2Hasher()``, ``in_memory_services``): at the production cost (64 MiB, three passes) each hash and
each verification took about 0.2 s of CPU, over a hundred seconds of the suite's sign-ups and logins. The same
algorithm, the same code paths (a hash made at one cost verifies at any; a login rehashes a hash of other parameters);
processes the tests start (the demos, the browser tests' stack, CLI subprocesses) hash at the production cost, and
``tests/unit/identity/test_password_hashing_cost.py`` checks, in a process of its own, that production's is RFC 9106's.

The collected suite is frozen out of the cyclic garbage collector's reach (``pytest_collection_finish``: ``gc.freeze``,
as a production worker freezes what it built at start): a worker's heap after collection (every module imported, every
test item: over 250,000 objects) was traversed again by each full collection, about 0.1-0.25 s of CPU each, a few
hundred times a run; the HTTP tests spent over 40% of their CPU in the collector (tests/integration/http_review's
crypto and portal probes: 44.6 s of CPU, 20.1 s of it collecting; frozen, 36.9 s and 11.7 s). Objects the tests make
are collected as before.

The hang guard (pytest-timeout; ``timeout`` and ``timeout_method`` in pyproject.toml): a guard against a run that
never ends, not a timed assertion. A test that is still running after ``timeout`` seconds (its fixtures' setup and
teardown included: the last test of a worker also tears the session fixtures down) fails with the stacks of every
thread (SIGALRM interrupts the main thread, whose traceback is the failure; the other threads' stacks are in its
captured output), and the run goes on. Some waits cannot be interrupted by a signal (a C call that retries, RQ's
in-process worker, which takes SIGALRM for its own job timeouts), so ``pytest_timeout_set_timer`` below also starts
a thread that, ``HANG_GRACE`` seconds after the timeout, dumps every thread's stack and ends the worker process:
pytest-xdist reports the test as crashed (a failure) and starts another worker, so the run goes on or ends, never
in silence. A test that may take longer has its own ``@pytest.mark.timeout(seconds)``.

>>> redis_for_worker("redis://127.0.0.1:6379/0", "gw2")
'redis://127.0.0.1:6379/3'
>>> redis_for_worker("redis://:secret@cache:6380", "gw0")
'redis://:secret@cache:6380/1'
"""

from __future__ import annotations

import dataclasses
import gc
import os
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import argon2
import pytest
from hypothesis import settings

# No per-example deadline anywhere: hypothesis's default (200 ms) is a timed assertion, and on a loaded machine an
# example that is correct but slow failed as DeadlineExceeded / Flaky. A test's own ``settings`` still applies.
settings.register_profile("cryptopay", deadline=None)
settings.load_profile("cryptopay")

TEST_PASSWORD_HASHING = dataclasses.replace(argon2.profiles.get_default_parameters(), time_cost=1, memory_cost=1024)
"""Argon2id's parameters in the test processes: ``tests.integration.http.http_support.fast_hasher``'s."""


def cheap_password_hashing() -> None:
    """Argon2's default parameters, as ``Argon2Hasher()`` reads them, are ``TEST_PASSWORD_HASHING`` in this process."""
    argon2.profiles.get_default_parameters = lambda: TEST_PASSWORD_HASHING


cheap_password_hashing()

GROUPS = {"tests/browser/": "stacks", "tests/e2e/": "stacks"}
"""Directories whose tests run whole on one worker: the browser tests share one live stack and one Chromium; the
end-to-end demos each start a whole stack too (anvil, simulators, APIs, workers), so one runs at a time, as serially.
"""


def redis_for_worker(url: str, worker: str) -> str:
    """``url`` with the Redis database number of xdist worker ``worker`` (``gwN``: the URL's database + N + 1)."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    number = (base + int(worker.removeprefix("gw")) + 1) % 16  # Redis has 16 databases unless configured otherwise
    return urlunsplit(parts._replace(path=f"/{number}"))


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None and config.getoption("numprocesses", None):
        return  # the controller of xdist workers runs no test; each worker makes its own below
    if "CRYPTOPAY_DATA_DIR" not in os.environ:
        _private_directory(config, "CRYPTOPAY_DATA_DIR", f"cryptopay-data-{worker or 'main'}-")
    if worker is None:
        return
    os.environ["REDIS_URL"] = redis_for_worker(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), worker)
    if "BCL_DATA_DIR" not in os.environ:
        _private_directory(config, "BCL_DATA_DIR", f"cryptopay-bitcoinlib-{worker}-")


def _private_directory(config: pytest.Config, variable: str, prefix: str) -> None:
    """Set ``variable`` to a new directory of this process's own, removed at the end of the session."""
    home = tempfile.mkdtemp(prefix=prefix)
    os.environ[variable] = home
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection left (modules, test items) frozen out of the cyclic collector's generations: never traversed
    again by a collection during the tests (see the module's docstring)."""
    gc.collect()
    gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` by path: each test is its own unit, except the ``GROUPS``, each sent whole to one worker.

    (xdist's own loadgroup reads ``xdist_group`` marks through node ids that pytest 9.2 no longer lets it change:
    pytest-xdist issue 1386.)
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class Grouped(LoadScopeScheduling):  # type: ignore[misc]
        """xdist's scope scheduling, by ``group_of``, and safe after a worker crashed (the hang guard ends one).

        xdist's own put the crashed unit back, the test that crashed included (it ran again, and crashed again, on
        each new worker), and gave the new worker one unit; a worker runs a test only once it holds the next one
        (or is told to stop), so a new worker given one single-test unit waited forever, and the run with it.
        """

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid) or nodeid

        def remove_node(self, node: Any) -> str | None:
            workload = self.assigned_work.pop(node)
            pending = [nodeid for unit in workload.values() for nodeid, done in unit.items() if not done]
            if not pending:
                return None
            crashed = pending[0]  # xdist reports it failed ("worker crashed while running"); it is not run again
            for scope, unit in workload.items():
                unit.pop(crashed, None)
                if not all(unit.values()):
                    self.workqueue[scope] = unit
            for other in self.assigned_work:
                self._reschedule(other)
            return crashed

        def _reschedule(self, node: Any) -> None:
            super()._reschedule(node)
            while not node.shutting_down and self._pending_of(self.assigned_work[node]) < 2:
                if not self.workqueue:
                    node.shutdown()  # a worker told to stop runs what it holds
                    break
                self._assign_work_unit(node)

    return Grouped(config, log)


def group_of(nodeid: str) -> str | None:
    """The worker group of the test ``nodeid``, if it shares a stack with others.

    >>> group_of("tests/browser/test_web_deposit.py::test_deposit"), group_of("tests/unit/test_money.py::test_add")
    ('stacks', None)
    """
    path = nodeid.partition("::")[0]
    return next((name for prefix, name in GROUPS.items() if path.startswith(prefix)), None)


HANG_GRACE = 120.0
"""Seconds after a test's timeout at which the hang guard's thread ends the worker (see the module's docstring)."""

_backstop = pytest.StashKey[threading.Timer]()


@pytest.hookimpl(optionalhook=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> None:
    """Besides pytest-timeout's SIGALRM: a thread that, HANG_GRACE s later, dumps every stack and ends this process."""

    def backstop() -> None:
        capture = item.config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            capture.suspend_global_capture(in_=True)
        # To file descriptor 2, not to the terminal writer: on an xdist worker that is the controller's stderr, while
        # its standard output is /dev/null (pytest-timeout's own thread method writes the stacks there, lost).
        stream = sys.__stderr__
        assert stream is not None
        stream.write(
            f"\n{'+' * 30} hang guard {'+' * 30}\n{item.nodeid} still runs {HANG_GRACE:.0f} s after its timeout of"
            f" {settings.timeout:.0f} s (SIGALRM did not stop it); every thread's stack, then this process ends\n"
            + every_stack()
        )
        stream.flush()
        os._exit(1)

    timer = threading.Timer(settings.timeout + HANG_GRACE, backstop)
    timer.name = f"hang guard {item.nodeid}"
    timer.daemon = True
    item.stash[_backstop] = timer
    timer.start()


def every_stack() -> str:
    """The stack of every thread of this process but the caller's, by name."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    return "".join(
        f"--- thread {names.get(ident, ident)!r}\n" + "".join(traceback.format_stack(frame))
        for ident, frame in sys._current_frames().items()
        if ident != threading.get_ident()
    )


@pytest.hookimpl(optionalhook=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> None:
    timer = item.stash.get(_backstop, None)
    if timer is not None:
        timer.cancel()
        del item.stash[_backstop]


@pytest.fixture(autouse=True)
def _signal_handlers_restored() -> Iterator[None]:
    """Whatever a test did to this process's SIGINT/SIGTERM handlers is undone after it."""
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in before.items():
        if handler is not None and signal.getsignal(number) is not handler:
            signal.signal(number, handler)
