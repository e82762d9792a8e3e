"""Webhook endpoints, deliveries and attempts, and the delivery state machine.

A delivery is one event for one endpoint. It starts ``pending``; a 2xx answer makes it ``delivered``; any other
answer (or none) makes it ``retrying`` with the next attempt ``RETRY_SCHEDULE`` later, and a failure with the
schedule used up makes it ``dead``. A dead or delivered delivery can be sent again on request (``redelivered``).
While one worker sends, the delivery is claimed (``locked_until``) so a duplicate job does not send it twice.

>>> from datetime import datetime, timezone
>>> at = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> delivery = WebhookDelivery.new("whd_1", "whe_1", "m1", "out_1", "invoice.settled", "{}", at=at)
>>> failed = delivery.claimed(at).after_attempt(at, ok=False, status_code=500, error=None)
>>> failed.status.value, failed.next_attempt_at - at
('retrying', datetime.timedelta(seconds=5))
>>> failed.claimed(failed.next_attempt_at).after_attempt(at, ok=True, status_code=204, error=None).status.value
'delivered'
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from urllib.parse import SplitResult, urlsplit

import attrs
from cryptopay.core.errors import InvalidInput, InvalidState, RowChanged
from cryptopay.core.webhooks.payloads import DEFAULT_PAYLOAD_VERSION, check_payload_version
from cryptopay.core.webhooks.targets import host_problem

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_ROTATION_OVERLAP",
    "MAX_URL_LENGTH",
    "PING_EVENT",
    "PING_RETRY_SCHEDULE",
    "RETRY_SCHEDULE",
    "WEBHOOK_EVENTS",
    "DeliveryStatus",
    "EndpointChanged",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "check_endpoint_url",
]

WEBHOOK_EVENTS = (
    "invoice.created",
    "invoice.processing",
    "invoice.settled",
    "invoice.expired",
    "invoice.paid_late",
    "invoice.paid_partial",
    "invoice.cancelled",
    "invoice.wrong_network_payment",
    "invoice.wrong_network_payment_withdrawn",
    "payout.completed",
    "payout.failed",
    "payout.receipt_corrected",  # two admins corrected the M-Pesa receipt a completed payout was booked with
    "settlement.completed",
    "refund.requested",
    "refund.sent",
    "refund.confirmed",
    "refund.failed",
)

# Waits after the 1st, 2nd, ... failed attempt: 11 attempts over about three days, then the delivery is dead.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=14),
    timedelta(hours=16),
)

PING_EVENT = "ping"  # a test event sent on request; endpoints cannot subscribe to it, it goes to one endpoint
# A ping is tried once: its one answer is what the merchant asked to see, and a failing URL retried for three days
# would make every ping ten requests to a host of the caller's choosing.
PING_RETRY_SCHEDULE: tuple[timedelta, ...] = ()
DEFAULT_ROTATION_OVERLAP = timedelta(hours=24)  # how long a rotated-out secret still signs (both signatures sent)
DEFAULT_LEASE = timedelta(minutes=2)  # longer than the sender's timeout: a crashed sender's claim lapses after it
_SNIPPET = 1000


MAX_URL_LENGTH = 2048
_URL_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%")


def _parse_strictly(url: str) -> SplitResult:
    """The URL's parts, refusing what a lenient parser would quietly accept: spaces, CR/LF and other characters
    outside RFC 3986, over-long URLs, fragments, and ports out of range."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"a webhook URL has 1 to {MAX_URL_LENGTH} characters")
    if not set(url) <= _URL_CHARACTERS:
        raise InvalidInput("a webhook URL has only RFC 3986 characters (no spaces or line breaks; percent-encode)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range or not a number)
    except ValueError:
        raise InvalidInput("a webhook URL needs a valid host and a port from 1 to 65535") from None
    if parts.port == 0 or parts.netloc.endswith(":"):
        raise InvalidInput("a webhook URL needs a valid host and a port from 1 to 65535")
    if parts.fragment or "#" in url:
        raise InvalidInput("a webhook URL has no #fragment")
    return parts


WEBHOOK_PORTS = frozenset({443, 8443})  # the ports a webhook may be sent to (none given: 443)


def check_endpoint_url(url: str, *, allow_insecure: bool = False) -> str:
    """An absolute https URL to a public host on an HTTPS port (``WEBHOOK_PORTS``), without credentials;
    ``allow_insecure`` (the sandbox, outside production) also admits http, any port and loopback hosts, never
    private ones. Hosts are read as a resolver reads them (see ``cryptopay.core.webhooks.targets``)."""
    parts = _parse_strictly(url)
    allowed = {"https", "http"} if allow_insecure else {"https"}
    if parts.scheme not in allowed:
        raise InvalidInput(f"a webhook URL must use {' or '.join(sorted(allowed))}")
    if not parts.hostname:
        raise InvalidInput("a webhook URL needs a host")
    if not allow_insecure and parts.port is not None and parts.port not in WEBHOOK_PORTS:
        # review R17: any port would make each endpoint a port scanner from the platform's egress address
        raise InvalidInput("a webhook URL must use port 443 or 8443 (HTTPS)")
    if parts.username or parts.password:
        raise InvalidInput("a webhook URL must not carry credentials")
    problem = host_problem(parts.hostname, allow_loopback=allow_insecure)
    if problem is not None:
        raise InvalidInput(problem)
    return url


def _events(values: Iterable[str]) -> frozenset[str]:
    events = frozenset(values)
    unknown = sorted(events - set(WEBHOOK_EVENTS))
    if unknown:
        raise InvalidInput(f"unknown webhook events {', '.join(unknown)}; known: {', '.join(WEBHOOK_EVENTS)}")
    return events


class EndpointChanged(RowChanged):
    """The webhook endpoint changed since it was read (``WebhookEndpointRepository.save``, review11 R11-3)."""

    def __init__(self, endpoint_id: str) -> None:
        super().__init__("webhook endpoint", endpoint_id)
        self.endpoint_id = endpoint_id


@attrs.frozen
class WebhookEndpoint:
    """Where a merchant wants events; ``events`` empty means every event. The secret never shows in a repr."""

    id: str
    merchant_id: str
    url: str
    secret: str = attrs.field(repr=False)
    created_at: datetime
    events: frozenset[str] = attrs.field(default=frozenset(), converter=_events)
    enabled: bool = True
    description: str = ""
    previous_secret: str | None = attrs.field(default=None, repr=False)  # still signs until previous_secret_until
    previous_secret_until: datetime | None = None
    created_by: str | None = None  # the user who added it (None: before 0043, or an API key): removing them disables it
    # the shape of the bodies it receives (``webhooks.payloads``): 1 flat strings, 2 the API's money objects (0160)
    payload_version: int = attrs.field(default=DEFAULT_PAYLOAD_VERSION, converter=check_payload_version)
    # The stored row's version as read: ``save`` writes only over that version (``EndpointChanged`` otherwise), so
    # a change from a stale read (a removed admin's edit) never re-enables an endpoint an owner's removal disabled
    # (review11 R11-3, as ``User.row_version``). Not part of equality: it says when, not what.
    row_version: int = attrs.field(default=0, eq=False, repr=False)

    def wants(self, event_type: str) -> bool:
        return self.enabled and (not self.events or event_type in self.events)

    def signing_secrets(self, at: datetime) -> list[str]:
        """The secrets that sign a message sent at ``at``: the current one, and the previous one during the overlap."""
        previous, until = self.previous_secret, self.previous_secret_until
        if previous is not None and until is not None and at < until:
            return [self.secret, previous]
        return [self.secret]

    def rotated(self, new_secret: str, at: datetime, overlap: timedelta) -> WebhookEndpoint:
        """The endpoint signing with ``new_secret``; the current secret keeps signing for ``overlap`` too."""
        if overlap < timedelta(0):
            raise InvalidInput("a rotation overlap is zero or more seconds")
        return attrs.evolve(self, secret=new_secret, previous_secret=self.secret, previous_secret_until=at + overlap)


class DeliveryStatus(enum.Enum):
    PENDING = "pending"  # not attempted yet
    RETRYING = "retrying"  # failed at least once, next attempt scheduled
    DELIVERED = "delivered"  # the endpoint answered 2xx
    DEAD = "dead"  # failed on every scheduled attempt (or the endpoint went away): dead-lettered

    @property
    def final(self) -> bool:
        return self in (DeliveryStatus.DELIVERED, DeliveryStatus.DEAD)


@attrs.frozen
class WebhookDelivery:
    """One event to one endpoint; ``body`` is the exact JSON text signed and sent on every attempt."""

    id: str
    endpoint_id: str
    merchant_id: str
    event_id: str  # the webhook-id header: the same on every attempt and redelivery, so receivers can dedupe
    event_type: str
    body: str = attrs.field(repr=False)
    created_at: datetime
    next_attempt_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0  # every attempt ever made (the log); it makes each attempt's job id unique
    failures: int = 0  # failed attempts since the last success or redelivery; indexes the retry schedule
    locked_until: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    payload_version: int = DEFAULT_PAYLOAD_VERSION  # the version ``body`` was written in (its header says so)

    @classmethod
    def new(
        cls,
        delivery_id: str,
        endpoint_id: str,
        merchant_id: str,
        event_id: str,
        event_type: str,
        body: str,
        *,
        at: datetime,
        payload_version: int = DEFAULT_PAYLOAD_VERSION,
    ) -> WebhookDelivery:
        return cls(
            delivery_id, endpoint_id, merchant_id, event_id, event_type, body, at, at, payload_version=payload_version
        )

    def is_due(self, now: datetime) -> bool:
        """Waiting, its time has come, and no live claim holds it."""
        unclaimed = self.locked_until is None or self.locked_until <= now
        return not self.status.final and self.next_attempt_at <= now and unclaimed

    def claimed(self, now: datetime, lease: timedelta = DEFAULT_LEASE) -> WebhookDelivery:
        if not self.is_due(now):
            raise InvalidState(f"webhook delivery {self.id} is not due for an attempt")
        return attrs.evolve(self, locked_until=now + lease)

    def after_attempt(
        self,
        now: datetime,
        *,
        ok: bool,
        status_code: int | None,
        error: str | None,
        schedule: Sequence[timedelta] = RETRY_SCHEDULE,
    ) -> WebhookDelivery:
        """The delivery after an attempt's outcome; a final delivery stays final (a late duplicate only logs). A
        ``ping`` follows ``PING_RETRY_SCHEDULE`` whatever ``schedule`` says: one failure and it is dead.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
        >>> ping = WebhookDelivery.new("whd_1", "whe_1", "m1", "evt_1", PING_EVENT, "{}", at=at)
        >>> ping.claimed(at).after_attempt(at, ok=False, status_code=500, error=None).status.value
        'dead'
        """
        if self.event_type == PING_EVENT:
            schedule = PING_RETRY_SCHEDULE
        counted = attrs.evolve(self, attempts=self.attempts + 1, locked_until=None, last_status_code=status_code)
        if self.status.final:
            return attrs.evolve(self, attempts=self.attempts + 1)
        if ok:
            return attrs.evolve(counted, status=DeliveryStatus.DELIVERED, delivered_at=now, last_error=None, failures=0)
        reason = (error or f"HTTP {status_code}")[:_SNIPPET]
        if self.failures >= len(schedule):
            return attrs.evolve(counted, status=DeliveryStatus.DEAD, last_error=reason, failures=self.failures + 1)
        retry_at, failures = now + schedule[self.failures], self.failures + 1
        return attrs.evolve(
            counted, status=DeliveryStatus.RETRYING, last_error=reason, failures=failures, next_attempt_at=retry_at
        )

    def abandoned(self, now: datetime, reason: str) -> WebhookDelivery:
        """Dead without an attempt (the endpoint was disabled or deleted)."""
        return attrs.evolve(self, status=DeliveryStatus.DEAD, locked_until=None, last_error=reason[:_SNIPPET])

    def redelivered(self, now: datetime) -> WebhookDelivery:
        """Queued again by hand, with a fresh retry schedule; only a final delivery can be redelivered."""
        if not self.status.final:
            raise InvalidState(f"webhook delivery {self.id} is still {self.status.value}; it will be retried anyway")
        return attrs.evolve(self, status=DeliveryStatus.PENDING, next_attempt_at=now, failures=0, locked_until=None)


@attrs.frozen
class WebhookAttempt:
    """One row of the delivery log: when, the status that came back or what went wrong (in our words).

    ``response_snippet`` is always empty since #12.3 (response bodies are never stored); the column stays for
    old rows."""

    delivery_id: str
    number: int
    at: datetime
    status_code: int | None
    response_snippet: str
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@attrs.frozen
class WebhookResponse:
    """What an endpoint answered: its status only (the body is never kept nor shown to the merchant)."""

    status_code: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300
