"""The audit log on SQL: appends serialise on the single ``audit_head`` row, which also names the last record.

The head's row lock is held until the appending transaction commits, so every transaction that audits queues
behind the one before it for that long. In a unit of work on PostgreSQL an append therefore reads (and locks) the
head, and defers its two writes (the record and the head, one statement) to the commit's pipeline: from the lock to
the commit is one round trip more, not three (``SqlAuditLog(defer=...)``).

``verify_audit_log(engine)`` re-reads the whole chain in ``seq`` order and returns every problem
(``cryptopay.core.audit.verify_chain``); an empty list means no record was edited or deleted. Its ``anchors``
(``SEQ:HASH`` pairs kept outside the database) must each still be on the chain.

``anchor_audit_head(engine)`` (the worker's ``audit.anchor`` job) logs the head at INFO as
``audit head anchored: seq=SEQ hash=HASH``, its JSON line's ``audit_anchor`` field ``SEQ:HASH``: log shipping keeps
the outside copy that ``cryptopay audit verify --anchor`` / ``--anchors-file`` checks (the field only, never a
message's words), so a rewrite reaching back past a logged anchor is caught (R10-2).

``reanchor(conn, redact, ...)`` is the one sanctioned rewrite: personal data found in old records (``team.invite``
records written before migration 0030 carry the invitee's email) is removed by a migration that verifies the whole
chain first (a broken chain is refused, nothing changed), rewrites the records ``redact`` names, re-hashes every
record from the first of them to the end (same seq, ids, times, actors and actions), appends an
``audit.reanchored`` record naming the old head (seq and hash), the first record rewritten and how many were, and
verifies the new chain. The append-only triggers must be lifted around it by the caller (the migration).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.repositories._base import DriverRead, reading, writing
from cryptopay.adapters.sql.tables import audit_head, audit_log
from cryptopay.core import logs
from cryptopay.core.audit import (
    ANCHOR_FIELD,
    ANCHOR_LOGGER,
    GENESIS_HASH,
    Anchor,
    AuditEvent,
    AuditProblem,
    AuditQuery,
    AuditRecord,
    chain_next,
    verify_chain,
)
from cryptopay.core.errors import Conflict
from cryptopay.core.ports.system import IdGenerator
from cryptopay.core.system import RandomIds
from sqlalchemy.engine import Connection, Engine

__all__ = ["SqlAuditLog", "SqlAuditTrail", "anchor_audit_head", "reanchor", "search_statement", "verify_audit_log"]

log = logging.getLogger(ANCHOR_LOGGER)

_HEAD = sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
_LOCK_HEAD = DriverRead(  # the head, locked; no parameter, so on PostgreSQL it runs on the driver (every creation)
    sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == sa.literal_column("1")).with_for_update()
)

# The record and the head it becomes, in one statement (PostgreSQL; psycopg parameters), sent with the commit.
_APPEND = """WITH moved AS (UPDATE audit_head SET seq = %(seq)s, hash = %(hash)s WHERE id = 1)
INSERT INTO audit_log (seq, id, at, actor, action, subject, details, prev_hash, hash)
VALUES (%(seq)s, %(id)s, %(at)s, %(actor)s, %(action)s, %(subject)s, %(details)s, %(prev_hash)s, %(hash)s)
"""


def _record(row: Any) -> AuditRecord:
    m = row._mapping
    details = tuple((str(k), str(v)) for k, v in m["details"])
    return AuditRecord(
        m["seq"], m["id"], m["at"], m["actor"], m["action"], m["subject"], details, m["prev_hash"], m["hash"]
    )


class SqlAuditLog:
    """``AuditLog`` on one connection's transaction.

    ``defer`` (PostgreSQL, in a unit of work) queues a statement for the commit's pipeline and ``flush`` sends what
    is queued: with them an append's writes go out with the commit (reads of the log in the same transaction send
    them first), and the head, locked by the first append, is remembered for the next. ``before_lock`` runs just
    before the head is locked (the unit of work renews its commit fence there).
    """

    def __init__(
        self,
        conn: Connection,
        ids: IdGenerator | None = None,
        *,
        defer: Callable[[str, Mapping[str, Any]], None] | None = None,
        flush: Callable[[], None] | None = None,
        before_lock: Callable[[], None] = lambda: None,
    ) -> None:
        self._conn = conn
        self._ids = ids or RandomIds()
        self._defer, self._flush, self._before_lock = defer, flush, before_lock
        self._head: tuple[int, str] | None = None  # locked by this transaction's first deferred append
        self._pending = False

    def append(self, event: AuditEvent) -> AuditRecord:
        if self._head is None:
            self._before_lock()
            found = _LOCK_HEAD.first(self._conn, {})
            if found is None:
                raise RuntimeError("the audit_head row is missing (the migrations create it)")
            seq, last_hash = found
            head = (int(seq), str(last_hash)) if seq else None
        else:
            head = self._head
        record = chain_next(head, event, self._ids.new_id("aud"))
        if self._defer is not None:
            details = json.dumps([list(pair) for pair in record.details], sort_keys=True, separators=(",", ":"))
            row = {name: getattr(record, name) for name in ("seq", "id", "at", "actor", "action", "subject")}
            self._defer(_APPEND, {**row, "details": details, "prev_hash": record.prev_hash, "hash": record.hash})
            self._head, self._pending = (record.seq, record.hash), True
            return record
        self._conn.execute(
            audit_log.insert(),
            {
                "seq": record.seq,
                "id": record.id,
                "at": record.at,
                "actor": record.actor,
                "action": record.action,
                "subject": record.subject,
                "details": [list(pair) for pair in record.details],
                "prev_hash": record.prev_hash,
                "hash": record.hash,
            },
        )
        self._conn.execute(audit_head.update().where(audit_head.c.id == 1).values(seq=record.seq, hash=record.hash))
        return record

    def _written(self) -> None:
        """Send the deferred appends before the log is read in the same transaction."""
        if self._pending and self._flush is not None:
            self._flush()
            self._pending = False

    def records(self, *, after_seq: int = 0, limit: int | None = None) -> list[AuditRecord]:
        self._written()
        query = sa.select(audit_log).where(audit_log.c.seq > after_seq).order_by(audit_log.c.seq)
        return [_record(r) for r in self._conn.execute(query.limit(limit) if limit is not None else query)]

    def head(self) -> tuple[int, str] | None:
        if self._head is not None:
            return self._head
        seq, last_hash = self._conn.execute(_HEAD).one()
        return (int(seq), str(last_hash)) if seq else None

    def about(
        self, subjects: Sequence[str], *, actor: str | None = None, after_seq: int = 0, limit: int = 10_000
    ) -> list[AuditRecord]:
        c = audit_log.c
        self._written()
        matches = [c.subject.in_(list(subjects))] + ([c.actor == actor] if actor is not None else [])
        query = sa.select(audit_log).where(sa.or_(*matches), c.seq > after_seq).order_by(c.seq).limit(limit)
        return [_record(r) for r in self._conn.execute(query)]

    def search(self, query: AuditQuery, *, before_seq: int | None = None, limit: int = 50) -> list[AuditRecord]:
        self._written()
        return [_record(r) for r in self._conn.execute(search_statement(query, before_seq=before_seq, limit=limit))]


def search_statement(query: AuditQuery, *, before_seq: int | None = None, limit: int = 50) -> sa.Select[Any]:
    """The SELECT behind ``SqlAuditLog.search``: newest first, so with a subject or an actor PostgreSQL walks the
    ``(subject, seq)`` / ``(actor, seq)`` index backwards and stops after ``limit`` rows (a test EXPLAINs it).

    Several subjects (a bare party id stands for four) are one such walk each, at most ``limit`` rows apiece, merged
    newest first: an ``IN`` list cannot read the index in ``seq`` order, so it sorted every record of the party or
    filtered the whole log backwards (reader2 L2-2)."""
    c = audit_log.c
    where: list[sa.ColumnElement[bool]] = []
    if query.actor is not None:
        where.append(c.actor == query.actor)
    if query.action is not None:  # a prefix; LIKE's own wildcards in it are matched literally
        where.append(c.action.startswith(query.action, autoescape=True))
    if query.since is not None:
        where.append(c.at >= query.since)
    if query.until is not None:
        where.append(c.at < query.until)
    if before_seq is not None:
        where.append(c.seq < before_seq)
    where.extend(sa.not_(_action_is(c.action, pattern)) for pattern in query.hidden)
    subjects = sorted(set(query.subjects or ()))
    if len(subjects) <= 1:
        matched = [c.subject == subjects[0]] if subjects else []
        return sa.select(audit_log).where(*matched, *where).order_by(c.seq.desc()).limit(limit)
    walks = [
        sa.select(audit_log).where(c.subject == subject, *where).order_by(c.seq.desc()).limit(limit).subquery()
        for subject in subjects
    ]
    merged = sa.union_all(*(sa.select(walk) for walk in walks)).subquery("merged")
    return sa.select(merged).order_by(merged.c.seq.desc()).limit(limit)


def _action_is(action: sa.ColumnElement[str], pattern: str) -> sa.ColumnElement[bool]:
    """``core.audit.action_in``'s rule for one pattern, in SQL: a family a prefix, ``.x`` a suffix, else equal."""
    if pattern.endswith((".", "_")):
        return action.startswith(pattern, autoescape=True)
    if pattern.startswith("."):
        return action.endswith(pattern, autoescape=True)
    return action == pattern


class SqlAuditTrail:
    """``AuditTrail``: appends to the same chain, each in a transaction of its own (identity events, CLI actions)."""

    def __init__(self, engine: Engine, ids: IdGenerator | None = None) -> None:
        self._engine = engine
        self._ids = ids or RandomIds()

    def append(self, event: AuditEvent) -> AuditRecord:
        with writing(self._engine) as conn:
            return SqlAuditLog(conn, self._ids).append(event)


def _all_records(conn: Connection, page: int = 5000) -> Iterator[AuditRecord]:
    after = 0
    while True:
        batch = SqlAuditLog(conn).records(after_seq=after, limit=page)
        yield from batch
        if len(batch) < page:
            return
        after = batch[-1].seq


def verify_audit_log(engine: Engine, anchors: Iterable[Anchor] = ()) -> list[AuditProblem]:
    """Every break in the stored chain (edited, deleted or reordered records, or a record no longer carrying the
    hash an outside ``anchor`` names); [] when the log is intact."""
    with reading(engine) as conn:
        head = SqlAuditLog(conn).head()
        return verify_chain(_all_records(conn), head=head, anchors=anchors)


def anchor_audit_head(engine: Engine) -> Anchor:
    """Log the audit head at INFO (one line, ``seq=SEQ hash=HASH``; seq 0 is the empty log) and return it.

    Reads the head only (one row, no lock): appends never wait for it."""
    with reading(engine) as conn:
        head = SqlAuditLog(conn).head()
    anchor = Anchor(*head) if head else Anchor(0, GENESIS_HASH)
    with logs.scope(**{ANCHOR_FIELD: str(anchor)}):  # the JSON line's field: what `audit verify` trusts (M-6)
        log.info("audit head anchored: seq=%d hash=%s", anchor.seq, anchor.hash)
    return anchor


def reanchor(
    conn: Connection,
    redact: Callable[[AuditRecord], AuditEvent | None],
    *,
    actor: str,
    reason: str,
    at: datetime,
    ids: IdGenerator | None = None,
) -> AuditRecord | None:
    """Rewrite the records ``redact`` changes (it returns the event to keep instead, or None to keep the record) and
    re-anchor the chain; the ``audit.reanchored`` record appended, or None when nothing needed rewriting.

    ``Conflict`` (nothing changed) when the chain does not verify before: a re-anchoring never launders a broken
    log. Runs in the caller's transaction, with the append-only triggers lifted."""
    log = SqlAuditLog(conn, ids)
    head = log.head()
    problems = verify_chain(_all_records(conn), head=head)
    if problems:
        raise Conflict(f"the audit log does not verify, so it is not re-anchored: {problems[0]}")
    first: int | None = None
    rewritten = 0
    previous: tuple[int, str] | None = None
    for record in _all_records(conn):
        replacement = redact(record)
        if first is None and replacement is None:
            previous = (record.seq, record.hash)
            continue
        first = record.seq if first is None else first
        rewritten += replacement is not None
        event = replacement or record.event
        again = chain_next(previous or (0, GENESIS_HASH), event, record.id)
        assert again.seq == record.seq
        values = {"details": [list(pair) for pair in again.details], "prev_hash": again.prev_hash, "hash": again.hash}
        conn.execute(audit_log.update().where(audit_log.c.seq == record.seq).values(**values))
        previous = (again.seq, again.hash)
    if first is None or head is None or previous is None:
        return None
    conn.execute(audit_head.update().where(audit_head.c.id == 1).values(seq=previous[0], hash=previous[1]))
    details = {
        "reason": reason,
        "old_head_seq": str(head[0]),
        "old_head_hash": head[1],
        "first_rewritten": str(first),
        "rewritten": str(rewritten),
        "rehashed": str(previous[0] - first + 1),
    }
    anchored = log.append(AuditEvent(actor, "audit.reanchored", "audit:log", at, details))
    after = verify_chain(_all_records(conn), head=log.head())
    assert not after, after
    return anchored
