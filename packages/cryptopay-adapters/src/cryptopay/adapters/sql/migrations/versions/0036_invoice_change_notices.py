"""Every committed change of an invoice is announced on ``cryptopay_invoices`` (PostgreSQL only).

Revision ID: 0036
Revises: 0039
Create Date: 2026-12-06

API processes keep rendered invoice reads (``cryptopay.adapters.sql.invoice_feed``) and must forget one as soon
as its row changes, whoever changed it (an API process, the worker, an operator's SQL). The trigger notifies in
the writer's transaction, so the notice is delivered at commit and never for a rollback. An update that changes
nothing says nothing; an insert needs no notice (a missing invoice is never kept); a truncation says ``''``:
anything may have changed. SQLite has no such feed, and its processes keep nothing.
"""

from __future__ import annotations

from alembic import op

revision = "0036"
down_revision = "0039"
branch_labels = None
depends_on = None

_FUNCTIONS = """
CREATE FUNCTION cryptopay_invoice_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cryptopay_invoices', OLD.id);
    RETURN NULL;
END $$;
CREATE FUNCTION cryptopay_invoices_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cryptopay_invoices', '');
    RETURN NULL;
END $$;
"""


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgres():
        return
    op.execute(_FUNCTIONS)
    op.execute(
        "CREATE TRIGGER invoices_changed AFTER UPDATE ON invoices FOR EACH ROW "
        "WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION cryptopay_invoice_changed()"
    )
    op.execute(
        "CREATE TRIGGER invoices_deleted AFTER DELETE ON invoices FOR EACH ROW "
        "EXECUTE FUNCTION cryptopay_invoice_changed()"
    )
    op.execute(
        "CREATE TRIGGER invoices_truncated AFTER TRUNCATE ON invoices FOR EACH STATEMENT "
        "EXECUTE FUNCTION cryptopay_invoices_truncated()"
    )


def downgrade() -> None:
    if not _postgres():
        return
    for trigger in ("invoices_changed", "invoices_deleted", "invoices_truncated"):
        op.execute(f"DROP TRIGGER {trigger} ON invoices")
    op.execute("DROP FUNCTION cryptopay_invoice_changed()")
    op.execute("DROP FUNCTION cryptopay_invoices_truncated()")
