"""Password hashing is bounded in concurrency per process (#12.5)."""

from __future__ import annotations

import threading

import pytest
from cryptopay.adapters.bounded_hashing import BoundedHasher
from cryptopay.adapters.passwords import Argon2Hasher
from cryptopay.core.errors import Unavailable

from tests.support.threads import WITHIN, joined


class HeldHasher:
    """A ``PasswordHasher`` whose verify waits until released, so a slot can be held on purpose."""

    def __init__(self) -> None:
        self.inner = Argon2Hasher(time_cost=1, memory_cost=64)
        self.entered, self.release = threading.Event(), threading.Event()

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.entered.set()
        assert self.release.wait(WITHIN), "the test never released the held hash"
        return self.inner.verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return False


def test_past_the_cap_a_caller_is_refused_with_unavailable_not_queued_forever() -> None:
    """With every slot busy a further hash gives Unavailable (503); once a slot frees, hashing works again."""
    held = HeldHasher()
    hasher = BoundedHasher(held, max_concurrent=1, wait_seconds=0.05)
    stored = hasher.hash("a long passphrase")
    results: list[bool] = []
    first = threading.Thread(target=lambda: results.append(hasher.verify(stored, "a long passphrase")))
    first.start()
    assert held.entered.wait(WITHIN), "the first verify never reached the hasher"
    with pytest.raises(Unavailable, match="retry"):
        hasher.hash("another passphrase")
    held.release.set()
    joined(first)
    assert results == [True] and hasher.verify(stored, "a long passphrase")


def test_a_cap_below_one_is_refused() -> None:
    """A bound of zero would refuse every login; it is a configuration error."""
    with pytest.raises(ValueError, match="at least 1"):
        BoundedHasher(Argon2Hasher(), max_concurrent=0)
