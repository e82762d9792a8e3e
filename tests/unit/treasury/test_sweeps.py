"""Sweeps on the in-memory stack: planned above the threshold, recorded before sent, fees booked once, failures kept."""

from __future__ import annotations

from cryptopay.core import flows
from cryptopay.core.money import KES, TRX, USDT, Money
from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.treasury import TreasuryStack
from cryptopay.core.treasury import SweepState

WEEKLY = SettlementProfile(SettlementSchedule.WEEKLY, SettlementMethod.MPESA_B2C, "0712345678")


def paid_invoice(stack: TreasuryStack, usdt: str) -> str:
    """A confirmed invoice paid with ``usdt`` USDT on tron; returns its deposit address."""
    p = stack.payments
    p.add_merchant("m1", settlement=WEEKLY)
    invoice = p.invoicing.create_invoice("m1", Money.of("1000", KES))
    p.pay(invoice.id, Money.of(usdt, USDT))
    p.confirm()
    return invoice.options[0].address


def test_an_address_above_the_threshold_is_swept_and_its_fees_booked():
    """100 USDT at a deposit address: planned, topped up, sent, confirmed; the hot wallet holds it; fees booked."""
    stack = TreasuryStack(threshold="50")
    address = paid_invoice(stack, "100")  # 100 USDT at 130
    planned = stack.sweeps.plan()
    assert [(s.deposit_address, str(s.seen)) for s in planned] == [(address, "100.000000 USDT")]
    assert stack.sweeps.plan() == []  # one open sweep per address
    states = [stack.sweeps.advance()[0].state for _ in range(3)]
    assert states == [SweepState.TOPPING_UP, SweepState.SENT, SweepState.CONFIRMED]
    balances = stack.balances["tron"]
    assert balances.balance(address, USDT).is_zero()
    assert balances.balance("tron-hot", USDT) == Money.of("100", USDT)
    sweep = stack.store.sweeps(state=SweepState.CONFIRMED)[0]
    assert sweep.fee == Money.of("1", TRX) and sweep.entry_id is not None
    ledger = stack.payments.ledger
    assert ledger.balance(flows.network_fees("tron", TRX)).posted == Money.of("1", TRX)
    assert ledger.balance(flows.gas("tron", TRX)).posted == Money.of("-1", TRX)
    assert ledger.balance(flows.custody("tron", USDT)).posted == Money.of("100", USDT)  # still ours, elsewhere
    assert stack.payments.books_balanced()
    actions = [r.action for r in stack.payments.storage.audit_records() if r.action.startswith("sweep.")]
    assert actions == ["sweep.planned", "sweep.confirmed"]


def test_an_address_below_the_threshold_waits():
    """30 USDT is below a threshold of 50: nothing is planned, nothing sent."""
    stack = TreasuryStack(threshold="50")
    paid_invoice(stack, "30")
    assert stack.sweeps.run() == [] and stack.sweepers["tron"].calls == 0


def test_a_failed_sweep_is_kept_for_an_operator_and_books_the_gas_it_burnt():
    """The chain refuses the transfer: the sweep is failed, audited, the tokens stay, the burnt gas is booked."""
    stack = TreasuryStack()
    address = paid_invoice(stack, "100")
    stack.sweepers["tron"].fail = True
    for _ in range(4):
        stack.sweeps.run()
    failed = stack.store.sweeps(state=SweepState.FAILED)
    assert len(failed) == 1 and "stay at the deposit address" in failed[0].note
    assert stack.balances["tron"].balance(address, USDT) == Money.of("100", USDT)
    assert "sweep.failed" in [r.action for r in stack.payments.storage.audit_records()]
    assert stack.treasury.status().sweeps_failed == 1
    assert stack.payments.ledger.balance(flows.network_fees("tron", TRX)).posted == failed[0].fee == Money.of(1, TRX)


def test_a_confirmed_sweep_booked_by_an_interrupted_run_is_not_booked_twice():
    """The fees entry is idempotent on the sweep: booking again (a run that stopped before closing) changes nothing."""
    stack = TreasuryStack()
    paid_invoice(stack, "100")
    for _ in range(4):
        stack.sweeps.run()
    sweep = stack.store.sweeps(state=SweepState.CONFIRMED)[0]
    again = flows.book_sweep_fees(stack.payments.ledger, sweep_id=sweep.id, network="tron", fee=Money.of("1", TRX))
    assert again.id == sweep.entry_id
    assert stack.payments.ledger.balance(flows.network_fees("tron", TRX)).posted == Money.of("1", TRX)


def test_the_status_shows_the_books_against_the_chain_per_network():
    """After a sweep the inventory shows the deposits emptied into the hot wallet, books and chain agreeing."""
    stack = TreasuryStack()
    paid_invoice(stack, "100")
    for _ in range(4):
        stack.sweeps.run()
    (holding,) = stack.treasury.measure().inventory
    assert (holding.network, holding.books, holding.deposits, holding.hot) == (
        "tron",
        Money.of("100", USDT),
        Money.zero(USDT),
        Money.of("100", USDT),
    )
    assert holding.difference == Money.zero(USDT)
    metrics = stack.payments.metrics
    assert metrics.get("cryptopay_inventory_on_chain", network="tron", asset="USDT", where="hot") == 100.0
    assert metrics.get("cryptopay_sweeps_open") == 0


def test_reconcile_checks_the_sweeps_fees_and_the_ones_left_open():
    """Clean after sweeps; a sweep open for over an hour and fees booked without a sweep are both reported."""
    stack = TreasuryStack()
    paid_invoice(stack, "100")
    for _ in range(4):
        stack.sweeps.run()
    report = stack.reconcile()
    assert report.clean, [(r.check.name, r.differences) for r in report.results if r.differences]
    skipped = {r.check.name for r in report.results if r.skipped}
    wallets = {"wallet-balances", "wallet-claims", "wallet-buys", "claims-returned", "wallet-deposits", "deposits-held"}
    wallets |= {"wallet-withdrawals", "withdrawals-in-flight"}  # no withdrawal store in this stack
    wallets |= {"remittances-owed"}  # nor a remittance store
    assert skipped - wallets == {"mpesa-statement", "mpesa-collections", "mpesa-float", "float-b2c"}
    stack.payments.add_merchant("m2", settlement=WEEKLY)
    invoice = stack.payments.invoicing.create_invoice("m2", Money.of("1000", KES))
    stack.payments.pay(invoice.id, Money.of("80", USDT))
    stack.payments.confirm()
    stack.sweeps.plan()
    stack.payments.clock.advance(hours=2)
    flows.book_sweep_fees(stack.payments.ledger, sweep_id="ghost", network="tron", fee=Money.of("3", TRX))
    by_check = stack.reconcile().by_check()
    assert by_check["sweeps-settled"] == 1 and by_check["sweep-fees"] == 1


def test_the_gas_is_one_line_per_network_whatever_the_rails_on_it():
    """USDT and USDC on Ethereum both pay their fees in ETH: the status lists Ethereum's gas once, not once a rail."""
    from cryptopay.core.rails import rail_for
    from cryptopay.core.treasury import Treasury

    stack = TreasuryStack(networks=("ethereum", "tron"))
    p = stack.payments
    treasury = Treasury(
        uow=p.uow,
        ledger=p.ledger,
        store=stack.store,
        guard=stack.guard,
        rails=[rail_for("ethereum", "USDT"), rail_for("ethereum", "USDC"), rail_for("tron", "USDT")],
        chains=stack.balances,
        hot_wallets={},
        metrics=p.metrics,
    )
    status = treasury.status(read_chains=False)
    assert [(h.network, h.asset.code) for h in status.inventory] == [
        ("ethereum", "USDT"),
        ("ethereum", "USDC"),
        ("tron", "USDT"),
    ]
    assert [(g.network, g.coin.code) for g in status.gas] == [("ethereum", "ETH"), ("tron", "TRX")]
