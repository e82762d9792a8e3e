"""What a test run starts ends with it, even when the run is killed outright (a stopped pytest-xdist worker runs no
finaliser): children started with ``die_with_parent``, anvil, and a sandbox started with ``--exit-with``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.adapters._processes import alive

from tests.integration.sandbox.test_sandbox_stack import cryptopay

_PARENT = """
import subprocess, sys, time
from cryptopay.adapters._processes import die_with_parent
guard = die_with_parent() if sys.argv[1] == "guarded" else None
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], preexec_fn=guard)
print(child.pid, flush=True)
time.sleep(120)
"""

_ANVIL_PARENT = """
import time
from cryptopay.sandbox.anvil import AnvilNode
node = AnvilNode.start()
print(node.process.pid, flush=True)
time.sleep(120)
"""


def _gone(pid: int, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def reap() -> Iterator[list[int]]:
    """Pids to kill after the test, whatever happened (a failing test must not leave its own processes behind)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def _killed_parent(code: str, *args: str, reap: list[int]) -> int:
    """Start a parent running ``code``; read its child's pid; kill the parent with SIGKILL; the child's pid."""
    parent = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    reap += [parent.pid, child]
    assert alive(child)
    parent.kill()
    parent.wait()
    return child


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_guarded_child_ends_with_its_killed_parent_and_an_unguarded_one_would_not(reap) -> None:
    """SIGKILL to the parent: the child started with ``die_with_parent`` ends; one started without it lives on."""
    assert _gone(_killed_parent(_PARENT, "guarded", reap=reap))
    orphan = _killed_parent(_PARENT, "unguarded", reap=reap)
    time.sleep(1.0)
    assert alive(orphan)  # what a stopped run used to leave behind (the fixture kills it)


@pytest.mark.anvil
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_anvil_ends_with_the_process_that_started_it(reap) -> None:
    """A test process holding anvil (a session fixture's) is killed outright: anvil ends too."""
    assert _gone(_killed_parent(_ANVIL_PARENT, reap=reap))


@pytest.mark.anvil
def test_a_sandbox_started_with_exit_with_stops_once_that_process_ended(tmp_path: Path, reap) -> None:
    """``cryptopay sandbox up --exit-with PID``: once PID is killed the stack stops, anvil with it, the manifest gone."""
    run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])  # stands for the test run
    reap.append(run.pid)
    env = {**os.environ, "CRYPTOPAY_DATA_DIR": str(tmp_path)}
    started = cryptopay("sandbox", "up", "--block-time", "0", "--json", "--exit-with", str(run.pid), env=env)
    assert started.returncode == 0, started.stderr
    manifest = json.loads(started.stdout)
    stack = int(manifest["pid"])
    reap.append(stack)
    anvil_port = manifest["evm"]["rpc_url"].rsplit(":", 1)[-1]
    run.kill()
    run.wait()
    assert _gone(stack, within=30.0)
    assert not (tmp_path / "sandbox.json").exists()
    assert not _listening(int(anvil_port))


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
