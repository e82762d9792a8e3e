"""A data subject's export holds their crypto deposits and withdrawals too (review readrev: it had neither: the
addresses, transactions and amounts of every coin the person moved on chain were left out of "all their data"),
without what compliance and the operators keep to themselves (a sanctions hold's list entry, a failure's cause)."""

from __future__ import annotations

import json
from datetime import timedelta

from cryptopay.core.identity.model import User
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.privacy.export import subject_export
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.deposits import InMemoryWalletDeposits
from cryptopay.core.testing.identity import InMemoryMerchants, InMemoryRefreshTokens, InMemoryTeams
from cryptopay.core.testing.kyc import InMemoryKycApplications
from cryptopay.core.testing.withdrawals import InMemoryWithdrawals
from cryptopay.core.wallets.withdrawal_model import Withdrawal, WithdrawalState

from tests.support.deposit_stack import deposit_stack
from tests.support.sql_backends import Backend
from tests.support.wallet_stack import memory_wallet_storage

LISTED = "0xbad0000000000000000000000000000000000bad"


def _stack():
    storage = memory_wallet_storage(
        wallet_deposits=InMemoryWalletDeposits(),
        withdrawals=InMemoryWithdrawals(),
        kyc_applications=InMemoryKycApplications(),
        refresh_tokens=InMemoryRefreshTokens(),
        merchants=InMemoryMerchants(),
        teams=InMemoryTeams(),
        **monitoring_repositories(),
    )
    return deposit_stack(Backend("memory", storage))


def _export(stack, user: User) -> dict:
    with stack.wallet.backend.uow() as uow:
        return subject_export(uow, stack.wallet.ledger, user, at=stack.clock.now())


def test_the_export_holds_the_persons_deposits_without_the_sanctions_entry_that_held_one() -> None:
    """A deposit held for a listed sender is in the export (amount, transaction, sending address, held ``review``,
    as the API shows its holder: P6) and so are the audit records about it; that a list matched, and which entry,
    are compliance's own."""
    stack = _stack()
    user = stack.sign_up("0712345678")
    stack.list_address("polygon", LISTED, ref="ofac:99001")
    stack.pay(user, "polygon", "25", sender=LISTED)
    stack.mine("polygon", 2)
    deposit = stack.deposit_of(user)
    exported = _export(stack, user)
    [shown] = exported["deposits"]
    assert (shown["id"], shown["state"], shown["hold_reason"]) == (deposit.id, "held", "review")
    assert (shown["tx_hash"], shown["from_address"], shown["amount"]) == (
        deposit.tx_hash,
        LISTED,
        {"amount": "25.000000", "asset": "USDT"},
    )
    assert {"wallet.deposit_seen", "wallet.deposit_held"} <= {r["action"] for r in exported["audit"]}
    assert "hold_detail" not in shown and "ofac" not in json.dumps(exported)
    assert "sanction" not in json.dumps(exported["deposits"]) + json.dumps(exported["audit"])


def test_the_export_holds_the_persons_withdrawals_without_the_operators_account_of_a_failure() -> None:
    """A withdrawal is in the export (where to, how much, its fee, its state); ``failure``, the operators' own
    account (who returned the coins and why), and the Travel Rule record's id are not."""
    stack = _stack()
    user = stack.sign_up("0712345678")
    now = stack.clock.now()
    withdrawal = Withdrawal(
        id="wdr_1",
        user_id=user.id,
        network="tron",
        address="TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",
        amount=Money.of(20, USDT),
        fee=Money.of(1, USDT),
        kes_value=Money.of(2600, KES),
        hold_id="hld_1",
        created_at=now,
        send_after=now + timedelta(hours=1),
        travel_rule_id="trr_1",
        state=WithdrawalState.FAILED,
        failure="returned by ops:jo: the hot wallet is short",
    )
    with stack.wallet.backend.uow() as uow:
        uow.withdrawals.add(withdrawal)
    [shown] = _export(stack, user)["withdrawals"]
    assert (shown["id"], shown["address"], shown["state"]) == ("wdr_1", withdrawal.address, "failed")
    assert "failure" not in shown and "travel_rule_id" not in shown
    assert "ops:jo" not in json.dumps(_export(stack, user))
