"""Real implementations of the system ports that need no I/O: the wall clock and random ids.

>>> SystemClock().now().tzinfo is not None
True
>>> RandomIds().new_id("inv").startswith("inv_")
True
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["NAIROBI", "RandomIds", "SystemClock", "in_utc"]

NAIROBI = timezone(timedelta(hours=3), "EAT")  # Africa/Nairobi: UTC+3 all year, no daylight saving

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, as in ULIDs
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # two digits per 10 bits: 13 steps for an id's 26 digits
_SHIFTS = range(120, -1, -10)


def in_utc(moment: datetime) -> datetime | None:
    """``moment`` (with its offset) in UTC, or None when it is no time anyone means: no offset, or outside the
    years 1000 to 9999 (what the API's date schema allows; at year 1 or 9999 the conversion itself overflows, R13-1).

    >>> in_utc(datetime.fromisoformat("2026-03-01T03:00:00+03:00"))
    datetime.datetime(2026, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> in_utc(datetime.fromisoformat("0001-01-01T00:00:00+01:00")), in_utc(datetime(2026, 3, 1))
    (None, None)
    """
    if moment.tzinfo is None:
        return None
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        return None
    return utc if 1000 <= utc.year <= 9999 else None


class SystemClock:
    """The wall clock in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    """ULID-like ids: a millisecond timestamp then 80 random bits, sortable by creation time.

    Monotonic within a process (as ULID's monotonic mode): a second id in the same millisecond (or after the clock
    stepped back) is the previous one plus a random step, so ids made one after another sort in the order they
    were made and a newest-first listing shows them so.

    >>> ids = RandomIds()
    >>> made = [ids.new_id("inv") for _ in range(1000)]
    >>> made == sorted(made) and len(set(made)) == 1000
    True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def new_id(self, prefix: str) -> str:
        random = int.from_bytes(os.urandom(10), "big")  # one draw: a same-millisecond step takes 32 bits of it
        fresh = (int(time.time() * 1000) << 80) | random
        with self._lock:
            if fresh >> 80 <= self._last >> 80:  # same millisecond, or the clock went back: count up from the last
                fresh = self._last + 1 + (random & 0xFFFFFFFF)
            self._last = value = fresh
        return f"{prefix}_{''.join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])}"
