"""Selling USDT for shillings over M-Pesa B2C, through the payout machinery, over the fake M-Pesa."""

from __future__ import annotations

import pytest
from cryptopay.core.errors import LimitExceeded, Refused
from cryptopay.core.flows import FLOAT, IN_FLIGHT, MPESA_CHARGES, PAYOUT_FEE
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments.link_amounts import AmountBelowMinimum
from cryptopay.core.payouts import PayoutState

from tests.support.wallet_stack import wallet_stack


@pytest.fixture
def stack():
    return wallet_stack()


def test_a_sale_pays_whole_shillings_at_the_bid_to_the_wallets_own_phone(stack):
    """10 USDT at a bid of 129.35 is KES 1,293.50: 1,288 paid by B2C, the KES 5 charge held with it, 0.50 stays."""
    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "10", "USDT")
    sale = stack.sells.start(amina.id, Money.of(10, USDT))
    assert sale.kes == Money.of("1293.50", KES)
    assert (sale.payout.amount, sale.payout.charge) == (Money.of(1288, KES), Money.of(5, KES))
    assert sale.payout.destination == "254712000001" and sale.payout.state is PayoutState.PLANNED
    assert stack.balance(amina, "USDT").is_zero() and stack.balance(amina, "KES") == Money.of("0.50", KES)
    assert len(stack.payouts.submit_payouts()) == 1
    stack.deliver_callbacks()
    done = stack.sells.get(amina.id, sale.id)
    assert done.state == "completed" and done.payout.receipt
    assert stack.mpesa.balance("0712000001") == Money.of(100000 + 1288, KES)
    assert stack.ledger.balance(IN_FLIGHT).posted.is_zero()
    # the float also pays M-Pesa's own charge (KES 5, B2C's band), which the seller was charged: revenue meets expense
    assert stack.ledger.balance(FLOAT).posted == Money.of(-1288 - 5, KES)
    assert stack.ledger.balance(MPESA_CHARGES).posted == stack.ledger.balance(PAYOUT_FEE).posted == Money.of(5, KES)
    assert set(stack.ledger.trial_balance().values()) == {0}


def test_a_failed_payout_leaves_the_shillings_in_the_wallet(stack):
    """M-Pesa refuses the customer (2040): the hold is voided and the KES stays in the wallet, nothing lost."""
    user = stack.sign_up("0711000005", tier=1)
    stack.fund(user, "10", "USDT")
    stack.sells.start(user.id, Money.of(10, USDT))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    assert stack.balance(user, "KES") == Money.of("1293.50", KES)


def test_tier_0_cannot_sell_and_tiny_sales_are_refused(stack):
    """Tier 0 may not sell; a sale worth less than M-Pesa's KES 10 minimum is refused before anything moves."""
    amina = stack.sign_up("0712000001")
    stack.fund(amina, "10", "USDT")
    with pytest.raises(LimitExceeded) as refused:
        stack.sells.start(amina.id, Money.of(10, USDT))
    assert refused.value.details["limit"] == "sell.single"
    stack.grant_tier(amina.id)
    with pytest.raises(AmountBelowMinimum) as tiny:  # not a KYC limit: the amount's own bound (R14-19)
        stack.sells.start(amina.id, Money.of("0.05", USDT))
    assert (tiny.value.details["field"], tiny.value.details["minimum"]) == ("amount", "0.077310")
    assert stack.balance(amina, "USDT") == Money.of(10, USDT)
    # Review F4: told in the user's terms, the KES at the bid and the least USDT (KES 10 / 129.35, rounded up)
    assert str(tiny.value) == (
        "0.050000 USDT is KES 6.46 at the bid; M-Pesa pays out KES 10 or more after its charge: sell at least 0.077310 USDT"
    )
    stack.sells.start(amina.id, Money.of("0.077310", USDT))


def test_a_sale_the_float_cannot_cover_is_refused_before_anything_moves(stack):
    """The treasury's float guard says no: the sale is refused with its reason and the USDT stays."""
    from cryptopay.core.treasury.cover import Cover

    amina = stack.sign_up("0712000001", tier=1)
    stack.fund(amina, "10", "USDT")
    stack.sells.float_cover = lambda amount: Cover(False, "the float holds KES 200, KES 1,288 is needed")
    with pytest.raises(Refused, match="cannot pay this sale out"):
        stack.sells.start(amina.id, Money.of(10, USDT))
    assert stack.balance(amina, "USDT") == Money.of(10, USDT)
