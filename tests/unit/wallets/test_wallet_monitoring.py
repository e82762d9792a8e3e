"""The wallet's products feed AML monitoring: the blocking rules before money moves, the journal after it moved.

Scenarios run over the in-memory wallet and on SQLite (``backend``), the monitoring journal in its own storage.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptopay.core.compliance.feed import MonitoringFeed
from cryptopay.core.compliance.monitoring import Blocked, Monitoring
from cryptopay.core.compliance.rules import Direction, load_rules
from cryptopay.core.errors import LimitExceeded
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import SequentialIds

from tests.support.wallet_stack import wallet_stack

RULES = """{"version": 4, "rules": [
  {"id": "p2p-structuring", "kind": "structuring", "threshold_kes": "20000", "margin_percent": "10",
   "min_count": 3, "window_minutes": 1440, "products": ["p2p"], "directions": ["out"]},
  {"id": "p2p-over-50k", "kind": "large_transaction", "threshold_kes": "50000", "blocking": true,
   "products": ["p2p"], "directions": ["out"]},
  {"id": "sell-over-100k", "kind": "large_transaction", "threshold_kes": "100000", "blocking": true,
   "products": ["wallet_sell", "bill", "wallet_buy"]}
]}"""


@pytest.fixture
def stack():
    return wallet_stack()


@pytest.fixture
def monitoring(stack):
    """The monitoring the stack's products feed (its journal and alerts in a storage of their own)."""
    storage = InMemoryStorage(**monitoring_repositories())
    found = Monitoring(uow=storage.unit_of_work, rules=load_rules(RULES), clock=stack.clock, ids=SequentialIds())
    stack.wallets.monitor = stack.buys.monitor = stack.sells.monitor = MonitoringFeed(found)
    return found


def journal(monitoring, party_id):
    with monitoring.uow() as uow:
        return uow.movements.for_party(party_id, since=datetime(2000, 1, 1, tzinfo=UTC))


def test_structuring_across_a_days_p2p_sends_raises_one_alert(stack, monitoring):
    """Three sends just under KES 20,000 within a day: the batch raises one structuring alert, on the third."""
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "100000", "KES")
    start = stack.clock.now()
    for kes in ("18500", "19000", "19900"):
        stack.wallets.send(amina.id, "0712000002", Money.of(kes, KES))
        stack.clock.advance(hours=3)
    stack.wallets.send(amina.id, "0712000002", Money.of("5000", KES))  # not just under: not part of the pattern
    alerts = monitoring.run_batch(start, stack.clock.now())
    [alert] = alerts
    assert (alert.rule_id, alert.party_id, alert.blocking) == ("p2p-structuring", amina.id, False)
    assert alert.evidence["count"] == "3" and alert.evidence["total"] == "57400.00"
    assert monitoring.run_batch(start, stack.clock.now()) == []  # a rerun raises nothing twice
    sent = [m for m in journal(monitoring, amina.id) if m.direction is Direction.OUT]
    assert len(sent) == 4 and {m.counterparty for m in sent} == {baraka.id}
    received = journal(monitoring, baraka.id)
    assert len(received) == 4 and {(m.direction, m.counterparty) for m in received} == {(Direction.IN, amina.id)}


def test_a_blocking_rule_refuses_a_send_before_anything_moves(stack, monitoring):
    """A send over the blocking rule's threshold is refused naming the rule; the balances and journal are untouched
    and the blocking alert is kept for the officers."""
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "100000", "KES")
    with pytest.raises(Blocked, match="p2p-over-50k"):
        stack.wallets.send(amina.id, "0712000002", Money.of("60000", KES))
    assert stack.balance(amina, "KES") == Money.of("100000", KES) and stack.balance(baraka, "KES").is_zero()
    assert journal(monitoring, amina.id) == [] and stack.wallets.transfers(amina.id) == []
    [alert] = monitoring.alerts()
    assert alert.blocking and alert.rule_id == "p2p-over-50k" and alert.evidence
    stack.wallets.send(amina.id, "0712000002", Money.of("40000", KES))  # under the threshold: sent and journaled
    assert len(journal(monitoring, amina.id)) == 1


def test_a_send_the_limits_refuse_is_not_journaled(stack, monitoring):
    """Only money that moved feeds the batch rules: a send over the tier's single limit leaves no movement."""
    amina = stack.sign_up("0712000001", tier=0)
    stack.sign_up("0712000002", tier=1)
    stack.fund(amina, "20000", "KES")
    with pytest.raises(LimitExceeded):
        stack.wallets.send(amina.id, "0712000002", Money.of("9000", KES))
    assert journal(monitoring, amina.id) == []


def test_a_sale_is_checked_and_journaled_with_its_payout_phone(stack, monitoring):
    """A sale over the blocking threshold is refused; a smaller one is journaled, out, to the wallet's phone."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "2000", "USDT")
    with pytest.raises(Blocked, match="sell-over-100k"):
        stack.sells.start(amina.id, Money.of("1000", USDT))
    assert stack.balance(amina, "USDT") == Money.of("2000", USDT)
    sale = stack.sells.start(amina.id, Money.of("100", USDT))
    [moved] = journal(monitoring, amina.id)
    assert (moved.id, moved.product, moved.direction, moved.asset) == (sale.id, "wallet_sell", Direction.OUT, "USDT")
    assert moved.counterparty == "254712000001" and moved.amount == sale.kes


def test_a_cash_out_is_monitored_as_a_sale_of_shillings(stack, monitoring):
    """The rules that watch sales see cash-outs: over the blocking threshold refused before anything moves; a smaller
    one journaled as a sale of no virtual asset, to the wallet's phone."""
    amina = stack.sign_up("0712000001", tier=2)
    stack.fund(amina, "200000", "KES")
    with pytest.raises(Blocked, match="sell-over-100k"):
        stack.sells.cash_out(amina.id, Money.of("150000", KES))
    assert stack.balance(amina, "KES") == Money.of("200000", KES)
    out = stack.sells.cash_out(amina.id, Money.of("5000", KES))
    [moved] = journal(monitoring, amina.id)
    assert (moved.id, moved.product, moved.direction, moved.asset) == (out.id, "wallet_sell", Direction.OUT, None)
    assert moved.counterparty == "254712000001" and moved.amount == Money.of("5000", KES)


def test_a_buy_is_checked_first_and_journaled_once_credited(stack, monitoring):
    """A refused buy never prompts the phone; an accepted one is journaled when M-Pesa confirms it, not before."""
    amina = stack.sign_up("0712000001", tier=1)
    with pytest.raises(Blocked):
        stack.buys.start(amina.id, Money.of("150000", KES))
    assert stack.buys.for_user(amina.id) == []
    buy = stack.buys.start(amina.id, Money.of("1300", KES))
    assert journal(monitoring, amina.id) == []
    stack.deliver_callbacks()
    [moved] = journal(monitoring, amina.id)
    assert (moved.id, moved.product, moved.direction, moved.amount) == (buy.id, "wallet_buy", Direction.IN, buy.kes)
    stack.deliver_callbacks()
    assert len(journal(monitoring, amina.id)) == 1
