"""In-memory KYC profiles: thread-safe, handing out copies; the reference behaviour of ``ports.kyc``.

>>> from cryptopay.core.kyc import PartyKind
>>> profiles = InMemoryKycProfiles()
>>> profiles.add(KycProfile(party_id="usr_1", kind=PartyKind.PERSONAL))
>>> profiles.get("usr_1").status.value
'unverified'
"""

from __future__ import annotations

import threading

import attrs
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.kyc import KycProfile, KycStatus

__all__ = ["InMemoryKycProfiles"]


class InMemoryKycProfiles:
    """``KycRepository`` in a dict; ``get`` cannot lock, so concurrent deciders need one process and one lock."""

    def __init__(self) -> None:
        self._rows: dict[str, KycProfile] = {}
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, object]) -> InMemoryKycProfiles:
        """A copy with its own lock (``InMemoryStorage`` snapshots its repositories this way)."""
        copied = InMemoryKycProfiles()
        copied._rows = {k: attrs.evolve(v) for k, v in self._rows.items()}
        return copied

    def add(self, profile: KycProfile) -> None:
        with self._lock:
            if profile.party_id in self._rows:
                raise Conflict(f"{profile.party_id} already has a KYC profile")
            self._rows[profile.party_id] = attrs.evolve(profile)

    def get(self, party_id: str) -> KycProfile | None:
        with self._lock:
            row = self._rows.get(party_id)
            return attrs.evolve(row) if row is not None else None

    def update(self, profile: KycProfile) -> None:
        with self._lock:
            if profile.party_id not in self._rows:
                raise NotFound(f"{profile.party_id} has no KYC profile to update")
            self._rows[profile.party_id] = attrs.evolve(profile)

    def pending(self, *, after: str | None = None, limit: int = 100) -> list[KycProfile]:
        with self._lock:
            waiting = sorted(k for k, p in self._rows.items() if p.status is KycStatus.PENDING)
            return [attrs.evolve(self._rows[k]) for k in waiting if after is None or k > after][:limit]
