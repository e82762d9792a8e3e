"""Remittances over one storage backend (in memory, SQLite or PostgreSQL): the wallet stack (sign-ups, wallets,
payouts over the fake M-Pesa) plus a fake Tron and Ethereum (deposit addresses, blocks, a hot wallet's sender), the
invoice machinery and the refund machinery, wired as the composition root wires them.

``pay`` sends the USDT an order asks for to its one-time address; ``confirm`` mines and scans blocks; ``run``
does what the worker does (advance the orders, send payouts, deliver M-Pesa's callbacks, send refunds).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import attrs
from cryptopay.adapters.sanctions import RapidfuzzMatcher
from cryptopay.core.compliance.feed import MonitoringFeed
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.rules import default_rules
from cryptopay.core.compliance.screening import ListEntry, Screening
from cryptopay.core.compliance.travel_rule import TravelRule
from cryptopay.core.errors import InvalidInput
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import Money
from cryptopay.core.payments.detection import Detection
from cryptopay.core.payments.invoicing import Invoicing
from cryptopay.core.payments.refunds import Refunds
from cryptopay.core.ports.chains import ObservedTransfer, TxState
from cryptopay.core.pricing import Pricer
from cryptopay.core.rails import rail_for
from cryptopay.core.remittances import RemittanceOrder, Sender
from cryptopay.core.remittances.service import OrderRequest, Remittances, RetryPolicy
from cryptopay.core.scanning import ChainScanner
from cryptopay.core.system import RandomIds
from cryptopay.core.testing.chains import InMemoryScanCursorStore
from cryptopay.core.testing.daraja_payloads import SANDBOX_CUSTOMER
from cryptopay.core.testing.fx import InMemoryQuoteRepository
from cryptopay.core.testing.payments_stack import FakeChain, FakeChainSender, SequentialDeriver
from cryptopay.core.testing.system import ManualClock

from tests.support.sql_backends import Backend
from tests.support.wallet_stack import WalletStack, wallet_stack

NETWORKS = ("tron", "ethereum")
TRON_REFUND = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
EVM_REFUND = "0x8576acc5c05d6ce88f4e49bf65bdf0c62f91353c"
SENDER = Sender(name="Grace Otieno", country="GB", address="12 Acacia Road, London")


@attrs.define
class RemittanceStack:
    wallet: WalletStack
    chains: dict[str, FakeChain]
    senders: dict[str, FakeChainSender]
    detection: Detection
    invoicing: Invoicing
    refunds: Refunds
    remittances: Remittances
    monitoring: Monitoring
    scanners: dict[str, ChainScanner]
    detection_cursors: InMemoryScanCursorStore
    screening: Screening
    answers: Callable[[], object] | None = None  # brings M-Pesa's answers back (default: the fake's outbox)

    @property
    def clock(self) -> ManualClock:
        return self.wallet.clock

    @property
    def ledger(self) -> Ledger:
        return self.wallet.ledger

    def order(
        self,
        phone: str = "0712345678",
        amount: str = "10000",
        asset: str = "KES",
        *,
        sender: Sender = SENDER,
        refund_address: str = TRON_REFUND,
        name: str = "Achieng Otieno",
    ) -> RemittanceOrder:
        """Open an order to ``phone`` for ``name``; the number is registered at (fake) M-Pesa to ``name``, as a
        sender who knows the recipient writes it, unless the test registered it to someone already."""
        with contextlib.suppress(InvalidInput):  # a bad phone or name: the order refuses it, naming the field
            if self.wallet.mpesa.registered_name(phone) == SANDBOX_CUSTOMER:
                self.wallet.mpesa.register_name(phone, name.upper())
        request = OrderRequest(
            recipient_phone=phone,
            recipient_name=name,
            amount=Money.of(amount, asset),
            sender=sender,
            refund_address=refund_address,
        )
        return self.remittances.create(request)

    def pay(
        self, order: RemittanceOrder, amount: Money | None = None, *, network: str = "tron", payer: str | None = None
    ) -> ObservedTransfer:
        """The sender pays what the order asks (or ``amount``) to its one-time address on ``network`` (from
        ``payer``, when given)."""
        invoice = self.remittances.invoice(order)
        option = next(o for o in invoice.options if o.rail.network.name == network)
        if payer is not None:
            return self.chains[network].pay(option.address, amount or option.due, sender=payer)
        return self.chains[network].pay(option.address, amount or option.due)

    def confirm(self, blocks: int = 20) -> None:
        for _ in range(blocks):
            self.clock.advance(minutes=1)
            for chain in self.chains.values():
                chain.mine()
            self.sync()

    def sync(self) -> None:
        for network, scanner in self.scanners.items():
            chain = self.chains[network]
            while True:
                step = scanner.step(self.detection.watched_addresses(network), self._sink(network))
                if step.to_block >= chain.head():
                    break
            self.detection.confirm_payments(network, chain, chain)
        times = {n: c.block_time for n in self.chains if (c := self.detection_cursors.load(n)) is not None}
        self.detection.expire_invoices(times)

    def _sink(self, network: str) -> Callable[[Sequence[ObservedTransfer]], None]:
        return lambda transfers: self.detection.record_chain_transfers(network, transfers)

    def run(self, rounds: int = 3) -> RemittanceOrder | None:
        """What the worker does, ``rounds`` times: advance orders, send payouts and refunds, deliver callbacks."""
        last = None
        for _ in range(rounds):
            moved = self.remittances.advance()
            last = moved[-1] if moved else last
            self.wallet.payouts.submit_payouts()
            if self.answers is not None:
                self.answers()
            else:
                self.wallet.deliver_callbacks()
            self.refunds.send_refunds()
            self.refunds.check_refunds()
        return last

    def refuse(self, phone: str) -> None:
        """M-Pesa refuses every B2C to ``phone`` (the fake's insufficient-funds answer)."""
        from cryptopay.core.testing.mobile_money import Scenario

        self.wallet.mpesa.set_scenario(phone, Scenario.INSUFFICIENT_FUNDS)

    def get(self, order: RemittanceOrder) -> RemittanceOrder:
        return self.remittances.get(order.id)

    def confirm_refunds(self, network: str = "tron") -> None:
        sender = self.senders[network]
        for withdrawal_id in list(sender.sent):
            sender.finish(withdrawal_id, TxState.CONFIRMED)

    def list_sanctioned(self, *names: str, addresses: tuple[tuple[str, str], ...] = ()) -> None:
        """An OFAC-style list naming one listed individual per name (``ofac:9000N``), and one (``ofac:9100``)
        listing ``addresses`` ((network, address) pairs) when there are any."""
        entries = [
            ListEntry(ref=f"ofac:{9000 + i}", kind="individual", names=(n,), programs=("SDGT",))
            for i, n in enumerate(names, 1)
        ]
        if addresses:
            entries.append(ListEntry(ref="ofac:9100", kind="entity", names=("BADGUY CRYPTO",), addresses=addresses))
        self.screening.import_list("ofac_sdn", "12/01/2026", entries, actor="operator:test")

    def books_balanced(self) -> bool:
        return set(self.ledger.trial_balance().values()) <= {0}


def remittance_stack(
    backend: Backend | None = None, *, policy: RetryPolicy | None = None, screening_required: bool = False
) -> RemittanceStack:
    """No sanctions list is loaded; ``screening_required``: ``CRYPTOPAY_SCREENING_REQUIRED``."""
    wallet = wallet_stack(backend)
    clock, ledger, uow = wallet.clock, wallet.ledger, wallet.backend.uow
    ids = RandomIds()
    chains = {n: FakeChain(n, clock) for n in NETWORKS}
    senders = {n: FakeChainSender(n) for n in NETWORKS}
    quotes = InMemoryQuoteRepository()
    pricer = Pricer([wallet.rates], clock=clock, ids=ids, quotes=quotes)
    derivers = {n: SequentialDeriver(n) for n in NETWORKS}
    cursors = InMemoryScanCursorStore()
    invoicing = Invoicing(uow=uow, clock=clock, ids=ids, ledger=ledger, pricer=pricer, derivers=derivers)
    screening = Screening(uow=uow, matcher=RapidfuzzMatcher(), clock=clock, ids=ids, required=screening_required)
    monitoring = Monitoring(
        uow=uow,
        rules=default_rules(),
        clock=clock,
        ids=ids,
        screen=lambda m: screening.sanctioned_counterparty(m.network, m.counterparty),  # as wired
        screening=screening,
    )
    feed = MonitoringFeed(monitoring)  # as wired: detection journals invoice payments, the desk's orders journal theirs
    refunds = Refunds(
        uow=uow,
        clock=clock,
        ids=ids,
        ledger=ledger,
        senders=senders,
        pricer=pricer,
        quotes=quotes,
        screening=lambda: screening,
        monitoring=lambda: feed,
    )
    detection = Detection(
        uow=uow,
        clock=clock,
        ids=ids,
        ledger=ledger,
        cursors=cursors,
        monitor=feed,
        quoter=pricer,
        screening=lambda: screening,  # as wired (the desk's own invoices are screened by their orders)
    )
    rails = tuple(rail_for(n, "USDT", confirmations=3) for n in NETWORKS)
    remittances = Remittances(
        uow=uow,
        ledger=ledger,
        invoicing=invoicing,
        payouts=lambda: wallet.payouts,
        refunds=refunds,
        quoter=lambda: pricer,
        clock=clock,
        ids=ids,
        rails=rails,
        sms=lambda: wallet.sms,
        monitoring=feed,
        policy=policy or RetryPolicy(),
        travel_rule=TravelRule(quoter=pricer, clock=clock, ids=ids),
        matcher=screening.matcher,
        cases=lambda: monitoring,  # as wired
        screening=screening,
    )
    scanners = {n: ChainScanner(c, cursors, start_block=c.head() + 1) for n, c in chains.items()}
    return RemittanceStack(
        wallet, chains, senders, detection, invoicing, refunds, remittances, monitoring, scanners, cursors, screening
    )


__all__ = ["EVM_REFUND", "SENDER", "TRON_REFUND", "RemittanceStack", "remittance_stack"]
