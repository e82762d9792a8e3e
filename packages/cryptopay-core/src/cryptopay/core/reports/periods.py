"""Report periods: Nairobi calendar days or months between two dates, each as an aware [start, end) range.

``to`` is capped at today (the future has no sales yet), ``from`` after ``to`` is an empty report, and a span of
more than ``MAX_BUCKETS`` periods is served a page at a time: the report covers the first ``MAX_BUCKETS`` and names
the ``next_from`` day to ask for next. Only malformed input is refused (an unknown period, a date that is no date).

>>> from datetime import date
>>> span = report_span("month", "2026-01-15", "2026-03-02", today=date(2026, 3, 5))
>>> [b.label for b in span.buckets]
['2026-01', '2026-02', '2026-03']
>>> span.buckets[0].start.isoformat(), span.end.isoformat()
('2026-01-01T00:00:00+03:00', '2026-04-01T00:00:00+03:00')
>>> [b.label for b in report_span("day", None, None, today=date(2026, 3, 5)).buckets][-1]
'2026-03-05'
"""

from __future__ import annotations

import enum
import re
from datetime import date, datetime, time, timedelta

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.system import NAIROBI

__all__ = ["DATE_PATTERN", "MAX_BUCKETS", "MONTH_PATTERN", "Bucket", "Period", "ReportSpan", "report_span"]

MAX_BUCKETS = 400  # a year and a month of days, or 33 years of months: one page of a report
# Exactly the calendar dates of years 1000 to 9999 (leap days included), for an API's published schema.
_LEAP = r"[1-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[13579][26])00"
_DAYS = r"(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31"
DATE_PATTERN = rf"^(?:[1-9][0-9]{{3}}-(?:{_DAYS})|(?:{_LEAP})-02-29)$"
# A month, 2000-01 to 2999-12 (ASCII digits): what every month parameter accepts and the API declares (one source).
MONTH_PATTERN = r"^2[0-9]{3}-(0[1-9]|1[0-2])$"


class Period(enum.Enum):
    DAY = "day"
    MONTH = "month"


@attrs.frozen
class Bucket:
    """One day or month: its label (``2026-01-05`` or ``2026-01``) and its Nairobi [start, end)."""

    label: str
    first_day: date
    start: datetime
    end: datetime


@attrs.frozen
class ReportSpan:
    """The periods a report covers (none when ``from`` is after ``to``); ``next_first`` starts the next page."""

    period: Period
    first: date
    last: date
    buckets: tuple[Bucket, ...]
    next_first: date | None = None

    @property
    def start(self) -> datetime:
        return self.buckets[0].start if self.buckets else _midnight(self.first)

    @property
    def end(self) -> datetime:
        return self.buckets[-1].end if self.buckets else _midnight(self.first)

    def bucket_of(self, moment: datetime) -> Bucket | None:
        """The bucket ``moment`` falls in, if any."""
        for bucket in self.buckets:
            if bucket.start <= moment < bucket.end:
                return bucket
        return None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=NAIROBI)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _date(text: str | None, field: str) -> date | None:
    if text is None or text == "":
        return None
    if not re.fullmatch(DATE_PATTERN, text):
        raise InvalidInput(f"{field} is a date as YYYY-MM-DD, years 1000 to 9999", field=field)
    return date.fromisoformat(text)


def report_span(period: str, first: str | None, last: str | None, *, today: date) -> ReportSpan:
    """The days or months from ``first`` to ``last`` (inclusive; ``last`` at most ``today``; by default this
    month's days, or by month the year to this month); ``InvalidInput`` for an unknown period or a bad date, and
    (field ``from``, naming both days) for ``first`` after ``last`` or after today: swapped days are no empty report.

    >>> report_span("day", "2026-03-05", "2026-03-01", today=date(2026, 3, 9))
    Traceback (most recent call last):
    ...
    cryptopay.core.errors.InvalidInput: from (2026-03-05) is after to (2026-03-01): the first day comes first
    >>> report_span("day", "2026-03-10", None, today=date(2026, 3, 9))
    Traceback (most recent call last):
    ...
    cryptopay.core.errors.InvalidInput: from (2026-03-10) is after today (2026-03-09): a report ends today at the latest
    """
    try:
        kind = Period(period)
    except ValueError:
        raise InvalidInput("period is day or month", field="period") from None
    asked_last = _date(last, "to")
    end_day = min(asked_last or today, today)
    start_day = _date(first, "from") or _default_first(kind, end_day)
    if asked_last is not None and start_day > asked_last:
        raise InvalidInput(f"from ({start_day}) is after to ({asked_last}): the first day comes first", field="from")
    if start_day > end_day:
        raise InvalidInput(
            f"from ({start_day}) is after today ({today}): a report ends today at the latest", field="from"
        )
    buckets = _days(start_day, end_day) if kind is Period.DAY else _months(start_day, end_day)
    more = len(buckets) > MAX_BUCKETS
    page = buckets[:MAX_BUCKETS]
    shown_last = min(page[-1].end.date() - timedelta(days=1), end_day)
    return ReportSpan(kind, start_day, shown_last, tuple(page), buckets[MAX_BUCKETS].first_day if more else None)


def _default_first(kind: Period, last: date) -> date:
    if kind is Period.DAY:
        return last.replace(day=1)
    return date(last.year - 1, last.month, 1) if last.month != 12 else date(last.year, 1, 1)


def _days(first: date, last: date) -> list[Bucket]:
    count = min((last - first).days + 1, MAX_BUCKETS + 1)
    days = [first + timedelta(days=n) for n in range(count)]
    return [Bucket(d.isoformat(), d, _midnight(d), _midnight(d + timedelta(days=1))) for d in days]


def _months(first: date, last: date) -> list[Bucket]:
    month, buckets = first.replace(day=1), list[Bucket]()
    while month <= last and len(buckets) <= MAX_BUCKETS:
        following = _next_month(month)
        buckets.append(Bucket(month.strftime("%Y-%m"), month, _midnight(month), _midnight(following)))
        month = following
    return buckets
