"""A reversal owed because a deposit's block left the chain, cancelled because the transfer was mined again (the
coins arrived after all): the freeze that reversal put on the wallet goes with it (review readrev: the wallet stayed
frozen, "deposit X was reversed by the chain; it is owed", though nothing was owed); a freeze of anyone else's stays."""

from __future__ import annotations

from cryptopay.core.money import Money
from cryptopay.core.wallets.deposit import DepositState

from tests.support.deposit_stack import deposit_stack


def usdt(amount: str) -> Money:
    return Money.of(amount, "USDT")


def _owed(stack):
    """A user who sent a credited deposit on before its block left the chain: the reversal is owed, frozen."""
    user = stack.sign_up("0712345678", tier=1)
    stack.sign_up("0722000000", tier=1)
    paid = stack.pay(user, "polygon", "25")
    stack.mine("polygon", 2)
    stack.wallet.wallets.send(user.id, "0722000000", usdt("20"))
    stack.chains["polygon"].reorg(3)
    stack.mine("polygon", 1)
    deposit = stack.deposit_of(user)
    assert deposit.state is DepositState.WITHDRAWN and deposit.clawback_pending
    assert stack.wallet.wallets.wallet(user.id).frozen
    return user, paid


def test_a_clawback_cancelled_by_the_transfer_mined_again_lifts_its_own_freeze() -> None:
    """Mined again: the credit stands, nothing is owed, the wallet sends again; audited ``wallet.unfrozen``."""
    stack = deposit_stack()
    user, paid = _owed(stack)
    stack.chains["polygon"].include(paid)
    stack.sync()
    deposit = stack.deposit_of(user)
    assert deposit.state is DepositState.CREDITED and not deposit.clawback_pending
    assert not stack.wallet.wallets.wallet(user.id).frozen
    assert "wallet.unfrozen" in [r.action for r in stack.wallet.backend.storage.audit_records()]
    stack.wallet.wallets.send(user.id, "0722000000", usdt("5"))


def test_a_freeze_an_officer_put_on_the_wallet_meanwhile_stays() -> None:
    """An officer froze the wallet for a reason of their own after the deposit's freeze: it stays frozen."""
    stack = deposit_stack()
    user, paid = _owed(stack)
    stack.wallet.wallets.unfreeze(user.id, actor="usr_admin")
    stack.wallet.wallets.freeze(user.id, reason="fraud report", actor="usr_admin")
    stack.chains["polygon"].include(paid)
    stack.sync()
    wallet = stack.wallet.wallets.wallet(user.id)
    assert wallet.frozen and wallet.frozen_reason == "fraud report"
