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
