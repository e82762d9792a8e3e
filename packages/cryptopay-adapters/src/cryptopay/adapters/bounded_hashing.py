"""A cap on concurrent password hashing per process, so a burst of logins cannot take every core and all memory.

Argon2id is slow and memory-hard on purpose (about 64 MiB and tens of milliseconds per hash): fifty logins at once
would hold gigabytes and starve every other request. ``BoundedHasher`` lets ``max_concurrent`` hashes run at once
in this process; a caller waits up to ``wait_seconds`` for a slot, then gets ``Unavailable`` (503, retry later)
instead of queueing without bound. Run fewer than (cores / API processes) per process.

>>> from cryptopay.adapters.passwords import Argon2Hasher
>>> hasher = BoundedHasher(Argon2Hasher(time_cost=1, memory_cost=64), max_concurrent=1)
>>> hasher.verify(hasher.hash("pw"), "pw")
True
"""

from __future__ import annotations

import threading

from cryptopay.core.errors import Unavailable
from cryptopay.core.ports.identity import PasswordHasher

__all__ = ["BoundedHasher"]


class BoundedHasher:
    """``PasswordHasher`` that runs at most ``max_concurrent`` hashes or verifications of ``inner`` at once."""

    def __init__(self, inner: PasswordHasher, *, max_concurrent: int = 2, wait_seconds: float = 5.0) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self._inner = inner
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._wait = wait_seconds

    def _slot(self) -> None:
        if not self._slots.acquire(timeout=self._wait):
            raise Unavailable("too many sign-ins are being checked at once; retry in a few seconds")

    def hash(self, password: str) -> str:
        self._slot()
        try:
            return self._inner.hash(password)
        finally:
            self._slots.release()

    def verify(self, password_hash: str, password: str) -> bool:
        self._slot()
        try:
            return self._inner.verify(password_hash, password)
        finally:
            self._slots.release()

    def needs_rehash(self, password_hash: str) -> bool:
        return self._inner.needs_rehash(password_hash)
