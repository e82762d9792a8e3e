"""Merchant webhooks: Standard Webhooks signing, endpoints, deliveries with backoff and dead letters, redelivery.

>>> from cryptopay.core.webhooks import RETRY_SCHEDULE
>>> round(sum(wait.total_seconds() for wait in RETRY_SCHEDULE) / 86400, 2)
2.98
"""

from cryptopay.core.webhooks.model import (
    DEFAULT_LEASE,
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
    UowFactory,
    create_endpoint,
    deliver_webhook,
    event_body,
    fan_out,
    nudge,
    redeliver_webhook,
    sweep_webhooks,
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
    "DEFAULT_TOLERANCE",
    "DELIVER_JOB",
    "MAX_ENDPOINTS",
    "RETRY_SCHEDULE",
    "SECRET_PREFIX",
    "SWEEP_JOB",
    "WEBHOOK_EVENTS",
    "DeliveryStatus",
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
    "secret_is_valid",
    "sign",
    "signature_headers",
    "sweep_webhooks",
    "verify",
]
