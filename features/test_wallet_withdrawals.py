"""wallet_withdrawals.feature on the in-memory parts: the withdraw stack and a fake hot-wallet sender on Polygon."""

import pytest
from cryptopay.core.errors import InsufficientFunds
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import SentTransaction, TxState, WithdrawalRequest
from cryptopay.core.testing.payments_stack import FakeChainSender
from pytest_bdd import scenarios

from features.wallet_withdrawals_steps import *  # noqa: F403  (the steps become this module's fixtures)
from features.wallet_withdrawals_steps import WithdrawWorld
from tests.support.withdraw_stack import withdraw_stack

scenarios("wallet_withdrawals.feature")

ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"
HOT = "0xde709f2102306220921060314715629080e2fb77"
DEPOSIT = "0x8617E340B3D01FA5F11F306F4090FD50E238070D"


class StarvableSender(FakeChainSender):
    """The fake sender, whose hot wallet can be emptied (a send is then refused before anything is signed)."""

    empty = False

    def __init__(self, network: str) -> None:
        super().__init__(network)
        self.mempool: set[str] = set()  # the withdrawals whose transaction waits to be mined

    def send(self, request: WithdrawalRequest) -> SentTransaction:
        if self.empty and request.withdrawal_id not in self.sent:
            raise InsufficientFunds(f"the {self.network} hot wallet holds too little to send {request.amount}")
        sent = FakeChainSender.send(self, request)
        if sent.state is TxState.PENDING:
            self.mempool.add(request.withdrawal_id)  # broadcast (again): the same transaction waits
        return sent

    def finish(self, withdrawal_id: str, state: TxState) -> None:
        FakeChainSender.finish(self, withdrawal_id, state)
        self.mempool.discard(withdrawal_id)

    def forget(self, withdrawal_id: str) -> None:
        """Evicted from the mempool: nothing mines it, its nonce is still free (the sender still says pending)."""
        self.mempool.discard(withdrawal_id)


@pytest.fixture
def withdraw_world() -> WithdrawWorld:
    sender = StarvableSender("polygon")
    stack = withdraw_stack(senders={"polygon": sender}, hot_wallets={"polygon": HOT})

    def received(address: str) -> Money:
        confirmed = [r for r in {r.withdrawal_id: r for r in sender.requests}.values() if r.to_address == address]
        done = [r.amount for r in confirmed if sender.sent[r.withdrawal_id].state is TxState.CONFIRMED]
        return sum(done, Money.zero("USDT"))

    def starve() -> None:
        sender.empty = True

    return WithdrawWorld(
        stack,
        "polygon",
        ADDRESS,
        confirm=lambda w: sender.finish(w.id, TxState.CONFIRMED),
        received=received,
        starve=starve,
        signed=lambda: len(sender.sent),
        replace=lambda w: sender.finish(w.id, TxState.DROPPED),
        forget=lambda w: sender.forget(w.id),
        waiting=lambda w: w.id in sender.mempool,
        hot=HOT,
        deposit=DEPOSIT,
    )
