"""Refusal before overdraft: a payout the M-Pesa float cannot cover waits, held with a reason, never sent to fail.

What the float holds now is estimated from M-Pesa's latest word (an Account Balance answer, or the
B2CUtilityAccountAvailableFunds a B2C result carries) moved by what the books paid out or topped up since; with no
word yet, from the configured baseline plus the books. From it go the payouts already sent but not completed (they
may not have left M-Pesa's float yet) and the configured reserve. A float that is unknown holds nothing back (the
status says so): only a known shortfall holds a payout.

>>> from datetime import datetime, timezone
>>> now = datetime(2026, 1, 5, 14, 0, tzinfo=timezone.utc)
>>> position = FloatPosition(at=now, books=Money.of(-2000, "KES"), known=Money.of(10000, "KES"),
...     source="Account Balance", as_of=now, in_flight=Money.of(3000, "KES"), reserve=Money.of(5000, "KES"))
>>> str(position.available)
'2000.00 KES'
>>> position.covers(Money.of(1500, "KES")).ok, position.covers(Money.of(2500, "KES")).ok
(True, False)
"""

from __future__ import annotations

from datetime import datetime

import attrs
from cryptopay.core.money import KES, Money

__all__ = ["Cover", "FloatPosition", "Word"]


@attrs.frozen
class Cover:
    """Whether an amount can be paid now, and if not, why (for the payout's ``held`` and the alert)."""

    ok: bool
    reason: str = ""
    available: Money | None = None


@attrs.frozen(kw_only=True)
class Word:
    """M-Pesa's latest word on the float, with the books' float at that moment."""

    utility: Money
    books: Money
    at: datetime
    source: str
    working: Money | None = None


@attrs.frozen(kw_only=True)
class FloatPosition:
    """The M-Pesa float now: the books, M-Pesa's estimated balance, what is in flight, the reserve."""

    at: datetime
    books: Money  # the books' float (posted)
    known: Money | None  # M-Pesa's float now, estimated; None: unknown
    source: str  # where ``known`` comes from
    as_of: datetime | None  # when M-Pesa last said it
    in_flight: Money = attrs.Factory(lambda: Money.zero(KES))  # payouts sent and not completed in the books
    reserve: Money = attrs.Factory(lambda: Money.zero(KES))
    working: Money | None = None  # the working account, per the latest B2C result
    low_alert: Money | None = None  # below this, operators are alerted
    held: int = 0  # payouts held back now

    @property
    def available(self) -> Money | None:
        """What new payouts may take: known less in flight less the reserve (None when the float is unknown)."""
        return None if self.known is None else self.known - self.in_flight - self.reserve

    @property
    def low(self) -> bool:
        return self.low_alert is not None and self.known is not None and self.known < self.low_alert

    def covers(self, amount: Money, *, taken: Money | None = None) -> Cover:
        """Whether ``amount`` fits in what is available (less ``taken`` by payouts admitted before it)."""
        available = self.available
        if available is None:
            return Cover(True, "the float is unknown: nothing is held", None)
        left = available - (taken or Money.zero(KES))
        if amount <= left:
            return Cover(True, "", left)
        reason = (
            f"the M-Pesa float cannot cover {amount}: {left.amount} available ({self.known} per {self.source}, "
            f"less {self.in_flight.amount} in flight and the reserve of {self.reserve.amount})"
        )
        return Cover(False, reason, left)


def estimate(word: Word | None, *, books: Money, baseline: Money | None) -> tuple[Money | None, str]:
    """M-Pesa's float now: its latest word moved by the books since, else the baseline plus the books."""
    if word is not None:
        return word.utility + (books - word.books), f"{word.source} at {word.at.isoformat(timespec='seconds')}"
    if baseline is not None:
        return baseline + books, "the configured baseline plus the books"
    return None, "unknown (no Account Balance answer, B2C result or baseline yet)"
