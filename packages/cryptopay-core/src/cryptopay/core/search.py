"""Transaction search for staff: one box for an id, a phone, an address, a tx hash or an M-Pesa receipt.

``search_term`` reads what was typed (a Kenyan phone number in any form becomes its wire form ``2547...``; a hash
loses its ``0x`` and case), ``TransactionSearch.find`` asks the deployment's ``TransactionIndex`` and returns at
most ``limit`` hits, newest first, each saying which field matched. The search is bounded: ids, phones and addresses
and payouts' receipts are indexed lookups; hashes and wallet buys' receipts, which no index holds, are looked for
among the latest ``SCAN`` records.

>>> search_term("0712 345 678").phone
'254712345678'
>>> search_term("0xABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789").hash
'abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789'
>>> search_term("SBX12AB34C").receipt
'SBX12AB34C'
"""

from __future__ import annotations

import re
from datetime import datetime

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.mobile_money.phones import normalize_msisdn
from cryptopay.core.money import Money
from cryptopay.core.ports.search import TransactionIndex

__all__ = ["LIMIT", "SCAN", "Hit", "SearchTerm", "TransactionSearch", "search_term"]

LIMIT = 50  # hits shown at most
SCAN = 5000  # the latest records of each kind looked through for a hash or a receipt
_TEXT = re.compile(r"^[A-Za-z0-9_:.\-+]{3,128}$")
_HASH = re.compile(r"^(0x)?([0-9a-fA-F]{64})$")
_RECEIPT = re.compile(r"^[A-Z0-9]{8,12}$")


@attrs.frozen
class SearchTerm:
    """What was typed, and what it can be: a phone's wire form, a hash (lower-case hex, no ``0x``), a receipt."""

    text: str
    phone: str | None = None
    hash: str | None = None
    receipt: str | None = None


def search_term(text: str) -> SearchTerm:
    """``InvalidInput`` unless ``text`` (spaces ignored) is 3 to 128 letters, digits or ``_:.-+``."""
    compact = "".join(text.split())
    if not _TEXT.match(compact):
        raise InvalidInput("search by an id, a phone, an address, a transaction hash or an M-Pesa receipt", field="q")
    try:
        phone: str | None = normalize_msisdn(compact)
    except InvalidInput:
        phone = None
    hashed = _HASH.match(compact)
    return SearchTerm(
        text=compact,
        phone=phone,
        hash=hashed.group(2).lower() if hashed else None,
        receipt=compact if _RECEIPT.match(compact) and not compact.isdigit() else None,
    )


@attrs.frozen
class Hit:
    """One transaction found: its kind (invoice, payout, wallet_transfer, wallet_buy), id, whose it is, its state,
    amount and time, and the field that matched (id, phone, address, tx_hash, receipt)."""

    kind: str
    id: str
    party_id: str | None
    state: str
    amount: Money | None
    at: datetime
    matched: str


@attrs.define
class TransactionSearch:
    """The staff's transaction search over the deployment's index."""

    index: TransactionIndex

    def find(self, text: str, *, limit: int = LIMIT) -> list[Hit]:
        """Hits for ``text``, newest first, each transaction once (its first matching field)."""
        term = search_term(text)
        seen: dict[tuple[str, str], Hit] = {}
        for hit in self.index.find(term, limit=limit):
            seen.setdefault((hit.kind, hit.id), hit)
        return sorted(seen.values(), key=lambda h: (h.at, h.id), reverse=True)[:limit]
