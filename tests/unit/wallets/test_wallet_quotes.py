"""Wallet quotes: a buy, sale or bill trades only at its own person's quote, for its purpose, once, in its window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptopay.core.errors import InvalidInput, LimitExceeded, NotFound, QuoteExpired, QuoteUsed
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.wallets.bills import Bills
from cryptopay.core.wallets.quotes import USDT_KES, QuotePurpose

from tests.support.wallet_stack import wallet_stack


@pytest.fixture
def stack():
    return wallet_stack()


@pytest.fixture
def people(stack):
    amina, baraka = stack.sign_up("0712000001", tier=1), stack.sign_up("0712000002", tier=1)
    for person in (amina, baraka):
        stack.fund(person, "50", "USDT")
    return amina, baraka


def test_someone_elses_quote_is_not_found_for_any_trade(stack, people):
    """Baraka names Amina's quote to buy, sell or pay a bill: 404 as for an unknown id; nothing moves, and Amina can
    still use it."""
    amina, baraka = people
    quote = stack.buys.quote(amina.id)
    bills = Bills(stack.backend.uow, stack.ledger, stack.sells.quoter, stack.sells.quotes, stack.clock, stack.sells.ids)
    with pytest.raises(NotFound, match="no USDT/KES quote"):
        stack.buys.start(baraka.id, Money.of(100, KES), quote_id=quote.id)
    with pytest.raises(NotFound):
        stack.sells.start(baraka.id, Money.of(1, USDT), quote_id=quote.id)
    with pytest.raises(NotFound):
        bills.pay(baraka.id, "DSTV", "7012345678", Money.of(100, KES), pay_with="USDT", quote_id=quote.id)
    assert stack.balance(baraka, "USDT") == Money.of(50, USDT) and stack.mpesa.transactions() == []
    assert stack.buys.start(amina.id, Money.of(100, KES), quote_id=quote.id).quote_id == quote.id


def test_a_quote_locked_for_something_else_is_not_found(stack, people):
    """A quote the pricer locked for anything but a wallet (an invoice's, whose id its payers see) is no wallet's."""
    amina, _ = people
    invoices_quote = stack.sells.quoter().quote(USDT_KES)
    with pytest.raises(NotFound):
        stack.sells.start(amina.id, Money.of(1, USDT), quote_id=invoices_quote.id)
    with pytest.raises(NotFound):
        stack.buys.start(amina.id, Money.of(100, KES), quote_id=invoices_quote.id)


def test_a_quote_is_used_once(stack, people):
    """A sale uses the quote: selling or buying at it again is ``QuoteUsed`` (409) and moves nothing more."""
    amina, _ = people
    quote = stack.buys.quote(amina.id)
    sale = stack.sells.start(amina.id, Money.of(10, USDT), quote_id=quote.id)
    assert sale.kes == quote.convert(Money.of(10, USDT), at=stack.clock.now())
    for again in (
        lambda: stack.sells.start(amina.id, Money.of(10, USDT), quote_id=quote.id),
        lambda: stack.buys.start(amina.id, Money.of(100, KES), quote_id=quote.id),
    ):
        with pytest.raises(QuoteUsed) as used:
            again()
        assert used.value.http_status == 409 and used.value.code == "quote_used"
    assert stack.balance(amina, "USDT") == Money.of(40, USDT)


def test_a_refused_trade_leaves_its_quote_unused(stack, people):
    """A buy over the tier's limit is refused inside its unit of work: the quote's use is rolled back with it."""
    amina, _ = people
    quote = stack.buys.quote(amina.id, QuotePurpose.BUY)
    with pytest.raises(LimitExceeded):
        stack.buys.start(amina.id, Money.of(250_000, KES), quote_id=quote.id)
    assert stack.buys.start(amina.id, Money.of(100, KES), quote_id=quote.id).quote_id == quote.id


def test_a_quote_serves_its_purpose_only(stack, people):
    """Locked to buy, a quote does not sell (a specific 422 saying so); locked to sell, it does not buy; a trade
    quote does either."""
    amina, _ = people
    to_buy, to_sell = stack.buys.quote(amina.id, QuotePurpose.BUY), stack.buys.quote(amina.id, QuotePurpose.SELL)
    with pytest.raises(InvalidInput, match="locked to buy; lock one to sell"):
        stack.sells.start(amina.id, Money.of(1, USDT), quote_id=to_buy.id)
    with pytest.raises(InvalidInput, match="locked to sell; lock one to buy"):
        stack.buys.start(amina.id, Money.of(100, KES), quote_id=to_sell.id)
    assert stack.sells.start(amina.id, Money.of(10, USDT), quote_id=to_sell.id).usdt == Money.of(10, USDT)
    assert stack.buys.start(amina.id, Money.of(100, KES), quote_id=to_buy.id).ask == to_buy.ask


def test_a_wallet_quote_lasts_the_wallet_window_not_the_pricers(stack, people):
    """The pricer locks for 15 minutes; a wallet quote is shown and traded for 2 (``Buys.quote_window``)."""
    amina, _ = people
    quote = stack.buys.quote(amina.id)
    assert quote.expires_at == stack.clock.now() + timedelta(minutes=2)
    assert stack.sells.quotes().get(quote.id).expires_at == stack.clock.now() + timedelta(minutes=15)
    stack.clock.advance(seconds=119)
    fresh = stack.buys.quote(amina.id)
    assert stack.buys.start(amina.id, Money.of(100, KES), quote_id=quote.id).quote_id == quote.id
    stack.clock.advance(seconds=120)
    with pytest.raises(QuoteExpired):
        stack.sells.start(amina.id, Money.of(1, USDT), quote_id=fresh.id)


def test_a_window_must_be_positive(stack):
    """A zero window is refused when the quotes are built."""
    stack.buys.quote_window = timedelta(0)
    with pytest.raises(InvalidInput, match="window must be positive"):
        stack.buys.quote("usr_x")
