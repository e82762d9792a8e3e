"""Wallet withdrawals on SQL (``uow.withdrawals``); ``get(..., lock=True)`` locks the row on PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptopay.adapters.sql.repositories.payments import _Documents
from cryptopay.adapters.sql.tables_withdrawals import wallet_withdrawals
from cryptopay.core.payments.model import address_key
from cryptopay.core.wallets.withdrawal_model import Withdrawal, WithdrawalState

__all__ = ["SqlWithdrawals"]

_C = wallet_withdrawals.c


class SqlWithdrawals(_Documents[Withdrawal]):
    cls, table, what = Withdrawal, wallet_withdrawals, "withdrawal"

    def _columns(self, item: Withdrawal) -> dict[str, Any]:
        return {
            "id": item.id,
            "user_id": item.user_id,
            "network": item.network,
            "address_key": address_key(item.network, item.address),
            "state": item.state.value,
            "send_after": item.send_after,
        }

    def add(self, withdrawal: Withdrawal) -> None:
        self._insert(withdrawal)

    def get(self, withdrawal_id: str, *, lock: bool = False) -> Withdrawal | None:
        return self._one(_C.id == withdrawal_id, lock=lock)

    def update(self, withdrawal: Withdrawal) -> None:
        self._update(withdrawal)

    def for_user(self, user_id: str, *, after: str | None, limit: int) -> list[Withdrawal]:
        where = (_C.user_id == user_id,) if after is None else (_C.user_id == user_id, _C.id < after)
        return self._select(*where, limit=limit, newest_first=True)

    def to_address(self, user_id: str, network: str, address: str) -> list[Withdrawal]:
        where = (_C.user_id == user_id, _C.network == network, _C.address_key == address)
        return sorted(self._select(*where), key=lambda w: (w.created_at, w.id))

    def due(self, now: datetime, *, limit: int, after: tuple[datetime, str] | None = None) -> list[Withdrawal]:
        where = (_C.state == WithdrawalState.REQUESTED.value, _C.send_after <= now)
        return self._select(*where, order=("send_after", "id"), limit=limit, after=after)

    def list(
        self, *, state: WithdrawalState | None = None, after: str | None = None, limit: int = 100
    ) -> list[Withdrawal]:
        where = [] if state is None else [_C.state == state.value]
        if after is not None:
            where.append(_C.id > after)
        return self._select(*where, limit=limit)
