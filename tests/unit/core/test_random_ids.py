"""``RandomIds``: ULID-like ids, monotonic within a process, from one draw of the system's randomness each."""

from __future__ import annotations

import os

import pytest
from cryptopay.core.system import _ALPHABET, RandomIds


def test_each_id_draws_the_system_s_randomness_once_even_in_one_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    draws: list[int] = []
    real = os.urandom

    def counted(size: int) -> bytes:
        draws.append(size)
        return real(size)

    monkeypatch.setattr(os, "urandom", counted)
    monkeypatch.setattr("time.time", lambda: 1_765_000_000.0)  # one millisecond for every id
    ids = RandomIds()
    made = [ids.new_id("trf") for _ in range(500)]
    assert draws == [10] * 500  # a same-millisecond id steps up by 32 bits of its own draw, not a second one
    assert made == sorted(made) and len(set(made)) == 500
    assert all(len(made_id) == 30 and set(made_id[4:]) <= set(_ALPHABET) for made_id in made)
    assert {made_id[4:14] for made_id in made} == {made[0][4:14]}  # one millisecond: the same timestamp digits
