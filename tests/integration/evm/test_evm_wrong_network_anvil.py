"""A payment on the wrong EVM network, on a real node: one anvil stands in for Ethereum and Polygon.

Each network is the production ``EvmWatcher`` over its own token contract on the node (Ethereum's USDT is the test
USDT; Polygon's is a second 6-decimal ERC-20, the test USDC contract, read as Polygon's USDT), scanned by the
worker's own ``scan_chains`` with ``ChainScanner`` cursors; the invoice asks for USDT on Ethereum only. A reorg is an
``evm_revert`` to before the payment and a longer branch mined in its place.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.adapters.bootstrap.chains import scan_chains
from cryptopay.adapters.evm.watcher import EvmWatcher
from cryptopay.core import flows
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.money import USDT, Money
from cryptopay.core.payments.wrong_network import WrongNetworkState
from cryptopay.core.rails import rail_for
from cryptopay.core.scanning import ChainScanner
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack

from .conftest import FAST, EvmEnv

pytestmark = pytest.mark.anvil

_forks = itertools.count(1)
PROFILE = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")


class TwoNetworks:
    """The stack's detection over two real watchers of one anvil node, scanned as the worker scans."""

    def __init__(self, evm: EvmEnv) -> None:
        self.evm = evm
        # The stack's clock at the node's time; a window long enough for a reorg's branch (1,000 s ahead) to count.
        latest = datetime.fromtimestamp(evm.w3.eth.get_block("latest")["timestamp"], UTC)
        self.stack = PaymentsStack(networks=("ethereum", "polygon"), start=latest)
        self.stack.add_merchant("m1", settlement=PROFILE, rails=("usdt-ethereum",), window=timedelta(hours=2))
        chain = evm.node.chain_id
        self.watchers = {
            "ethereum": EvmWatcher(
                evm.w3, [rail_for("ethereum", "USDT", contract=evm.usdt6, chain_id=chain)], backoff=FAST
            ),
            "polygon": EvmWatcher(
                evm.w3, [rail_for("polygon", "USDT", contract=evm.usdc6, chain_id=chain)], backoff=FAST
            ),
        }
        start = evm.w3.eth.block_number + 1
        self.scanners = {n: ChainScanner(w, self.stack.cursors, start_block=start) for n, w in self.watchers.items()}

    def sync(self) -> None:
        """The worker's ``chains.scan`` then ``chains.confirm`` steps, each network to its head."""
        scan_chains(self.scanners, self.stack.detection)
        for network, watcher in self.watchers.items():
            self.stack.detection.confirm_payments(network, watcher, watcher)


def test_usdt_on_polygon_is_recorded_withdrawn_by_a_reorg_seen_again_and_accepted(evm: EvmEnv) -> None:
    """Recorded pending (the invoice untouched); a reorg withdraws it; mined again it is pending again; accepted, it
    is confirmed at Polygon's depth on the node and booked in Polygon's custody."""
    world = TwoNetworks(evm)
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
    assert [m.topic for m in stack.outbox() if "wrong_network" in m.topic] == ["invoice.wrong_network_payment"]

    evm.node.rpc("evm_revert", snapshot)
    latest = evm.w3.eth.get_block("latest")["timestamp"]
    evm.node.rpc("evm_setNextBlockTimestamp", hex(latest + 1_000 + next(_forks)))
    evm.mine(4)
    world.sync()
    assert stack.detection.wrong_network_payment(record.id).state is WrongNetworkState.WITHDRAWN
    assert len(stack.outbox("invoice.wrong_network_payment_withdrawn")) == 1

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
    world = TwoNetworks(evm)
    invoice = world.stack.invoicing.create_invoice("m1", Money.of("3", USDT))
    evm.pay(evm.usdt6, invoice.options[0].address, 3_000_000)
    world.sync()
    assert world.stack.invoice(invoice.id).state is InvoiceState.PROCESSING
    assert world.stack.detection.wrong_network_payments(invoice_id=invoice.id) == []
