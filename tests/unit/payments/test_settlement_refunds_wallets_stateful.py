"""Merchant settlements and refunds interleaved with wallet sales and purchases on one ledger (a hypothesis state
machine, in memory).

One merchant takes USDT (Tron), USDC (Ethereum) and BTC and is settled instantly; two tier-1 wallets sell USDT to
M-Pesa and buy it by STK Push. Settlement, the wallets' sales and purchases meet on the trading accounts, the FX
spread and the payouts in flight; refunds and settlement meet on the merchant's balances. Operations: invoices paid in
each asset, refunds of part of one (more than is left is refused), the refund worker's outcomes (confirmed or failed),
settlement runs, sales, purchases, and M-Pesa's answers to the payouts. After every step: the trial balance is zero
per asset, no account that may not go negative is, every pending hold is counted once, the merchant holds what was
credited less what refunds hold or paid and what settlements sold, the trading accounts hold what settlements and
sales sold into them less what purchases took, what is in flight (refunds, payouts) is what is still open, and M-Pesa's
own charge is booked once for each completed payout, as much as the fake M-Pesa took. The
PostgreSQL races of the same operations are in tests/integration/sql/test_settlement_cross_races.py.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from cryptopay.core import flows
from cryptopay.core.errors import CryptopayError
from cryptopay.core.ledger import HoldState, Ledger, trading_account
from cryptopay.core.money import BTC, KES, USDC, USDT, Asset, Money
from cryptopay.core.payments import Refund, RefundState
from cryptopay.core.payments.refunds import withdrawals_in_flight
from cryptopay.core.payouts import PayoutState
from cryptopay.core.ports.chains import TxState
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.payments import payments_uow
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.remittances import InMemoryRemittances
from cryptopay.core.testing.travel_rule import InMemoryTravelRule
from cryptopay.core.testing.webhooks import InMemoryWebhookDeliveries, InMemoryWebhookEndpoints
from cryptopay.core.wallets.buys import BuyState
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.support.sql_backends import Backend
from tests.support.wallet_stack import memory_wallet_storage, wallet_stack

ASSETS = (USDT, USDC, BTC)
RAILS = {USDT: "usdt-tron", USDC: "usdc-ethereum", BTC: "btc-bitcoin"}
NETWORKS = {USDT: "tron", USDC: "ethereum", BTC: "bitcoin"}
UNITS = {USDT: Decimal(1), USDC: Decimal(1), BTC: Decimal("0.0001")}  # a price is a whole number of these
CUSTOMERS = {
    USDT: "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
    USDC: "0x52908400098527886E0F7030069857D2E4169EE7",
    BTC: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
}
SELLERS = ("0712000001", "0712000002")


class SharedStack(PaymentsStack):
    """The payment use cases and the personal wallet's on one in-memory storage, ledger and clock."""

    def __init__(self) -> None:
        super().__init__(networks=tuple(NETWORKS.values()))
        self.storage = memory_wallet_storage(
            webhook_endpoints=InMemoryWebhookEndpoints(),
            webhook_deliveries=InMemoryWebhookDeliveries(),
            remittances=InMemoryRemittances(),
            travel_rule=InMemoryTravelRule(),
            **monitoring_repositories(),
        )
        self.uow = payments_uow(self.storage)
        self.ledger = Ledger(self.storage.ledger_store, clock=self.clock, ids=self.ids)
        self.wire_use_cases()
        self.wallets = wallet_stack(Backend("memory", self.storage), clock=self.clock)


class SettlementRefundsWallets(RuleBasedStateMachine):
    invoices = Bundle("invoices")

    @initialize()
    def open(self) -> None:
        self.stack = stack = SharedStack()
        stack.rates.set("USDC/KES", "129")
        stack.rates.set("USDC/USD", "1")
        stack.rates.set("BTC/KES", "9000000")
        profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678")
        stack.add_merchant("m1", settlement=profile, rails=tuple(RAILS.values()))
        self.users = []
        for phone in SELLERS:
            user = stack.wallets.sign_up(phone, tier=1)
            stack.wallets.fund(user, "200", "USDT")
            self.users.append(user.id)
        self.merchant: dict[Asset, Money] = {a: Money.zero(a) for a in ASSETS}  # what the merchant's balance holds
        self.received: dict[Asset, Money] = {a: Money.zero(a) for a in ASSETS}  # custody: paid in, less refunds paid
        self.traded: dict[str, Money] = defaultdict(lambda: Money.zero(USDT))  # trading:<ASSET>, credit side
        self.refunds: list[Refund] = []  # held and not yet failed or confirmed
        self.owed = Money.zero(KES)  # what m1 owes for refunds funded after settlement, less what settlements netted

    # --- merchants ------------------------------------------------------------------------------------------------
    @rule(target=invoices, asset=st.sampled_from(ASSETS), units=st.integers(min_value=10, max_value=120))
    def invoice_paid(self, asset: Asset, units: int) -> tuple[Asset, str]:
        before = self._available(flows.merchant_liability("m1", asset), asset)
        invoice = self.stack.invoicing.create_invoice("m1", Money.of(UNITS[asset] * units, asset), rails=[RAILS[asset]])
        self.stack.pay(invoice.id)
        self.stack.confirm(3)
        credited = self._available(flows.merchant_liability("m1", asset), asset) - before
        assert credited == Money.of(UNITS[asset] * units * Decimal("0.99"), asset), credited  # the 1% fee kept
        self.merchant[asset] += credited
        self.received[asset] += Money.of(UNITS[asset] * units, asset)
        return asset, invoice.id

    @rule(invoice=invoices, percent=st.integers(min_value=1, max_value=100))
    def refund(self, invoice: tuple[Asset, str], percent: int) -> None:
        asset, invoice_id = invoice
        most = self.stack.refunds.refundable(invoice_id, RAILS[asset])
        amount = Money.of((self.stack.invoice(invoice_id).price.amount * percent / 100).quantize(UNITS[asset]), asset)
        before = self._balances()
        try:
            refund = self.stack.refunds.refund(
                invoice_id, address=CUSTOMERS[asset], requested_by="user:u1", amount=amount
            )
        except CryptopayError:
            # refused: nothing to refund (a few percent of a small BTC price), or more than is left
            assert amount.is_zero() or amount > min(most, self.merchant[asset]), (amount, most, self.merchant[asset])
            assert self._balances() == before, "a refused refund moved money"
            event("refund refused")
            return
        assert amount <= min(most, self.merchant[asset]), (amount, most, self.merchant[asset])
        self.merchant[asset] -= refund.amount
        self.refunds.append(refund)
        event("refund held")

    @rule(invoice=invoices, percent=st.integers(min_value=1, max_value=100))
    def refund_funded_after_settlement(self, invoice: tuple[Asset, str], percent: int) -> None:
        """Outside review R25: what the merchant's balance lacks is sold to it on credit (Dr trading:<ASSET>, Cr its
        balance) and owed in shillings; refused (nothing moved) beyond the invoice or its recent settlements."""
        asset, invoice_id = invoice
        most = self.stack.refunds.refundable(invoice_id, RAILS[asset])
        amount = Money.of((self.stack.invoice(invoice_id).price.amount * percent / 100).quantize(UNITS[asset]), asset)
        before = self._balances()
        try:
            refund = self.stack.refunds.refund(
                invoice_id, address=CUSTOMERS[asset], requested_by="user:u1", amount=amount, fund_after_settlement=True
            )
        except CryptopayError as error:
            assert amount.is_zero() or amount > most or error.code == "beyond_recent_volume", (error, amount, most)
            assert self._balances() == before, "a refused refund moved money"
            event(f"funded refund refused ({error.code})")
            return
        assert amount <= most, (amount, most)
        funded = amount - self.merchant[asset] if amount > self.merchant[asset] else Money.zero(asset)
        fund = [
            r for r in self.stack.storage.audit_records() if r.action == "refund.fund" and r.subject.endswith(refund.id)
        ]
        assert len(fund) == (1 if funded.is_positive() else 0), (funded, fund)
        if funded.is_positive():
            self.owed += Money.of(dict(fund[0].details)["owed"].split()[0], KES)
            self.traded[asset.code] = self.traded.get(asset.code, Money.zero(asset)) - funded
            event("refund funded by the merchant")
        else:
            event("refund covered by the merchant's balance")
        self.merchant[asset] -= amount - funded
        self.refunds.append(refund)

    @rule(confirmed=st.booleans())
    def refunds_sent_and_answered(self, confirmed: bool) -> None:
        for sent in self.stack.refunds.send_refunds():
            self.stack.senders[sent.network].finish(sent.id, TxState.CONFIRMED if confirmed else TxState.FAILED)
        self.stack.refunds.check_refunds()
        for refund in list(self.refunds):
            state = self.stack.refunds.get_refund(refund.id).state
            if state is RefundState.CONFIRMED:
                self.received[refund.amount.asset] -= refund.amount
            elif state is RefundState.FAILED:
                self.merchant[refund.amount.asset] += refund.amount
            if state in (RefundState.CONFIRMED, RefundState.FAILED):
                self.refunds.remove(refund)
                event(f"refund {state.value}")

    @precondition(lambda self: any(m.is_positive() for m in self.merchant.values()))
    @rule()
    def settlement(self) -> None:
        self.stack.clock.advance(seconds=1)  # an instant settlement's cut-off is its time: one per instant
        [run] = self.stack.settling.run_settlements(merchant_id="m1")
        assert run.settlement is not None, run  # what an invoice credits is always worth more than M-Pesa's minimum
        event(f"settlement sold {len(run.settlement.conversions)} assets")
        ran = [r for r in self.stack.storage.audit_records() if r.subject == f"settlement:{run.settlement.id}"]
        netted = [dict(r.details).get("netted", "0 KES") for r in ran if r.action == "settlement.run"]
        if netted and Money.of(netted[0].split()[0], KES).is_positive():
            self.owed -= Money.of(netted[0].split()[0], KES)
            event("settlement netted what the merchant owes")
        for conversion in run.settlement.conversions:
            sold = conversion.converted
            assert sold == self.merchant[sold.asset], (sold, self.merchant)  # all of it, and only what is left
            self.merchant[sold.asset] = Money.zero(sold.asset)
            self.traded[sold.asset.code] = self.traded.get(sold.asset.code, Money.zero(sold.asset)) + sold

    # --- wallets --------------------------------------------------------------------------------------------------
    @rule(seller=st.integers(min_value=0, max_value=1), usdt=st.integers(min_value=1, max_value=40))
    def wallet_sells(self, seller: int, usdt: int) -> None:
        amount = Money.of(usdt, USDT)
        before = self._balances()
        try:
            self.stack.wallets.sells.start(self.users[seller], amount)
        except CryptopayError:
            assert self._balances() == before, "a refused sale moved money"
            event("sale refused")
            return
        self.traded["USDT"] += amount
        event("sale")

    @rule(buyer=st.integers(min_value=0, max_value=1), shillings=st.integers(min_value=100, max_value=3000))
    def wallet_buys(self, buyer: int, shillings: int) -> None:
        wallets = self.stack.wallets
        try:
            buy = wallets.buys.start(self.users[buyer], Money.of(shillings, KES))
        except CryptopayError:
            return
        wallets.deliver_callbacks()
        bought = wallets.buys.get(buy.id)
        if bought.state is BuyState.CREDITED:
            self.traded["USDT"] -= bought.usdt  # Dr trading:USDT: the coins left the inventory for the wallet
            event("purchase credited")

    @rule()
    def payouts_sent_and_answered(self) -> None:
        self.stack.payouts.submit_payouts()
        self.stack.deliver_callbacks()

    # --- invariants -----------------------------------------------------------------------------------------------
    def _available(self, code: str, asset: Asset) -> Money:
        found = self.stack.ledger.balances([code]).get(code)
        return found.available if found is not None else Money.zero(asset)

    def _balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        return {
            b.account.code: (b.posted.amount, b.available.amount) for b in self.stack.storage.ledger_store.balances()
        }

    @invariant()
    def books_balance_and_holds_add_up(self) -> None:
        if not hasattr(self, "stack"):
            return
        store = self.stack.storage.ledger_store
        assert set(self.stack.ledger.trial_balance().values()) <= {0}, self.stack.ledger.trial_balance()
        pending: dict[str, Decimal] = defaultdict(Decimal)
        for hold in store.holds(pending_only=True):
            assert hold.state is HoldState.PENDING
            pending[hold.debit_account] += hold.amount.amount
        for balance in store.balances():
            if not balance.account.allow_negative:
                assert not balance.posted.is_negative() and not balance.available.is_negative(), balance
            assert balance.debits_pending == pending[balance.account.code], balance

    @invariant()
    def the_merchant_holds_what_refunds_and_settlements_left(self) -> None:
        if not hasattr(self, "stack"):
            return
        for asset in ASSETS:
            assert self._available(flows.merchant_liability("m1", asset), asset) == self.merchant[asset], asset
            custody = self.stack.ledger.balances([flows.custody(NETWORKS[asset], asset)])
            paid_in = next(iter(custody.values())).posted if custody else Money.zero(asset)
            assert paid_in == self.received[asset], (asset, paid_in, self.received[asset])

    @invariant()
    def the_merchant_owes_what_funded_refunds_left_after_netting(self) -> None:
        if not hasattr(self, "stack"):
            return
        assert self._available(flows.merchant_receivable("m1"), KES) == self.owed, self.owed
        assert not self.owed.is_negative()

    @invariant()
    def the_trading_accounts_hold_what_was_sold_into_them(self) -> None:
        if not hasattr(self, "stack"):
            return
        for code, expected in self.traded.items():
            found = self.stack.ledger.balances([trading_account(code)]).get(trading_account(code))
            assert found is not None and found.posted == expected, (code, found, expected)

    @invariant()
    def what_is_in_flight_is_what_is_open(self) -> None:
        if not hasattr(self, "stack"):
            return
        for asset in ASSETS:
            code = withdrawals_in_flight(asset)
            found = self.stack.ledger.balances([code]).get(code)
            open_refunds = sum((r.amount.amount for r in self.refunds if r.amount.asset == asset), Decimal(0))
            assert (found.credits_pending if found else Decimal(0)) == open_refunds, (asset, found)
        with self.stack.uow() as uow:
            payouts = [
                p for m in ("m1", *self.users) for p in uow.payouts.list_for_merchant(m, before=None, limit=1000)
            ]
        open_payouts = [p for p in payouts if p.state not in (PayoutState.COMPLETED, PayoutState.FAILED)]
        in_flight = self.stack.ledger.balances([flows.IN_FLIGHT]).get(flows.IN_FLIGHT)
        expected = sum(((p.amount + p.charge).amount for p in open_payouts), Decimal(0))
        assert (in_flight.credits_pending if in_flight else Decimal(0)) == expected, (in_flight, open_payouts)
        # M-Pesa's own charge: booked once for each payout completed, as much as M-Pesa took for them
        charged = sum((p.mpesa_charge for p in payouts if p.state is PayoutState.COMPLETED), Money.zero(KES))
        event("M-Pesa charged for a payout" if charged.is_positive() else "no payout completed yet")
        booked = self.stack.ledger.balances([flows.MPESA_CHARGES]).get(flows.MPESA_CHARGES)
        assert (booked.posted if booked else Money.zero(KES)) == charged == -self.stack.mpesa.charges_paid, charged


TestSettlementRefundsWallets = SettlementRefundsWallets.TestCase
TestSettlementRefundsWallets.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
