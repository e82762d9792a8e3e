"""``warm_up``: a server worker's first-use costs paid once at start, before it takes traffic.

A worker that has served nothing paid for its first invoice creation with the GIL held: the parts built on first use
(the address derivers' key parsing, the FX sources' HTTP clients), the keccak backend loading, SQLAlchemy compiling
the statements, the rows' converters built, psycopg's first connection; its other threads stalled meanwhile, one
of them perhaps holding the audit head's row lock, so every process's creations queued (docs/operations.md,
"The first creation per worker"). ``Services.warm_ups`` (the composition root's, ``Parts.warm_ups``) are those
steps; none writes anything (they build parts, derive index 0 and read rows that do not exist).

The steps run in a thread of their own, joined for at most ``timeout`` seconds: a thread that ends returns the
connection it pinned to the pool (``SqlStorage``), where the first request finds it open. A step that fails (the
database down at start) is logged, by its exception's type only (a message may carry a connection string), and the
worker starts anyway: what was not warmed is built on first use, as before, and ``/readyz`` still asks the
database itself. A warm-up still running at ``timeout`` (a database that does not answer) is left to finish in the
background.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

import attrs
from cryptopay.adapters.bootstrap.services import Services

__all__ = ["WARM_UP_SECONDS", "WarmUp", "warm_up"]

WARM_UP_SECONDS = 20.0  # the longest a worker waits for its warm-up before it serves anyway

_log = logging.getLogger("cryptopay.warmup")


@attrs.frozen
class WarmUp:
    """What a warm-up did: each finished step's seconds, the steps that failed (their exception's type), and
    whether it finished within the time allowed."""

    seconds: Mapping[str, float]
    failed: Mapping[str, str]
    finished: bool

    @property
    def ok(self) -> bool:
        return self.finished and not self.failed


def warm_up(
    services: Services, *, also: Mapping[str, Callable[[], object]] | None = None, timeout: float = WARM_UP_SECONDS
) -> WarmUp:
    """Run ``services.warm_ups``, then the shell's own steps ``also`` (the HTTP edge's converters), in a thread of
    their own (at most ``timeout`` seconds); log and return what it did. Never raises: a worker that could not warm up
    serves as one that did not try."""
    seconds: dict[str, float] = {}
    failed: dict[str, str] = {}
    steps = {**services.warm_ups, **(also or {})}

    def run() -> None:
        for name, step in steps.items():
            started = time.perf_counter()
            try:
                step()
            except Exception as error:  # the database away at start, a part not configured: built on first use
                failed[name] = type(error).__name__
                _log.debug("warm-up step %s failed", name, exc_info=True)  # its message may name a URL: debug only
            else:
                seconds[name] = round(time.perf_counter() - started, 4)

    thread = threading.Thread(target=run, name="warm-up", daemon=True)
    began = time.perf_counter()
    thread.start()
    thread.join(timeout)
    done = WarmUp(seconds=dict(seconds), failed=dict(failed), finished=not thread.is_alive())
    took = time.perf_counter() - began
    if done.failed or not done.finished:
        _log.warning(
            "warm-up incomplete after %.2f s (failed: %s%s): the rest is built on first use",
            took,
            ", ".join(f"{name} ({kind})" for name, kind in done.failed.items()) or "none",
            "" if done.finished else "; still running",
        )
    else:
        _log.info("warmed up in %.2f s (%s)", took, ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in seconds.items()))
    return done
