"""The services the HTTP shell is given: repositories, hasher, limiter, clock, ids and readiness checks.

``create_app`` accepts any object with these attributes (the composition root's container may be its own class);
``Services`` is the plain attrs container, and ``in_memory_services`` wires one from the core's in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
from cryptopay.core.ports.identity import (
    ApiKeyRepository,
    AuditTrail,
    IdempotencyRepository,
    MerchantRepository,
    PasswordHasher,
    RateLimiter,
    RefreshTokenRepository,
    TotpEngine,
    UserRepository,
)
from cryptopay.core.ports.notifications import Notifier
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay.core.testing.identity import (
    InMemoryApiKeys,
    InMemoryIdempotency,
    InMemoryMerchants,
    InMemoryRateLimiter,
    InMemoryRefreshTokens,
    InMemoryUsers,
    StdlibTotp,
)
from cryptopay.core.testing.notifications import InMemoryNotifier
from cryptopay.core.testing.storage import InMemoryAuditLog

from cryptopay_http.passwords import Argon2Hasher

__all__ = ["Services", "in_memory_services"]


@attrs.define
class Services:
    """What the HTTP shell uses; ``readiness_checks`` maps a name to a callable that raises when it is not ready."""

    users: UserRepository
    refresh_tokens: RefreshTokenRepository
    merchants: MerchantRepository
    api_keys: ApiKeyRepository
    idempotency: IdempotencyRepository
    rate_limiter: RateLimiter
    password_hasher: PasswordHasher
    clock: Clock = attrs.Factory(SystemClock)
    ids: IdGenerator = attrs.Factory(RandomIds)
    readiness_checks: Mapping[str, Callable[[], object]] = attrs.Factory(dict)
    extra: dict[str, Any] = attrs.Factory(dict)  # resources added later (invoices, payouts, ...) find theirs here
    audit: AuditTrail = attrs.field(kw_only=True)  # security events (logins, step-ups, keys, destinations)
    notifier: Notifier = attrs.field(kw_only=True)  # password resets, destination-change alerts
    totp: TotpEngine = attrs.field(kw_only=True)


def in_memory_services(
    *, clock: Clock | None = None, ids: IdGenerator | None = None, hasher: PasswordHasher | None = None
) -> Services:
    """Services backed by the in-memory fakes: for tests, local development and the embedded default."""
    the_clock = clock or SystemClock()
    return Services(
        users=InMemoryUsers(),
        refresh_tokens=InMemoryRefreshTokens(),
        merchants=InMemoryMerchants(),
        api_keys=InMemoryApiKeys(),
        idempotency=InMemoryIdempotency(),
        rate_limiter=InMemoryRateLimiter(the_clock),
        password_hasher=hasher or Argon2Hasher(),
        clock=the_clock,
        ids=ids or RandomIds(),
        audit=InMemoryAuditLog(),
        notifier=InMemoryNotifier(),
        totp=StdlibTotp(),
    )
