"""The wallet's money rules under random sequences of real operations (a hypothesis state machine, in memory).

Operations: transfers between people (by phone, to numbers without a wallet too, more than the balance, over the
sender's limits or the recipient's: a stranger who signs up has tier 0 and claims only what it may receive),
purchases by STK Push with every M-Pesa outcome, sales to M-Pesa, the claims job a day or eight days later (what a
tier-0 wallet has room for claimed, the expired returned). After every step: the trial balance is zero per asset, no
wallet balance is negative, every wallet and the claims account hold what the model says, no tier-0 wallet received
more than its receiving limits, and an operation that was refused changed no balance.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from cryptopay.core.errors import CryptopayError
from cryptopay.core.flows import wallet_account, wallet_claims
from cryptopay.core.kyc import day_bounds, month_bounds
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.wallets import TransferState
from cryptopay.core.wallets.buys import BuyState
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.support.wallet_stack import wallet_stack

PEOPLE = ["0712000001", "0712000002", "0712000003"]
STRANGERS = ["0733000001", "0733000002"]  # numbers with no wallet until (maybe) they sign up
PROMPTS = ["0712000001", "0711000001", "0711000003", "0711000008"]  # paid, cancelled, no funds, lost callback


class WalletMachine(RuleBasedStateMachine):
    @initialize()
    def open_wallets(self) -> None:
        self.stack = wallet_stack()
        self.users = {p: self.stack.sign_up(p, tier=1) for p in PEOPLE}
        self.expected: dict[str, Decimal] = defaultdict(Decimal)  # account code -> balance the model expects
        self.waiting: list[tuple[str, str, Money, str]] = []  # (phone, sender's account, amount, transfer) waiting
        for user in self.users.values():
            self.stack.fund(user, "5000", "KES")
            self.stack.fund(user, "50", "USDT")
            self.expected[wallet_account(user.id, KES)] = Decimal(5000)
            self.expected[wallet_account(user.id, USDT)] = Decimal(50)

    def _balances(self) -> dict[str, Decimal]:
        found = self.stack.ledger.balances(sorted(self.expected))
        return {code: found[code].posted.amount if code in found else Decimal(0) for code in self.expected}

    def _refused_changes_nothing(self, action) -> bool:
        before = self._balances()
        try:
            action()
        except CryptopayError:
            assert self._balances() == before, "a refused operation moved money"
            return False
        return True

    @rule(
        sender=st.sampled_from(PEOPLE),
        to=st.sampled_from(PEOPLE + STRANGERS),
        cents=st.integers(min_value=1, max_value=700_000),
        asset=st.sampled_from(["KES", "USDT"]),
    )
    def send(self, sender: str, to: str, cents: int, asset: str) -> None:
        amount = Money.from_minor(cents, KES) if asset == "KES" else Money.of(Decimal(cents) / 10_000, USDT)
        user = self.users[sender]
        sent = []
        if self._refused_changes_nothing(lambda: sent.append(self.stack.wallets.send(user.id, to, amount))):
            self.expected[wallet_account(user.id, amount.asset)] -= amount.amount
            recipient = self.users.get(to)
            target = wallet_account(recipient.id, amount.asset) if recipient else wallet_claims(amount.asset)
            self.expected[target] += amount.amount
            if recipient is None:
                self.waiting.append((to, wallet_account(user.id, amount.asset), amount, sent[0].id))

    @rule(phone=st.sampled_from(PROMPTS), shillings=st.integers(min_value=1, max_value=6000))
    def buy(self, phone: str, shillings: int) -> None:
        if phone not in self.users:
            self.users[phone] = self.stack.sign_up(phone)
        user = self.users[phone]
        started = []
        if self._refused_changes_nothing(
            lambda: started.append(self.stack.buys.start(user.id, Money.of(shillings, KES)))
        ):
            self.stack.deliver_callbacks()
            self.stack.clock.advance(minutes=3)
            self.stack.buys.follow_up()
            buy = self.stack.buys.get(started[0].id)
            if buy.state is BuyState.CREDITED:
                self.expected[wallet_account(user.id, USDT)] += buy.usdt.amount

    @rule(seller=st.sampled_from(PEOPLE), units=st.integers(min_value=1, max_value=600_000))
    def sell(self, seller: str, units: int) -> None:
        user, usdt = self.users[seller], Money.of(Decimal(units) / 10_000, USDT)
        sales = []
        if self._refused_changes_nothing(lambda: sales.append(self.stack.sells.start(user.id, usdt))):
            sale = sales[0]
            self.expected[wallet_account(user.id, USDT)] -= usdt.amount
            self.expected[wallet_account(user.id, KES)] += sale.kes.amount
            self.stack.payouts.submit_payouts()
            self.stack.deliver_callbacks()
            if self.stack.sells.get(user.id, sale.id).state == "completed":
                self.expected[wallet_account(user.id, KES)] -= (sale.payout.amount + sale.payout.charge).amount

    @rule(stranger=st.sampled_from(STRANGERS))
    def stranger_signs_up(self, stranger: str) -> None:
        if stranger in self.users:
            return
        self.users[stranger] = user = self.stack.sign_up(stranger)
        claimed = set()
        for _, _, amount, transfer_id in [w for w in self.waiting if w[0] == stranger]:
            # claimed while the new tier-0 wallet may receive them; the others wait and go back to their senders
            with self.stack.backend.uow() as uow:
                state = uow.wallet_transfers.get(transfer_id).state
            if state is TransferState.CLAIMED:
                self.expected[wallet_claims(amount.asset)] -= amount.amount
                self.expected[wallet_account(user.id, amount.asset)] += amount.amount
                claimed.add(transfer_id)
        self.waiting = [w for w in self.waiting if w[3] not in claimed]

    @rule(days=st.sampled_from([1, 8]))
    def days_pass_and_the_worker_runs(self, days: int) -> None:
        """The claims job: a wallet's waiting transfers it has room for now are claimed (a new day), then the ones
        whose window ended (all, after 8 days) go back to their senders."""
        self.stack.clock.advance(days=days)
        self.stack.waiting_claims.settle()
        still = []
        for phone, sender_account, amount, transfer_id in self.waiting:
            with self.stack.backend.uow() as uow:
                state = uow.wallet_transfers.get(transfer_id).state
            if state is TransferState.CLAIMED:
                self.expected[wallet_claims(amount.asset)] -= amount.amount
                self.expected[wallet_account(self.users[phone].id, amount.asset)] += amount.amount
            elif state is TransferState.RETURNED:
                self.expected[wallet_claims(amount.asset)] -= amount.amount
                self.expected[sender_account] += amount.amount
            else:
                assert days < 8, "a transfer past its claim window is still waiting"
                still.append((phone, sender_account, amount, transfer_id))
        self.waiting = still

    @invariant()
    def tier_0_wallets_receive_within_their_limits(self) -> None:
        """What a stranger's tier-0 wallet received (sends, claims) never passes KES 10,000 a day, 30,000 a month."""
        if not hasattr(self, "stack"):
            return
        now = self.stack.clock.now()
        for phone in STRANGERS:
            if phone in self.users:
                with self.stack.backend.uow() as uow:
                    totals = uow.wallet_usage.totals(
                        self.users[phone].id, day_start=day_bounds(now)[0], month_start=month_bounds(now)[0]
                    )
                day, month = totals.get("receive", (Money.zero(KES), Money.zero(KES)))
                assert day.amount <= 10_000 and month.amount <= 30_000, (phone, day, month)

    @invariant()
    def books_balance(self) -> None:
        if hasattr(self, "stack"):
            assert set(self.stack.ledger.trial_balance().values()) == {0}

    @invariant()
    def wallets_hold_what_the_model_says(self) -> None:
        if hasattr(self, "stack"):
            actual = self._balances()
            assert all(v >= 0 for code, v in actual.items() if code.startswith("liabilities:wallet:")), actual
            assert actual == {code: Decimal(v) for code, v in self.expected.items()}, (actual, dict(self.expected))


TestWalletMachine = WalletMachine.TestCase
TestWalletMachine.settings = settings(
    max_examples=25, stateful_step_count=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
