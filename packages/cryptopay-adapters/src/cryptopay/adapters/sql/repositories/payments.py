"""Merchant-payment repositories on SQL, offered by the unit of work (``uow.invoices``, ``uow.payouts``, ...).

Each aggregate is stored as its JSON document plus the columns it is looked up by; ``get`` of an invoice or a
payout locks its row (``FOR UPDATE`` on PostgreSQL). Deposit-address indexes come from a counter row bumped with
one ``UPDATE ... RETURNING``, which holds the row lock to the end of the transaction: no index is handed out twice.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import attrs
import sqlalchemy as sa
from cryptopay.adapters.sql.documents import document, from_document, prepare_converters
from cryptopay.adapters.sql.personal import PersonalData, PersonalFields
from cryptopay.adapters.sql.repositories._base import (
    DriverRead,
    advisory_locks,
    increment,
    insert_new,
    update_one,
    upsert,
)
from cryptopay.adapters.sql.tables import CODE
from cryptopay.adapters.sql.tables_identity import merchants
from cryptopay.adapters.sql.tables_payments import (
    deposit_address_counters,
    deposit_addresses,
    invoice_addresses,
    invoices,
    order_key,
    payment_credits,
    payment_link_uses,
    payment_links,
    payout_queries,
    payouts,
    refunds,
    settlements,
    stores,
    unmatched_answers,
)
from cryptopay.core.errors import Conflict, TransientConflict
from cryptopay.core.invoices import Invoice, InvoiceException, InvoiceState
from cryptopay.core.payments.model import (
    DepositAddress,
    LinkReservation,
    PaymentCredit,
    PaymentLink,
    Refund,
    RefundState,
    StoreSettings,
    address_key,
)
from cryptopay.core.payouts import Payout, PayoutState
from cryptopay.core.payouts.answers import UnmatchedAnswer
from cryptopay.core.payouts.model import mpesa_receipt
from cryptopay.core.settlement import Settlement, SettlementState
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

__all__ = [
    "PAYOUT_FIELDS",
    "SqlDepositAddresses",
    "SqlInvoices",
    "SqlPaymentCredits",
    "SqlPaymentLinks",
    "SqlPayouts",
    "SqlRefunds",
    "SqlSettlements",
    "SqlStores",
    "SqlUnmatchedAnswers",
    "document_kinds",
    "prepare_documents",
]

T = TypeVar("T")
_BY_ID: dict[tuple[str, bool, str], tuple[DriverRead, DriverRead]] = {}  # (table, keyed, column): (plain, locked)


class _Documents(Generic[T]):
    """Rows of one table holding ``cls`` documents plus the columns ``columns(item)`` names.

    ``fields`` names the documents' personal fields: they are sealed on write and opened on read by ``personal``
    (see ``cryptopay.adapters.sql.personal``).
    """

    cls: type[T]
    table: sa.Table
    what: str
    fields: PersonalFields | None = None

    def __init__(self, conn: Connection, *, locking: bool = True, personal: PersonalData | None = None) -> None:
        self._conn, self._locking = conn, locking  # a reading unit of work takes no row locks
        self._personal = personal or PersonalData.plaintext()

    def _columns(self, item: T) -> dict[str, Any]:
        raise NotImplementedError

    def _row(self, item: T) -> dict[str, Any]:
        columns = self._columns(item)
        doc = document(item)
        if self.fields is not None:
            doc = self.fields.seal(doc, columns["id"], self._personal)
        return columns | {"doc": doc}

    def _item(self, row_id: str, doc: Any) -> T:
        """The ``cls`` instance of a stored document, its personal fields opened."""
        if self.fields is not None:
            doc = self.fields.open(doc, row_id, self._personal)
        return from_document(self.cls, doc)

    def _insert(self, item: T, conflict: str | None = None) -> None:
        row = self._row(item)
        if not insert_new(self._conn, self.table, row):
            raise Conflict(conflict or f"{self.what} {row['id']} exists")

    def _update(self, item: T) -> None:
        row = self._row(item)
        update_one(
            self._conn, self.table, self.table.c.id == row["id"], row, missing=f"no {self.what} {row['id']} to update"
        )

    def _select(
        self,
        *where: sa.ColumnElement[bool],
        order: tuple[str, ...] = ("id",),
        limit: int | None = None,
        newest_first: bool = False,
        lock: bool = False,
        after: tuple[Any, ...] | None = None,
    ) -> list[T]:
        """The rows ``where`` holds in ``order``; ``after``: a keyset page, the rows past these values of the
        ``order`` columns (ascending orders only)."""
        columns = [self.table.c[name] for name in order]
        ordering = [c.desc() for c in columns] if newest_first else columns
        if after is not None:
            past = sa.tuple_(*(sa.literal(value, c.type) for value, c in zip(after, columns, strict=True)))
            where = (*where, sa.tuple_(*columns) > past)
        query = sa.select(*self._keyed_doc()).where(*where).order_by(*ordering).limit(limit)
        return self._items(query.with_for_update() if lock and self._locking else query)

    @classmethod
    def _keyed_doc(cls) -> tuple[sa.ColumnElement[Any], ...]:
        """The document, with its row id before it when personal fields are opened (bound to the row)."""
        return (cls.table.c.id, cls.table.c.doc) if cls.fields is not None else (cls.table.c.doc,)

    def _items(self, query: sa.Select[Any]) -> list[T]:
        """The documents of a query selecting ``_keyed_doc()``."""
        return [self._item(row[0], row[-1]) for row in self._conn.execute(query)]

    def _one(self, *where: sa.ColumnElement[bool], lock: bool = False) -> T | None:
        query = sa.select(*self._keyed_doc()).where(*where)
        row = self._conn.execute(query.with_for_update() if lock and self._locking else query).first()
        return self._item(row[0], row[-1]) if row is not None else None

    def _by_id(self, row_id: str, *, lock: bool = False, column: str = "id") -> T | None:
        """``_one`` by primary key (or another unique ``column``) with a statement built once per class (a hot read:
        an invoice by id, a store by merchant, builds no query and computes no cache key per call)."""
        row = self._by(column)[lock and self._locking].first(self._conn, {"row_id": row_id})
        return self._item(row[0], row[-1]) if row is not None else None

    @classmethod
    def _by(cls, column: str) -> tuple[DriverRead, DriverRead]:
        """``_by_id``'s statements (without and with the row lock), built once per class and column."""
        key = (cls.table.name, cls.fields is not None, column)
        statements = _BY_ID.get(key)
        if statements is None:
            query = sa.select(*cls._keyed_doc()).where(cls.table.c[column] == sa.bindparam("row_id"))
            statements = _BY_ID[key] = (DriverRead(query), DriverRead(query.with_for_update()))
        return statements


def document_kinds() -> list[type[_Documents[Any]]]:
    """Every repository of documents defined so far (``_Documents``' subclasses, those of modules imported)."""
    found: list[type[_Documents[Any]]] = []
    pending: list[type[_Documents[Any]]] = list(_Documents.__subclasses__())
    while pending:
        kind = pending.pop()
        found.append(kind)
        pending.extend(kind.__subclasses__())
    return [kind for kind in found if hasattr(kind, "cls") and hasattr(kind, "table")]


def prepare_documents() -> int:
    """A worker's warm-up: for every repository of documents, its documents' converters (both ways) and its
    statements by primary key (``_by_id``'s), built now rather than in a first request. The number of document kinds."""
    kinds = document_kinds()
    prepare_converters([kind.cls for kind in kinds])  # all at once (see ``hooks.prepare_hooks``); never raises
    prepared = 0
    for kind in kinds:  # one by one: a kind that cannot be prepared (a subclass defined elsewhere, half-built) is
        try:  # built on first use, as before, and never stops the others' warm-up
            keys = list(kind.table.primary_key.columns)
            if len(keys) == 1:
                kind._by(keys[0].name)
        except Exception:  # a warm-up is best effort: logged, never raised
            log.debug("warm-up: documents of %s not prepared", kind.__qualname__, exc_info=True)
        else:
            prepared += 1
    return prepared


def _page(table: sa.Table, key: str, after: str | None) -> tuple[sa.ColumnElement[bool], ...]:
    return () if after is None else (table.c[key] > after,)


def _older(table: sa.Table, before: str | None) -> tuple[sa.ColumnElement[bool], ...]:
    """The rows of a newest-first listing (by id, descending) after the cursor ``before``."""
    return () if before is None else (table.c.id < before,)


def _address_owner(network: str, address: str) -> sa.Select[Any]:
    where = (invoice_addresses.c.network == network, invoice_addresses.c.address_key == address_key(network, address))
    return sa.select(invoice_addresses.c.invoice_id).where(*where)


_WITH_CLOSING = DriverRead(
    sa.select(
        sa.select(merchants.c.closed_at)
        .where(merchants.c.id == sa.bindparam("merchant_id"))
        .scalar_subquery()
        .label("closed_at"),
        sa.select(stores.c.doc)
        .where(stores.c.merchant_id == sa.bindparam("merchant_id"))
        .scalar_subquery()
        .label("doc"),
    )
)


class SqlStores(_Documents[StoreSettings]):
    cls, table, what = StoreSettings, stores, "store"

    def _columns(self, item: StoreSettings) -> dict[str, Any]:
        return {"merchant_id": item.merchant_id}

    def get(self, merchant_id: str, *, lock: bool = False) -> StoreSettings | None:
        return self._by_id(merchant_id, lock=lock, column="merchant_id")

    def with_closing(self, merchant_id: str) -> tuple[StoreSettings | None, datetime | None]:
        """One statement: the merchant's ``closed_at`` and its store's document, each a scalar subquery by primary
        key (either row may be missing), as the creation's store read was before the closing joined it (R22)."""
        row = _WITH_CLOSING.first(self._conn, {"merchant_id": merchant_id})
        closed_at, doc = row if row is not None else (None, None)
        return (self._item(merchant_id, doc) if doc is not None else None), closed_at

    def closed_at(self, merchant_id: str) -> datetime | None:
        query = sa.select(merchants.c.closed_at).where(merchants.c.id == merchant_id).with_for_update(read=True)
        found: datetime | None = self._conn.execute(query).scalar_one_or_none()
        return found

    def put(self, settings: StoreSettings) -> None:
        upsert(self._conn, stores, self._row(settings), ["merchant_id"])

    def list(self, *, after: str | None, limit: int) -> list[StoreSettings]:
        return self._select(*_page(stores, "merchant_id", after), order=("merchant_id",), limit=limit)


_OPEN_INVOICES = [InvoiceState.NEW.value, InvoiceState.PROCESSING.value]


class SqlInvoices(_Documents[Invoice]):
    cls, table, what = Invoice, invoices, "invoice"

    def _columns(self, item: Invoice) -> dict[str, Any]:
        return {
            "id": item.id,
            "merchant_id": item.merchant_id,
            "state": item.state.value,
            "expires_at": item.expires_at,
            "monitoring_until": item.monitoring_until,
            # At the end of its monitoring window an invoice is watched only for its unconfirmed payments.
            "unconfirmed": item.needs_watching(item.monitoring_until),
            "public_id": item.public_id,
            "created_at": item.created_at,
            "order_key": order_key(item.order_id),
            "exception": None if item.exception is InvoiceException.NONE else item.exception.value,
        }

    def add(self, invoice: Invoice) -> None:
        self._insert(invoice)
        self._index_addresses(invoice)

    def _index_addresses(self, invoice: Invoice) -> None:
        for option in invoice.options:
            network = option.rail.network.name
            row = {"network": network, "address_key": address_key(network, option.address), "invoice_id": invoice.id}
            taken = not insert_new(self._conn, invoice_addresses, row)
            if taken and self._conn.scalar(_address_owner(network, option.address)) != invoice.id:
                raise Conflict(f"deposit address {option.address} on {network} belongs to another invoice")

    def get(self, invoice_id: str) -> Invoice | None:
        return self._by_id(invoice_id, lock=True)

    def update(self, invoice: Invoice) -> None:
        self._update(invoice)
        self._index_addresses(invoice)

    def list_for_merchant(
        self,
        merchant_id: str,
        *,
        before: str | None,
        limit: int,
        state: InvoiceState | None = None,
        order_id: str | None = None,
    ) -> list[Invoice]:
        in_state = () if state is None else (invoices.c.state == state.value,)
        of_order = () if order_id is None else (invoices.c.order_key == order_key(order_id),)
        mine = (invoices.c.merchant_id == merchant_id, *in_state, *of_order, *_older(invoices, before))
        return self._select(*mine, limit=limit, newest_first=True)

    def created_between(
        self, merchant_id: str, since: datetime, until: datetime, *, before: str | None, limit: int
    ) -> list[Invoice]:
        within = (invoices.c.created_at >= since, invoices.c.created_at < until)
        return self._select(
            invoices.c.merchant_id == merchant_id, *within, *_older(invoices, before), limit=limit, newest_first=True
        )

    def find_by_order(self, merchant_id: str, text: str, *, limit: int) -> list[Invoice]:
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", text.casefold()) + "%"
        contains = invoices.c.order_key.like(pattern, escape="\\")
        return self._select(invoices.c.merchant_id == merchant_id, contains, limit=limit, newest_first=True)

    def count_for_merchant(self, merchant_id: str, states: tuple[InvoiceState, ...]) -> int:
        where = (invoices.c.merchant_id == merchant_id, invoices.c.state.in_([s.value for s in states]))
        return int(self._conn.execute(sa.select(sa.func.count()).where(*where)).scalar_one())

    def by_address(self, network: str, address: str) -> Invoice | None:
        return self._one(invoices.c.id == _address_owner(network, address).scalar_subquery())

    def by_public_id(self, public_id: str) -> Invoice | None:
        return self._one(invoices.c.public_id == public_id)

    def watching(self, now: datetime) -> list[Invoice]:
        return self._select(sa.or_(invoices.c.monitoring_until > now, invoices.c.unconfirmed))

    def watched_with_exception(
        self, merchant_id: str, exceptions: Collection[InvoiceException], now: datetime
    ) -> list[Invoice]:
        """By ``ix_invoices_exception`` (merchant, exception, monitoring end): the merchant's invoices with one of
        ``exceptions``, within their window or with unconfirmed payments."""
        c = invoices.c
        wanted = [e.value for e in exceptions if e is not InvoiceException.NONE]
        if not wanted:
            return []
        watched = sa.or_(c.monitoring_until > now, c.unconfirmed)
        return self._select(c.merchant_id == merchant_id, c.exception.in_(wanted), watched)

    def expiring(self, before: datetime) -> list[Invoice]:
        return self._select(invoices.c.state.in_(_OPEN_INVOICES), invoices.c.expires_at <= before)

    def count_by_state(self) -> dict[InvoiceState, int]:
        query = sa.select(invoices.c.state, sa.func.count()).group_by(invoices.c.state)
        return {InvoiceState(state): int(n) for state, n in self._conn.execute(query)}

    def count_unconfirmed(self) -> int:
        return int(self._conn.execute(sa.select(sa.func.count()).where(invoices.c.unconfirmed)).scalar_one())


@functools.cache  # built once per set of counters
def _take_shared_index(names: tuple[str, ...], *, lazy_commit: bool = False) -> sa.Update:
    """``WITH locked AS (SELECT .. ORDER BY network FOR UPDATE) UPDATE counters SET next_index = max(locked) + 1
    RETURNING``: the rows are locked in one global order (no deadlock between allocations), and the locking read
    sees each row's latest committed value, so the greatest is unused on every one of ``names``.

    ``lazy_commit`` (PostgreSQL, the statement its own transaction): its commit does not wait for the disk
    (``synchronous_commit`` off for this transaction only). Safe: a crash can forget the allocation only together
    with everything that used the index, because any later commit that stores an address at it is flushed to the
    write-ahead log past this commit's record; a forgotten index is handed out again to no owner."""
    c = deposit_address_counters.c
    locked = (sa.select(c.network, c.next_index).where(c.network.in_(names)).order_by(c.network).with_for_update()).cte(
        "locked"
    )
    top = sa.select(sa.func.max(locked.c.next_index)).scalar_subquery()
    where = c.network.in_(sa.select(locked.c.network))
    lazy = [sa.func.set_config("synchronous_commit", "off", sa.true())] if lazy_commit else []
    return (
        deposit_address_counters.update().where(where).values(next_index=top + 1).returning(c.next_index, *lazy)
    ).add_cte(locked)


def _in_autocommit(conn: Connection) -> bool:
    """Whether ``conn`` is valid and its driver connection in autocommit (each statement its own transaction)."""
    return not conn.invalidated and bool(getattr(conn.connection.driver_connection, "autocommit", False))


class SqlDepositAddresses:
    """``DepositAddressRepository``: unique (network, address key) and (network, index)."""

    def __init__(self, conn: Connection, *, alone: bool = False) -> None:
        """``alone``: each statement is its own transaction (a reading unit of work, in autocommit)."""
        self._conn = conn
        self._lazy_commit = alone and conn.dialect.name == "postgresql"

    def allocate_index(self, network: str) -> int:
        return increment(self._conn, deposit_address_counters, {"network": network}, "next_index") - 1

    def allocate_shared_index(self, networks: Sequence[str]) -> int:
        """One statement in the common case (every counter exists): the counter rows locked in name order, then all
        set past their greatest value (a missing counter counts as 0 and is created past it; if another
        allocation created it first, the statement runs again and leaves a gap). Taken alone (in autocommit), the
        locks are held for that one statement and its commit does not wait for the disk (``_take_shared_index``):
        invoice creation does so, so the counters every creation and wallet shares are never held long."""
        names = tuple(sorted(set(networks)))
        if self._lazy_commit and not _in_autocommit(self._conn):
            # to be taken alone, yet the connection broke or was reconnected in the block (out of autocommit): the
            # block's end would roll the index back while its invoice keeps it; a retry's block is in autocommit again
            # (``SqlStorage.reading``)
            raise TransientConflict("the reading connection was reconnected in the block; retry")
        moved = self._conn.execute(_take_shared_index(names, lazy_commit=self._lazy_commit)).all()
        index = int(moved[0].next_index) - 1 if moved else 0
        if len(moved) < len(names):
            created = [
                insert_new(self._conn, deposit_address_counters, {"network": name, "next_index": index + 1})
                for name in names
            ]
            if sum(created) < len(names) - len(moved):  # one appeared meanwhile: its value is not known here
                moved = self._conn.execute(_take_shared_index(names, lazy_commit=self._lazy_commit)).all()
                index = int(moved[0].next_index) - 1
        return index

    def add(self, address: DepositAddress) -> None:
        row = {
            "network": address.network,
            "address_key": address.key,
            "address": address.address,
            "index": address.index,
            "invoice_id": address.invoice_id,
            "merchant_id": address.merchant_id,
            "created_at": address.created_at,
            "user_id": address.user_id,
        }
        if not insert_new(self._conn, deposit_addresses, row):
            raise Conflict(f"deposit address {address.address} or index {address.index} on {address.network} is taken")

    def by_address(self, network: str, address: str) -> DepositAddress | None:
        where = (
            deposit_addresses.c.network == network,
            deposit_addresses.c.address_key == address_key(network, address),
        )
        row = self._conn.execute(sa.select(deposit_addresses).where(*where)).first()
        if row is None:
            return None
        return _deposit_address(row._mapping)

    def by_address_on(self, networks: Sequence[str], address: str) -> DepositAddress | None:
        """One statement on the primary key (network, address_key). The networks of one family share the key form
        (``address_family``), so the keys asked for are one (or, across families, forms no other family's address
        takes): pairing every network with every key finds nothing a per-network lookup would not."""
        names = sorted(set(networks))
        if not names:
            return None
        d = deposit_addresses.c
        keys = sorted({address_key(n, address) for n in names})
        query = sa.select(deposit_addresses).where(d.network.in_(names), d.address_key.in_(keys))
        row = self._conn.execute(query.order_by(d.network).limit(1)).first()
        return None if row is None else _deposit_address(row._mapping)

    def addresses_for(self, network: str) -> list[str]:
        query = sa.select(deposit_addresses.c.address).where(deposit_addresses.c.network == network)
        return sorted(self._conn.scalars(query))

    def owned_by(self, user_id: str) -> list[DepositAddress]:
        query = sa.select(deposit_addresses).where(deposit_addresses.c.user_id == user_id)
        rows = self._conn.execute(query.order_by(deposit_addresses.c.network))
        return [_deposit_address(row._mapping) for row in rows]

    def may_hold(self, network: str, now: datetime) -> list[str]:
        """As ``Invoice.may_hold_coins`` on the invoice's columns (``exception`` NULL: nothing seen paid)."""
        d, i = deposit_addresses.c, invoices.c
        idle = sa.and_(
            i.state.in_([InvoiceState.EXPIRED.value, InvoiceState.CANCELLED.value]),
            i.exception.is_(None),
            i.monitoring_until <= now,
            i.unconfirmed.is_(False),
        )
        joined = deposit_addresses.outerjoin(invoices, i.id == d.invoice_id)
        query = sa.select(d.address).select_from(joined).where(d.network == network, sa.or_(i.id.is_(None), ~idle))
        return sorted(self._conn.scalars(query))

    def wallet_addresses(self, network: str) -> list[str]:
        d = deposit_addresses.c
        query = sa.select(d.address).where(d.network == network, d.user_id.is_not(None))
        return sorted(self._conn.scalars(query))


def _deposit_address(m: Any) -> DepositAddress:
    return DepositAddress(
        m["network"], m["address"], m["index"], m["invoice_id"], m["merchant_id"], m["created_at"], m["user_id"]
    )


class SqlPaymentCredits(_Documents[PaymentCredit]):
    cls, table, what = PaymentCredit, payment_credits, "payment credit"

    def _columns(self, item: PaymentCredit) -> dict[str, Any]:
        return {
            "id": item.id,
            "invoice_id": item.invoice_id,
            "merchant_id": item.merchant_id,
            "clawback_pending": item.clawback_pending,
            "credited_at": item.credited_at,
            "awaiting_decision": item.awaiting_decision,
        }

    def add(self, credit: PaymentCredit) -> None:
        self._insert(credit)

    def update(self, credit: PaymentCredit) -> None:
        self._update(credit)

    def for_invoice(self, invoice_id: str) -> list[PaymentCredit]:
        return self._select(payment_credits.c.invoice_id == invoice_id, order=("credited_at", "id"))

    def pending_clawbacks(self, merchant_id: str) -> list[PaymentCredit]:
        mine = (payment_credits.c.merchant_id == merchant_id, payment_credits.c.clawback_pending)
        return self._select(*mine, order=("credited_at", "id"))

    def get(self, credit_id: str, *, lock: bool = False) -> PaymentCredit | None:
        return self._one(payment_credits.c.id == credit_id, lock=lock)

    def awaiting_decision(self, *, after: str | None, limit: int) -> list[PaymentCredit]:
        waiting = payment_credits.c.awaiting_decision.is_(True)
        return self._select(waiting, *_page(payment_credits, "id", after), limit=limit)

    def count(self) -> int:
        return int(self._conn.execute(sa.select(sa.func.count()).select_from(payment_credits)).scalar_one())

    def credited_between(
        self, merchant_id: str, since: datetime, until: datetime, *, after: str | None, limit: int
    ) -> list[PaymentCredit]:
        c = payment_credits.c
        within = (c.merchant_id == merchant_id, c.credited_at >= since, c.credited_at < until)
        return self._select(*within, *_page(payment_credits, "id", after), limit=limit)


class SqlSettlements(_Documents[Settlement]):
    """Settlements; the destination they pay (a phone, a bank account) is sealed in the document."""

    cls, table, what = Settlement, settlements, "settlement"
    fields = PersonalFields("settlements", ("destination",))

    def _columns(self, item: Settlement) -> dict[str, Any]:
        return {"id": item.id, "merchant_id": item.merchant_id, "cutoff": item.cutoff, "state": item.state.value}

    def add(self, settlement: Settlement) -> None:
        conflict = f"merchant {settlement.merchant_id} is already settled at {settlement.cutoff.isoformat()}"
        self._insert(settlement, conflict)

    def get(self, settlement_id: str, *, lock: bool = False) -> Settlement | None:
        return self._one(settlements.c.id == settlement_id, lock=lock)

    def update(self, settlement: Settlement) -> None:
        self._update(settlement)

    def last_for(self, merchant_id: str) -> Settlement | None:
        # (merchant_id, cutoff) is unique: the latest cut-off names one row, without reading the whole history.
        mine = settlements.c.merchant_id == merchant_id
        latest = sa.select(sa.func.max(settlements.c.cutoff)).where(mine).scalar_subquery()
        return self._one(mine, settlements.c.cutoff == latest)

    def last_for_each(self, merchant_ids: Sequence[str]) -> dict[str, Settlement]:
        c = settlements.c
        latest = sa.select(c.merchant_id, sa.func.max(c.cutoff)).where(c.merchant_id.in_(merchant_ids))
        newest = sa.tuple_(c.merchant_id, c.cutoff).in_(latest.group_by(c.merchant_id))
        return {s.merchant_id: s for s in self._select(c.merchant_id.in_(merchant_ids), newest)}

    def by_state(self, state: SettlementState, *, limit: int = 100) -> list[Settlement]:
        return self._select(settlements.c.state == state.value, order=("cutoff", "id"), limit=limit)

    def list_for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[Settlement]:
        mine = (settlements.c.merchant_id == merchant_id, *_older(settlements, before))
        return self._select(*mine, limit=limit, newest_first=True)


_OPEN_PAYOUTS = [PayoutState.SUBMITTED.value, PayoutState.UNKNOWN.value]
_RECEIPTS_AT_ONCE = 500  # receipts asked in one statement by with_receipts
_BY_AGE = ("created_at", "id")


PAYOUT_FIELDS = PersonalFields("payouts", ("destination", "b2b.account_reference", "receiver_name"))
"""A payout's personal fields, sealed at rest: where the money goes (a phone, a bank account, a paybill's account)
and who M-Pesa says the receiving number is registered to."""


class SqlPayouts(_Documents[Payout]):
    """Payouts; the ``destination`` column holds the destination's keyed hash (a recipient's daily limit is looked up
    by it), the document the sealed destination and B2B account reference (``PAYOUT_FIELDS``)."""

    cls, table, what = Payout, payouts, "payout"
    fields = PAYOUT_FIELDS

    def _columns(self, item: Payout) -> dict[str, Any]:
        return {
            "id": item.id,
            "settlement_id": item.settlement_id,
            "merchant_id": item.merchant_id,
            "originator_id": item.originator_id,
            "conversation_id": item.conversation_id,
            "state": item.state.value,
            "check_at": item.check_at,
            "destination": self._personal.lookup(item.destination),
            "created_at": item.created_at,
            # indexed for lookups by a receipt or bank reference, as they are compared (``mpesa_receipt``: trimmed,
            # upper case, so one typed in lower case before R13-12 is found too, L3-1); a text longer than the
            # column an answer carried is kept in the document only, never a failed write of the payout's result
            "receipt": _indexed_receipt(item.receipt),
        }

    def add(self, payout: Payout) -> None:
        self._insert(payout, f"payout {payout.id} or originator id {payout.originator_id} is taken")
        self._index_queries(payout)

    def _index_queries(self, payout: Payout) -> None:
        for key in payout.answer_keys:
            insert_new(self._conn, payout_queries, {"originator_id": key, "payout_id": payout.id})

    def get(self, payout_id: str) -> Payout | None:
        return self._by_id(payout_id, lock=True)

    def update(self, payout: Payout) -> None:
        self._update(payout)
        self._index_queries(payout)

    def by_originator_id(self, originator_id: str) -> Payout | None:
        return self._one(payouts.c.originator_id == originator_id)

    def by_conversation_id(self, conversation_id: str) -> Payout | None:
        found = self._select(payouts.c.conversation_id == conversation_id, order=_BY_AGE, limit=1)
        return found[0] if found else None

    def by_answer_key(self, key: str) -> Payout | None:
        owner = sa.select(payout_queries.c.payout_id).where(payout_queries.c.originator_id == key)
        return self._one(payouts.c.id == owner.scalar_subquery())

    def with_receipt(self, receipt: str) -> list[Payout]:
        return self._select(payouts.c.receipt == receipt, order=_BY_AGE)

    def with_receipts(self, receipts: Collection[str]) -> dict[str, list[Payout]]:
        # the indexed column, per _RECEIPTS_AT_ONCE receipts (a statement's thousands in a few statements)
        wanted, found = sorted(set(receipts)), dict[str, list[Payout]]()
        for at in range(0, len(wanted), _RECEIPTS_AT_ONCE):
            chunk = wanted[at : at + _RECEIPTS_AT_ONCE]
            for payout in self._select(payouts.c.receipt.in_(chunk), order=_BY_AGE):
                found.setdefault(mpesa_receipt(payout.receipt), []).append(payout)
        return found

    def by_state(
        self, state: PayoutState, *, limit: int = 100, after: tuple[datetime, str] | None = None
    ) -> list[Payout]:
        return self._select(payouts.c.state == state.value, order=_BY_AGE, limit=limit, after=after)

    def due_for_status(self, now: datetime, *, limit: int = 100) -> list[Payout]:
        due = (payouts.c.state.in_(_OPEN_PAYOUTS), payouts.c.check_at <= now)
        return self._select(*due, order=_BY_AGE, limit=limit)

    def for_settlement(self, settlement_id: str) -> list[Payout]:
        return self._select(payouts.c.settlement_id == settlement_id, order=_BY_AGE)

    def objects_of(self, owner_id: str, *, prefix: str, before: str | None, limit: int) -> list[str]:
        # the prefix as a range (no LIKE pattern to escape): ids starting with it sort at or after it and before
        # the same text with its last character's successor
        after_all = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None
        column = payouts.c.settlement_id
        where = [payouts.c.merchant_id == owner_id, column >= prefix]
        where += [] if after_all is None else [column < after_all]
        where += [] if before is None else [column < before]
        query = sa.select(column).where(*where).distinct().order_by(column.desc()).limit(limit)
        return [str(row[0]) for row in self._conn.execute(query)]

    def list_for_merchant(
        self, merchant_id: str, *, before: str | None, limit: int, state: PayoutState | None = None
    ) -> list[Payout]:
        # A payout names its owner (a merchant; a wallet's user for its sales and bills): one keyset query.
        in_state = () if state is None else (payouts.c.state == state.value,)
        mine = (payouts.c.merchant_id == merchant_id, *in_state, *_older(payouts, before))
        return self._select(*mine, limit=limit, newest_first=True)

    def list_in_state(self, state: PayoutState, *, before: str | None, limit: int) -> list[Payout]:
        return self._select(payouts.c.state == state.value, *_older(payouts, before), limit=limit, newest_first=True)

    def to_destination(self, destination: str, *, since: datetime) -> list[Payout]:
        where = (payouts.c.destination == self._personal.lookup(destination), payouts.c.created_at >= since)
        return self._select(*where, order=_BY_AGE)

    def to_destinations(self, destinations: Sequence[str], *, since: datetime) -> list[Payout]:
        wanted = payouts.c.destination.in_([self._personal.lookup(d) for d in destinations])
        return self._select(wanted, payouts.c.created_at >= since, order=_BY_AGE)

    def lock_destination(self, destination: str) -> None:
        """A transaction-level advisory lock on the destination's keyed hash (PostgreSQL; released at commit or
        rollback). SQLite needs none: a writer's ``BEGIN IMMEDIATE`` already serialises every writer."""
        if self._conn.dialect.name == "postgresql" and self._locking:
            advisory_locks(self._conn, _DESTINATION_LOCKS, self._personal.lookup(destination))

    def claim_receipt_lock(self, receipt: str) -> None:
        """A transaction-level advisory lock on the receipt (PostgreSQL; released at commit or rollback): two
        transactions booking one receipt on two payouts take turns (R13-8). A receipt is no personal data: its own
        text is hashed. SQLite needs none (a writer's ``BEGIN IMMEDIATE`` serialises every writer)."""
        if self._conn.dialect.name == "postgresql" and self._locking:
            advisory_locks(self._conn, _RECEIPT_LOCKS, receipt)


_DESTINATION_LOCKS = 0x50415944  # "PAYD": payout destinations' keyed hashes (advisory_locks)


def _indexed_receipt(receipt: str | None) -> str | None:
    """The ``receipt`` column's value: ``mpesa_receipt`` of the payout's receipt, None for none or one too long."""
    if receipt is None:
        return None
    kept = mpesa_receipt(receipt)
    return kept if len(kept) <= CODE else None


_RECEIPT_LOCKS = 0x50415952  # "PAYR": receipts and bank references claimed for a payout (advisory_locks)


class SqlRefunds(_Documents[Refund]):
    cls, table, what = Refund, refunds, "refund"

    def _columns(self, item: Refund) -> dict[str, Any]:
        return {"id": item.id, "invoice_id": item.invoice_id, "state": item.state.value, "created_at": item.created_at}

    def add(self, refund: Refund) -> None:
        self._insert(refund)

    def get(self, refund_id: str) -> Refund | None:
        return self._by_id(refund_id, lock=True)  # locked: two workers following one refund take turns

    def update(self, refund: Refund) -> None:
        self._update(refund)

    def for_invoice(self, invoice_id: str) -> list[Refund]:
        return self._select(refunds.c.invoice_id == invoice_id, order=_BY_AGE)

    def list_for_invoice(self, invoice_id: str, *, before: str | None, limit: int) -> list[Refund]:
        mine = (refunds.c.invoice_id == invoice_id, *_older(refunds, before))
        return self._select(*mine, limit=limit, newest_first=True)

    def list_for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[Refund]:
        # a refund names its invoice (indexed); the invoices name their merchant (indexed): no column of its own
        owned = sa.select(invoices.c.id).where(invoices.c.merchant_id == merchant_id)
        mine = (refunds.c.invoice_id.in_(owned), *_older(refunds, before))
        return self._select(*mine, limit=limit, newest_first=True)

    def by_state(
        self, state: RefundState, *, limit: int = 100, after: tuple[datetime, str] | None = None
    ) -> list[Refund]:
        return self._select(refunds.c.state == state.value, order=_BY_AGE, limit=limit, after=after)


class SqlPaymentLinks:
    """``PaymentLinkRepository``: the use count lives in its own column, bumped by one conditional ``UPDATE``."""

    def __init__(self, conn: Connection, *, personal: PersonalData | None = None) -> None:
        self._conn = conn
        self._personal = personal or PersonalData.plaintext()  # keys a reservation's client (never stored as sent)

    def _read(
        self, *where: sa.ColumnElement[bool], before: str | None = None, limit: int | None = None
    ) -> list[PaymentLink]:
        c = payment_links.c
        query = sa.select(c.doc, c.uses).where(*where, *_older(payment_links, before)).order_by(c.id.desc())
        rows = self._conn.execute(query.limit(limit)).all()
        return [attrs.evolve(from_document(PaymentLink, row.doc), uses=row.uses) for row in rows]

    def _columns(self, link: PaymentLink) -> dict[str, Any]:
        return {
            "merchant_id": link.merchant_id,
            "active": link.active,
            "expires_at": link.expires_at,
            "max_uses": link.max_uses,
            "doc": document(link),
        }

    def add(self, link: PaymentLink) -> None:
        row = {"id": link.id, "public_id": link.public_id, "uses": link.uses, **self._columns(link)}
        if not insert_new(self._conn, payment_links, row):
            raise Conflict(f"payment link {link.id} or public id {link.public_id} exists")

    def get(self, link_id: str) -> PaymentLink | None:
        return next(iter(self._read(payment_links.c.id == link_id)), None)

    def by_public_id(self, public_id: str) -> PaymentLink | None:
        return next(iter(self._read(payment_links.c.public_id == public_id)), None)

    def update(self, link: PaymentLink) -> None:
        where, missing = payment_links.c.id == link.id, f"no payment link {link.id} to update"
        update_one(self._conn, payment_links, where, self._columns(link), missing=missing)

    def list_for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[PaymentLink]:
        return self._read(payment_links.c.merchant_id == merchant_id, before=before, limit=limit)

    def claim_use(
        self, link_id: str, invoice_id: str, now: datetime, *, reservation: LinkReservation | None = None
    ) -> bool:
        c = payment_links.c
        open_now = (
            c.id == link_id,
            c.active.is_(True),
            sa.or_(c.expires_at.is_(None), c.expires_at > now),
            sa.or_(c.max_uses.is_(None), c.uses < c.max_uses),
        )
        statement = payment_links.update().where(*open_now).values(uses=c.uses + 1).returning(c.id)
        if self._conn.execute(statement).first() is None:  # the link's row is locked from here to the commit
            return False
        row: dict[str, Any] = {"invoice_id": invoice_id, "link_id": link_id, "held": True, "claimed_at": now}
        if reservation is not None:
            client = self._personal.lookup(reservation.client) if reservation.client else None
            self._check_reservations(link_id, reservation, client, now)
            row |= {"reserved_until": reservation.until, "client_key": client}
        if not insert_new(self._conn, payment_link_uses, {"changed_at": None, **row}):
            raise Conflict(f"invoice {invoice_id} already holds a payment link's use")
        return True

    def _check_reservations(
        self, link_id: str, reservation: LinkReservation, client: str | None, now: datetime
    ) -> None:
        """Count the link's standing reservations (all, and this client's) under the row lock the claim took."""
        u = payment_link_uses.c
        mine = sa.func.count().filter(u.client_key == client) if client is not None else sa.literal(0)
        standing = sa.select(sa.func.count(), mine).where(
            u.link_id == link_id, u.held.is_(True), u.reserved_until > now
        )
        of_link, of_client = self._conn.execute(standing).one()
        busy = reservation.refusal(of_link=int(of_link), of_client=int(of_client), now=now)
        if busy is not None:
            raise busy

    def release_lapsed(self, link_id: str, now: datetime) -> list[str]:
        c, u = payment_links.c, payment_link_uses.c
        self._conn.execute(sa.select(c.id).where(c.id == link_id).with_for_update())
        lapsed = (u.link_id == link_id, u.held.is_(True), u.reserved_until <= now)
        freed = (
            payment_link_uses.update()
            .where(*lapsed)
            .values(held=False, changed_at=now, reserved_until=None, client_key=None)
            .returning(u.invoice_id)
        )
        invoice_ids = sorted(self._conn.execute(freed).scalars())
        if invoice_ids:
            self._conn.execute(payment_links.update().where(c.id == link_id).values(uses=c.uses - len(invoice_ids)))
        return invoice_ids

    def reservation_lapses(self, link_id: str, now: datetime) -> list[datetime]:
        u = payment_link_uses.c
        standing = (u.link_id == link_id, u.held.is_(True), u.reserved_until > now)
        return list(
            self._conn.execute(sa.select(u.reserved_until).where(*standing).order_by(u.reserved_until)).scalars()
        )

    def release_use(self, invoice_id: str, now: datetime) -> PaymentLink | None:
        return self._move_use(invoice_id, now, held=False)

    def retake_use(self, invoice_id: str, now: datetime) -> PaymentLink | None:
        u = payment_link_uses.c
        kept = (u.invoice_id == invoice_id, u.held.is_(True), u.reserved_until.is_not(None))
        self._conn.execute(payment_link_uses.update().where(*kept).values(reserved_until=None, client_key=None))
        return self._move_use(invoice_id, now, held=True)

    def _move_use(self, invoice_id: str, now: datetime, *, held: bool) -> PaymentLink | None:
        """One conditional ``UPDATE`` flips the invoice's use (so two transactions never both move it), then the
        link's count follows by one, uncapped (a use taken again may pass the cap)."""
        u = payment_link_uses.c
        flip = (
            payment_link_uses.update()
            .where(u.invoice_id == invoice_id, u.held.is_(not held))
            .values(held=held, changed_at=now, reserved_until=None, client_key=None)
            .returning(u.link_id)
        )
        link_id = self._conn.execute(flip).scalar_one_or_none()
        if link_id is None:
            return None
        c = payment_links.c
        self._conn.execute(payment_links.update().where(c.id == link_id).values(uses=c.uses + (1 if held else -1)))
        return self.get(link_id)


class SqlUnmatchedAnswers(_Documents[UnmatchedAnswer]):
    """Raw answers kept until matched: the body is sealed whole (a B2C result names the receiver, phone and name);
    matching parses it after reading, so no key of it needs to stay in the clear."""

    cls, table, what = UnmatchedAnswer, unmatched_answers, "answer"
    fields = PersonalFields("unmatched_answers", ("body",))

    def _columns(self, item: UnmatchedAnswer) -> dict[str, Any]:
        return {"id": item.id, "received_at": item.received_at, "matched_at": item.matched_at}

    def add(self, answer: UnmatchedAnswer) -> None:
        self._insert(answer)

    def get(self, answer_id: str) -> UnmatchedAnswer | None:
        return self._one(unmatched_answers.c.id == answer_id, lock=True)

    def update(self, answer: UnmatchedAnswer) -> None:
        self._update(answer)

    def pending(self, *, limit: int = 100) -> list[UnmatchedAnswer]:
        waiting = unmatched_answers.c.matched_at.is_(None)
        return self._select(waiting, order=("received_at", "id"), limit=limit)
