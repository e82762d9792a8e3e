"""Receiving limits (review H14): what a tier may receive is data (``Product.RECEIVE`` rows), checked on its own
budget; receiving never uses up what the party may send, and tier 0 holds small amounts only."""

from datetime import UTC, datetime

from cryptopay.core.kyc import (
    INCOMING,
    PRODUCT_LIMITS,
    KycProfile,
    PartyKind,
    Product,
    Requirement,
    Spending,
    check_wallet_movement,
    product_limited,
)
from cryptopay.core.money import KES, Money
from cryptopay.core.wallets.service import spending_of
from hypothesis import given, settings
from hypothesis import strategies as st

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def kes(value: object) -> Money:
    return Money.of(value, KES)


def person(level: int) -> KycProfile:
    profile = KycProfile(party_id="usr_1", kind=PartyKind.PERSONAL)
    profile.submit(0, {Requirement.PHONE}, at=NOW)
    if level >= 1:
        profile.submit(1, {Requirement.NATIONAL_ID}, at=NOW)
        profile.approve("adm_1", at=NOW)
    return profile


def test_tier_0_receives_small_amounts_as_it_buys_them_and_tier_1_without_a_product_limit():
    """The rows are data: tier 0's receiving row is its buying row (5,000 / 10,000 / 30,000); tier 1 has none."""
    row, buy = (PRODUCT_LIMITS.find(PartyKind.PERSONAL, 0, p) for p in (Product.RECEIVE, Product.BUY))
    assert row is not None and buy is not None
    assert (
        (row.single, row.daily, row.monthly)
        == (buy.single, buy.daily, buy.monthly)
        == (kes(5000), kes(10000), kes(30000))
    )
    assert PRODUCT_LIMITS.find(PartyKind.PERSONAL, 1, Product.RECEIVE) is None
    assert product_limited(person(0), Product.RECEIVE, at=NOW)
    assert not product_limited(person(1), Product.RECEIVE, at=NOW)
    assert Product.RECEIVE in INCOMING and Product.REMITTANCE in INCOMING


def test_tier_0_takes_remittances_as_it_receives_from_anyone_and_identified_tiers_keep_their_figures():
    """Tier 0's remittance row is its receive row (5,000 / 10,000 / 30,000: small amounts only), counted on its own;
    tiers 1 and 2 keep their tiers' figures; a remittance past the daily limit names ``remittance.daily``."""
    rows = {
        (level, product): PRODUCT_LIMITS.find(PartyKind.PERSONAL, level, product)
        for level in (0, 1, 2)
        for product in (Product.REMITTANCE, Product.RECEIVE)
    }
    figures = {key: (row.single, row.daily, row.monthly) for key, row in rows.items() if row is not None}
    assert figures[(0, Product.REMITTANCE)] == figures[(0, Product.RECEIVE)] == (kes(5000), kes(10000), kes(30000))
    assert figures[(1, Product.REMITTANCE)] == (kes(70000), kes(150000), kes(1000000))
    assert figures[(2, Product.REMITTANCE)] == (kes(250000), kes(500000), kes(3000000))
    remitted = spending_of({"remittance": (kes(8000), kes(8000)), "receive": (kes(9000), kes(9000))})
    daily = check_wallet_movement(person(0), Product.REMITTANCE, kes(2500), spent=remitted, at=NOW)
    assert (daily.allowed, daily.limit, daily.remaining) == (False, "remittance.daily", kes(2000))
    assert check_wallet_movement(person(0), Product.REMITTANCE, kes(2000), spent=remitted, at=NOW).allowed


def test_each_receiving_limit_names_itself_and_what_remains():
    nothing = Spending.nothing()
    single = check_wallet_movement(person(0), Product.RECEIVE, kes("5000.01"), spent=nothing, at=NOW)
    assert (single.allowed, single.limit, single.remaining) == (False, "receive.single", kes(5000))
    received = spending_of({"receive": (kes(8000), kes(8000))})
    daily = check_wallet_movement(person(0), Product.RECEIVE, kes(2500), spent=received, at=NOW)
    assert (daily.limit, daily.remaining) == ("receive.daily", kes(2000))
    month = spending_of({"receive": (kes(0), kes(28000))})
    monthly = check_wallet_movement(person(0), Product.RECEIVE, kes(2500), spent=month, at=NOW)
    assert (monthly.limit, monthly.remaining) == ("receive.monthly", kes(2000))
    assert check_wallet_movement(person(1), Product.RECEIVE, kes(5_000_000), spent=month, at=NOW).allowed


def test_a_wallet_frozen_by_compliance_receives_nothing_and_no_tier_receives_nothing():
    frozen = person(1)
    frozen.freeze("adm_1", reason="case 12", at=NOW)
    decision = check_wallet_movement(frozen, Product.RECEIVE, kes(10), spent=Spending.nothing(), at=NOW)
    assert (decision.allowed, decision.limit) == (False, "frozen")
    unverified = KycProfile(party_id="usr_2", kind=PartyKind.PERSONAL)
    assert check_wallet_movement(unverified, Product.RECEIVE, kes(10), spent=Spending.nothing(), at=NOW).limit == "tier"


def test_what_a_tier_1_user_received_does_not_use_up_what_it_may_send():
    """Paid KES 150,000 today (remittances, transfers): the tier's daily limit (150,000) still lets it send."""
    received = spending_of({"receive": (kes(100000), kes(100000)), "remittance": (kes(50000), kes(50000))})
    assert (received.today, received.this_month) == (kes(0), kes(0))
    assert check_wallet_movement(person(1), Product.P2P, kes(60000), spent=received, at=NOW).allowed


amounts = st.lists(st.integers(min_value=1, max_value=800_000).map(lambda c: Money.from_minor(c, KES)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(amounts, amounts)
def test_tier_0_never_takes_in_more_than_its_row_however_receipts_and_spending_interleave(receipts, sends):
    """Receipts accepted one by one (each counted when accepted) never pass the row's single, daily or monthly
    limit, and whatever was sent does not change what may be received (nor the reverse)."""
    profile, totals = person(0), {"receive": (kes(0), kes(0)), "buy": (kes(0), kes(0))}
    for receipt, spend in zip(receipts, sends + [kes("0.01")] * len(receipts), strict=False):
        totals["buy"] = (totals["buy"][0] + spend, totals["buy"][1] + spend)  # spending grows alongside
        spent = spending_of(totals)
        decision = check_wallet_movement(profile, Product.RECEIVE, receipt, spent=spent, at=NOW)
        alone = check_wallet_movement(
            profile, Product.RECEIVE, receipt, spent=spending_of({"receive": totals["receive"]}), at=NOW
        )
        assert decision.allowed == alone.allowed
        if decision.allowed:
            assert receipt <= kes(5000)
            day, month = totals["receive"]
            totals["receive"] = (day + receipt, month + receipt)
    assert totals["receive"][0] <= kes(10000) and totals["receive"][1] <= kes(30000)
