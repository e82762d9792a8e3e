"""Wallets: each username's look-alike skeleton (``wallets.username_skeleton``, unique), so a username that reads
as another's (``b0b_k``, ``bob__k`` beside ``bob_k``) is refused and two sign-ups racing for look-alikes cannot both
win (review5 S1).

The backfill folds every username as ``cryptopay.core.wallets.usernames.skeleton`` does (copied here as it was when
this revision was written: a migration does not change with the code). Look-alikes taken before the rule: the oldest
wallet (its document's ``created_at``, then its id) keeps the skeleton; the others keep their usernames (people
send to them already) with no skeleton, and are reported (logged, by user id) for support to contact; no new
look-alike of either can be taken, as the oldest one's skeleton stands for them.

Revision ID: 0138
Revises: 0110
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0138"
down_revision = "0110"
branch_labels = None
depends_on = None

_FOLD = str.maketrans({"0": "o", "1": "i", "l": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "_": None})
log = logging.getLogger("alembic.runtime.migration")


def _skeleton(name: str) -> str:
    return name.lower().replace("rn", "m").replace("vv", "w").translate(_FOLD)


def _created(doc: Any) -> str:
    found = doc if isinstance(doc, dict) else json.loads(doc or "{}")
    return str(found.get("created_at") or "")


def upgrade() -> None:
    with op.batch_alter_table("wallets") as wallets:
        wallets.add_column(sa.Column("username_skeleton", sa.String(32)))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, username, doc FROM wallets WHERE username IS NOT NULL")).all()
    kept: dict[str, str] = {}
    set_skeleton = sa.text("UPDATE wallets SET username_skeleton = :skeleton WHERE id = :id")
    for user_id, username, _doc in sorted(rows, key=lambda row: (_created(row[2]), row[0])):
        folded = _skeleton(username)
        if folded in kept:
            log.warning(
                "wallet %s: its username reads like the older wallet %s's (look-alike skeleton); kept, not unique",
                user_id,
                kept[folded],
            )
            continue
        kept[folded] = user_id
        bind.execute(set_skeleton, {"skeleton": folded, "id": user_id})
    op.create_index("uq_wallets_username_skeleton", "wallets", ["username_skeleton"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_wallets_username_skeleton", table_name="wallets")
    with op.batch_alter_table("wallets") as wallets:
        wallets.drop_column("username_skeleton")
