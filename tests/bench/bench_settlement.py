"""Settlement at scale on PostgreSQL: plan (dry run) and run a daily settlement for N merchants, print the times.

Seeds N merchants (owner, daily M-Pesa profile, store, a KES balance of 5,000 to 60,000 and, for every fifth, some
USDT to convert) in a throw-away database, then times ``Settling.run_settlements(dry_run=True)`` (the plan), the
real run (holds and payouts written) and a second run (every merchant already settled). Prints a table, then one
JSON line. No timing is asserted: the issue's goal is a 10,000-merchant plan under 10 s.

Run: ``make bench-settlement`` (``scripts/with-services.sh .venv/bin/python tests/bench/bench_settlement.py``).
Environment: ``DATABASE_URL`` (admin URL, default postgresql://postgres@127.0.0.1:5432/postgres),
``BENCH_MERCHANTS`` (default 10000).
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
from cryptopay.adapters.bootstrap import Services, Settings, build
from cryptopay.adapters.sql import upgrade
from cryptopay.core import flows
from cryptopay.core.identity import Merchant, Role, User
from cryptopay.core.ledger import Account, AccountKind, EntryRequest, Posting
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments.model import StoreSettings
from cryptopay.core.pricing import Pricer
from cryptopay.core.rails import rail_for
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.settlement.service import Settling
from cryptopay.core.system import RandomIds
from cryptopay.core.testing.fx import FixedRateSource, InMemoryQuoteRepository
from cryptopay.core.testing.system import ManualClock

SEEDED_AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # Monday 12:00 in Nairobi
RUN_AT = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # 17:30 in Nairobi, past the 17:00 cut-off
FUNDING = "assets:bench_funding:"
BATCH = 500


def _admin_url() -> str:
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    return url.replace("postgresql+psycopg://", "postgresql://")


def _database(admin: str, name: str, *, create: bool) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' if create else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return f"{admin.rpartition('/')[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}"


def seed(services: Services, count: int) -> None:
    """Owners, merchants and stores through the unit of work's own repositories, ``BATCH`` per transaction, then
    the ledger accounts and balances in batches."""
    rail = rail_for("tron", "USDT", confirmations=3)
    for start in range(0, count, BATCH):
        with services.uow() as uow:
            for n in range(start, min(count, start + BATCH)):
                merchant_id, phone = f"m{n:05d}", f"2547{n:08d}"
                uow.users.add(User(f"u{n:05d}", f"owner{n}@bench.example", "x", Role.MERCHANT, SEEDED_AT))
                profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, phone)
                uow.merchants.add(Merchant(merchant_id, f"u{n:05d}", f"Shop {n}", profile, SEEDED_AT, SEEDED_AT))
                uow.stores.put(StoreSettings(merchant_id=merchant_id, rails=[rail], tolerance_percent=Decimal(0)))
    _fund(services, count)


def _fund(services: Services, count: int) -> None:
    ledger = services.ledger
    shared = [Account(FUNDING + a.code, AccountKind.ASSET, a, allow_negative=True) for a in (KES, USDT)]
    shared += [Account(flows.trading_account(a.code), AccountKind.EQUITY, a, allow_negative=True) for a in (KES, USDT)]
    shared += [
        Account(flows.IN_FLIGHT, AccountKind.LIABILITY, KES),
        Account(flows.FX_SPREAD, AccountKind.REVENUE, KES),
        Account(flows.PAYOUT_FEE, AccountKind.REVENUE, KES),
    ]
    ledger.open_accounts(shared)
    requests = []
    for start in range(0, count, BATCH):
        ids = [f"m{n:05d}" for n in range(start, min(count, start + BATCH))]
        liabilities = [flows.merchant_liability(m, a) for m in ids for a in (KES, USDT)]
        kinds = {flows.merchant_liability(m, a): a for m in ids for a in (KES, USDT)}
        ledger.open_accounts([Account(code, AccountKind.LIABILITY, kinds[code]) for code in liabilities])
    for n in range(count):
        merchant_id = f"m{n:05d}"
        requests.append(_credit(merchant_id, Money.of(5_000 + (n % 12) * 5_000, KES)))
        if n % 5 == 0:
            requests.append(_credit(merchant_id, Money.of(40 + n % 7, USDT)))
    for start in range(0, len(requests), BATCH):
        ledger.post_many(requests[start : start + BATCH])


def _credit(merchant_id: str, amount: Money) -> EntryRequest:
    postings = (
        Posting.debit(FUNDING + amount.asset.code, amount),
        Posting.credit(flows.merchant_liability(merchant_id, amount.asset), amount),
    )
    return EntryRequest(f"bench:{merchant_id}:{amount.asset.code}", postings)


def settling_for(services: Services, clock: ManualClock) -> Settling:
    rates = FixedRateSource("bench", clock, {"USDT/KES": "129.50", "USDT/USD": "1"})
    pricer = Pricer([rates], clock=clock, ids=RandomIds(), quotes=InMemoryQuoteRepository())
    return Settling(
        uow=services.uow,
        clock=clock,
        ids=RandomIds(),
        ledger=services.ledger,
        pricer=pricer,
        merchants=services.merchants,
    )


def _timed(label: str, work: object) -> tuple[float, object]:
    started = time.perf_counter()
    result = work() if callable(work) else None
    seconds = time.perf_counter() - started
    print(f"{label:<34} {seconds:8.2f} s", flush=True)
    return seconds, result


def main() -> None:
    count = int(os.environ.get("BENCH_MERCHANTS", "10000"))
    admin, name = _admin_url(), f"bench_settle_{secrets.token_hex(4)}"
    url = _database(admin, name, create=True)
    try:
        upgrade(url)
        with tempfile.TemporaryDirectory() as data:
            env = {"CRYPTOPAY_DATABASE_URL": url, "CRYPTOPAY_DATA_DIR": data, "CRYPTOPAY_ALLOW_SANDBOX": "1"}
            services = build(Settings.from_env(env), clock=ManualClock(SEEDED_AT))
            try:
                figures = _measure(services, count)
            finally:
                services.close()
    finally:
        _database(admin, name, create=False)
    print(json.dumps(figures))


def _measure(services: Services, count: int) -> dict[str, float | int]:
    print(f"settlement for {count} merchants on PostgreSQL", flush=True)
    seed_s, _ = _timed("seed (owners, merchants, balances)", lambda: seed(services, count))
    clock = ManualClock(RUN_AT)
    settling = settling_for(services, clock)
    plan_s, planned = _timed("plan (dry run)", lambda: settling.run_settlements(dry_run=True))
    run_s, ran = _timed("run (holds, payouts)", settling.run_settlements)
    clock.advance(minutes=15)
    again_s, _ = _timed("run again (all settled)", settling.run_settlements)
    assert isinstance(planned, list) and isinstance(ran, list)
    payouts = sum(len(r.payouts) for r in ran)
    print(f"merchants planned {len(planned)}, settlements {sum(1 for r in ran if r.settlement)}, payouts {payouts}")
    return {
        "merchants": count,
        "seed_s": round(seed_s, 2),
        "plan_s": round(plan_s, 2),
        "run_s": round(run_s, 2),
        "rerun_s": round(again_s, 2),
        "payouts": payouts,
    }


if __name__ == "__main__":
    main()
