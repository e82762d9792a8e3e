"""The reconciliation port: where Account Balance queries are recorded before they are sent, and answered."""

from __future__ import annotations

from typing import Protocol

from cryptopay.core.reconciliation.model import BalanceQuery

__all__ = ["BalanceQueryStore"]


class BalanceQueryStore(Protocol):
    """Account Balance queries, each write its own transaction (recorded before the request is sent)."""

    def add(self, query: BalanceQuery) -> None: ...

    def update(self, query: BalanceQuery) -> None: ...

    def by_token(self, token_digest: str) -> BalanceQuery | None:
        """The query whose callback token has this digest."""
        ...

    def latest_answered(self) -> BalanceQuery | None:
        """The most recently answered query with a balance (None before the first answer)."""
        ...
