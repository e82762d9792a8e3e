"""KYC port: the store of each party's verification profile (one per party).

Repositories hand out copies: a change counts only once it is ``update``-d. ``get`` locks the profile's row until
the transaction ends (``SELECT ... FOR UPDATE`` on PostgreSQL), so two admins deciding at once are serialised and
neither approval is lost. ``pending`` is keyset-paginated by party id, ascending, strictly ``after`` the given id.
"""

from __future__ import annotations

from typing import Protocol

from cryptopay.core.kyc import KycProfile

__all__ = ["KycRepository"]


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

    def pending(self, *, after: str | None = None, limit: int = 100) -> list[KycProfile]:
        """Profiles awaiting an admin's decision (status pending), ordered by party id."""
        ...
