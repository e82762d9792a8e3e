"""Who made each staff account staff, and when (review10 R10-8): four-eyes refuses two officers one person appointed.

``users.appointed_by`` (as the audit trail names the person: ``ops:<login>``, ``user:<id>``) and ``appointed_at``
are set by ``UserAdmin.create_admin`` and by ``set_role`` to a staff role. Staff accounts made before this revision
get them from the audit trail: the last ``user.admin_created`` or ``user.role_changed`` to a staff role on each.
A staff account with neither record keeps none (``compliance.four_eyes``: related to nobody, no cool-off).

Revision ID: 0278
Revises: 0272
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op
from cryptopay.adapters.sql.types import UtcDateTime

revision = "0278"
down_revision = "0272"
branch_labels = None
depends_on = None

_STAFF = ("admin", "compliance")


def upgrade() -> None:
    op.add_column("users", sa.Column("appointed_by", sa.String(200), nullable=True))
    op.add_column("users", sa.Column("appointed_at", UtcDateTime, nullable=True))
    conn = op.get_bind()
    audit = sa.table(
        "audit_log",
        sa.column("seq", sa.BigInteger),
        sa.column("at", UtcDateTime),
        sa.column("actor", sa.String),
        sa.column("action", sa.String),
        sa.column("subject", sa.String),
        sa.column("details", sa.Text),
    )
    users = sa.table(
        "users",
        sa.column("id", sa.String),
        sa.column("role", sa.String),
        sa.column("appointed_by", sa.String),
        sa.column("appointed_at", UtcDateTime),
    )
    staff = {row.id for row in conn.execute(sa.select(users.c.id).where(users.c.role.in_(_STAFF)))}
    found: dict[str, tuple[str, Any]] = {}
    records = (
        sa.select(audit.c.at, audit.c.actor, audit.c.action, audit.c.subject, audit.c.details)
        .where(audit.c.action.in_(("user.admin_created", "user.role_changed")))
        .order_by(audit.c.seq)
    )
    for record in conn.execute(records):
        user_id = str(record.subject).removeprefix("user:")
        if user_id not in staff:
            continue
        if record.action == "user.admin_created" or _details(record.details).get("after") in _STAFF:
            found[user_id] = (record.actor, record.at)  # the last appointment wins
    for user_id, (actor, at) in found.items():
        conn.execute(users.update().where(users.c.id == user_id).values(appointed_by=actor, appointed_at=at))


def _details(raw: Any) -> dict[str, Any]:
    """An audit record's details as stored (a JSON list of pairs, or an object)."""
    value = raw
    for _ in range(2):  # JSON text of JSON text, as a JSON column may hold it
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(pair[0]): pair[1] for pair in value if isinstance(pair, list | tuple) and len(pair) == 2}
    return {}


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("appointed_at")
        batch.drop_column("appointed_by")
