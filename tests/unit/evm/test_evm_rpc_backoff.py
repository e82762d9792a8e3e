"""Retries with backoff around EVM RPC calls."""

from __future__ import annotations

import pytest
import requests
from cryptopay.adapters.evm.rpc import Backoff, call_with_backoff
from cryptopay.core.errors import Unavailable
from hypothesis import given
from hypothesis import strategies as st
from web3.exceptions import TransactionNotFound


@given(
    st.floats(min_value=0.001, max_value=5),
    st.floats(min_value=1, max_value=4),
    st.floats(min_value=0.001, max_value=60),
    st.integers(min_value=1, max_value=12),
)
def test_evm_backoff_delays_grow_and_stay_capped(initial: float, factor: float, maximum: float, attempts: int) -> None:
    """There is one wait fewer than attempts, never above the maximum, and never shrinking."""
    delays = list(Backoff(initial, factor, maximum, attempts).delays())
    assert len(delays) == attempts - 1
    assert all(d <= maximum for d in delays)
    assert delays == sorted(delays)


def test_evm_transient_errors_are_retried_after_waiting() -> None:
    """Two connection failures then an answer: the answer is returned after two growing waits."""
    outcomes: list[object] = [requests.ConnectionError("down"), requests.Timeout("slow"), 42]
    waits: list[float] = []

    def flaky() -> object:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert (
        call_with_backoff(flaky, what="x", network="polygon", backoff=Backoff(0.1, 2, 1, 5), sleep=waits.append) == 42
    )
    assert waits == [0.1, 0.2]


def test_evm_exhausted_retries_raise_unavailable_without_the_url() -> None:
    """When every attempt fails the caller gets Unavailable naming the network and the operation only."""

    def down() -> None:
        raise requests.ConnectionError("https://mainnet.example/v3/SECRET-API-KEY refused")

    with pytest.raises(Unavailable) as error:
        call_with_backoff(
            down, what="reading the head", network="bsc", backoff=Backoff(0, 2, 1, 3), sleep=lambda _: None
        )
    assert "bsc" in error.value.message and "reading the head" in error.value.message
    assert "SECRET" not in error.value.message


def test_evm_not_found_answers_are_not_retried() -> None:
    """A 'transaction not found' answer is a result, raised at once without waiting."""
    waits: list[float] = []

    def missing() -> None:
        raise TransactionNotFound("no such tx")

    with pytest.raises(TransactionNotFound):
        call_with_backoff(missing, what="x", network="ethereum", backoff=Backoff(), sleep=waits.append)
    assert waits == []
