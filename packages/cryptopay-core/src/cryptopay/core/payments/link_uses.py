"""A payment link's uses follow its invoices: a use is held while its invoice is open or paid, given back when it
ends unpaid.

Decision (review H4): a capped link (``max_uses``) caps paid invoices plus open reservations, not invoices made.
Each invoice a link makes claims a use as it is stored (``PaymentLinkRepository.claim_use``: one conditional
``UPDATE``, so two customers pressing for the last use never both win). From then on the use follows the invoice, in
the transaction that changes it (``follow_link_use``, run wherever an invoice's change is published:
``_support.publish_invoice_events``, so expiry, cancellation, payments, confirmations and reorgs all pass here):

- the invoice holds its use while it is new, processing or settled, or has any payment recorded (a partial one, a
  late one, one still unconfirmed when it went invalid): money the customer sent is a sale the link made;
- on a capped link, a new invoice with nothing paid holds its use only as a short *reservation* (review5 S7:
  anonymous unpaid checkouts held a link "sold out"): ``RESERVATION`` (5 minutes, at most a third of the invoice's
  window), after which the next customer's claim (or a look at a sold-out link) frees it
  (``release_lapsed``; audited ``payment_link.use_released``, ``reason=reservation_lapsed``). A payment recorded
  before it is freed keeps the use for good (``retake_use`` clears the reservation); one recorded after takes it
  again as any late payment does (past the cap if need be). Open reservations are capped per link (its cap, at
  most ``RESERVATIONS_PER_LINK``) and per client address (``RESERVATIONS_PER_CLIENT``), counted and taken under
  the link's row lock, so one visitor cannot hold every use: ``PaymentLinkBusy`` (429, ``Retry-After``). Many
  addresses together still can, for a reservation's length at a time: the cap binds them, it cannot tell them;
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

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cryptopay.core.audit import AuditEvent
from cryptopay.core.invoices import Invoice, InvoiceState
from cryptopay.core.payments.model import LinkReservation, PaymentLink

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork

__all__ = [
    "LINK_METADATA_KEY",
    "RESERVATION",
    "RESERVATIONS_PER_CLIENT",
    "RESERVATIONS_PER_LINK",
    "follow_link_use",
    "free_lapsed_reservations",
    "holds_link_use",
    "reservation_for",
]

LINK_METADATA_KEY = "payment_link"  # an invoice a link made names it in its metadata
_ACTOR = "system:payment_links"
_OPEN_OR_PAID = (InvoiceState.NEW, InvoiceState.PROCESSING, InvoiceState.SETTLED)
RESERVATION = timedelta(minutes=5)  # how long an unpaid invoice of a capped link holds its use
RESERVATIONS_PER_LINK = 50  # open reservations of one link at most (a link of 1,000 tickets: 50 checkouts at once)
RESERVATIONS_PER_CLIENT = 2  # open reservations of one link from one client address at most (a retry, a back button)


def reservation_for(link: PaymentLink, invoice: Invoice, client: str, now: datetime) -> LinkReservation | None:
    """The reservation ``invoice`` takes of ``link`` (None for an uncapped link: its uses block nobody).

    >>> from datetime import timezone
    >>> from cryptopay.core.money import Money
    >>> from cryptopay.core.rails import rail_for
    >>> now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    >>> invoice, _ = Invoice.create(invoice_id="inv_1", merchant_id="m_1", price=Money.of("25", "USDT"),
    ...                             addresses={rail_for("tron", "USDT"): "TXYZ"}, now=now)
    >>> link = PaymentLink(id="lnk_1", public_id="pl_x", merchant_id="m_1", currency=invoice.price.asset,
    ...                    description="Tickets", created_at=now, created_by="user:u1", max_uses=9)
    >>> held = reservation_for(link, invoice, "203.0.113.9", now)
    >>> held.until - now, held.per_link, held.per_client
    (datetime.timedelta(seconds=300), 9, 2)
    """
    if link.max_uses is None:
        return None
    until = now + min(RESERVATION, (invoice.expires_at - now) / 3)
    per_link = min(RESERVATIONS_PER_LINK, link.max_uses)
    return LinkReservation(until=until, client=client, per_link=per_link, per_client=RESERVATIONS_PER_CLIENT)


def paid_for(invoice: Invoice) -> bool:
    """Whether ``invoice`` is a sale its link made: processing or settled, or any payment recorded against it."""
    return invoice.state in _OPEN_OR_PAID[1:] or any(not payment.withdrawn for payment in invoice.payments)


def free_lapsed_reservations(uow: PaymentsUnitOfWork, link_id: str, now: datetime) -> int:
    """Give back the uses of ``link_id``'s unpaid invoices whose reservation lapsed by ``now`` (under the link's row
    lock, which the caller's claim then keeps); each audited. How many were freed."""
    freed = uow.payment_links.release_lapsed(link_id, now)
    for invoice_id in freed:
        details = {"invoice": invoice_id, "reason": "reservation_lapsed"}
        uow.audit.append(AuditEvent(_ACTOR, "payment_link.use_released", f"payment_link:{link_id}", now, details))
    return len(freed)


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
    return invoice.state is InvoiceState.NEW or paid_for(invoice)


def follow_link_use(uow: PaymentsUnitOfWork, invoice: Invoice, now: datetime) -> None:
    """Give back or take again the use ``invoice`` holds of its link, as its state now says; audited when it moves.

    Only an invoice a link made is looked up (its metadata names the link; the use itself is keyed by invoice id,
    so a merchant's own metadata naming a link moves nothing). A new invoice with nothing paid moves nothing: its
    use, or its reservation, stands or lapses as claimed (``free_lapsed_reservations``)."""
    if LINK_METADATA_KEY not in invoice.metadata:
        return
    holds = paid_for(invoice)
    if not holds and invoice.state is InvoiceState.NEW:
        return
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
