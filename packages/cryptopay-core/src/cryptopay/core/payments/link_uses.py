"""A payment link's uses follow its invoices: a use is held while its invoice is open or paid, given back when it
ends unpaid.

Decision (review H4): a capped link (``max_uses``) caps paid invoices plus open reservations, not invoices made.
Each invoice a link makes claims a use as it is stored (``PaymentLinkRepository.claim_use``: one conditional
``UPDATE``, so two customers pressing for the last use never both win). From then on the use follows the invoice, in
the transaction that changes it (``follow_link_use``, run wherever an invoice's change is published:
``_support.publish_invoice_events``, so expiry, cancellation, payments, confirmations and reorgs all pass here):

- the invoice holds its use while it is new, processing or settled, or has any payment recorded (a partial one, a
  late one, one still unconfirmed when it went invalid): money the customer sent is a sale the link made;
- it gives the use back when it ends with nothing paid: expired, cancelled, or marked invalid
  (``payment_link.use_released``, audited), so a link for 50 tickets sells 50 tickets however many checkouts were
  abandoned, and a stranger opening invoices only holds uses for their window (15 minutes by default);
- money that arrives after all (a late payment to an expired or cancelled invoice, a payment mined in time but
  seen late, a withdrawn payment that reappears) takes the use again (``payment_link.use_retaken``, audited),
  *even past the cap* when other customers filled the link meanwhile: money is never refused, and the merchant sees
  ``uses`` above ``max_uses`` and an audit record saying ``over_cap`` for the one sale too many;
- a payment withdrawn by a reorg that leaves an expired invoice with nothing counted gives it back again.

Each move is one conditional ``UPDATE`` on the invoice's use (``release_use`` / ``retake_use``), so two transactions
never both move it. Invoices of no link (and those made before 0058, whose uses were all counted) move nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from cryptopay.core.audit import AuditEvent
from cryptopay.core.invoices import Invoice, InvoiceState

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork

__all__ = ["LINK_METADATA_KEY", "follow_link_use", "holds_link_use"]

LINK_METADATA_KEY = "payment_link"  # an invoice a link made names it in its metadata
_ACTOR = "system:payment_links"
_OPEN_OR_PAID = (InvoiceState.NEW, InvoiceState.PROCESSING, InvoiceState.SETTLED)


def holds_link_use(invoice: Invoice) -> bool:
    """Whether ``invoice`` keeps its link's use: while open or paid, or once any payment is recorded against it.

    >>> from datetime import datetime, timedelta, timezone
    >>> from cryptopay.core.money import Money
    >>> from cryptopay.core.rails import rail_for
    >>> now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    >>> invoice, _ = Invoice.create(invoice_id="inv_1", merchant_id="m_1", price=Money.of("25", "USDT"),
    ...                             addresses={rail_for("tron", "USDT"): "TXYZ"}, now=now)
    >>> holds_link_use(invoice), holds_link_use((invoice.refresh(now=now + timedelta(hours=1)), invoice)[1])
    (True, False)
    """
    return invoice.state in _OPEN_OR_PAID or any(not payment.withdrawn for payment in invoice.payments)


def follow_link_use(uow: PaymentsUnitOfWork, invoice: Invoice, now: datetime) -> None:
    """Give back or take again the use ``invoice`` holds of its link, as its state now says; audited when it moves.

    Only an invoice a link made is looked up (its metadata names the link; the use itself is keyed by invoice id,
    so a merchant's own metadata naming a link moves nothing)."""
    if LINK_METADATA_KEY not in invoice.metadata:
        return
    holds = holds_link_use(invoice)
    links = uow.payment_links
    link = links.retake_use(invoice.id, now) if holds else links.release_use(invoice.id, now)
    if link is None:
        return
    over_cap = link.max_uses is not None and link.uses > link.max_uses
    details = {
        "invoice": invoice.id,
        "invoice_state": invoice.state.value,
        "uses": str(link.uses),
        "max_uses": "" if link.max_uses is None else str(link.max_uses),
        "over_cap": str(over_cap).lower(),
    }
    action = "payment_link.use_retaken" if holds else "payment_link.use_released"
    uow.audit.append(AuditEvent(_ACTOR, action, f"payment_link:{link.id}", now, details))
