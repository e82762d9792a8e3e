"""API keys are found by who created them: a removed or demoted team member's keys are revoked with them.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06

``created_by`` has been stored since 0002; ``Teams.remove`` and ``Teams.set_role`` now look a member's keys up by it
(``ApiKeyRepository.created_by``), so the index makes that one indexed read.
"""

from __future__ import annotations

from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_api_keys_creator", "api_keys", ["merchant_id", "created_by"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_creator", table_name="api_keys")
