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
