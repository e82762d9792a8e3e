"""What the customer on the hosted checkout page is told: one phase derived from the invoice and the time.

A read model over ``Invoice`` (it decides nothing): every shell that shows a payer the status (the checkout page,
its live fragment) shows the same words for the same invoice.

- ``waiting``: nothing seen yet, before the expiry; ``expired``: nothing (or too little) paid by the expiry.
- ``seen``: enough was sent and is in the mempool or a block, not confirmed once yet; ``confirming``: on its way to
  the rail's depth (``confirmations`` of ``required``); ``paid``: confirmed; ``overpaid``: confirmed, and more
  than asked was sent.
- ``underpaid``: something arrived but less than due: ``remaining`` is what to send on the chosen rail.
- ``paid_late``: a payment arrived after the expiry: recorded and credited, the merchant settles it with the payer.
- ``invalid``: paid but not confirmed within the monitoring window, or marked invalid.
- ``cancelled``: the merchant withdrew the request before anything was paid (a payment that still comes is
  ``paid_late``).

>>> from datetime import datetime, timezone
>>> from cryptopay.core.money import Money
>>> from cryptopay.core.rails import rail_for
>>> from cryptopay.core.ports.chains import ObservedTransfer
>>> from cryptopay.core.invoices.invoice import Invoice
>>> now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> tron = rail_for("tron", "USDT", confirmations=2)
>>> invoice, _ = Invoice.create(invoice_id="inv_1", merchant_id="m_1", price=Money.of("25", "USDT"),
...                             addresses={tron: "TXYZ"}, now=now)
>>> checkout_status(invoice, "usdt-tron", now=now).phase
<Phase.WAITING: 'waiting'>
>>> part = ObservedTransfer("tron", "0xa", 0, "TXYZ", Money.of("10", "USDT"), 100, "0xb1", now)
>>> _ = invoice.record_transfer(part, now=now)
>>> status = checkout_status(invoice, "usdt-tron", now=now)
>>> status.phase.value, str(status.remaining)
('underpaid', '15.000000 USDT')
>>> rest = ObservedTransfer("tron", "0xb", 0, "TXYZ", Money.of("15", "USDT"), 101, "0xb2", now)
>>> _ = invoice.record_transfer(rest, now=now)
>>> _ = invoice.confirm_transfer(part.key, 2, now=now)
>>> _ = invoice.confirm_transfer(rest.key, 1, now=now)
>>> status = checkout_status(invoice, "usdt-tron", now=now)
>>> status.phase.value, status.confirmations, status.required
('confirming', 1, 2)
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs
from cryptopay.core.invoices.invoice import Invoice
from cryptopay.core.invoices.values import InvoiceException, InvoiceState
from cryptopay.core.money import Money

__all__ = ["CheckoutStatus", "Phase", "checkout_status"]


class Phase(enum.Enum):
    WAITING = "waiting"
    SEEN = "seen"
    CONFIRMING = "confirming"
    PAID = "paid"
    OVERPAID = "overpaid"
    UNDERPAID = "underpaid"
    EXPIRED = "expired"
    PAID_LATE = "paid_late"
    INVALID = "invalid"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        """Nothing the payer does changes it any more: the page stops polling."""
        return self in (Phase.PAID, Phase.OVERPAID, Phase.EXPIRED, Phase.PAID_LATE, Phase.INVALID, Phase.CANCELLED)


@attrs.frozen
class CheckoutStatus:
    """The phase, with what the page shows beside it."""

    phase: Phase
    remaining: Money | None = None  # underpaid: still to send on the chosen rail
    confirmations: int = 0  # seen/confirming: the least-confirmed payment's depth ...
    required: int = 0  # ... and the depth it needs
    seconds_left: int = 0  # until the expiry (0 once expired)


def checkout_status(invoice: Invoice, rail_key: str, *, now: datetime) -> CheckoutStatus:
    """The payer's view of ``invoice`` while paying on ``rail_key`` (one of its options) at ``now``."""
    left = max(0, int((invoice.expires_at - now).total_seconds()))
    phase = _phase(invoice, now)
    if phase is Phase.UNDERPAID:
        return CheckoutStatus(phase, remaining=invoice.still_due(rail_key), seconds_left=left)
    if phase in (Phase.SEEN, Phase.CONFIRMING):
        confirmations, required = _depth(invoice)
        return CheckoutStatus(phase, confirmations=confirmations, required=required, seconds_left=left)
    return CheckoutStatus(phase, seconds_left=left if phase is Phase.WAITING else 0)


def _phase(invoice: Invoice, now: datetime) -> Phase:
    state, exception = invoice.state, invoice.exception
    if exception is InvoiceException.PAID_LATE:
        return Phase.PAID_LATE
    if state is InvoiceState.SETTLED:
        return Phase.OVERPAID if exception is InvoiceException.PAID_OVER else Phase.PAID
    if state is InvoiceState.INVALID:
        return Phase.INVALID
    if state is InvoiceState.CANCELLED:
        return Phase.CANCELLED
    if state is InvoiceState.PROCESSING:
        return Phase.CONFIRMING if _depth(invoice)[0] > 0 else Phase.SEEN
    if state is InvoiceState.EXPIRED or now >= invoice.expires_at:
        return Phase.EXPIRED
    return Phase.UNDERPAID if exception is InvoiceException.PAID_PARTIAL else Phase.WAITING


def _depth(invoice: Invoice) -> tuple[int, int]:
    """(confirmations, required) of the counted payment furthest from its rail's depth (a payment held for a
    compliance officer shows the depth of any payment not confirmed yet: review8 R5)."""
    counted = [p for p in invoice.payments if p.counted]
    if not counted:
        return 0, 0
    gaps = [(p.shown_confirmations, invoice.option(p.rail_key).rail.confirmations) for p in counted]
    return min(gaps, key=lambda gap: gap[0] - gap[1])
