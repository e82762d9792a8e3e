"""Merchant-payment ports: the repositories of invoices, deposit addresses, credits, settlements, payouts, refunds.

``PaymentsUnitOfWork`` is one transaction over all of them plus the ledger session, the audit log and the outbox
(``ports.storage.UnitOfWork``). Repositories hand out copies: a change counts only once it is ``update``-d, and
it commits with the unit of work. A merchant's listings (``list_for_merchant``) and the payouts in a state are
newest first: keyset-paginated by id, descending, strictly ``before`` the given id (ids are time-ordered); the
other listings are by id, ascending, strictly ``after`` the given id (the read models of
``cryptopay.core.listings`` page through them; nothing pages in memory).

Rules the SQL adapter must keep (the in-memory fakes in ``cryptopay.core.testing.payments`` do):
- ``DepositAddressRepository.allocate_index`` never hands out one index twice for a network, even to concurrent
  transactions (a counter row locked ``FOR UPDATE``, or a sequence); gaps are fine. ``allocate_shared_index``
  likewise over several counters at once (rows locked in name order): invoices and wallets take their EVM indexes
  on every EVM counter (``payments.model.index_families``), so an EVM address has one owner across networks.
  ``add`` is a ``Conflict`` for an address already stored (unique ``(network, address key)``), so two invoices
  never share an address.
- ``SettlementRepository.add`` is a ``Conflict`` for a second settlement of one merchant at one cut-off (unique
  ``(merchant_id, cutoff)``), so two concurrent runs cannot both settle.
- Addresses are matched by ``payments.model.address_key`` (EVM addresses compared case-insensitively).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import cryptopay.core.ledger  # noqa: F401  (first: ports.storage alone trips the ports.ledger <-> ledger cycle)
from cryptopay.core.fx import Pair, Quote
from cryptopay.core.invoices import Invoice, InvoiceException, InvoiceState
from cryptopay.core.payments.model import (
    DepositAddress,
    LinkReservation,
    PaymentCredit,
    PaymentLink,
    Refund,
    RefundState,
    StoreSettings,
)
from cryptopay.core.payments.read_cache import InvoiceReadStats, RenderedInvoice
from cryptopay.core.payments.wrong_network import WrongNetworkPayment, WrongNetworkState
from cryptopay.core.payouts.answers import UnmatchedAnswer
from cryptopay.core.payouts.model import Payout, PayoutState
from cryptopay.core.ports.storage import UnitOfWork
from cryptopay.core.settlement.model import Settlement, SettlementState

if TYPE_CHECKING:  # ports.wallets imports this port
    from cryptopay.core.ports.wallets import WalletQuoteRepository

__all__ = [
    "DepositAddressRepository",
    "InvoiceReads",
    "InvoiceRepository",
    "PaymentCreditRepository",
    "PaymentLinkRepository",
    "PaymentsUnitOfWork",
    "PaymentsUowFactory",
    "PayoutRepository",
    "Quoter",
    "RefundRepository",
    "SettlementRepository",
    "StoreSettingsRepository",
    "UnmatchedAnswerRepository",
    "WrongNetworkPaymentRepository",
]


class Quoter(Protocol):
    """Locks and persists a quote for a pair (``cryptopay.core.pricing.Pricer`` is one)."""

    def quote(self, pair: Pair) -> Quote: ...

    def prices(self, pair: Pair) -> bool:
        """False when nothing configured can ever quote ``pair`` (every source says so); True otherwise, even
        while the sources are down (that is a passing outage, not a missing price)."""
        ...


class StoreSettingsRepository(Protocol):
    def get(self, merchant_id: str, *, lock: bool = False) -> StoreSettings | None:
        """The merchant's store settings; ``lock``: the row locked to the end of the unit of work (``FOR UPDATE`` on
        PostgreSQL), as every writer that reads the whole document and puts it back does (no lost update)."""
        ...

    def with_closing(self, merchant_id: str) -> tuple[StoreSettings | None, datetime | None]:
        """The merchant's store settings (None before it has a store) and when an operator closed the merchant (None
        while it is open, or when no merchant row is known), read together: one statement on SQL. An invoice
        creation learns both in the read it makes anyway (``Invoicing.open_store``, outside review R22)."""
        ...

    def closed_at(self, merchant_id: str) -> datetime | None:
        """When an operator closed the merchant (None while open, or for no merchant row), read under a share lock
        on its row until the transaction ends (PostgreSQL ``FOR SHARE``): a close waits for the transaction that
        asked, so a refund checked here never commits for a merchant closed after the check."""
        ...

    def put(self, settings: StoreSettings) -> None:
        """Create or replace the store settings of ``settings.merchant_id``."""
        ...

    def list(self, *, after: str | None, limit: int) -> list[StoreSettings]:
        """Stores ordered by merchant id."""
        ...


class InvoiceRepository(Protocol):
    def add(self, invoice: Invoice) -> None:
        """Store a new invoice; ``Conflict`` if the id exists."""
        ...

    def get(self, invoice_id: str) -> Invoice | None:
        """The invoice, locked for update until the transaction ends."""
        ...

    def update(self, invoice: Invoice) -> None: ...

    def list_for_merchant(
        self,
        merchant_id: str,
        *,
        before: str | None,
        limit: int,
        state: InvoiceState | None = None,
        order_id: str | None = None,
    ) -> list[Invoice]:
        """The merchant's invoices (only those in ``state`` when given, and only those whose order id is
        ``order_id`` compared without case when given), newest first, older than ``before``."""
        ...

    def created_between(
        self, merchant_id: str, since: datetime, until: datetime, *, before: str | None, limit: int
    ) -> list[Invoice]:
        """The merchant's invoices created in [``since``, ``until``), newest first (by id), older than ``before``.

        On SQL: one range query on the indexed (merchant, created_at) columns, at most ``limit`` rows.
        """
        ...

    def find_by_order(self, merchant_id: str, text: str, *, limit: int) -> list[Invoice]:
        """At most ``limit`` of the merchant's invoices whose order id contains ``text`` (case-insensitive; ``%`` and
        ``_`` are plain characters), newest first."""
        ...

    def count_for_merchant(self, merchant_id: str, states: tuple[InvoiceState, ...]) -> int:
        """How many of the merchant's invoices are in one of ``states``: one aggregate query."""
        ...

    def by_address(self, network: str, address: str) -> Invoice | None:
        """The invoice that owns the deposit address (by ``address_key``), if any."""
        ...

    def by_public_id(self, public_id: str) -> Invoice | None:
        """The invoice whose hosted checkout page is ``/pay/<public_id>``, if any (not locked)."""
        ...

    def watching(self, now: datetime) -> list[Invoice]:
        """Invoices whose addresses the watchers still scan: ``invoice.needs_watching(now)``.

        On SQL: ``monitoring_until > now`` or a stored "has unconfirmed payments" flag, refreshed on every update.
        """
        ...

    def watched_with_exception(
        self, merchant_id: str, exceptions: Collection[InvoiceException], now: datetime
    ) -> list[Invoice]:
        """``merchant_id``'s invoices still watched (as ``watching``) whose exception is one of ``exceptions``,
        oldest first: the candidates for refunding what arrived beyond an invoice (``Remittances.refund_excess``),
        read without reading every watched invoice. On SQL by the ``exception`` column (migration 0040)."""
        ...

    def expiring(self, before: datetime) -> list[Invoice]:
        """Invoices still new or processing whose ``expires_at`` is at or before ``before``."""
        ...

    def count_by_state(self) -> dict[InvoiceState, int]:
        """How many invoices are in each state (states without any are left out): one aggregate query."""
        ...

    def count_unconfirmed(self) -> int:
        """How many invoices have payments seen on chain but still short of their confirmations."""
        ...


class InvoiceReads(Protocol):
    """One process's rendered invoice reads (``cryptopay.core.payments.read_cache``): what ``read`` returns is
    never older than a change of that invoice that was committed and announced to this process before the read.

    Keyed by invoice id, for one rendering per deployment (the API's JSON). On PostgreSQL every change of an invoice
    row is announced at its commit (a trigger and ``LISTEN``, ``cryptopay.adapters.sql.invoice_feed``); where no
    feed exists (SQLite, whose writers include the worker's process) nothing is kept (``UncachedInvoiceReads``).
    """

    def read(self, invoice_id: str, render: Callable[[], RenderedInvoice]) -> RenderedInvoice:
        """The kept rendering of ``invoice_id``, else ``render()`` (its errors, e.g. ``NotFound``, pass through
        and nothing is kept)."""
        ...

    def changed(self, invoice_id: str) -> None:
        """This process committed a change of ``invoice_id``: its next read renders again."""
        ...

    def stats(self) -> InvoiceReadStats: ...


class DepositAddressRepository(Protocol):
    def allocate_index(self, network: str) -> int:
        """The next unused derivation index of ``network`` (atomic: never the same index twice)."""
        ...

    def allocate_shared_index(self, networks: Sequence[str]) -> int:
        """One index unused on every one of ``networks`` (the greatest next index among them), taken on all of
        them at once (atomic: counter rows locked in name order): one address for a wallet on every EVM network."""
        ...

    def add(self, address: DepositAddress) -> None:
        """Store an address with its index; ``Conflict`` if the address or the (network, index) is taken."""
        ...

    def by_address(self, network: str, address: str) -> DepositAddress | None: ...

    def by_address_on(self, networks: Sequence[str], address: str) -> DepositAddress | None:
        """The deposit address ``address`` on any of ``networks`` (compared in each one's ``address_key`` form),
        whoever owns it (a wallet, an invoice or a remittance order's invoice); None when it is none of ours. One
        indexed lookup: what outgoing sends ask before they send coins to an address the platform controls."""
        ...

    def addresses_for(self, network: str) -> list[str]:
        """Every deposit address on ``network`` (for a full rescan; live scanning uses ``Detection.watched``)."""
        ...

    def owned_by(self, user_id: str) -> list[DepositAddress]:
        """A wallet user's deposit addresses, by network."""
        ...

    def may_hold(self, network: str, now: datetime) -> list[str]:
        """The deposit addresses on ``network`` that can hold coins the books know of: every wallet's, and an
        invoice's unless ``Invoice.may_hold_coins`` says no (expired or cancelled, nothing seen paid, not watched)."""
        ...

    def wallet_addresses(self, network: str) -> list[str]:
        """Every wallet deposit address on ``network`` (always watched: a wallet address never expires)."""
        ...


class PaymentCreditRepository(Protocol):
    def add(self, credit: PaymentCredit) -> None: ...

    def update(self, credit: PaymentCredit) -> None: ...

    def for_invoice(self, invoice_id: str) -> list[PaymentCredit]:
        """The invoice's credits, oldest first."""
        ...

    def pending_clawbacks(self, merchant_id: str) -> list[PaymentCredit]:
        """Credits whose reversal is still owed by the merchant, oldest first."""
        ...

    def get(self, credit_id: str, *, lock: bool = False) -> PaymentCredit | None:
        """One credit (``lock``: its row locked for update)."""
        ...

    def awaiting_decision(self, *, after: str | None, limit: int) -> list[PaymentCredit]:
        """Held credits no officer decided yet (``PaymentCredit.awaiting_decision``), by id after ``after``."""
        ...

    def count(self) -> int:
        """How many credits (confirmed payments) were ever booked: it only grows."""
        ...

    def credited_between(
        self, merchant_id: str, since: datetime, until: datetime, *, after: str | None, limit: int
    ) -> list[PaymentCredit]:
        """The merchant's credits made in [``since``, ``until``), by id after ``after``: a report's page."""
        ...


class SettlementRepository(Protocol):
    def add(self, settlement: Settlement) -> None:
        """Store a new settlement; ``Conflict`` for a second one of the same merchant and cut-off."""
        ...

    def get(self, settlement_id: str, *, lock: bool = False) -> Settlement | None:
        """One settlement (``lock``: its row locked for update, as a writer that writes it back whole reads it)."""
        ...

    def update(self, settlement: Settlement) -> None: ...

    def last_for(self, merchant_id: str) -> Settlement | None:
        """The merchant's settlement with the latest cut-off."""
        ...

    def last_for_each(self, merchant_ids: Sequence[str]) -> dict[str, Settlement]:
        """``last_for`` of many merchants in one read (merchants never settled are absent): a run's page at a time."""
        ...

    def by_state(self, state: SettlementState, *, limit: int = 100) -> list[Settlement]:
        """Settlements in ``state``, oldest cut-off first."""
        ...

    def list_for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[Settlement]:
        """The merchant's settlements, newest first, older than ``before``."""
        ...


class PayoutRepository(Protocol):
    def add(self, payout: Payout) -> None: ...

    def get(self, payout_id: str) -> Payout | None:
        """The payout, locked for update until the transaction ends."""
        ...

    def update(self, payout: Payout) -> None: ...

    def by_originator_id(self, originator_id: str) -> Payout | None:
        """The payout sent with this OriginatorConversationID."""
        ...

    def by_conversation_id(self, conversation_id: str) -> Payout | None: ...

    def by_answer_key(self, key: str) -> Payout | None:
        """The payout one of whose ``Payout.answer_keys`` is ``key`` (a callback token's digest, a query's id).

        The keys are indexed by ``add`` and ``update`` in the same transaction, so a request recorded before it
        is sent is found by its answer however soon that answer comes.
        """
        ...

    def with_receipt(self, receipt: str) -> list[Payout]:
        """Payouts booked with M-Pesa's ``receipt`` (``Payout.receipt``), oldest first: one receipt is one payment
        (LASTREAD L-6). Indexed (the SQL ``payouts.receipt`` column, 0295), as every lookup by receipt is."""
        ...

    def with_receipts(self, receipts: Collection[str]) -> dict[str, list[Payout]]:
        """``with_receipt`` for each of ``receipts`` at once (a statement's rows: reader2 L2-4), by receipt; a receipt
        no payout is booked with is absent. One indexed read (a few for thousands of receipts), not one per receipt."""
        ...

    def by_state(
        self, state: PayoutState, *, limit: int = 100, after: tuple[datetime, str] | None = None
    ) -> list[Payout]:
        """Payouts in ``state``, oldest first (by ``created_at``, then id), after ``after`` (a keyset page)."""
        ...

    def due_for_status(self, now: datetime, *, limit: int = 100) -> list[Payout]:
        """Submitted or unknown payouts whose ``check_at`` is at or before ``now``, oldest first."""
        ...

    def for_settlement(self, settlement_id: str) -> list[Payout]: ...

    def objects_of(self, owner_id: str, *, prefix: str, before: str | None, limit: int) -> list[str]:
        """The distinct business objects (``settlement_id``) starting with ``prefix`` (a wallet's sales: ``sel_``)
        of the owner's payouts, newest first (by that id), older than ``before``: one keyset query on the owner."""
        ...

    def list_for_merchant(
        self, merchant_id: str, *, before: str | None, limit: int, state: PayoutState | None = None
    ) -> list[Payout]:
        """The merchant's payouts, retries included (only those in ``state`` when given), newest first, older
        than ``before``."""
        ...

    def list_in_state(self, state: PayoutState, *, before: str | None, limit: int) -> list[Payout]:
        """Every merchant's payouts in ``state``, newest first, older than ``before`` (an operator's view)."""
        ...

    def to_destination(self, destination: str, *, since: datetime) -> list[Payout]:
        """Payouts to ``destination`` created at or after ``since`` (for the recipient's daily limit)."""
        ...

    def to_destinations(self, destinations: Sequence[str], *, since: datetime) -> list[Payout]:
        """``to_destination`` for many destinations in one read."""
        ...

    def lock_destination(self, destination: str) -> None:
        """Hold ``destination``'s lock to the end of this unit of work: another unit of work locking it waits, so a
        look at what it received today and the payout planned on it are never interleaved with another's."""
        ...

    def claim_receipt_lock(self, receipt: str) -> None:
        """Hold the lock of ``receipt`` (an M-Pesa receipt or a bank reference, normalised: upper case) to the end of
        this unit of work: every decision that claims a receipt for a payout (a conclusion proposed or approved, a
        bank confirmation, a receipt correction) takes it before it looks whether another payout carries the receipt
        (``with_receipt``), so two decisions naming one receipt on two payouts take turns and the second sees the
        first's booking (review13 R13-8: one reference completed two payouts). Taken after the payout's own row."""
        ...


class RefundRepository(Protocol):
    def add(self, refund: Refund) -> None: ...

    def get(self, refund_id: str) -> Refund | None: ...

    def update(self, refund: Refund) -> None: ...

    def for_invoice(self, invoice_id: str) -> list[Refund]:
        """Every refund of the invoice, oldest first."""
        ...

    def list_for_invoice(self, invoice_id: str, *, before: str | None, limit: int) -> list[Refund]:
        """The invoice's refunds newest first (by id, descending); with ``before`` (a refund id, the previous
        page's last) only those older than it."""
        ...

    def list_for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[Refund]:
        """The refunds of every invoice of the merchant, newest first (by id, descending), older than ``before``
        (a refund id): one keyset query (on SQL through the invoices the merchant owns)."""
        ...

    def by_state(
        self, state: RefundState, *, limit: int = 100, after: tuple[datetime, str] | None = None
    ) -> list[Refund]:
        """Refunds in ``state``, oldest first (by ``created_at``, then id), after ``after`` (a keyset page)."""
        ...


class PaymentLinkRepository(Protocol):
    def add(self, link: PaymentLink) -> None:
        """Store a new link; ``Conflict`` if its id or public id is taken."""
        ...

    def get(self, link_id: str) -> PaymentLink | None: ...

    def by_public_id(self, public_id: str) -> PaymentLink | None: ...

    def update(self, link: PaymentLink) -> None:
        """Store the link's changes (deactivation); its use count is ``claim_use``'s alone and is kept."""
        ...

    def list_for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[PaymentLink]:
        """The merchant's links newest first (by id, descending), strictly before the link id ``before``."""
        ...

    def claim_use(
        self, link_id: str, invoice_id: str, now: datetime, *, reservation: LinkReservation | None = None
    ) -> bool:
        """Count one use, held by ``invoice_id``, if the link is active, not expired at ``now`` and under its cap;
        False otherwise. With a ``reservation`` the use is held only until ``reservation.until`` unless paid, and
        ``PaymentLinkBusy`` is raised (nothing claimed) when the link already has ``per_link`` open reservations,
        or ``per_client`` from ``reservation.client`` (counted under the link's row lock: concurrent claims never
        pass either; a client key is kept only as a keyed hash, and only while its reservation stands).

        Atomic (one conditional ``UPDATE``): concurrent claims never take a link past its cap. The claim commits
        or rolls back with the caller's transaction (the invoice the use makes).
        """
        ...

    def release_lapsed(self, link_id: str, now: datetime) -> list[str]:
        """Lock the link's row until the transaction ends, then give back every use whose reservation lapsed by
        ``now`` (its invoice still unpaid): the count one less for each; the invoices' ids. Atomic: a use freed
        here is not freed again, and a payment that kept it first (``retake_use``) keeps it."""
        ...

    def reservation_lapses(self, link_id: str, now: datetime) -> list[datetime]:
        """When each of the link's reservations standing at ``now`` lapses (its use then freed unless paid),
        earliest first; empty when none stands."""
        ...

    def release_use(self, invoice_id: str, now: datetime) -> PaymentLink | None:
        """Give back the use ``invoice_id`` holds (its invoice ended unpaid): the link, its count one less; None
        when the invoice holds none (no link's, or given back before). Atomic: it is given back once."""
        ...

    def retake_use(self, invoice_id: str, now: datetime) -> PaymentLink | None:
        """Take again the use ``invoice_id`` gave back (money arrived after all), past the cap if need be: the
        link, its count one more; None when the invoice had given none back (a use it still holds is kept for good:
        its reservation, if any, cleared). Atomic: it is taken once."""
        ...


class UnmatchedAnswerRepository(Protocol):
    def add(self, answer: UnmatchedAnswer) -> None: ...

    def get(self, answer_id: str) -> UnmatchedAnswer | None:
        """The kept answer, locked for update until the transaction ends."""
        ...

    def update(self, answer: UnmatchedAnswer) -> None: ...

    def pending(self, *, limit: int = 100) -> list[UnmatchedAnswer]:
        """Kept answers not matched (nor given up on) yet, oldest first."""
        ...


class WrongNetworkPaymentRepository(Protocol):
    """Payments seen at an invoice's address on an EVM network it did not ask for (``payments.wrong_network``).

    On SQL: unique ``(network, tx_hash, index)``, so one transfer is one record however often it is scanned.
    """

    def add(self, payment: WrongNetworkPayment) -> None:
        """Store a new record; ``Conflict`` if its id or its transfer is stored already."""
        ...

    def get(self, payment_id: str) -> WrongNetworkPayment | None:
        """The record, locked for update until the transaction ends."""
        ...

    def update(self, payment: WrongNetworkPayment) -> None: ...

    def by_transfer(self, key: tuple[str, str, int]) -> WrongNetworkPayment | None:
        """The record of the transfer ``(network, tx_hash lower-cased, index)``, if any."""
        ...

    def for_invoice(self, invoice_id: str) -> list[WrongNetworkPayment]:
        """The invoice's records, oldest first (by id)."""
        ...

    def followed(self, network: str) -> list[WrongNetworkPayment]:
        """The pending records on ``network`` still checked for reorgs (``WrongNetworkPayment.followed``), by id."""
        ...

    def list(
        self, *, state: WrongNetworkState | None, before: str | None, limit: int, merchant_id: str | None = None
    ) -> list[WrongNetworkPayment]:
        """Records (only those in ``state`` / of ``merchant_id`` when given), newest first, older than ``before``."""
        ...

    def count_pending(self) -> int:
        """How many records wait for a decision: one aggregate query."""
        ...


class PaymentsUnitOfWork(UnitOfWork, Protocol):
    """One transaction over the payment repositories, the ledger session, the audit log and the outbox."""

    @property
    def stores(self) -> StoreSettingsRepository: ...

    @property
    def invoices(self) -> InvoiceRepository: ...

    @property
    def deposit_addresses(self) -> DepositAddressRepository: ...

    @property
    def payment_credits(self) -> PaymentCreditRepository: ...

    @property
    def settlements(self) -> SettlementRepository: ...

    @property
    def payouts(self) -> PayoutRepository: ...

    @property
    def refunds(self) -> RefundRepository: ...

    @property
    def unmatched_answers(self) -> UnmatchedAnswerRepository: ...

    @property
    def payment_links(self) -> PaymentLinkRepository: ...

    @property
    def wrong_network_payments(self) -> WrongNetworkPaymentRepository: ...

    @property
    def wallet_quotes(self) -> WalletQuoteRepository:
        """Quote claims: a refund's quote is its merchant's, used once (``cryptopay.core.wallets.quotes``)."""
        ...


PaymentsUowFactory = Callable[[], AbstractContextManager[PaymentsUnitOfWork]]
