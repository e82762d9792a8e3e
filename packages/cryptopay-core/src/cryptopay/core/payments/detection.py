"""Chain detection: record transfers to deposit addresses, follow their confirmations, notice reorgs, expire invoices.

A transfer is matched to an invoice by its receiving address only (never by sender or amount). Each invoice is
changed in its own transaction together with its ledger credits (see ``crediting``), its outbox messages and its
audit records. Chain reads (block hashes, depths) happen before the transaction, never inside it.

Monitoring: each payment credited to a merchant is journaled for AML monitoring (product ``merchant_payment``, in,
valued in KES, the payer's address as counterparty) once its transaction committed (``compliance.feed``). The
remittance desk's invoices are not a merchant's: their payments are journaled once, by the order (product
``remittance``, with the network and the payer's address: ``remittances.service``), never here too.

Sanctioned payers: before the transaction of a step that confirms a merchant's payment, its payer's address is
screened against the sanctions lists (``compliance.addresses``, rule ``sanctioned-address``, product
``merchant_payer``: a blocking alert for the officers); a listed payer's payment is held, never credited to the
merchant (``crediting``). The remittance desk screens its own payers (``remittances.service``).

Wrong network: on the EVM networks the scan also watches the open and recent invoices' addresses of the other EVM
networks; a transfer to one of them is recorded as a ``WrongNetworkPayment`` of the invoice (never credited by
itself), followed for reorgs and accepted on request (``payments.wrong_network``). Wrong asset: a mined transfer of a
token the invoice does not ask for on that network (USDC to an invoice asking for USDT on Ethereum) is recorded the
same way (``wrong`` is ``asset``), followed for reorgs and refunded whole on request; it cannot be accepted.

Time: an invoice is judged by the chain's clock where one is known (the scan cursor's block time), so a watcher
that stalls never expires an invoice whose payment sits in blocks it has not read yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

import attrs
from cryptopay.core import flows
from cryptopay.core.compliance.addresses import MERCHANT_PAYER, ListedPayer, listed_payer
from cryptopay.core.compliance.feed import MonitoringFeed, movement
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.errors import Conflict, CryptopayError, InvalidInput, InvalidState, NotFound
from cryptopay.core.invoices import Invoice, InvoiceEvent, InvoicePayment, TransferKey, is_confirmed
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import KES, Money, Rounding
from cryptopay.core.payments._support import audit, publish_invoice_events, transaction
from cryptopay.core.payments.crediting import sync_credits
from cryptopay.core.payments.wrong_network import (
    WrongNetworkNotAcceptable,
    WrongNetworkPayment,
    WrongNetworkState,
    evm_neighbours,
    load_wrong_network_payment,
    store_address,
    wrong_network_event,
)
from cryptopay.core.ports.chains import (
    ChainWatcher,
    FinalitySource,
    MempoolWatcher,
    ObservedTransfer,
    ScanCursorStore,
    TxState,
)
from cryptopay.core.ports.compliance import ScreeningPort
from cryptopay.core.ports.payments import Quoter
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.rails import Finality, Rail
from cryptopay.core.wallets.service import kes_value

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory

__all__ = ["Detection", "DetectionReport"]

_ACTOR = "system:detection"
MERCHANT_PAYMENT = "merchant_payment"  # the monitoring product of a merchant's incoming payment


@attrs.frozen
class DetectionReport:
    """What a detection step did: the invoices it changed and the transfers that pay no invoice."""

    invoices: tuple[str, ...] = ()
    events: tuple[InvoiceEvent, ...] = ()
    ignored: tuple[ObservedTransfer, ...] = ()
    wrong_network: tuple[ObservedTransfer, ...] = ()  # recorded against an invoice that asked for another network


@attrs.frozen
class _Depth:
    """What the chain says about one recorded payment: its depth, or that its block is gone."""

    key: TransferKey
    block_hash: str | None
    depth: int
    gone: bool
    finality: Finality | None = None
    why: str = "block reorganised away"


class Detection:
    """The detection use cases for every network."""

    def __init__(
        self,
        *,
        uow: PaymentsUowFactory,
        clock: Clock,
        ids: IdGenerator,
        ledger: Ledger,
        cursors: ScanCursorStore | None = None,
        monitor: MonitoringFeed | None = None,
        quoter: Quoter | None = None,
        rails: Mapping[str, Rail] | None = None,
        sweepable: Collection[str] = (),
        screening: Callable[[], ScreeningPort | None] | None = None,
    ) -> None:
        self._uow, self._clock, self._ids, self._ledger, self._cursors = uow, clock, ids, ledger, cursors
        self._monitor = monitor or MonitoringFeed()  # AML: credited payments journaled (merchant_payment, in)
        self._quoter = quoter  # values a payment in KES when its invoice is not priced in KES
        # What accepting a wrong-network payment needs: the deployment's rails by key (the network's depth), and
        # the networks whose deposit addresses a hot wallet sweeps.
        self._rails, self._sweepable = dict(rails or {}), frozenset(sweepable)
        self._screening = screening  # a merchant's payment from a listed address is held (lazy: built when asked)

    def chain_now(self, network: str) -> datetime:
        """The time as ``network`` has been read: the earlier of the wall clock and the scan cursor's block time."""
        now = self._clock.now()
        cursor = self._cursors.load(network) if self._cursors is not None else None
        return min(now, cursor.block_time) if cursor is not None else now

    def watched_addresses(self, network: str) -> list[str]:
        """The deposit addresses on ``network`` the watcher must scan now (invoices still watched); on an EVM
        network also those the invoices hold on the other EVM networks (a payment sent on the wrong one)."""
        invoices = transaction(self._uow, lambda uow: uow.invoices.watching(self._clock.now()))
        scanned = {network, *evm_neighbours(network)}
        found = {o.address for i in invoices for o in i.options if o.rail.network.name in scanned}
        return sorted(found)

    def record_chain_transfers(self, network: str, transfers: Sequence[ObservedTransfer]) -> DetectionReport:
        """Record transfers seen on ``network`` against the invoices owning their addresses (idempotent)."""
        if any(t.network != network for t in transfers):
            raise InvalidInput(f"every transfer passed for {network} must be on {network}")
        grouped, strays, ignored = transaction(self._uow, lambda uow: _group(uow, network, transfers))
        events: list[InvoiceEvent] = []
        for invoice_id, batch in grouped.items():
            events += self._step(partial(self._record, invoice_id=invoice_id, transfers=batch, network=network))
        for invoice_id, batch in strays.items():
            events += self._step(partial(self._record_stray, invoice_id=invoice_id, transfers=batch, network=network))
        wrong = tuple(t for batch in strays.values() for t in batch)
        return DetectionReport(tuple(grouped), tuple(events), tuple(ignored), wrong)

    def record_mempool(self, network: str, mempool: MempoolWatcher) -> DetectionReport:
        """Record unconfirmed payments to watched addresses (Bitcoin's mempool): the invoice shows them as seen
        (``processing``) within a scan, long before their first block; they count once mined and confirmed."""
        addresses = self.watched_addresses(network)
        return self.record_chain_transfers(network, mempool.pending(addresses)) if addresses else DetectionReport()

    def confirm_payments(
        self,
        network: str,
        watcher: ChainWatcher,
        finality: FinalitySource | None = None,
        mempool: MempoolWatcher | None = None,
    ) -> DetectionReport:
        """Update the depth of every watched payment on ``network`` (and, for rails a speed policy sets to ``safe``
        or ``finalized``, whether its block carries that signal, asked once per step); withdraw those whose block
        left the chain, and (with ``mempool``) unconfirmed ones the network dropped (replaced, double-spent)."""
        invoices = transaction(self._uow, lambda uow: uow.invoices.watching(self._clock.now()))
        changed: list[str] = []
        events: list[InvoiceEvent] = []
        finals = _Finals(finality)
        for invoice in invoices:
            depths = [_depth(watcher, p, finals, invoice.option(p.rail_key).rail) for p in _on_chain(invoice, network)]
            if mempool is not None:
                depths += [_dropped(p) for p in _in_mempool(invoice, network) if _is_dropped(mempool, p)]
            if depths:
                listed = self._listed_payers(invoice, depths)  # screened before the transaction, as deposits are
                confirm = partial(self._confirm, invoice_id=invoice.id, depths=depths, network=network, listed=listed)
                found = self._step(confirm)
                changed += [invoice.id] if found else []
                events += found
        events += self._follow_strays(network, watcher)
        return DetectionReport(tuple(changed), tuple(events))

    # --- payments on the wrong EVM network ----------------------------------------------------------------------

    def wrong_network_payment(self, payment_id: str) -> WrongNetworkPayment:
        """One wrong-network payment, or ``NotFound``."""
        return transaction(self._uow, lambda uow: load_wrong_network_payment(uow, payment_id))

    def invoice_wrong_network_payment(self, invoice_id: str, payment_id: str) -> WrongNetworkPayment:
        """The wrong-network payment ``payment_id`` sent to invoice ``invoice_id``: one ``NotFound`` alike for an
        unknown id and another invoice's (a shell checks first that its caller may see the invoice)."""
        payment = transaction(self._uow, lambda uow: uow.wrong_network_payments.get(payment_id))
        if payment is None or payment.invoice_id != invoice_id:
            raise NotFound(f"wrong-network payment {payment_id} not found")
        return payment

    def wrong_network_payments(
        self,
        *,
        invoice_id: str | None = None,
        state: WrongNetworkState | None = None,
        merchant_id: str | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> list[WrongNetworkPayment]:
        """An invoice's wrong-network payments (oldest first), or every one (newest first, by state or merchant)."""
        if invoice_id is not None:
            return transaction(self._uow, lambda uow: uow.wrong_network_payments.for_invoice(invoice_id))
        found = transaction(
            self._uow,
            lambda uow: uow.wrong_network_payments.list(
                state=state, before=before, limit=limit, merchant_id=merchant_id
            ),
        )
        return found

    def accept_wrong_network(self, payment_id: str, *, actor: str) -> WrongNetworkPayment:
        """Take a pending wrong-network payment into its invoice: the network's rail is offered at the terms of the
        option in the same asset, the address stored on that network (swept and custody-checked from then on) and
        the transfer recorded as its payment, confirmed at that rail's depth and credited like any other.

        Refused (``wrong_network_not_acceptable``) for an asset the invoice does not ask for, a rail the deployment
        does not offer, or a network whose deposit addresses no hot wallet sweeps."""
        seen = self.wrong_network_payment(payment_id)
        self._step(partial(self._accept, seen=seen, actor=actor))
        return self.wrong_network_payment(payment_id)

    def _record_stray(
        self, uow: PaymentsUnitOfWork, invoice_id: str, transfers: Sequence[ObservedTransfer], network: str
    ) -> _Saved:
        invoice = _load(uow, invoice_id)
        return _Saved(invoice, self._keep_strays(uow, invoice, transfers, self.chain_now(network)))

    def _keep_strays(
        self, uow: PaymentsUnitOfWork, invoice: Invoice, transfers: Sequence[ObservedTransfer], now: datetime
    ) -> list[InvoiceEvent]:
        """Record ``transfers`` as the invoice's wrong-network (or wrong-asset) payments, told and audited once
        each; the events (published here)."""
        events = list[InvoiceEvent]()
        rails = tuple(o.rail.key for o in invoice.options)
        for transfer in transfers:
            known = uow.wrong_network_payments.by_transfer(transfer.key)
            if known is None:
                payment = WrongNetworkPayment.seen(
                    self._ids.new_id("wnp"), invoice.id, invoice.merchant_id, transfer, rails, now=now
                )
                uow.wrong_network_payments.add(payment)
            else:
                again = known.seen_again(transfer, now=now)
                if again is None:
                    continue
                payment = again
                uow.wrong_network_payments.update(payment)
            events.append(wrong_network_event(invoice, payment, "invoice.wrong_network_payment", now))
            audit(
                uow,
                _ACTOR,
                "invoice.wrong_network_payment",
                f"invoice:{invoice.id}",
                now,
                payment=payment.id,
                tx=_tx(transfer),
                amount=transfer.amount,
                asked=",".join(rails),
                wrong=payment.wrong,
            )
        publish_invoice_events(uow, self._ids, invoice, events)
        return events

    def _follow_strays(self, network: str, watcher: ChainWatcher) -> list[InvoiceEvent]:
        """Each pending wrong-network (or wrong-asset) payment on ``network``: its depth, or withdrawn when its
        block left."""
        events: list[InvoiceEvent] = []
        for payment in transaction(self._uow, lambda uow: uow.wrong_network_payments.followed(network)):
            gone = _gone(watcher, payment.transfer)
            depth = 0 if gone else watcher.confirmations(payment.transfer)
            if gone:
                events += self._step(partial(self._withdraw_stray, seen=payment))
            elif depth > payment.confirmations:
                transaction(self._uow, partial(self._deepen_stray, seen=payment, depth=depth))
        return events

    def _deepen_stray(self, uow: PaymentsUnitOfWork, seen: WrongNetworkPayment, depth: int) -> None:
        payment = load_wrong_network_payment(uow, seen.id)
        if payment.followed and payment.transfer.block_hash == seen.transfer.block_hash:
            uow.wrong_network_payments.update(payment.deepen(depth, now=self.chain_now(payment.network)))

    def _withdraw_stray(self, uow: PaymentsUnitOfWork, seen: WrongNetworkPayment) -> _Saved:
        # Locks in the scan's order (the invoice, then its record), so a scan and a decision never deadlock.
        invoice = _load(uow, seen.invoice_id)
        payment = load_wrong_network_payment(uow, seen.id)
        if not payment.followed or payment.transfer.block_hash != seen.transfer.block_hash:
            return _Saved(invoice)  # changed since it was read: the next step looks again
        now = self.chain_now(payment.network)
        why = "block reorganised away"
        withdrawn = payment.withdraw(why, now=now)
        uow.wrong_network_payments.update(withdrawn)
        name = "invoice.wrong_network_payment_withdrawn"
        events = [wrong_network_event(invoice, withdrawn, name, now, reason=why)]
        audit(uow, _ACTOR, name, f"invoice:{invoice.id}", now, payment=payment.id, tx=_tx(payment.transfer))
        publish_invoice_events(uow, self._ids, invoice, events)
        return _Saved(invoice, events)

    def _accept(self, uow: PaymentsUnitOfWork, seen: WrongNetworkPayment, actor: str) -> _Saved:
        invoice = _load(uow, seen.invoice_id)  # the invoice, then its record: the scan's lock order
        payment = load_wrong_network_payment(uow, seen.id)
        accepted = payment.accept(by=actor, now=self._clock.now())
        rail = self._acceptable_rail(invoice, payment)
        same = next(o for o in invoice.options if o.rail.asset == rail.asset)
        now = self.chain_now(payment.network)
        store_address(uow.deposit_addresses, payment, now=self._clock.now())
        flows.open_platform_accounts(
            self._ledger, invoice.merchant_id, rail.network.name, rail.asset, session=uow.ledger
        )
        invoice.offer(rail, same.address)
        events = invoice.record_transfer(payment.transfer, now=now)
        uow.wrong_network_payments.update(accepted)
        audit(
            uow,
            actor,
            "invoice.wrong_network_accepted",
            f"invoice:{invoice.id}",
            now,
            payment=payment.id,
            rail=rail.key,
            tx=_tx(payment.transfer),
            amount=payment.transfer.amount,
        )
        return self._save(uow, invoice, events, now)

    def _acceptable_rail(self, invoice: Invoice, payment: WrongNetworkPayment) -> Rail:
        asset = payment.transfer.amount.asset
        if not any(o.rail.asset == asset for o in invoice.options):
            raise WrongNetworkNotAcceptable(
                f"invoice {invoice.id} asks for no {asset.code}: refund payment {payment.id} instead"
            )
        rail = self._rails.get(payment.rail_key)
        if rail is None:
            raise WrongNetworkNotAcceptable(f"this deployment offers no {payment.rail_key} rail")
        if payment.network not in self._sweepable:
            raise WrongNetworkNotAcceptable(
                f"no hot wallet sweeps deposit addresses on {payment.network} (CRYPTOPAY_"
                f"{payment.network.upper()}_HOT_WALLET)"
            )
        return rail

    def expire_invoices(self, now_by_network: Mapping[str, datetime]) -> DetectionReport:
        """Let time act on open invoices by each network's scanned time; an invoice waits for all its networks."""
        if not now_by_network:
            return DetectionReport()
        latest = max(now_by_network.values())
        invoices = transaction(self._uow, lambda uow: uow.invoices.expiring(latest))
        changed: list[str] = []
        events: list[InvoiceEvent] = []
        for invoice in invoices:
            networks = {o.rail.network.name for o in invoice.options}
            if not networks <= set(now_by_network):
                continue  # a network nobody has scanned: its chain time is unknown, so nothing expires
            at = min([self._clock.now(), *(now_by_network[n] for n in networks)])
            found = self._step(partial(self._refresh, invoice_id=invoice.id, at=at))
            changed += [invoice.id] if found else []
            events += found
        return DetectionReport(tuple(changed), tuple(events))

    # --- transactions -------------------------------------------------------------------------------------------

    def _step(self, work: Callable[[PaymentsUnitOfWork], _Saved]) -> list[InvoiceEvent]:
        """One invoice's transaction; once it committed, the payments it credited are journaled for monitoring."""
        saved = transaction(self._uow, work)
        if saved.credited and saved.invoice.merchant_id != flows.REMITTANCE_DESK:  # the order journals the desk's
            invoice, credited = saved.invoice, saved.credited
            self._monitor.after_valued(f"invoice {invoice.id}", lambda: _payments_in(invoice, credited, self._quoter))
        return saved.events

    def _record(
        self, uow: PaymentsUnitOfWork, invoice_id: str, transfers: Sequence[ObservedTransfer], network: str
    ) -> _Saved:
        invoice = _load(uow, invoice_id)
        now, events = self.chain_now(network), list[InvoiceEvent]()
        if not any(o.rail.network.name == network for o in invoice.options):
            # Its address was stored on this network for a wrong-network payment refunded: still the wrong network.
            return self._record_stray(uow, invoice_id, transfers, network)
        sighted = list(invoice.payments)
        other_assets = [t for t in transfers if _another_asset(invoice, t)]
        strays = self._keep_strays(uow, invoice, other_assets, now) if other_assets else []
        for transfer in transfers:
            if transfer in other_assets:
                continue
            try:
                events += invoice.record_transfer(transfer, now=now)
            except (InvalidInput, Conflict) as refusal:
                # Money at our address that pays nothing (another asset) or contradicts a record: keep a trace.
                audit(
                    uow,
                    _ACTOR,
                    "invoice.transfer_unmatched",
                    f"invoice:{invoice.id}",
                    now,
                    tx=_tx(transfer),
                    amount=transfer.amount,
                    reason=refusal.message,
                )
        if not events and invoice.payments != sighted:
            # A mempool payment now mined changes no state (no event), but its block must be kept: the
            # confirmations are counted from it.
            uow.invoices.update(invoice)
        saved = self._save(uow, invoice, events, now)
        return attrs.evolve(saved, events=[*strays, *saved.events]) if strays else saved

    def _listed_payers(self, invoice: Invoice, depths: Sequence[_Depth]) -> dict[TransferKey, ListedPayer]:
        """The payments of a merchant's invoice this step confirms whose payer a sanctions list names (a blocking
        alert raised on each, rule ``sanctioned-address``, product ``merchant_payer``). None for the remittance
        desk's invoices (the order screens its payers) or without screening."""
        screening = self._screening() if self._screening is not None else None
        if screening is None or invoice.merchant_id == flows.REMITTANCE_DESK:
            return {}
        current = {p.key: p for p in invoice.payments}
        found: dict[TransferKey, ListedPayer] = {}
        for seen in depths:
            payment = current.get(seen.key)
            if payment is None or seen.gone or not payment.transfer.from_address:
                continue
            option = invoice.option(payment.rail_key)
            deeper = attrs.evolve(payment, confirmations=seen.depth, finality=seen.finality or payment.finality)
            if is_confirmed(payment, option) or not is_confirmed(deeper, option):
                continue  # confirmed (and screened) before, or not confirmed by this step
            if not screening.screen_address(seen.key[0], payment.transfer.from_address):
                continue  # not listed: no movement to value (a price is asked only for the alert's evidence)
            planned = _payer_movement(invoice, payment, self._quoter)
            if (payer := listed_payer(screening, self._monitor, planned)) is not None:
                found[payment.key] = payer
        return found

    def _confirm(
        self,
        uow: PaymentsUnitOfWork,
        invoice_id: str,
        depths: Sequence[_Depth],
        network: str,
        listed: Mapping[TransferKey, ListedPayer] | None = None,
    ) -> _Saved:
        invoice = _load(uow, invoice_id)
        now, events = self.chain_now(network), list[InvoiceEvent]()
        for key in listed or {}:  # a listed payer's payment: held, it settles nothing (booked by ``_save``)
            events += invoice.hold_transfer(key, now=now)
        current = {p.key: p for p in invoice.payments}
        for seen in depths:
            payment = current.get(seen.key)
            if payment is None or payment.withdrawn or payment.transfer.block_hash != seen.block_hash:
                continue  # changed since it was read: the next step looks again
            try:
                if seen.gone:
                    events += invoice.withdraw_transfer(seen.key, now=now, reason=seen.why)
                else:
                    events += invoice.confirm_transfer(seen.key, seen.depth, now=now, finality=seen.finality)
            except InvalidState:
                continue
        return self._save(uow, invoice, events, now, listed)

    def _refresh(self, uow: PaymentsUnitOfWork, invoice_id: str, at: datetime) -> _Saved:
        invoice = _load(uow, invoice_id)
        return self._save(uow, invoice, invoice.refresh(now=at), at)

    def _save(
        self,
        uow: PaymentsUnitOfWork,
        invoice: Invoice,
        events: list[InvoiceEvent],
        now: datetime,
        listed: Mapping[TransferKey, ListedPayer] | None = None,
    ) -> _Saved:
        if not events and not listed:
            return _Saved(invoice)
        credited = sync_credits(uow, self._ledger, self._ids, invoice, now=now, listed=listed)
        uow.invoices.update(invoice)
        publish_invoice_events(uow, self._ids, invoice, events)
        for event in events:
            if event.name.startswith("invoice.payment_"):
                audit(
                    uow,
                    _ACTOR,
                    event.name,
                    f"invoice:{invoice.id}",
                    now,
                    tx=event.data.get("tx_hash", ""),
                    amount=event.data.get("amount", ""),
                    block=event.data.get("block_hash", ""),
                )
        return _Saved(invoice, events, credited)


@attrs.frozen
class _Saved:
    """What one invoice's transaction did: its events, and the payments it credited (journaled once committed)."""

    invoice: Invoice
    events: list[InvoiceEvent] = attrs.Factory(list)
    credited: list[InvoicePayment] = attrs.Factory(list)


def payment_movement_id(key: TransferKey) -> str:
    """The monitoring journal's id of an invoice payment: one per transfer (a digest: ids are at most 64 long).

    >>> payment_movement_id(("tron", "0x" + "ab" * 32, 0))
    'pay:9dcb748419f9318cab32450fba4e1b564aa82742b165af14'
    """
    network, tx_hash, index = key
    return "pay:" + hashlib.sha256(f"{network}:{tx_hash}:{index}".encode()).hexdigest()[:48]


def _payments_in(invoice: Invoice, credited: Sequence[InvoicePayment], quoter: Quoter | None) -> list[Movement]:
    """The merchant's side of each credited payment: in, valued in KES (at the invoice's own rate when it is priced
    in KES, else at a fresh quote), the payer's address as counterparty. One movement per transfer, whatever its
    re-minings."""
    return [
        _incoming(invoice, p, MERCHANT_PAYMENT, payment_movement_id(p.key), _value(invoice, p, quoter))
        for p in credited
    ]


def _payer_movement(invoice: Invoice, payment: InvoicePayment, quoter: Quoter | None) -> Movement:
    """A payment's payer as the movement screened before it is credited (product ``merchant_payer``, its own id:
    never the journaled ``merchant_payment``'s); valued as that one is, or at zero when no price can be had now (the
    screening needs none)."""
    try:
        value = _value(invoice, payment, quoter)
    except CryptopayError:
        value = Money.zero(KES)
    return _incoming(invoice, payment, MERCHANT_PAYER, "payer:" + payment_movement_id(payment.key)[4:], value)


def _value(invoice: Invoice, payment: InvoicePayment, quoter: Quoter | None) -> Money:
    """A payment's KES value: at the invoice's own rate when it is priced in KES, else at a fresh quote."""
    received, due = payment.amount, invoice.option(payment.rail_key).due
    if invoice.price.asset == KES:
        return Money.rounded(received.amount * invoice.price.amount / due.amount, KES, Rounding.HALF_EVEN)
    return kes_value(received, quoter)


def _incoming(invoice: Invoice, payment: InvoicePayment, product: str, movement_id: str, value: Money) -> Movement:
    """The merchant's side of a payment: in, from the payer's address on its network."""
    return movement(
        movement_id,
        invoice.merchant_id,
        product,
        Direction.IN,
        value,
        payment.paid_at,
        counterparty=payment.transfer.from_address,
        asset=payment.amount.asset.code,
        network=payment.key[0],
    )


_Batches = dict[str, list[ObservedTransfer]]


def _group(
    uow: PaymentsUnitOfWork, network: str, transfers: Sequence[ObservedTransfer]
) -> tuple[_Batches, _Batches, list[ObservedTransfer]]:
    """The transfers by the invoice owning their address on ``network``; those to an invoice's address on another
    EVM network (mined ones: the wrong network); the rest (not ours, or a wallet's: ``wallets.deposits``)."""
    grouped: _Batches = {}
    strays: _Batches = {}
    ignored: list[ObservedTransfer] = []
    for transfer in transfers:
        owner = uow.deposit_addresses.by_address(network, transfer.to_address)
        if owner is not None and owner.invoice_id is not None:
            grouped.setdefault(owner.invoice_id, []).append(transfer)
            continue
        elsewhere = _owner_elsewhere(uow, network, transfer) if owner is None else None
        if elsewhere is not None:
            strays.setdefault(elsewhere, []).append(transfer)
        else:
            ignored.append(transfer)
    return grouped, strays, ignored


def _another_asset(invoice: Invoice, transfer: ObservedTransfer) -> bool:
    """Whether a mined ``transfer`` to the invoice's address on its network is a token the invoice does not ask for
    there (USDC sent to an invoice asking for USDT on Ethereum): recorded as a wrong-asset payment, never credited.
    Mempool sightings wait until they are mined, as wrong-network ones do."""
    if transfer.block_number is None or any(o.accepts(transfer) for o in invoice.options):
        return False
    asked = {o.rail.asset for o in invoice.options if o.rail.network.name == transfer.network}
    return bool(asked) and transfer.amount.asset not in asked


def _owner_elsewhere(uow: PaymentsUnitOfWork, network: str, transfer: ObservedTransfer) -> str | None:
    """The invoice owning ``transfer``'s address on another EVM network, if any (the EVM index is shared)."""
    if transfer.block_number is None:
        return None
    for other in evm_neighbours(network):
        owner = uow.deposit_addresses.by_address(other, transfer.to_address)
        if owner is not None:
            return owner.invoice_id  # None for a wallet's address: one owner per EVM address, never an invoice
    return None


def _on_chain(invoice: Invoice, network: str) -> list[InvoicePayment]:
    return [
        p for p in invoice.payments if p.key[0] == network and not p.withdrawn and p.transfer.block_number is not None
    ]


class _Finals:
    """The network's final blocks per signal, asked at most once per confirmation step and only when needed."""

    def __init__(self, source: FinalitySource | None) -> None:
        self._source, self._blocks = source, dict[Finality, int | None]()

    def reached(self, block: int, wanted: Finality | None) -> Finality | None:
        """The strongest signal at or above ``wanted`` that ``block`` carries (None when it carries none)."""
        if wanted is None or self._source is None:
            return None
        for finality in sorted(Finality, key=lambda f: -f.rank):
            if finality.rank < wanted.rank:
                break
            if finality not in self._blocks:
                self._blocks[finality] = self._source.final_block(finality)
            final = self._blocks[finality]
            if final is not None and block <= final:
                return finality
        return None


def _in_mempool(invoice: Invoice, network: str) -> list[InvoicePayment]:
    return [p for p in invoice.payments if p.key[0] == network and not p.withdrawn and p.transfer.block_number is None]


def _is_dropped(mempool: MempoolWatcher, payment: InvoicePayment) -> bool:
    return mempool.transfer_state(payment.transfer) is TxState.DROPPED


def _dropped(payment: InvoicePayment) -> _Depth:
    return _Depth(payment.key, None, 0, True, why="dropped from the mempool (replaced, double-spent or evicted)")


def _gone(watcher: ChainWatcher, transfer: ObservedTransfer) -> bool:
    """Whether ``transfer``'s block left the chain (its height holds another block, or none)."""
    assert transfer.block_number is not None  # only mined transfers are followed
    canonical = watcher.block_hash(transfer.block_number)
    return canonical is None or transfer.block_hash is None or canonical.lower() != transfer.block_hash.lower()


def _depth(watcher: ChainWatcher, payment: InvoicePayment, finals: _Finals, rail: Rail) -> _Depth:
    transfer = payment.transfer
    assert transfer.block_number is not None  # _on_chain keeps mined payments only
    gone = _gone(watcher, transfer)
    depth = 0 if gone else watcher.confirmations(transfer)
    final = None if gone else finals.reached(transfer.block_number, rail.finality)
    return _Depth(payment.key, transfer.block_hash, depth, gone, final)


def _load(uow: PaymentsUnitOfWork, invoice_id: str) -> Invoice:
    invoice = uow.invoices.get(invoice_id)
    if invoice is None:
        raise InvalidState(f"invoice {invoice_id} vanished while it was being updated")
    return invoice


def _tx(transfer: ObservedTransfer) -> str:
    return f"{transfer.network}:{transfer.tx_hash}#{transfer.index}"
