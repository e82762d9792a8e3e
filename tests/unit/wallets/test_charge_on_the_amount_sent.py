"""M-Pesa's B2C charge is by band of the amount sent: out of a sum that must pay both (a sale, a cash-out, a
remittance paid in USDT), the recipient gets the most whole shillings that, with the charge on *them*, fit (review
readrev: the charge was taken at the band of the whole sum, so KES 1,503 paid 1,494 + 9 instead of 1,498 + 5, and
cashing out 1,503 paid less than cashing out 1,500)."""

from __future__ import annotations

from decimal import Decimal

from cryptopay.core.mobile_money.limits import B2C_TARIFF
from cryptopay.core.money import KES, USDT, Money
from hypothesis import given
from hypothesis import strategies as st

from tests.support.remittance_stack import remittance_stack
from tests.support.wallet_stack import wallet_stack


@given(total=st.decimals(min_value=Decimal(10), max_value=Decimal(250_013), places=2))
def test_the_most_sent_is_the_largest_whole_amount_that_fits_with_its_own_charge(total):
    """``most_sent``: it and its charge fit in ``total``; one shilling more, with its charge, would not."""
    sent = B2C_TARIFF.most_sent(Money.of(total, KES))
    assert sent == sent.whole() and sent + B2C_TARIFF.charge(sent) <= Money.of(total, KES)
    more = sent + Money.of(1, KES)
    assert more.amount > 250_000 or more + B2C_TARIFF.charge(more) > Money.of(total, KES)


def test_cashing_out_just_above_a_band_pays_the_lower_bands_charge():
    """KES 1,503 cashed out: 1,498 paid and KES 5 charged (1,503 at 9 would pay 1,494, less than cashing out 1,500)."""
    stack = wallet_stack()
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "2000", "KES")
    out = stack.sells.cash_out(amina.id, Money.of(1503, KES))
    assert (out.payout.amount, out.payout.charge) == (Money.of(1498, KES), Money.of(5, KES))
    assert stack.balance(amina, "KES") == Money.of(497, KES)
    assert set(stack.ledger.trial_balance().values()) == {0}


def test_a_sale_worth_just_above_a_band_pays_the_lower_bands_charge():
    """11.62 USDT at a bid of 129.35 is KES 1,503.04: 1,498 paid with the KES 5 charge, 0.04 stays in the wallet."""
    stack = wallet_stack()
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "11.62", "USDT")
    sale = stack.sells.start(amina.id, Money.of("11.62", USDT))
    assert sale.kes == Money.of("1503.04", KES)
    assert (sale.payout.amount, sale.payout.charge) == (Money.of(1498, KES), Money.of(5, KES))
    assert stack.balance(amina, "KES") == Money.of("0.04", KES)


def test_a_remittance_paid_in_usdt_just_above_a_band_delivers_with_the_lower_bands_charge():
    """USDT worth KES 1,503 at the bid delivers 1,498 with a charge of 5 (not 1,494 with 9)."""
    stack = remittance_stack()
    bid = stack.order(amount="1000").bid
    usdt = Money.rounded(Decimal(1503) / bid, USDT, "ROUND_UP")
    order = stack.order(amount=str(usdt.amount), asset="USDT")
    assert order.bid == bid and Money.of(1503, KES) <= Money.rounded(usdt.amount * bid, KES, "ROUND_DOWN")
    assert (order.kes, order.charge) == (Money.of(1498, KES), Money.of(5, KES))
