"""The ledger seal's port: committed entries in commit order, a head naming the last one sealed, and the audit log,
in one transaction (``cryptopay.core.ledger.sealing``).

A store offers an entry to seal only once no transaction still under way can commit an entry at an earlier position
(PostgreSQL: the entry's transaction id is below the snapshot's xmin; SQLite: one writer at a time; memory: one
unit of work at a time). ``claim`` is how two sealers stay out of each other's way: the second is told to skip.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

import attrs
from cryptopay.core.ledger.seal import SealedEntry, SealPosition
from cryptopay.core.ports.storage import AuditLog

__all__ = ["LedgerSealSession", "LedgerSeals", "SealHead"]


@attrs.frozen
class SealHead:
    """The last position sealed (None: nothing yet), and how many batches and entries were sealed up to it."""

    last: SealPosition | None = None
    batches: int = 0
    sealed: int = 0


class LedgerSealSession(Protocol):
    """One transaction of sealing (or of verifying, which only reads)."""

    @property
    def audit(self) -> AuditLog: ...

    def claim(self) -> SealHead | None:
        """The head, held for this transaction; None when another sealer holds it (skip this run)."""
        ...

    def head(self) -> SealHead:
        """The head as stored (no claim: for reading)."""
        ...

    def move_head(self, head: SealHead) -> None:
        """Store the head (after a claim)."""
        ...

    def sealable(self, after: SealPosition | None, limit: int) -> list[SealedEntry]:
        """At most ``limit`` entries after ``after`` in position order, only those no transaction can still precede."""
        ...

    def between(self, after: SealPosition | None, last: SealPosition) -> list[SealedEntry]:
        """Every entry stored after ``after`` up to ``last`` (inclusive), in position order (verification)."""
        ...

    def count_after(self, after: SealPosition | None) -> int:
        """How many entries are stored after ``after`` (sealed or not)."""
        ...


class LedgerSeals(Protocol):
    def session(self) -> AbstractContextManager[LedgerSealSession]:
        """One transaction; commits when the block exits normally."""
        ...

    def reading(self) -> AbstractContextManager[LedgerSealSession]:
        """One transaction that only reads, in one snapshot throughout (verification)."""
        ...
