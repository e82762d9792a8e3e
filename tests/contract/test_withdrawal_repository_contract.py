"""Wallet withdrawals: the same repository behaviour from the in-memory fake, SQLite and PostgreSQL, and a whole
withdrawal (request, send, confirm) on each backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.core.compliance.screening import ListEntry
from cryptopay.core.compliance.screening_waits import ScreeningWaits
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import TxState
from cryptopay.core.wallets.withdrawal_model import Withdrawal, WithdrawalState

from tests.contract.conftest import sql_backend_from_engine
from tests.support.withdraw_stack import SANCTIONED, memory_withdraw_backend, withdraw_stack

AT = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"


@pytest.fixture
def backend(engine):
    if engine is None:
        return memory_withdraw_backend()
    from tests.support.sql_backends import Backend

    found = sql_backend_from_engine(engine)
    return Backend(found.name, found.storage, engine)


def withdrawal(wid: str, user: str = "usr_a", minutes: int = 0, address: str = ADDRESS) -> Withdrawal:
    at = AT + timedelta(minutes=minutes)
    return Withdrawal(
        id=wid,
        user_id=user,
        network="polygon",
        address=address,
        amount=Money.of("100", "USDT"),
        fee=Money.of("1", "USDT"),
        kes_value=Money.of("13000", "KES"),
        hold_id=f"hold_{wid}",
        created_at=at,
        send_after=at + timedelta(hours=24),
        first_time_address=True,
        token_contract="0xc2132D05D31c914a87C6611C10748AEb04B58e8F",
        network_fee_estimate=Money.of("0.01", "POL"),
    )


def test_a_withdrawal_comes_back_equal_and_updates(backend):
    """Every field survives; an update is stored; ids are unique; an unknown update is NotFound."""
    with backend.uow() as uow:
        uow.withdrawals.add(withdrawal("wdr_1"))
        with pytest.raises(Conflict):
            uow.withdrawals.add(withdrawal("wdr_1"))
    with backend.uow() as uow:
        found = uow.withdrawals.get("wdr_1", lock=True)
        assert found == withdrawal("wdr_1")
        found.state, found.tx_hash, found.network_fee = WithdrawalState.SENT, "0xabc", Money.of("0.02", "POL")
        uow.withdrawals.update(found)
    with backend.uow() as uow:
        assert uow.withdrawals.get("wdr_1") == found
        with pytest.raises(NotFound):
            uow.withdrawals.update(withdrawal("wdr_9"))


def test_listings_by_user_address_state_and_due_time(backend):
    """Newest first per user; by address (case-insensitive on EVM); due after send_after; by state for operators."""
    with backend.uow() as uow:
        uow.withdrawals.add(withdrawal("wdr_1", minutes=0))
        uow.withdrawals.add(withdrawal("wdr_2", minutes=10, address=ADDRESS.lower()))
        uow.withdrawals.add(withdrawal("wdr_3", user="usr_b", minutes=20))
    with backend.uow() as uow:
        repo = uow.withdrawals
        assert [w.id for w in repo.for_user("usr_a", after=None, limit=10)] == ["wdr_2", "wdr_1"]
        assert [w.id for w in repo.for_user("usr_a", after="wdr_2", limit=10)] == ["wdr_1"]
        assert [w.id for w in repo.to_address("usr_a", "polygon", ADDRESS.lower())] == ["wdr_1", "wdr_2"]
        assert repo.to_address("usr_a", "tron", ADDRESS.lower()) == []
        assert repo.due(AT + timedelta(hours=24, minutes=10), limit=10) == [
            withdrawal("wdr_1", minutes=0),
            withdrawal("wdr_2", minutes=10, address=ADDRESS.lower()),
        ]
        assert [w.id for w in repo.list(state=WithdrawalState.REQUESTED, after="wdr_1")] == ["wdr_2", "wdr_3"]
        assert repo.list(state=WithdrawalState.SENT) == []


def test_due_withdrawals_are_read_a_keyset_page_at_a_time(backend):
    """``due(after=(send_after, id))`` gives the due ones past that one, ties by id (a run reads past the withdrawals
    of frozen users: ``page_past``)."""
    with backend.uow() as uow:
        for wid, minutes in (("wdr_3", 0), ("wdr_1", 0), ("wdr_2", 10)):
            uow.withdrawals.add(withdrawal(wid, minutes=minutes))
    due_at, first = AT + timedelta(hours=25), AT + timedelta(hours=24)
    with backend.uow() as uow:
        repo = uow.withdrawals
        assert [w.id for w in repo.due(due_at, limit=2)] == ["wdr_1", "wdr_3"]
        assert [w.id for w in repo.due(due_at, limit=2, after=(first, "wdr_1"))] == ["wdr_3", "wdr_2"]
        assert [w.id for w in repo.due(due_at, limit=2, after=(first, "wdr_3"))] == ["wdr_2"]
        assert repo.due(due_at, limit=2, after=(first + timedelta(minutes=10), "wdr_2")) == []


def test_a_whole_withdrawal_on_each_backend(backend):
    """Request, cool-off, send, confirm: the books show the coins left custody and our fee earned."""
    stack = withdraw_stack(backend)
    user = stack.wallet.sign_up("0712000001", tier=1)
    stack.wallet.fund(user, "300", "USDT")
    stack.fund_hot_wallet("polygon", "1000")
    w = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    stack.clock.advance(hours=24)
    [sent] = stack.withdrawals.send_due()
    stack.senders["polygon"].finish(w.id, TxState.CONFIRMED)
    [done] = stack.withdrawals.check_sent()
    assert (sent.state, done.state) == (WithdrawalState.SENT, WithdrawalState.CONFIRMED)
    assert stack.wallet.balance(user, "USDT") == Money.of("199", "USDT")
    assert stack.wallet.ledger.balance("assets:custody:polygon:USDT").posted == Money.of("900", "USDT")
    assert all(v == 0 for v in stack.wallet.ledger.trial_balance().values())


def test_with_no_sanctions_list_loaded_a_required_screening_holds_withdrawals_until_one_is(backend):
    """R12-3: screening required and no list loaded: the withdrawals are held (requested, coins held, ``held``
    stored and audited once), never sent unscreened; once a list is imported the next run sends the clean one and
    fails the one whose address it lists."""
    stack = withdraw_stack(backend, screening_required=True, lists=False, cool_off=timedelta(0))
    user = stack.wallet.sign_up("0712000001", tier=1)
    stack.wallet.fund(user, "300", "USDT")
    stack.fund_hot_wallet("polygon", "1000")
    clean = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    listed = stack.withdrawals.request(user.id, "polygon", SANCTIONED, Money.of("10", "USDT"))
    assert (clean.held, listed.held) == ("screening_unavailable", "screening_unavailable")
    stack.clock.advance(minutes=5)
    waiting = stack.withdrawals.send_due()
    assert [(w.state, w.held) for w in waiting] == [(WithdrawalState.REQUESTED, "screening_unavailable")] * 2
    assert stack.senders["polygon"].requests == [] and stack.withdrawals.send_due() == waiting
    assert stack.wallet.balance(user, "USDT") == Money.of("188", "USDT")  # both held, with their fees
    assert ScreeningWaits(withdrawals=backend.uow).count() == {"withdrawal": 2}  # cryptopay_screening_waiting
    entry = ListEntry(ref="ofac:1", kind="entity", names=("Mixer",), addresses=(("polygon", SANCTIONED),))
    stack.screening.import_list("ofac_sdn", "v-1", [entry], actor="operator:test")
    after = {w.id: w for w in stack.withdrawals.send_due()}
    assert (after[clean.id].state, after[clean.id].held) == (WithdrawalState.SENT, None)
    assert (after[listed.id].state, after[listed.id].held) == (WithdrawalState.FAILED, None)
    assert [r.withdrawal_id for r in stack.senders["polygon"].requests] == [clean.id]
    assert ScreeningWaits(withdrawals=backend.uow).count() == {"withdrawal": 0}
    with backend.uow() as uow:
        actions = [r.action for r in uow.audit.records() if r.subject == f"withdrawal:{clean.id}"]
    assert actions.count("wallet.withdrawal_held") == 1 and "wallet.withdrawal_released" in actions


def test_with_screening_not_required_a_withdrawal_with_no_list_loaded_is_sent_as_before(backend):
    """The demo and the sandbox (``CRYPTOPAY_SCREENING_REQUIRED`` off): no list, nothing waits."""
    stack = withdraw_stack(backend, lists=False, cool_off=timedelta(0))
    user = stack.wallet.sign_up("0712000001", tier=1)
    stack.wallet.fund(user, "300", "USDT")
    stack.fund_hot_wallet("polygon", "1000")
    w = stack.withdrawals.request(user.id, "polygon", ADDRESS, Money.of("100", "USDT"))
    assert w.held is None
    [sent] = stack.withdrawals.send_due()
    assert sent.state is WithdrawalState.SENT
