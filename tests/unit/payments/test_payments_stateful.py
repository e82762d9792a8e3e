"""Random interleavings of paying, confirming, reorgs, expiry and settlement never unbalance or double-credit."""

from collections import Counter

from cryptopay.core import flows
from cryptopay.core.invoices import is_confirmed
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.ports.chains import ObservedTransfer
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments import InMemoryPaymentCredits
from cryptopay.core.testing.payments_stack import PaymentsStack
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

CUSTODY = flows.custody("tron", USDT)


class MerchantPayments(RuleBasedStateMachine):
    """One instant-settled merchant; customers pay, the chain reorganises, time passes, payouts run."""

    invoices = Bundle("invoices")

    def __init__(self) -> None:
        super().__init__()
        self.stack = PaymentsStack()
        profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "0712345678")
        self.stack.add_merchant("m1", settlement=profile, tolerance_percent="1", confirmations=2)
        flows.open_platform_accounts(self.stack.ledger, "m1", "tron", USDT)
        self.dropped: list[ObservedTransfer] = []

    @rule(target=invoices, price=st.integers(min_value=10, max_value=400), in_kes=st.booleans())
    def create_invoice(self, price: int, in_kes: bool) -> str:
        money = Money.of(price * 130, KES) if in_kes else Money.of(price, USDT)
        return self.stack.invoicing.create_invoice("m1", money).id

    @rule(invoice=invoices, percent=st.sampled_from([50, 99, 100, 130]))
    def pay(self, invoice: str, percent: int) -> None:
        due = self.stack.invoice(invoice).options[0].due
        self.stack.pay(invoice, due.times(f"{percent / 100}", "ROUND_DOWN"))

    @rule(minutes=st.sampled_from([1, 2, 7, 20]))
    def time_passes(self, minutes: int) -> None:
        self.stack.tick(minutes=minutes)

    @rule(depth=st.integers(min_value=1, max_value=4))
    def reorg(self, depth: int) -> None:
        chain = self.stack.chains["tron"]
        if chain.head() - depth >= 100:
            self.dropped += chain.reorg(depth)
            chain.mine()
            self.stack.sync()

    @rule(data=st.data())
    def mined_again(self, data: st.DataObject) -> None:
        if self.dropped:
            transfer = self.dropped.pop(data.draw(st.integers(0, len(self.dropped) - 1)))
            self.stack.chains["tron"].include(transfer)
            self.stack.sync()

    @rule(status_query=st.booleans())
    def settle_and_pay_out(self, status_query: bool) -> None:
        self.stack.settling.run_settlements()
        self.stack.payouts.submit_payouts()
        if status_query:
            self.stack.clock.advance(minutes=3)
            self.stack.payouts.query_stale_payouts()
        self.stack.deliver_callbacks()

    @invariant()
    def books_balance(self) -> None:
        assert self.stack.books_balanced()

    @invariant()
    def every_confirmed_payment_is_credited_exactly_once(self) -> None:
        repository = self.stack.storage.repositories["payment_credits"]
        assert isinstance(repository, InMemoryPaymentCredits)
        standing = [c for c in repository.all() if c.reversal_entry_id is None]
        assert max(Counter((c.invoice_id, c.transfer) for c in standing).values(), default=0) <= 1
        with self.stack.uow() as uow:
            invoices = uow.invoices.list_for_merchant("m1", before=None, limit=1000)
        confirmed = {
            (i.id, p.key): p.amount for i in invoices for p in i.payments if is_confirmed(p, i.option(p.rail_key))
        }
        assert {(c.invoice_id, c.transfer) for c in standing if not c.clawback_pending} == set(confirmed)
        custody = sum((c.received for c in standing), Money.zero(USDT))
        assert self.stack.balance(CUSTODY) == custody


MerchantPayments.TestCase.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestMerchantPayments = MerchantPayments.TestCase
TestMerchantPayments.__doc__ = "Random sequences of payment operations keep the books balanced and credit once."
