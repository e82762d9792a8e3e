"""Charts drawn on the server as inline SVG: geometry only (the template writes the elements, CSS colours them).

No chart library and no script: a chart is a ``viewBox`` that scales to the page's width, with a ``<title>`` and a
``<desc>`` for screen readers and the same figures in a table beside it. Values are ``Decimal`` (amounts) or counts.
Each chart is drawn twice (``drawn``): ``WIDE`` for a desktop and ``NARROW`` (a 360 px phone's content width, so one
unit is about one CSS pixel and the labels keep their size) with fewer day labels; CSS shows the one that fits.

>>> chart = column_chart([("1", Decimal(2)), ("2", Decimal(4))], width=100, height=50)  # 28 units tall to plot
>>> [(round(b.height, 1), b.value) for b in chart.bars], chart.top
([(14.0, '2'), (28.0, '4')], '4')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import attrs

__all__ = ["NARROW", "WIDE", "Bar", "Chart", "Drawn", "column_chart", "drawn", "row_chart", "stacked_chart"]

WIDE, NARROW = (640, 6), (320, 4)  # viewBox width, how many day labels at most

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


def _day_labels(days: Sequence[str], step: float, height: int, labels: int) -> tuple[tuple[float, float, str], ...]:
    """Under every n-th column its day, so that at most ``labels`` labels are written (the first column always is)."""
    every = max(1, -(-len(days) // labels))
    return tuple((_LEFT + i * step + step / 2, float(height) - 3, d) for i, d in enumerate(days) if i % every == 0)


def column_chart(
    points: Sequence[tuple[str, Decimal]], *, width: int = 640, height: int = 180, labels: int = 6
) -> Chart:
    """One column per point (a day and its amount), scaled to the largest; a label under every few columns, at most
    ``labels`` of them."""
    plot = height - _BOTTOM - _TOP
    step = (width - _LEFT) / max(len(points), 1)
    largest = _scale([v for _, v in points])
    bars: list[Bar] = []
    for i, (label, value) in enumerate(points):
        h = float(value / largest) * plot
        x = _LEFT + i * step
        bars.append(Bar(x + step * 0.15, _TOP + plot - h, step * 0.7, h, label, _figure(value)))
    names = _day_labels([label for label, _ in points], step, height, labels)
    return Chart(width, height, tuple(bars), names, _figure(_top(points)), _TOP + plot)


def stacked_chart(
    points: Sequence[tuple[str, Sequence[tuple[str, int]]]], *, width: int = 640, height: int = 180, labels: int = 6
) -> Chart:
    """One column per day, stacked from its parts (``kind``, count) bottom up, scaled to the largest day; at most
    ``labels`` day labels."""
    plot = height - _BOTTOM - _TOP
    step = (width - _LEFT) / max(len(points), 1)
    largest = _scale([Decimal(sum(n for _, n in parts)) for _, parts in points])
    bars: list[Bar] = []
    for i, (label, parts) in enumerate(points):
        x, bottom = _LEFT + i * step, _TOP + plot
        for kind, count in parts:
            if count:
                h = float(Decimal(count) / largest) * plot
                bottom -= h
                bars.append(Bar(x + step * 0.15, bottom, step * 0.7, h, label, str(count), kind))
    top = max((sum(n for _, n in parts) for _, parts in points), default=0)
    names = _day_labels([label for label, _ in points], step, height, labels)
    return Chart(width, height, tuple(bars), names, str(top), _TOP + plot)


def row_chart(points: Sequence[tuple[str, Decimal]], *, width: int = 640, row: int = 26, labels: int = 0) -> Chart:
    """One horizontal bar per point (a rail and its amount), its name above it (every name: ``labels`` is unused)."""
    largest = _scale([v for _, v in points])
    bars: list[Bar] = []
    names: list[tuple[float, float, str]] = []
    for i, (label, value) in enumerate(points):
        y = 4 + i * row * 1.6
        w = float(value / largest) * (width - 8)
        names.append((4.0, y + 10, label))
        bars.append(Bar(4, y + 14, max(w, 1.0), row * 0.6, label, _figure(value)))
    height = int(8 + len(points) * row * 1.6)
    return Chart(width, height, tuple(bars), tuple(names), _figure(_top(points)), float(height))


@attrs.frozen
class Drawn:
    """A chart drawn for a desktop (``wide``) and for a phone (``narrow``)."""

    wide: Chart
    narrow: Chart


def drawn(draw: Callable[..., Chart], points: Sequence[Any]) -> Drawn:
    """``draw(points)`` at both sizes.

    >>> both = drawn(column_chart, [(str(d), Decimal(d)) for d in range(1, 31)])
    >>> (both.wide.width, len(both.wide.labels)), (both.narrow.width, [t for _, _, t in both.narrow.labels])
    ((640, 6), (320, ['1', '9', '17', '25']))
    """
    return Drawn(
        wide=draw(points, width=WIDE[0], labels=WIDE[1]),
        narrow=draw(points, width=NARROW[0], labels=NARROW[1]),
    )


def _top(points: Sequence[tuple[str, Decimal]]) -> Decimal:
    return max((v for _, v in points), default=Decimal(0))


def _figure(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"
