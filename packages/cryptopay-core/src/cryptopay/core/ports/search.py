"""Finding a transaction by what a customer or an officer has in hand: an id, a phone, an address, a tx hash or an
M-Pesa receipt (``TransactionIndex``; the read model is the adapters', the rules ``core.search``'s)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cryptopay.core.search import Hit, SearchTerm

__all__ = ["TransactionIndex"]


class TransactionIndex(Protocol):
    def find(self, term: SearchTerm, *, limit: int) -> list[Hit]:
        """Invoices, payouts and wallet movements matching ``term`` (at most ``limit``, any order): by id exactly,
        by phone (payouts' destination, wallet transfers and buys of that phone), by deposit address, by
        transaction hash (an invoice's payments) and by M-Pesa receipt (payouts and wallet buys); the hash and
        receipt are looked for among the latest ``SCAN`` records of each kind only (no index holds them)."""
        ...
