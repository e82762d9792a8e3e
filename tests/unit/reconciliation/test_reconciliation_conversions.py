"""The ``custody`` check after the treasury sells crypto: a conversion takes its coins out of custody, so the books
reconcile clean after one, and a custody movement no record explains is still reported."""

from __future__ import annotations

from decimal import Decimal

from cryptopay.core import flows
from cryptopay.core.ledger import EntryRequest, Posting
from cryptopay.core.ledger.service import trading_account
from cryptopay.core.money import USDT, Money
from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.treasury import TreasuryStack
from cryptopay.core.treasury import Fill


def _sold_on_a_desk(usdt: str = "100", sell: str = "100") -> TreasuryStack:
    """A customer pays ``usdt`` to a merchant settled at once; the sweep takes it to the hot wallet; the treasury
    sends ``sell`` of it from there to an OTC desk and records the sale (``Rebalancing.record_conversion``)."""
    stack = TreasuryStack(threshold="50")
    p = stack.payments
    profile = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678")
    p.add_merchant("m1", settlement=profile, fee_percent="0")
    invoice = p.invoicing.create_invoice("m1", Money.of(usdt, USDT))
    p.pay(invoice.id)
    p.confirm()
    p.settling.run_settlements()
    for _ in range(5):
        stack.sweeps.run()
    sold = Money.of(sell, USDT)
    stack.balances["tron"].move(sold, source="tron-hot", to=None)  # on chain: out to the desk's address
    stack.rebalancing.record_conversion(
        reference="otc-0001",
        network="tron",
        fills=[Fill(sold, Decimal("131"))],
        fee=Money.of("50", "KES"),
        venue="OTC desk",
        actor="ops:jane",
    )
    return stack


def _results(stack: TreasuryStack) -> dict[str, list[object]]:
    report = stack.reconcile()
    return {r.check.name: list(r.differences) for r in report.results if not r.skipped}


def test_a_conversion_leaves_custody_and_the_books_reconcile_clean():
    """After a real sale the custody account is empty, and both the books' and the chain's custody checks agree."""
    stack = _sold_on_a_desk()
    assert stack.payments.ledger.balance(flows.custody("tron", USDT)).posted.is_zero()
    found = _results(stack)
    assert found["custody"] == [] and found["custody-on-chain"] == []
    assert found["trial-balance"] == []


def test_custody_moved_without_a_record_is_still_reported_after_a_conversion():
    """An entry taking 5 USDT out of custody that is no conversion (nor any other record) is a difference."""
    stack = _sold_on_a_desk(sell="60")
    assert _results(stack)["custody"] == []
    stray = Money.of("5", USDT)
    stack.payments.ledger.post(
        EntryRequest(
            "manual:stray",
            [Posting.debit(trading_account("USDT"), stray), Posting.credit(flows.custody("tron", USDT), stray)],
            "custody moved by hand",
        )
    )
    (difference,) = _results(stack)["custody"]
    assert difference.subject == flows.custody("tron", USDT)
    assert difference.detail.startswith("off by -5")
