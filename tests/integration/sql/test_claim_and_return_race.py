"""A sign-up claiming an invitation while the worker returns it to its sender, on PostgreSQL: one of them wins, never
both (review readrev: the sign-up read the waiting transfers unlocked, so a return committing meanwhile was followed
by a claim of the same money: the sender refunded and the recipient credited, the transfer's ``returned`` overwritten).
"""

from __future__ import annotations

import threading
import time

import pytest
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.flows import wallet_claims
from cryptopay.core.money import KES, Money
from cryptopay.core.wallets import claims
from cryptopay.core.wallets.model import TransferState
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.support.sql_backends import TEST_PERSONAL, Backend
from tests.support.threads import joined
from tests.support.wallet_stack import PASSWORD, wallet_stack

_WAITING = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"


@pytest.fixture
def stack(pg_engine: Engine):
    return wallet_stack(Backend("postgresql", SqlStorage(pg_engine, personal=TEST_PERSONAL), pg_engine))


def test_a_sign_up_does_not_claim_a_transfer_the_worker_is_returning(stack, pg_engine: Engine) -> None:
    """The worker's return of an expired invitation holds the transfer; the number signs up meanwhile: once the
    return commits, the sign-up finds it returned and claims nothing (the sender has it back, once)."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "5000", "KES")
    late = stack.wallets.send(amina.id, "0712000009", Money.of(600, KES))
    stack.wallets.send(amina.id, "0712000008", Money.of(1000, KES))  # another invitation: the claims account holds more
    stack.clock.advance(days=8)
    verification = stack.signup.start("0712000009")
    code = stack.last_code("0712000009")
    signed: list[object] = []
    with stack.backend.uow() as uow:
        assert claims._return(uow, ledger=stack.ledger, transfer_id=late.id, now=stack.clock.now()) == 1
        worker = threading.Thread(
            target=lambda: signed.append(stack.signup.complete(verification.id, code, password=PASSWORD))
        )
        worker.start()
        with pg_engine.connect() as watch:  # until the sign-up waits for the return's locks (or has finished)
            deadline = time.monotonic() + 120
            while worker.is_alive() and not watch.execute(text(_WAITING)).scalar():
                # each look in a transaction of its own: PostgreSQL shows pg_stat_activity as it was at a
                # transaction's first read, so one open transaction never saw the sign-up queue and waited for ever
                watch.rollback()
                assert time.monotonic() < deadline, "the sign-up never queued for the return's locks"
                time.sleep(0.01)
    joined(worker)
    [done] = signed
    with stack.backend.uow() as uow:
        transfer = uow.wallet_transfers.get(late.id)
    assert transfer is not None and transfer.state is TransferState.RETURNED
    assert stack.balance(done.user, "KES").is_zero()  # type: ignore[attr-defined]
    assert stack.balance(amina, "KES") == Money.of(4000, KES)
    assert stack.ledger.balance(wallet_claims(KES)).posted == Money.of(1000, KES)
    assert set(stack.ledger.trial_balance().values()) == {0}
