"""Withdrawal fees against a real network fee (F11): the production ``EvmSender`` on anvil estimates the gas of an
ERC-20 withdrawal; the fee is never below that estimate x 1.25 valued in USDT, and when the base fee rises above
what a requested withdrawal's fee covers, the worker does not sign it (``fee_changed``, the coins back)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptopay.adapters.evm.addresses import validate_address
from cryptopay.adapters.evm.sender import EvmSender, erc20_balance
from cryptopay.core.money import USDT, Money, Rounding
from cryptopay.core.ports.chains import WithdrawalRequest
from cryptopay.core.testing.chains import InMemoryWithdrawalStore, StaticKeys
from cryptopay.core.wallets.withdrawal_model import FEE_CHANGED, WithdrawalState
from eth_account import Account
from web3 import Web3

from tests.support.withdraw_stack import withdraw_stack

from .conftest import FAST, EvmEnv

pytestmark = pytest.mark.anvil

ETH_KES = "400000"


def _world(evm: EvmEnv):
    hot = Account.create()  # its own nonces: no other test signs with it
    evm.node.rpc("anvil_setBalance", hot.address, hex(10**19))
    owner = evm.w3.eth.accounts[0]
    token = evm.token(evm.usdt6)
    evm.w3.eth.wait_for_transaction_receipt(token.functions.mint(hot.address, 10**12).transact({"from": owner}))
    rail = evm.rails(confirmations=1)[0]
    keys = StaticKeys({hot.address: bytes(hot.key)})
    sender = EvmSender(
        evm.w3,
        [rail],
        hot_wallet=hot.address,
        keys=keys,
        store=InMemoryWithdrawalStore(),
        confirmations=1,
        backoff=FAST,
    )
    stack = withdraw_stack(
        senders={"ethereum": sender},
        rails={rail.key: rail},
        validators={"ethereum": validate_address},
        estimators={"ethereum": sender},
    )
    stack.wallet.rates.set("ETH/KES", ETH_KES)
    user = stack.wallet.sign_up("0712000001", tier=1)
    stack.wallet.fund(user, "300", "USDT")
    stack.fund_hot_wallet("ethereum", "1000")
    return stack, user, sender, hot.address


def test_the_fee_covers_the_real_gas_and_a_send_above_it_is_refused(evm: EvmEnv) -> None:
    stack, user, sender, hot = _world(evm)
    to = Account.create().address
    quote = stack.withdrawals.quote(user.id, "ethereum", to, Money.of("100", "USDT"))
    estimate = sender.estimate_fee(WithdrawalRequest("x", "ethereum", to, Money.of("100", "USDT"), evm.usdt6))
    assert quote.network_fee is not None and quote.network_fee.asset.code == "ETH" and quote.network_fee.is_positive()
    assert quote.network_fee == estimate
    value = Money.rounded(estimate.amount * Decimal("1.25") * Decimal(ETH_KES) / 130, USDT, Rounding.UP)
    assert quote.network_fee_value == value
    assert quote.fee == max(Money.of("5", "USDT"), value)  # the Ethereum schedule, or the gas if more
    w = stack.withdrawals.request(user.id, "ethereum", to, Money.of("100", "USDT"), max_fee=quote.fee)
    assert w.network_fee_cap is not None and w.network_fee_cap >= estimate
    stack.clock.advance(hours=24)
    base = int(evm.w3.eth.get_block("latest")["baseFeePerGas"])
    try:
        evm.node.rpc("anvil_setNextBlockBaseFeePerGas", hex(500 * 10**9))  # 500 gwei: gas far above the fee
        evm.mine()
        [failed] = stack.withdrawals.send_due()
    finally:
        evm.node.rpc("anvil_setNextBlockBaseFeePerGas", hex(base))
        evm.mine()
    assert (failed.state, failed.failure_code) == (WithdrawalState.FAILED, FEE_CHANGED)
    assert evm.w3.eth.get_transaction_count(Web3.to_checksum_address(hot)) == 0  # nothing signed
    assert stack.wallet.balance(user, "USDT") == Money.of("300", "USDT")
    again = stack.withdrawals.request(user.id, "ethereum", to, Money.of("100", "USDT"))
    stack.clock.advance(hours=24)
    [sent] = stack.withdrawals.send_due()
    assert sent.state in (WithdrawalState.SENT, WithdrawalState.CONFIRMED) and sent.id == again.id
    assert sent.tx_hash is not None
    evm.w3.eth.wait_for_transaction_receipt(sent.tx_hash, timeout=30)
    assert erc20_balance(evm.w3, evm.usdt6, to) == 100 * 10**6
