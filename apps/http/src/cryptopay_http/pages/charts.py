"""Charts drawn on the server as inline SVG: geometry only (the template writes the elements, CSS colours them).

No chart library and no script: a chart is a ``viewBox`` that scales to the phone's width, with a ``<title>`` and a
``<desc>`` for screen readers and the same figures in a table beside it. Values are ``Decimal`` (amounts) or counts.

>>> chart = column_chart([("1", Decimal(2)), ("2", Decimal(4))], width=100, height=50)  # 28 units tall to plot
>>> [(round(b.height, 1), b.value) for b in chart.bars], chart.top
([(14.0, '2'), (28.0, '4')], '4')
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import attrs

__all__ = ["Bar", "Chart", "column_chart", "row_chart", "stacked_chart"]

_LEFT, _BOTTOM, _TOP = 0.0, 16.0, 6.0  # room for the day labels under the bars and the top value above them


@attrs.frozen
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # what the bar is (a day, a rail)
    value: str  # its figure, as shown
    kind: str = "bar"  # the CSS class that colours it


@attrs.frozen
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    labels: tuple[tuple[float, float, str], ...]  # x, y, text: axis labels (every few days) or row names
    top: str  # the largest value, written at the top left
    baseline: float


def _scale(values: Sequence[Decimal]) -> Decimal:
    largest = max(values, default=Decimal(0))
    return largest if largest > 0 else Decimal(1)


def column_chart(points: Sequence[tuple[str, Decimal]], *, width: int = 640, height: int = 180) -> Chart:
    """One column per point (a day and its amount), scaled to the largest; a label under every few columns."""
    plot = height - _BOTTOM - _TOP
    step = (width - _LEFT) / max(len(points), 1)
    largest = _scale([v for _, v in points])
    bars, labels = [], []
    every = max(1, len(points) // 6)
    for i, (label, value) in enumerate(points):
        h = float(value / largest) * plot
        x = _LEFT + i * step
        bars.append(Bar(x + step * 0.15, _TOP + plot - h, step * 0.7, h, label, _figure(value)))
        if i % every == 0:
            labels.append((x + step / 2, float(height) - 3, label))
    return Chart(width, height, tuple(bars), tuple(labels), _figure(_top(points)), _TOP + plot)


def stacked_chart(
    points: Sequence[tuple[str, Sequence[tuple[str, int]]]], *, width: int = 640, height: int = 180
) -> Chart:
    """One column per day, stacked from its parts (``kind``, count) bottom up, scaled to the largest day."""
    plot = height - _BOTTOM - _TOP
    step = (width - _LEFT) / max(len(points), 1)
    largest = _scale([Decimal(sum(n for _, n in parts)) for _, parts in points])
    bars, labels = [], []
    every = max(1, len(points) // 6)
    for i, (label, parts) in enumerate(points):
        x, bottom = _LEFT + i * step, _TOP + plot
        for kind, count in parts:
            if count:
                h = float(Decimal(count) / largest) * plot
                bottom -= h
                bars.append(Bar(x + step * 0.15, bottom, step * 0.7, h, label, str(count), kind))
        if i % every == 0:
            labels.append((x + step / 2, float(height) - 3, label))
    top = max((sum(n for _, n in parts) for _, parts in points), default=0)
    return Chart(width, height, tuple(bars), tuple(labels), str(top), _TOP + plot)


def row_chart(points: Sequence[tuple[str, Decimal]], *, width: int = 640, row: int = 26) -> Chart:
    """One horizontal bar per point (a rail and its amount), its name above it."""
    largest = _scale([v for _, v in points])
    bars, labels = [], []
    for i, (label, value) in enumerate(points):
        y = 4 + i * row * 1.6
        w = float(value / largest) * (width - 8)
        labels.append((4.0, y + 10, label))
        bars.append(Bar(4, y + 14, max(w, 1.0), row * 0.6, label, _figure(value)))
    height = int(8 + len(points) * row * 1.6)
    return Chart(width, height, tuple(bars), tuple(labels), _figure(_top(points)), float(height))


def _top(points: Sequence[tuple[str, Decimal]]) -> Decimal:
    return max((v for _, v in points), default=Decimal(0))


def _figure(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"
