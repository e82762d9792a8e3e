"""The staff's transaction search on SQL (``TransactionIndex``): indexed lookups for ids, phones, addresses and
payouts' receipts, a bounded look through the latest records for transaction hashes and wallet buys' M-Pesa receipts,
which no column holds.

Each table is read by its own columns (``invoices.id``/``public_id``, ``invoice_addresses``, ``payouts.destination``,
its M-Pesa ids and ``receipt``, ``wallets.phone``, ``wallet_transfers``, ``wallet_buys``); a hash or a buy's receipt is
matched as text in the documents of the latest ``core.search.SCAN`` rows of each table (newest by id), then checked
on the decoded object, so a hash that merely appears in another field never matches. One read transaction, no locks.

Phones are found by the keyed hash their columns hold (``personal.lookup``, see ``cryptopay.adapters.sql.personal``),
and the personal fields of what is found are opened before it is decoded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import sqlalchemy as sa
from cryptopay.adapters.sql.documents import from_document
from cryptopay.adapters.sql.personal import PersonalData, PersonalFields
from cryptopay.adapters.sql.repositories.payments import PAYOUT_FIELDS
from cryptopay.adapters.sql.repositories.wallets import SqlBuys, SqlTransfers
from cryptopay.adapters.sql.tables_payments import invoice_addresses, invoices, payouts
from cryptopay.adapters.sql.tables_wallets import wallet_buys, wallet_transfers, wallets
from cryptopay.core.invoices import Invoice
from cryptopay.core.payments.model import address_key
from cryptopay.core.payouts import Payout
from cryptopay.core.search import SCAN, Hit, SearchTerm
from cryptopay.core.wallets.buys import Buy
from cryptopay.core.wallets.model import Transfer
from sqlalchemy.engine import Connection, Engine

__all__ = ["SqlTransactionIndex"]

T = TypeVar("T")
_NETWORKS = ("ethereum", "polygon", "bsc", "tron", "bitcoin")


def invoice_hit(invoice: Invoice, matched: str) -> Hit:
    return Hit(
        "invoice", invoice.id, invoice.merchant_id, invoice.state.value, invoice.price, invoice.created_at, matched
    )


def payout_hit(payout: Payout, matched: str) -> Hit:
    return Hit("payout", payout.id, payout.merchant_id, payout.state.value, payout.amount, payout.created_at, matched)


def transfer_hit(transfer: Transfer, matched: str) -> Hit:
    return Hit(
        "wallet_transfer",
        transfer.id,
        transfer.sender_id,
        transfer.state.value,
        transfer.amount,
        transfer.created_at,
        matched,
    )


def buy_hit(buy: Buy, matched: str) -> Hit:
    return Hit("wallet_buy", buy.id, buy.user_id, buy.state.value, buy.kes, buy.created_at, matched)


def paid_by(invoice: Invoice, tx_hash: str) -> bool:
    """Whether one of the invoice's payments is the transaction ``tx_hash`` (lower-case hex, no ``0x``)."""
    return any(p.transfer.tx_hash.lower().removeprefix("0x") == tx_hash for p in invoice.payments)


class SqlTransactionIndex:
    """``TransactionIndex`` over the deployment's database."""

    def __init__(self, engine: Engine, *, personal: PersonalData | None = None) -> None:
        self._engine = engine
        self._personal = personal or PersonalData.plaintext()

    def find(self, term: SearchTerm, *, limit: int) -> list[Hit]:
        with self._engine.connect() as conn:
            return list(self._hits(conn, term, limit))[: limit * 4]

    def _hits(self, conn: Connection, term: SearchTerm, limit: int) -> Iterator[Hit]:
        def docs(cls: type[T], query: sa.Select[Any]) -> list[T]:
            fields = _FIELDS.get(cls)
            rows = conn.execute(query.limit(limit)).all()
            if fields is None:
                return [from_document(cls, row.doc) for row in rows]
            return [from_document(cls, fields.open(row.doc, row.id, self._personal)) for row in rows]

        text = term.text
        yield from (invoice_hit(i, "id") for i in docs(Invoice, _docs(invoices, invoices.c.id == text)))
        yield from (invoice_hit(i, "id") for i in docs(Invoice, _docs(invoices, invoices.c.public_id == text)))
        ids = (payouts.c.id == text) | (payouts.c.originator_id == text) | (payouts.c.conversation_id == text)
        yield from (payout_hit(p, "id") for p in docs(Payout, _docs(payouts, ids)))
        yield from (
            transfer_hit(t, "id") for t in docs(Transfer, _docs(wallet_transfers, wallet_transfers.c.id == text))
        )
        yield from (buy_hit(b, "id") for b in docs(Buy, _docs(wallet_buys, wallet_buys.c.id == text)))
        keys = {address_key(n, text) for n in _NETWORKS}
        owners = sa.select(invoice_addresses.c.invoice_id).where(invoice_addresses.c.address_key.in_(keys))
        yield from (invoice_hit(i, "address") for i in docs(Invoice, _docs(invoices, invoices.c.id.in_(owners))))
        if term.phone is not None:
            yield from self._by_phone(docs, self._personal.lookup(term.phone))
        if term.hash is not None:
            found = docs(Invoice, _recent(invoices, term.hash))
            yield from (invoice_hit(i, "tx_hash") for i in found if paid_by(i, term.hash))
        if term.receipt is not None:
            booked = _docs(payouts, payouts.c.receipt == term.receipt)  # indexed (0295)
            yield from (payout_hit(p, "receipt") for p in docs(Payout, booked))
            yield from (
                buy_hit(b, "receipt")
                for b in docs(Buy, _recent(wallet_buys, term.receipt))
                if b.receipt == term.receipt
            )

    @staticmethod
    def _by_phone(docs: Callable[[type[Any], sa.Select[Any]], list[Any]], phone: str) -> Iterator[Hit]:
        """What names ``phone`` (its keyed hash, as the columns hold it)."""
        yield from (payout_hit(p, "phone") for p in docs(Payout, _docs(payouts, payouts.c.destination == phone)))
        owner = sa.select(wallets.c.id).where(wallets.c.phone == phone).scalar_subquery()
        moved = (
            (wallet_transfers.c.recipient_phone == phone)
            | (wallet_transfers.c.sender_id == owner)
            | (wallet_transfers.c.recipient_id == owner)
        )
        yield from (transfer_hit(t, "phone") for t in docs(Transfer, _docs(wallet_transfers, moved)))
        yield from (buy_hit(b, "phone") for b in docs(Buy, _docs(wallet_buys, wallet_buys.c.user_id == owner)))


_FIELDS: dict[type[Any], PersonalFields] = {Payout: PAYOUT_FIELDS, Transfer: SqlTransfers.fields, Buy: SqlBuys.fields}


def _docs(table: sa.Table, where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    return sa.select(table.c.id, table.c.doc).where(where).order_by(table.c.id.desc())


def _recent(table: sa.Table, text: str) -> sa.Select[Any]:
    """The latest ``SCAN`` rows of ``table`` whose document contains ``text``."""
    latest = sa.select(table.c.id, table.c.doc).order_by(table.c.id.desc()).limit(SCAN).subquery()
    as_text = sa.type_coerce(latest.c.doc, sa.Text)  # JSON kept as text: match the text, not a JSON string
    return (
        sa.select(latest.c.id, latest.c.doc).where(as_text.contains(text, autoescape=True)).order_by(latest.c.id.desc())
    )
