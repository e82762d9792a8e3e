"""Commit fences: work begun under a claim commits only while the claim still holds.

An idempotent request claims its key, then runs use cases that each commit a unit of work. If the claim went
stale and another request took it over, the first request must not commit as well (it would run twice). So the
claimant installs a ``Fence`` for its thread of work (``fenced``), and every unit of work calls ``check`` just
before it commits, inside its own transaction: the fence renews the claim there (on SQL, an UPDATE on the same
connection, so a takeover either happened before, and the commit is refused, or waits until after, and finds the
claim fresh). A lost claim raises ``ClaimLost`` and the transaction rolls back.

>>> check(None)  # no fence: nothing to hold
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from cryptopay.core.errors import Conflict
from cryptopay.core.ports.identity import IdempotencyRepository

__all__ = ["ClaimLost", "Fence", "check", "fenced"]


class ClaimLost(Conflict):
    """The request's idempotency claim was taken over by a retry: this request may no longer commit anything."""

    code = "idempotency_taken_over"


class Fence(Protocol):
    def hold(self, claims: IdempotencyRepository | None) -> None:
        """Renew the claim through ``claims`` (the committing transaction's own repository, when it has one);
        raise ``ClaimLost`` when it is no longer ours."""
        ...


_FENCE: ContextVar[Fence | None] = ContextVar("cryptopay_fence", default=None)


@contextmanager
def fenced(fence: Fence) -> Iterator[None]:
    """Run the block with ``fence`` checked before every commit."""
    token = _FENCE.set(fence)
    try:
        yield
    finally:
        _FENCE.reset(token)


def check(claims: IdempotencyRepository | None) -> None:
    """Called by a unit of work just before it commits, inside its transaction."""
    fence = _FENCE.get()
    if fence is not None:
        fence.hold(claims)
