"""Per-request session checks: a token is only as good as the account and login behind it, right now.

An access token names its user, its login (refresh-token family) and the account's session version when it was
issued. Each request reloads the user (its *current* role, session version and second factor) and whether the
login is still active, so logout, a reuse-triggered family revocation, a password reset and a role change take
effect at once instead of when the token expires. The state is cached briefly (``ttl``) to keep the hot path to
at most two indexed reads per ``ttl``; every change made through this process forgets the cached state at once,
and other processes see it within ``ttl`` (keep it at a few seconds; zero reads through on every request).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import attrs
from cryptopay.core.identity.model import Role
from cryptopay.core.ports.identity import RefreshTokenRepository, UserRepository
from cryptopay.core.ports.system import Clock

__all__ = ["SessionState", "SessionStates"]

_MAX_ENTRIES = 10_000


@attrs.frozen
class SessionState:
    """What a request needs to know about its account and login."""

    role: Role
    session_version: int
    two_factor: bool
    login_active: bool


class SessionStates:
    """Reads session states through a small time-bounded cache that this process invalidates at once."""

    def __init__(
        self,
        users: UserRepository,
        refresh_tokens: RefreshTokenRepository,
        clock: Clock,
        *,
        ttl: timedelta = timedelta(seconds=2),
    ) -> None:
        self._users, self._tokens, self._clock, self._ttl = users, refresh_tokens, clock, ttl
        self._cache: dict[tuple[str, str], tuple[datetime, SessionState]] = {}
        self._lock = threading.Lock()

    def get(self, user_id: str, family_id: str) -> SessionState | None:
        """The current state of a user's login; None if the account no longer exists."""
        now = self._clock.now()
        cached = self._cache.get((user_id, family_id))
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        user = self._users.get(user_id)
        if user is None:
            return None
        state = SessionState(user.role, user.session_version, user.two_factor, self._tokens.family_active(family_id))
        with self._lock:
            if len(self._cache) >= _MAX_ENTRIES:
                self._cache.clear()
            self._cache[(user_id, family_id)] = (now, state)
        return state

    def forget_user(self, user_id: str) -> None:
        """Drop every cached login of a user (after a change to the account)."""
        with self._lock:
            for key in [k for k in self._cache if k[0] == user_id]:
                del self._cache[key]

    def forget_family(self, family_id: str) -> None:
        """Drop the cached state of one login (after logout or revocation)."""
        with self._lock:
            for key in [k for k in self._cache if k[1] == family_id]:
                del self._cache[key]
