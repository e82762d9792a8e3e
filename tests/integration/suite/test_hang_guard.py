"""The suite's own run never hangs in silence (``conftest.py`` at the root): a small suite run as ``make test`` runs
the real one (two xdist workers, ``--dist loadgroup`` through the root conftest's scheduler, its hang guard).

A test past its timeout fails with the stacks; one deaf to SIGALRM is ended by the guard's thread, its stacks are
written, its worker dies, and the run goes on to the end on a new worker, where the crashed test is not run again.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CONFTEST = f"""
import importlib.util

spec = importlib.util.spec_from_file_location("cryptopay_root_conftest", {str(ROOT / "conftest.py")!r})
root = importlib.util.module_from_spec(spec)
spec.loader.exec_module(root)
root.HANG_GRACE = 1.0  # seconds past a test's timeout before the guard's thread ends its worker
pytest_xdist_make_scheduler = root.pytest_xdist_make_scheduler
pytest_timeout_set_timer = root.pytest_timeout_set_timer
pytest_timeout_cancel_timer = root.pytest_timeout_cancel_timer
"""

TESTS = """
import signal
import time

import pytest


def test_before():
    pass


@pytest.mark.timeout(2)
def test_sleeps_past_its_timeout():
    time.sleep(60)


@pytest.mark.timeout(2)
def test_deaf_to_sigalrm():
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
    time.sleep(60)


def test_after_1():
    pass


def test_after_2():
    pass


def test_after_3():
    pass
"""


def test_a_hung_test_fails_with_its_stacks_and_the_run_goes_on_to_the_end(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_hangs.py").write_text(textwrap.dedent(TESTS))
    command = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider", "-rf"]
    # the bound is the point: before the scheduler's mend, the new worker waited forever
    done = subprocess.run(
        [*command, str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "2 failed, 4 passed" in out, out
    assert "Timeout (>2.0s) from pytest-timeout" in out and "test_sleeps_past_its_timeout" in out, out
    assert "test_deaf_to_sigalrm still runs 1 s after its timeout of 2 s" in out, out
    assert "in test_deaf_to_sigalrm" in out, out  # the main thread's stack, from the guard's thread
    # xdist's own line, once: the crashed test is not run again (the summary's FAILED line repeats the words; pytest
    # cuts it to the terminal's width, except under CI=true, which .ci/run sets)
    crashed = [line for line in out.splitlines() if line.startswith("worker '") and "crashed while running" in line]
    assert len(crashed) == 1 and crashed[0].endswith("'test_hangs.py::test_deaf_to_sigalrm'"), out
