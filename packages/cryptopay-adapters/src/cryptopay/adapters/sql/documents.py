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

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import cattrs
from cryptopay.core.money import Asset, Money, asset_by_code

__all__ = ["converter", "document", "from_document"]

T = TypeVar("T")
_MICROSECOND = timedelta(microseconds=1)

converter = cattrs.Converter(detailed_validation=False)
converter.register_unstructure_hook(Decimal, str)
converter.register_structure_hook(Decimal, lambda value, _: Decimal(value))
converter.register_unstructure_hook(datetime, datetime.isoformat)
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
