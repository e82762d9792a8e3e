"""Per-request session checks: a token is only as good as the account and login behind it, right now.

An access token names its user, its login (refresh-token family) and the account's session version when it was
issued. Each request reloads the user (its *current* role, session version and second factor) and whether the
login is still active, so logout, a reuse-triggered family revocation, a password reset and a role change take
effect at once instead of when the token expires. The state is cached briefly (``ttl``) to keep the hot path to
at most two indexed reads per ``ttl``; every change made through this process forgets the cached state at once.
Across processes: with a shared ``epoch`` (Redis when configured) every change bumps it and a cached state is used
only under the epoch it was read in, so other processes see the change on their next request; without one they
see it within ``ttl`` (keep it at a few seconds; zero reads through on every request).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs
from cryptopay.core.identity.model import Role
from cryptopay.core.ports.identity import ChangeEpoch, RefreshTokenRepository, UserRepository
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
        epoch: ChangeEpoch | None = None,
    ) -> None:
        self._users, self._tokens, self._clock, self._ttl = users, refresh_tokens, clock, ttl
        self._epoch = epoch
        self._cache: dict[tuple[str, str], tuple[datetime, int, SessionState]] = {}
        self._lock = threading.Lock()

    def get(self, user_id: str, family_id: str) -> SessionState | None:
        """The current state of a user's login; None if the account no longer exists."""
        now = self._clock.now()
        epoch = self._epoch.current() if self._epoch is not None else 0
        cached = self._cache.get((user_id, family_id))
        if epoch is not None and cached is not None and cached[1] == epoch and now - cached[0] < self._ttl:
            return cached[2]
        user = self._users.get(user_id)
        if user is None:
            return None
        state = SessionState(user.role, user.session_version, user.two_factor, self._tokens.family_active(family_id))
        if epoch is not None:
            with self._lock:
                if len(self._cache) >= _MAX_ENTRIES:
                    self._cache.clear()
                self._cache[(user_id, family_id)] = (now, epoch, state)
        return state

    def forget_user(self, user_id: str) -> None:
        """Drop every cached login of a user (after a change to the account), in every process."""
        self._forget(lambda key: key[0] == user_id)

    def forget_family(self, family_id: str) -> None:
        """Drop the cached state of one login (after logout or revocation), in every process."""
        self._forget(lambda key: key[1] == family_id)

    def _forget(self, chosen: Callable[[tuple[str, str]], bool]) -> None:
        if self._epoch is not None:
            self._epoch.bump()
        with self._lock:
            for key in [k for k in self._cache if chosen(k)]:
                del self._cache[key]
