"""The worker's ``ledger.seal`` job (R10-6), as the composition root wires it: scheduled every minute, it seals the
entries posted since the last run, and ``audit verify --ledger`` (``verify_ledger_seals``) counts them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.bootstrap import build
from cryptopay.adapters.sql import make_engine
from cryptopay.adapters.sql.ledger_seal import verify_ledger_seals
from cryptopay.core.ledger import Account, AccountKind, EntryRequest, Posting
from cryptopay.core.money import KES, Money
from cryptopay_worker import SCHEDULE, Every
from cryptopay_worker.jobs import LEDGER_SEAL

from tests.support.sql_backends import migrated_sqlite


def test_the_job_seals_what_was_posted_since_the_last_run(tmp_path: Path) -> None:
    """Three entries, the job, two more, the job again: five sealed in two batches, none waiting; every minute."""
    assert Every(LEDGER_SEAL, timedelta(minutes=1)) in SCHEDULE
    settings = {"CRYPTOPAY_DATA_DIR": str(tmp_path)}
    migrated_sqlite(settings)
    root = RootSettings.from_env(settings)
    container, engine = build(root), make_engine(root.database_url)
    try:
        ledger = container.ledger
        ledger.open_account(Account("assets:float:KES", AccountKind.ASSET, KES))
        ledger.open_account(Account("equity:owner:KES", AccountKind.EQUITY, KES))
        job = container.job_registry.get(LEDGER_SEAL)

        def post(key: str) -> None:
            amount = Money.of("3", KES)
            postings = [Posting.debit("assets:float:KES", amount), Posting.credit("equity:owner:KES", amount)]
            ledger.post(EntryRequest(key, postings, key))

        for n in range(3):
            post(f"first-{n}")
        job({})
        for n in range(2):
            post(f"second-{n}")
        assert verify_ledger_seals(engine).waiting == 2
        job({})
        report = verify_ledger_seals(engine)
        assert (report.batches, report.sealed, report.waiting, report.problems) == (2, 5, 0, ())
    finally:
        engine.dispose()
        container.close()
