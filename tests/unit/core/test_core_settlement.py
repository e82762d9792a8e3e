"""Settlement: Nairobi cut-offs, minimums, conversion at a locked quote, charges and M-Pesa-sized parts."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from cryptopay.core.errors import AssetMismatch, InvalidAmount, InvalidInput, QuoteExpired
from cryptopay.core.fees import FeeProduct, FeeSchedule
from cryptopay.core.fx import Pair, Quote
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.settlement.policy import (
    BANK_PAYOUTS,
    MPESA_B2B_PAYOUTS,
    MPESA_B2C_PAYOUTS,
    PayoutLimits,
    SettlementPolicy,
    plan_payouts,
)
from hypothesis import given, settings
from hypothesis import strategies as st

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, 12:00 in Nairobi
PHONE = "254712345678"


def kes(value: object) -> Money:
    return Money.of(value, KES)


def policy(schedule=SettlementSchedule.DAILY, method=SettlementMethod.MPESA_B2C, destination=PHONE, **options):
    return SettlementPolicy(schedule=schedule, method=method, destination=destination, **options)


CHARGES = FeeSchedule(
    product=FeeProduct.MPESA_PAYOUT,
    asset=KES,
    version=1,
    effective_from=NOW,
    percent=Decimal("0.1"),
    fixed=kes(15),
    maximum=kes(100),
)


def test_daily_cutoff_is_at_five_in_nairobi():
    """Before 17:00 EAT the next cut-off is today; at or after it, tomorrow."""
    daily = policy()
    assert daily.next_cutoff(NOW).isoformat() == "2026-01-05T17:00:00+03:00"
    assert daily.next_cutoff(datetime(2026, 1, 5, 14, 0, tzinfo=UTC)).isoformat() == "2026-01-06T17:00:00+03:00"


def test_weekly_cutoff_falls_on_the_chosen_weekday():
    """A Friday weekly settlement's next cut-off from Monday is that Friday, and from Friday evening the next one."""
    weekly = policy(SettlementSchedule.WEEKLY)
    assert weekly.next_cutoff(NOW).isoformat() == "2026-01-09T17:00:00+03:00"
    friday_evening = datetime(2026, 1, 9, 15, 0, tzinfo=UTC)
    assert weekly.next_cutoff(friday_evening).isoformat() == "2026-01-16T17:00:00+03:00"


def test_is_due_once_per_cutoff():
    """A daily settlement is due after each cut-off it has not run since, and not again until the next."""
    daily = policy(cutoff=time(8, 0))
    ran = datetime(2026, 1, 5, 5, 30, tzinfo=UTC)  # 08:30 Nairobi, after today's cut-off
    assert daily.is_due(None, NOW)
    assert not daily.is_due(ran, NOW)
    assert daily.is_due(ran, datetime(2026, 1, 6, 5, 0, tzinfo=UTC))
    assert daily.is_due(datetime(2026, 1, 5, 4, 59, tzinfo=UTC), NOW)


def test_instant_settlement_is_always_due():
    """Instant settlement runs every time and its cut-off is now."""
    instant = policy(SettlementSchedule.INSTANT)
    assert instant.is_due(NOW, NOW) and instant.next_cutoff(NOW) == NOW


def test_below_minimum_pays_nothing():
    """KES 99 under a KES 100 minimum stays for the next run."""
    plan = plan_payouts(kes(99), policy=policy(), now=NOW)
    assert plan.parts == () and plan.remainder == kes(99) and "minimum" in plan.reason


def test_usdt_balance_converts_at_the_bid_and_names_the_quote():
    """100 USDT at bid 128.554 gives KES 12,855.40, paid as 12,855 with the 40 cents left over."""
    quote = Quote(
        "fxq_9", Pair.parse("USDT/KES"), Decimal("128.554"), Decimal("129.846"), ("a",), NOW, NOW + timedelta(minutes=5)
    )
    plan = plan_payouts(Money.of(100, USDT), policy=policy(), now=NOW, quote=quote)
    assert (plan.quote_id, plan.converted, plan.fx_spread) == ("fxq_9", kes("12855.40"), kes("64.60"))
    assert [p.amount for p in plan.parts] == [kes(12855)] and plan.remainder == kes("0.40")
    with pytest.raises(QuoteExpired):
        plan_payouts(Money.of(100, USDT), policy=policy(), now=NOW + timedelta(minutes=6), quote=quote)
    with pytest.raises(AssetMismatch):
        plan_payouts(Money.of(100, USDT), policy=policy(), now=NOW)


def test_charges_are_taken_on_top_of_each_part():
    """Each part carries its charge; part plus charge never exceeds what was available."""
    plan = plan_payouts(kes("10000"), policy=policy(charges=CHARGES), now=NOW)
    (part,) = plan.parts
    assert part.amount + part.fee <= kes(10000)
    assert part.fee == kes("24.98")  # 0.1% of 9,975 rounded up, plus 15
    assert plan.total_paid + plan.total_fees + plan.remainder == kes(10000)


def test_daily_limit_counts_what_was_paid_today():
    """With KES 400,000 already paid today, only 100,000 more goes out."""
    plan = plan_payouts(kes(300000), policy=policy(), now=NOW, paid_today=kes(400000))
    assert plan.total_paid == kes(100000) and plan.remainder == kes(200000)
    assert "today's limit" in plan.reason
    assert plan_payouts(kes(300000), policy=policy(), now=NOW, paid_today=kes(500000)).parts == ()


def test_parts_are_distinct_so_mpesa_does_not_refuse_a_repeat():
    """Equal-sized parts would be refused as repeats; each part is a shilling smaller than the one before."""
    plan = plan_payouts(
        kes(1000000), policy=policy(limits=PayoutLimits(part=MPESA_B2C_PAYOUTS.part, distinct_amounts=True)), now=NOW
    )
    assert [str(p.amount.amount) for p in plan.parts] == ["250000.00", "249999.00", "249998.00", "249997.00"]


def test_bank_transfer_payout_is_one_part_of_whole_shillings():
    """A bank transfer (a bank without a paybill) sends everything in one part, without the M-Pesa sizes."""
    bank = policy(method=SettlementMethod.BANK, destination="CITI:1234567890")
    plan = plan_payouts(kes("1234567.89"), policy=bank, now=NOW)
    assert [p.amount for p in plan.parts] == [kes(1234567)] and plan.remainder == kes("0.89")
    assert bank.payout_limits is BANK_PAYOUTS


def test_bank_paid_by_paybill_is_cut_to_b2b_sizes():
    """A bank with a paybill is paid over M-Pesa B2B: parts of at most KES 250,000."""
    bank = policy(method=SettlementMethod.BANK, destination="KCB:1234567890")
    assert bank.payout_limits is MPESA_B2B_PAYOUTS


def test_policy_from_a_merchant_profile_normalises_the_destination():
    """A profile's phone typed as 07... becomes the wire form, and its minimum is kept."""
    profile = SettlementProfile(SettlementSchedule.WEEKLY, SettlementMethod.MPESA_B2C, "0712 345 678", kes(500))
    made = SettlementPolicy.from_profile(profile, weekday=0)
    assert (made.destination, made.minimum, made.weekday) == (PHONE, kes(500), 0)


@pytest.mark.parametrize(
    ("method", "destination"),
    [
        (SettlementMethod.MPESA_B2C, "12345"),
        (SettlementMethod.MPESA_PAYBILL, "888880"),
        (SettlementMethod.MPESA_TILL, "12"),
    ],
)
def test_destination_must_fit_the_method(method, destination):
    """A destination that does not fit its method is refused."""
    with pytest.raises(InvalidInput):
        policy(method=method, destination=destination)


def test_negative_balance_cannot_be_settled():
    """A negative balance is refused."""
    with pytest.raises(InvalidAmount):
        plan_payouts(kes(-1), policy=policy(), now=NOW)


balances = st.integers(min_value=0, max_value=2_000_000_00).map(lambda cents: Money.from_minor(cents, KES))


@settings(max_examples=150, deadline=None)
@given(
    available=balances,
    paid_today=st.integers(min_value=0, max_value=600_000).map(kes),
    charged=st.booleans(),
    method=st.sampled_from([SettlementMethod.MPESA_B2C, SettlementMethod.MPESA_TILL, SettlementMethod.BANK]),
)
def test_payout_split_is_always_legal_and_complete(available, paid_today, charged, method):
    """Parts are whole, legal and distinct, within the day's room, and paid + fees + remainder == available."""
    destination = {SettlementMethod.BANK: "KCB:1234567890", SettlementMethod.MPESA_TILL: "123456"}.get(method, PHONE)
    chosen = policy(method=method, destination=destination, charges=CHARGES if charged else None, minimum=kes(0))
    plan = plan_payouts(available, policy=chosen, now=NOW, paid_today=paid_today)
    limits = chosen.payout_limits
    amounts = [p.amount for p in plan.parts]
    assert plan.total_paid + plan.total_fees + plan.remainder == available
    assert not plan.remainder.is_negative()
    for amount in amounts:
        assert amount == amount.whole() and amount >= limits.smallest
        assert limits.largest is None or amount <= limits.largest
    if limits.per_day is not None:
        assert paid_today + plan.total_paid <= max(limits.per_day, paid_today)
    if limits.distinct_amounts:
        assert len(set(amounts)) == len(amounts)
    if limits.one_part:
        assert len(amounts) <= 1


def test_shilling_balance_names_no_quote():
    """A KES balance needs no conversion, so the plan names no quote and no spread."""
    quote = Quote(
        "fxq_9", Pair.parse("USDT/KES"), Decimal("128"), Decimal("130"), ("a",), NOW, NOW + timedelta(minutes=5)
    )
    plan = plan_payouts(kes(5000), policy=policy(), now=NOW, quote=quote)
    assert (plan.quote_id, plan.fx_spread, plan.converted) == (None, kes(0), kes(5000))


@pytest.mark.parametrize(
    ("budget", "sent", "charge"),
    [("1503.40", "1498", "5"), ("5008", "4999", "9"), ("20012", "20000", "11"), ("20014", "20001", "13")],
)
def test_the_b2c_tariff_passed_on_sends_the_most_its_bands_allow(budget, sent, charge):
    """Just above a band's edge the next band's charge would not fit, but the lower band's does with more sent than
    the first step down gave (1,498 + 5, not 1,494 + 5): the part is the most the budget pays, as ``Tariff.most_sent``
    computes it for a wallet sale (R13)."""
    from cryptopay.core.mobile_money.limits import B2C_TARIFF

    tariff = B2C_TARIFF.fee_schedule(version=1, effective_from=NOW - timedelta(days=1))
    plan = plan_payouts(kes(budget), policy=policy(charges=tariff, minimum=kes(0)), now=NOW)
    [part] = plan.parts
    assert (part.amount, part.fee) == (kes(sent), kes(charge))
    assert part.amount == B2C_TARIFF.most_sent(kes(budget))
    assert plan.remainder == kes(budget) - kes(sent) - kes(charge)
