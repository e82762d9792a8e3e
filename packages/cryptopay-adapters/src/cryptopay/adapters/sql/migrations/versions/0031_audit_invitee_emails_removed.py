"""The invitee's email removed from ``team.invite`` audit records written before 0030 (they name the invitation,
whose email is sealed), by a verified, audited one-time re-anchoring of the hash chain.

The audit log is hash-chained and append-only, so the rewrite is done once here, not by the sealing pass:
``cryptopay.adapters.sql.audit.reanchor`` verifies the whole chain first (a broken chain fails the migration and
changes nothing), drops the ``email`` detail of each such record, re-hashes every record from the first of them to
the end (their seq, ids, times, actors, actions and subjects unchanged) and appends an ``audit.reanchored`` record
naming the old head (seq and hash), the first record rewritten and how many were; the new chain then verifies.
A log with no such record is left exactly as it is. The append-only triggers are lifted for this transaction only
(PostgreSQL: disabled and enabled again; SQLite: dropped and created again).

Downgrade: nothing (an email removed is not restored).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06
"""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import op
from cryptopay.adapters.sql.audit import reanchor
from cryptopay.core.audit import AuditEvent, AuditRecord

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = ("UPDATE", "DELETE")


def _without_email(record: AuditRecord) -> AuditEvent | None:
    details = dict(record.details)
    if record.action != "team.invite" or "email" not in details:
        return None
    del details["email"]
    return AuditEvent(record.actor, record.action, record.subject, record.at, details)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    else:
        for action in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER audit_log_no_{action.lower()}")
    reanchor(
        op.get_bind(),
        _without_email,
        actor="system:migration-0031",
        reason="team.invite records named the invitee's email (personal data); the invitation's id stays",
        at=datetime.now(UTC),
    )
    if postgres:
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    else:
        for action in _SQLITE_TRIGGERS:
            op.execute(
                f"CREATE TRIGGER audit_log_no_{action.lower()} BEFORE {action} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {action} refused'); END"
            )


def downgrade() -> None:
    # An email removed is not restored (see the module's docstring).
    pass
