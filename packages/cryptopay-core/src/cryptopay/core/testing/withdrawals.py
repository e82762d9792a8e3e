"""In-memory withdrawals (``WithdrawalRepository``): ``InMemoryStorage(withdrawals=InMemoryWithdrawals(), ...)``;
``FakeFeeEstimator``: a network's fee estimate a test sets (``NetworkFeeEstimator``)."""

from __future__ import annotations

import copy
from datetime import datetime

from cryptopay.core.errors import Conflict, NotFound, Unavailable
from cryptopay.core.money import Money
from cryptopay.core.payments.model import address_key
from cryptopay.core.ports.chains import WithdrawalRequest
from cryptopay.core.wallets.withdrawal_model import Withdrawal, WithdrawalState

__all__ = ["FakeFeeEstimator", "InMemoryWithdrawals"]


class FakeFeeEstimator:
    """Estimates ``fee`` (in the network's coin) for every withdrawal; ``None``: the chain cannot say now."""

    def __init__(self, fee: Money | None) -> None:
        self.fee = fee
        self.asked: list[WithdrawalRequest] = []

    def estimate_fee(self, request: WithdrawalRequest) -> Money:
        self.asked.append(request)
        if self.fee is None:
            raise Unavailable("the node does not answer")
        return self.fee


class InMemoryWithdrawals:
    def __init__(self) -> None:
        self._rows: dict[str, Withdrawal] = {}

    def add(self, withdrawal: Withdrawal) -> None:
        if withdrawal.id in self._rows:
            raise Conflict(f"withdrawal {withdrawal.id} exists")
        self._rows[withdrawal.id] = copy.deepcopy(withdrawal)

    def get(self, withdrawal_id: str, *, lock: bool = False) -> Withdrawal | None:
        row = self._rows.get(withdrawal_id)
        return copy.deepcopy(row) if row else None

    def update(self, withdrawal: Withdrawal) -> None:
        if withdrawal.id not in self._rows:
            raise NotFound(f"no withdrawal {withdrawal.id}")
        self._rows[withdrawal.id] = copy.deepcopy(withdrawal)

    def for_user(self, user_id: str, *, after: str | None, limit: int) -> list[Withdrawal]:
        ids = sorted(
            (k for k, w in self._rows.items() if w.user_id == user_id and (after is None or k < after)), reverse=True
        )
        return [copy.deepcopy(self._rows[k]) for k in ids[:limit]]

    def to_address(self, user_id: str, network: str, address: str) -> list[Withdrawal]:
        found = [
            w
            for w in self._rows.values()
            if w.user_id == user_id and w.network == network and address_key(network, w.address) == address
        ]
        return [copy.deepcopy(w) for w in sorted(found, key=lambda w: (w.created_at, w.id))]

    def due(self, now: datetime, *, limit: int, after: tuple[datetime, str] | None = None) -> list[Withdrawal]:
        found = [
            w
            for w in self._rows.values()
            if w.state is WithdrawalState.REQUESTED
            and w.send_after <= now
            and (after is None or (w.send_after, w.id) > after)
        ]
        return [copy.deepcopy(w) for w in sorted(found, key=lambda w: (w.send_after, w.id))[:limit]]

    def list(
        self, *, state: WithdrawalState | None = None, after: str | None = None, limit: int = 100
    ) -> list[Withdrawal]:
        ids = sorted(
            k for k, w in self._rows.items() if (state is None or w.state is state) and (after is None or k > after)
        )
        return [copy.deepcopy(self._rows[k]) for k in ids[:limit]]
