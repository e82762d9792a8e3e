"""API keys and merchants without a database round trip per request, and revocation honoured at once.

Every authenticated request reads its API key (or, for a merchant user, the merchant it owns). These rows change
rarely (a key is revoked, a profile edited), so each process keeps them for ``ttl_seconds``, tagged with the
*epoch* it read before fetching them. Every change goes through the wrapper, which writes the row and then bumps
the epoch; a cached row is used only while the epoch is unchanged. With ``RedisEpoch`` the epoch is one shared
counter, so a revocation in one API process is seen by every other on its next request: the cost per request is
one Redis ``GET`` instead of a database transaction.

Order matters: the epoch is read *before* the row is fetched and bumped *after* the change is committed, so a
row fetched across a concurrent change is tagged with the old epoch and never used once the bump is visible.
When the epoch cannot be read (Redis down), nothing is cached and every lookup goes to the database.

``SubscribedEpoch`` (what the composition root builds) saves even that GET: each process listens on a Redis channel
that every bump publishes on, and reads the counter again only when a bump is announced.

>>> from cryptopay.core.testing.identity import InMemoryApiKeys
>>> epoch = LocalEpoch()
>>> keys = CachedApiKeys(InMemoryApiKeys(), epoch)
>>> keys.get("key_missing") is None, epoch.current()
(True, 0)
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import attrs
from cryptopay.adapters import redis_stall
from cryptopay.core.identity import ApiKey, Merchant
from cryptopay.core.ports.identity import ApiKeyRepository, MerchantRepository
from redis import Redis
from redis.client import PubSub
from redis.exceptions import RedisError

__all__ = ["CachedApiKeys", "CachedMerchants", "Epoch", "LocalEpoch", "RedisEpoch", "SubscribedEpoch"]

_log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class Epoch(Protocol):
    """A counter that every change of a cached row bumps; None when it cannot be read (then nothing is cached)."""

    def current(self) -> int | None: ...

    def bump(self) -> None: ...


class LocalEpoch:
    """An in-process epoch: right for one process only (tests, a single worker)."""

    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    def current(self) -> int | None:
        return self._value

    def bump(self) -> None:
        with self._lock:
            self._value += 1


class RedisEpoch:
    """The epoch as one Redis counter shared by every API process."""

    def __init__(self, client: Redis, *, key: str = "cryptopay:identity:epoch") -> None:
        self._redis, self._key = client, key

    def current(self) -> int | None:
        if redis_stall.stalled(self._redis):  # a touch in this request timed out: one wait per request (R14-6)
            return None
        try:
            value = self._redis.get(self._key)
        except RedisError as error:
            redis_stall.seen(self._redis, error)
            _log.warning("identity cache epoch unreadable (%s): reading from the database", type(error).__name__)
            return None
        return int(value) if value is not None else 0

    def bump(self) -> None:
        self._redis.incr(self._key)  # a failure here must surface: the change would otherwise go unseen


class SubscribedEpoch:
    """The shared Redis epoch without a round trip per request: this process follows it on a Redis channel.

    ``bump`` increments the counter and publishes on ``<key>:changed`` in one MULTI, and updates this process's copy
    itself. Another process learns of the bump from its subscription, and a request never runs on a copy older than
    what has reached it: Redis writes the announcement to every subscriber's connection in the same step as its
    answer to the ``bump`` (before it serves any other command), so by the time the revoking request has its answer
    and anyone could send the next one, the announcement waits on each process's socket. ``current`` reads whatever
    is waiting there first (``PubSub.get_message(timeout=0)``: a non-blocking read of ~10 µs, nothing sent)
    and applies it before answering. A revoked key is therefore refused on the very next request in every process,
    however busy the listener thread is (``tests/integration/http/test_http_revocation_across_apps.py``).

    Every read of the subscription happens under one lock (redis-py's connection and its read buffer are not safe
    to read from two threads), so once ``current`` holds the lock and finds nothing waiting, every announcement
    received has been applied. An announcement (or a new subscription's confirmation, after a reconnection in which
    bumps may have been missed) re-reads the counter. The listener thread (started on first use, and again in a
    forked child) reads what is waiting every ``poll`` seconds while no request does, and pings every ``heartbeat``
    seconds; while it is not subscribed (starting, reconnecting, Redis down) or has heard nothing, not even its pong,
    for ``max_silence`` seconds, ``current`` reads the counter per call (``RedisEpoch``).
    """

    def __init__(
        self,
        client: Redis,
        *,
        key: str = "cryptopay:identity:epoch",
        heartbeat: float = 1.0,
        max_silence: float = 3.0,
        poll: float = 0.05,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis, self._key, self._channel = client, key, f"{key}:changed"
        self._fallback = RedisEpoch(client, key=key)
        self._heartbeat, self._max_silence, self._poll, self._now = heartbeat, max_silence, poll, now
        self._value: int | None = None  # this process's copy; None while not subscribed
        self._pubsub: PubSub | None = None  # the listener's subscription, while it has one
        self._heard_at = 0.0
        self._owner_pid: int | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()  # every read of the subscription, and every change of the copy

    def current(self) -> int | None:
        if self._owner_pid != os.getpid():
            self._start()
        if self._value is not None and self._now() - self._heard_at < self._max_silence:
            try:
                with self._lock:
                    self._drain()  # what has reached this process first: nothing waiting is one non-blocking read
                    value = self._value
            except RedisError as error:
                redis_stall.seen(self._redis, error)
                value = None
            if value is not None:
                return value
        return self._fallback.current()

    def bump(self) -> None:
        with self._lock:
            pipe = self._redis.pipeline(transaction=True)
            pipe.incr(self._key)
            pipe.publish(self._channel, b"1")
            value, _ = pipe.execute()  # a failure here must surface: the change would otherwise go unseen
            if self._value is not None:
                self._value = int(value)

    def close(self) -> None:
        self._stopped.set()

    def _drain(self, wait: float = 0) -> None:
        """Read every message waiting on the subscription (the first up to ``wait`` seconds away) and apply it
        (call with the lock held)."""
        pubsub = self._pubsub
        if pubsub is None:
            self._value = None
            return
        while (message := pubsub.get_message(timeout=wait)) is not None:
            wait = 0
            self._heard_at = self._now()
            if message["type"] in ("message", "subscribe"):  # a bump; or (re)subscribed, bumps before unheard
                value = self._redis.get(self._key)
                self._value = int(value) if value is not None else 0

    def _start(self) -> None:
        with self._lock:
            if self._owner_pid == os.getpid():
                return
            self._owner_pid, self._value, self._pubsub = os.getpid(), None, None  # a forked child: no listener yet
            threading.Thread(target=self._listen, name="identity-epoch", daemon=True).start()

    def _listen(self) -> None:
        while not self._stopped.is_set():
            try:
                self._follow()
            except RedisError as error:
                _log.warning(
                    "identity epoch listener lost Redis (%s): reading the epoch per request", type(error).__name__
                )
            self._stopped.wait(self._heartbeat)

    def _follow(self) -> None:
        pubsub = self._redis.pubsub()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        try:
            with self._lock:
                pubsub.subscribe(self._channel)
                self._pubsub = pubsub  # the copy is set when the confirmation is read (``_drain``)
                self._drain(wait=self._heartbeat)  # a round trip away; until then requests read the counter
            pinged = self._now()
            while not self._stopped.wait(self._poll):  # not blocking on the socket: requests read it too
                with self._lock:
                    self._drain()
                    if self._now() - pinged >= self._heartbeat:
                        pubsub.ping()
                        pinged = self._now()
        finally:
            with self._lock:
                self._pubsub, self._value = None, None
                pubsub.close()


def _copied(value: T) -> T:
    """A shallow copy; an attrs row through its own ``__init__`` (a third of ``copy.copy``'s cost, on every
    authenticated request)."""
    if attrs.has(type(value)):
        return attrs.evolve(value)  # type: ignore[misc]  # checked just above
    return copy.copy(value)


@attrs.frozen
class _Entry(Generic[T]):
    value: T
    epoch: int
    at: float


class _Cache(Generic[T]):
    """A bounded LRU of rows tagged with the epoch they were read under."""

    def __init__(self, epoch: Epoch, ttl_seconds: float, max_entries: int, now: Callable[[], float]) -> None:
        self.epoch, self._ttl, self._max, self._now = epoch, ttl_seconds, max_entries, now
        self._entries: OrderedDict[str, _Entry[T]] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, key: str, fetch: Callable[[], T | None]) -> T | None:
        epoch = self.epoch.current()
        if epoch is not None:
            with self._lock:
                entry = self._entries.get(key)
            if entry is not None and entry.epoch == epoch and self._now() - entry.at < self._ttl:
                return _copied(entry.value)  # a copy: callers may mutate theirs
        value = fetch()
        if value is not None and epoch is not None:
            with self._lock:
                self._entries[key] = _Entry(_copied(value), epoch, self._now())
                self._entries.move_to_end(key)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return value

    def changed(self, *keys: str) -> None:
        self.epoch.bump()
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)


class _CachedReads(Generic[R, T]):
    """What the cached repositories share: the ``inner`` repository every write and uncached read goes to, and the
    cache of its rows (kept ``ttl_seconds``, at most ``max_entries``, valid while ``epoch`` is unchanged)."""

    def __init__(
        self,
        inner: R,
        epoch: Epoch,
        *,
        ttl_seconds: float = 60.0,
        max_entries: int = 10_000,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._cache: _Cache[T] = _Cache(epoch, ttl_seconds, max_entries, now)


class CachedApiKeys(_CachedReads[ApiKeyRepository, ApiKey]):
    """``ApiKeyRepository`` that serves ``get`` from a short-lived cache; ``update`` (revocation) bumps the epoch."""

    def add(self, key: ApiKey) -> None:
        self._inner.add(key)

    def get(self, key_id: str) -> ApiKey | None:
        return self._cache.read(key_id, lambda: self._inner.get(key_id))

    def update(self, key: ApiKey) -> None:
        self._inner.update(key)
        self._cache.changed(key.id)

    def for_merchant(self, merchant_id: str, *, before: str | None, limit: int) -> list[ApiKey]:
        return self._inner.for_merchant(merchant_id, before=before, limit=limit)

    def created_by(self, merchant_id: str, user_id: str) -> list[ApiKey]:
        return self._inner.created_by(merchant_id, user_id)


class CachedMerchants(_CachedReads[MerchantRepository, Merchant]):
    """``MerchantRepository`` that serves ``by_owner`` (read on every merchant user's request) from the cache.

    ``get`` is not cached: other paths (the payments unit of work, the CLI) change merchant rows too."""

    def add(self, merchant: Merchant) -> None:
        self._inner.add(merchant)
        self._cache.changed(merchant.owner_user_id)

    def get(self, merchant_id: str) -> Merchant | None:
        return self._inner.get(merchant_id)

    def by_owner(self, user_id: str) -> Merchant | None:
        return self._cache.read(user_id, lambda: self._inner.by_owner(user_id))

    def update(self, merchant: Merchant) -> None:
        self._inner.update(merchant)
        self._cache.changed(merchant.owner_user_id)

    def list(self, *, after: str | None, limit: int) -> list[Merchant]:
        return self._inner.list(after=after, limit=limit)
