"""Steps for merchant_fees.feature: an invoice priced in shillings, paid in USDT, with fee and FX margin."""

from decimal import Decimal

from cryptopay.core.fees import FeeProduct, FeeSchedule, fx_spread
from cryptopay.core.fx import Pair, Rate, lock_quote
from cryptopay.core.invoices import Invoice
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.rails import rail_for
from pytest_bdd import given, parsers, scenarios, then, when

scenarios("merchant_fees.feature")


@given(parsers.parse("the market rate is {rate} shillings per USDT"))
def market_rate(context, rate):
    context["rates"] = [Rate(Pair.parse("USDT/KES"), context.amount(rate), "market", context["now"])]


@given(parsers.parse("the platform keeps an exchange margin of {percent}% either side of the market rate"))
def exchange_margin(context, percent):
    context["fx_spread"] = FeeSchedule(
        product=FeeProduct.FX_SPREAD,
        asset=KES,
        version=1,
        effective_from=context["now"],
        percent=context.amount(percent),
    )


@given(parsers.parse("the merchant fee is {percent}% of each payment, at least {minimum} USDT"))
def merchant_fee(context, percent, minimum):
    context["merchant_fee"] = FeeSchedule(
        product=FeeProduct.MERCHANT,
        asset=USDT,
        version=1,
        effective_from=context["now"],
        percent=context.amount(percent),
        minimum=Money.of(context.amount(minimum), USDT),
    )


@when(parsers.parse("the merchant asks for KES {price} payable in USDT on Tron"))
def ask_for_shillings(context, price):
    now = context["now"]
    quote = lock_quote(context["rates"], now=now, quote_id="fxq_1", margin=context["fx_spread"].rate)
    invoice, events = Invoice.create(
        invoice_id="inv_1",
        merchant_id="mer_1",
        price=Money.of(context.amount(price), KES),
        addresses={rail_for("tron", "USDT"): "TShopDepositAddress01"},
        now=now,
        quotes=[quote],
    )
    context.update(invoice=invoice, quote=quote)
    context.record(events)


@then(parsers.parse("the customer is asked to pay {value} USDT"))
def customer_asked(context, value):
    assert context["invoice"].option("usdt-tron").due == Money.of(context.amount(value), USDT)


@then(parsers.parse("the rate is locked at {rate} shillings per USDT for {minutes:d} minutes"))
def rate_locked(context, rate, minutes):
    quote, invoice = context["quote"], context["invoice"]
    assert quote.bid == context.amount(rate) and invoice.quote_ids == (quote.id,)
    assert (invoice.expires_at - invoice.created_at).total_seconds() == minutes * 60


@then(parsers.parse("the {value} USDT are worth KES {shillings} at the locked rate"))
def worth_in_shillings(context, value, shillings):
    converted = context["quote"].convert(Money.of(context.amount(value), USDT), at=context["now"])
    assert converted == Money.of(context.amount(shillings), KES)


@then(parsers.parse("the platform's exchange margin is KES {shillings}"))
def platform_margin(context, shillings):
    paid = context["invoice"].total_paid(USDT)
    assert fx_spread(context["quote"], paid, at=context["now"]) == Money.of(context.amount(shillings), KES)


@then(parsers.parse("the merchant fee is {value} USDT"))
def fee_is(context, value):
    quote = context["merchant_fee"].quote(context["invoice"].total_paid(USDT))
    assert quote.fee == Money.of(Decimal(value), USDT)
