"""``TransactionIndex`` over an ``InMemoryStorage`` holding the payment and wallet fakes: the same matches as SQL's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cryptopay.core.invoices import Invoice
from cryptopay.core.payments.model import address_key
from cryptopay.core.payouts import Payout
from cryptopay.core.search import SCAN, Hit, SearchTerm
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.wallets.buys import Buy
from cryptopay.core.wallets.model import Transfer, Wallet

__all__ = ["InMemoryTransactionIndex"]

_NETWORKS = ("ethereum", "polygon", "bsc", "tron", "bitcoin")


def _rows(storage: InMemoryStorage, name: str) -> list[Any]:
    repository = storage.repositories.get(name)
    if repository is None:
        return []
    found = getattr(repository, "_items", None) or getattr(repository, "_rows", None) or {}
    return sorted(found.values(), key=lambda item: item.id, reverse=True)  # newest id first, as SQL reads them


class InMemoryTransactionIndex:
    def __init__(self, storage: InMemoryStorage) -> None:
        self._storage = storage

    def find(self, term: SearchTerm, *, limit: int) -> list[Hit]:
        return list(self._hits(term))[: limit * 4]

    def _hits(self, term: SearchTerm) -> Iterator[Hit]:
        invoices: list[Invoice] = _rows(self._storage, "invoices")
        payouts: list[Payout] = _rows(self._storage, "payouts")
        transfers: list[Transfer] = _rows(self._storage, "wallet_transfers")
        buys: list[Buy] = _rows(self._storage, "wallet_buys")
        text = term.text
        yield from (_invoice(i, "id") for i in invoices if text in (i.id, i.public_id))
        yield from (_payout(p, "id") for p in payouts if text in (p.id, p.originator_id, p.conversation_id))
        yield from (_transfer(t, "id") for t in transfers if t.id == text)
        yield from (_buy(b, "id") for b in buys if b.id == text)
        keys = {address_key(n, text) for n in _NETWORKS}
        for invoice in invoices:
            if any(address_key(o.rail.network.name, o.address) in keys for o in invoice.options):
                yield _invoice(invoice, "address")
        if term.phone is not None:
            phone = term.phone
            wallets: list[Wallet] = list(getattr(self._storage.repositories.get("wallets"), "_rows", {}).values())
            owner = next((w.user_id for w in wallets if w.phone == phone), None)
            yield from (_payout(p, "phone") for p in payouts if p.destination == phone)
            mine = [t for t in transfers if owner is not None and owner in (t.sender_id, t.recipient_id)]
            moved = [t for t in transfers if t.recipient_phone == phone or t in mine]
            yield from (_transfer(t, "phone") for t in moved)
            yield from (_buy(b, "phone") for b in buys if b.user_id == owner)
        if term.hash is not None:
            wanted = term.hash
            for invoice in invoices[:SCAN]:
                if any(p.transfer.tx_hash.lower().removeprefix("0x") == wanted for p in invoice.payments):
                    yield _invoice(invoice, "tx_hash")
        if term.receipt is not None:
            yield from (_payout(p, "receipt") for p in payouts if p.receipt == term.receipt)  # indexed
            yield from (_buy(b, "receipt") for b in buys[:SCAN] if b.receipt == term.receipt)


def _invoice(i: Invoice, matched: str) -> Hit:
    return Hit("invoice", i.id, i.merchant_id, i.state.value, i.price, i.created_at, matched)


def _payout(p: Payout, matched: str) -> Hit:
    return Hit("payout", p.id, p.merchant_id, p.state.value, p.amount, p.created_at, matched)


def _transfer(t: Transfer, matched: str) -> Hit:
    return Hit("wallet_transfer", t.id, t.sender_id, t.state.value, t.amount, t.created_at, matched)


def _buy(b: Buy, matched: str) -> Hit:
    return Hit("wallet_buy", b.id, b.user_id, b.state.value, b.kes, b.created_at, matched)
