"""A payment on the wrong EVM network, on a real node: one anvil stands in for Ethereum and Polygon.

Each network is the production ``EvmWatcher`` over its own token contract on the node (Ethereum's USDT is the test
USDT; Polygon's is a second 6-decimal ERC-20, the test USDC contract, read as Polygon's USDT), scanned by the
worker's own ``scan_chains`` with ``ChainScanner`` cursors; the invoice asks for USDT on Ethereum only. The records,
invoices, books and cursors are in memory or on PostgreSQL (the SQL adapters). A reorg is an ``evm_revert`` to
before the payment and a longer branch mined in its place; a refund is sent by the real ``EvmSender``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from cryptopay.adapters.bootstrap.chains import scan_chains
from cryptopay.adapters.evm.sender import EvmSender, erc20_balance
from cryptopay.adapters.evm.watcher import EvmWatcher
from cryptopay.adapters.sql import make_engine
from cryptopay.adapters.sql.repositories.chains import SqlScanCursorStore, SqlWithdrawalStore
from cryptopay.adapters.sql.tables import outbox
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core import flows
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import USDT, Money
from cryptopay.core.payments.model import RefundState
from cryptopay.core.payments.refunds import Refunds
from cryptopay.core.payments.wrong_network import WrongNetworkState
from cryptopay.core.rails import Rail, rail_for
from cryptopay.core.scanning import ChainScanner
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.chains import InMemoryWithdrawalStore, StaticKeys
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.sandbox.anvil import dev_account_key
from eth_account import Account
from sqlalchemy.engine import Engine
from web3 import Web3

from tests.support.sql_backends import postgres_database

from .conftest import FAST, EvmEnv

pytestmark = pytest.mark.anvil

_forks = itertools.count(1)
PROFILE = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
POLYGON_HOT = 7  # anvil dev account 7 is Polygon's hot wallet here (no other test uses it)
DEPTH = 3


@pytest.fixture(params=["memory", "postgres"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine | None]:
    """None (the in-memory repositories and books) or a fresh migrated PostgreSQL database."""
    if request.param == "memory":
        yield None
        return
    with postgres_database(request.getfixturevalue("postgres_admin_url"), "cryptopay_wrongnet") as url:
        found = make_engine(url)
        yield found
        found.dispose()


class TwoNetworks:
    """The stack's detection over two real watchers of one anvil node, scanned as the worker scans."""

    def __init__(self, evm: EvmEnv, engine: Engine | None) -> None:
        self.evm, self.engine = evm, engine
        # The stack's clock at the node's time; a window long enough for a reorg's branch (1,000 s ahead) to count.
        latest = datetime.fromtimestamp(evm.w3.eth.get_block("latest")["timestamp"], UTC)
        self.stack = PaymentsStack(networks=("ethereum", "polygon"), start=latest)
        if engine is not None:
            self._use_sql(engine)
        self.stack.add_merchant("m1", settlement=PROFILE, rails=("usdt-ethereum",), window=timedelta(hours=2))
        chain = evm.node.chain_id
        self.rails = {
            "ethereum": rail_for("ethereum", "USDT", contract=evm.usdt6, chain_id=chain, confirmations=DEPTH),
            "polygon": rail_for("polygon", "USDT", contract=evm.usdc6, chain_id=chain, confirmations=DEPTH),
        }
        self.watchers = {n: EvmWatcher(evm.w3, [rail], backoff=FAST) for n, rail in self.rails.items()}
        start = evm.w3.eth.block_number + 1
        self.scanners = {n: ChainScanner(w, self.stack.cursors, start_block=start) for n, w in self.watchers.items()}

    def _use_sql(self, engine: Engine) -> None:
        stack = self.stack
        stack.storage = SqlStorage(engine, ids=stack.ids)  # type: ignore[assignment]
        stack.uow = stack.storage.unit_of_work
        stack.ledger = Ledger(stack.storage.ledger_store, clock=stack.clock, ids=stack.ids)
        stack.cursors = SqlScanCursorStore(engine)  # type: ignore[assignment]
        stack.wire_use_cases()

    def sync(self) -> None:
        """The worker's ``chains.scan`` then ``chains.confirm`` steps, each network to its head."""
        scan_chains(self.scanners, self.stack.detection)
        for network, watcher in self.watchers.items():
            self.stack.detection.confirm_payments(network, watcher, watcher)

    def topics(self) -> list[str]:
        if self.engine is None:
            return self.stack.topics()
        with self.engine.connect() as conn:
            return list(conn.scalars(sa.select(outbox.c.topic).order_by(outbox.c.created_at, outbox.c.id)))

    def refunds(self, hot_key: bytes) -> Refunds:
        """The real use case, sending on Polygon from the hot wallet ``hot_key`` with the real ``EvmSender``."""
        hot = Web3.to_checksum_address(Account.from_key(hot_key).address)
        store = InMemoryWithdrawalStore() if self.engine is None else SqlWithdrawalStore(self.engine)
        sender = EvmSender(
            self.evm.w3,
            [self.rails["polygon"]],
            hot_wallet=hot,
            keys=StaticKeys({hot: hot_key}),
            store=store,
            backoff=FAST,
        )
        s = self.stack
        rails: dict[str, Rail] = {r.key: r for r in self.rails.values()}
        return Refunds(uow=s.uow, clock=s.clock, ids=s.ids, ledger=s.ledger, senders={"polygon": sender}, rails=rails)


def test_usdt_on_polygon_is_recorded_withdrawn_by_a_reorg_seen_again_and_accepted(
    evm: EvmEnv, engine: Engine | None
) -> None:
    """Recorded pending (the invoice untouched); a reorg withdraws it; mined again it is pending again; accepted, it
    is confirmed at Polygon's depth on the node and booked in Polygon's custody."""
    world = TwoNetworks(evm, engine)
    stack = world.stack
    invoice = stack.invoicing.create_invoice("m1", Money.of("12.5", USDT))
    address = invoice.options[0].address
    assert address in stack.detection.watched_addresses("polygon")
    snapshot = evm.node.rpc("evm_snapshot")
    raw = evm.pay(evm.usdc6, address, 12_500_000)  # Polygon's USDT, to the Ethereum invoice's address
    world.sync()
    [record] = stack.detection.wrong_network_payments(invoice_id=invoice.id)
    assert (record.state, record.rail_key, record.transfer.amount) == (
        WrongNetworkState.PENDING,
        "usdt-polygon",
        Money.of("12.5", USDT),
    )
    assert stack.invoice(invoice.id).state is InvoiceState.NEW and stack.invoice(invoice.id).payments == []
    assert [t for t in world.topics() if "wrong_network" in t] == ["invoice.wrong_network_payment"]

    evm.node.rpc("evm_revert", snapshot)
    latest = evm.w3.eth.get_block("latest")["timestamp"]
    evm.node.rpc("evm_setNextBlockTimestamp", hex(latest + 1_000 + next(_forks)))
    evm.mine(4)
    world.sync()
    assert stack.detection.wrong_network_payment(record.id).state is WrongNetworkState.WITHDRAWN
    assert world.topics().count("invoice.wrong_network_payment_withdrawn") == 1

    evm.w3.eth.wait_for_transaction_receipt(evm.w3.eth.send_raw_transaction(raw), timeout=30, poll_latency=0.05)
    world.sync()
    again = stack.detection.wrong_network_payment(record.id)
    assert again.state is WrongNetworkState.PENDING and again.transfer.block_hash != record.transfer.block_hash

    stack.detection.accept_wrong_network(record.id, actor="ops:amina")
    assert stack.invoice(invoice.id).state is InvoiceState.PROCESSING
    evm.mine(3)
    world.sync()
    assert stack.invoice(invoice.id).state is InvoiceState.SETTLED
    assert stack.balance(flows.custody("polygon", USDT)) == Money.of("12.5", USDT) and stack.books_balanced()


def test_the_right_network_is_not_a_wrong_network_payment(evm: EvmEnv) -> None:
    """USDT on Ethereum to the same invoice pays it as usual; nothing is recorded on Polygon."""
    world = TwoNetworks(evm, None)
    invoice = world.stack.invoicing.create_invoice("m1", Money.of("3", USDT))
    evm.pay(evm.usdt6, invoice.options[0].address, 3_000_000)
    world.sync()
    assert world.stack.invoice(invoice.id).state is InvoiceState.PROCESSING
    assert world.stack.detection.wrong_network_payments(invoice_id=invoice.id) == []


def test_a_wrong_network_payment_is_refunded_whole_from_polygon_s_hot_wallet(
    evm: EvmEnv, engine: Engine | None
) -> None:
    """Once as deep as Polygon's rail asks, the refund books it into Polygon's custody against the suspense account,
    is sent by the real sender and, confirmed, pays it out: the payer has the coins back, the books and the custody
    check agree, and the merchant's balance was never touched."""
    world = TwoNetworks(evm, engine)
    stack, hot_key = world.stack, dev_account_key(POLYGON_HOT)
    hot = Web3.to_checksum_address(Account.from_key(hot_key).address)
    token = evm.token(evm.usdc6)
    evm.w3.eth.wait_for_transaction_receipt(
        token.functions.mint(hot, 10**12).transact({"from": evm.w3.eth.accounts[0]})
    )
    payer = Account.create().address
    invoice = stack.invoicing.create_invoice("m1", Money.of("12.5", USDT))
    evm.pay(evm.usdc6, invoice.options[0].address, 12_500_000)
    world.sync()
    evm.mine(DEPTH)
    world.sync()
    [record] = stack.detection.wrong_network_payments(invoice_id=invoice.id)
    assert record.confirmations >= DEPTH
    refunds = world.refunds(hot_key)
    # to a fresh address (so its balance shows the refund): an operator's decision, with its reason (review R27)
    refund = refunds.refund_wrong_network(
        record.id, address=payer, requested_by="ops:amina", redirect_reason="the payer's signed request"
    )
    custody, suspense = flows.custody("polygon", USDT), flows.wrong_network_suspense(USDT)
    assert stack.balance(custody) == Money.of("12.5", USDT) and stack.balance(suspense) == Money.of("12.5", USDT)
    [sent] = refunds.send_refunds()
    assert sent.state is RefundState.SENT and sent.tx_hash
    evm.mine(DEPTH)
    [done] = refunds.check_refunds()
    assert done.state is RefundState.CONFIRMED
    assert erc20_balance(evm.w3, evm.usdc6, payer) == 12_500_000
    assert stack.balance(custody) == Money.of("0", USDT) and stack.balance(suspense) == Money.of("0", USDT)
    assert stack.books_balanced() and stack.balance(flows.merchant_liability("m1", USDT)) == Money.of("0", USDT)
    assert stack.reconciliation.reconcile().by_check()["custody"] == 0
    assert stack.detection.wrong_network_payment(record.id).state is WrongNetworkState.REFUNDED
    assert stack.invoice(invoice.id).state is InvoiceState.NEW and refund.rail_key == "usdt-polygon"
