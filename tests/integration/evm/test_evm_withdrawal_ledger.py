"""A refund from request to confirmation on anvil: the real ``Refunds`` use case, the real ``EvmSender`` and the ledger.

The invoice side (deposit, confirmations, settlement) runs on the ``PaymentsStack`` fakes; the refund itself is a
real 6-decimal USDT transfer from an anvil dev account acting as the hot wallet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptopay.adapters.evm.addresses import derive_address
from cryptopay.adapters.evm.sender import EvmSender, erc20_balance
from cryptopay.adapters.sql import make_engine
from cryptopay.adapters.sql.repositories.chains import SqlWithdrawalStore
from cryptopay.adapters.sql.tables_fx_chains import chain_nonces, chain_withdrawals
from cryptopay.core import flows
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.money import USDT, Money
from cryptopay.core.payments import Refund, RefundState
from cryptopay.core.payments.refunds import Refunds, withdrawals_in_flight
from cryptopay.core.ports.chains import WithdrawalRequest, WithdrawalStore
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.chains import InMemoryWithdrawalStore, StaticKeys
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.sandbox.anvil import dev_account_key
from eth_account import Account
from sqlalchemy.engine import Engine
from web3 import Web3

from tests.support.sql_backends import SqliteTemplate, postgres_database

from .conftest import FAST, EvmEnv

pytestmark = pytest.mark.anvil

FUNDED_HOT = 8  # anvil dev accounts no other test uses: one holding test USDT, one holding none
EMPTY_HOT = 9
CONFIRMATIONS = 3
MERCHANT = flows.merchant_liability("m1", USDT)
CUSTODY = flows.custody("ethereum", USDT)
IN_FLIGHT = withdrawals_in_flight(USDT)
TRANSFER_TOPIC = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")


def usdt(value: str) -> Money:
    return Money.of(value, USDT)


@attrs.frozen
class RefundWorld:
    """The payments stack with its ethereum refunds sent by a real ``EvmSender`` from ``hot_wallet``."""

    stack: PaymentsStack
    evm: EvmEnv
    store: WithdrawalStore
    hot_key: bytes

    @property
    def hot_wallet(self) -> str:
        return Web3.to_checksum_address(Account.from_key(self.hot_key).address)

    def sender(self) -> EvmSender:
        """A new sender object over the same durable withdrawal store (as after a restart)."""
        keys = StaticKeys({self.hot_wallet: self.hot_key})
        rails = [self.evm.rails(confirmations=CONFIRMATIONS)[0]]
        return EvmSender(self.evm.w3, rails, hot_wallet=self.hot_wallet, keys=keys, store=self.store, backoff=FAST)

    def refunds(self) -> Refunds:
        """The real use case wired like the stack's, with a fresh EVM sender."""
        s = self.stack
        return Refunds(uow=s.uow, clock=s.clock, ids=s.ids, ledger=s.ledger, senders={"ethereum": self.sender()})

    def overpaid_invoice(self) -> str:
        """An invoice for 100 USDT paid 120, confirmed and settled."""
        invoice = self.stack.invoicing.create_invoice("m1", usdt("100"))
        self.stack.pay(invoice.id, usdt("120"))
        self.stack.confirm(CONFIRMATIONS)
        assert self.stack.invoice(invoice.id).state is InvoiceState.SETTLED
        return invoice.id

    def transfers_to(self, address: str) -> int:
        """How many test-USDT ``Transfer`` logs on anvil pay ``address``."""
        topic_to = "0x" + "00" * 12 + address.lower().removeprefix("0x")
        token = Web3.to_checksum_address(self.evm.usdt6)
        query: Any = {"fromBlock": 0, "toBlock": "latest", "address": token, "topics": [TRANSFER_TOPIC, None, topic_to]}
        return len(self.evm.w3.eth.get_logs(query))


def _stack(evm: EvmEnv) -> PaymentsStack:
    """A stack on ethereum whose merchant m1 takes USDT at the anvil token contract (3 confirmations, 1% fee)."""
    stack = PaymentsStack(networks=("ethereum",))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    store = stack.add_merchant("m1", settlement=profile, rails=("usdt-ethereum",), confirmations=CONFIRMATIONS)
    with stack.uow() as uow:
        uow.stores.put(attrs.evolve(store, rails=[evm.rails(confirmations=CONFIRMATIONS)[0]]))
    return stack


@pytest.fixture(scope="module")
def sqlite_refund_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    """A migrated SQLite database to copy per test."""
    return SqliteTemplate(tmp_path_factory.mktemp("evm-refunds"))


@pytest.fixture(scope="module")
def pg_refund_engine(postgres_admin_url: str) -> Iterator[Engine]:
    """A migrated PostgreSQL database of this module's own."""
    with postgres_database(postgres_admin_url, "cryptopay_evm_refunds") as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WithdrawalStore]:
    """The sender's withdrawal store: in memory, or ``SqlWithdrawalStore`` on migrated SQLite or PostgreSQL."""
    if request.param == "memory":
        yield InMemoryWithdrawalStore()
    elif request.param == "sqlite":
        engine = make_engine(request.getfixturevalue("sqlite_refund_template").fresh_url(tmp_path))
        yield SqlWithdrawalStore(engine)
        engine.dispose()
    else:
        engine = request.getfixturevalue("pg_refund_engine")
        with engine.begin() as conn:  # every stack numbers its refunds from 1, so start from empty tables
            conn.execute(chain_withdrawals.delete())
            conn.execute(chain_nonces.delete())
        yield SqlWithdrawalStore(engine)


def _fund(evm: EvmEnv, holder: str) -> None:
    token = evm.token(evm.usdt6)
    if token.functions.balanceOf(holder).call() < 10**12:
        evm.w3.eth.wait_for_transaction_receipt(
            token.functions.mint(holder, 10**15).transact({"from": evm.w3.eth.accounts[0]})
        )


def test_evm_refund_goes_from_hold_to_posted_on_anvil(evm: EvmEnv, store: WithdrawalStore, fresh_index: int) -> None:
    """An overpayment refund holds first, broadcasts once however often it is sent, and posts when deep enough."""
    world = RefundWorld(_stack(evm), evm, store, dev_account_key(FUNDED_HOT))
    _fund(evm, world.hot_wallet)
    customer = derive_address(evm.xpub, fresh_index)
    invoice_id = world.overpaid_invoice()
    before = world.stack.ledger.balance(MERCHANT)
    assert (before.posted, world.stack.balance(CUSTODY)) == (usdt("118.8"), usdt("120"))

    refund = world.refunds().refund(invoice_id, address=customer, requested_by="merchant:m1")
    after_hold = world.stack.ledger.balance(MERCHANT)
    assert refund.amount == usdt("20") and refund.token_contract == evm.usdt6
    assert (after_hold.posted, after_hold.available) == (usdt("118.8"), usdt("98.8"))
    assert world.transfers_to(customer) == 0  # held before anything is broadcast

    crashed = world.sender().send(_withdrawal(refund))  # broadcast, then the worker died before recording it
    refunds = world.refunds()
    [sent] = refunds.send_refunds()
    assert sent.state is RefundState.SENT and sent.tx_hash == crashed.tx_hash
    assert refunds.send_refunds() == [] and world.refunds().send_refunds() == []  # sent refunds are not resent
    assert world.sender().send(_withdrawal(refund)).tx_hash == sent.tx_hash
    assert world.transfers_to(customer) == 1

    [waiting] = world.refunds().check_refunds()  # mined in one block, not yet deep enough
    assert waiting.state is RefundState.SENT and world.stack.ledger.balance(MERCHANT).posted == usdt("118.8")
    evm.node.rpc("evm_mine")
    evm.node.rpc("evm_mine")
    [done] = world.refunds().check_refunds()
    assert done.state is RefundState.CONFIRMED and done.tx_hash == sent.tx_hash
    final = world.stack.ledger.balance(MERCHANT)
    assert (final.posted, final.available) == (usdt("98.8"), usdt("98.8"))
    assert (world.stack.balance(CUSTODY), world.stack.balance(IN_FLIGHT)) == (usdt("100"), usdt("0"))
    assert world.stack.books_balanced()
    assert erc20_balance(evm.w3, evm.usdt6, customer) == 20_000_000
    assert world.refunds().check_refunds() == [] and world.transfers_to(customer) == 1


def test_evm_refund_from_an_empty_hot_wallet_voids_its_hold(
    evm: EvmEnv, store: WithdrawalStore, fresh_index: int
) -> None:
    """A hot wallet without the tokens refuses the send: the refund fails, its hold is voided, nothing is sent."""
    world = RefundWorld(_stack(evm), evm, store, dev_account_key(EMPTY_HOT))
    assert erc20_balance(evm.w3, evm.usdt6, world.hot_wallet) == 0
    nonce = evm.w3.eth.get_transaction_count(world.hot_wallet, "pending")
    customer = derive_address(evm.xpub, fresh_index)
    invoice_id = world.overpaid_invoice()
    refund = world.refunds().refund(invoice_id, address=customer, requested_by="merchant:m1")
    assert world.stack.ledger.balance(MERCHANT).available == usdt("98.8")

    [failed] = world.refunds().send_refunds()
    assert failed.state is RefundState.FAILED and failed.tx_hash is None
    assert failed.failure and "hot wallet holds" in failed.failure
    assert store.get(refund.id) is None and evm.w3.eth.get_transaction_count(world.hot_wallet, "pending") == nonce
    balance = world.stack.ledger.balance(MERCHANT)
    assert (balance.posted, balance.available) == (usdt("118.8"), usdt("118.8"))
    assert (world.stack.balance(CUSTODY), world.stack.balance(IN_FLIGHT)) == (usdt("120"), usdt("0"))
    assert world.stack.books_balanced() and world.transfers_to(customer) == 0
    assert world.refunds().owed(invoice_id, "usdt-ethereum") == usdt("20")
    assert world.refunds().send_refunds() == [] and world.refunds().check_refunds() == []


def test_evm_refund_from_a_hot_wallet_without_gas_keeps_its_hold_and_sends_once_funded(
    evm: EvmEnv, store: WithdrawalStore, fresh_index: int
) -> None:
    """A refund signed but refused for gas money stays held and requested; once gas arrives the same transaction lands.

    Voiding it instead would leave its signed transaction owning the wallet's next nonce: every later withdrawal
    would wait behind the gap, and the old transaction could still be mined after the merchant got the funds back.
    """
    hot_key = bytes(Account.create().key)
    world = RefundWorld(_stack(evm), evm, store, hot_key)
    _fund(evm, world.hot_wallet)
    assert evm.w3.eth.get_balance(world.hot_wallet) == 0
    customer = derive_address(evm.xpub, fresh_index)
    invoice_id = world.overpaid_invoice()
    refund = world.refunds().refund(invoice_id, address=customer, requested_by="merchant:m1")

    [waiting] = world.refunds().send_refunds()
    signed = store.get(refund.id)
    assert waiting.state is RefundState.REQUESTED and signed is not None and signed.tx_hash
    assert world.stack.ledger.balance(MERCHANT).available == usdt("98.8") and world.transfers_to(customer) == 0
    assert world.refunds().owed(invoice_id, "usdt-ethereum") == usdt("0")

    gas = {"from": evm.w3.eth.accounts[0], "to": world.hot_wallet, "value": 10**18}
    evm.w3.eth.wait_for_transaction_receipt(evm.w3.eth.send_transaction(gas))  # type: ignore[arg-type]
    [sent] = world.refunds().send_refunds()
    assert sent.state is RefundState.SENT and sent.tx_hash == signed.tx_hash
    evm.node.rpc("anvil_mine", hex(CONFIRMATIONS))
    [done] = world.refunds().check_refunds()
    assert done.state is RefundState.CONFIRMED and world.stack.ledger.balance(MERCHANT).posted == usdt("98.8")
    assert world.stack.books_balanced() and world.transfers_to(customer) == 1
    assert erc20_balance(evm.w3, evm.usdt6, customer) == 20_000_000


def _withdrawal(refund: Refund) -> WithdrawalRequest:
    return WithdrawalRequest(refund.id, refund.network, refund.address, refund.amount, refund.token_contract)
