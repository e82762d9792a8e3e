"""H20: a withdrawal never goes to an address the platform controls (a hot wallet, or a wallet's, an invoice's or a
remittance order's deposit address), on the in-memory stack: refused at the quote, at the confirmation (an address
derived since the quote too) and before the worker signs (one that became ours during the cool-off)."""

from __future__ import annotations

import pytest
from cryptopay.core.money import Money
from cryptopay.core.payments.internal import InternalAddress
from cryptopay.core.payments.model import DepositAddress
from cryptopay.core.testing.payments_stack import FakeChainSender
from cryptopay.core.wallets.withdrawal_model import WithdrawalState

from tests.support.withdraw_stack import withdraw_stack

HOT = "0x52908400098527886E0F7030069857D2E4169EE7"  # the hot wallet's (EIP-55)
OUTSIDE = "0xde709f2102306220921060314715629080e2fb77"  # nobody's here
OTHER = "0x8617E340B3D01FA5F11F306F4090FD50E238070D"  # another wallet's deposit address (on Ethereum)
TRON_INVOICE = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"


def ready():
    senders = {"polygon": FakeChainSender("polygon"), "tron": FakeChainSender("tron")}
    stack = withdraw_stack(senders=senders, hot_wallets={"polygon": HOT})
    user = stack.wallet.sign_up("0712000001", tier=1)
    stack.wallet.fund(user, "300", "USDT")
    stack.fund_hot_wallet("polygon", "10000")
    return stack, user


def register(stack, address: DepositAddress) -> None:
    with stack.wallet.backend.uow() as uow:
        uow.deposit_addresses.add(address)


def moved_nothing(stack, user) -> None:
    assert stack.wallet.balance(user, "USDT") == Money.of("300", "USDT")
    assert all(not s.requests for s in stack.senders.values())
    assert stack.withdrawals.for_user(user.id) == []
    assert "wallet.withdraw" not in [r.action for r in stack.wallet.backend.storage.audit_records()]


@pytest.mark.parametrize(
    ("network", "address", "owner"),
    [
        ("polygon", HOT, None),  # the hot wallet itself, as configured
        ("polygon", HOT.lower(), None),  # in another case: checksums differ only in case
        ("polygon", OTHER, "usr_other"),  # another wallet's address, derived on Ethereum: the same key on Polygon
        ("polygon", OTHER.lower(), "mine"),  # the user's own deposit address
        ("tron", TRON_INVOICE, "inv_1"),  # an invoice's (or a remittance order's invoice's) address
    ],
)
def test_the_quote_and_the_confirmation_refuse_an_address_the_platform_controls(network, address, owner):
    """422 ``internal_address`` before anything is held, screened, recorded or sent."""
    stack, user = ready()
    if owner is not None:
        at = stack.clock.now()
        if owner.startswith("inv_"):
            register(stack, DepositAddress(network, address, 0, owner, "mer_1", at))
        else:
            who = user.id if owner == "mine" else owner
            register(stack, DepositAddress("ethereum", OTHER, 7, None, None, at, user_id=who))
    amount = Money.of("10", "USDT")
    with pytest.raises(InternalAddress) as quoted:
        stack.withdrawals.quote(user.id, network, address, amount)
    assert (quoted.value.code, quoted.value.http_status, quoted.value.details["field"]) == (
        "internal_address",
        422,
        "address",
    )
    assert "phone or username" in quoted.value.message
    with pytest.raises(InternalAddress):
        stack.withdrawals.request(user.id, network, address, amount)
    moved_nothing(stack, user)
    assert stack.monitoring.alerts() == []  # refused before monitoring journals or screens anything


def test_an_outside_address_is_still_quoted_and_withdrawn_to():
    """The check refuses the platform's addresses only."""
    stack, user = ready()
    register(stack, DepositAddress("ethereum", OTHER, 7, None, None, stack.clock.now(), user_id="usr_other"))
    stack.withdrawals.quote(user.id, "polygon", OUTSIDE, Money.of("10", "USDT"))
    made = stack.withdrawals.request(user.id, "polygon", OUTSIDE, Money.of("10", "USDT"))
    assert made.state is WithdrawalState.REQUESTED


def test_an_address_derived_after_the_quote_is_refused_at_the_confirmation():
    """Quoted while nobody's; an invoice takes it before the user confirms: the confirmation asks again."""
    stack, user = ready()
    stack.withdrawals.quote(user.id, "polygon", OUTSIDE, Money.of("10", "USDT"))
    register(stack, DepositAddress("polygon", OUTSIDE, 3, "inv_9", "mer_1", stack.clock.now()))
    with pytest.raises(InternalAddress):
        stack.withdrawals.request(user.id, "polygon", OUTSIDE, Money.of("10", "USDT"))
    moved_nothing(stack, user)


def test_an_address_that_became_ours_during_the_cool_off_is_not_sent_and_the_coins_come_back():
    """The worker asks again before signing: failed with ``internal_address``, the hold voided, nothing sent."""
    stack, user = ready()
    w = stack.withdrawals.request(user.id, "polygon", OUTSIDE, Money.of("10", "USDT"))
    assert stack.wallet.balance(user, "USDT") == Money.of("289", "USDT")
    register(stack, DepositAddress("bsc", OUTSIDE, 4, None, None, stack.clock.now(), user_id="usr_other"))
    stack.clock.advance(hours=24)
    [failed] = stack.withdrawals.send_due()
    assert (failed.id, failed.state, failed.failure_code) == (w.id, WithdrawalState.FAILED, "internal_address")
    assert "phone or username" in (failed.outward_failure or "")
    assert stack.senders["polygon"].requests == []
    assert stack.wallet.balance(user, "USDT") == Money.of("300", "USDT")
