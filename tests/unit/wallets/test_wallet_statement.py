"""Review R14-3: a wallet statement opens and closes each balance with the ledger's figures (the balance before the
month's first line, after its last) and carries M-Pesa's receipt of a buy and of a sale's payout."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from cryptopay.core.money import KES, USDT, Money

from tests.support.wallet_stack import wallet_stack


def test_a_statement_opens_and_closes_each_balance_and_names_m_pesa_s_receipts():
    stack = wallet_stack()
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "300", "KES")
    stack.fund(amina, "20", "USDT")
    stack.clock.advance(days=32)  # the month after: its balances open where the last one's closed
    buy = stack.buys.start(amina.id, Money.of(1000, KES))
    stack.deliver_callbacks()
    sale = stack.sells.start(amina.id, Money.of("2.5", USDT))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    month = f"{stack.clock.now():%Y-%m}"
    rows = list(csv.DictReader(io.StringIO(stack.wallets.statement(amina.id, month))))
    opening = {r["asset"]: r for r in rows if r["kind"] == "opening_balance"}
    closing = {r["asset"]: r for r in rows if r["kind"] == "closing_balance"}
    moves = [r for r in rows if r["kind"] not in ("opening_balance", "closing_balance")]
    assert [r["kind"] for r in rows[:2]] == ["opening_balance"] * 2 and list(opening) == list(closing) == [
        "KES",
        "USDT",
    ]
    for asset, first_at_least in (("KES", "300.00"), ("USDT", "20.000000")):
        mine = [r for r in moves if r["asset"] == asset]
        assert opening[asset]["balance_after"] == first_at_least  # the ledger's, read apart from the lines
        assert Decimal(opening[asset]["balance_after"]) == Decimal(mine[0]["balance_after"]) - Decimal(
            mine[0]["amount"]
        )
        assert closing[asset]["balance_after"] == mine[-1]["balance_after"] == str(stack.balance(amina, asset).amount)
        assert opening[asset]["amount"] == closing[asset]["amount"] == opening[asset]["reference"] == ""
    bought = stack.buys.get(buy.id)
    paid = stack.payouts.get_payout(stack.sells.get(amina.id, sale.id).payout.id)
    assert bought.receipt and paid.receipt
    assert [r["reference"].split(" ", 1)[1] for r in moves if " M-Pesa " in r["reference"]] == [
        f"M-Pesa {bought.receipt}",
        f"M-Pesa {paid.receipt}",
    ]
    before = stack.wallets.statement(amina.id, f"{stack.clock.now().replace(year=2000):%Y-%m}")
    assert before.splitlines()[1:] == []  # a month before the wallet held anything: no balance to open or close
