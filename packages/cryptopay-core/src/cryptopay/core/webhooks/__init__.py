"""Merchant webhooks: Standard Webhooks signing, endpoints, deliveries with backoff and dead letters, redelivery.

>>> from cryptopay.core.webhooks import RETRY_SCHEDULE
>>> round(sum(wait.total_seconds() for wait in RETRY_SCHEDULE) / 86400, 2)
2.98
"""

from cryptopay.core.webhooks.model import (
    DEFAULT_LEASE,
    DEFAULT_ROTATION_OVERLAP,
    PING_EVENT,
    PING_RETRY_SCHEDULE,
    RETRY_SCHEDULE,
    WEBHOOK_EVENTS,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    check_endpoint_url,
)
from cryptopay.core.webhooks.service import (
    DELIVER_JOB,
    MAX_ENDPOINTS,
    SWEEP_JOB,
    EndpointChanges,
    UowFactory,
    create_endpoint,
    deliver_webhook,
    event_body,
    fan_out,
    nudge,
    redeliver_webhook,
    rotate_secret,
    send_test_event,
    sweep_webhooks,
    update_endpoint,
)
from cryptopay.core.webhooks.signing import (
    DEFAULT_TOLERANCE,
    SECRET_PREFIX,
    InvalidSignature,
    generate_secret,
    secret_is_valid,
    sign,
    signature_headers,
    verify,
)

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_ROTATION_OVERLAP",
    "DEFAULT_TOLERANCE",
    "DELIVER_JOB",
    "MAX_ENDPOINTS",
    "PING_EVENT",
    "PING_RETRY_SCHEDULE",
    "RETRY_SCHEDULE",
    "SECRET_PREFIX",
    "SWEEP_JOB",
    "WEBHOOK_EVENTS",
    "DeliveryStatus",
    "EndpointChanges",
    "InvalidSignature",
    "UowFactory",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "check_endpoint_url",
    "create_endpoint",
    "deliver_webhook",
    "event_body",
    "fan_out",
    "generate_secret",
    "nudge",
    "redeliver_webhook",
    "rotate_secret",
    "secret_is_valid",
    "send_test_event",
    "sign",
    "signature_headers",
    "sweep_webhooks",
    "update_endpoint",
    "verify",
]
