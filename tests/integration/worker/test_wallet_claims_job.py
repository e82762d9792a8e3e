"""Issue 14: the worker's ``wallets.expire_claims`` returns unclaimed transfers, on the inline queue and in RQ alike."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.bootstrap import build
from cryptopay.adapters.sms.file import FileSms
from cryptopay.core.flows import FLOAT, wallet_account
from cryptopay.core.kyc import Requirement
from cryptopay.core.ledger import Account, AccountKind
from cryptopay.core.money import KES, Money
from cryptopay.core.testing.system import ManualClock
from cryptopay.core.wallets import TransferState
from cryptopay_worker import WorkerServices, build_registry
from cryptopay_worker.jobs import WALLET_CLAIMS_EXPIRE

from tests.support.sql_backends import migrated_sqlite


def test_an_unclaimed_transfer_goes_back_when_the_job_runs_after_seven_days(tmp_path):
    """The root's job (the same handler the RQ worker registers) returns a claim older than 7 days, once."""
    clock = ManualClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path)}
    migrated_sqlite(env)
    services = build(RootSettings.from_env(env), clock=clock)
    try:
        verification = services.wallet_signup.start("0712000001")
        (message,) = FileSms(tmp_path / "sms.jsonl").read()
        code = re.search(r"\d{6}", message.text).group(0)
        user = services.wallet_signup.complete(verification.id, code, password="a long passphrase").user
        with services.uow() as uow:
            profile = uow.kyc.get(user.id)
            profile.submit(1, {Requirement.NATIONAL_ID}, at=clock.now())
            profile.approve("usr_admin", at=clock.now())
            uow.kyc.update(profile)
        services.ledger.open_account(Account(FLOAT, AccountKind.ASSET, KES, allow_negative=True))
        services.ledger.transfer("fund", debit=FLOAT, credit=wallet_account(user.id, KES), amount=Money.of(90, KES))
        sent = services.wallets.send(user.id, "0733000003", Money.of(60, KES))
        assert build_registry(WorkerServices.of(services)).get(WALLET_CLAIMS_EXPIRE) is not None
        clock.advance(days=8)
        services.queue.enqueue(WALLET_CLAIMS_EXPIRE, {})
        services.queue.drain()
        assert services.wallets.transfer(user.id, sent.id).state is TransferState.RETURNED
        assert services.wallets.balances(user.id)["KES"] == Money.of(90, KES)
    finally:
        services.close()


def test_quote_claims_a_week_past_their_window_are_pruned_by_the_hourly_job(tmp_path, caplog):
    """``wallets.prune_quotes`` (the root's handler, the one the RQ worker registers and the schedule runs hourly)
    deletes a claim once its window ended over a week ago, and logs how many went; a newer claim stays."""
    import logging
    from datetime import timedelta

    from cryptopay.core.wallets.quotes import QuotePurpose, WalletQuote
    from cryptopay_worker.jobs import WALLET_QUOTES_PRUNE
    from cryptopay_worker.schedule import SCHEDULE

    assert [e.interval for e in SCHEDULE if e.job_name == WALLET_QUOTES_PRUNE] == [timedelta(hours=1)]
    clock = ManualClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path)}
    migrated_sqlite(env)
    services = build(RootSettings.from_env(env), clock=clock)
    try:
        now = clock.now()
        with services.uow() as uow:
            for quote_id, ended in (("fxq_old", now - timedelta(days=7, minutes=1)), ("fxq_new", now)):
                claim = WalletQuote(
                    quote_id=quote_id, owner_id="usr_a", purpose=QuotePurpose.BUY, locked_at=ended, expires_at=ended
                )
                uow.wallet_quotes.add(claim)
        assert build_registry(WorkerServices.of(services)).get(WALLET_QUOTES_PRUNE) is not None
        with caplog.at_level(logging.INFO, logger="cryptopay.core.wallets.quotes"):
            services.queue.enqueue(WALLET_QUOTES_PRUNE, {})
            services.queue.drain()
        with services.uow() as uow:
            assert uow.wallet_quotes.get("fxq_old") is None and uow.wallet_quotes.get("fxq_new") is not None
        assert "wallet quote claims pruned: 1" in caplog.text
    finally:
        services.close()
