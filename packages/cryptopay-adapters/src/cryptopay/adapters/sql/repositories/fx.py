"""Locked FX quotes on SQL: every quote is kept (bid and ask exact, sources as JSON) for the audit trail.

>>> import tempfile, pathlib
>>> from datetime import datetime, timedelta, timezone
>>> from decimal import Decimal
>>> from cryptopay.adapters.sql import make_engine, upgrade
>>> from cryptopay.core.fx import Pair, Quote
>>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'doc.db'}"
>>> _ = upgrade(url)
>>> quotes = SqlQuoteRepository(make_engine(url))
>>> at = datetime(2026, 1, 5, tzinfo=timezone.utc)
>>> quotes.add(Quote("fxq_1", Pair.parse("USDT/KES"), Decimal("128.554"), Decimal("129.846"), ("a", "b"), at,
...                  at + timedelta(minutes=15)))
>>> quotes.get("fxq_1").ask
Decimal('129.846')
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.repositories._base import Bind, insert_new, reading, writing
from cryptopay.adapters.sql.tables_fx_chains import fx_quotes
from cryptopay.core.errors import Conflict
from cryptopay.core.fx import Pair, Quote
from cryptopay.core.money import asset_by_code

__all__ = ["SqlQuoteRepository"]


class SqlQuoteRepository:
    """``QuoteRepository`` on an engine (or a unit of work's connection); a quote id is never reused."""

    def __init__(self, bind: Bind) -> None:
        self._bind = bind

    def add(self, quote: Quote) -> None:
        row = {
            "id": quote.id,
            "base": quote.pair.base.code,
            "quote": quote.pair.quote.code,
            "bid": quote.bid,
            "ask": quote.ask,
            "sources": list(quote.sources),
            "as_of": quote.as_of,
            "expires_at": quote.expires_at,
        }
        with writing(self._bind) as conn:
            if not insert_new(conn, fx_quotes, row):
                raise Conflict(f"quote {quote.id} exists")

    def get(self, quote_id: str) -> Quote | None:
        with reading(self._bind) as conn:
            row = conn.execute(sa.select(fx_quotes).where(fx_quotes.c.id == quote_id)).first()
        return _quote(row) if row else None


def _quote(row: Any) -> Quote:
    m = row._mapping
    pair = Pair(asset_by_code(m["base"]), asset_by_code(m["quote"]))
    return Quote(m["id"], pair, m["bid"], m["ask"], tuple(m["sources"]), m["as_of"], m["expires_at"])
