"""The throughput port: a token bucket per key (a Daraja shortcode), shared by every worker that sends there."""

from __future__ import annotations

from typing import Protocol

import attrs

__all__ = ["Throughput", "TokenBucket"]


@attrs.frozen
class Throughput:
    """``rate`` requests per second on average, at most ``burst`` at once."""

    rate: float
    burst: int

    def __attrs_post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a throughput needs a positive rate and a burst of at least 1")


class TokenBucket(Protocol):
    def take(self, key: str, limit: Throughput) -> float:
        """Take one token from ``key``'s bucket: 0 when taken, else the seconds until one is free (nothing taken)."""
        ...
