"""What the payment use cases share: the transaction runner, outbox and audit writes, balances read in a session."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import NotFound
from cryptopay.core.invoices import Invoice, InvoiceEvent
from cryptopay.core.ledger.model import AccountBalance
from cryptopay.core.money import Money
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.payments.link_uses import follow_link_use
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import IdGenerator

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory

T = TypeVar("T")


def transaction(factory: PaymentsUowFactory, work: Callable[[PaymentsUnitOfWork], T]) -> T:
    """Run ``work`` in one unit of work, retried when a concurrent writer won a race."""
    return in_transaction(factory, work)


def publish(
    uow: PaymentsUnitOfWork, ids: IdGenerator, topic: str, payload: Mapping[str, Any], *, at: datetime, key: str
) -> None:
    """Write one outbox message in the caller's transaction."""
    uow.outbox.add(OutboxMessage.new(ids.new_id("out"), topic, payload, at=at, key=key))


def publish_invoice_events(
    uow: PaymentsUnitOfWork, ids: IdGenerator, invoice: Invoice, events: Iterable[InvoiceEvent]
) -> None:
    """Every invoice event to the outbox, naming the merchant so webhooks can fan it out; and, as the invoice changed,
    the use it holds of its payment link follows it (given back when it ended unpaid, taken again when money came
    after all: ``link_uses.follow_link_use``). Every path that changes an invoice publishes its events here."""
    published = list(events)
    for event in published:
        payload = {**event.payload, "merchant_id": invoice.merchant_id}
        publish(uow, ids, event.name, payload, at=event.at, key=invoice.id)
    if published:
        follow_link_use(uow, invoice, max(event.at for event in published))


def audit(uow: PaymentsUnitOfWork, actor: str, action: str, subject: str, at: datetime, **details: object) -> None:
    """Append an audit record in the caller's transaction (details as short strings, never secrets)."""
    uow.audit.append(AuditEvent(actor, action, subject, at, {k: str(v) for k, v in details.items()}))


def balance(uow: PaymentsUnitOfWork, account: str) -> AccountBalance | None:
    """An account's balance as this transaction sees it (including its own unflushed writes)."""
    return uow.ledger.lock_balances([account]).get(account)


def available(uow: PaymentsUnitOfWork, account: str, zero: Money) -> Money:
    """What an account can give now (posted less pending holds); ``zero`` if it does not exist."""
    found = balance(uow, account)
    return found.available if found is not None else zero


def load_invoice(uow: PaymentsUnitOfWork, invoice_id: str) -> Invoice:
    """The invoice (locked for update), or ``NotFound``."""
    invoice = uow.invoices.get(invoice_id)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    return invoice
