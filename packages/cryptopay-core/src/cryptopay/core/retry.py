"""Retrying a call to a dependency with exponential backoff, then giving up with ``Unavailable``.

>>> list(Backoff(initial=0.5, factor=2, maximum=1.5, attempts=4).delays())
[0.5, 1.0, 1.5]
>>> calls = []
>>> def flaky() -> str:
...     calls.append(1)
...     if len(calls) < 3:
...         raise OSError("down")
...     return "ok"
>>> call_with_backoff(flaky, what="reading", network="tron", retry_on=(OSError,), backoff=Backoff(),
...                   sleep=lambda s: None)
'ok'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import attrs
from cryptopay.core.errors import Unavailable

__all__ = ["Backoff", "call_with_backoff"]

T = TypeVar("T")
log = logging.getLogger(__name__)


@attrs.frozen
class Backoff:
    """Exponential backoff: ``attempts`` tries; waits start at ``initial`` s, grow by ``factor``, cap at ``maximum``."""

    initial: float = 0.25
    factor: float = 2.0
    maximum: float = 10.0
    attempts: int = 6

    def delays(self) -> Iterator[float]:
        """The waits between attempts (one fewer than ``attempts``)."""
        delay = self.initial
        for _ in range(self.attempts - 1):
            yield min(delay, self.maximum)
            delay *= self.factor


def call_with_backoff(
    action: Callable[[], T],
    *,
    what: str,
    network: str,
    retry_on: tuple[type[BaseException], ...],
    backoff: Backoff,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``action``, retrying the ``retry_on`` errors with backoff; raise Unavailable when every try failed.

    The message names the network and the operation, never a URL (hosted node URLs carry API keys).
    """
    delays = backoff.delays()
    while True:
        try:
            return action()
        except retry_on as error:
            delay = next(delays, None)
            if delay is None:
                kind = type(error).__name__
                raise Unavailable(
                    f"{network} node failed {backoff.attempts} times while {what} ({kind}); retry later",
                    network=network,
                ) from None
            log.warning("%s node error while %s (%s); retrying in %.2f s", network, what, type(error).__name__, delay)
            sleep(delay)
