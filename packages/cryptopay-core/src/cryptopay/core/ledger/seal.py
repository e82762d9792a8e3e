"""Ledger entries sealed into the audit chain in batches: what a batch covers and the digest that proves it (R10-6).

A P2P send audits nothing itself (an audit record in every send would serialise sends on the chain's head), so the
worker's ``ledger.seal`` job seals committed entries afterwards, many to an audit record: ``ledger.sealed`` names
the batch's range of *positions* (the store's commit-order key, then the entry id), how many entries it holds and a
SHA-256 digest over their canonical content (every stored field of the entry and of each line, amounts
normalised). The audit record is chained and anchored outside like every other, so an entry edited, deleted or
inserted inside a sealed range after the fact no longer matches its batch.

Invariants: batches follow each other (each starts right after the previous one's last position); a store only
offers entries no transaction can still precede (PostgreSQL: below the snapshot's xmin), so nothing ever commits
into a range already sealed.

>>> from datetime import datetime, timezone
>>> from decimal import Decimal
>>> at = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> line = SealedLine("assets:a", "KES", Decimal("10.00"), Decimal("0"), Decimal("10"))
>>> entry = SealedEntry(SealPosition(7, "ent_1"), "ent_1", "k1", "a gift", at, lines=(line,))
>>> batch = SealBatch.of(None, [entry])
>>> (batch.count, str(batch.first), str(batch.last))
(1, '7:ent_1', '7:ent_1')
>>> SealBatch.from_event(batch.event(at)) == batch
True
>>> edited = attrs.evolve(entry, lines=(attrs.evolve(line, amount=Decimal("1000")),))
>>> batch.differs([edited])
'its entries differ from what was sealed (edited)'
>>> batch.differs([entry]) is None and entry_digest(entry) == entry_digest(attrs.evolve(entry, lines=(
...     attrs.evolve(line, amount=Decimal("10")),)))  # 10.00 and 10 are one amount
True
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import InvalidInput
from cryptopay.core.ledger.model import Entry

__all__ = [
    "SEAL_ACTION",
    "SEAL_ACTOR",
    "SEAL_SUBJECT",
    "SealBatch",
    "SealPosition",
    "SealProblem",
    "SealReport",
    "SealedEntry",
    "SealedLine",
    "entry_digest",
]

SEAL_ACTION = "ledger.sealed"
SEAL_SUBJECT = "ledger:entries"
SEAL_ACTOR = "system:ledger_seal"


@attrs.frozen(order=True)
class SealPosition:
    """Where an entry stands in commit order: the store's key (PostgreSQL: the writing transaction's id; SQLite: the
    row id; memory: the insertion number), then the entry id (one transaction writes many entries)."""

    tx: int
    entry_id: str

    def __str__(self) -> str:
        return f"{self.tx}:{self.entry_id}"

    @classmethod
    def parse(cls, text: str) -> SealPosition:
        tx, sep, entry_id = text.partition(":")
        if not sep or not tx.isdigit() or not entry_id:
            raise InvalidInput(f"not a seal position (TX:ENTRY_ID): {text[:80]!r}")
        return cls(int(tx), entry_id)


@attrs.frozen
class SealedLine:
    """A stored line, as stored (amounts not quantized: a change below the asset's quantum is a change too)."""

    account: str
    asset: str
    amount: Decimal
    balance_before: Decimal
    balance_after: Decimal


@attrs.frozen
class SealedEntry:
    """A stored entry with its position and lines (in line order): everything the seal covers."""

    position: SealPosition
    id: str
    idempotency_key: str
    description: str
    created_at: datetime
    quote_id: str | None = None
    reverses: str | None = None
    hold_id: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    lines: tuple[SealedLine, ...] = ()

    @classmethod
    def of(cls, entry: Entry, position: SealPosition) -> SealedEntry:
        lines = tuple(
            SealedLine(x.account, x.amount.asset.code, x.amount.amount, x.balance_before, x.balance_after)
            for x in entry.lines
        )
        return cls(
            position,
            entry.id,
            entry.idempotency_key,
            entry.description,
            entry.created_at,
            entry.quote_id,
            entry.reverses,
            entry.hold_id,
            entry.metadata,
            lines,
        )


def _amount(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def entry_digest(entry: SealedEntry) -> str:
    """SHA-256 over a canonical JSON form of the entry (its position included: moving an entry is a change)."""
    body = [
        str(entry.position),
        entry.id,
        entry.idempotency_key,
        entry.description,
        entry.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        entry.quote_id,
        entry.reverses,
        entry.hold_id,
        [list(pair) for pair in entry.metadata],
        [
            [x.account, x.asset, _amount(x.amount), _amount(x.balance_before), _amount(x.balance_after)]
            for x in entry.lines
        ],
    ]
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def _batch_digest(entries: Iterable[SealedEntry]) -> tuple[int, str]:
    digest, count = hashlib.sha256(), 0
    for entry in entries:
        digest.update(bytes.fromhex(entry_digest(entry)))
        count += 1
    return count, digest.hexdigest()


@attrs.frozen
class SealBatch:
    """One ``ledger.sealed`` record: the entries after ``after`` up to ``last`` (inclusive), ``count`` of them."""

    after: SealPosition | None
    first: SealPosition
    last: SealPosition
    count: int
    digest: str

    @classmethod
    def of(cls, after: SealPosition | None, entries: Sequence[SealedEntry]) -> SealBatch:
        """The batch of ``entries`` (in position order, all after ``after``)."""
        assert entries and all(a.position < b.position for a, b in itertools.pairwise(entries))
        assert after is None or after < entries[0].position
        count, digest = _batch_digest(entries)
        return cls(after, entries[0].position, entries[-1].position, count, digest)

    def event(self, at: datetime) -> AuditEvent:
        details = {
            "after": str(self.after) if self.after else "-",
            "first": str(self.first),
            "last": str(self.last),
            "count": str(self.count),
            "digest": self.digest,
        }
        return AuditEvent(SEAL_ACTOR, SEAL_ACTION, SEAL_SUBJECT, at, details)

    @classmethod
    def from_event(cls, event: AuditEvent) -> SealBatch:
        """``InvalidInput`` when a ``ledger.sealed`` record's details are not a batch's."""
        d: Mapping[str, str] = dict(event.details)
        try:
            after = None if d["after"] == "-" else SealPosition.parse(d["after"])
            first, last = SealPosition.parse(d["first"]), SealPosition.parse(d["last"])
            return cls(after, first, last, int(d["count"]), d["digest"])
        except (KeyError, ValueError) as error:
            raise InvalidInput(f"not a ledger seal record: {error}") from error

    def differs(self, found: Sequence[SealedEntry]) -> str | None:
        """Why the entries now stored in this batch's range are not the ones sealed; None when they are."""
        count, digest = _batch_digest(found)
        if count != self.count:
            return f"{count} entries where {self.count} were sealed (deleted or inserted)"
        if digest != self.digest:
            return "its entries differ from what was sealed (edited)"
        return None


@attrs.frozen
class SealProblem:
    """A sealed batch (the audit record ``seq``) whose entries no longer match, or a broken sequence of batches."""

    seq: int
    batch: str
    reason: str

    def __str__(self) -> str:
        return f"ledger seal #{self.seq} ({self.batch}): {self.reason}"


@attrs.frozen
class SealReport:
    """What ``verify`` found: how many entries are sealed, how many wait for the next run, and every problem."""

    batches: int
    sealed: int
    waiting: int
    problems: tuple[SealProblem, ...] = ()
