"""Ledger entries sealed into the audit chain in batches: what a batch covers and the digest that proves it (R10-6).

A P2P send audits nothing itself (an audit record in every send would serialise sends on the chain's head), so the
worker's ``ledger.seal`` job seals committed entries afterwards, many to an audit record: ``ledger.sealed`` names
the batch's range of *positions* (the store's commit-order key, then the entry id), how many entries it holds and a
SHA-256 digest over their canonical content (every stored field of the entry and of each line, amounts
normalised). The audit record is chained and anchored outside like every other, so an entry edited, deleted or
inserted inside a sealed range after the fact no longer matches its batch.

A wallet transfer's row (``wallet_transfers``) is a mutable document (its state, claim and held-send decisions, its
personal fields re-sealed under a new key), but what it was when sent is not: from seal version 2 the entry of a P2P
send (and of a claim, once claimed) seals its transfer's fixed fields too (``SealedTransfer``: sender, the recipient's
wallet, amount, fee, asset, time; not the recipient's phone, which is sealed personal data under rotating keys), so an
amount or a party changed on the transfer is named like an edited entry. Batches sealed before keep version 1.

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
    "SEAL_VERSION",
    "SealBatch",
    "SealPosition",
    "SealProblem",
    "SealReport",
    "SealedEntry",
    "SealedLine",
    "SealedTransfer",
    "entry_digest",
    "sealed_transfer_id",
]

SEAL_ACTION = "ledger.sealed"
SEAL_SUBJECT = "ledger:entries"
SEAL_ACTOR = "system:ledger_seal"
SEAL_VERSION = 2  # 1: entries and lines; 2: also the fixed fields of a P2P send's (or claim's) transfer
_TRANSFER_KINDS = frozenset({"p2p", "p2p_claim"})  # the entries of ``flows.send_p2p`` and ``flows.settle_claim``


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
class SealedTransfer:
    """A wallet transfer's fields fixed once it is sent (once claimed, for a send to a number with no wallet).

    ``sender_id``/``recipient_id`` name both what the row's columns and its document say (``a|b`` when they
    differ: either one edited is a change)."""

    id: str
    sender_id: str
    recipient_id: str | None
    amount: Decimal
    fee: Decimal
    asset: str
    created_at: datetime


def sealed_transfer_id(metadata: Iterable[tuple[str, str]]) -> str | None:
    """The transfer whose fixed fields an entry's seal covers (a P2P send's or a claim's entry), else None.

    >>> sealed_transfer_id((("kind", "p2p"), ("transfer_id", "trf_1"))), sealed_transfer_id((("kind", "buy"),))
    ('trf_1', None)
    """
    meta = dict(metadata)
    return meta.get("transfer_id") if meta.get("kind") in _TRANSFER_KINDS else None


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
    transfer: SealedTransfer | None = None  # ``sealed_transfer_id``'s transfer as stored (None: none stored)

    @classmethod
    def of(cls, entry: Entry, position: SealPosition, transfer: SealedTransfer | None = None) -> SealedEntry:
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
            transfer,
        )


def _amount(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _transfer_body(entry: SealedEntry, transfer_id: str) -> list[str | None]:
    """The fixed fields of the entry's transfer; a send to a number with no wallet names no recipient wallet (it is
    filled in when claimed, and the claim's entry seals it then)."""
    t = entry.transfer
    if t is None or t.id != transfer_id:
        return ["missing", transfer_id]
    meta = dict(entry.metadata)
    recipient = None if meta.get("kind") == "p2p" and not meta.get("recipient") else t.recipient_id
    created = t.created_at.astimezone(UTC).isoformat(timespec="microseconds")
    return [t.id, t.sender_id, recipient, _amount(t.amount), _amount(t.fee), t.asset, created]


def entry_digest(entry: SealedEntry, version: int = SEAL_VERSION) -> str:
    """SHA-256 over a canonical JSON form of the entry (its position included: moving an entry is a change), and
    from ``version`` 2 its transfer's fixed fields (``sealed_transfer_id``)."""
    body: list[object] = [
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
    if version >= 2 and (transfer_id := sealed_transfer_id(entry.metadata)) is not None:
        body.append(_transfer_body(entry, transfer_id))
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def _batch_digest(entries: Iterable[SealedEntry], version: int) -> tuple[int, str]:
    digest, count = hashlib.sha256(), 0
    for entry in entries:
        digest.update(bytes.fromhex(entry_digest(entry, version)))
        count += 1
    return count, digest.hexdigest()


@attrs.frozen
class SealBatch:
    """One ``ledger.sealed`` record: the entries after ``after`` up to ``last`` (inclusive), ``count`` of them
    (``version``: what the digest covers, ``SEAL_VERSION``; a record without one is version 1)."""

    after: SealPosition | None
    first: SealPosition
    last: SealPosition
    count: int
    digest: str
    version: int = SEAL_VERSION

    @classmethod
    def of(cls, after: SealPosition | None, entries: Sequence[SealedEntry]) -> SealBatch:
        """The batch of ``entries`` (in position order, all after ``after``)."""
        assert entries and all(a.position < b.position for a, b in itertools.pairwise(entries))
        assert after is None or after < entries[0].position
        count, digest = _batch_digest(entries, SEAL_VERSION)
        return cls(after, entries[0].position, entries[-1].position, count, digest)

    def event(self, at: datetime) -> AuditEvent:
        details = {
            "after": str(self.after) if self.after else "-",
            "first": str(self.first),
            "last": str(self.last),
            "count": str(self.count),
            "digest": self.digest,
        }
        if self.version != 1:
            details["version"] = str(self.version)
        return AuditEvent(SEAL_ACTOR, SEAL_ACTION, SEAL_SUBJECT, at, details)

    @classmethod
    def from_event(cls, event: AuditEvent) -> SealBatch:
        """``InvalidInput`` when a ``ledger.sealed`` record's details are not a batch's."""
        d: Mapping[str, str] = dict(event.details)
        try:
            after = None if d["after"] == "-" else SealPosition.parse(d["after"])
            first, last = SealPosition.parse(d["first"]), SealPosition.parse(d["last"])
            version = int(d.get("version", "1"))
            if not 1 <= version <= SEAL_VERSION:
                raise ValueError(f"unknown seal version {version}")
            return cls(after, first, last, int(d["count"]), d["digest"], version)
        except (KeyError, ValueError) as error:
            raise InvalidInput(f"not a ledger seal record: {error}") from error

    def differs(self, found: Sequence[SealedEntry]) -> str | None:
        """Why the entries now stored in this batch's range are not the ones sealed; None when they are."""
        count, digest = _batch_digest(found, self.version)
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
