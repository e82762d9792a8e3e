"""The claims index holds only transfers awaiting a claim (migration 0090: a delivered send writes no entry there),
and the claim reads use it with the generic plan a prepared statement caches as well as with a custom plan (#14)."""

from __future__ import annotations

import re

import psycopg
import sqlalchemy as sa
from cryptopay.adapters.sql.repositories.wallets import _AWAITING_CLAIM
from cryptopay.adapters.sql.tables_wallets import wallet_transfers
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

DELIVERED = 5000
VALUES = {"phone": "'phone-new'", "before": "now()"}


def test_claim_reads_use_the_partial_claims_index(pg_engine: Engine) -> None:
    t = wallet_transfers.c
    reads = {
        "awaiting_claim": sa.select(t.id).where(_AWAITING_CLAIM, t.recipient_phone == sa.bindparam("phone")),
        "claims_expiring": sa.select(t.id)
        .where(_AWAITING_CLAIM, t.claim_expires_at < sa.bindparam("before"))
        .order_by(t.claim_expires_at, t.id)
        .limit(10),
    }
    with pg_engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        definition = driver.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_wallet_transfers_claims'"
        ).fetchone()
        assert definition is not None and "WHERE ((state)::text = 'awaiting_claim'::text)" in definition[0]
        driver.execute(
            "INSERT INTO wallet_transfers (id, sender_id, recipient_id, recipient_phone, state, doc)"
            " SELECT 'trf_' || n, 'usr_a', 'usr_b', 'phone-' || n, 'delivered', '{}' FROM generate_series(1, %s) AS n",
            [DELIVERED],
        )
        driver.execute(
            "INSERT INTO wallet_transfers (id, sender_id, recipient_phone, state, claim_expires_at, doc)"
            " VALUES ('trf_claim', 'usr_a', 'phone-new', 'awaiting_claim', now(), '{}')"
        )
        driver.execute("ANALYZE wallet_transfers")
        for name, query in reads.items():
            sql = str(query.compile(dialect=postgresql.dialect()))
            params = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
            body = re.sub(r"%\((\w+)\)s", lambda m: f"${params.index(m[1]) + 1}", sql)
            driver.execute(f"PREPARE claims_{name} AS {body}".encode())
            for mode in ("force_generic_plan", "force_custom_plan"):
                driver.execute(f"SET LOCAL plan_cache_mode = {mode}".encode())
                args = ", ".join(VALUES.get(p, "10") for p in params)  # the LIMIT's parameter: 10
                plan = "\n".join(row[0] for row in driver.execute(f"EXPLAIN EXECUTE claims_{name}({args})".encode()))
                assert "ix_wallet_transfers_claims" in plan, (name, mode, plan)
        driver.rollback()
