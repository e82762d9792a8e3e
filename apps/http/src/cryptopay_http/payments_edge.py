"""The payment resources' edge: the services they read, the caller's tenant, and an optional ``Idempotency-Key``.

``payments()`` is the app's ``Services`` (the composition root's one typed object); ``webhooks()`` the ports the
webhook resources use. A part the deployment lacks raises ``Unavailable`` when used (a 503 problem).

Tenancy: a merchant user or API key acts for its own merchant; an admin names the merchant it acts for
(``merchant_id``). Naming another tenant's merchant, or reading another tenant's object, is the same 404 as a
missing one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import ParamSpec

import attrs
from cryptopay.adapters.bootstrap import Services
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import CryptopayError, InvalidInput, NotFound
from cryptopay.core.identity import Forbidden, Role
from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory
from cryptopay.core.ports.queue import JobQueue
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.rails import Rail, rail_for
from cryptopay.core.webhooks import PING_EVENT, UowFactory, WebhookDelivery, redeliver_webhook
from flask import request
from flask.typing import ResponseReturnValue

from cryptopay_http.auth import current_principal, limit_merchant, not_found
from cryptopay_http.idempotency import HEADER, KEY_PROBLEMS, idempotent, key_parameter
from cryptopay_http.openapi import annotate
from cryptopay_http.runtime import runtime

__all__ = [
    "ACTING_MERCHANT",
    "WebhookPorts",
    "acting_merchant",
    "actor",
    "audit",
    "check_tenant",
    "idempotent_when_keyed",
    "limit_webhook_pings",
    "payments",
    "rail_catalogue",
    "redeliver_for_merchant",
    "resolve_rail",
    "webhooks",
]

P = ParamSpec("P")


@attrs.frozen
class WebhookPorts:
    """What the webhook resources use: a unit of work over the outbox and webhook repositories, and the queue."""

    uow: UowFactory
    queue: JobQueue
    clock: Clock
    ids: IdGenerator
    allow_insecure_urls: bool  # http and private endpoint URLs (development and the sandbox only)
    max_endpoints: int  # enabled endpoints per merchant


def payments() -> Services:
    """The services of this app: the payment use cases and what they run on."""
    return runtime().services


def limit_webhook_pings(merchant_id: str) -> None:
    """At most ``webhook_ping_limit`` test pings (sent or redelivered, API or dashboard) per merchant per window,
    whoever of its team or keys asks: a ping is our worker calling a URL the merchant chose, so unthrottled it is a
    free reflector and a flood of the delivery queue every merchant shares (review G12). 429 with Retry-After."""
    settings = runtime().settings
    limit_merchant(merchant_id, "webhook_ping", settings.webhook_ping_limit, settings.webhook_ping_window_seconds)


def redeliver_for_merchant(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the merchant's ``delivery`` again (the API's and the dashboard's redelivery, tenancy checked by the
    caller); a ping counts against ``limit_webhook_pings`` as a new one would."""
    if delivery.event_type == PING_EVENT:
        limit_webhook_pings(delivery.merchant_id)
    hooks = webhooks()
    return redeliver_webhook(
        delivery.id, merchant_id=delivery.merchant_id, uow_factory=hooks.uow, queue=hooks.queue, clock=hooks.clock
    )


def webhooks() -> WebhookPorts:
    """The webhook ports of this app."""
    services = runtime().services
    return WebhookPorts(
        services.webhooks_uow,
        services.queue,
        services.clock,
        services.ids,
        services.allow_insecure_urls,
        services.webhook_max_endpoints,
    )


def payments_uow() -> PaymentsUowFactory:
    return payments().uow


def rail_catalogue() -> Mapping[str, Rail] | None:
    """The deployment's rails by key, if it says which it offers."""
    return payments().rails


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


# What ``acting_merchant`` refuses, for the operations that call it (``@operation(problems=ACTING_MERCHANT)``).
ACTING_MERCHANT: tuple[tuple[type[CryptopayError], str], ...] = (
    (InvalidInput, "an admin without a merchant of its own names none (`merchant_id`)"),
    (NotFound, "the `merchant_id` named is not the caller's, or (admins) no such merchant"),
    (Forbidden, "the caller has no merchant profile yet (POST /v1/merchants)"),
)


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


def idempotent_when_keyed(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
    """Like ``idempotent`` when the request carries an ``Idempotency-Key``; a plain call without one."""
    keyed = idempotent(view)

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        return keyed(*args, **kwargs) if HEADER in request.headers else view(*args, **kwargs)

    note = (
        f"optional: with an `{HEADER}` (1 to 255 printable ASCII characters, unique per intended operation; the "
        "merchant's login and API keys share them) a retry with the same key and body gets the first answer again "
        "(`Idempotent-Replayed: true`) and changes nothing; without one, every call acts."
    )
    return annotate(
        wrapper, parameters=(key_parameter(required=False),), errors=(400, 409), problems=KEY_PROBLEMS, idempotency=note
    )
