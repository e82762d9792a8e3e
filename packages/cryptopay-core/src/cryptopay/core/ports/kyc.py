"""KYC ports: each party's verification profile (one per party), its applications, and the documents' store.

Repositories hand out copies: a change counts only once it is ``update``-d. ``get`` locks the profile's row until
the transaction ends (``SELECT ... FOR UPDATE`` on PostgreSQL), so two admins deciding at once are serialised and
neither approval is lost. ``pending`` is keyset-paginated by party id, ascending, strictly ``after`` the given id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from cryptopay.core.kyc import KycProfile
from cryptopay.core.kyc.applications import ApplicationState, KycApplication
from cryptopay.core.ports.storage import UnitOfWork

__all__ = [
    "DocumentStore",
    "ImageProbe",
    "KycApplicationRepository",
    "KycRepository",
    "KycUnitOfWork",
]


class KycRepository(Protocol):
    def add(self, profile: KycProfile) -> None:
        """Store a new profile; ``Conflict`` if the party already has one."""
        ...

    def get(self, party_id: str) -> KycProfile | None:
        """The party's profile, locked for update until the transaction ends."""
        ...

    def update(self, profile: KycProfile) -> None:
        """Replace the stored profile of ``profile.party_id``; ``NotFound`` if there is none."""
        ...

    def find(self, party_ids: Sequence[str]) -> dict[str, KycProfile]:
        """The profiles of these parties that exist, by party id, unlocked (one read for a page of merchants)."""
        ...

    def pending(self, *, after: str | None = None, limit: int = 100) -> list[KycProfile]:
        """Profiles awaiting an admin's decision (status pending), ordered by party id."""
        ...


class KycApplicationRepository(Protocol):
    """KYC/KYB applications; copies out, ``update`` to change; ``get`` locks the row until the transaction ends."""

    def add(self, application: KycApplication) -> None:
        """Store a new application; ``Conflict`` if its id is taken."""
        ...

    def get(self, application_id: str) -> KycApplication | None: ...

    def update(self, application: KycApplication) -> None:
        """Replace the stored application; ``NotFound`` if there is none."""
        ...

    def for_party(self, party_id: str) -> list[KycApplication]:
        """Every application of a party, oldest first."""
        ...

    def queue(
        self, states: Sequence[ApplicationState], *, after: str | None = None, limit: int = 100
    ) -> list[KycApplication]:
        """Applications in ``states``, by id ascending, strictly after ``after``."""
        ...

    def sharing_id(self, key: str, *, directors: bool = False) -> list[KycApplication]:
        """Every application (any party, any state) whose applicant gave the ID document ``key`` (``id_key``; a
        KYB's ``registration_key``), oldest first; with ``directors``, every KYB naming a director who gave it
        instead (``KycApplication.director_keys``). Adapters store only a keyed hash of each key
        (``PersonalData.lookup``), indexed."""
        ...


class KycUnitOfWork(UnitOfWork, Protocol):
    """One transaction over the profiles and applications, with the audit log and the outbox."""

    @property
    def kyc(self) -> KycRepository: ...

    @property
    def kyc_applications(self) -> KycApplicationRepository: ...


class DocumentStore(Protocol):
    """Where document contents live, as opaque (already encrypted) blobs under a key.

    Adapters: a directory (``cryptopay.adapters.documents.FileDocumentStore``), an S3-compatible object store
    (``cryptopay.adapters.documents.S3DocumentStore``); the in-memory fake in ``cryptopay.core.testing.kyc``.
    ``put`` is atomic: a reader sees the whole blob or none. Keys are document ids (1 to 128 letters, digits, '_'
    or '-'); any other key is ``InvalidInput``, so a key can never name a path.
    """

    def put(self, key: str, blob: bytes) -> None:
        """Store ``blob`` under ``key``, replacing what was there."""
        ...

    def get(self, key: str) -> bytes:
        """The blob under ``key``; ``NotFound`` if there is none."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` (nothing happens if it is not there)."""
        ...

    def stored(self) -> Iterator[tuple[str, datetime]]:
        """Every key held, with when it was last written (for the orphan sweep)."""
        ...


class ImageProbe(Protocol):
    """Decodes an image fully and measures it (Pillow in production): ``(width, height)``, or None if unreadable."""

    def dimensions(self, data: bytes) -> tuple[int, int] | None: ...
