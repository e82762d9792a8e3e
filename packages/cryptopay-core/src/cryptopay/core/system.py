"""Real implementations of the system ports that need no I/O: the wall clock and random ids.

>>> SystemClock().now().tzinfo is not None
True
>>> RandomIds().new_id("inv").startswith("inv_")
True
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["NAIROBI", "RandomIds", "SystemClock"]

NAIROBI = timezone(timedelta(hours=3), "EAT")  # Africa/Nairobi: UTC+3 all year, no daylight saving

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, as in ULIDs


class SystemClock:
    """The wall clock in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    """ULID-like ids: a millisecond timestamp then 80 random bits, sortable by creation time."""

    def new_id(self, prefix: str) -> str:
        value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
        chars = []
        for _ in range(26):
            value, digit = divmod(value, 32)
            chars.append(_ALPHABET[digit])
        return f"{prefix}_{''.join(reversed(chars))}"
