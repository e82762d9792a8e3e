"""In-memory KYC profiles (thread-safe), applications and documents, handing out copies: the reference of ``ports.kyc``.

>>> from cryptopay.core.kyc import PartyKind
>>> profiles = InMemoryKycProfiles()
>>> profiles.add(KycProfile(party_id="usr_1", kind=PartyKind.PERSONAL))
>>> profiles.get("usr_1").status.value
'unverified'
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import attrs
from cryptopay.core.errors import Conflict, InvalidInput, NotFound
from cryptopay.core.kyc import KycProfile, KycStatus
from cryptopay.core.kyc.applications import ApplicationState, KycApplication
from cryptopay.core.ports.system import Clock

__all__ = ["InMemoryDocumentStore", "InMemoryKycApplications", "InMemoryKycProfiles"]

_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")


class InMemoryKycProfiles:
    """``KycRepository`` in a dict; ``get`` cannot lock, so concurrent deciders need one process and one lock."""

    def __init__(self) -> None:
        self._rows: dict[str, KycProfile] = {}
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, object]) -> InMemoryKycProfiles:
        """A copy with its own lock (the in-memory unit of work snapshots its repositories)."""
        twin = InMemoryKycProfiles()
        with self._lock:
            twin._rows = copy.deepcopy(self._rows, memo)
        return twin

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

    def find(self, party_ids: Sequence[str]) -> dict[str, KycProfile]:
        with self._lock:
            return {k: attrs.evolve(self._rows[k]) for k in party_ids if k in self._rows}

    def pending(self, *, after: str | None = None, limit: int = 100) -> list[KycProfile]:
        with self._lock:
            waiting = sorted(k for k, p in self._rows.items() if p.status is KycStatus.PENDING)
            return [attrs.evolve(self._rows[k]) for k in waiting if after is None or k > after][:limit]


class InMemoryKycApplications:
    """``KycApplicationRepository`` in a dict (no locks: the in-memory unit of work serialises and snapshots it)."""

    def __init__(self) -> None:
        self._rows: dict[str, KycApplication] = {}

    def add(self, application: KycApplication) -> None:
        if application.id in self._rows:
            raise Conflict(f"application {application.id} already exists")
        self._rows[application.id] = copy.deepcopy(application)

    def get(self, application_id: str) -> KycApplication | None:
        row = self._rows.get(application_id)
        return copy.deepcopy(row) if row is not None else None

    def update(self, application: KycApplication) -> None:
        if application.id not in self._rows:
            raise NotFound(f"no application {application.id} to update")
        self._rows[application.id] = copy.deepcopy(application)

    def for_party(self, party_id: str) -> list[KycApplication]:
        found = [a for a in self._rows.values() if a.party_id == party_id]
        return [copy.deepcopy(a) for a in sorted(found, key=lambda a: (a.created_at, a.id))]

    def queue(
        self, states: Sequence[ApplicationState], *, after: str | None = None, limit: int = 100
    ) -> list[KycApplication]:
        ids = sorted(k for k, a in self._rows.items() if a.state in states and (after is None or k > after))
        return [copy.deepcopy(self._rows[k]) for k in ids[:limit]]

    def sharing_id(self, key: str, *, directors: bool = False) -> list[KycApplication]:
        found = [
            a for a in self._rows.values() if (key in a.director_keys().values() if directors else a.id_key() == key)
        ]
        return [copy.deepcopy(a) for a in sorted(found, key=lambda a: (a.created_at, a.id))]


class InMemoryDocumentStore:
    """``DocumentStore`` in a dict; ``clock`` (system time by default) stamps each write for ``stored``."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.blobs: dict[str, bytes] = {}
        self.written: dict[str, datetime] = {}
        self._clock = clock

    def put(self, key: str, blob: bytes) -> None:
        self.blobs[_key(key)] = bytes(blob)
        self.written[key] = self._clock.now() if self._clock else datetime.now(UTC)

    def get(self, key: str) -> bytes:
        try:
            return self.blobs[_key(key)]
        except KeyError:
            raise NotFound(f"no document {key}") from None

    def delete(self, key: str) -> None:
        self.blobs.pop(_key(key), None)
        self.written.pop(key, None)

    def stored(self) -> Iterator[tuple[str, datetime]]:
        yield from sorted(self.written.items())


def _key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise InvalidInput("a document key is 1 to 128 letters, digits, '_' or '-'")
    return key
