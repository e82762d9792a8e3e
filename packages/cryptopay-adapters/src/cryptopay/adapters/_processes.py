"""Child processes that end with the process that started them (development, demos and tests).

A run stopped abruptly (pytest-xdist's workers killed on Ctrl-C or ``-x``, a crash, ``kill -9``) runs no fixture
finaliser and no ``finally``, so every process a fixture or a demo started (anvil, the sandbox's simulators, a
demo's API and worker) would outlive it, holding ports and CPU on a shared machine. Two guards:

- ``die_with_parent()``: a ``preexec_fn`` asking Linux (``prctl(PR_SET_PDEATHSIG, SIGTERM)``, kept across ``exec``)
  to send the child SIGTERM when the thread that started it ends (start children from a thread that lives as long
  as they should: the main one); elsewhere None (nothing to arrange). A parent already gone when the child starts
  is noticed too.
- ``watch_parent(pid, stop)``: for a process detached on purpose (``cryptopay sandbox up`` starts the stack in its
  own session, so that it outlives the command), a daemon thread that calls ``stop`` once ``pid`` has ended
  (``cryptopay sandbox up --exit-with PID``).

>>> alive(os.getpid())
True
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["alive", "die_with_parent", "watch_parent"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``subprocess.Popen(preexec_fn=...)`` that has the child sent ``signum`` when its parent ends (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork: the child only calls it

    def arrange() -> None:
        prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
        if os.getppid() != parent:  # the parent ended between the fork and the prctl
            os.kill(os.getpid(), signum)

    return arrange


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): the signal test is all there is
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def watch_parent(pid: int, stop: Callable[[], None], *, every: float = 0.5) -> threading.Thread:
    """Call ``stop`` (once) when process ``pid`` has ended; checks every ``every`` seconds in a daemon thread."""

    def watch() -> None:
        while alive(pid):
            threading.Event().wait(every)
        stop()

    thread = threading.Thread(target=watch, name=f"exit-with-{pid}", daemon=True)
    thread.start()
    return thread
