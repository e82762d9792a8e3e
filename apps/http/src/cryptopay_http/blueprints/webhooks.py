"""Webhook endpoints (the signing secret is shown once, at creation), the delivery log, and redelivery.

Merchant logins (or admins naming ``merchant_id``) manage them, and API keys holding ``webhooks:read`` or
``webhooks:write`` (creating an endpoint also needs a user's step-up, which an API key cannot give). Deleting an
endpoint disables it: its pending deliveries are dead-lettered by the worker, and it no longer appears. The
delivery log pages through every delivery, newest first, one keyset query per page.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import attrs
from cryptopay.core.errors import InvalidInput, InvalidState
from cryptopay.core.identity import RateLimited, Role
from cryptopay.core.identity.email_proof import EmailUnverified
from cryptopay.core.invoices import InvoiceException
from cryptopay.core.text import TextKind
from cryptopay.core.webhooks import (
    DEFAULT_PAYLOAD_VERSION,
    DEFAULT_ROTATION_OVERLAP,
    PAYLOAD_VERSIONS,
    PING_EVENT,
    WEBHOOK_EVENTS,
    DeliveryStatus,
    DuplicateEndpoint,
    EndpointChanges,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    create_endpoint,
    integer_fields,
    money_fields,
    rotate_secret,
    send_test_event,
    update_endpoint,
    v2_only_fields,
)
from cryptopay.core.webhooks.model import MAX_URL_LENGTH
from flask import Blueprint, Response, request

from cryptopay_http.auth import (
    audit_security,
    check_proven_email,
    check_step_up,
    current_principal,
    documents_step_up,
    not_found,
    require,
    step_up,
)
from cryptopay_http.convert import json_response, limits, read_body
from cryptopay_http.openapi import PageOf, operation, register_event
from cryptopay_http.pagination import paginate, paginated
from cryptopay_http.payments_edge import (
    ACTING_MERCHANT,
    acting_merchant,
    check_tenant,
    limit_webhook_pings,
    redeliver_for_merchant,
    webhooks,
)
from cryptopay_http.query import MERCHANT_ID, enum_param, id_param, query

__all__ = ["WebhookEndpointView", "bp"]

bp = Blueprint("webhooks", __name__)
_STAFF = (Role.MERCHANT, Role.ADMIN)
_TAGS = ("webhooks",)


_PAYLOAD_VERSION = limits(
    "the body's shape: 1 (amounts as flat strings, the default) or 2 (the API's money objects, counts as numbers)",
    minimum=min(PAYLOAD_VERSIONS),
    maximum=max(PAYLOAD_VERSIONS),
)


@attrs.frozen
class CreateEndpoint:
    """Where to send events; ``events`` empty or left out means every event."""

    url: str = attrs.field(metadata=limits("an https URL", min_length=1, max_length=MAX_URL_LENGTH))
    events: list[str] = attrs.field(
        factory=list, metadata=limits("event types; empty for all", max_items=32, choices=lambda: WEBHOOK_EVENTS)
    )
    description: str = attrs.field(default="", metadata=limits(max_length=200, text=TextKind.PROSE))
    merchant_id: str | None = attrs.field(default=None, metadata=limits("admins only", max_length=64))
    payload_version: int = attrs.field(default=DEFAULT_PAYLOAD_VERSION, metadata=_PAYLOAD_VERSION)


@attrs.frozen
class UpdateEndpoint:
    """What to change; a field left out stays as it is. ``enabled: false`` deletes the endpoint (as DELETE does)."""

    url: str | None = attrs.field(
        default=None, metadata=limits("an https URL", min_length=1, max_length=MAX_URL_LENGTH)
    )
    events: list[str] | None = attrs.field(
        default=None, metadata=limits("event types; empty for all", max_items=32, choices=lambda: WEBHOOK_EVENTS)
    )
    description: str | None = attrs.field(default=None, metadata=limits(max_length=200, text=TextKind.PROSE))
    enabled: bool | None = attrs.field(default=None, metadata=limits("false deletes the endpoint"))
    payload_version: int | None = attrs.field(default=None, metadata=_PAYLOAD_VERSION)


MAX_OVERLAP_SECONDS = 7 * 24 * 3600


@attrs.frozen
class RotateSecret:
    """How long the old secret keeps signing (a second signature on each delivery); 24 hours if left out."""

    overlap_seconds: int | None = attrs.field(
        default=None, metadata=limits("seconds, 0 to 604800", minimum=0, maximum=MAX_OVERLAP_SECONDS)
    )


@attrs.frozen
class WebhookEndpointView:
    """A webhook endpoint, without its secret; ``payload_version`` is the shape of the bodies it receives."""

    id: str
    merchant_id: str
    url: str
    events: list[str]
    description: str
    created_at: datetime
    payload_version: int

    @classmethod
    def of(cls, e: WebhookEndpoint) -> WebhookEndpointView:
        return cls(e.id, e.merchant_id, e.url, sorted(e.events), e.description, e.created_at, e.payload_version)


@attrs.frozen
class NewEndpointView:
    """A just-created endpoint: ``secret`` (``whsec_...``) verifies the signatures; it is shown this once."""

    endpoint: WebhookEndpointView
    secret: str = attrs.field(repr=False)


@attrs.frozen
class RotatedSecretView:
    """A new ``secret``, shown this once; the old one also signs until ``previous_secret_expires_at``."""

    endpoint: WebhookEndpointView
    secret: str = attrs.field(repr=False)
    previous_secret_expires_at: datetime | None


@attrs.frozen
class DeliveryView:
    """One event for one endpoint: its status and the last answer."""

    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, d: WebhookDelivery) -> DeliveryView:
        return cls(
            d.id,
            d.endpoint_id,
            d.event_id,
            d.event_type,
            d.status,
            d.attempts,
            d.next_attempt_at,
            d.last_status_code,
            d.last_error,
            d.created_at,
            d.delivered_at,
        )


@attrs.frozen
class AttemptView:
    """One attempt: when, the status code (null when no answer came) or our coarse error, and how long it took (a
    failure in whole seconds). ``response_snippet`` is always empty: answers are never read."""

    number: int
    at: datetime
    status_code: int | None
    response_snippet: str
    error: str | None
    duration_ms: int

    @classmethod
    def of(cls, a: WebhookAttempt) -> AttemptView:
        return cls(a.number, a.at, a.status_code, a.response_snippet, a.error, a.duration_ms)


@attrs.frozen
class DeliveryDetailView:
    """A delivery with its attempts and the exact body sent."""

    delivery: DeliveryView
    body: str
    attempts: list[AttemptView]


_TEXT = {"type": "string"}
_DECIMAL = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
_PAYOUT_DATA = {  # core.payouts._outcomes.payout_payload
    "merchant_id": _TEXT,
    "payout_id": _TEXT,
    "settlement_id": _TEXT,
    "attempt": {**_TEXT, "description": "1 for the first attempt, 2 for its retry, ..."},
    "state": {"type": "string", "enum": ["completed", "failed"]},
    "amount": {**_DECIMAL, "description": "KES paid out (whole shillings)"},
    "charge": {**_DECIMAL, "description": "M-Pesa's charge, KES"},
    "currency": {"const": "KES"},
    "method": _TEXT,
    "destination": {**_TEXT, "description": "the M-Pesa number masked (2547****5678), or the bank account"},
    "receipt": {**_TEXT, "description": "M-Pesa's receipt (TransactionReceipt); empty when it failed"},
    "result_code": _TEXT,
    "result_desc": {**_TEXT, "description": "the result in our fixed words for its code, never M-Pesa's own text"},
}
_SETTLEMENT_DATA = {  # core.payouts._outcomes._complete_settlement
    "merchant_id": _TEXT,
    "settlement_id": _TEXT,
    "cutoff": {"type": "string", "format": "date-time"},
    "paid": {**_DECIMAL, "description": "KES paid out by the settlement's completed payouts"},
    "currency": {"const": "KES"},
    "payouts": {**_TEXT, "description": "how many payouts (retries counted once)"},
    "failed_payouts": _TEXT,
    "quote_id": {**_TEXT, "description": "the quote the crypto was sold at (empty when nothing was converted)"},
    "converted": _DECIMAL,
    "converted_asset": _TEXT,
    "conversions": {
        **_TEXT,
        "description": "each asset sold and its quote, comma-separated (payload version 2 also has `conversion_list`)",
    },
}
_REFUND_DATA = {  # core.payments.refunds._publish
    "merchant_id": _TEXT,
    "refund_id": _TEXT,
    "invoice_id": _TEXT,
    "state": {"type": "string", "enum": ["requested", "sent", "confirmed", "failed"]},
    "rail": {**_TEXT, "description": "e.g. usdt-tron"},
    "amount": {**_DECIMAL, "description": "in the refunded asset"},
    "asset": _TEXT,
    "address": {**_TEXT, "description": "the customer's address the refund goes to"},
    "tx_hash": {**_TEXT, "description": "empty until broadcast"},
    "quote_id": {**_TEXT, "description": "the quote that converted an amount asked in KES (else empty)"},
    "failure": {**_TEXT, "description": "why it failed (refund.failed), else empty"},
}


_V2_ONLY_DATA: dict[
    str, dict[str, Any]
] = {  # payload version 2 alone (``v2_only_fields``), as v1 would write them: the money rules make them
    "funded_by_merchant": {
        **_DECIMAL,
        "description": "what of the refund the merchant funded after its crypto was settled, in the refunded asset "
        "(null when it funded none)",
    },
    "funded_by_merchant_asset": _TEXT,
    "owed_by_merchant": {
        **_DECIMAL,
        "description": "the shillings the merchant owes for that part, netted from its next settlements (null when "
        "it funded none)",
    },
    # invoice.settled (R14-12)
    "paid": {
        **_DECIMAL,
        "description": "what the on-time payments are worth in the price's currency at the invoice's terms: the "
        "price, more when paid over, less by the shortfall when paid short within the tolerance",
    },
    "paid_asset": _TEXT,
    "received": {
        "type": "object",
        "additionalProperties": _DECIMAL,
        "description": "by rail key: what each rail received (as GET /v1/invoices/{id} says on the payment option)",
    },
    # settlement.completed (R14-12): the settlement as GET /v1/settlements/{id} says it
    "credited": {**_DECIMAL, "description": "the shillings every conversion gave the merchant (KES)"},
    "fx_spread": {**_DECIMAL, "description": "the conversions' FX spread (KES)"},
    "payout_charges": {**_DECIMAL, "description": "the payout charges taken on top of the parts (KES)"},
    "remainder": {**_DECIMAL, "description": "the shillings carried to the merchant's next settlement (KES)"},
    "conversion_list": {
        "type": "array",
        "description": "`conversions` as a list: each asset sold (`amount`) at its quote, with the KES it credited",
        "items": {
            "type": "object",
            "properties": {"amount": _DECIMAL, "asset": _TEXT, "quote_id": _TEXT, "credited": _DECIMAL},
            "required": ["amount", "asset", "quote_id", "credited"],
        },
    },
}


def _strict(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": sorted(properties)}


def _event_data(name: str) -> dict[str, Any]:
    """The ``data`` of an event: invoice events name the invoice, the shop's order and notes, and the state; payout,
    settlement and refund events carry every member of their payload (amounts as decimal strings)."""
    if name.startswith("refund."):
        return _strict(_REFUND_DATA)
    if name.startswith("payout."):
        return _strict(_PAYOUT_DATA)
    if name.startswith("settlement."):
        return _strict(_SETTLEMENT_DATA)
    if not name.startswith("invoice."):
        return {"type": "object", "properties": {"merchant_id": {"type": "string"}}}
    strings = {"type": "object", "additionalProperties": {"type": "string"}}
    properties = {
        "invoice_id": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
        "order_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "metadata": strings,
        "state": {"type": "string"},
        "exception": {"type": "string", "enum": [e.value for e in InvoiceException]},
        "shortfall": {
            **_DECIMAL,
            "description": "exception paid_under_tolerated: what was left unpaid of the price, in shortfall_asset",
        },
        "shortfall_asset": {**_TEXT, "description": "the price's currency (with shortfall)"},
        "due": {**strings, "description": "invoice.created: the amount due per rail key"},
        "price": {**_DECIMAL, "description": "invoice.created: the price, in currency"},
        "currency": {**_TEXT, "description": "invoice.created: the price's currency"},
        "amount": {**_DECIMAL, "description": "wrong_network_payment events: the transfer's amount, in asset"},
        "asset": {**_TEXT, "description": "wrong_network_payment events: the transfer's asset"},
        "index": {**_TEXT, "description": "wrong_network_payment events: the transfer's log index"},
    }
    return {"type": "object", "properties": properties, "required": ["invoice_id", "at", "order_id", "metadata"]}


_MONEY = {
    "type": "object",
    "description": "an amount as the API writes it",
    "properties": {"amount": _DECIMAL, "asset": _TEXT},
    "required": ["amount", "asset"],
}


def _event_data_v2(name: str, v1: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of an event in payload version 2, from its version 1 by the rules that write the bodies
    (``cryptopay.core.webhooks.payloads``): amounts become money objects (their asset field gone; an amount with no
    asset, such as a settlement that converted nothing, is null), counts integers, ``due`` money by rail key; the
    fields of version 2 alone (``v2_only_fields``: a refund's funding by the merchant, what a settled invoice was
    paid, a completed settlement's books) are added, nullable (null in an event written before they existed)."""
    properties, required = dict(v1.get("properties", {})), list(v1.get("required", []))
    added = {key: _V2_ONLY_DATA[key] for key in v2_only_fields(name)}
    properties.update(added)
    required = sorted({*required, *added}) if added else required
    for amount_key, asset_key in money_fields(name):
        if amount_key in properties:
            said = properties[amount_key].get("description")
            money = {**_MONEY, "description": said} if said else _MONEY
            nullable = asset_key in {"converted_asset"} or amount_key in added
            properties[amount_key] = {"anyOf": [money, {"type": "null"}]} if nullable else money
            properties.pop(asset_key, None)
            required = [key for key in required if key != asset_key]
    for key in integer_fields(name):
        if key in properties:
            properties[key] = {"type": "integer", "minimum": 0}
    if "due" in properties:
        properties["due"] = {"type": "object", "additionalProperties": _MONEY, "description": "by rail key"}
    if "received" in added:
        by_rail = {"type": "object", "additionalProperties": _MONEY, "description": added["received"]["description"]}
        properties["received"] = {"anyOf": [by_rail, {"type": "null"}]}
    if "conversion_list" in added:
        item = {
            "type": "object",
            "properties": {"amount": _MONEY, "quote_id": _TEXT, "credited": _MONEY},
            "required": ["amount", "quote_id", "credited"],
        }
        listed = {"type": "array", "items": item, "description": added["conversion_list"]["description"]}
        properties["conversion_list"] = {"anyOf": [listed, {"type": "null"}]}
    return {**v1, "properties": properties, "required": required}


for _name in WEBHOOK_EVENTS:
    _data = _event_data(_name)
    register_event(
        _name,
        _data,
        f"The {_name} event, signed with the endpoint's secret",
        data_v2=_event_data_v2(_name, _data),
    )
_PING_DATA = {"type": "object", "properties": {"merchant_id": {"type": "string"}, "endpoint_id": {"type": "string"}}}
register_event(PING_EVENT, _PING_DATA, "A test event sent to one endpoint on request (POST .../test)")


def _endpoint(endpoint_id: str) -> WebhookEndpoint:
    with webhooks().uow() as uow:
        endpoint: WebhookEndpoint | None = uow.webhook_endpoints.get(endpoint_id)
    if endpoint is None or not endpoint.enabled:
        raise not_found("webhook endpoint", endpoint_id)
    check_tenant("webhook endpoint", endpoint_id, endpoint.merchant_id)
    return endpoint


def _status() -> DeliveryStatus | None:
    text = request.args.get("status")
    try:
        return DeliveryStatus(text) if text is not None else None
    except ValueError:
        known = ", ".join(s.value for s in DeliveryStatus)
        raise InvalidInput(f"status must be one of: {known}", field="status") from None


@bp.post("/v1/webhook-endpoints")
@operation(
    "Add a webhook endpoint (its secret is shown once)",
    request=CreateEndpoint,
    example={"url": "https://shop.example.co.ke/hooks/cryptopay", "events": ["invoice.settled", "payout.completed"]},
    response=NewEndpointView,
    status=201,
    tags=_TAGS,
    errors=(404,),
    description=(
        "Registers a URL to receive the merchant's events (all, or the `events` listed) as signed POSTs "
        "(`webhooks` in this document lists each event's body in both payload versions). `payload_version` 1 "
        "(the default) sends amounts as flat strings beside a `currency`/`asset`; 2 sends the API's money objects "
        'and counts as numbers, and says `"version": 2` in the body; every delivery names its version in the '
        "`cryptopay-payload-version` header. The response shows the endpoint's signing "
        "`secret` once (`Cache-Control: no-store`); keep it to verify each delivery's signature. Audited."
    ),
    problems=(
        *ACTING_MERCHANT,
        (
            InvalidInput,
            (
                "the URL is not https (http only in development), has no host, carries "
                "credentials or points at a private address; an unknown event type; a description "
                "over 200 characters"
            ),
        ),
        (InvalidInput, "the merchant already has the most endpoints allowed: delete one first"),
        (DuplicateEndpoint, "the merchant already has an enabled endpoint at this URL"),
    ),
)
@require(scope="webhooks:write", roles=_STAFF, proven_email=True)
@step_up
def create_webhook_endpoint() -> Response:
    body = read_body(CreateEndpoint)
    merchant_id = acting_merchant(body.merchant_id)
    hooks = webhooks()
    endpoint = create_endpoint(
        merchant_id,
        body.url,
        events=body.events,
        description=body.description,
        uow_factory=hooks.uow,
        ids=hooks.ids,
        clock=hooks.clock,
        allow_insecure=hooks.allow_insecure_urls,
        max_endpoints=hooks.max_endpoints,
        created_by=current_principal().id,  # a user (the step-up refuses API keys)
        payload_version=body.payload_version,
    )
    host = urlsplit(endpoint.url).hostname or "?"  # not the whole URL: it may carry the merchant's own secret
    audit_security(
        "webhook_endpoint.created",
        f"webhook_endpoint:{endpoint.id}",
        merchant=merchant_id,
        host=host,
        payload_version=str(endpoint.payload_version),
    )
    view = NewEndpointView(WebhookEndpointView.of(endpoint), endpoint.secret)
    headers = {"Cache-Control": "no-store", "Location": f"/v1/webhook-endpoints/{endpoint.id}"}
    return json_response(view, 201, headers=headers)


@bp.get("/v1/webhook-endpoints")
@operation(
    "List the merchant's webhook endpoints",
    response=PageOf(WebhookEndpointView),
    tags=_TAGS,
    description=(
        "The merchant's enabled webhook endpoints, newest first, without their secrets. Admins name the "
        "merchant with `merchant_id`."
    ),
    problems=(*ACTING_MERCHANT,),
)
@require(scope="webhooks:read", roles=_STAFF)
@paginated("whe")
@query(MERCHANT_ID)
def list_webhook_endpoints() -> Response:
    merchant_id = acting_merchant(request.args.get("merchant_id"))

    def fetch(before: str | None, limit: int) -> list[WebhookEndpoint]:
        with webhooks().uow() as uow:
            found: list[WebhookEndpoint] = uow.webhook_endpoints.enabled_for_merchant(
                merchant_id, before=before, limit=limit
            )
        return found

    return json_response(paginate(fetch, WebhookEndpointView.of))


@bp.get("/v1/webhook-endpoints/<endpoint_id>")
@operation(
    "Read a webhook endpoint (without its secret)",
    response=WebhookEndpointView,
    tags=_TAGS,
    description=(
        "One enabled endpoint: URL, event types, description, when its previous secret stops signing. "
        "Never its secret. A deleted or another merchant's endpoint is a 404."
    ),
)
@require(scope="webhooks:read", roles=_STAFF)
def get_webhook_endpoint(endpoint_id: str) -> Response:
    return json_response(WebhookEndpointView.of(_endpoint(endpoint_id)))


@bp.delete("/v1/webhook-endpoints/<endpoint_id>")
@operation(
    "Delete a webhook endpoint (no more events are sent to it)",
    status=204,
    tags=_TAGS,
    description=(
        "Disables the endpoint for good: no more events are sent to it (deliveries already made stay in "
        "the log). Audited."
    ),
)
@require(scope="webhooks:write", roles=_STAFF)
@documents_step_up  # checked in the view, after the endpoint is found to be the caller's
def delete_webhook_endpoint(endpoint_id: str) -> Response:
    endpoint = _endpoint(endpoint_id)  # another tenant's endpoint is a 404 before any step-up question
    check_step_up()
    with webhooks().uow() as uow:
        uow.webhook_endpoints.save(attrs.evolve(endpoint, enabled=False))
    audit_security("webhook_endpoint.deleted", f"webhook_endpoint:{endpoint.id}", merchant=endpoint.merchant_id)
    return Response(status=204)


@bp.patch("/v1/webhook-endpoints/<endpoint_id>")
@operation(
    "Change a webhook endpoint's URL, event types or description, or disable it",
    request=UpdateEndpoint,
    response=WebhookEndpointView,
    tags=_TAGS,
    description=(
        "Changes the fields sent (`url`, `events`, `description`, `payload_version`) or disables the endpoint "
        "(`enabled: false`); the others stay. A new `payload_version` applies to events from then on: deliveries "
        "already made keep their body. A new URL needs a proven email, as adding an endpoint does. Audited with "
        "the URL's host only."
    ),
    problems=(
        (DuplicateEndpoint, "another enabled endpoint of the merchant already has the new URL"),
        (EmailUnverified, "a new URL, by a merchant user whose email is not proven yet (audited)"),
        (
            InvalidInput,
            (
                "the URL is not https (http only in development), has no host, carries "
                "credentials or points at a private address; an unknown event type; a description "
                "over 200 characters"
            ),
        ),
    ),
)
@require(scope="webhooks:write", roles=_STAFF)
@documents_step_up  # checked in the view, after the endpoint is found to be the caller's
def update_webhook_endpoint(endpoint_id: str) -> Response:
    endpoint = _endpoint(endpoint_id)  # another tenant's endpoint is a 404 before any step-up question
    body = read_body(UpdateEndpoint)
    if body.url is not None:  # where events go, as adding an endpoint decides: disabling is never gated
        check_proven_email()
    check_step_up()
    hooks = webhooks()
    changes = EndpointChanges(
        url=body.url,
        events=body.events,
        description=body.description,
        enabled=body.enabled,
        payload_version=body.payload_version,
    )
    updated = update_endpoint(
        endpoint.id, endpoint.merchant_id, changes, uow_factory=hooks.uow, allow_insecure=hooks.allow_insecure_urls
    )
    host = urlsplit(updated.url).hostname or "?"  # not the whole URL: it may carry the merchant's own secret
    audit_security(
        "webhook_endpoint.updated",
        f"webhook_endpoint:{endpoint.id}",
        merchant=endpoint.merchant_id,
        host=host,
        payload_version=str(updated.payload_version),
    )
    return json_response(WebhookEndpointView.of(updated))


@bp.post("/v1/webhook-endpoints/<endpoint_id>/rotate-secret")
@operation(
    "Give a webhook endpoint a new secret (shown once)",
    request=RotateSecret,
    response=RotatedSecretView,
    tags=_TAGS,
    description=(
        "Gives the endpoint a new signing secret, shown once; for `overlap_seconds` (default a day) "
        "deliveries are signed with both the new and the old secret, so the receiver can switch without "
        "missing one. Audited."
    ),
)
@require(scope="webhooks:write", roles=_STAFF)
@documents_step_up  # checked in the view, after the endpoint is found to be the caller's
def rotate_webhook_secret(endpoint_id: str) -> Response:
    endpoint = _endpoint(endpoint_id)
    body = read_body(RotateSecret, optional=True)
    check_step_up()
    hooks = webhooks()
    overlap = DEFAULT_ROTATION_OVERLAP if body.overlap_seconds is None else timedelta(seconds=body.overlap_seconds)
    rotated = rotate_secret(
        endpoint.id, endpoint.merchant_id, uow_factory=hooks.uow, clock=hooks.clock, overlap=overlap
    )
    audit_security(
        "webhook_endpoint.secret_rotated",
        f"webhook_endpoint:{endpoint.id}",
        merchant=endpoint.merchant_id,
        overlap_seconds=str(int(overlap.total_seconds())),
    )
    view = RotatedSecretView(WebhookEndpointView.of(rotated), rotated.secret, rotated.previous_secret_until)
    return json_response(view, headers={"Cache-Control": "no-store"})


@bp.post("/v1/webhook-endpoints/<endpoint_id>/test")
@operation(
    "Send a ping test event to this endpoint",
    response=DeliveryView,
    status=202,
    tags=_TAGS,
    errors=(429,),
    description=(
        "Sends a `ping` event to this endpoint through the normal delivery path: it shows in the delivery "
        "log, is tried once and never retried. At most 5 pings (sent or redelivered) per merchant per "
        "minute, whoever asks. Audited."
    ),
    problems=((RateLimited, "more pings than the merchant's limit per minute (Retry-After says when)"),),
)
@require(scope="webhooks:write", roles=_STAFF)
def test_webhook_endpoint(endpoint_id: str) -> Response:
    endpoint = _endpoint(endpoint_id)  # another tenant's endpoint is a 404 before it counts against any limit
    limit_webhook_pings(endpoint.merchant_id)
    hooks = webhooks()
    delivery = send_test_event(
        endpoint.id, endpoint.merchant_id, uow_factory=hooks.uow, ids=hooks.ids, queue=hooks.queue, clock=hooks.clock
    )
    audit_security(
        "webhook_endpoint.tested",
        f"webhook_endpoint:{endpoint.id}",
        merchant=endpoint.merchant_id,
        delivery=delivery.id,
    )
    return json_response(DeliveryView.of(delivery), 202)


@bp.get("/v1/webhook-deliveries")
@operation(
    "The merchant's webhook delivery log, newest first (?endpoint_id=&status=)",
    response=PageOf(DeliveryView),
    tags=_TAGS,
    description=(
        "The merchant's webhook deliveries, newest first: event type, endpoint, status (`pending`, "
        "`retrying`, `delivered`, `dead`), attempts and the last answer. Filter by `endpoint_id` and `status`; "
        "admins name the merchant with `merchant_id`."
    ),
    problems=(*ACTING_MERCHANT,),
)
@require(scope="webhooks:read", roles=_STAFF)
@paginated("whd")
@query(
    MERCHANT_ID,
    id_param("endpoint_id", "only deliveries to this endpoint"),
    enum_param("status", lambda: [s.value for s in DeliveryStatus], "only deliveries with this status"),
)
def list_webhook_deliveries() -> Response:
    merchant_id = acting_merchant(request.args.get("merchant_id"))
    endpoint_id, status = request.args.get("endpoint_id"), _status()

    def fetch(after: str | None, limit: int) -> list[WebhookDelivery]:
        # One keyset query per page, newest first: the cursor is the previous page's last (oldest) delivery.
        with webhooks().uow() as uow:
            found: list[WebhookDelivery] = uow.webhook_deliveries.for_merchant(
                merchant_id, endpoint_id=endpoint_id, status=status, limit=limit, before=after
            )
        return found

    return json_response(paginate(fetch, DeliveryView.of))


def _delivery(delivery_id: str) -> WebhookDelivery:
    with webhooks().uow() as uow:
        delivery: WebhookDelivery | None = uow.webhook_deliveries.get(delivery_id)
    if delivery is None:
        raise not_found("webhook delivery", delivery_id)
    check_tenant("webhook delivery", delivery_id, delivery.merchant_id)
    return delivery


@bp.get("/v1/webhook-deliveries/<delivery_id>")
@operation(
    "A webhook delivery with its attempts",
    response=DeliveryDetailView,
    tags=_TAGS,
    description=(
        "One delivery with the exact body sent (the same event id on every attempt) and each attempt's "
        "time, HTTP status and error."
    ),
)
@require(scope="webhooks:read", roles=_STAFF)
def get_webhook_delivery(delivery_id: str) -> Response:
    delivery = _delivery(delivery_id)
    with webhooks().uow() as uow:
        attempts = uow.webhook_deliveries.attempts(delivery.id)
    view = DeliveryDetailView(DeliveryView.of(delivery), delivery.body, [AttemptView.of(a) for a in attempts])
    return json_response(view)


@bp.post("/v1/webhook-deliveries/<delivery_id>/redeliver")
@operation(
    "Send a delivered or dead delivery again (same event id and body); a ping counts against the pings' limit",
    response=DeliveryView,
    status=202,
    tags=_TAGS,
    errors=(409, 429),
    description=(
        "Queues a delivered or dead delivery again, with the same event id and body (receivers "
        "de-duplicate by the id). A ping counts against the pings' limit as a new one would."
    ),
    problems=(
        (InvalidState, "the delivery is still pending: it will be retried anyway"),
        (RateLimited, "a ping past the merchant's pings per minute (Retry-After says when)"),
    ),
)
@require(scope="webhooks:write", roles=_STAFF)
def redeliver(delivery_id: str) -> Response:
    return json_response(DeliveryView.of(redeliver_for_merchant(_delivery(delivery_id))), 202)
