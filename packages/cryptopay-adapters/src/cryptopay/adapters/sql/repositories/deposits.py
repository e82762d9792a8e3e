"""Wallet deposits on SQL (``uow.wallet_deposits``): a JSON document per deposit plus the columns it is found by.

One row per transfer (unique ``(network, tx_key, log_index)``, the hash lower-cased); ``watching`` is indexed per
network, so each confirmation step reads only the deposits still followed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.documents import from_document
from cryptopay.adapters.sql.repositories.payments import _Documents
from cryptopay.adapters.sql.tables_wallets import wallet_deposits
from cryptopay.core.wallets.deposit import Deposit, DepositState

__all__ = ["SqlWalletDeposits"]


class SqlWalletDeposits(_Documents[Deposit]):
    cls, table, what = Deposit, wallet_deposits, "deposit"

    def _columns(self, item: Deposit) -> dict[str, Any]:
        return {
            "id": item.id,
            "user_id": item.user_id,
            "network": item.network,
            "tx_key": item.tx_hash.lower(),
            "log_index": item.index,
            "state": item.state.value,
            "watching": item.watching,
        }

    def add(self, deposit: Deposit) -> None:
        self._insert(deposit, f"deposit {deposit.id} or its transfer is recorded already")

    def get(self, deposit_id: str, *, lock: bool = False) -> Deposit | None:
        return self._one(wallet_deposits.c.id == deposit_id, lock=lock)

    def by_transfer(self, network: str, tx_hash: str, index: int, *, lock: bool = False) -> Deposit | None:
        d = wallet_deposits.c
        return self._one(d.network == network, d.tx_key == tx_hash.lower(), d.log_index == index, lock=lock)

    def update(self, deposit: Deposit) -> None:
        self._update(deposit)

    def watching(self, network: str, *, limit: int) -> list[Deposit]:
        d = wallet_deposits.c
        return self._select(d.network == network, d.watching.is_(True), limit=limit)

    def for_user(self, user_id: str, *, before: str | None, limit: int) -> list[Deposit]:
        d = wallet_deposits.c
        where = (d.user_id == user_id,) if before is None else (d.user_id == user_id, d.id < before)
        query = sa.select(d.doc).where(*where).order_by(d.id.desc()).limit(limit)
        return [from_document(Deposit, doc) for doc in self._conn.scalars(query)]

    def every(self, *, after: str | None, limit: int) -> list[Deposit]:
        d = wallet_deposits.c
        return self._select(*(() if after is None else (d.id > after,)), limit=limit)

    def held(self, *, after: str | None, limit: int) -> list[Deposit]:
        d = wallet_deposits.c
        held = d.state == DepositState.HELD.value
        return self._select(held, *(() if after is None else (d.id > after,)), limit=limit)
