"""The suite in parallel: ``make test`` runs pytest-xdist workers (``-n 3 --dist loadgroup``); plain pytest is serial.

Each xdist worker is a pytest session of its own, so its session fixtures (the PostgreSQL databases, named by the
worker's pid; an anvil node on a free port; the sandbox simulators on free ports; ``tmp_path_factory``'s
directories, under ``popen-gwN``) are its own. What is shared by name on the machine is split here, per worker:

- Redis: worker ``gwN`` uses database number ``N + 1`` of ``REDIS_URL`` (the tests' keys and queue names are unique
  anyway; RQ's worker registry and scheduler keys are not).
- bitcoinlib's data directory (``BCL_DATA_DIR``): it is written when bitcoinlib is first imported, and three workers
  importing it at once into one fresh directory could read each other's half-copied files.

A test that runs an RQ worker in this process leaves RQ's SIGINT/SIGTERM handlers installed; they are put back
after each test (an xdist worker being shut down is interrupted with SIGINT, which RQ's handler turned into a
``StopRequested`` traceback at the end of the run).

Tests that share one session-wide stack run on one worker (``xdist_group``): the browser tests (one live stack and
one Chromium for all of them). Tests of a module with a module-scoped fixture (a server, a migrated database) stay
together too, so that fixture is built once, not once per worker.

>>> redis_for_worker("redis://127.0.0.1:6379/0", "gw2")
'redis://127.0.0.1:6379/3'
>>> redis_for_worker("redis://:secret@cache:6380", "gw0")
'redis://:secret@cache:6380/1'
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

GROUPS = {"tests/browser/": "browser"}
"""Directories whose tests share one session-wide stack, and the worker group they run in."""

_SHARED_SCOPES = {"module", "package", "class"}


def redis_for_worker(url: str, worker: str) -> str:
    """``url`` with the Redis database number of xdist worker ``worker`` (``gwN``: the URL's database + N + 1)."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    number = (base + int(worker.removeprefix("gw")) + 1) % 16  # Redis has 16 databases unless configured otherwise
    return urlunsplit(parts._replace(path=f"/{number}"))


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return
    os.environ["REDIS_URL"] = redis_for_worker(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), worker)
    if "BCL_DATA_DIR" not in os.environ:
        home = tempfile.mkdtemp(prefix=f"cryptopay-bitcoinlib-{worker}-")
        os.environ["BCL_DATA_DIR"] = home
        config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups off the items
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):  # set on the workers of --dist loadgroup (their dist is "no")
        return
    for item in items:
        path = item.nodeid.partition("::")[0]
        group = next((name for prefix, name in GROUPS.items() if path.startswith(prefix)), None)
        if group is None and _has_shared_fixture(item):
            group = path
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def _has_shared_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:  # doctests
        return False
    return any(d.scope in _SHARED_SCOPES for defs in info.name2fixturedefs.values() for d in defs)


@pytest.fixture(autouse=True)
def _signal_handlers_restored() -> Iterator[None]:
    """Whatever a test did to this process's SIGINT/SIGTERM handlers is undone after it."""
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in before.items():
        if handler is not None and signal.getsignal(number) is not handler:
            signal.signal(number, handler)
