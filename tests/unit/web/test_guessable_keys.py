"""Idempotency keys on routes without credentials: guessable ones refused, random ones never (review 3, I16)."""

from __future__ import annotations

import base64
import random
import uuid

import pytest
from cryptopay_http.idempotency import guessable

GUESSABLE = (
    "12345678-1234-1234-1234-123456789012",  # accepted before: a UUID's shape around a counting pattern
    "abcdefghijklmnopqrstuvwxyz",  # the alphabet
    "order-1001-order-1001-order",  # an order number repeated to length
    "12345678-1234-4234-8234-123456789012",  # the same with version 4's digits
    "ffffffff-ffff-4fff-bfff-ffffffffffff",
    "6f0b6a55-3f0e-1d8a-9d1c-2b7f4f1c9e10",  # random-looking, but version 1 (time-based)
    "order-00000000000000001001",
    "abababababababababababab",
    "0123456789012345678901234567",
)


@pytest.mark.parametrize("key", GUESSABLE)
def test_a_sequence_a_repeated_piece_or_another_uuid_version_is_guessable(key: str) -> None:
    """Keys built from counting, repeating or another UUID version are refused whatever their length."""
    assert guessable(key)


def test_random_keys_as_clients_make_them_are_never_refused() -> None:
    """Ten thousand uuid4s and token_urlsafe(16)s from a seeded generator all pass (in 300,000 of each the fewest new
    characters were 14 and 15, against 12 required)."""
    rng = random.Random(20261206)
    for _ in range(10_000):
        assert not guessable(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        assert not guessable(base64.urlsafe_b64encode(rng.randbytes(16)).rstrip(b"=").decode())
