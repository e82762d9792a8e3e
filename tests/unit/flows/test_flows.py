"""Merchant money flows over the real ledger service (in-memory store)."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from cryptopay.core import flows
from cryptopay.core.errors import InsufficientFunds
from cryptopay.core.fees import FeeProduct, FeeSchedule
from cryptopay.core.fx import Pair, Rate, lock_quote
from cryptopay.core.ledger import HoldState, Ledger
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.testing.ledger import InMemoryLedgerStore
from cryptopay.core.testing.system import ManualClock, SequentialIds
from cryptopay_cli.main import build_app
from typer.testing import CliRunner

app = build_app()

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FEE = FeeSchedule(product=FeeProduct.MERCHANT, asset=USDT, version=1, effective_from=NOW, percent=Decimal("2"))


@pytest.fixture
def ledger() -> Ledger:
    book = Ledger(InMemoryLedgerStore(), clock=ManualClock(NOW), ids=SequentialIds())
    flows.open_platform_accounts(book, "m1", "tron", USDT)
    return book


def test_invoice_credit_splits_net_and_fee(ledger: Ledger) -> None:
    """100 USDT received books 100 to custody, 98 to the merchant and 2 to fee revenue, once."""
    first, fee = flows.credit_invoice_payment(
        ledger, invoice_id="inv1", merchant_id="m1", network="tron", received=Money.of("100", USDT), fees=FEE
    )
    again, _ = flows.credit_invoice_payment(
        ledger, invoice_id="inv1", merchant_id="m1", network="tron", received=Money.of("100", USDT), fees=FEE
    )
    assert first == again and fee.fee == Money.of("2", USDT)
    assert ledger.balance(flows.merchant_liability("m1", USDT)).posted == Money.of("98", USDT)
    assert ledger.balance(flows.custody("tron", USDT)).posted == Money.of("100", USDT)


def test_settlement_conversion_books_the_spread(ledger: Ledger) -> None:
    """Converting at the bid credits the merchant in KES and books the spread to FX revenue; books stay balanced."""
    flows.credit_invoice_payment(
        ledger, invoice_id="inv1", merchant_id="m1", network="tron", received=Money.of("100", USDT), fees=FEE
    )
    quote = lock_quote([Rate(Pair(USDT, KES), Decimal("130"), "s", NOW)], now=NOW, quote_id="q1")
    _, kes = flows.convert_for_settlement(
        ledger, settlement_id="s1", merchant_id="m1", amount=Money.of("98", USDT), quote=quote, at=NOW
    )
    assert kes == Money.of("12676.30", KES)
    assert ledger.balance(flows.FX_SPREAD).posted == Money.of("63.70", KES)
    assert set(ledger.trial_balance().values()) == {0}


def test_failed_payout_returns_the_shillings(ledger: Ledger) -> None:
    """A failed payout voids its hold; a payout beyond the balance is refused."""
    flows.credit_invoice_payment(
        ledger, invoice_id="inv1", merchant_id="m1", network="tron", received=Money.of("100", USDT), fees=FEE
    )
    quote = lock_quote([Rate(Pair(USDT, KES), Decimal("130"), "s", NOW)], now=NOW, quote_id="q1")
    flows.convert_for_settlement(
        ledger, settlement_id="s1", merchant_id="m1", amount=Money.of("98", USDT), quote=quote, at=NOW
    )
    hold = flows.start_payout(ledger, payout_id="p1", merchant_id="m1", amount=Money.of("12000", KES))
    assert ledger.balance(flows.merchant_liability("m1", KES)).available == Money.of("676.30", KES)
    assert flows.fail_payout(ledger, hold_id=hold.id).state is HoldState.VOIDED
    assert ledger.balance(flows.merchant_liability("m1", KES)).available == Money.of("12676.30", KES)
    with pytest.raises(InsufficientFunds):
        flows.start_payout(ledger, payout_id="p2", merchant_id="m1", amount=Money.of("12677", KES))


def test_demo_tour_ends_with_zero_trial_balance() -> None:
    """`cryptopay demo tour --json` settles the invoice, pays out shillings and leaves the books balanced."""
    result = CliRunner().invoke(app, ["demo", "tour", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["invoice"] == "settled" and summary["trial_balance_zero"] is True
    assert Decimal(summary["kes_paid_out"]) > 0
