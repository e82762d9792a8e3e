"""The audit log: append-only records chained by hashes, so an edited or deleted record is detectable.

Each record's hash covers its own fields and the previous record's hash; the first record chains to
``GENESIS_HASH``. ``verify_chain`` re-computes the chain and names every record that does not fit.

>>> from datetime import datetime, timezone
>>> at = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
>>> first = chain_next(None, AuditEvent("admin:a1", "kyc.approve", "user:u1", at, {"tier": "1"}), "aud_1")
>>> second = chain_next(first, AuditEvent("admin:a2", "kyc.approve", "user:u2", at), "aud_2")
>>> second.prev_hash == first.hash
True
>>> verify_chain([first, second])
[]
>>> tampered = attrs.evolve(first, subject="user:u9")
>>> [problem.reason for problem in verify_chain([tampered, second])]
['hash does not match the record (edited)']

The chain alone proves nothing against someone who can write the database: they can re-hash a rewritten suffix and
move the head (R10-2). An ``Anchor`` is a (seq, hash) copied outside the database (the worker logs the head, and log
shipping keeps the line); ``verify_chain(..., anchors=...)`` also checks the chain still passes through each one.

>>> Anchor.parse(f"2:{second.hash}") == Anchor(2, second.hash) == Anchor.parse(f"seq=2 hash={second.hash}")
True
>>> Anchor.found_in(f"tx 7:{second.hash} seen\\n2:{second.hash}\\n") == [Anchor(2, second.hash)]  # whole lines only
True
>>> [p.reason for p in verify_chain([first, second], anchors=[Anchor(2, "f" * 64)])][0][:44]
'hash differs from the anchor kept outside (r'
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import attrs
from cryptopay.core.errors import InvalidInput

__all__ = [
    "ANCHOR_FIELD",
    "ANCHOR_LOGGER",
    "GENESIS_HASH",
    "Anchor",
    "AuditEvent",
    "AuditProblem",
    "AuditQuery",
    "AuditRecord",
    "action_in",
    "chain_next",
    "record_hash",
    "verify_chain",
]

GENESIS_HASH = "0" * 64


def _as_details(details: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in dict(details).items()))


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise InvalidInput("audit times must be timezone-aware")
    return moment.astimezone(UTC)


@attrs.frozen
class AuditEvent:
    """What happened, who did it and to what; details are short strings (never secrets)."""

    actor: str
    action: str
    subject: str
    at: datetime = attrs.field(converter=_utc)
    details: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_as_details)


@attrs.frozen
class AuditRecord:
    """A stored audit event: its position ``seq``, the previous record's hash and its own."""

    seq: int
    id: str
    at: datetime = attrs.field(converter=_utc)
    actor: str
    action: str
    subject: str
    details: tuple[tuple[str, str], ...] = attrs.field(converter=_as_details)
    prev_hash: str
    hash: str

    @property
    def event(self) -> AuditEvent:
        return AuditEvent(self.actor, self.action, self.subject, self.at, self.details)


@attrs.frozen
class AuditQuery:
    """What an officer searches the log for; every given criterion must hold (an empty query matches everything).

    ``subjects``: the record's subject is one of them; ``actor``: who acted, exactly; ``action``: the action begins
    with it (``kyc.`` finds every KYC decision); ``since`` (inclusive) and ``until`` (exclusive): the record's time;
    ``hidden``: actions left out whatever else matches (``action_in``'s patterns: the compliance desk's records,
    for a searcher outside it: ``audit_search.DESK_ACTIONS``). On SQL the subject and actor criteria use the
    ``(subject, seq)`` and ``(actor, seq)`` indexes."""

    subjects: tuple[str, ...] = ()
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    hidden: tuple[str, ...] = ()

    def matches(self, record: AuditRecord) -> bool:
        """Whether ``record`` meets every criterion (the in-memory log's filter; SQL asks the same in its query).

        >>> at = datetime(2026, 3, 1, tzinfo=UTC)
        >>> r = chain_next(None, AuditEvent("ops:ann", "kyc.approve", "user:u1", at), "aud_1")
        >>> AuditQuery(("user:u1",), action="kyc.").matches(r), AuditQuery(actor="ops:bob").matches(r)
        (True, False)
        >>> AuditQuery(since=at).matches(r), AuditQuery(until=at).matches(r), AuditQuery(hidden=("kyc.",)).matches(r)
        (True, False, False)
        """
        return (
            (not self.subjects or record.subject in self.subjects)
            and (self.actor is None or record.actor == self.actor)
            and (self.action is None or record.action.startswith(self.action))
            and (self.since is None or record.at >= self.since)
            and (self.until is None or record.at < self.until)
            and not action_in(record.action, self.hidden)
        )


def action_in(action: str, patterns: Iterable[str]) -> bool:
    """Whether ``action`` is one of ``patterns``: equal to one, or starting with one that ends in ``.`` or ``_`` (a
    family: ``compliance.``, ``wallet.held_send_``), or ending with one that starts with ``.`` (``.own_party_refused``).
    One rule for every list of actions kept from someone (the privacy export's, the admins' audit search).

    >>> [action_in(a, ("kyc.frozen", "wallet.held_send_", ".own_party_refused")) for a in
    ...  ("kyc.frozen", "kyc.frozen_x", "wallet.held_send_kept", "aml.own_party_refused", "wallet.held")]
    [True, False, True, True, False]
    """
    return any(
        action == p or (p.endswith((".", "_")) and action.startswith(p)) or (p.startswith(".") and action.endswith(p))
        for p in patterns
    )


@attrs.frozen
class AuditProblem:
    """A record that breaks the chain (``seq`` is where the break shows)."""

    seq: int
    record_id: str
    reason: str

    def __str__(self) -> str:
        return f"audit record #{self.seq} ({self.record_id}): {self.reason}"


_ANCHOR = re.compile(r"(\d+):([0-9a-f]{64})|seq=(\d+) hash=([0-9a-f]{64})")
# The worker's anchor, as its JSON log line carries it: this field (``SEQ:HASH``) of a line by this logger. Only the
# structured field counts, never words in a message, which other text can put in a log (reader2 M-6).
ANCHOR_LOGGER = "cryptopay.audit.anchor"
ANCHOR_FIELD = "audit_anchor"
_LINE = re.compile(r"(\d+):([0-9a-f]{64})")


def _pair(match: re.Match[str]) -> tuple[int, str]:
    seq, hash_ = (match[1], match[2]) if match[1] is not None else (match[3], match[4])
    return int(seq), hash_


@attrs.frozen
class Anchor:
    """A chain position kept outside the database: record ``seq`` had hash ``hash`` (``seq`` 0: the empty log)."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """``SEQ:HASH`` (or ``seq=SEQ hash=HASH``, as the worker logs it); ``InvalidInput`` otherwise."""
        match = _ANCHOR.fullmatch(text.strip())
        if match is None:
            raise InvalidInput(
                f"not an audit anchor (SEQ:HASH, the hash 64 lowercase hex digits): {text.strip()[:80]!r}"
            )
        return cls(*_pair(match))

    @classmethod
    def found_in(cls, text: str) -> list[Anchor]:
        """Every anchor in ``text``, in the order found: a line that is only ``SEQ:HASH``, or a JSON log line of the
        worker's (``logger`` ``cryptopay.audit.anchor``) by its ``audit_anchor`` field. Any other line is ignored,
        whatever its message says: a message can quote anything, so it could name a false anchor and raise a false
        alarm (reader2 M-6).

        >>> h = "ab" * 32
        >>> logged = json.dumps({"logger": ANCHOR_LOGGER, "message": f"seq=9 hash={h}", ANCHOR_FIELD: f"9:{h}"})
        >>> text = f"7:{h}\\nanything: audit head anchored: seq=8 hash={h}\\n{logged}"
        >>> [a.seq for a in Anchor.found_in(text)]
        [7, 9]
        """
        found = []
        for line in text.splitlines():
            pair = _LINE.fullmatch(line.strip()) or _LINE.fullmatch(_logged_anchor(line))
            if pair is not None:
                found.append(cls(int(pair[1]), pair[2]))
        return found


def _logged_anchor(line: str) -> str:
    """The ``audit_anchor`` field of the worker's JSON log line ``line``; "" for any other line."""
    if not line.lstrip().startswith("{"):
        return ""
    try:
        logged = json.loads(line)
    except ValueError:
        return ""
    if not isinstance(logged, dict) or logged.get("logger") != ANCHOR_LOGGER:
        return ""
    value = logged.get(ANCHOR_FIELD)
    return value if isinstance(value, str) else ""


def record_hash(seq: int, record_id: str, event: AuditEvent, prev_hash: str) -> str:
    """SHA-256 over a canonical JSON form of the record's fields and the previous hash."""
    body = [
        seq,
        record_id,
        event.at.isoformat(timespec="microseconds"),
        event.actor,
        event.action,
        event.subject,
        [list(pair) for pair in event.details],
        prev_hash,
    ]
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def chain_next(previous: AuditRecord | tuple[int, str] | None, event: AuditEvent, record_id: str) -> AuditRecord:
    """The record that follows ``previous`` (a record, or the head's (seq, hash); None starts the chain)."""
    if isinstance(previous, AuditRecord):
        previous = (previous.seq, previous.hash)
    seq, prev_hash = (previous[0] + 1, previous[1]) if previous else (1, GENESIS_HASH)
    digest = record_hash(seq, record_id, event, prev_hash)
    return AuditRecord(
        seq, record_id, event.at, event.actor, event.action, event.subject, event.details, prev_hash, digest
    )


def verify_chain(
    records: Iterable[AuditRecord], *, head: tuple[int, str] | None = None, anchors: Iterable[Anchor] = ()
) -> list[AuditProblem]:
    """Every problem in a chain read in ``seq`` order: edits, deletions, reordering; [] when intact.

    ``head`` is the stored (last seq, last hash) pointer, which also catches a deleted tail. Each of ``anchors``
    (kept outside the database) must still be on the chain: the record at its seq carries its hash, so a rewritten
    and re-hashed suffix, or a wiped log, that reaches back to an anchor is caught.
    """
    problems: list[AuditProblem] = []
    wanted: dict[int, set[str]] = {}
    for anchor in anchors:
        wanted.setdefault(anchor.seq, set()).add(anchor.hash)
    for hash_ in sorted(wanted.pop(0, set()) - {GENESIS_HASH}):
        problems.append(AuditProblem(0, "-", f"anchor 0:{hash_[:12]}... is not the empty log's hash"))
    expected_seq, expected_prev = 1, GENESIS_HASH
    last: AuditRecord | None = None
    for record in records:
        for hash_ in sorted(wanted.pop(record.seq, set()) - {record.hash}):
            problems.append(
                AuditProblem(
                    record.seq,
                    record.id,
                    f"hash differs from the anchor kept outside (rewritten): {record.seq}:{hash_[:12]}...",
                )
            )
        if record.seq != expected_seq:
            problems.append(AuditProblem(record.seq, record.id, f"expected record #{expected_seq} here (deleted)"))
        elif record.prev_hash != expected_prev:
            problems.append(AuditProblem(record.seq, record.id, "previous hash does not match (deleted or reordered)"))
        if record_hash(record.seq, record.id, record.event, record.prev_hash) != record.hash:
            problems.append(AuditProblem(record.seq, record.id, "hash does not match the record (edited)"))
        expected_seq, expected_prev, last = record.seq + 1, record.hash, record
    if head is not None and (last is None or (last.seq, last.hash) != head):
        seq = head[0]
        problems.append(AuditProblem(seq, "-", f"the log ends before record #{seq} that the head names (deleted)"))
    for seq in sorted(wanted):
        reason = f"the log ends before record #{seq} that an anchor kept outside names (deleted)"
        problems.append(AuditProblem(seq, "-", reason))
    return sorted(problems, key=lambda p: p.seq)
