"""The treasury's store on SQL (``TreasuryStore``): each write is its own short transaction.

A sweep's row keeps its address in ``open_address`` while it is open (NULL once closed) under a unique constraint,
so two workers can never open two sweeps of one address; readings are kept once by id.

>>> import tempfile, pathlib
>>> from datetime import datetime, timezone
>>> from cryptopay.adapters.sql import make_engine, upgrade
>>> from cryptopay.core.money import Money
>>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'doc.db'}"
>>> _ = upgrade(url)
>>> store = SqlTreasuryStore(make_engine(url))
>>> now = datetime(2026, 1, 5, 14, 0, tzinfo=timezone.utc)
>>> store.add_sweep(Sweep(id="swp_1", network="tron", deposit_address="TDep", hot_wallet="THot",
...                       seen=Money.of("75", "USDT"), created_at=now))
>>> [s.id for s in store.sweeps(open_only=True)]
['swp_1']
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.documents import document, from_document
from cryptopay.adapters.sql.repositories._base import first_document, insert_new, reading, writing
from cryptopay.adapters.sql.tables_treasury import float_readings, sweeps
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.treasury.model import FloatReading, Sweep, SweepState
from sqlalchemy.engine import Engine

__all__ = ["SqlTreasuryStore"]

_OPEN = [state.value for state in SweepState if state.is_open]


def _row(sweep: Sweep) -> dict[str, Any]:
    return {
        "id": sweep.id,
        "network": sweep.network,
        "deposit_address": sweep.deposit_address,
        "open_address": sweep.deposit_address if sweep.is_open else None,
        "state": sweep.state.value,
        "created_at": sweep.created_at,
        "doc": document(sweep),
    }


class SqlTreasuryStore:
    """Sweeps and float readings, one row each (the record as a JSON document beside its searched columns)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_sweep(self, sweep: Sweep) -> None:
        with writing(self._engine) as conn:
            if not insert_new(conn, sweeps, _row(sweep)):
                raise Conflict(f"sweep {sweep.id} exists, or {sweep.deposit_address} is being swept")

    def update_sweep(self, sweep: Sweep) -> bool:
        with writing(self._engine) as conn:
            update = sweeps.update().where(sweeps.c.id == sweep.id, sweeps.c.state.in_(_OPEN)).values(**_row(sweep))
            if conn.execute(update).rowcount == 1:
                return True
            if conn.execute(sa.select(sweeps.c.id).where(sweeps.c.id == sweep.id)).first() is None:
                raise NotFound(f"no sweep {sweep.id}")
            return False

    def get_sweep(self, sweep_id: str) -> Sweep | None:
        return first_document(self._engine, sa.select(sweeps.c.doc).where(sweeps.c.id == sweep_id), Sweep)

    def sweeps(self, *, state: SweepState | None = None, open_only: bool = False, limit: int = 100) -> list[Sweep]:
        query = sa.select(sweeps.c.doc).order_by(sweeps.c.created_at, sweeps.c.id).limit(limit)
        if state is not None:
            query = query.where(sweeps.c.state == state.value)
        if open_only:
            query = query.where(sweeps.c.state.in_(_OPEN))
        with reading(self._engine) as conn:
            return [from_document(Sweep, doc) for doc in conn.scalars(query)]

    def add_reading(self, reading_: FloatReading) -> bool:
        with writing(self._engine) as conn:
            row = {"id": reading_.id, "at": reading_.at, "doc": document(reading_)}
            return insert_new(conn, float_readings, row)

    def latest_reading(self) -> FloatReading | None:
        query = sa.select(float_readings.c.doc).order_by(float_readings.c.at.desc(), float_readings.c.id.desc())
        return first_document(self._engine, query.limit(1), FloatReading)
