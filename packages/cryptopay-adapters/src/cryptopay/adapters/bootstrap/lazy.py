"""``Lazy``: one part of the ``Services``, built by its factory on first use and kept (thread-safe).

>>> calls = []
>>> part = Lazy(lambda: calls.append(1) or "built")
>>> part.built, part.get(), part.get(), len(calls), part.built
(False, 'built', 'built', 1, True)
>>> ready(3).get()
3
>>> missing("payouts", "set CRYPTOPAY_MPESA_*").get()
Traceback (most recent call last):
...
cryptopay.core.errors.Unavailable: payouts are not configured here: set CRYPTOPAY_MPESA_*
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from cryptopay.core.errors import Unavailable

__all__ = ["Lazy", "missing", "ready"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Lazy(Generic[T_co]):
    """A part built on first ``get()``; a factory that raises leaves the part unbuilt (the next use tries again)."""

    def __init__(self, factory: Callable[[], T_co]) -> None:
        self._factory = factory
        self._box: tuple[T_co] | None = None  # the built value, boxed so that None can be a value too
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._box is not None

    def get(self) -> T_co:
        box = self._box
        if box is None:
            with self._lock:
                box = self._box
                if box is None:
                    box = self._box = (self._factory(),)
        return box[0]

    def __repr__(self) -> str:
        return f"Lazy({'built' if self.built else 'not built'})"


def ready(value: T) -> Lazy[T]:
    """A part that is already built (tests and embedders hand their own ports in)."""
    part = Lazy(lambda: value)
    part.get()
    return part


def missing(name: str, hint: str = "this deployment does not wire it") -> Lazy[T]:
    """A part this deployment lacks: using it is ``Unavailable`` (a 503 over HTTP, exit code 6 in the CLI)."""

    def refuse() -> T:
        raise Unavailable(f"{name} are not configured here: {hint}")

    return Lazy(refuse)
