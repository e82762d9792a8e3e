"""The main job end to end, over real processes: sandbox (anvil + simulators), the REST API and the worker.

A merchant registers through the REST API, an invoice of KES 5,000 is paid in test USDT on anvil, settles with the
configured confirmations, and the merchant is paid over the Daraja sandbox's B2C; webhooks arrive signed and the
books balance. Run on the embedded defaults (SQLite, inline queue) and on PostgreSQL with RQ on Redis.
"""

import os
import re
import secrets
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from cryptopay_cli.demo_e2e import Demo

from tests.support.sql_backends import create_database

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


@pytest.fixture
def fresh_postgres(postgres_admin_url: str, tmp_path: Path):
    """An empty PostgreSQL database of its own (the demo migrates it), dropped afterwards."""
    name = f"cryptopay_e2e_{os.getpid()}_{secrets.token_hex(4)}"  # unique: other runs share this server
    create_database(postgres_admin_url, name)
    base = postgres_admin_url.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _check(summary: dict) -> None:
    assert summary["invoice"] == "settled"
    assert summary["payout"] == "completed"
    assert summary["kes_paid_out"] == "5000.00"
    assert summary["webhooks_delivered"] >= 4
    assert summary["trial_balance_zero"] is True


def test_embedded_defaults_pay_a_merchant_in_shillings(shared_sandbox: Path, demo_mnemonic: str) -> None:
    """SQLite + inline queue: paid on anvil, settled, paid out over B2C, webhooks delivered, books balanced."""
    lines: list[str] = []
    summary = Demo(shared_sandbox / "embedded", lines.append, mnemonic=demo_mnemonic).run()
    _check(summary)
    assert summary["b2c_paid_by_mpesa"] == 1
    assert any("completed, M-Pesa receipt" in line for line in lines)


def test_second_flow_settles_bitcoin_and_tron_payments_in_shillings(shared_sandbox: Path, demo_mnemonic: str) -> None:
    """The second demo flow (SQLite + inline queue): an invoice paid in BTC on the Esplora simulator and one in USDT
    on the TronGrid simulator are each seen, confirmed by their network (Bitcoin blocks, Tron solidified blocks),
    settled to KES at their own quote and paid out over B2C; the books balance."""
    lines: list[str] = []
    summary = Demo(shared_sandbox / "btc-tron", lines.append, mnemonic=demo_mnemonic).run_btc_tron()
    assert summary["invoices"] == {"btc-bitcoin": "settled", "usdt-tron": "settled"}
    assert summary["payouts"] == ["completed", "completed"]
    assert Decimal("9990") <= Decimal(summary["kes_paid_out"]) <= Decimal("10000")
    assert summary["trial_balance_zero"] is True
    assert any("BTC/KES bid" in line for line in lines) and any("processing" in line for line in lines)


def _scheduled_runs(workdir: Path) -> dict[str, list[str]]:
    """Per worker log, the ids of the scheduled jobs it started (RQ logs ``<queue>: <job name> (<job id>)``)."""
    started = re.compile(r": [a-z_.]+ \((?:[a-z0-9-]+-)?(every-[a-z_]+-\d+)\)")
    return {log.name: started.findall(log.read_text(errors="replace")) for log in sorted(workdir.glob("worker*.log"))}


def test_postgres_and_rq_scaled_out_pay_a_merchant_once(
    shared_sandbox: Path, demo_mnemonic: str, fresh_postgres: str, redis_url: str
) -> None:
    """The production-shaped stack scaled out (#17.3): two API processes and two RQ workers (each with its
    scheduler) on one PostgreSQL and Redis pay the merchant; M-Pesa's own record shows one B2C payment, each webhook
    event id arrives once, and no scheduled job id is started twice."""
    lines: list[str] = []
    workdir = shared_sandbox / "postgres-rq"
    demo = Demo(
        workdir,
        lines.append,
        database_url=fresh_postgres,
        redis_url=redis_url,
        apis=2,
        workers=2,
        mnemonic=demo_mnemonic,
    )
    summary = demo.run()
    _check(summary)
    assert any("PostgreSQL, RQ on Redis" in line for line in lines)
    assert summary["b2c_paid_by_mpesa"] == 1
    ids = summary["webhook_ids_verified"]
    assert len(ids) == len(set(ids)) >= 4
    per_worker = _scheduled_runs(workdir)
    assert len(per_worker) == 2 and all(per_worker.values())  # both workers ran scheduled jobs
    runs = [job for jobs in per_worker.values() for job in jobs]
    assert len(runs) == len(set(runs)), sorted({r for r in runs if runs.count(r) > 1})
