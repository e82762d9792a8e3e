"""``cryptopay bills catalogue|pending`` over the bill use cases (in memory, as the shells see them)."""

from __future__ import annotations

import json

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core.money import KES, Money
from cryptopay.core.wallets.bills import Bills
from cryptopay_cli.context import use_services
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

from tests.support.services import in_memory_services, with_wallets
from tests.support.wallet_stack import wallet_stack

app = build_app()
runner = CliRunner()


@pytest.fixture
def stack():
    wallets = wallet_stack()
    sells = wallets.sells
    bills = Bills(wallets.backend.uow, wallets.ledger, sells.quoter, sells.quotes, wallets.clock, sells.ids)
    services = attrs.evolve(with_wallets(in_memory_services(clock=wallets.clock), wallets), wallet_bills=ready(bills))
    previous = use_services(services)
    yield wallets, bills
    use_services(previous)


def test_the_catalogue_lists_each_billers_paybill_and_says_none_is_verified(stack):
    """KPLC prepaid 888880 and postpaid 888888, Nairobi Water, DStv and GOtv, each marked unverified."""
    shown = runner.invoke(app, ["bills", "catalogue", "--json"])
    assert shown.exit_code == 0, shown.output
    billers = {b["code"]: b for b in json.loads(shown.stdout)["billers"]}
    assert {code: b["paybill"] for code, b in billers.items()} == {
        "KPLC_PREPAID": "888880",
        "KPLC_POSTPAID": "888888",
        "NAIROBI_WATER": "444400",
        "DSTV": "444900",
        "GOTV": "423655",
    }
    assert not any(b["verified"] for b in billers.values())


def test_pending_shows_a_bill_sent_and_not_yet_answered(stack):
    """A bill sent to M-Pesa with no result yet is listed with its route; once answered the list is empty."""
    wallets, bills = stack
    amina = wallets.sign_up("0712000001", tier=1)
    wallets.fund(amina, "1000", "KES")
    bill = bills.pay(amina.id, "GOTV", "1234567890", Money.of(300, KES))
    assert "no bill payment" in runner.invoke(app, ["bills", "pending"]).stdout
    wallets.payouts.submit_payouts()
    rows = json.loads(runner.invoke(app, ["bills", "pending", "--json"]).stdout)
    assert [(r["bill"], r["route"], r["state"]) for r in rows] == [
        (bill.id, "BusinessPayBill 423655 1234567890", "submitted")
    ]
    wallets.deliver_callbacks()
    assert json.loads(runner.invoke(app, ["bills", "pending", "--json"]).stdout) == []
