"""Report periods: Nairobi calendar days or months between two dates, each as an aware [start, end) range.

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
from datetime import date, datetime, time, timedelta

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.system import NAIROBI

__all__ = ["MAX_BUCKETS", "Bucket", "Period", "ReportSpan", "report_span"]

MAX_BUCKETS = 400  # a year and a month of days, or 33 years of months: a report is one page


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
    period: Period
    first: date
    last: date
    buckets: tuple[Bucket, ...]

    @property
    def start(self) -> datetime:
        return self.buckets[0].start

    @property
    def end(self) -> datetime:
        return self.buckets[-1].end

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
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field} is a date as YYYY-MM-DD", field=field) from None


def report_span(period: str, first: str | None, last: str | None, *, today: date) -> ReportSpan:
    """The days or months from ``first`` to ``last`` (inclusive dates; default: this month, or the last 12 months
    by month); ``InvalidInput`` for an unknown period, a bad date, ``from`` after ``to`` or too many buckets."""
    try:
        kind = Period(period)
    except ValueError:
        raise InvalidInput("period is day or month", field="period") from None
    end_day = _date(last, "to") or today
    default_first = end_day.replace(day=1)
    if kind is Period.MONTH and first in (None, ""):
        default_first = date(end_day.year - 1, end_day.month, 1) if end_day.month != 12 else date(end_day.year, 1, 1)
    start_day = _date(first, "from") or default_first
    if start_day > end_day:
        raise InvalidInput("from is after to", field="from")
    buckets = _days(start_day, end_day) if kind is Period.DAY else _months(start_day, end_day)
    return ReportSpan(kind, start_day, end_day, tuple(buckets))


def _days(first: date, last: date) -> list[Bucket]:
    if (last - first).days >= MAX_BUCKETS:
        raise InvalidInput(f"a daily report covers at most {MAX_BUCKETS} days", field="from")
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [Bucket(d.isoformat(), d, _midnight(d), _midnight(d + timedelta(days=1))) for d in days]


def _months(first: date, last: date) -> list[Bucket]:
    month, buckets = first.replace(day=1), list[Bucket]()
    while month <= last:
        if len(buckets) >= MAX_BUCKETS:
            raise InvalidInput(f"a monthly report covers at most {MAX_BUCKETS} months", field="from")
        following = _next_month(month)
        buckets.append(Bucket(month.strftime("%Y-%m"), month, _midnight(month), _midnight(following)))
        month = following
    return buckets
