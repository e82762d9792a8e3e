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
from cryptopay.core.identity import ApiKey, Merchant
from cryptopay.core.ports.identity import ApiKeyRepository, MerchantRepository
from redis import Redis
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
        try:
            value = self._redis.get(self._key)
        except RedisError as error:
            _log.warning("identity cache epoch unreadable (%s): reading from the database", type(error).__name__)
            return None
        return int(value) if value is not None else 0

    def bump(self) -> None:
        self._redis.incr(self._key)  # a failure here must surface: the change would otherwise go unseen


class SubscribedEpoch:
    """The shared Redis epoch without a round trip per request: a listener thread keeps this process's copy.

    ``bump`` increments the counter and publishes on ``<key>:changed`` in one MULTI. The listener (started on first
    use, and again in a forked child) subscribes first, then reads the counter, then reads it again whenever a
    bump is announced; ``bump`` updates the copy itself, so this process sees its own change at once and every
    other process as soon as the announcement arrives (a fraction of a millisecond on one network). The listener
    pings every ``heartbeat`` seconds; while it is not subscribed (starting, reconnecting, Redis down) or has heard
    nothing, not even its pong, for ``max_silence`` seconds, ``current`` falls back to a GET per call
    (``RedisEpoch``), so a lost announcement cannot keep a revoked key usable for longer than that.
    """

    def __init__(
        self,
        client: Redis,
        *,
        key: str = "cryptopay:identity:epoch",
        heartbeat: float = 1.0,
        max_silence: float = 3.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis, self._key, self._channel = client, key, f"{key}:changed"
        self._fallback = RedisEpoch(client, key=key)
        self._heartbeat, self._max_silence, self._now = heartbeat, max_silence, now
        self._value: int | None = None  # this process's copy; None while not subscribed
        self._heard_at = 0.0
        self._owner_pid: int | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()  # orders the copy's updates: each reads Redis inside it

    def current(self) -> int | None:
        if self._owner_pid != os.getpid():
            self._start()
        value = self._value
        if value is not None and self._now() - self._heard_at < self._max_silence:
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

    def _start(self) -> None:
        with self._lock:
            if self._owner_pid == os.getpid():
                return
            self._owner_pid, self._value = os.getpid(), None  # a forked child has no listener thread yet
            threading.Thread(target=self._listen, name="identity-epoch", daemon=True).start()

    def _listen(self) -> None:
        while not self._stopped.is_set():
            try:
                self._follow()
            except RedisError as error:
                _log.warning(
                    "identity epoch listener lost Redis (%s): reading the epoch per request", type(error).__name__
                )
            with self._lock:
                self._value = None
            self._stopped.wait(self._heartbeat)

    def _follow(self) -> None:
        pubsub = self._redis.pubsub()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        try:
            pubsub.subscribe(self._channel)
            self._reread()  # after subscribing: no bump can fall between the read and the first announcement
            pinged = self._now()
            while not self._stopped.is_set():
                message = pubsub.get_message(timeout=self._heartbeat)
                if message is not None and message["type"] == "message":
                    self._reread()
                elif message is not None:
                    self._heard_at = self._now()  # a pong, or the subscription's confirmation
                if self._now() - pinged >= self._heartbeat:
                    pubsub.ping()
                    pinged = self._now()
        finally:
            pubsub.close()

    def _reread(self) -> None:
        with self._lock:
            value = self._redis.get(self._key)
            self._value, self._heard_at = (int(value) if value is not None else 0), self._now()


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
                return copy.copy(entry.value)  # a copy: callers may mutate theirs
        value = fetch()
        if value is not None and epoch is not None:
            with self._lock:
                self._entries[key] = _Entry(copy.copy(value), epoch, self._now())
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
