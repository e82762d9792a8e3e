"""Chain bookkeeping on SQL: scan cursors, and withdrawals with the nonces they own (surviving restarts).

``SqlWithdrawalStore.claim`` is one transaction that locks the (network, address) nonce row (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite writers are serialised by ``BEGIN IMMEDIATE``), so concurrent claims never share
a nonce and a withdrawal id is bound to exactly one nonce however often it is retried.

>>> import tempfile, pathlib
>>> from cryptopay.adapters.sql import make_engine, upgrade
>>> url = f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'doc.db'}"
>>> _ = upgrade(url)
>>> store = SqlWithdrawalStore(make_engine(url))
>>> [store.claim(w, network="ethereum", from_address="0xAb", request_hash="h", chain_nonce=7).nonce
...  for w in ("wd_1", "wd_2", "wd_1")]
[7, 8, 7]
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.errors import translating
from cryptopay.adapters.sql.repositories._base import insert_new, reading, upsert, writing
from cryptopay.adapters.sql.tables_fx_chains import chain_nonces, chain_scan_cursors, chain_withdrawals
from cryptopay.core.errors import NotFound
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import ScanCursor, WithdrawalRecord
from sqlalchemy.engine import Connection, Engine

__all__ = ["SqlScanCursorStore", "SqlWithdrawalStore"]


class SqlScanCursorStore:
    """``ScanCursorStore``: one row per network (or ``<network>:<scanner>``), replaced on every save."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def load(self, network: str) -> ScanCursor | None:
        with reading(self._engine) as conn:
            row = conn.execute(sa.select(chain_scan_cursors).where(chain_scan_cursors.c.network == network)).first()
        return ScanCursor(**row._mapping) if row else None

    def save(self, cursor: ScanCursor) -> None:
        values = {
            "network": cursor.network,
            "block_number": cursor.block_number,
            "block_hash": cursor.block_hash,
            "block_time": cursor.block_time,
        }
        with writing(self._engine) as conn:
            upsert(conn, chain_scan_cursors, values, ["network"])


class _Lost(Exception):
    """A concurrent claim of the same withdrawal id committed first (roll ours back and read theirs)."""


class SqlWithdrawalStore:
    """``WithdrawalStore``: withdrawal records plus a next-nonce counter per (network, lower-cased address)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, withdrawal_id: str) -> WithdrawalRecord | None:
        with reading(self._engine) as conn:
            return _find(conn, withdrawal_id)

    def claim(
        self, withdrawal_id: str, *, network: str, from_address: str, request_hash: str, chain_nonce: int
    ) -> WithdrawalRecord:
        try:
            with translating(), self._engine.connect() as conn, conn.begin():
                return _find(conn, withdrawal_id) or _claim_new(
                    conn, withdrawal_id, network, from_address, request_hash, chain_nonce
                )
        except _Lost:
            found = self.get(withdrawal_id)
            assert found is not None
            return found

    def attach_signed(
        self, withdrawal_id: str, *, tx_hash: str, raw_tx: str, fee_cap: Money | None
    ) -> WithdrawalRecord:
        values = {
            "tx_hash": tx_hash,
            "raw_tx": raw_tx,
            "fee_cap": fee_cap.amount if fee_cap else None,
            "fee_cap_asset": fee_cap.asset.code if fee_cap else None,
        }
        first = (chain_withdrawals.c.withdrawal_id == withdrawal_id, chain_withdrawals.c.raw_tx.is_(None))
        with writing(self._engine) as conn:
            conn.execute(chain_withdrawals.update().where(*first).values(**values))
            record = _find(conn, withdrawal_id)
        if record is None:
            raise NotFound(f"withdrawal {withdrawal_id} was never claimed")
        return record


def _claim_new(
    conn: Connection, withdrawal_id: str, network: str, from_address: str, request_hash: str, chain_nonce: int
) -> WithdrawalRecord:
    slot = {"network": network, "address_key": from_address.lower()}
    insert_new(conn, chain_nonces, slot | {"next_nonce": 0})
    where = (chain_nonces.c.network == network, chain_nonces.c.address_key == slot["address_key"])
    stored = conn.execute(sa.select(chain_nonces.c.next_nonce).where(*where).with_for_update()).scalar_one()
    existing = _find(conn, withdrawal_id)  # a claim of the same id may have committed while we waited for the lock
    if existing is not None:
        return existing
    nonce = max(chain_nonce, stored)
    conn.execute(chain_nonces.update().where(*where).values(next_nonce=nonce + 1))
    row = slot | {"withdrawal_id": withdrawal_id, "from_address": from_address, "request_hash": request_hash}
    if not insert_new(conn, chain_withdrawals, row | {"nonce": nonce}):
        raise _Lost(withdrawal_id)
    return WithdrawalRecord(withdrawal_id, network, from_address, request_hash, nonce)


def _find(conn: Connection, withdrawal_id: str) -> WithdrawalRecord | None:
    row = conn.execute(sa.select(chain_withdrawals).where(chain_withdrawals.c.withdrawal_id == withdrawal_id)).first()
    return _record(row) if row else None


def _record(row: Any) -> WithdrawalRecord:
    m = row._mapping
    fee_cap = Money.of(m["fee_cap"], m["fee_cap_asset"]) if m["fee_cap"] is not None else None
    return WithdrawalRecord(
        m["withdrawal_id"],
        m["network"],
        m["from_address"],
        m["request_hash"],
        m["nonce"],
        m["tx_hash"],
        m["raw_tx"],
        fee_cap,
    )
