"""Sanctions screening: lists as versioned snapshots, names matched fuzzily, on-chain addresses matched exactly.

Names are compared after ``normalize_name`` (Unicode compatibility form, accents removed, case folded, punctuation
to spaces), so "José Ñúñez" and "JOSE NUNEZ" are the same name; the ``NameMatcher`` port scores two normalised names
from 0 to 100 (rapidfuzz in production) and must be symmetric. A match at or above the threshold is reported with the
list entry, the name it matched and the score. Addresses are matched exactly per network family (EVM addresses
case-insensitively, the same key on Ethereum, Polygon and BSC); a list's "Digital Currency Address - ETH" is an EVM
address, "- XBT" a Bitcoin one, "- TRX" a Tron one, "- USDT" whichever chain its form says.

>>> normalize_name("  José  Ñúñez-O'Brien ")
'jose nunez o brien'
>>> xbt, usdt = "Digital Currency Address - XBT", "Digital Currency Address - USDT"
>>> address_network(xbt, "bc1qxyz"), address_network(usdt, "TXyz")
('bitcoin', 'tron')
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.ports.storage import UnitOfWork, in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator

__all__ = [
    "DEFAULT_THRESHOLD",
    "AddressMatch",
    "ListEntry",
    "NameMatch",
    "NameMatcher",
    "SanctionsRepository",
    "Screening",
    "Snapshot",
    "address_key",
    "address_network",
    "normalize_name",
]

DEFAULT_THRESHOLD = 90
EVM = frozenset({"ethereum", "polygon", "bsc"})
_CURRENCY_NETWORKS = {"XBT": "bitcoin", "BTC": "bitcoin", "ETH": "ethereum", "TRX": "tron", "BSC": "bsc"}
_PUNCTUATION = re.compile(r"[^\w]+|_")


def normalize_name(name: str) -> str:
    """A name in the form matching compares: no accents, case folded, punctuation as spaces, single spaces."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_PUNCTUATION.sub(" ", plain.casefold()).split())


def address_network(id_type: str, address: str) -> str | None:
    """The network a list's "Digital Currency Address - XXX" belongs to (None: a chain we do not run)."""
    currency = id_type.rsplit("-", 1)[-1].strip().upper()
    if currency in _CURRENCY_NETWORKS:
        return _CURRENCY_NETWORKS[currency]
    if currency in ("USDT", "USDC"):
        if address.startswith("0x"):
            return "ethereum"
        if address.startswith("T"):
            return "tron"
    return None


def address_key(network: str, address: str) -> tuple[str, str]:
    """(network family, address) as stored and looked up: EVM chains share one family, lower-cased."""
    text = address.strip()
    if network in EVM:
        return "evm", text.lower()
    if network == "bitcoin" and text.lower().startswith("bc1"):
        return "bitcoin", text.lower()  # bech32 is case-insensitive
    return network, text


@attrs.frozen(kw_only=True)
class ListEntry:
    """One listed party: its list reference, kind, names (primary first, then aliases), programs and addresses."""

    ref: str
    kind: str  # individual, entity, vessel, aircraft
    names: tuple[str, ...]
    programs: tuple[str, ...] = ()
    addresses: tuple[tuple[str, str], ...] = ()  # (network, address)


@attrs.frozen(kw_only=True)
class Snapshot:
    """One imported version of a list; the newest of each source is the one screened against."""

    id: str
    source: str  # ofac_sdn, un_consolidated
    version: str  # the publisher's date of the list
    digest: str  # SHA-256 of the entries as imported: the same list twice is one snapshot
    imported_at: datetime
    entries: int
    addresses: int


@attrs.frozen
class NameMatch:
    source: str
    snapshot_id: str
    ref: str
    listed_name: str
    score: float


@attrs.frozen
class AddressMatch:
    source: str
    snapshot_id: str
    ref: str
    network: str
    address: str


class NameMatcher(Protocol):
    """Scores two normalised names from 0 (nothing alike) to 100 (the same); symmetric."""

    def score(self, a: str, b: str) -> float: ...


class SanctionsRepository(Protocol):
    """Snapshots and their entries; ``latest`` per source; addresses looked up by (family, key)."""

    def add(self, snapshot: Snapshot, entries: Sequence[ListEntry]) -> None: ...

    def latest(self, source: str) -> Snapshot | None: ...

    def snapshots(self) -> list[Snapshot]:
        """Every snapshot, oldest first."""
        ...

    def entries(self, snapshot_id: str) -> list[ListEntry]:
        """A snapshot's entries by reference."""
        ...

    def by_address(self, snapshot_ids: Sequence[str], family: str, key: str) -> list[tuple[str, str]]:
        """(snapshot id, entry ref) of the entries listing this address in these snapshots."""
        ...


class SanctionsUnitOfWork(UnitOfWork, Protocol):
    @property
    def sanctions(self) -> SanctionsRepository: ...


def digest(entries: Iterable[ListEntry]) -> str:
    text = "\n".join(repr(attrs.astuple(e)) for e in sorted(entries, key=lambda e: e.ref))
    return hashlib.sha256(text.encode()).hexdigest()


@attrs.define(kw_only=True)
class Screening:
    """The screening port's implementation: import lists, screen names and addresses against the latest snapshots."""

    uow: Callable[[], AbstractContextManager[SanctionsUnitOfWork]]
    matcher: NameMatcher
    clock: Clock
    ids: IdGenerator
    threshold: float = DEFAULT_THRESHOLD
    _cache: dict[str, list[tuple[str, ListEntry, tuple[str, ...]]]] = attrs.field(factory=dict, init=False)

    def import_list(self, source: str, version: str, entries: Sequence[ListEntry], *, actor: str) -> Snapshot:
        """Store a new snapshot of ``source`` (the same entries as the latest: that snapshot, nothing stored)."""
        if not entries:
            raise InvalidInput(f"the {source} list has no entries: refusing to replace a list with nothing")
        found = digest(entries)
        now = self.clock.now()

        def work(uow: SanctionsUnitOfWork) -> Snapshot:
            latest = uow.sanctions.latest(source)
            if latest is not None and latest.digest == found:
                return latest
            snapshot = Snapshot(
                id=self.ids.new_id("snp"),
                source=source,
                version=version,
                digest=found,
                imported_at=now,
                entries=len(entries),
                addresses=sum(len(e.addresses) for e in entries),
            )
            uow.sanctions.add(snapshot, entries)
            details = {"source": source, "version": version, "entries": str(snapshot.entries)}
            uow.audit.append(AuditEvent(actor, "sanctions.list_imported", f"sanctions:{snapshot.id}", now, details))
            return snapshot

        return in_transaction(self.uow, work)

    def snapshots(self) -> list[Snapshot]:
        with self.uow() as uow:
            return uow.sanctions.snapshots()

    def screen_name(self, name: str, *, threshold: float | None = None) -> list[NameMatch]:
        """Listed names scoring at least the threshold against ``name``, best first."""
        wanted = normalize_name(name)
        if not wanted:
            raise InvalidInput("screen a name with at least one letter or digit", field="name")
        limit = self.threshold if threshold is None else threshold
        matches: list[NameMatch] = []
        for snapshot in self._latest():
            for source, entry, normalised in self._entries(snapshot):
                best = max(
                    ((self.matcher.score(wanted, n), listed) for n, listed in zip(normalised, entry.names, strict=True))
                )
                if best[0] >= limit:
                    matches.append(NameMatch(source, snapshot.id, entry.ref, best[1], round(best[0], 1)))
        return sorted(matches, key=lambda m: (-m.score, m.source, m.ref))

    def screen_address(self, network: str, address: str) -> list[AddressMatch]:
        """Entries listing ``address`` on ``network``'s family, exactly."""
        family, key = address_key(network, address)
        latest = {s.id: s for s in self._latest()}
        with self.uow() as uow:
            hits = uow.sanctions.by_address(list(latest), family, key)
        return [AddressMatch(latest[sid].source, sid, ref, network, address) for sid, ref in hits]

    def sanctioned_counterparty(self, network: str | None, counterparty: str | None) -> bool:
        """For monitoring: is this counterparty (an address on ``network``, else a name) listed?"""
        if not counterparty:
            return False
        if network is not None:
            return bool(self.screen_address(network, counterparty))
        return bool(self.screen_name(counterparty))

    def _latest(self) -> list[Snapshot]:
        with self.uow() as uow:
            found = [uow.sanctions.latest(source) for source in {s.source for s in uow.sanctions.snapshots()}]
        return sorted((s for s in found if s is not None), key=lambda s: s.source)

    def _entries(self, snapshot: Snapshot) -> list[tuple[str, ListEntry, tuple[str, ...]]]:
        if snapshot.id not in self._cache:
            with self.uow() as uow:
                entries = uow.sanctions.entries(snapshot.id)
            self._cache[snapshot.id] = [
                (snapshot.source, e, tuple(normalize_name(n) for n in e.names)) for e in entries if e.names
            ]
        return self._cache[snapshot.id]

    def snapshot(self, snapshot_id: str) -> Snapshot:
        for snapshot in self.snapshots():
            if snapshot.id == snapshot_id:
                return snapshot
        raise NotFound(f"no sanctions snapshot {snapshot_id}")
