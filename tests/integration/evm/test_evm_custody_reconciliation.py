"""Custody against the chain on a real node: the ledger's custody account against ``balanceOf`` our addresses."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from cryptopay.adapters.evm.addresses import derive_address
from cryptopay.adapters.evm.rpc import connect
from cryptopay.adapters.evm.watcher import EvmWatcher
from cryptopay.core import flows
from cryptopay.core.fees import FeeProduct, FeeSchedule
from cryptopay.core.money import ETH, USDT, Money
from cryptopay.core.payments import DepositAddress
from cryptopay.core.ports.chains import one_by_one
from cryptopay.core.reconciliation import Reconciliation, Report
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.metrics import RecordingMetrics
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.reconciliation import InMemoryReconciliationRuns
from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.types import RPCEndpoint, RPCResponse

from .conftest import FAST, EvmEnv

pytestmark = pytest.mark.anvil


def custody_differences(report: Report) -> list[tuple[str, str, str]]:
    (result,) = [r for r in report.results if r.check.name == "custody-on-chain"]
    assert not result.skipped, result.skipped
    return [(d.subject, d.actual, d.detail) for d in result.differences]


def book_credit(stack: PaymentsStack, invoice_id: str, amount: str) -> None:
    """Book a confirmed payment of ``amount`` USDT on ethereum to merchant m1's custody (no fee)."""
    fees = FeeSchedule(
        product=FeeProduct.MERCHANT,
        asset=USDT,
        version=1,
        effective_from=stack.clock.now() - timedelta(days=1),
        percent=Decimal(0),
    )
    flows.open_platform_accounts(stack.ledger, "m1", "ethereum", USDT)
    flows.credit_invoice_payment(
        stack.ledger,
        invoice_id=invoice_id,
        merchant_id="m1",
        network="ethereum",
        received=Money.of(amount, USDT),
        fees=fees,
    )


def test_custody_is_reconciled_with_the_chain_and_a_mismatch_is_reported(evm: EvmEnv, fresh_index: int) -> None:
    """Custody equals the token balances of our deposit address and hot wallet; a credit the chain never saw
    is reported as custody off by its amount."""
    stack = PaymentsStack(networks=("ethereum",))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")
    stack.add_merchant("m1", settlement=profile, rails=("usdt-ethereum",))
    deposit = derive_address(evm.xpub, fresh_index)
    hot = Account.create().address
    with stack.uow() as uow:
        uow.deposit_addresses.add(DepositAddress("ethereum", deposit, fresh_index, "inv_1", "m1", stack.clock.now()))
    evm.pay(evm.usdt6, deposit, 100_000_000)  # 100 USDT paid to the invoice's address
    evm.pay(evm.usdt6, hot, 25_500_000)  # 25.5 USDT swept to the hot wallet earlier
    book_credit(stack, "inv_1", "100")
    book_credit(stack, "inv_0", "25.5")
    reader = EvmWatcher(evm.w3, evm.rails()[:1], backoff=FAST)
    reconciliation = Reconciliation(
        uow=stack.uow,
        ledger=stack.ledger,
        clock=stack.clock,
        chains={"ethereum": reader},
        hot_wallets={"ethereum": hot},
    )
    assert custody_differences(reconciliation.reconcile()) == []
    book_credit(stack, "inv_2", "40")  # booked, but no such transfer on the chain
    [(subject, actual, detail)] = custody_differences(reconciliation.reconcile())
    assert subject == "assets:custody:ethereum:USDT" and actual == "125.500000 USDT on chain"
    assert detail == "off by -40.000000 USDT"


CLOSED_PORT = "http://127.0.0.1:1"  # nothing listens there: every RPC call is refused


def test_a_chain_whose_node_is_down_skips_its_custody_and_every_other_check_runs_and_is_kept(
    evm: EvmEnv, fresh_index: int
) -> None:
    """review5 S10: ethereum's node refusing every call makes ``custody-on-chain`` skipped, saying why, while the
    other checks (here ``custody``, finding a stray entry) run, are kept by the run store and set the gauges; the
    scheduled form (``reconcile_and_alert``, the worker's ``reconciliation.run``) raises nothing."""
    stack = PaymentsStack(networks=("ethereum",))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")
    stack.add_merchant("m1", settlement=profile, rails=("usdt-ethereum",))
    deposit = derive_address(evm.xpub, fresh_index)
    with stack.uow() as uow:
        uow.deposit_addresses.add(DepositAddress("ethereum", deposit, fresh_index, "inv_1", "m1", stack.clock.now()))
    book_credit(stack, "inv_1", "100")
    stack.ledger.transfer(  # an entry no payment explains: the books' own check must still find it
        "stray-1",
        debit="assets:custody:ethereum:USDT",
        credit="liabilities:merchant:m1:USDT",
        amount=Money.of("5", USDT),
    )
    dead = EvmWatcher(connect(CLOSED_PORT, timeout=2.0), evm.rails()[:1], backoff=FAST)
    runs = InMemoryReconciliationRuns()
    metrics = RecordingMetrics()
    reconciliation = Reconciliation(
        uow=stack.uow,
        ledger=stack.ledger,
        clock=stack.clock,
        chains={"ethereum": dead},
        metrics=metrics,
        runs=runs,
        ids=stack.ids,
    )
    report = reconciliation.reconcile_and_alert()
    (on_chain,) = [r for r in report.results if r.check.name == "custody-on-chain"]
    assert on_chain.skipped.startswith("ethereum not read: ethereum node failed 3 times"), on_chain.skipped
    assert "127.0.0.1" not in on_chain.skipped  # no node URL (hosted ones carry API keys)
    assert on_chain.differences == ()
    assert report.skipped.count("custody-on-chain") == 1 and set(report.unread) == {"chain:ethereum"}
    assert report.by_check()["custody"] == 1  # every other check ran
    kept = {r.name: r for r in runs.latest_per_check()}
    assert kept["custody"].found == 1 and kept["custody-on-chain"].skipped == on_chain.skipped
    labels = {"check": "custody-on-chain", "area": "chains"}
    assert metrics.get("cryptopay_reconciliation_skipped", **labels) == 1
    assert metrics.get("cryptopay_reconciliation_differences", check="custody", area="credits") == 1


class CountingProvider(HTTPProvider):
    """The HTTP transport to the node, counting its round trips (POSTs) and the JSON-RPC calls they carry."""

    def __init__(self, url: str) -> None:
        super().__init__(url, exception_retry_configuration=None)
        self.posts, self.calls = 0, 0

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        self.posts, self.calls = self.posts + 1, self.calls + 1
        return super().make_request(method, params)

    def make_batch_request(self, requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        self.posts, self.calls = self.posts + 1, self.calls + len(requests)
        return super().make_batch_request(requests)


def test_balances_are_read_in_json_rpc_batches_with_the_same_total(evm: EvmEnv) -> None:
    """review5 S10: 250 addresses' USDT (and coin) balances in 3 round trips (batches of 100) instead of 250, the
    total the same as one address a call (a node that fails the batch: ``Unavailable``, as the test above shows)."""
    addresses = [Account.create().address for _ in range(250)]
    for n, address in enumerate(addresses[:4]):
        evm.pay(evm.usdt6, address, (n + 1) * 1_500_000)
    transport = CountingProvider(evm.node.url)
    reader = EvmWatcher(Web3(transport), evm.rails()[:1], backoff=FAST)
    one_each = one_by_one(reader.balance, addresses, USDT)
    assert one_each == Money.of("15", USDT) and transport.posts >= 250  # web3 adds its own calls around each
    transport.posts = transport.calls = 0
    assert reader.total(addresses, USDT) == one_each and (transport.posts, transport.calls) == (3, 250)
    transport.posts = 0
    assert reader.total(addresses, ETH).is_zero() and transport.posts == 3
    assert reader.total([], USDT).is_zero()


def test_custody_reads_only_addresses_that_may_hold_coins_in_batches(evm: EvmEnv, fresh_index: int) -> None:
    """review5 S10: the reconciliation's custody read is one batch for the addresses that may hold coins, the
    address of an invoice that expired unpaid out of its window left unread; custody still reconciles."""
    stack = PaymentsStack(networks=("ethereum",))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")
    stack.add_merchant("m1", settlement=profile, rails=("usdt-ethereum",))
    index = 100_000 + fresh_index  # clear of the indexes the stack's invoices take
    deposit = derive_address(evm.xpub, index)
    with stack.uow() as uow:
        uow.deposit_addresses.add(DepositAddress("ethereum", deposit, index, "inv_1", "m1", stack.clock.now()))
    evm.pay(evm.usdt6, deposit, 7_000_000)
    book_credit(stack, "inv_1", "7")
    for _ in range(30):  # invoices whose addresses never received anything, expired and no longer watched
        stack.invoicing.create_invoice("m1", Money.of("40", USDT))
    stack.clock.advance(hours=30)
    stack.detection.expire_invoices({"ethereum": stack.clock.now()})
    transport = CountingProvider(evm.node.url)
    reader = EvmWatcher(Web3(transport), evm.rails()[:1], backoff=FAST)
    reconciliation = Reconciliation(uow=stack.uow, ledger=stack.ledger, clock=stack.clock, chains={"ethereum": reader})
    assert custody_differences(reconciliation.reconcile()) == []
    assert (transport.posts, transport.calls) == (1, 1)  # inv_1's address alone; was 31 calls, one a round trip
