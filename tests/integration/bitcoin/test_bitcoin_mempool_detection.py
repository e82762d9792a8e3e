"""Bitcoin payments seen in the mempool (Esplora simulator, real watcher): an invoice shows them at once, counts
them once mined and confirmed, and withdraws one the network drops (RBF replacement to another address)."""

from __future__ import annotations

import pytest
from cryptopay.adapters.bitcoin.addresses import BitcoinAddressDeriver
from cryptopay.adapters.bitcoin.esplora import EsploraClient
from cryptopay.adapters.bitcoin.watcher import BitcoinWatcher
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.money import KES, Money
from cryptopay.core.payments.invoicing import Invoicing
from cryptopay.core.retry import Backoff
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack

OTHER = "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"
ZPUB = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
PROFILE = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")


@pytest.fixture
def world(served):
    chain, url = served
    chain.reset()
    stack = PaymentsStack(networks=("bitcoin",))
    stack.add_merchant("m1", settlement=PROFILE, rails=("btc-bitcoin",), confirmations=2)
    stack.rates.set("USD/KES", "129")
    stack.rates.set("BTC/USD", "97000")
    watcher = BitcoinWatcher(EsploraClient(url, backoff=Backoff(initial=0.01, attempts=2), sleep=lambda s: None))
    derivers = {"bitcoin": BitcoinAddressDeriver(ZPUB)}  # real bc1q addresses: the simulator checks them
    invoicing = Invoicing(
        uow=stack.uow, clock=stack.clock, ids=stack.ids, ledger=stack.ledger, pricer=stack.pricer, derivers=derivers
    )
    invoice = invoicing.create_invoice("m1", Money.of("5000", KES))
    return stack, chain, watcher, invoice


def _state(stack: PaymentsStack, invoice_id: str) -> InvoiceState:
    return stack.invoice(invoice_id).state


def test_a_mempool_payment_is_seen_at_once_and_counts_when_mined(world):
    """Unconfirmed: processing (seen, not credited); mined: its block fields recorded under the same key."""
    stack, chain, watcher, invoice = world
    option = invoice.options[0]
    txid = chain.pay(option.address, int(option.due.amount.scaleb(8)))
    stack.detection.record_mempool("bitcoin", watcher)
    assert _state(stack, invoice.id) is InvoiceState.PROCESSING
    [payment] = stack.invoice(invoice.id).payments
    assert payment.transfer.tx_hash == txid and payment.transfer.block_number is None
    assert payment.mempool_seen_at is not None
    chain.mine(1)
    mined = watcher.scan(0, chain.height, [option.address])
    stack.detection.record_chain_transfers("bitcoin", mined)
    stack.detection.confirm_payments("bitcoin", watcher, watcher, watcher)
    [payment] = stack.invoice(invoice.id).payments
    assert payment.transfer.block_number == chain.height and payment.mempool_seen_at is not None


def test_a_dropped_mempool_payment_is_withdrawn_and_the_invoice_waits_again(world):
    """An RBF replacement paying someone else drops ours: the payment is withdrawn, the invoice is new again."""
    stack, chain, watcher, invoice = world
    option = invoice.options[0]
    txid = chain.pay(option.address, int(option.due.amount.scaleb(8)))
    stack.detection.record_mempool("bitcoin", watcher)
    assert _state(stack, invoice.id) is InvoiceState.PROCESSING
    chain.replace(txid, to=OTHER)
    stack.detection.confirm_payments("bitcoin", watcher, watcher, watcher)
    [payment] = stack.invoice(invoice.id).payments
    assert payment.withdrawn and _state(stack, invoice.id) is InvoiceState.NEW
    withdrawn = list(stack.outbox("invoice.payment_withdrawn"))
    assert withdrawn and "dropped from the mempool" in withdrawn[-1].payload["reason"]
