"""In-memory wallet deposits: the reference behaviour of ``cryptopay.core.ports.deposits.WalletDepositRepository``.

Used inside ``InMemoryStorage(wallet_deposits=InMemoryWalletDeposits(), ...)`` next to the payments' deposit
addresses; it hands out copies.

>>> from datetime import datetime, timezone
>>> from cryptopay.core.money import Money
>>> from cryptopay.core.wallets.deposit import DepositRequirement
>>> deposits = InMemoryWalletDeposits()
>>> deposits.add(Deposit(id="dep_1", user_id="usr_1", network="polygon", address="0xab", tx_hash="0xAA", index=0,
...     amount=Money.of("5", "USDT"), requirement=DepositRequirement(3),
...     seen_at=datetime(2026, 3, 2, tzinfo=timezone.utc)))
>>> deposits.by_transfer("polygon", "0xaa", 0).id
'dep_1'
"""

from __future__ import annotations

import attrs
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.wallets.deposit import Deposit, DepositState

__all__ = ["InMemoryWalletDeposits"]


class InMemoryWalletDeposits:
    def __init__(self) -> None:
        self._rows: dict[str, Deposit] = {}

    def add(self, deposit: Deposit) -> None:
        if deposit.id in self._rows or any(d.transfer_key == deposit.transfer_key for d in self._rows.values()):
            raise Conflict(f"deposit {deposit.id} or its transfer is recorded already")
        self._rows[deposit.id] = attrs.evolve(deposit)

    def get(self, deposit_id: str, *, lock: bool = False) -> Deposit | None:
        row = self._rows.get(deposit_id)
        return attrs.evolve(row) if row else None

    def by_transfer(self, network: str, tx_hash: str, index: int, *, lock: bool = False) -> Deposit | None:
        key = (network, tx_hash.lower(), index)
        return next((attrs.evolve(d) for d in self._rows.values() if d.transfer_key == key), None)

    def update(self, deposit: Deposit) -> None:
        if deposit.id not in self._rows:
            raise NotFound(f"no deposit {deposit.id} to update")
        self._rows[deposit.id] = attrs.evolve(deposit)

    def watching(self, network: str, *, limit: int) -> list[Deposit]:
        found = [d for d in self._rows.values() if d.network == network and d.watching]
        return [attrs.evolve(d) for d in sorted(found, key=lambda d: d.id)[:limit]]

    def for_user(self, user_id: str, *, before: str | None, limit: int) -> list[Deposit]:
        found = [d for d in self._rows.values() if d.user_id == user_id and (before is None or d.id < before)]
        return [attrs.evolve(d) for d in sorted(found, key=lambda d: d.id, reverse=True)[:limit]]

    def every(self, *, after: str | None, limit: int) -> list[Deposit]:
        found = [d for d in self._rows.values() if after is None or d.id > after]
        return [attrs.evolve(d) for d in sorted(found, key=lambda d: d.id)[:limit]]

    def held(self, *, after: str | None, limit: int) -> list[Deposit]:
        found = [d for d in self._rows.values() if d.state is DepositState.HELD and (after is None or d.id > after)]
        return [attrs.evolve(d) for d in sorted(found, key=lambda d: d.id)[:limit]]
