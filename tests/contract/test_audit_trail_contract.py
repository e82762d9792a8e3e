"""The AuditTrail port (security events outside a unit of work): memory and SQL keep one intact hash chain."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptopay.adapters.sql.audit import SqlAuditLog, SqlAuditTrail, verify_audit_log
from cryptopay.adapters.sql.repositories._base import reading
from cryptopay.core.audit import AuditEvent, verify_chain
from cryptopay.core.testing.storage import InMemoryAuditLog

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_appends_chain_in_order_and_verify(engine):
    """Each append is committed in order on one chain that verifies; details come back as given."""
    trail = InMemoryAuditLog() if engine is None else SqlAuditTrail(engine)
    events = [AuditEvent(f"user:usr_{n}", "auth.login", f"user:usr_{n}", AT, {"family": f"fam_{n}"}) for n in range(3)]
    appended = [trail.append(event) for event in events]
    first = appended[0].seq  # the shared PostgreSQL database may hold earlier tests' records
    assert [r.seq for r in appended] == [first, first + 1, first + 2] and appended[1].prev_hash == appended[0].hash
    if engine is None:
        assert verify_chain(trail.records(), head=trail.head()) == []
        stored = trail.records()
    else:
        assert verify_audit_log(engine) == []
        with reading(engine) as conn:
            stored = SqlAuditLog(conn).records(after_seq=first - 1)
    assert [dict(r.details) for r in stored] == [{"family": f"fam_{n}"} for n in range(3)]


def test_records_about_a_person_are_read_in_keyset_pages_none_lost(engine):
    """``about`` pages on ``seq`` (``after_seq``): 25 records about a person, by them or about their wallet, among
    others' records, read two at a time come back all, in order, each once (a data export holds every one)."""
    from uuid import uuid4

    from cryptopay.adapters.sql.repositories._base import writing
    from cryptopay.core.ports.storage import about_all

    me, other = f"usr_{uuid4().hex[:8]}", f"usr_{uuid4().hex[:8]}"
    events = [
        AuditEvent(f"user:{me}" if n % 3 == 0 else "ops:alice", "x.seen", f"wallet:{me}" if n % 2 else f"user:{me}", AT)
        for n in range(25)
    ]
    noise = [AuditEvent(f"user:{other}", "x.seen", f"user:{other}", AT) for _ in range(10)]
    trail = InMemoryAuditLog() if engine is None else SqlAuditTrail(engine)
    mine = []
    for n, event in enumerate(events):
        mine.append(trail.append(event).seq)
        if n < len(noise):
            trail.append(noise[n])
    subjects = [f"user:{me}", f"wallet:{me}"]

    def read(log):
        first = log.about(subjects, actor=f"user:{me}", limit=2)
        second = log.about(subjects, actor=f"user:{me}", after_seq=first[-1].seq, limit=2)
        return [r.seq for r in first + second], [r.seq for r in about_all(log, subjects, actor=f"user:{me}", page=2)]

    if engine is None:
        pages, everything = read(trail)
    else:
        with writing(engine) as conn:
            pages, everything = read(SqlAuditLog(conn))
    assert pages == mine[:4]
    assert everything == mine
