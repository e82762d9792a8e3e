"""In-memory payment repositories, offered by ``InMemoryStorage`` next to the ledger, the audit log and the outbox.

They keep the rules the SQL repositories must keep (``ports.payments``): copies in and out, unique addresses and
derivation indexes, one settlement per merchant and cut-off. ``payments_storage()`` builds the storage, whose
units of work are all-or-nothing (a failed use case leaves every repository as it was).

>>> from datetime import datetime, timezone
>>> storage = payments_storage()
>>> factory = payments_uow(storage)
>>> with factory() as uow:
...     uow.deposit_addresses.allocate_index("tron"), uow.deposit_addresses.allocate_index("tron")
(0, 1)
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs
import cryptopay.core.ledger  # noqa: F401  (first: importing testing.storage first trips the ports.ledger cycle)
from cryptopay.core.errors import Conflict, NotFound
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
from cryptopay.core.payments.read_cache import InvoiceReadCache, InvoiceReadStats, RenderedInvoice
from cryptopay.core.payments.wrong_network import WrongNetworkPayment, WrongNetworkState
from cryptopay.core.payouts.answers import UnmatchedAnswer
from cryptopay.core.payouts.model import Payout, PayoutState
from cryptopay.core.settlement.model import Settlement, SettlementState
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.wallets import InMemoryWalletQuotes

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory

__all__ = [
    "AnnouncedInvoiceReads",
    "InMemoryDepositAddresses",
    "InMemoryInvoices",
    "InMemoryPaymentCredits",
    "InMemoryPaymentLinks",
    "InMemoryPayouts",
    "InMemoryRefunds",
    "InMemorySettlements",
    "InMemoryStores",
    "InMemoryUnmatchedAnswers",
    "InMemoryWrongNetworkPayments",
    "payments_storage",
    "payments_uow",
]

_T = TypeVar("_T")
_OPEN_PAYOUTS = (PayoutState.SUBMITTED, PayoutState.UNKNOWN)


def _copy(item: _T) -> _T:
    return copy.deepcopy(item)


def _page(items: Iterable[_T], key: Callable[[_T], str], after: str | None, limit: int) -> list[_T]:
    ordered = sorted(items, key=key)
    return [_copy(i) for i in ordered if after is None or key(i) > after][:limit]


def _newest(items: Iterable[_T], key: Callable[[_T], str], before: str | None, limit: int) -> list[_T]:
    ordered = sorted(items, key=key, reverse=True)
    return [_copy(i) for i in ordered if before is None or key(i) < before][:limit]


class _ById:
    """Entities with an ``id``, stored as copies."""

    def __init__(self) -> None:
        self._items: dict[str, object] = {}

    def _add(self, item: object, item_id: str, what: str) -> None:
        if item_id in self._items:
            raise Conflict(f"{what} {item_id} exists")
        self._items[item_id] = _copy(item)

    def _update(self, item: object, item_id: str, what: str) -> None:
        if item_id not in self._items:
            raise NotFound(f"no {what} {item_id} to update")
        self._items[item_id] = _copy(item)


class InMemoryStores:
    """``closing``: when an operator closed a merchant, from wherever the merchants are kept (the payments stack's
    ``InMemoryMerchants``); a function, so the unit of work's snapshot (a deep copy) shares it. None: none is."""

    def __init__(self, closing: Callable[[str], datetime | None] | None = None) -> None:
        self._stores: dict[str, StoreSettings] = {}
        self._closing = closing

    def get(self, merchant_id: str, *, lock: bool = False) -> StoreSettings | None:
        return self._stores.get(merchant_id)

    def with_closing(self, merchant_id: str) -> tuple[StoreSettings | None, datetime | None]:
        return self.get(merchant_id), self._closing(merchant_id) if self._closing is not None else None

    def closed_at(self, merchant_id: str) -> datetime | None:
        return self._closing(merchant_id) if self._closing is not None else None

    def put(self, settings: StoreSettings) -> None:
        self._stores[settings.merchant_id] = settings

    def list(self, *, after: str | None, limit: int) -> list[StoreSettings]:
        return _page(self._stores.values(), lambda s: s.merchant_id, after, limit)


class InMemoryInvoices(_ById):
    def _all(self) -> list[Invoice]:
        return [cast(Invoice, i) for i in self._items.values()]

    def add(self, invoice: Invoice) -> None:
        self._add(invoice, invoice.id, "invoice")

    def get(self, invoice_id: str) -> Invoice | None:
        found = self._items.get(invoice_id)
        return _copy(cast(Invoice, found)) if found is not None else None

    def update(self, invoice: Invoice) -> None:
        self._update(invoice, invoice.id, "invoice")

    def list_for_merchant(
        self,
        merchant_id: str,
        *,
        before: str | None,
        limit: int,
        state: InvoiceState | None = None,
        order_id: str | None = None,
    ) -> list[Invoice]:
        wanted = None if order_id is None else order_id.casefold()
        mine = [
            i
            for i in self._all()
            if i.merchant_id == merchant_id
            and (state is None or i.state is state)
            and (wanted is None or (i.order_id is not None and i.order_id.casefold() == wanted))
        ]
        return _newest(mine, lambda i: i.id, before, limit)

    def created_between(
        self, merchant_id: str, since: datetime, until: datetime, *, before: str | None, limit: int
    ) -> list[Invoice]:
        mine = [i for i in self._all() if i.merchant_id == merchant_id and since <= i.created_at < until]
        return _newest(mine, lambda i: i.id, before, limit)

    def find_by_order(self, merchant_id: str, text: str, *, limit: int) -> list[Invoice]:
        wanted = text.casefold()
        mine = [i for i in self._all() if i.merchant_id == merchant_id and wanted in (i.order_id or "\0").casefold()]
        return _newest(mine, lambda i: i.id, None, limit)

    def count_for_merchant(self, merchant_id: str, states: tuple[InvoiceState, ...]) -> int:
        return sum(1 for i in self._all() if i.merchant_id == merchant_id and i.state in states)

    def by_address(self, network: str, address: str) -> Invoice | None:
        wanted = address_key(network, address)
        for invoice in self._all():
            if any(
                o.rail.network.name == network and address_key(network, o.address) == wanted for o in invoice.options
            ):
                return _copy(invoice)
        return None

    def by_public_id(self, public_id: str) -> Invoice | None:
        found = [i for i in self._all() if i.public_id is not None and i.public_id == public_id]
        return _copy(found[0]) if found else None

    def watching(self, now: datetime) -> list[Invoice]:
        return _page([i for i in self._all() if i.needs_watching(now)], lambda i: i.id, None, len(self._items))

    def watched_with_exception(
        self, merchant_id: str, exceptions: Collection[InvoiceException], now: datetime
    ) -> list[Invoice]:
        found = [
            i
            for i in self._all()
            if i.merchant_id == merchant_id and i.exception in exceptions and i.needs_watching(now)
        ]
        return _page(found, lambda i: i.id, None, len(found))

    def expiring(self, before: datetime) -> list[Invoice]:
        open_states = (InvoiceState.NEW, InvoiceState.PROCESSING)
        due = [i for i in self._all() if i.state in open_states and i.expires_at <= before]
        return _page(due, lambda i: i.id, None, len(due))

    def count_by_state(self) -> dict[InvoiceState, int]:
        return dict(Counter(i.state for i in self._all()))

    def count_unconfirmed(self) -> int:
        # As the SQL column: payments counted but not confirmed (``needs_watching`` once the window is over).
        return sum(1 for i in self._all() if i.needs_watching(i.monitoring_until))


class InMemoryDepositAddresses:
    def __init__(self, invoices: InMemoryInvoices | None = None) -> None:
        self._addresses: dict[tuple[str, str], DepositAddress] = {}
        self._next: dict[str, int] = {}
        self._invoices = invoices  # for ``may_hold`` (None: every address may hold)

    def allocate_index(self, network: str) -> int:
        index = self._next.get(network, 0)
        self._next[network] = index + 1
        return index

    def allocate_shared_index(self, networks: Sequence[str]) -> int:
        index = max((self._next.get(n, 0) for n in networks), default=0)
        self._next.update(dict.fromkeys(networks, index + 1))
        return index

    def add(self, address: DepositAddress) -> None:
        if (address.network, address.key) in self._addresses:
            raise Conflict(f"deposit address {address.address} on {address.network} is taken")
        if any(a.network == address.network and a.index == address.index for a in self._addresses.values()):
            raise Conflict(f"derivation index {address.index} on {address.network} is taken")
        self._addresses[(address.network, address.key)] = address

    def by_address(self, network: str, address: str) -> DepositAddress | None:
        return self._addresses.get((network, address_key(network, address)))

    def by_address_on(self, networks: Sequence[str], address: str) -> DepositAddress | None:
        found = (self._addresses.get((n, address_key(n, address))) for n in sorted(set(networks)))
        return next((a for a in found if a is not None), None)

    def addresses_for(self, network: str) -> list[str]:
        return sorted(a.address for a in self._addresses.values() if a.network == network)

    def owned_by(self, user_id: str) -> list[DepositAddress]:
        return sorted((a for a in self._addresses.values() if a.user_id == user_id), key=lambda a: a.network)

    def may_hold(self, network: str, now: datetime) -> list[str]:
        def holds(a: DepositAddress) -> bool:
            invoice = self._invoices.get(a.invoice_id) if self._invoices and a.invoice_id else None
            return invoice is None or invoice.may_hold_coins(now)

        return sorted(a.address for a in self._addresses.values() if a.network == network and holds(a))

    def wallet_addresses(self, network: str) -> list[str]:
        found = self._addresses.values()
        return sorted(a.address for a in found if a.network == network and a.user_id is not None)


class InMemoryPaymentCredits(_ById):
    def _all(self) -> list[PaymentCredit]:
        return [cast(PaymentCredit, c) for c in self._items.values()]

    def add(self, credit: PaymentCredit) -> None:
        self._add(credit, credit.id, "payment credit")

    def update(self, credit: PaymentCredit) -> None:
        self._update(credit, credit.id, "payment credit")

    def for_invoice(self, invoice_id: str) -> list[PaymentCredit]:
        found = [c for c in self._all() if c.invoice_id == invoice_id]
        return [_copy(c) for c in sorted(found, key=lambda c: (c.credited_at, c.id))]

    def pending_clawbacks(self, merchant_id: str) -> list[PaymentCredit]:
        found = [c for c in self._all() if c.merchant_id == merchant_id and c.clawback_pending]
        return [_copy(c) for c in sorted(found, key=lambda c: (c.credited_at, c.id))]

    def get(self, credit_id: str, *, lock: bool = False) -> PaymentCredit | None:
        found = self._items.get(credit_id)
        return _copy(cast(PaymentCredit, found)) if found is not None else None

    def awaiting_decision(self, *, after: str | None, limit: int) -> list[PaymentCredit]:
        found = [c for c in self._all() if c.awaiting_decision and (after is None or c.id > after)]
        return [_copy(c) for c in sorted(found, key=lambda c: c.id)[:limit]]

    def count(self) -> int:
        return len(self._items)

    def credited_between(
        self, merchant_id: str, since: datetime, until: datetime, *, after: str | None, limit: int
    ) -> list[PaymentCredit]:
        found = [
            c
            for c in self._all()
            if c.merchant_id == merchant_id and since <= c.credited_at < until and (after is None or c.id > after)
        ]
        return [_copy(c) for c in sorted(found, key=lambda c: c.id)[:limit]]

    def all(self) -> list[PaymentCredit]:
        """Every credit (for tests)."""
        return [_copy(c) for c in self._all()]


class InMemorySettlements(_ById):
    def _all(self) -> list[Settlement]:
        return [cast(Settlement, s) for s in self._items.values()]

    def add(self, settlement: Settlement) -> None:
        if any(s.merchant_id == settlement.merchant_id and s.cutoff == settlement.cutoff for s in self._all()):
            raise Conflict(f"merchant {settlement.merchant_id} is already settled at {settlement.cutoff.isoformat()}")
        self._add(settlement, settlement.id, "settlement")

    def get(self, settlement_id: str, *, lock: bool = False) -> Settlement | None:
        found = self._items.get(settlement_id)
        return _copy(cast(Settlement, found)) if found is not None else None

    def update(self, settlement: Settlement) -> None:
        self._update(settlement, settlement.id, "settlement")

    def last_for(self, merchant_id: str) -> Settlement | None:
        mine = [s for s in self._all() if s.merchant_id == merchant_id]
        return _copy(max(mine, key=lambda s: s.cutoff)) if mine else None

    def last_for_each(self, merchant_ids: Sequence[str]) -> dict[str, Settlement]:
        found = (self.last_for(merchant_id) for merchant_id in merchant_ids)
        return {s.merchant_id: s for s in found if s is not None}

    def by_state(self, state: SettlementState, *, limit: int = 100) -> list[Settlement]:
        found = sorted((s for s in self._all() if s.state is state), key=lambda s: (s.cutoff, s.id))
        return [_copy(s) for s in found[:limit]]

    def list_for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[Settlement]:
        return _newest([s for s in self._all() if s.merchant_id == merchant_id], lambda s: s.id, before, limit)


class InMemoryPayouts(_ById):
    def _all(self) -> list[Payout]:
        return [cast(Payout, p) for p in self._items.values()]

    def _first(self, test: Callable[[Payout], bool]) -> Payout | None:
        return next((_copy(p) for p in self._all() if test(p)), None)

    def _sorted(self, found: Iterable[Payout], limit: int | None = None) -> list[Payout]:
        ordered = sorted(found, key=lambda p: (p.created_at, p.id))
        return [_copy(p) for p in ordered[:limit]]

    def add(self, payout: Payout) -> None:
        if payout.originator_id is not None and self.by_originator_id(payout.originator_id) is not None:
            raise Conflict(f"originator id {payout.originator_id} is taken")
        self._add(payout, payout.id, "payout")

    def get(self, payout_id: str) -> Payout | None:
        return self._first(lambda p: p.id == payout_id)

    def update(self, payout: Payout) -> None:
        self._update(payout, payout.id, "payout")

    def by_originator_id(self, originator_id: str) -> Payout | None:
        return self._first(lambda p: p.originator_id == originator_id)

    def by_conversation_id(self, conversation_id: str) -> Payout | None:
        return self._first(lambda p: p.conversation_id == conversation_id)

    def by_answer_key(self, key: str) -> Payout | None:
        return self._first(lambda p: key in p.answer_keys)

    def with_receipt(self, receipt: str) -> list[Payout]:
        return self._sorted(p for p in self._all() if p.receipt == receipt)

    def with_receipts(self, receipts: Collection[str]) -> dict[str, list[Payout]]:
        wanted, found = set(receipts), dict[str, list[Payout]]()
        for payout in self._sorted(p for p in self._all() if p.receipt in wanted):
            found.setdefault(cast(str, payout.receipt), []).append(payout)
        return found

    def by_state(
        self, state: PayoutState, *, limit: int = 100, after: tuple[datetime, str] | None = None
    ) -> list[Payout]:
        found = (p for p in self._all() if p.state is state and (after is None or (p.created_at, p.id) > after))
        return self._sorted(found, limit)

    def due_for_status(self, now: datetime, *, limit: int = 100) -> list[Payout]:
        due = (p for p in self._all() if p.state in _OPEN_PAYOUTS and p.check_at is not None and p.check_at <= now)
        return self._sorted(due, limit)

    def for_settlement(self, settlement_id: str) -> list[Payout]:
        return self._sorted(p for p in self._all() if p.settlement_id == settlement_id)

    def objects_of(self, owner_id: str, *, prefix: str, before: str | None, limit: int) -> list[str]:
        mine = {
            p.settlement_id for p in self._all() if p.merchant_id == owner_id and p.settlement_id.startswith(prefix)
        }
        return [i for i in sorted(mine, reverse=True) if before is None or i < before][:limit]

    def list_for_merchant(
        self, merchant_id: str, *, before: str | None, limit: int, state: PayoutState | None = None
    ) -> list[Payout]:
        mine = [p for p in self._all() if p.merchant_id == merchant_id and (state is None or p.state is state)]
        return _newest(mine, lambda p: p.id, before, limit)

    def list_in_state(self, state: PayoutState, *, before: str | None, limit: int) -> list[Payout]:
        return _newest([p for p in self._all() if p.state is state], lambda p: p.id, before, limit)

    def to_destination(self, destination: str, *, since: datetime) -> list[Payout]:
        return self._sorted(p for p in self._all() if p.destination == destination and p.created_at >= since)

    def to_destinations(self, destinations: Sequence[str], *, since: datetime) -> list[Payout]:
        wanted = set(destinations)
        return self._sorted(p for p in self._all() if p.destination in wanted and p.created_at >= since)

    def lock_destination(self, destination: str) -> None:
        """Nothing more to do: an in-memory unit of work holds the whole storage's lock already."""

    def claim_receipt_lock(self, receipt: str) -> None:
        """Nothing more to do: an in-memory unit of work holds the whole storage's lock already."""

    def all(self) -> list[Payout]:
        """Every payout, oldest first (for tests)."""
        return self._sorted(self._all())


class InMemoryRefunds(_ById):
    def _all(self) -> list[Refund]:
        return [cast(Refund, r) for r in self._items.values()]

    def add(self, refund: Refund) -> None:
        self._add(refund, refund.id, "refund")

    def get(self, refund_id: str) -> Refund | None:
        found = self._items.get(refund_id)
        return _copy(cast(Refund, found)) if found is not None else None

    def update(self, refund: Refund) -> None:
        self._update(refund, refund.id, "refund")

    def for_invoice(self, invoice_id: str) -> list[Refund]:
        found = sorted((r for r in self._all() if r.invoice_id == invoice_id), key=lambda r: (r.created_at, r.id))
        return [_copy(r) for r in found]

    def list_for_invoice(self, invoice_id: str, *, before: str | None, limit: int) -> list[Refund]:
        return _newest([r for r in self._all() if r.invoice_id == invoice_id], lambda r: r.id, before, limit)

    def list_for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[Refund]:
        return _newest([r for r in self._all() if r.merchant_id == merchant_id], lambda r: r.id, before, limit)

    def by_state(
        self, state: RefundState, *, limit: int = 100, after: tuple[datetime, str] | None = None
    ) -> list[Refund]:
        found = sorted((r for r in self._all() if r.state is state), key=lambda r: (r.created_at, r.id))
        return [_copy(r) for r in found if after is None or (r.created_at, r.id) > after][:limit]


class InMemoryPaymentLinks(_ById):
    """Links by id; ``claim_use`` checks and counts under the storage's lock, as one SQL ``UPDATE`` would; ``held``
    is each invoice's use: its link and whether it still holds it."""

    def __init__(self) -> None:
        super().__init__()
        self.held: dict[str, tuple[str, bool]] = {}
        self.reserved: dict[str, tuple[datetime, str]] = {}  # an unpaid invoice's reservation: until, client

    def _all(self) -> list[PaymentLink]:
        return [cast(PaymentLink, link) for link in self._items.values()]

    def add(self, link: PaymentLink) -> None:
        if self.by_public_id(link.public_id) is not None:
            raise Conflict(f"public id {link.public_id} is taken")
        self._add(link, link.id, "payment link")

    def get(self, link_id: str) -> PaymentLink | None:
        found = self._items.get(link_id)
        return _copy(cast(PaymentLink, found)) if found is not None else None

    def by_public_id(self, public_id: str) -> PaymentLink | None:
        return next((_copy(link) for link in self._all() if link.public_id == public_id), None)

    def update(self, link: PaymentLink) -> None:
        stored = self.get(link.id)
        uses = stored.uses if stored is not None else link.uses
        self._update(attrs.evolve(link, uses=uses), link.id, "payment link")

    def list_for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[PaymentLink]:
        return _newest([link for link in self._all() if link.merchant_id == merchant_id], lambda i: i.id, before, limit)

    def claim_use(
        self, link_id: str, invoice_id: str, now: datetime, *, reservation: LinkReservation | None = None
    ) -> bool:
        link = self._items.get(link_id)
        if link is None or cast(PaymentLink, link).closed_reason(now) is not None:
            return False
        if invoice_id in self.held:
            raise Conflict(f"invoice {invoice_id} already holds a payment link's use")
        if reservation is not None:
            self._check_reservations(link_id, reservation, now)
            self.reserved[invoice_id] = (reservation.until, reservation.client)
        cast(PaymentLink, link).uses += 1
        self.held[invoice_id] = (link_id, True)
        return True

    def _check_reservations(self, link_id: str, reservation: LinkReservation, now: datetime) -> None:
        standing = [
            client
            for invoice_id, (until, client) in self.reserved.items()
            if self.held[invoice_id] == (link_id, True) and until > now
        ]
        busy = reservation.refusal(of_link=len(standing), of_client=standing.count(reservation.client), now=now)
        if busy is not None:
            raise busy

    def release_lapsed(self, link_id: str, now: datetime) -> list[str]:
        lapsed = [
            invoice_id
            for invoice_id, (until, _) in self.reserved.items()
            if self.held[invoice_id] == (link_id, True) and until <= now
        ]
        for invoice_id in sorted(lapsed):
            del self.reserved[invoice_id]
            self._move_use(invoice_id, held=False)
        return sorted(lapsed)

    def reservation_lapses(self, link_id: str, now: datetime) -> list[datetime]:
        return sorted(
            until
            for invoice_id, (until, _) in self.reserved.items()
            if self.held[invoice_id] == (link_id, True) and until > now
        )

    def release_use(self, invoice_id: str, now: datetime) -> PaymentLink | None:
        self.reserved.pop(invoice_id, None)
        return self._move_use(invoice_id, held=False)

    def retake_use(self, invoice_id: str, now: datetime) -> PaymentLink | None:
        self.reserved.pop(invoice_id, None)  # a paid invoice keeps its use for good
        return self._move_use(invoice_id, held=True)

    def _move_use(self, invoice_id: str, *, held: bool) -> PaymentLink | None:
        found = self.held.get(invoice_id)
        if found is None or found[1] is held:
            return None
        self.held[invoice_id] = (found[0], held)
        link = cast(PaymentLink, self._items[found[0]])
        link.uses += 1 if held else -1
        return _copy(link)


class InMemoryUnmatchedAnswers(_ById):
    def _all(self) -> list[UnmatchedAnswer]:
        return [cast(UnmatchedAnswer, a) for a in self._items.values()]

    def add(self, answer: UnmatchedAnswer) -> None:
        self._add(answer, answer.id, "answer")

    def get(self, answer_id: str) -> UnmatchedAnswer | None:
        found = self._items.get(answer_id)
        return _copy(cast(UnmatchedAnswer, found)) if found is not None else None

    def update(self, answer: UnmatchedAnswer) -> None:
        self._update(answer, answer.id, "answer")

    def pending(self, *, limit: int = 100) -> list[UnmatchedAnswer]:
        found = sorted((a for a in self._all() if a.matched_at is None), key=lambda a: (a.received_at, a.id))
        return [_copy(a) for a in found[:limit]]


class AnnouncedInvoiceReads:
    """``InvoiceReads`` for the in-memory stack: the core's cache behind a feed that whoever commits a change of an
    invoice tells at once (``announce``, as PostgreSQL delivers a notification at commit), never silent, and cut and
    restored at will (``cut``, ``restore``: the listener's connection lost and back)."""

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self._cache = InvoiceReadCache(max_entries=max_entries, max_silence=float("inf"))
        self._cache.follow()
        self._cut = False

    def read(self, invoice_id: str, render: Callable[[], RenderedInvoice]) -> RenderedInvoice:
        return self._cache.read(invoice_id, render)

    def changed(self, invoice_id: str) -> None:
        self._cache.changed(invoice_id)

    def stats(self) -> InvoiceReadStats:
        return self._cache.stats()

    def announce(self, invoice_id: str) -> None:
        if not self._cut:  # a lost connection hears nothing
            self._cache.announce(invoice_id)

    def cut(self) -> None:
        self._cut = True
        self._cache.lose()

    def restore(self) -> None:
        self._cut = False
        self._cache.follow()


class InMemoryWrongNetworkPayments(_ById):
    """Records by id; one per transfer key, as SQL's unique ``(network, tx_hash, index)`` keeps it."""

    def _all(self) -> list[WrongNetworkPayment]:
        return sorted((cast(WrongNetworkPayment, p) for p in self._items.values()), key=lambda p: p.id)

    def add(self, payment: WrongNetworkPayment) -> None:
        if self.by_transfer(payment.key) is not None:
            raise Conflict(f"transfer {payment.key[1]}#{payment.key[2]} on {payment.key[0]} is recorded already")
        self._add(payment, payment.id, "wrong-network payment")

    def get(self, payment_id: str) -> WrongNetworkPayment | None:
        found = self._items.get(payment_id)
        return _copy(cast(WrongNetworkPayment, found)) if found is not None else None

    def update(self, payment: WrongNetworkPayment) -> None:
        self._update(payment, payment.id, "wrong-network payment")

    def by_transfer(self, key: tuple[str, str, int]) -> WrongNetworkPayment | None:
        return next((_copy(p) for p in self._all() if p.key == key), None)

    def for_invoice(self, invoice_id: str) -> list[WrongNetworkPayment]:
        return [_copy(p) for p in self._all() if p.invoice_id == invoice_id]

    def followed(self, network: str) -> list[WrongNetworkPayment]:
        return [_copy(p) for p in self._all() if p.network == network and p.followed]

    def list(
        self, *, state: WrongNetworkState | None, before: str | None, limit: int, merchant_id: str | None = None
    ) -> list[WrongNetworkPayment]:
        chosen = [
            p
            for p in self._all()
            if (state is None or p.state is state) and (merchant_id is None or p.merchant_id == merchant_id)
        ]
        return _newest(chosen, lambda p: p.id, before, limit)

    def count_pending(self) -> int:
        return sum(1 for p in self._all() if p.state is WrongNetworkState.PENDING)


def payments_storage(closing: Callable[[str], datetime | None] | None = None, **extra: Any) -> InMemoryStorage:
    """An ``InMemoryStorage`` offering every payment repository (and any ``extra`` ones, e.g. webhooks); ``closing``:
    when a merchant was closed (``InMemoryStores``)."""
    invoices = InMemoryInvoices()
    return InMemoryStorage(
        stores=InMemoryStores(closing),
        invoices=invoices,
        deposit_addresses=InMemoryDepositAddresses(invoices),
        payment_credits=InMemoryPaymentCredits(),
        settlements=InMemorySettlements(),
        payouts=InMemoryPayouts(),
        refunds=InMemoryRefunds(),
        unmatched_answers=InMemoryUnmatchedAnswers(),
        payment_links=InMemoryPaymentLinks(),
        wrong_network_payments=InMemoryWrongNetworkPayments(),
        wallet_quotes=InMemoryWalletQuotes(),  # refunds' quote claims (wallets' too)
        **extra,
    )


def payments_uow(storage: InMemoryStorage) -> PaymentsUowFactory:
    """``storage``'s unit-of-work factory, typed as the payments port."""
    factory = cast(Callable[[], AbstractContextManager["PaymentsUnitOfWork"]], storage.unit_of_work)
    return factory
