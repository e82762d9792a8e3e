"""The SQL edge's cattrs converter: aggregates (invoices, payouts, ...) as JSON documents, exactly.

Amounts are strings (never floats), ``Money`` is ``{"amount", "asset"}``, datetimes ISO 8601 with their offset,
durations whole microseconds, enums their values. Queried fields also live in real columns next to the document.

>>> from cryptopay.core.money import Money
>>> document(Money.of("12.5", "KES"))
{'amount': '12.50', 'asset': 'KES'}
>>> from_document(Money, {"amount": "12.50", "asset": "KES"})
Money('12.50', 'KES')
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import cattrs
from cryptopay.adapters.hooks import prepare_hooks
from cryptopay.core.money import Asset, Money, asset_by_code

__all__ = ["converter", "document", "from_document", "iso_datetime", "prepare_converters"]

T = TypeVar("T")
_MICROSECOND = timedelta(microseconds=1)

_last_iso: tuple[datetime | None, str] = (None, "")


def iso_datetime(value: datetime) -> str:
    """``value.isoformat()``, remembered for the last datetime object written: a use case stamps one ``now`` on
    several aggregates and rows (a P2P send: the transfer's two times, its two movements and their journal rows),
    and formatting an aware datetime is costly (an offset printed through ``sprintf``). By identity: the same
    object is the same text (datetimes are immutable, and the one remembered is kept alive by the reference).

    >>> from datetime import UTC
    >>> at = datetime(2026, 12, 6, 16, 18, 47, 680296, tzinfo=UTC)
    >>> iso_datetime(at), iso_datetime(at) is iso_datetime(at)
    ('2026-12-06T16:18:47.680296+00:00', True)
    """
    global _last_iso
    last = _last_iso  # one read: another thread may replace it meanwhile, never half of it
    if last[0] is value:
        return last[1]
    text = value.isoformat()
    _last_iso = (value, text)
    return text


converter = cattrs.Converter(detailed_validation=False)
converter.register_unstructure_hook(Decimal, str)
converter.register_structure_hook(Decimal, lambda value, _: Decimal(value))
converter.register_unstructure_hook(datetime, iso_datetime)
converter.register_structure_hook(datetime, lambda value, _: datetime.fromisoformat(value))
converter.register_unstructure_hook(date, date.isoformat)
converter.register_structure_hook(date, lambda value, _: date.fromisoformat(value))
converter.register_unstructure_hook(time, time.isoformat)
converter.register_structure_hook(time, lambda value, _: time.fromisoformat(value))
converter.register_unstructure_hook(timedelta, lambda value: value // _MICROSECOND)
converter.register_structure_hook(timedelta, lambda value, _: int(value) * _MICROSECOND)
converter.register_unstructure_hook(Asset, lambda asset: asset.code)
converter.register_structure_hook(Asset, lambda value, _: asset_by_code(value))
converter.register_unstructure_hook(Money, lambda money: {"amount": str(money.amount), "asset": money.asset.code})
converter.register_structure_hook(Money, lambda value, _: Money.of(value["amount"], value["asset"]))


def document(item: Any) -> Any:
    """``item`` as plain JSON-ready data."""
    return converter.unstructure(item)


def from_document(cls: type[T], data: Any) -> T:
    """The ``cls`` instance ``data`` describes."""
    return converter.structure(data, cls)


def prepare_converters(classes: Iterable[type]) -> int:
    """Build the converters of ``classes`` both ways now, and those of every type within them
    (``hooks.prepare_hooks``: all at once): a worker's warm-up. The number of types met."""
    return prepare_hooks(converter, classes)
