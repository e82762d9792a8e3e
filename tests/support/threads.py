"""Joining a test's threads with a bound: a thread that never ends fails the test with its stack, never hangs it.

>>> import threading
>>> done = threading.Thread(target=lambda: None, name="quick")
>>> done.start()
>>> joined(done)
>>> stuck, release = threading.Event(), threading.Event()
>>> waiting = threading.Thread(target=release.wait, name="waits-for-release", daemon=True)
>>> waiting.start()
>>> joined(waiting, within=0.05)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
AssertionError: 1 thread(s) still running after 0.05 s: waits-for-release
...
>>> release.set()
"""

from __future__ import annotations

import sys
import threading
import time
import traceback

WITHIN = 120.0
"""Seconds a test's threads get to end (they take seconds; a thread waiting on a lock fails at its lock_timeout)."""


def joined(*threads: threading.Thread, within: float = WITHIN) -> None:
    """Wait for every one of ``threads`` to end; an AssertionError naming (with its stack) each still running after
    ``within`` seconds."""
    deadline = time.monotonic() + within
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    running = [thread for thread in threads if thread.is_alive()]
    if running:
        frames = sys._current_frames()
        stacks = "".join(
            f"\n--- {thread.name}\n" + "".join(traceback.format_stack(frames[thread.ident]))
            for thread in running
            if thread.ident in frames
        )
        names = ", ".join(thread.name for thread in running)
        raise AssertionError(f"{len(running)} thread(s) still running after {within} s: {names}{stacks}")
