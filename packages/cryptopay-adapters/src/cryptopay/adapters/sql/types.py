"""Column types that keep money exact and times in UTC on both PostgreSQL and SQLite.

PostgreSQL stores amounts as ``NUMERIC(38, 18)``. SQLite has no exact decimal type (its NUMERIC affinity
becomes a float), so there amounts are canonical decimal strings: exact, and their sign is the first character,
which the migrations' CHECK constraints use.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["AMOUNT_PRECISION", "AMOUNT_SCALE", "Amount", "JsonText", "UtcDateTime", "document_text"]

AMOUNT_PRECISION = 38
AMOUNT_SCALE = 18


class Amount(TypeDecorator[Decimal]):
    """An exact amount: NUMERIC on PostgreSQL, a plain decimal string on SQLite; never a float."""

    impl = sa.Numeric(AMOUNT_PRECISION, AMOUNT_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(64))
        return dialect.type_descriptor(sa.Numeric(AMOUNT_PRECISION, AMOUNT_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money is never a float")
        if dialect.name == "sqlite":
            return format(Decimal(value), "f")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC moment; SQLite keeps it as an ISO string, PostgreSQL as timestamptz."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused; pass an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


document_text = json.JSONEncoder(sort_keys=True, separators=(",", ":"), check_circular=False).encode
"""A document as ``JsonText`` stores it (keys sorted, no spaces): ``json.dumps(doc, sort_keys=True,
separators=(",", ":"))`` to the byte, with the encoder made once instead of at every call (documents are trees:
no cycle to look for).

>>> document_text({"b": [1, None], "a": "é"})
'{"a":"\\u00e9","b":[1,null]}'
"""


class JsonText(TypeDecorator[Any]):
    """JSON kept as text (the same on both databases); amounts inside are strings by convention."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else document_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)
