"""Sanctions screening: lists as versioned snapshots, names matched fuzzily, on-chain addresses matched exactly.

Names are compared after ``normalize_name`` (Unicode compatibility form, accents removed, case folded, punctuation
to spaces), so "José Ñúñez" and "JOSE NUNEZ" are the same name, and again after ``fold_name``: each letter replaced
by its look-alike prototype from Unicode's confusables table (UTS #39, shipped as ``data/confusables.json``, generated
by ``scripts/generate_confusables.py``), so a Cyrillic "Аli Моhаmеd" is the Latin "Ali Mohamed", and common
transliteration variants merged (doubled letters, ``y``/``i``, ``ph``/``f``, ``ou``/``u``), so "Aly Mohammed Hasan"
is "Ali Mohamed Hassan". The ``NameMatcher`` port scores a screened name against a listed one from 0 to 100
(rapidfuzz in production); the score of a name is the better of the two forms' scores. A match at or above the
threshold is reported with the list entry, the name it matched and the score. The matcher also indexes each list
version's names once (``NameMatcher.index``), and a screening scores only the names the index says may reach the
threshold -- a superset of those that do, so the index makes screening fast and never changes its answer.

Addresses are matched exactly per network family (EVM addresses case-insensitively, the same key on Ethereum,
Polygon and BSC); a list's "Digital Currency Address - ETH" is an EVM address, "- XBT" a Bitcoin one, "- TRX" a
Tron one, "- USDT" whichever chain its form says.

>>> normalize_name("  José  Ñúñez-O'Brien ")
'jose nunez o brien'
>>> fold_name("Аli Моhаmеd Наssаn"), fold_name("Aly Mohammed Hasan"), fold_name("ALI MOHAMED HASSAN")
('ali mohamed hasan', 'ali mohamed hasan', 'ali mohamed hasan')
>>> xbt, usdt = "Digital Currency Address - XBT", "Digital Currency Address - USDT"
>>> address_network(xbt, "bc1qxyz"), address_network(usdt, "TXyz")
('bitcoin', 'tron')
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
import unicodedata
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from importlib import resources
from typing import Protocol

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import InvalidInput, NotFound, ScreeningUnavailable
from cryptopay.core.ports.storage import UnitOfWork, in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator

__all__ = [
    "DEFAULT_THRESHOLD",
    "SCREENING_UNAVAILABLE",
    "AddressMatch",
    "ListEntry",
    "NameIndex",
    "NameMatch",
    "NameMatcher",
    "SanctionsRepository",
    "Screening",
    "Snapshot",
    "address_key",
    "address_network",
    "fold_name",
    "latin_lookalikes",
    "normalize_name",
]

DEFAULT_THRESHOLD = 90
EVM = frozenset({"ethereum", "polygon", "bsc"})
_CURRENCY_NETWORKS = {"XBT": "bitcoin", "BTC": "bitcoin", "ETH": "ethereum", "TRX": "tron", "BSC": "bsc"}
_PUNCTUATION = re.compile(r"[^\w]+|_")


@functools.cache
def _prototypes() -> dict[str, str]:
    """Unicode's confusables (UTS #39): each character and the prototype it is confused with."""
    text = resources.files("cryptopay.core.compliance").joinpath("data/confusables.json").read_text(encoding="utf-8")
    prototypes: dict[str, str] = json.loads(text)["prototypes"]
    return prototypes


def _latin(text: str) -> bool:
    return bool(text) and all("a" <= c <= "z" for c in text.casefold())


@functools.lru_cache(maxsize=4096)
def _fold_letter(c: str) -> str:
    """One character's look-alike in lower-case Latin where it has one (case-insensitively), else it case folded.

    A lower-case letter is looked up as it is (Cyrillic "р" is "p"), else as a capital (Cyrillic "н" is a small
    capital "Н", which is "H"); Latin letters stay as they are (the table's "I" is "l" and "m" is "rn": true for
    shapes, wrong for case-insensitive names).
    """
    if c.isascii():
        return c.casefold()
    prototypes = _prototypes()
    for form in (c.casefold(), c, c.upper()):
        if _latin(prototypes.get(form, "")):
            return prototypes[form].casefold()
    return prototypes.get(c, c).casefold()


_VARIANTS = (
    (re.compile("ph"), "f"),
    (re.compile("ou|oo"), "u"),
    (re.compile("ee|y"), "i"),
    (re.compile(r"(\w)\1+"), r"\1"),  # doubled letters as one
)


def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def normalize_name(name: str) -> str:
    """A name in the form matching compares: no accents, case folded, punctuation as spaces, single spaces."""
    return " ".join(_PUNCTUATION.sub(" ", _plain(name).casefold()).split())


def latin_lookalikes(text: str) -> str:
    """``text`` as it reads in lower-case Latin: each character as its look-alike prototype (UTS #39: Cyrillic
    "С" is "c", fullwidth "Ｓ" is "s", the ligature "ﬁ" is "fi", the Roman numeral "Ⅿ" is "rn"), compatibility forms
    and accents removed, case folded; characters with no Latin look-alike stay (case folded). Every look-alike
    comparison folds through here (sanctions names, reserved brands in business names and payer-facing text).

    >>> latin_lookalikes("\uff2d\uff30\uff25\uff33\uff21 \u0420\u0415\u0405\u0410 Caf\u00e9 \ufb01ne")
    'mpesa pesa cafe fine'
    """
    if text.isascii():  # each character its own case fold (``_fold_letter``), no decomposition: the same text
        return text.lower()
    folded = text
    for _ in range(2):  # the raw letters first (a compatibility form may lose one), then their decompositions
        folded = _plain("".join(_fold_letter(c) for c in folded))
    return folded.casefold()


def fold_name(name: str) -> str:
    """``normalize_name`` with look-alike letters of any script as their Latin prototype and spelling variants merged.

    >>> fold_name("Каmаu Wеkеsа Оtіеnо") == fold_name("Kamau Wekesa Otieno")  # Cyrillic К а е О і о
    True
    >>> fold_name("Mohammed Youssef Philip")
    'mohamed iusef filip'
    """
    words = _PUNCTUATION.sub(" ", latin_lookalikes(name)).split()
    for pattern, replacement in _VARIANTS:
        words = [pattern.sub(replacement, w) for w in words]
    return " ".join(words)


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


class NameIndex(Protocol):
    """Listed names prepared for screening: which of them may score a threshold against a screened name."""

    def candidates(self, a: str, threshold: float) -> Collection[int]:
        """Positions of the names that may score at least ``threshold`` against ``a``: every name whose ``score``
        reaches it is among them (more are allowed; each is scored)."""
        ...


class NameMatcher(Protocol):
    """Scores a screened name ``a`` against a listed name ``b`` (both normalised) from 0 (nothing alike) to 100 (the
    listed name): word order ignored, and words ``a`` has beyond ``b``'s do not lower the score."""

    def score(self, a: str, b: str) -> float: ...

    def index(self, names: Sequence[str]) -> NameIndex:
        """These listed names (normalised) indexed, once per list version, for ``NameIndex.candidates``."""
        ...


@attrs.frozen
class _Listed:
    """One snapshot's entries with names, their (normalised, folded) forms, and both forms' indexes."""

    source: str
    entries: list[tuple[str, ListEntry, tuple[tuple[str, str], ...]]]
    owners: list[int]  # the entry of each name, in the order the indexes hold them
    plain: NameIndex
    folded: NameIndex


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


# Why money waits (``Withdrawal.held``, a remittance's ``remittance.waiting`` reason, a KYC application's flag):
# screening is required and no sanctions list is loaded (``Screening.must_wait``); it goes on once a list is imported.
SCREENING_UNAVAILABLE = "screening_unavailable"


@attrs.define(kw_only=True)
class Screening:
    """The screening port's implementation: import lists, screen names and addresses against the latest snapshots."""

    uow: Callable[[], AbstractContextManager[SanctionsUnitOfWork]]
    matcher: NameMatcher
    clock: Clock
    ids: IdGenerator
    threshold: float = DEFAULT_THRESHOLD
    required: bool = False  # CRYPTOPAY_SCREENING_REQUIRED: with no list loaded, money screened waits (``must_wait``)
    _cache: dict[str, _Listed] = attrs.field(factory=dict, init=False)  # by snapshot id: each source's last used
    _building: threading.Lock = attrs.field(factory=threading.Lock, init=False)  # one build at a time

    def import_list(self, source: str, version: str, entries: Sequence[ListEntry], *, actor: str) -> Snapshot:
        """Store a new snapshot of ``source`` (the same entries as the latest: that snapshot, nothing stored), and
        build its name index here, at the import (``prepare``), not in the first screening after it."""
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

        snapshot = in_transaction(self.uow, work)
        self.prepare()
        return snapshot

    def prepare(self) -> list[Snapshot]:
        """Build the entries and name indexes of the latest snapshots this process has not built yet; the snapshots
        built. The import calls it, and a long-running process calls it in the background (the API's workers:
        ``cryptopay_http.wsgi.keep_screening_warm``), so a screening finds a new list version ready: the build takes
        about 3 s at 36,000 names, which the first screening after an import paid inside someone's request. A
        screening that finds a version not built yet still builds it (``_entries``: the fallback)."""
        built = []
        for snapshot in self._latest():
            if snapshot.id not in self._cache:
                self._entries(snapshot)
                built.append(snapshot)
        return built

    def snapshots(self) -> list[Snapshot]:
        with self.uow() as uow:
            return uow.sanctions.snapshots()

    def lists_in_use(self) -> list[Snapshot]:
        """The newest snapshot of each source, the lists a screening runs against (by source), named in every
        officer's screening answer; ``ScreeningUnavailable`` when none is loaded: "no match" against no list is no
        answer (``cryptopay compliance lists import FILE``, docs/operations.md "Sanctions lists missing or old")."""
        latest = self._latest()
        if not latest:
            raise ScreeningUnavailable(
                "no sanctions list is loaded: nothing can be screened; import one with "
                "`cryptopay compliance lists import FILE`"
            )
        return latest

    def must_wait(self) -> bool:
        """Whether what the products screen must wait: screening is required (``CRYPTOPAY_SCREENING_REQUIRED``, on
        in production) and no list is loaded, so a screening now would answer "no match" having checked nothing.
        Withdrawals and remittance payouts are held, sign-ups and KYC approvals flagged "screening pending", until a
        list is imported (docs/operations.md "Sanctions lists missing or old")."""
        return self.required and not self._latest()

    def screen_name(self, name: str, *, threshold: float | None = None) -> list[NameMatch]:
        """Listed names scoring at least the threshold against ``name``, best first."""
        wanted = normalize_name(name)
        if not wanted:
            raise InvalidInput("screen a name with at least one letter or digit", field="name")
        folded = fold_name(name)
        limit = self.threshold if threshold is None else threshold
        matches: list[NameMatch] = []
        for snapshot in self._latest():
            listed = self._entries(snapshot)
            hits = {*listed.plain.candidates(wanted, limit), *listed.folded.candidates(folded, limit)}
            for at in sorted({listed.owners[n] for n in hits}):  # the others score below the limit
                source, entry, forms = listed.entries[at]
                best = max(
                    (max(self.matcher.score(wanted, plain), self.matcher.score(folded, fold)), listed)
                    for (plain, fold), listed in zip(forms, entry.names, strict=True)
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

    def _entries(self, snapshot: Snapshot) -> _Listed:
        """A snapshot's entries and indexes, built on first use unless ``prepare`` built them (a snapshot never
        changes). One build at a time: a screening arriving while one runs waits for it rather than building the
        same version again."""
        listed = self._cache.get(snapshot.id)
        if listed is not None:
            return listed
        with self._building:
            return self._cache.get(snapshot.id) or self._build(snapshot)

    def _build(self, snapshot: Snapshot) -> _Listed:
        with self.uow() as uow:
            entries = uow.sanctions.entries(snapshot.id)
        rows = [
            (snapshot.source, e, tuple((normalize_name(n), fold_name(n)) for n in e.names)) for e in entries if e.names
        ]
        owners = [at for at, (_, _, forms) in enumerate(rows) for _ in forms]
        plain = self.matcher.index([p for _, _, forms in rows for p, _ in forms])
        folded = self.matcher.index([f for _, _, forms in rows for _, f in forms])
        listed = _Listed(snapshot.source, rows, owners, plain, folded)
        # one snapshot per source kept: a long-running process importing a list daily would otherwise hold
        # every day's entries and indexes (an older snapshot asked for again is rebuilt)
        stale = [key for key, kept in list(self._cache.items()) if kept.source == snapshot.source]
        for key in stale:
            self._cache.pop(key, None)
        self._cache[snapshot.id] = listed
        return listed

    def snapshot(self, snapshot_id: str) -> Snapshot:
        for snapshot in self.snapshots():
            if snapshot.id == snapshot_id:
                return snapshot
        raise NotFound(f"no sanctions snapshot {snapshot_id}")
