"""The rules that turn an invoice's recorded payments and the time into its state and exception.

Only payments made by the expiry count towards the state, each as its amount over its rail's due, summed
exactly (three payments of a third pay in full). A withdrawn payment does not count at all. One compliance holds (a
listed payer) counts as paid but never as confirmed while an officer decides, and keeps the invoice ``processing`` past
its monitoring window (never ``invalid``): the payer and the merchant read an ordinary payment confirming (review8
R5); an officer's release counts it as any payment, a return or keep stops counting it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

import attrs
from cryptopay.core.invoices.values import InvoiceException, InvoicePayment, InvoiceState, PaymentOption

__all__ = ["Tally", "derive_status", "is_confirmed", "tally"]


def is_confirmed(payment: InvoicePayment, option: PaymentOption) -> bool:
    """A counted payment at or beyond its rail's confirmation depth, or whose block carries the rail's finality
    signal when the rail asks for one (a store's speed policy: ``safe``/``finalized``)."""
    if payment.withdrawn:
        return False
    if option.rail.finality is not None:
        return payment.reached(option.rail.finality)
    return payment.confirmations >= option.rail.confirmations


@attrs.frozen
class Tally:
    """What the payments amount to, as exact shares of the invoice."""

    seen: Fraction  # paid on time, confirmed or not
    confirmed: Fraction  # paid on time and confirmed
    late: bool  # some counted payment was made after the expiry
    held: bool = False  # some on-time payment awaits a compliance officer's decision (read as confirming)


def tally(payments: Sequence[InvoicePayment], options: Mapping[str, PaymentOption], expires_at: datetime) -> Tally:
    """Add up the counted payments as shares of what each rail asks."""
    counted = [p for p in payments if p.counted]
    on_time = [p for p in counted if not p.is_late(expires_at)]

    def share(chosen: Sequence[InvoicePayment]) -> Fraction:
        return sum((Fraction(p.amount.amount) / Fraction(options[p.rail_key].due.amount) for p in chosen), Fraction(0))

    confirmed = [p for p in on_time if is_confirmed(p, options[p.rail_key]) and not p.awaiting_officer]
    held = any(p.awaiting_officer for p in on_time)
    return Tally(share(on_time), share(confirmed), len(on_time) < len(counted), held)


def derive_status(
    paid: Tally,
    *,
    tolerance_percent: Decimal,
    now: datetime,
    expires_at: datetime,
    monitoring_until: datetime,
    marked: InvoiceState | None = None,
    cancelled: bool = False,
) -> tuple[InvoiceState, InvoiceException]:
    """State from how much is paid and confirmed and the time; exception from late, over or short payment.

    A cancelled invoice expired at its cancellation, so it reads ``cancelled`` where it would read new or expired.
    """
    if marked is not None:
        return marked, InvoiceException.MARKED
    enough = 1 - Fraction(tolerance_percent) / 100
    if paid.confirmed >= enough:
        state = InvoiceState.SETTLED
    elif paid.seen >= enough:
        late_to_confirm = now >= monitoring_until and not paid.held  # a hold never reads as a failed payment
        state = InvoiceState.INVALID if late_to_confirm else InvoiceState.PROCESSING
    else:
        state = InvoiceState.EXPIRED if now >= expires_at else InvoiceState.NEW
        if cancelled:  # even at an earlier ``now`` (a chain scanned behind the wall clock): it never reopens
            state = InvoiceState.CANCELLED
    if paid.late:
        return state, InvoiceException.PAID_LATE
    if paid.seen > 1:
        return state, InvoiceException.PAID_OVER
    if 0 < paid.seen < enough:
        return state, InvoiceException.PAID_PARTIAL
    return state, InvoiceException.PAID_UNDER_TOLERATED if enough <= paid.seen < 1 else InvoiceException.NONE
