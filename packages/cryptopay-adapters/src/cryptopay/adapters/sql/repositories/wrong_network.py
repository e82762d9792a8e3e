"""``WrongNetworkPaymentRepository`` on SQL: one row per transfer (unique network, transaction, log index)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.repositories.payments import _Documents, _older
from cryptopay.adapters.sql.tables_payments import wrong_network_payments
from cryptopay.core.payments.wrong_network import WrongNetworkPayment, WrongNetworkState

__all__ = ["SqlWrongNetworkPayments"]

_W = wrong_network_payments.c


class SqlWrongNetworkPayments(_Documents[WrongNetworkPayment]):
    cls, table, what = WrongNetworkPayment, wrong_network_payments, "wrong-network payment"

    def _columns(self, item: WrongNetworkPayment) -> dict[str, Any]:
        network, tx_key, index = item.key
        return {
            "id": item.id,
            "invoice_id": item.invoice_id,
            "merchant_id": item.merchant_id,
            "network": network,
            "tx_key": tx_key,
            "log_index": index,
            "state": item.state.value,
            "followed": item.followed,
        }

    def add(self, payment: WrongNetworkPayment) -> None:
        self._insert(payment, f"wrong-network payment {payment.id} or its transfer is recorded already")

    def get(self, payment_id: str) -> WrongNetworkPayment | None:
        return self._one(_W.id == payment_id, lock=True)

    def update(self, payment: WrongNetworkPayment) -> None:
        self._update(payment)

    def by_transfer(self, key: tuple[str, str, int]) -> WrongNetworkPayment | None:
        network, tx_key, index = key
        return self._one(_W.network == network, _W.tx_key == tx_key.lower(), _W.log_index == index)

    def for_invoice(self, invoice_id: str) -> list[WrongNetworkPayment]:
        return self._select(_W.invoice_id == invoice_id)

    def followed(self, network: str) -> list[WrongNetworkPayment]:
        return self._select(_W.network == network, _W.followed.is_(True))

    def list(
        self, *, state: WrongNetworkState | None, before: str | None, limit: int, merchant_id: str | None = None
    ) -> list[WrongNetworkPayment]:
        where = [*_older(wrong_network_payments, before)]
        where += [] if state is None else [_W.state == state.value]
        where += [] if merchant_id is None else [_W.merchant_id == merchant_id]
        return self._select(*where, limit=limit, newest_first=True)

    def count_pending(self) -> int:
        query = sa.select(sa.func.count()).where(_W.state == WrongNetworkState.PENDING.value)
        return int(self._conn.execute(query).scalar_one())
