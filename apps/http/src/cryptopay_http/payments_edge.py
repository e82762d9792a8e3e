"""The payment resources' edge: the services they read, the caller's tenant, and an optional ``Idempotency-Key``.

``create_app`` finds the payment services in ``services.extra["payments"]``: any object with the attributes of
``PaymentsServices`` (the composition root's ``Container`` has them; a ``PaymentsStack`` has all but ``quotes``).
Webhook resources also need ``WebhookServices``: ``services.extra["webhooks"]`` (the composition root passes its
container) or else ``payments.webhooks``.

Tenancy: a merchant user or API key acts for its own merchant; an admin names the merchant it acts for
(``merchant_id``). Naming another tenant's merchant, or reading another tenant's object, is the same 404 as a
missing one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import InvalidInput, Unavailable
from cryptopay.core.identity import Forbidden, Role
from cryptopay.core.ledger import Ledger
from cryptopay.core.listings import Listings
from cryptopay.core.payments.detection import Detection
from cryptopay.core.payments.invoicing import Invoicing
from cryptopay.core.payments.refunds import Refunds
from cryptopay.core.payouts.service import Payouts
from cryptopay.core.ports.fx import QuoteRepository
from cryptopay.core.ports.identity import MerchantRepository
from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory, Quoter
from cryptopay.core.ports.queue import JobQueue
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.rails import Rail, rail_for
from cryptopay.core.reconciliation import FloatBalance, Reconciliation
from cryptopay.core.settlement.service import Settling
from cryptopay.core.webhooks import UowFactory
from flask import request

from cryptopay_http.auth import current_principal, not_found
from cryptopay_http.idempotency import HEADER, idempotent, key_parameter
from cryptopay_http.openapi import annotate
from cryptopay_http.runtime import runtime

__all__ = [
    "PaymentsServices",
    "WebhookServices",
    "acting_merchant",
    "actor",
    "audit",
    "check_tenant",
    "idempotent_when_keyed",
    "payments",
    "rail_catalogue",
    "resolve_rail",
    "webhooks",
]

F = TypeVar("F", bound=Callable[..., Any])


class WebhookServices(Protocol):
    """``payments.webhooks``: a unit of work offering outbox, webhook_endpoints and webhook_deliveries, and more.

    ``allow_insecure_urls`` (optional, default False) admits http and local endpoint URLs (development only).
    """

    uow: UowFactory
    queue: JobQueue
    clock: Clock
    ids: IdGenerator


class PaymentsServices(Protocol):
    """``services.extra["payments"]``: the wired payment use cases and what they run on.

    ``quotes`` looks up the locked quote an invoice names. Optional: ``rails`` (the deployment's rails by key,
    e.g. with a local node's contract and depth; default: the core's rails) and ``webhooks``.
    """

    invoicing: Invoicing
    detection: Detection
    settling: Settling
    payouts: Payouts
    refunds: Refunds
    merchants: MerchantRepository
    ledger: Ledger
    pricer: Quoter
    quotes: QuoteRepository
    listings: Listings
    reconciliation: Reconciliation
    float_balance: FloatBalance
    clock: Clock
    ids: IdGenerator

    def uow(self) -> Any: ...  # a PaymentsUowFactory: ``with payments.uow() as uow``


def payments() -> Any:
    """The payment services of this app; 503 when the deployment has none."""
    found = runtime().services.extra.get("payments")
    if found is None:
        raise Unavailable("payments are not configured on this server")
    return found


def webhooks() -> Any:
    """The webhook services: ``services.extra["webhooks"]``, else ``payments.webhooks``; 503 when there are none."""
    extra = runtime().services.extra
    found = extra.get("webhooks") or getattr(extra.get("payments"), "webhooks", None)
    if found is None:
        raise Unavailable("webhooks are not configured on this server")
    return found


def payments_uow() -> PaymentsUowFactory:
    factory: PaymentsUowFactory = payments().uow
    return factory


def rail_catalogue() -> Mapping[str, Rail] | None:
    """The deployment's rails by key, if it says which it offers."""
    return getattr(payments(), "rails", None)


def resolve_rail(key: str) -> Rail:
    """The rail named ``key`` (``usdt-tron``): the deployment's own, else the core's default for that pair."""
    wanted = key.strip().lower()
    catalogue = rail_catalogue()
    if catalogue is not None:
        if wanted not in catalogue:
            offered = ", ".join(sorted(catalogue)) or "none"
            raise InvalidInput(f"unknown rail {key!r}; this server offers: {offered}", field="rails")
        return catalogue[wanted]
    asset, _, network = wanted.partition("-")
    try:
        return rail_for(network, asset.upper())
    except InvalidInput:
        raise InvalidInput(f"unknown rail {key!r}; rails look like usdt-tron or usdt-ethereum", field="rails") from None


def acting_merchant(requested: str | None = None) -> str:
    """The merchant the caller acts for: its own, or for an admin the one it names."""
    principal = current_principal()
    if principal.role is Role.ADMIN and principal.merchant_id is None:
        if requested is None:
            raise InvalidInput("admins name the merchant they act for (merchant_id)", field="merchant_id")
        if runtime().services.merchants.get(requested) is None:
            raise not_found("merchant", requested)
        return requested
    if principal.merchant_id is None:
        raise Forbidden("create your merchant profile first (POST /v1/merchants)")
    if requested is not None and requested != principal.merchant_id:
        raise not_found("merchant", requested)
    return principal.merchant_id


def check_tenant(kind: str, object_id: str, merchant_id: str) -> None:
    """404, exactly as for a missing object, unless the caller may see this merchant's objects."""
    if not current_principal().can_access(merchant_id):
        raise not_found(kind, object_id)


def actor() -> str:
    """The caller as the audit log names it: ``user:<id>`` or ``api_key:<id>``."""
    principal = current_principal()
    return f"{principal.kind.value}:{principal.id}"


def audit(uow: PaymentsUnitOfWork, action: str, subject: str, **details: object) -> None:
    """Record the caller's change in the audit log, in the change's own transaction."""
    at = payments().clock.now()
    uow.audit.append(AuditEvent(actor(), action, subject, at, {k: str(v) for k, v in details.items()}))


def idempotent_when_keyed(view: F) -> F:
    """Like ``idempotent`` when the request carries an ``Idempotency-Key``; a plain call without one."""
    keyed = idempotent(view)

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return keyed(*args, **kwargs) if HEADER in request.headers else view(*args, **kwargs)

    return annotate(wrapper, parameters=(key_parameter(required=False),), errors=(400, 409))
