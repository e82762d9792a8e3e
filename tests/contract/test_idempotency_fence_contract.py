"""Issue 12 #10: once a retry takes over a stale idempotency claim, the first request can no longer commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from cryptopay.adapters.sql.repositories.identity import SqlIdempotency
from cryptopay.core import fencing
from cryptopay.core.fencing import ClaimLost
from cryptopay.core.outbox import OutboxMessage
from cryptopay.core.ports.identity import IdempotencyRepository
from cryptopay.core.testing.identity import InMemoryIdempotency

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=6)


@attrs.define
class Claim:
    """A request's hold on (scope, key) as the HTTP shell keeps it: a fence renewed inside each commit."""

    store: IdempotencyRepository
    claimed_at: datetime
    now: datetime

    def hold(self, claims: IdempotencyRepository | None) -> None:
        if not (claims or self.store).renew("merchant:m1", "k1", claimed_at=self.claimed_at, at=self.now):
            raise ClaimLost("taken over")
        self.claimed_at = self.now


def _claims(backend) -> IdempotencyRepository:
    if backend.engine is None:
        return InMemoryIdempotency()
    return SqlIdempotency(backend.engine, stale_after=timedelta(minutes=5))


def _message(n: int) -> OutboxMessage:
    return OutboxMessage.new(f"out_{n}", "invoice.created", {"merchant_id": "m1"}, at=NOW)


def test_renew_moves_only_our_in_flight_claim(backend):
    """renew succeeds for the claim made at claimed_at, and fails once the key is completed or released."""
    store = _claims(backend)
    assert store.begin("merchant:m1", "k1", request_hash="h", at=NOW) is None
    assert store.renew("merchant:m1", "k1", claimed_at=NOW, at=LATER)
    assert not store.renew("merchant:m1", "k1", claimed_at=NOW, at=LATER)  # now claimed at LATER
    store.release("merchant:m1", "k1")
    assert not store.renew("merchant:m1", "k1", claimed_at=LATER, at=LATER)


def test_a_fenced_commit_holds_while_the_claim_is_ours(backend):
    """Work under a live claim commits, and the commit renews the claim."""
    store = _claims(backend)
    store.begin("merchant:m1", "k1", request_hash="h", at=NOW)
    claim = Claim(store, NOW, LATER)
    with fencing.fenced(claim), backend.uow() as uow:
        uow.outbox.add(_message(1))
    with backend.uow() as uow:
        assert [m.id for m in uow.outbox.due(LATER, limit=10)] == ["out_1"]
    assert claim.claimed_at == LATER


def test_after_a_takeover_the_first_request_commits_nothing(backend):
    """A retry takes the stale claim over; the first request's next commit is refused and rolled back."""
    if backend.engine is None:
        pytest.skip("the in-memory store never takes claims over")
    store = _claims(backend)
    store.begin("merchant:m1", "k1", request_hash="h", at=NOW)
    assert store.begin("merchant:m1", "k1", request_hash="h", at=LATER) is None  # the retry's takeover
    with pytest.raises(ClaimLost), fencing.fenced(Claim(store, NOW, LATER)), backend.uow() as uow:
        uow.outbox.add(_message(2))
    with backend.uow() as uow:
        assert uow.outbox.due(LATER, limit=10) == []
