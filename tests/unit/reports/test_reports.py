"""Merchant reports over the in-memory stack: sales, fees with taxes from data, settlements, per day and month."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.reports import Reports
from cryptopay.core.reports.taxes import parse_fee_taxes
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack

AFTER_CUTOFF = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)  # Monday 17:30 in Nairobi


def shop(stack: PaymentsStack) -> Reports:
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")
    stack.add_merchant("m1", settlement=profile)
    return Reports(uow=stack.uow, clock=stack.clock)


def pay(stack: PaymentsStack, usdt: str) -> None:
    invoice = stack.invoicing.create_invoice("m1", Money.of(usdt, USDT))
    stack.pay(invoice.id)
    stack.confirm(3)


def test_sales_per_day_are_the_confirmed_payments_less_the_merchant_fee() -> None:
    """Two payments on Monday, one on Tuesday: per day and per month, received, 1% fees and net per asset."""
    stack = PaymentsStack()
    reports = shop(stack)
    pay(stack, "100")
    pay(stack, "50")
    stack.clock.set(datetime(2026, 1, 6, 9, tzinfo=UTC))
    pay(stack, "10")
    daily = reports.report("sales", "m1", period="day", first="2026-01-05", last="2026-01-06")
    assert [(r["period"], r["payments"], r["received"], r["fees"], r["net"]) for r in daily.rows] == [
        ("2026-01-05", "2", "150.000000", "1.500000", "148.500000"),
        ("2026-01-06", "1", "10.000000", "0.100000", "9.900000"),
    ]
    assert daily.totals[0]["received"] == "160.000000" and daily.totals[0]["asset"] == "USDT"
    monthly = reports.report("sales", "m1", period="month", first="2026-01-01", last="2026-01-31")
    assert [(r["period"], r["payments"], r["net"]) for r in monthly.rows] == [("2026-01", "3", "158.400000")]
    csv = monthly.as_csv().splitlines()
    assert csv[0] == "period,asset,payments,received,fees,net" and csv[1].startswith("2026-01,USDT,3,")
    assert csv[-1].startswith("total,USDT,3,160.000000")


def test_fees_carry_each_tax_from_the_data_and_the_fee_net_of_tax() -> None:
    """Excise duty (15%, inclusive) on the merchant fee and the payout charge; the FX spread carries none."""
    stack = PaymentsStack()
    reports = shop(stack)
    pay(stack, "115")
    stack.clock.set(AFTER_CUTOFF)
    stack.settling.run_settlements()
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    fees = reports.report("fees", "m1", period="month", first="2026-01-01", last="2026-01-31")
    assert fees.columns == ("period", "product", "asset", "fees", "excise_duty", "vat", "net_of_tax")
    merchant = next(r for r in fees.rows if r["product"] == "merchant_fee")
    assert (merchant["fees"], merchant["excise_duty"], merchant["vat"], merchant["net_of_tax"]) == (
        "1.150000",
        "0.150000",
        "0.000000",
        "1.000000",
    )
    spread = next(r for r in fees.rows if r["product"] == "fx_spread")
    assert spread["asset"] == "KES" and spread["excise_duty"] == "0.00" and spread["fees"] == spread["net_of_tax"]
    assert fees.tax_version == 1


def test_settlements_per_day_show_credited_paid_out_and_in_flight() -> None:
    """One settlement paid and one waiting: credited, FX spread, paid out, in flight, in KES."""
    stack = PaymentsStack()
    reports = shop(stack)
    pay(stack, "100")
    stack.clock.set(AFTER_CUTOFF)
    [run] = stack.settling.run_settlements()
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    report = reports.report("settlements", "m1", period="day", first="2026-01-05", last="2026-01-05")
    [row] = report.rows
    assert run.settlement is not None
    assert (row["settlements"], row["credited"], row["paid_out"], row["in_flight"], row["currency"]) == (
        "1",
        str(run.settlement.credited.amount),
        "12805.00",
        "0.00",
        "KES",
    )
    assert row["fx_spread"] == str(run.settlement.fx_spread.amount) and report.totals[0]["period"] == "total"


def test_another_merchants_payments_and_other_days_are_not_counted() -> None:
    """A report covers one merchant and its span only; an empty span is an empty report, not an error."""
    stack = PaymentsStack()
    reports = shop(stack)
    pay(stack, "100")
    assert reports.report("sales", "m2", period="day", first="2026-01-05", last="2026-01-05").rows == ()
    assert reports.report("sales", "m1", period="day", first="2026-01-04", last="2026-01-04").rows == ()


@pytest.mark.parametrize(
    ("kind", "period", "first", "last", "field"),
    [
        ("sales", "week", None, None, "period"),
        ("sales", "day", "2026-13-01", None, "from"),
        ("sales", "day", "2026-02-30", None, "from"),
        ("profit", "day", None, None, "kind"),
    ],
)
def test_bad_report_requests_are_refused_naming_the_field(kind, period, first, last, field) -> None:
    """An unknown period or kind, or a date that is no date: InvalidInput naming the field."""
    reports = shop(PaymentsStack())
    with pytest.raises(InvalidInput) as refused:
        reports.report(kind, "m1", period=period, first=first, last=last)
    assert refused.value.details["field"] == field


def test_tax_data_is_checked_when_read() -> None:
    """A rate of 1 or more, an unknown fee product, or versions naming different taxes are refused."""
    base = {"name": "excise_duty", "rate": "0.15", "basis": "inclusive", "applies_to": ["merchant_fee"]}
    for bad in ({**base, "rate": "1.5"}, {**base, "applies_to": ["tips"]}, {**base, "basis": "sometimes"}):
        with pytest.raises(InvalidInput):
            parse_fee_taxes({"versions": [{"version": 1, "effective_from": "2026-01-01", "taxes": [bad]}]})
    two = [
        {"version": 1, "effective_from": "2026-01-01", "taxes": [base]},
        {"version": 2, "effective_from": "2026-07-01", "taxes": [{**base, "name": "levy"}]},
    ]
    with pytest.raises(InvalidInput):
        parse_fee_taxes({"versions": two})


def test_a_long_span_comes_a_page_at_a_time_and_from_after_to_is_refused() -> None:
    """Two years of days: 400 in the first report and next_first where the next starts; to is capped at today."""
    stack = PaymentsStack()
    reports = shop(stack)
    pay(stack, "100")
    first = reports.report("sales", "m1", period="day", first="2024-01-01", last="2030-01-01")
    assert first.next_first is not None and first.next_first.isoformat() == "2025-02-04" and first.rows == ()
    rest = reports.report("sales", "m1", period="day", first="2025-02-04", last="2030-01-01")
    assert rest.next_first is None and rest.last.isoformat() == "2026-01-05" and len(rest.rows) == 1
    with pytest.raises(InvalidInput, match=r"from \(2026-01-06\) is after to \(2026-01-05\)"):  # review R18
        reports.report("sales", "m1", period="day", first="2026-01-06", last="2026-01-05")


def test_the_settlements_report_says_what_the_merchant_owes_for_refunds_after_settlement() -> None:
    """A 60 USDT refund after the 100 USDT was settled leaves the merchant owing KES 7,839 (R25): the settlements
    report carries it (JSON ``owed``, and the CSV's last row ``owed_by_merchant`` in its own column); a report read
    without a ledger leaves it out, and the other reports never carry it."""
    stack = PaymentsStack()
    shop(stack)
    reports = Reports(uow=stack.uow, clock=stack.clock, ledger=stack.ledger)
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    stack.clock.set(AFTER_CUTOFF)
    stack.settling.run_settlements()
    before = reports.report("settlements", "m1", period="day", first="2026-01-05", last="2026-01-05")
    assert before.owed == Money.zero(KES)
    customer = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
    stack.refunds.refund(
        invoice.id, address=customer, requested_by="user:u1", amount=Money.of("60", USDT), fund_after_settlement=True
    )
    report = reports.report("settlements", "m1", period="day", first="2026-01-05", last="2026-01-05")
    assert report.owed == Money.of("7839", KES)
    lines = report.as_csv().splitlines()
    assert lines[0].endswith(",currency,owed") and lines[-1] == "owed_by_merchant,,,,,,,,KES,7839.00"
    assert lines[-2].startswith("total,")
    assert (
        Reports(uow=stack.uow, clock=stack.clock).report("settlements", "m1", period="day", first=None, last=None).owed
        is None
    )
    assert reports.report("sales", "m1", period="day", first=None, last=None).owed is None
    assert "owed" not in reports.report("sales", "m1", period="day", first=None, last=None).as_csv()
    # the next day's settlement nets part of it: the 5th's report still says what was owed at its end, today's now
    second = stack.invoicing.create_invoice("m1", Money.of("50", USDT))
    stack.pay(second.id)
    stack.confirm(3)
    stack.clock.set(AFTER_CUTOFF + timedelta(days=1))
    stack.settling.run_settlements()
    fifth = reports.report("settlements", "m1", period="day", first="2026-01-05", last="2026-01-05")
    sixth = reports.report("settlements", "m1", period="day", first="2026-01-06", last="2026-01-06")
    assert (fifth.owed, sixth.owed) == (Money.of("7839", KES), Money.of("1435.53", KES))
