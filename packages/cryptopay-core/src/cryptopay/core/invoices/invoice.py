"""The invoice entity: a merchant's request to be paid, and what its recorded payments make of it.

The state and the exception are derived from the recorded payments and the time on every change, so
recording a transfer twice, or in any order, gives the same invoice, and a withdrawn payment moves it back.
Only payments made by the expiry (by block time) count towards the state; later ones are recorded and
flagged ``paid_late``, never lost. Each method returns the events to write to the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_UP, Decimal
from fractions import Fraction

import attrs
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound
from cryptopay.core.fx import Quote
from cryptopay.core.invoices.status import Tally, derive_status, is_confirmed, tally
from cryptopay.core.invoices.values import (
    DEFAULT_INVOICE_WINDOW,
    DEFAULT_MONITORING_WINDOW,
    InvoiceEvent,
    InvoiceException,
    InvoicePayment,
    InvoiceState,
    PaymentOption,
    amount_due,
)
from cryptopay.core.money import Asset, Money, Rounding, to_decimal
from cryptopay.core.ports.chains import ObservedTransfer
from cryptopay.core.rails import Finality, Rail

__all__ = ["Invoice", "InvoiceReceivedPayment", "TransferKey"]

TransferKey = tuple[str, str, int]  # (network, tx_hash lower-cased, log or output index)
_Snapshot = tuple[InvoiceState, InvoiceException, frozenset[TransferKey]]


class InvoiceReceivedPayment(InvalidState):
    """An invoice that has received a payment (seen or confirmed) cannot be cancelled: refund it instead."""

    code = "invoice_received_payment"


def _tolerance(value: object) -> Decimal:
    result = to_decimal(value)
    if not Decimal(0) <= result < Decimal(100):
        raise InvalidInput(f"underpayment tolerance is a percent in [0, 100), got {result}")
    return result


_MAX_METADATA_KEYS, _MAX_KEY, _MAX_VALUE = 20, 40, 500


def _metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """The shop's own key/value notes: at most 20 string pairs (keys up to 40 characters, values up to 500)."""
    items = dict(metadata or {})
    if len(items) > _MAX_METADATA_KEYS:
        raise InvalidInput(f"metadata holds at most {_MAX_METADATA_KEYS} keys, got {len(items)}")
    for key, value in items.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInput("metadata keys and values are strings")
        if not 0 < len(key) <= _MAX_KEY or len(value) > _MAX_VALUE:
            raise InvalidInput(
                f"metadata key {key[:_MAX_KEY]!r}: keys are 1-{_MAX_KEY} characters, values up to {_MAX_VALUE}"
            )
    return items


@attrs.define(kw_only=True)
class Invoice:
    """A request to pay ``price``, payable on each option's rail before ``expires_at``.

    >>> from datetime import datetime, timezone
    >>> from cryptopay.core.rails import rail_for
    >>> from cryptopay.core.ports.chains import ObservedTransfer
    >>> now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    >>> tron = rail_for("tron", "USDT", confirmations=2)
    >>> invoice, events = Invoice.create(invoice_id="inv_1", merchant_id="m_1", price=Money.of("25", "USDT"),
    ...                                  addresses={tron: "TXYZ"}, now=now)
    >>> [e.name for e in events], invoice.expires_at.isoformat()
    (['invoice.created'], '2026-01-05T09:15:00+00:00')
    >>> paid = ObservedTransfer("tron", "0xabc", 0, "TXYZ", Money.of("25", "USDT"), 100, "0xb1", now)
    >>> [e.name for e in invoice.record_transfer(paid, now=now)], invoice.state.value
    (['invoice.payment_received', 'invoice.processing'], 'processing')
    >>> invoice.record_transfer(paid, now=now)
    []
    >>> [e.name for e in invoice.confirm_transfer(paid.key, 2, now=now)], invoice.state.value
    (['invoice.payment_confirmed', 'invoice.settled'], 'settled')
    """

    id: str
    merchant_id: str
    price: Money
    options: tuple[PaymentOption, ...]
    created_at: datetime
    expires_at: datetime
    monitoring_until: datetime
    tolerance_percent: Decimal = attrs.field(default=Decimal(0), converter=_tolerance)
    quote_ids: tuple[str, ...] = ()
    order_id: str | None = None
    metadata: dict[str, str] = attrs.field(factory=dict)
    # The unguessable id of the hosted checkout page (``/pay/<public_id>``); None only on invoices made before it.
    public_id: str | None = None
    return_url: str | None = None  # where the checkout page sends the customer back to the shop
    state: InvoiceState = InvoiceState.NEW
    exception: InvoiceException = InvoiceException.NONE
    payments: list[InvoicePayment] = attrs.field(factory=list)
    marked_state: InvoiceState | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None

    @classmethod
    def create(
        cls,
        *,
        invoice_id: str,
        merchant_id: str,
        price: Money,
        addresses: Mapping[Rail, str],
        now: datetime,
        quotes: Sequence[Quote] = (),
        tolerance_percent: Decimal | int | str = 0,
        window: timedelta = DEFAULT_INVOICE_WINDOW,
        monitoring: timedelta = DEFAULT_MONITORING_WINDOW,
        order_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        public_id: str | None = None,
        return_url: str | None = None,
    ) -> tuple[Invoice, list[InvoiceEvent]]:
        """A new invoice with the amount due on each rail; it never outlives the quotes that priced it."""
        if not price.is_positive():
            raise InvalidInput(f"an invoice price must be positive, got {price}")
        if not addresses:
            raise InvalidInput("an invoice needs at least one rail with a deposit address")
        if window <= timedelta(0) or monitoring < timedelta(0):
            raise InvalidInput("the invoice window must be positive and the monitoring window not negative")
        options = tuple(
            PaymentOption(rail, address, amount_due(price, rail.asset, quotes, at=now))
            for rail, address in addresses.items()
        )
        used = [q for q in quotes if q.pair.quote == price.asset and q.pair.base in {o.rail.asset for o in options}]
        expires_at = min([now + window, *(q.expires_at for q in used)])
        invoice = cls(
            id=invoice_id,
            merchant_id=merchant_id,
            price=price,
            options=options,
            created_at=now,
            expires_at=expires_at,
            monitoring_until=expires_at + monitoring,
            tolerance_percent=tolerance_percent,
            quote_ids=tuple(q.id for q in used),
            order_id=order_id,
            metadata=_metadata(metadata),
            public_id=public_id,
            return_url=return_url,
        )
        due = {o.rail.key: str(o.due.amount) for o in options}
        data = {"merchant_id": merchant_id, "price": str(price.amount), "currency": price.asset.code}
        created = invoice._event("invoice.created", now, **data, expires_at=expires_at.isoformat())
        return invoice, [attrs.evolve(created, due=due)]

    # --- commands -------------------------------------------------------------------------------------------

    def record_transfer(self, transfer: ObservedTransfer, *, now: datetime) -> list[InvoiceEvent]:
        """Record a transfer to one of this invoice's addresses; recording the same transfer again changes nothing."""
        option = self._option_for(transfer)
        before = self._snapshot()
        mempool = now if transfer.block_number is None else None
        index, existing = self._find(transfer.key)
        if existing is None:
            payment = InvoicePayment(transfer, option.rail.key, now, mempool_seen_at=mempool)
            self.payments.append(payment)
            return [self._payment_event("invoice.payment_received", payment, now), *self._changes(before, now)]
        if existing.amount != transfer.amount:
            raise Conflict(f"transfer {transfer.tx_hash}#{transfer.index} was recorded with {existing.amount}")
        if existing.transfer == transfer and not existing.withdrawn:
            return []
        moved = existing.transfer.block_hash != transfer.block_hash
        events = []
        if moved and existing.transfer.block_hash is not None and not existing.withdrawn:
            # Seen in another block: the old sighting left the chain (and may have been credited), so withdraw it.
            events.append(self._withdrawal_event(existing, now, "moved to another block"))
        again = moved or existing.withdrawn  # back on the chain: a hold on it is decided afresh (crediting's)
        self.payments[index] = attrs.evolve(
            existing,
            transfer=transfer,
            withdrawn=False,
            confirmations=0 if moved else existing.confirmations,
            mempool_seen_at=existing.mempool_seen_at or mempool,
            released=existing.released and not again,
            kept_out=existing.kept_out and not again,
        )
        if events or existing.withdrawn:
            events.append(self._payment_event("invoice.payment_received", self.payments[index], now))
        return events + self._changes(before, now)

    def confirm_transfer(
        self, key: TransferKey, confirmations: int, *, now: datetime, finality: Finality | None = None
    ) -> list[InvoiceEvent]:
        """Record a transfer's depth (and the finality signal its block carries); at its rail's depth, or its rail's
        finality signal, it is confirmed (``invoice.payment_confirmed``, once).

        Depth only grows within a block: a transfer that leaves the chain is withdrawn (``withdraw_transfer``).
        """
        if confirmations < 0:
            raise InvalidInput("confirmations cannot be negative")
        index, payment = self._get(key)
        if payment.withdrawn:
            raise InvalidState(f"transfer {key[1]}#{key[2]} was withdrawn; record it again when it reappears")
        before = self._snapshot()
        strongest = max((f for f in (payment.finality, finality) if f is not None), key=_rank, default=None)
        depth = max(payment.confirmations, confirmations)
        self.payments[index] = attrs.evolve(payment, confirmations=depth, finality=strongest)
        return self._changes(before, now)

    def hold_transfer(self, key: TransferKey, *, now: datetime) -> list[InvoiceEvent]:
        """Compliance holds a transfer (its payer is on a sanctions list): kept on record and read as a payment
        still confirming until an officer decides, so the invoice is not settled by it, nor expires or turns invalid
        under it, and no event tells the payer or the merchant (review8 R5: it went back to ``new`` and expired)."""
        index, payment = self._get(key)
        if payment.held:
            return []
        before = self._snapshot()
        self.payments[index] = attrs.evolve(payment, held=True, released=False, kept_out=False)
        return self._changes(before, now)

    def release_transfer(self, key: TransferKey, *, now: datetime) -> list[InvoiceEvent]:
        """An officer released a held transfer to the merchant (``payments.held``): it counts as any payment, so
        the invoice reads it confirmed (``invoice.payment_confirmed``) and is settled by it as it would have been."""
        index, payment = self._get(key)
        if not payment.held or payment.released:
            return []
        before = self._snapshot()
        self.payments[index] = attrs.evolve(payment, released=True, kept_out=False)
        return self._changes(before, now)

    def keep_out_transfer(self, key: TransferKey, *, now: datetime) -> list[InvoiceEvent]:
        """An officer returned a held transfer to its payer or kept it for the authorities (``payments.held``): it
        no longer counts, so the invoice reads what the rest pays (new, or expired once past its expiry)."""
        index, payment = self._get(key)
        if not payment.held or payment.kept_out:
            return []
        before = self._snapshot()
        self.payments[index] = attrs.evolve(payment, released=False, kept_out=True)
        return self._changes(before, now)

    def withdraw_transfer(self, key: TransferKey, *, now: datetime, reason: str = "reorg") -> list[InvoiceEvent]:
        """A transfer left the chain (reorg, double spend): keep it on record, stop counting it, move the state back."""
        index, payment = self._get(key)
        if payment.withdrawn:
            return []
        before = self._snapshot()
        event = self._withdrawal_event(payment, now, reason)
        self.payments[index] = attrs.evolve(payment, withdrawn=True, confirmations=0)
        return [event, *self._changes(before, now)]

    def offer(self, rail: Rail, address: str) -> PaymentOption:
        """Offer one more rail, at the terms of the option in the same asset, to the invoice's own ``address``: a
        payment made on a network the invoice did not ask for, accepted (``payments.wrong_network``)."""
        if any(o.rail.key == rail.key for o in self.options):
            raise Conflict(f"invoice {self.id} already offers {rail.key}")
        same = next((o for o in self.options if o.rail.asset == rail.asset), None)
        if same is None:
            raise InvalidInput(f"invoice {self.id} asks for no {rail.asset.code}: it cannot be paid on {rail.key}")
        option = PaymentOption(rail, address, same.due)
        self.options = (*self.options, option)
        return option

    def refresh(self, *, now: datetime) -> list[InvoiceEvent]:
        """Let time act: expire an unpaid invoice, invalidate one still unconfirmed after the monitoring window.

        Pass the chain's scanned time (the watcher's cursor) as ``now`` so a stalled watcher never expires a paid
        invoice.
        """
        return self._changes(self._snapshot(), now)

    def mark(self, state: InvoiceState, *, by: str, now: datetime) -> list[InvoiceEvent]:
        """A person sets the state by hand (settled or invalid); the exception becomes ``marked``."""
        if state not in (InvoiceState.SETTLED, InvoiceState.INVALID):
            raise InvalidInput("an invoice can only be marked settled or invalid")
        before = self._snapshot()
        self.marked_state = state
        return [attrs.evolve(e, data={**e.data, "marked_by": by}) for e in self._changes(before, now)]

    def cancel(self, *, by: str, now: datetime) -> list[InvoiceEvent]:
        """The merchant withdraws an invoice that has received nothing: it expires now (``invoice.cancelled``).

        Its addresses stay watched for the monitoring window, so a payment made after the cancellation is
        recorded as late (``paid_late``), credited and refundable like any late payment: never lost. A payment the
        chain dates before the cancellation (mined then, seen after) was made in time and counts as such. Cancelling
        a cancelled invoice again changes nothing.

        >>> from datetime import datetime, timezone
        >>> from cryptopay.core.rails import rail_for
        >>> now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
        >>> tron = rail_for("tron", "USDT", confirmations=2)
        >>> invoice, _ = Invoice.create(invoice_id="inv_1", merchant_id="m_1", price=Money.of("25", "USDT"),
        ...                             addresses={tron: "TXYZ"}, now=now)
        >>> [e.name for e in invoice.cancel(by="user:u1", now=now)], invoice.state.value
        (['invoice.cancelled'], 'cancelled')
        """
        if self.cancelled_at is not None:
            return []
        if any(p.counted for p in self.payments):  # a held payment too: it reads as received
            raise InvoiceReceivedPayment(f"invoice {self.id} has received a payment: it cannot be cancelled")
        if self.state is not InvoiceState.NEW or self.marked_state is not None:
            raise InvalidState(f"invoice {self.id} is {self.state.value}: only a new invoice can be cancelled")
        before = self._snapshot()
        monitoring = self.monitoring_until - self.expires_at
        self.cancelled_at, self.cancelled_by = now, by
        self.expires_at = min(self.expires_at, now)
        self.monitoring_until = self.expires_at + monitoring
        return [attrs.evolve(e, data={**e.data, "cancelled_by": by}) for e in self._changes(before, now)]

    # --- queries --------------------------------------------------------------------------------------------

    def option(self, rail_key: str) -> PaymentOption:
        for option in self.options:
            if option.rail.key == rail_key:
                return option
        raise NotFound(f"invoice {self.id} cannot be paid on {rail_key}")

    def total_paid(self, asset: Asset, *, include_late: bool = True, confirmed_only: bool = False) -> Money:
        """The sum of counted (not withdrawn) payments in ``asset``."""
        chosen = [
            p.amount
            for p in self._counted()
            if p.amount.asset == asset
            and (include_late or not p.is_late(self.expires_at))
            and (not confirmed_only or self._is_confirmed(p))
        ]
        return sum(chosen, Money.zero(asset))

    def still_due(self, rail_key: str) -> Money:
        """What the customer still owes on ``rail_key`` for the payments made on time (zero once covered)."""
        return self._unpaid_share_of(self.option(rail_key).due)

    def shortfall(self) -> Money:
        """What the on-time payments left unpaid of the price (zero once covered): with ``paid_under_tolerated``,
        what the store's tolerance accepted not being paid."""
        return self._unpaid_share_of(self.price)

    def received_on(self, rail_key: str) -> Money:
        """What the payments on ``rail_key`` brought, confirmed or not, on time or late (a withdrawn one, or one
        returned to its payer or kept for the authorities, no longer counts; one held for an officer reads as any
        payment still confirming: review8 R5), in the rail's asset."""
        rail = self.option(rail_key).rail
        counted = [p.amount for p in self.payments if p.counted and p.rail_key == rail_key]
        return sum(counted, Money.zero(rail.asset))

    def overpaid(self) -> dict[str, Money]:
        """What the payments made on time brought beyond the price, by rail key (zero on a rail that brought none):
        they pay the price in the order they were made (a payment on another rail pays its share of that rail's
        amount due), and what comes after the price is covered is the excess, rounded down to the asset's quantum.
        A late payment is never in it (the invoice's ``paid_late`` says so, and it is the payer's in whole).

        >>> from datetime import datetime, timezone
        >>> from cryptopay.core.rails import rail_for
        >>> now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
        >>> tron = rail_for("tron", "USDT", confirmations=1)
        >>> invoice, _ = Invoice.create(invoice_id="inv_1", merchant_id="m_1", price=Money.of("20", "USDT"),
        ...                             addresses={tron: "TXYZ"}, now=now)
        >>> for n, amount in enumerate(("15", "8")):
        ...     _ = invoice.record_transfer(ObservedTransfer("tron", f"0x{n}", 0, "TXYZ", Money.of(amount, "USDT"),
        ...                                                  100 + n, "0xb", now), now=now)
        >>> invoice.received_on("usdt-tron"), invoice.overpaid()
        (Money('23.000000', 'USDT'), {'usdt-tron': Money('3.000000', 'USDT')})
        """
        excess = {o.rail.key: Money.zero(o.rail.asset) for o in self.options}
        unpaid = Fraction(1)  # the share of the price still to be paid
        on_time = [p for p in self.payments if p.counted and not p.is_late(self.expires_at)]
        for payment in sorted(on_time, key=lambda p: (p.paid_at, p.key)):
            due = self.option(payment.rail_key).due.amount
            share = Fraction(payment.amount.amount) / Fraction(due)
            used = min(share, unpaid)
            unpaid -= used
            if used < share:
                beyond = (share - used) * Fraction(due)
                amount = Money.rounded(
                    Decimal(beyond.numerator) / Decimal(beyond.denominator), payment.amount.asset, Rounding.DOWN
                )
                excess[payment.rail_key] += amount
        return excess

    def _unpaid_share_of(self, whole: Money) -> Money:
        left = max(Fraction(0), 1 - self._tally().seen)
        amount = (Decimal(left.numerator) * whole.amount / Decimal(left.denominator)).quantize(
            whole.asset.quantum, rounding=ROUND_UP
        )
        return Money(amount, whole.asset)

    def may_hold_coins(self, now: datetime) -> bool:
        """Whether its addresses can hold anything the books know of: not an invoice that expired (or was cancelled)
        with nothing ever seen paid and is no longer watched (custody on chain reads only those: review5 S10)."""
        idle = self.state in (InvoiceState.EXPIRED, InvoiceState.CANCELLED) and self.exception is InvoiceException.NONE
        return not idle or self.needs_watching(now)

    def needs_watching(self, now: datetime) -> bool:
        """Whether the watchers should still look at this invoice's addresses (monitoring window, unconfirmed)."""
        return now < self.monitoring_until or any(not self._is_confirmed(p) for p in self._counted())

    # --- derivation -----------------------------------------------------------------------------------------

    def _tally(self) -> Tally:
        return tally(self.payments, {o.rail.key: o for o in self.options}, self.expires_at)

    def _changes(self, before: _Snapshot, now: datetime) -> list[InvoiceEvent]:
        self.state, self.exception = derive_status(
            self._tally(),
            tolerance_percent=self.tolerance_percent,
            now=now,
            expires_at=self.expires_at,
            monitoring_until=self.monitoring_until,
            marked=self.marked_state,
            cancelled=self.cancelled_at is not None,
        )
        state, exception, confirmed = self._snapshot()
        events = [
            self._payment_event("invoice.payment_confirmed", p, now)
            for p in self.payments
            if p.key in confirmed - before[2]
        ]
        if state is InvoiceState.SETTLED and before[0] is not InvoiceState.SETTLED:
            events.append(self._settled_event(now))
        elif state is not before[0] and state is not InvoiceState.NEW:
            events.append(self._event(f"invoice.{state.value}", now))
        if exception is not before[1] and exception is not InvoiceException.NONE:
            events.append(self._event(f"invoice.{exception.value}", now))
        return events

    def _snapshot(self) -> _Snapshot:
        confirmed = frozenset(p.key for p in self._counted() if self._is_confirmed(p))
        return self.state, self.exception, confirmed

    def _counted(self) -> list[InvoicePayment]:
        """The payments that are the merchant's: counted, and not held awaiting an officer."""
        return [p for p in self.payments if p.counted and not p.awaiting_officer]

    def _is_confirmed(self, payment: InvoicePayment) -> bool:
        return is_confirmed(payment, self.option(payment.rail_key))

    def _option_for(self, transfer: ObservedTransfer) -> PaymentOption:
        for option in self.options:
            if option.accepts(transfer):
                return option
        raise InvalidInput(
            f"{transfer.amount.asset.code} to {transfer.to_address} on {transfer.network} "
            f"does not pay invoice {self.id}"
        )

    def _find(self, key: TransferKey) -> tuple[int, InvoicePayment | None]:
        for index, payment in enumerate(self.payments):
            if payment.key == key:
                return index, payment
        return -1, None

    def _get(self, key: TransferKey) -> tuple[int, InvoicePayment]:
        index, payment = self._find(key)
        if payment is None:
            raise NotFound(f"invoice {self.id} has no transfer {key[1]}#{key[2]} on {key[0]}")
        return index, payment

    def _event(self, name: str, at: datetime, **data: str) -> InvoiceEvent:
        status = {"state": self.state.value, "exception": self.exception.value}
        if self.exception is InvoiceException.PAID_UNDER_TOLERATED:  # the shop sees it ships on less than the price
            shortfall = self.shortfall()
            status |= {"shortfall": format(shortfall.amount, "f"), "shortfall_asset": shortfall.asset.code}
        return InvoiceEvent(name, self.id, at, {**status, **data}, order_id=self.order_id, metadata=self.metadata)

    def _settled_event(self, at: datetime) -> InvoiceEvent:
        """``invoice.settled`` with what it was paid (payload version 2 alone: ``webhooks.payloads``): ``paid``, what
        the on-time payments are worth in the price's currency at the invoice's terms (the price, more when paid
        over, less by the shortfall when a tolerated underpayment), and ``received``, each rail's own amount."""
        paid = self.worth_paid()
        event = self._event("invoice.settled", at, paid=format(paid.amount, "f"), paid_asset=paid.asset.code)
        received = {o.rail.key: format(self.received_on(o.rail.key).amount, "f") for o in self.options}
        return attrs.evolve(event, received=received)

    def worth_paid(self) -> Money:
        """What the payments made on time are worth in the price's currency, at the amounts each rail asks for the
        price (rounded down to the currency's quantum): the price when paid exactly.

        >>> from datetime import datetime, timezone
        >>> from cryptopay.core.rails import rail_for
        >>> now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
        >>> tron = rail_for("tron", "USDT", confirmations=1)
        >>> invoice, _ = Invoice.create(invoice_id="inv_1", merchant_id="m_1", price=Money.of("20", "USDT"),
        ...                             addresses={tron: "TXYZ"}, now=now)
        >>> _ = invoice.record_transfer(ObservedTransfer("tron", "0x1", 0, "TXYZ", Money.of("21", "USDT"), 100, "0xb",
        ...                                              now), now=now)
        >>> invoice.worth_paid()
        Money('21.000000', 'USDT')
        """
        seen = self._tally().seen
        worth = Decimal(seen.numerator) * self.price.amount / Decimal(seen.denominator)
        return Money.rounded(worth, self.price.asset, Rounding.DOWN)

    def _withdrawal_event(self, payment: InvoicePayment, at: datetime, reason: str) -> InvoiceEvent:
        confirmed = str(self._is_confirmed(payment)).lower()
        return self._payment_event("invoice.payment_withdrawn", payment, at, reason=reason, was_confirmed=confirmed)

    def _payment_event(self, name: str, payment: InvoicePayment, at: datetime, **extra: str) -> InvoiceEvent:
        network, tx_hash, index = payment.key
        return self._event(
            name,
            at,
            network=network,
            tx_hash=tx_hash,
            index=str(index),
            rail=payment.rail_key,
            amount=str(payment.amount.amount),
            asset=payment.amount.asset.code,
            block_hash=payment.transfer.block_hash or "",
            late=str(payment.is_late(self.expires_at)).lower(),
            **extra,
        )


def _rank(finality: Finality) -> int:
    return finality.rank
