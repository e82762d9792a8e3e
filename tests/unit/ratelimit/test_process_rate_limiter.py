"""The in-process rate limiter (one API process, the embedded default): a flood of keys frees no refused key."""

from __future__ import annotations

from cryptopay.adapters.ratelimit import process
from cryptopay.adapters.ratelimit.process import ProcessRateLimiter
from cryptopay.core.testing.system import ManualClock
from hypothesis import given, settings
from hypothesis import strategies as st

LOGIN = {"limit": 10, "window_seconds": 900}  # the per-account password guesses
CLIENT = {"limit": 600, "window_seconds": 60}  # a per-client count of a shorter window


def test_a_flood_of_short_window_keys_does_not_reset_a_long_windows_refusal() -> None:
    """Pruning once compared window numbers of different lengths: a hit on a 60 s window dropped every 15-minute
    counter (their window numbers are 15 times smaller), so 10,001 made-up client keys reset the guess count."""
    limiter = ProcessRateLimiter(ManualClock())
    assert all(limiter.hit("login:usr_1", **LOGIN).allowed for _ in range(10))
    assert not limiter.hit("login:usr_1", **LOGIN).allowed
    for n in range(process._MAX_KEYS + 1):
        limiter.hit(f"client:{n}", **CLIENT)
    limiter.hit("client:next", **CLIENT)  # past the bound: this hit prunes
    assert not limiter.hit("login:usr_1", **LOGIN).allowed


def test_ended_windows_are_dropped_and_the_flood_stays_bounded() -> None:
    clock = ManualClock()
    limiter = ProcessRateLimiter(clock)
    for n in range(process._MAX_KEYS + 1):
        limiter.hit(f"made-up:{n}", **CLIENT)
    clock.advance(seconds=61)  # every one of those windows has ended
    limiter.hit("client:later", **CLIENT)
    assert len(limiter._counts) == 1
    assert limiter.hit("made-up:1", **CLIENT).remaining == CLIENT["limit"] - 1  # a new window, counted afresh


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from([1, 60, 900]), st.integers(0, 120)),
        max_size=60,
    )
)
def test_pruning_never_changes_a_decision(hits: list[tuple[str, int, int]]) -> None:
    """With pruning at every hit or never, the same hits get the same answers (the bound only saves memory)."""
    pruning, keeping = ProcessRateLimiter(ManualClock()), ProcessRateLimiter(ManualClock())
    keeping._prune_at = 10**9
    for key, window, seconds_later in hits:
        for limiter in (pruning, keeping):
            limiter._clock.advance(seconds=seconds_later)  # type: ignore[attr-defined]
        pruning._prune_at = 0
        a = pruning.hit(key, limit=3, window_seconds=window)
        b = keeping.hit(key, limit=3, window_seconds=window)
        assert a == b
