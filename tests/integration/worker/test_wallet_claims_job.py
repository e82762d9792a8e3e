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

from tests.support.kyc_rig import approve_after_reading
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


def _signed_up(services, tmp_path, phone: str):
    verification = services.wallet_signup.start(phone)
    message = [m for m in FileSms(tmp_path / "sms.jsonl").read() if m.to == phone][-1]
    code = re.search(r"\d{6}", message.text).group(0)
    return services.wallet_signup.complete(verification.id, code, password="a long passphrase").user


def _invited(services, tmp_path, sender_id: str, phone: str):
    """Three KES 5,000 sends to ``phone`` before it signs up; the user it signs up."""
    for _ in range(3):
        services.wallets.send(sender_id, phone, Money.of(5000, KES))
    return _signed_up(services, tmp_path, phone)


def test_the_root_claims_what_tier_0_could_not_take_after_kyc_approval_and_in_the_job(tmp_path):
    """Wired as production wires it: an officer's KYC approval (``kyc_review``'s ``on_granted``) claims the transfer
    a tier-0 wallet could not take at sign-up; and the job claims what a new day has room for before returning."""
    from tests.support.kyc_rig import person

    clock = ManualClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path)}
    migrated_sqlite(env)
    services = build(RootSettings.from_env(env), clock=clock)
    try:
        amina = _signed_up(services, tmp_path, "254712000001")
        with services.uow() as uow:
            profile = uow.kyc.get(amina.id)
            profile.submit(1, {Requirement.NATIONAL_ID}, at=clock.now())
            profile.approve("usr_admin", at=clock.now())
            uow.kyc.update(profile)
        services.ledger.open_account(Account(FLOAT, AccountKind.ASSET, KES, allow_negative=True))
        services.ledger.transfer("fund", debit=FLOAT, credit=wallet_account(amina.id, KES), amount=Money.of(30000, KES))
        chebet, daudi = (_invited(services, tmp_path, amina.id, phone) for phone in ("254733000003", "254733000004"))
        assert services.wallets.balances(chebet.id)["KES"] == Money.of(10000, KES)
        review = services.kyc_review
        application = review.apply_personal(chebet.id, 1, person(), notify_to="chebet@example.co.ke")
        review.submit(chebet.id, application.id)
        review.claim("usr_officer", application.id)
        approve_after_reading(review, "usr_officer", application.id)
        assert services.wallets.balances(chebet.id)["KES"] == Money.of(15000, KES)
        clock.advance(days=1)
        services.queue.enqueue(WALLET_CLAIMS_EXPIRE, {})
        services.queue.drain()
        assert services.wallets.balances(daudi.id)["KES"] == Money.of(15000, KES)
        clock.advance(days=7)
        services.queue.enqueue(WALLET_CLAIMS_EXPIRE, {})
        services.queue.drain()
        assert services.wallets.balances(amina.id)["KES"] == Money.of(0, KES)  # nothing went back
    finally:
        services.close()
