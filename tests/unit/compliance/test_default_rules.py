"""The shipped rule set (``data/rules.json``) on ordinary and suspicious days (review12 R12-11, R12-12): merchants
working as designed raise nothing; a wallet's cash-in in parts under a tier's limit does."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from cryptopay.core.compliance.rules import Direction, Movement, default_rules, evaluate
from cryptopay.core.money import KES, Money

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def _move(
    n: int, kes: str, product: str, direction: Direction = Direction.IN, *, minutes: float = 0, party: str = "usr_1"
):
    at = START + timedelta(minutes=minutes)
    return Movement(
        id=f"mv_{n}",
        party_id=party,
        product=product,
        direction=direction,
        amount=Money.of(kes, KES),
        at=at,
        party_since=at - timedelta(days=400),
    )


def fired(feed: list[Movement]) -> Counter[str]:
    """Every batch rule of the shipped set over the feed, each movement against the ones before it."""
    rules = default_rules().batch()
    hits: Counter[str] = Counter()
    for i, movement in enumerate(feed):
        for rule in rules:
            if evaluate(rule, movement, feed[:i]) is not None:
                hits[rule.id] += 1
    return hits


def test_an_instant_settlement_is_not_rapid_in_and_out():
    """A merchant paid and settled in shillings seconds later is the product working, not pass-through."""
    feed = [
        _move(1, "5000", "merchant_payment", party="mer_1"),
        _move(2, "5000", "settlement_payout", Direction.OUT, minutes=0.5, party="mer_1"),
    ]
    assert fired(feed) == Counter()


def test_a_busy_shop_hour_raises_nothing_and_a_wallets_busy_hour_raises_one_alert():
    shop = [_move(i, "500", "merchant_payment", minutes=i * 2, party="mer_1") for i in range(30)]
    assert fired(shop) == Counter()
    wallet = [_move(i, "500", "p2p", Direction.OUT, minutes=i * 2) for i in range(30)]
    assert fired(wallet)["velocity-hour"] == 1  # the 21st send in the hour, not each one after it


def test_paybill_top_ups_in_parts_under_a_tiers_limit_are_structuring():
    for kes, rule in (("65000", "structuring-tier1-single"), ("240000", "structuring-tier2-single")):
        feed = [_move(i, kes, "wallet_paybill", minutes=60 * i) for i in range(3)]
        assert fired(feed)[rule] == 1, kes


def test_a_wallets_cash_out_in_parts_is_rapid_in_and_out():
    feed = [
        _move(1, "2600", "wallet_buy"),
        _move(2, "646.77", "p2p", Direction.OUT, minutes=1),
        _move(3, "500", "bill", Direction.OUT, minutes=2),
        _move(4, "1430.59", "wallet_sell", Direction.OUT, minutes=3),
    ]
    assert fired(feed)["rapid-in-out"] == 1


def test_every_personal_product_is_watched_by_a_tier_structuring_rule():
    """The products a wallet's money moves by, each under the tiers' structuring rules (or listed here as not)."""
    personal = {
        "wallet_buy",
        "wallet_paybill",
        "wallet_sell",
        "wallet_deposit",
        "p2p",
        "withdraw",
        "bill",
        "remittance",
    }
    rules = {r.id: r for r in default_rules().rules}
    for rule_id in ("structuring-tier1-single", "structuring-tier2-single"):
        assert personal <= rules[rule_id].products, rule_id
