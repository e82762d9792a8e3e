"""Invoice invariants under random sequences of transfers, confirmations, withdrawals and time."""

from datetime import UTC, datetime, timedelta

from cryptopay.core.invoices import Invoice, InvoiceException, InvoiceState
from cryptopay.core.money import USDT, Money
from cryptopay.core.ports.chains import ObservedTransfer
from cryptopay.core.rails import rail_for
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TRON = rail_for("tron", "USDT", confirmations=2)
ADDRESS = "TInvoiceAddress1"
DUE = Money.of(100, USDT)


def new_invoice(tolerance: int = 2) -> Invoice:
    created, _ = Invoice.create(
        invoice_id="inv_p",
        merchant_id="mer_1",
        price=DUE,
        addresses={TRON: ADDRESS},
        now=NOW,
        tolerance_percent=tolerance,
    )
    return created


transfers = st.builds(
    lambda tx, amount, minutes: ObservedTransfer(
        "tron", f"0x{tx:02x}", 0, ADDRESS, Money.of(amount, USDT), 1, "0xb1", NOW + timedelta(minutes=minutes)
    ),
    tx=st.integers(min_value=0, max_value=12),
    amount=st.integers(min_value=1, max_value=60),
    minutes=st.integers(min_value=0, max_value=40),
)
# One amount per transaction hash: the same key always carries the same amount, as on a real chain.
distinct_transfers = st.lists(transfers, max_size=12, unique_by=lambda t: t.tx_hash)


@settings(max_examples=60, deadline=None)
@given(batch=distinct_transfers, data=st.data())
def test_recording_any_sequence_twice_is_idempotent_and_loses_nothing(batch, data):
    """Recording transfers with repeats in any order keeps each once, with every amount, and replays change nothing."""
    sequence = data.draw(
        st.permutations(batch + data.draw(st.lists(st.sampled_from(batch), max_size=6)) if batch else [])
    )
    inv = new_invoice()
    for index, t in enumerate(sequence):
        inv.record_transfer(t, now=NOW + timedelta(minutes=index))
    snapshot = (list(inv.payments), inv.state, inv.exception)
    for t in sequence:
        assert inv.record_transfer(t, now=NOW + timedelta(hours=2)) == []
    assert (list(inv.payments), inv.state, inv.exception) == snapshot
    assert sorted(p.key for p in inv.payments) == sorted(t.key for t in batch)
    assert inv.total_paid(USDT) == sum((t.amount for t in batch), Money.zero(USDT))


@settings(max_examples=60, deadline=None)
@given(batch=distinct_transfers, data=st.data())
def test_order_of_recording_does_not_change_the_outcome(batch, data):
    """Two invoices that record the same mined transfers in different orders end in the same state."""
    first, second = new_invoice(), new_invoice()
    for t in batch:
        first.record_transfer(t, now=NOW)
    for t in data.draw(st.permutations(batch)):
        second.record_transfer(t, now=NOW)
    end = NOW + timedelta(hours=1)
    first.refresh(now=end)
    second.refresh(now=end)
    assert (first.state, first.exception) == (second.state, second.exception)


class InvoiceLifecycle(RuleBasedStateMachine):
    """A random life of one invoice, checked against a plain model of what was recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.invoice = new_invoice()
        self.now = NOW
        self.recorded: dict[tuple[str, str, int], ObservedTransfer] = {}
        self.withdrawn: set[tuple[str, str, int]] = set()

    @rule(tx=st.integers(min_value=0, max_value=8), amount=st.integers(min_value=1, max_value=60))
    def pay(self, tx: int, amount: int) -> None:
        key = ("tron", f"0x{tx:02x}", 0)
        known = self.recorded.get(key)
        transfer = known or ObservedTransfer("tron", key[1], 0, ADDRESS, Money.of(amount, USDT), 1, "0xb1", self.now)
        self.invoice.record_transfer(transfer, now=self.now)
        self.recorded[key] = transfer
        self.withdrawn.discard(key)

    @precondition(lambda self: self.recorded)
    @rule(data=st.data(), depth=st.integers(min_value=0, max_value=4))
    def confirm(self, data, depth: int) -> None:
        key = data.draw(st.sampled_from(sorted(set(self.recorded) - self.withdrawn) or [None]))
        if key is not None:
            self.invoice.confirm_transfer(key, depth, now=self.now)

    @precondition(lambda self: self.recorded)
    @rule(data=st.data())
    def withdraw(self, data) -> None:
        key = data.draw(st.sampled_from(sorted(self.recorded)))
        self.invoice.withdraw_transfer(key, now=self.now)
        self.withdrawn.add(key)

    @rule(minutes=st.integers(min_value=1, max_value=600))
    def wait(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self.invoice.refresh(now=self.now)

    @precondition(lambda self: self.recorded)
    @rule(data=st.data())
    def replay(self, data) -> None:
        key = data.draw(st.sampled_from(sorted(set(self.recorded) - self.withdrawn) or [None]))
        if key is not None:
            assert self.invoice.record_transfer(self.recorded[key], now=self.now) == []

    @invariant()
    def nothing_is_lost(self) -> None:
        assert {p.key for p in self.invoice.payments} == set(self.recorded)
        counted = [t.amount for k, t in self.recorded.items() if k not in self.withdrawn]
        assert self.invoice.total_paid(USDT) == sum(counted, Money.zero(USDT))

    @invariant()
    def state_follows_the_payments(self) -> None:
        inv, threshold = self.invoice, DUE.times("0.98", "ROUND_UP")
        on_time = inv.total_paid(USDT, include_late=False)
        confirmed = inv.total_paid(USDT, include_late=False, confirmed_only=True)
        assert (inv.state is InvoiceState.SETTLED) == (confirmed >= threshold)
        if inv.state is InvoiceState.NEW:
            assert on_time < threshold
        late = inv.total_paid(USDT) != on_time
        assert (inv.exception is InvoiceException.PAID_LATE) == late


TestInvoiceLifecycle = InvoiceLifecycle.TestCase
TestInvoiceLifecycle.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
