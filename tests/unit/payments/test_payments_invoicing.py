"""Creating invoices: quotes, fresh deposit addresses, amounts due, the outbox and the audit log."""

from decimal import Decimal

import pytest
from cryptopay.core.errors import InvalidInput, NotFound, Unavailable
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.testing.payments_stack import PaymentsStack


def test_kes_invoice_is_priced_in_usdt_at_the_locked_bid(stack: PaymentsStack) -> None:
    """A KES 5,000 invoice asks what sells for 5,000 at the quote's bid, rounded up, and names the quote."""
    invoice = stack.invoicing.create_invoice("m1", Money.of("5000", KES), order_id="order-7")
    option = invoice.options[0]
    assert option.rail.key == "usdt-tron"
    assert option.due == Money.of("38.654813", USDT)  # 5000 / (130 x 0.995), rounded up
    assert invoice.quote_ids and invoice.order_id == "order-7"
    created = stack.outbox("invoice.created")
    assert [m.payload["merchant_id"] for m in created] == ["m1"]
    assert [r.action for r in stack.storage.audit_records()] == ["invoice.create"]


def test_usdt_invoice_needs_no_quote_and_lasts_the_store_window(stack: PaymentsStack) -> None:
    """An invoice priced in the rail's own asset asks the price itself and expires after the store's window."""
    invoice = stack.invoicing.create_invoice("m1", Money.of("25", USDT))
    assert invoice.options[0].due == Money.of("25", USDT) and invoice.quote_ids == ()
    assert (invoice.expires_at - invoice.created_at).total_seconds() == 15 * 60
    assert invoice.tolerance_percent == Decimal("1")


def test_every_invoice_gets_its_own_address_recorded_with_its_index(stack: PaymentsStack) -> None:
    """Two invoices never share an address; each address is stored with its derivation index and owner."""
    first = stack.invoicing.create_invoice("m1", Money.of("10", USDT))
    second = stack.invoicing.create_invoice("m1", Money.of("10", USDT))
    assert first.options[0].address != second.options[0].address
    with stack.uow() as uow:
        owners = [uow.deposit_addresses.by_address("tron", i.options[0].address) for i in (first, second)]
        assert [(a.index, a.invoice_id) for a in owners if a] == [(0, first.id), (1, second.id)]
        assert uow.invoices.by_address("tron", second.options[0].address).id == second.id


def test_a_rail_the_store_does_not_take_is_refused(stack: PaymentsStack) -> None:
    """Asking for a rail the store does not accept changes nothing."""
    with pytest.raises(InvalidInput, match="does not accept usdt-ethereum"):
        stack.invoicing.create_invoice("m1", Money.of("10", USDT), rails=["usdt-ethereum"])
    assert stack.topics() == []


def test_a_merchant_without_a_store_cannot_invoice(stack: PaymentsStack) -> None:
    """An unknown merchant gets NotFound."""
    with pytest.raises(NotFound, match="no store settings"):
        stack.invoicing.create_invoice("m9", Money.of("10", USDT))


def test_no_fresh_rate_means_no_invoice(stack: PaymentsStack) -> None:
    """When no rate source answers, a KES invoice is refused and nothing is written."""
    stack.rates.fail("HTTP 500")
    with pytest.raises(Unavailable):
        stack.invoicing.create_invoice("m1", Money.of("5000", KES))
    assert stack.topics() == [] and stack.storage.audit_records() == []
    with stack.uow() as uow:
        assert uow.invoices.list_for_merchant("m1", before=None, limit=10) == []


def test_a_rail_nothing_prices_in_shillings_is_refused_even_when_no_quote_is_needed() -> None:
    """An invoice priced in BTC and paid in BTC needs no quote, but with no BTC/KES price it could never be
    settled: it is refused (unpriced_rail) and nothing is stored."""
    from cryptopay.core.money import BTC
    from cryptopay.core.payments.invoicing import UnpricedRail
    from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule

    stack = PaymentsStack(networks=("bitcoin",))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    stack.add_merchant("m1", settlement=profile, rails=("btc-bitcoin",))
    with pytest.raises(UnpricedRail) as refused:
        stack.invoicing.create_invoice("m1", Money.of("0.01", BTC))
    assert refused.value.code == "unpriced_rail" and "BTC/KES" in refused.value.message
    assert stack.invoicing.list_invoices("m1") == []
    stack.rates.set("BTC/USD", "97000")
    stack.rates.set("USD/KES", "129")
    assert stack.invoicing.create_invoice("m1", Money.of("0.01", BTC)).options[0].due == Money.of("0.01", BTC)


def _usdt_and_usdc_store() -> PaymentsStack:
    """A store on Ethereum taking USDT and USDC; the market quotes both in KES and USD, never USDC/USDT itself."""
    from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule

    stack = PaymentsStack(networks=("ethereum",))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    stack.add_merchant("m1", settlement=profile, rails=("usdt-ethereum", "usdc-ethereum"))
    stack.rates.set("USDC/KES", "130")
    stack.rates.set("USDC/USD", "0.999")
    return stack


def test_a_usdt_invoice_prices_its_usdc_rail_across_the_dollar() -> None:
    """Outside review R8: a USDT invoice on a store that also takes USDC used to fail whole (``unsupported_pair``:
    no source quotes USDC/USDT). USDC is priced at USDC/USD / USDT/USD, the quote locked and named by the invoice."""
    from cryptopay.core.money import USDC

    stack = _usdt_and_usdc_store()
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    dues = {option.rail.key: option.due for option in invoice.options}
    assert dues["usdt-ethereum"] == Money.of("100", USDT)
    assert dues["usdc-ethereum"].asset == USDC and Money.of("100", USDC) < dues["usdc-ethereum"]
    assert len(invoice.quote_ids) == 1
    quote = stack.quotes.get(invoice.quote_ids[0])
    assert quote is not None and quote.sources == ("cross (USDC/USD / USDT/USD)",)


def test_a_rail_that_cannot_be_priced_is_left_out_not_the_invoice() -> None:
    """With no USDC price at all (or USDC off its peg), a USDT invoice for every rail of the store is made on USDT
    alone; the audit record names the rail left out and why. Naming the USDC rail is still refused."""
    from cryptopay.core.errors import Refused

    stack = _usdt_and_usdc_store()
    stack.rates.set("USDC/USD", "0.90")  # a depeg: no cross rate
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    assert [option.rail.key for option in invoice.options] == ["usdt-ethereum"]
    (record,) = stack.storage.audit_records()
    details = dict(record.details)
    assert details["rails"] == "usdt-ethereum"
    assert details["left_out"].startswith("usdc-ethereum: no USDC/USDT price now: ")
    assert "outside 0.98-1.02" in details["left_out"]
    with pytest.raises((Refused, Unavailable)):
        stack.invoicing.create_invoice("m1", Money.of("100", USDT), rails=["usdt-ethereum", "usdc-ethereum"])
    assert len(stack.invoicing.list_invoices("m1")) == 1


def test_an_invoice_no_rail_can_be_priced_for_is_refused_with_the_reason() -> None:
    """A KES invoice when no source answers: every rail is unpriced, so the invoice is refused (the first refusal)
    and nothing is stored."""
    stack = _usdt_and_usdc_store()
    stack.rates.fail("HTTP 500")
    with pytest.raises(Unavailable, match="USDC/KES"):
        stack.invoicing.create_invoice("m1", Money.of("5000", KES))
    assert stack.invoicing.list_invoices("m1") == [] and stack.storage.audit_records() == []
