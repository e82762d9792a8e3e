"""The webhook delivery state machine and its retry schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.core.errors import InvalidInput, InvalidState
from cryptopay.core.webhooks import (
    RETRY_SCHEDULE,
    WEBHOOK_EVENTS,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    check_endpoint_url,
)
from hypothesis import given
from hypothesis import strategies as st

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _delivery() -> WebhookDelivery:
    return WebhookDelivery.new("whd_1", "whe_1", "m1", "out_1", "invoice.settled", '{"type":"invoice.settled"}', at=AT)


def _attempt(delivery: WebhookDelivery, now: datetime, ok: bool) -> WebhookDelivery:
    return delivery.claimed(now).after_attempt(now, ok=ok, status_code=200 if ok else 503, error=None)


def test_retry_schedule_spans_about_three_days_and_never_shrinks() -> None:
    """The waits add up to between 2.5 and 3.5 days, start within seconds, and never get shorter."""
    total = sum(RETRY_SCHEDULE, timedelta(0))
    assert timedelta(days=2.5) <= total <= timedelta(days=3.5)
    assert RETRY_SCHEDULE[0] <= timedelta(seconds=10)
    assert list(RETRY_SCHEDULE) == sorted(RETRY_SCHEDULE)


def test_a_delivery_failing_every_time_dies_after_the_whole_schedule() -> None:
    """Failing at each scheduled time retries len(schedule) times, then the delivery is dead-lettered."""
    delivery, now = _delivery(), AT
    for wait in RETRY_SCHEDULE:
        delivery = _attempt(delivery, now, ok=False)
        assert delivery.status is DeliveryStatus.RETRYING and delivery.next_attempt_at == now + wait
        now = delivery.next_attempt_at
    delivery = _attempt(delivery, now, ok=False)
    assert delivery.status is DeliveryStatus.DEAD
    assert delivery.attempts == len(RETRY_SCHEDULE) + 1
    assert now - AT == sum(RETRY_SCHEDULE, timedelta(0))
    assert delivery.last_error == "HTTP 503"


def test_a_delivery_is_not_due_before_its_time_nor_while_claimed() -> None:
    """A retry waits for its time, and a live claim keeps a second worker from sending it too."""
    failed = _attempt(_delivery(), AT, ok=False)
    assert not failed.is_due(AT + timedelta(seconds=4))
    claimed = failed.claimed(failed.next_attempt_at, timedelta(minutes=2))
    assert not claimed.is_due(failed.next_attempt_at + timedelta(minutes=1))
    with pytest.raises(InvalidState):
        claimed.claimed(failed.next_attempt_at + timedelta(minutes=1))
    assert claimed.is_due(failed.next_attempt_at + timedelta(minutes=2))  # the claim lapsed: the sender crashed


def test_a_final_delivery_stays_final_when_a_late_duplicate_attempt_reports() -> None:
    """An attempt outcome arriving after the delivery is delivered only counts in the log."""
    delivered = _attempt(_delivery(), AT, ok=True)
    after = delivered.after_attempt(AT, ok=False, status_code=500, error=None)
    assert after.status is DeliveryStatus.DELIVERED and after.attempts == 2


def test_redelivery_restarts_the_schedule_for_final_deliveries_only() -> None:
    """A dead delivery can be redelivered with a fresh schedule; a waiting one cannot."""
    waiting = _attempt(_delivery(), AT, ok=False)
    with pytest.raises(InvalidState, match="retried anyway"):
        waiting.redelivered(AT)
    dead = waiting.abandoned(AT, "the endpoint was disabled or deleted")
    again = dead.redelivered(AT + timedelta(days=4))
    assert again.status is DeliveryStatus.PENDING and again.failures == 0 and again.attempts == dead.attempts
    assert again.is_due(AT + timedelta(days=4))


@given(st.lists(st.booleans(), min_size=1, max_size=len(RETRY_SCHEDULE) + 3))
def test_any_sequence_of_outcomes_respects_the_state_machine(outcomes: list[bool]) -> None:
    """Whatever the endpoint answers: delivered on the first 2xx, dead only after the schedule is used up."""
    delivery, now = _delivery(), AT
    for ok in outcomes:
        if delivery.status.final:
            break
        delivery = _attempt(delivery, now, ok)
        now = delivery.next_attempt_at
    attempts_made = min(len(outcomes), outcomes.index(True) + 1 if True in outcomes else len(outcomes))
    attempts_made = min(attempts_made, len(RETRY_SCHEDULE) + 1)
    assert delivery.attempts == attempts_made
    if True in outcomes[:attempts_made]:
        assert delivery.status is DeliveryStatus.DELIVERED
    elif attempts_made == len(RETRY_SCHEDULE) + 1:
        assert delivery.status is DeliveryStatus.DEAD
    else:
        assert delivery.status is DeliveryStatus.RETRYING and delivery.failures == attempts_made


def test_endpoints_subscribe_to_known_events_only() -> None:
    """An endpoint lists known events (or none, meaning all) and a disabled endpoint wants nothing."""
    endpoint = WebhookEndpoint(
        "whe_1", "m1", "https://shop.example/hook", "whsec_x", AT, frozenset({"invoice.settled"})
    )
    assert endpoint.wants("invoice.settled") and not endpoint.wants("invoice.expired")
    assert all(WebhookEndpoint("whe_2", "m1", "https://a.example", "s", AT).wants(e) for e in WEBHOOK_EVENTS)
    assert not WebhookEndpoint("whe_3", "m1", "https://a.example", "s", AT, enabled=False).wants("invoice.settled")
    with pytest.raises(InvalidInput, match=r"unknown webhook events invoice\.paid"):
        WebhookEndpoint("whe_4", "m1", "https://a.example", "s", AT, frozenset({"invoice.paid"}))
    assert "whsec" not in repr(endpoint)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://shop.example/hook", "must use https"),
        ("https://user:pw@shop.example/hook", "credentials"),
        ("https://127.0.0.1/hook", "non-public"),
        ("https://10.1.2.3/hook", "non-public"),
        ("https://localhost/hook", "internal"),
        ("ftp://shop.example", "must use https"),
        ("https:///nohost", "needs a host"),
    ],
)
def test_endpoint_urls_must_be_public_https(url: str, reason: str) -> None:
    """Plain http, embedded credentials and internal addresses are refused in production mode."""
    with pytest.raises(InvalidInput, match=reason):
        check_endpoint_url(url)


def test_insecure_mode_admits_local_http_for_the_sandbox() -> None:
    """The sandbox and tests may register http://127.0.0.1 receivers when they say so."""
    assert check_endpoint_url("http://127.0.0.1:8080/hook", allow_insecure=True) == "http://127.0.0.1:8080/hook"
