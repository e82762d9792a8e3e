"""Shared steps and state for the business features: a scenario's context, a fixed clock, invoice payments."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from cryptopay.core.fees import FeeSchedule
from cryptopay.core.invoices import Invoice, InvoiceEvent
from cryptopay.core.money import USDT, Money
from cryptopay.core.ports.chains import ObservedTransfer
from pytest_bdd import parsers, then, when


def amount(text: str) -> Decimal:
    """A number as people write it in a feature: ``5,000`` or ``38.894162``."""
    return Decimal(text.replace(",", "").strip())


class Context(dict[str, Any]):
    """What a scenario has built so far (invoice, events, balances...), with the helpers its steps share."""

    amount = staticmethod(amount)

    def record(self, events: list[InvoiceEvent]) -> None:
        self["events"].extend(events)

    def later(self, minutes: int) -> datetime:
        return self["now"] + timedelta(minutes=minutes)

    def pay(self, value: str, *, at: datetime) -> None:
        """The customer sends ``value`` USDT to the invoice's address in a block mined at ``at``."""
        invoice: Invoice = self["invoice"]
        option, count = invoice.options[0], len(invoice.payments)
        transfer = ObservedTransfer(
            option.rail.network.name,
            f"0x{count + 1:064x}",
            0,
            option.address,
            Money.of(amount(value), USDT),
            100 + count,
            f"0x{count + 1:063x}b",
            at,
        )
        self["transfer"] = transfer
        self.record(invoice.record_transfer(transfer, now=max(at, self["now"])))


@pytest.fixture
def context() -> Context:
    """A fresh scenario context at 09:00 UTC (12:00 in Nairobi) on a Monday."""
    return Context(now=datetime(2026, 1, 5, 9, 0, tzinfo=UTC), events=[])


@when(parsers.parse("the customer pays {value} USDT and the payment is confirmed"))
def customer_pays_and_confirmed(context, value):
    context.pay(value, at=context["now"])
    confirm(context)


@when("the payment is confirmed")
def confirm(context):
    invoice: Invoice = context["invoice"]
    transfer = context["transfer"]
    depth = invoice.option(invoice.payments[-1].rail_key).rail.confirmations
    context.record(invoice.confirm_transfer(transfer.key, depth, now=context["now"]))


@then("the invoice is settled")
def invoice_settled(context):
    assert context["invoice"].state.value == "settled"


@then(parsers.parse("the merchant is credited {value} USDT"))
def merchant_credited(context, value):
    fee: FeeSchedule | None = context.get("merchant_fee")
    credited = Money.zero(USDT)
    for event in context["events"]:
        if event.name == "invoice.payment_confirmed":
            received = Money.of(event.data["amount"], USDT)
            credited += received - (fee.quote(received).fee if fee else Money.zero(USDT))
    assert credited == Money.of(amount(value), USDT)
