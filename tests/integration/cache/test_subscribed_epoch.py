"""The identity epoch followed over Redis pub/sub: no round trip per request, changes seen as they are announced."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from cryptopay.adapters.cache import CachedApiKeys, SubscribedEpoch
from cryptopay.adapters.sql import make_engine, upgrade
from cryptopay.adapters.sql.repositories.identity import sql_identity_repositories
from cryptopay.core.identity import ApiKeys, Unauthenticated
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay.core.testing.storage import InMemoryAuditLog
from redis.backoff import NoBackoff
from redis.connection import AbstractConnection
from redis.retry import Retry

from tests.integration.cache.test_identity_cache import _merchant

pytestmark = pytest.mark.redis


def _eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.01)


@pytest.fixture
def key() -> str:
    return f"test:epoch:{uuid.uuid4().hex}"


@pytest.fixture
def epochs(redis_url: str, key: str) -> Iterator[Callable[[], SubscribedEpoch]]:
    """Makes one process's epoch (its own Redis client), each following ``key``; stops them afterwards."""
    made: list[SubscribedEpoch] = []

    def make() -> SubscribedEpoch:
        client = redis.Redis.from_url(redis_url, client_name=f"epoch-{uuid.uuid4().hex[:8]}")
        epoch = SubscribedEpoch(client, key=key, heartbeat=0.2, max_silence=1.0)
        made.append(epoch)
        return epoch

    yield make
    for epoch in made:
        epoch.close()


def _following(epoch: SubscribedEpoch) -> SubscribedEpoch:
    """The epoch once its listener is subscribed (reads answered from the process's copy)."""
    epoch.current()
    _eventually(lambda: epoch._value is not None)
    return epoch


def test_a_bump_in_one_process_is_seen_by_another_without_a_read_per_request(epochs, monkeypatch) -> None:
    """After subscribing, reading the epoch sends nothing to Redis; another process's bump changes it promptly."""
    a, b = _following(epochs()), epochs()
    before = a.current()
    sent: list[bytes] = []
    real_send = AbstractConnection.send_packed_command

    reader = threading.get_ident()  # the listener's own pings are not reads

    def counting(self: AbstractConnection, command: object, check_health: bool = True) -> None:
        if threading.get_ident() == reader:
            sent.append(repr(command).encode())
        real_send(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    assert [a.current() for _ in range(100)] == [before] * 100
    assert sent == []
    monkeypatch.undo()
    b.bump()
    _eventually(lambda: a.current() != before)


def test_a_revocation_is_refused_by_another_process_once_announced(database_url, redis_url, key, epochs) -> None:
    """Process B has the key cached; A revokes it; B refuses it as soon as the announcement arrives."""
    upgrade(database_url)
    engine = make_engine(database_url)
    try:

        def process() -> ApiKeys:
            cached = CachedApiKeys(sql_identity_repositories(engine)["api_keys"], _following(epochs()))
            return ApiKeys(cached, SystemClock(), RandomIds(), InMemoryAuditLog())

        a, b = process(), process()
        created, presented = a.create(_merchant(engine), name="shop", scopes=["invoices:read"], created_by="u")
        b.authenticate(presented)
        a.revoke(a.keys.get(created.id), actor="user:u")

        def refused() -> bool:
            try:
                b.authenticate(presented)
            except Unauthenticated:
                return True
            return False

        _eventually(refused, seconds=2.0)
    finally:
        engine.dispose()


def test_a_lost_subscription_falls_back_to_reading_redis(redis_url, epochs) -> None:
    """With its listener's connection killed, a process still sees the next bump (read per request, then again
    from the renewed subscription)."""
    a, b = _following(epochs()), epochs()
    admin = redis.Redis.from_url(redis_url)
    name = a._redis.connection_pool.connection_kwargs["client_name"]
    for client in admin.client_list(_type="pubsub"):
        if client["name"] == name:
            admin.client_kill_filter(_id=client["id"])
    before = a.current()
    b.bump()
    _eventually(lambda: a.current() != before)
    _eventually(lambda: a._value is not None)  # subscribed again


def test_an_unreachable_redis_means_no_epoch() -> None:
    """Without Redis there is no epoch (so nothing is cached), never a stale copy."""
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    dead = SubscribedEpoch(client, key="k", heartbeat=0.1)
    try:
        assert dead.current() is None
    finally:
        dead.close()
