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


def test_search_filters_on_every_criterion_newest_first_in_keyset_pages(engine):
    """``search`` (an officer's search, R12-6): subject, actor, action prefix and a time range must all hold; the
    records come newest first, ``before_seq`` pages on, and every match comes back once across the pages."""
    from datetime import timedelta
    from uuid import uuid4

    from cryptopay.adapters.sql.repositories._base import writing
    from cryptopay.core.audit import AuditQuery

    me, them = f"user:usr_{uuid4().hex[:8]}", f"user:usr_{uuid4().hex[:8]}"
    trail = InMemoryAuditLog() if engine is None else SqlAuditTrail(engine)
    seqs = {}
    for n in range(12):
        event = AuditEvent(
            "ops:ann" if n % 2 else "ops:bob",
            "kyc.approve" if n % 3 == 0 else ("kyc_x.read" if n % 3 == 1 else "alert.read"),
            me if n < 8 else them,
            AT + timedelta(days=n),
        )
        seqs[n] = trail.append(event).seq

    def read(log):
        by_subject = log.search(AuditQuery((me,)), limit=100)
        ann_kyc = log.search(AuditQuery((me, them), actor="ops:ann", action="kyc."), limit=100)
        dated = log.search(AuditQuery(since=AT + timedelta(days=2), until=AT + timedelta(days=4)), limit=100)
        literal = log.search(AuditQuery(action="kyc_"), limit=100)  # LIKE's _ is a plain character here
        first = log.search(AuditQuery((me,)), limit=3)
        rest = log.search(AuditQuery((me,)), before_seq=first[-1].seq, limit=100)
        return [[r.seq for r in found] for found in (by_subject, ann_kyc, dated, literal, first + rest)]

    if engine is None:
        got = read(trail)
    else:
        with writing(engine) as conn:
            got = read(SqlAuditLog(conn))
    by_subject, ann_kyc, dated, literal, paged = got
    assert by_subject == [seqs[n] for n in range(7, -1, -1)]
    assert ann_kyc == [seqs[n] for n in (9, 3)]  # odd n is ann's; kyc.approve at n % 3 == 0 (kyc_x. is not kyc.)
    assert dated == [seqs[3], seqs[2]]  # until is exclusive
    assert literal == [seqs[n] for n in (10, 7, 4, 1)]
    assert paged == by_subject


def test_search_by_subject_or_actor_walks_an_index_on_postgres(engine):
    """On PostgreSQL the search by subject or by actor can use ``ix_audit_log_subject`` / ``ix_audit_log_actor``
    (sequential scans are switched off, so the plan shows a scan of the whole table only where no index fits)."""
    import pytest
    from cryptopay.adapters.sql.audit import search_statement
    from cryptopay.core.audit import AuditQuery
    from cryptopay.core.audit_search import audit_query

    if engine is None or engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL plan")
    wanted = {
        "ix_audit_log_subject": audit_query(subject="usr_1", since="2026-01-01"),
        "ix_audit_log_actor": AuditQuery(actor="ops:ann", action="kyc."),
    }
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for index, query in wanted.items():
            statement = search_statement(query, before_seq=1000, limit=50)
            compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
            plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
            # walked backwards and stopped at the limit (reader2 L2-2: an IN list of a party's four subjects read
            # them all and sorted, or filtered the whole log along the primary key)
            assert f"Index Scan Backward using {index}" in plan and "audit_log_pkey" not in plan, plan
