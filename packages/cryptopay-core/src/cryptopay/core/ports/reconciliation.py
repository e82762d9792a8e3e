"""The reconciliation port: where Account Balance queries are recorded before they are sent, and answered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from cryptopay.core.reconciliation.model import BalanceQuery, CheckRecord

__all__ = ["BalanceQueryStore", "ReconciliationRuns"]


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


class ReconciliationRuns(Protocol):
    """Every reconciliation run's results (the worker's, the CLI's, the console's, the API's), one per check."""

    def add(self, records: Sequence[CheckRecord]) -> None:
        """Keep one run's results (one transaction); a run id already kept is a ``Conflict``."""
        ...

    def latest_per_check(self) -> list[CheckRecord]:
        """For each check ever run: its latest result that ran, or its latest (skipped) one if it never ran;
        ordered by area, then check name."""
        ...

    def prune(self, *, clean_before: datetime, differences_before: datetime) -> int:
        """Delete the results read before their cutoff (``clean_before`` for a result that found no difference or was
        skipped, ``differences_before`` for one that found some), except each check's ``latest_per_check`` result;
        how many were deleted (one transaction)."""
        ...
