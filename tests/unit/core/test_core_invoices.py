"""Invoices: pricing per rail, idempotent payments, tolerance, late payments, confirmations and withdrawals."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound, QuoteExpired
from cryptopay.core.fx import Pair, Quote
from cryptopay.core.invoices import Invoice, InvoiceException, InvoiceState
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.ports.chains import ObservedTransfer
from cryptopay.core.rails import rail_for

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TRON = rail_for("tron", "USDT", confirmations=2)
ETH = rail_for("ethereum", "USDT", confirmations=3)
ADDRESSES = {TRON: "TInvoiceAddress1", ETH: "0xAbCdEf0000000000000000000000000000000001"}


def usdt(value: object) -> Money:
    return Money.of(value, USDT)


def invoice(price: Money | None = None, **options) -> Invoice:
    created, _ = Invoice.create(
        invoice_id="inv_1", merchant_id="mer_1", price=price or usdt(100), addresses=ADDRESSES, now=NOW, **options
    )
    return created


def transfer(
    amount: str, *, tx: str = "0xaa", index: int = 0, at: datetime = NOW, rail=TRON, block: str | None = "0xb1"
):
    return ObservedTransfer(
        rail.network.name, tx, index, ADDRESSES[rail], usdt(amount), 10 if block else None, block, at if block else None
    )


def names(events) -> list[str]:
    return [e.name for e in events]


def test_kes_invoice_is_due_in_usdt_at_the_locked_quote():
    """An invoice priced at KES 5,000 asks for what sells at the quote's bid for 5,000 shillings."""
    quote = Quote(
        "fxq_1",
        Pair.parse("USDT/KES"),
        Decimal("128.554"),
        Decimal("129.846"),
        ("a",),
        NOW,
        NOW + timedelta(minutes=10),
    )
    created, events = Invoice.create(
        invoice_id="inv_1", merchant_id="mer_1", price=Money.of(5000, KES), addresses=ADDRESSES, now=NOW, quotes=[quote]
    )
    assert {o.rail.key: o.due for o in created.options} == {
        "usdt-tron": usdt("38.894162"),
        "usdt-ethereum": usdt("38.894162"),
    }
    assert created.quote_ids == ("fxq_1",)
    assert created.expires_at == quote.expires_at  # never outlives the price lock
    assert events[0].payload["due"] == {"usdt-tron": "38.894162", "usdt-ethereum": "38.894162"}


def test_invoice_refuses_a_price_it_cannot_convert():
    """Without a KES quote, a KES invoice cannot be offered in USDT; with an expired one it cannot either."""
    with pytest.raises(InvalidInput, match="quote"):
        invoice(Money.of(5000, KES))
    stale = Quote(
        "fxq_0", Pair.parse("USDT/KES"), Decimal("128"), Decimal("130"), ("a",), NOW, NOW - timedelta(seconds=1)
    )
    with pytest.raises(QuoteExpired):
        invoice(Money.of(5000, KES), quotes=[stale])


def test_defaults_are_fifteen_minutes_and_a_day_of_monitoring():
    """A new invoice expires after 15 minutes and is watched for 24 hours more."""
    created = invoice()
    assert created.expires_at - NOW == timedelta(minutes=15)
    assert created.monitoring_until - created.expires_at == timedelta(hours=24)


def test_full_payment_goes_processing_then_settled():
    """Paid in full: processing at once, settled at the rail's confirmation depth, credited once."""
    inv = invoice()
    paid = transfer("100")
    assert names(inv.record_transfer(paid, now=NOW)) == ["invoice.payment_received", "invoice.processing"]
    assert names(inv.confirm_transfer(paid.key, 1, now=NOW)) == []
    events = inv.confirm_transfer(paid.key, 2, now=NOW)
    assert names(events) == ["invoice.payment_confirmed", "invoice.settled"]
    assert events[0].payload["amount"] == "100.000000" and events[0].payload["block_hash"] == "0xb1"
    assert names(inv.confirm_transfer(paid.key, 5, now=NOW)) == []
    assert (inv.state, inv.exception) == (InvoiceState.SETTLED, InvoiceException.NONE)


def test_recording_the_same_transfer_twice_changes_nothing():
    """The second recording of a transfer returns no events and leaves the payments as they were."""
    inv = invoice()
    inv.record_transfer(transfer("40"), now=NOW)
    before = (list(inv.payments), inv.state, inv.exception)
    assert inv.record_transfer(transfer("40"), now=NOW + timedelta(minutes=1)) == []
    assert (inv.payments, inv.state, inv.exception) == before


def test_same_key_with_another_amount_is_a_conflict():
    """A transfer key seen again with a different amount is refused."""
    inv = invoice()
    inv.record_transfer(transfer("40"), now=NOW)
    with pytest.raises(Conflict):
        inv.record_transfer(transfer("41"), now=NOW)


def test_transfer_to_another_address_does_not_pay_the_invoice():
    """Matching is by the invoice's own address only."""
    inv = invoice()
    stranger = ObservedTransfer("tron", "0xcc", 0, "TSomeoneElse", usdt(100), 1, "0xb", NOW)
    with pytest.raises(InvalidInput):
        inv.record_transfer(stranger, now=NOW)


def test_evm_addresses_match_whatever_their_case():
    """An EVM address reported in lower case still pays the invoice."""
    inv = invoice()
    lower = ObservedTransfer("ethereum", "0xdd", 3, ADDRESSES[ETH].lower(), usdt(100), 1, "0xb", NOW)
    inv.record_transfer(lower, now=NOW)
    assert inv.state is InvoiceState.PROCESSING


def test_payments_across_rails_add_up():
    """Half on Tron and half on Ethereum pay the invoice."""
    inv = invoice()
    inv.record_transfer(transfer("50"), now=NOW)
    inv.record_transfer(transfer("50", tx="0xee", rail=ETH), now=NOW)
    assert inv.state is InvoiceState.PROCESSING and inv.total_paid(USDT) == usdt(100)


def test_underpayment_within_tolerance_settles_marked_with_its_shortfall():
    """99.5 of 100 with a 1% tolerance settles, marked ``paid_under_tolerated`` (review F9: never ``none``), and
    the settled event tells the shop the 0.5 it ships without."""
    inv = invoice(tolerance_percent=1)
    paid = transfer("99.5")
    inv.record_transfer(paid, now=NOW)
    events = inv.confirm_transfer(paid.key, 2, now=NOW)
    assert (inv.state, inv.exception) == (InvoiceState.SETTLED, InvoiceException.PAID_UNDER_TOLERATED)
    assert inv.shortfall() == usdt("0.5")
    (settled,) = [e for e in events if e.name == "invoice.settled"]
    assert (settled.data["exception"], settled.data["shortfall"], settled.data["shortfall_asset"]) == (
        "paid_under_tolerated",
        "0.500000",
        "USDT",
    )


def test_an_exact_payment_has_no_shortfall_and_no_exception():
    """Paid in full with a tolerance set: ``none``, a zero shortfall, and no shortfall in the events."""
    inv = invoice(tolerance_percent=1)
    paid = transfer("100")
    inv.record_transfer(paid, now=NOW)
    events = inv.confirm_transfer(paid.key, 2, now=NOW)
    assert (inv.exception, inv.shortfall()) == (InvoiceException.NONE, usdt(0))
    assert all("shortfall" not in e.data for e in events)


def test_underpayment_beyond_tolerance_is_partial_then_expires():
    """98 of 100 with a 1% tolerance is partly paid; at expiry it expires, still partly paid, nothing lost."""
    inv = invoice(tolerance_percent=1)
    assert names(inv.record_transfer(transfer("98"), now=NOW)) == ["invoice.payment_received", "invoice.paid_partial"]
    assert inv.still_due("usdt-tron") == usdt(2)
    assert names(inv.refresh(now=inv.expires_at)) == ["invoice.expired"]
    assert (inv.state, inv.exception) == (InvoiceState.EXPIRED, InvoiceException.PAID_PARTIAL)
    assert inv.total_paid(USDT) == usdt(98)


def test_split_payment_in_thirds_is_exactly_paid():
    """Three payments of a third each pay exactly (no rounding in the coverage)."""
    inv = invoice(usdt(3))
    for tx in ("0x1", "0x2", "0x3"):
        inv.record_transfer(transfer("1", tx=tx), now=NOW)
    assert (inv.state, inv.exception) == (InvoiceState.PROCESSING, InvoiceException.NONE)


def test_overpayment_is_flagged():
    """Paying 120 of 100 is flagged paid_over."""
    inv = invoice()
    assert "invoice.paid_over" in names(inv.record_transfer(transfer("120"), now=NOW))
    assert inv.exception is InvoiceException.PAID_OVER


def test_late_payment_is_recorded_and_flagged_by_block_time():
    """A payment mined after expiry is kept and flagged paid_late; the invoice stays expired."""
    inv = invoice()
    inv.refresh(now=inv.expires_at + timedelta(minutes=1))
    late = transfer("100", at=inv.expires_at + timedelta(minutes=5))
    events = inv.record_transfer(late, now=inv.expires_at + timedelta(minutes=6))
    assert names(events) == ["invoice.payment_received", "invoice.paid_late"]
    assert events[0].payload["late"] == "true"
    assert (inv.state, inv.exception) == (InvoiceState.EXPIRED, InvoiceException.PAID_LATE)
    assert names(inv.confirm_transfer(late.key, 2, now=NOW + timedelta(hours=1))) == ["invoice.payment_confirmed"]


def test_payment_mined_in_time_but_noticed_late_is_on_time():
    """The block time decides: a transfer mined before expiry but noticed after it still pays the invoice."""
    inv = invoice()
    inv.refresh(now=inv.expires_at + timedelta(minutes=30))
    assert inv.state is InvoiceState.EXPIRED
    inv.record_transfer(
        transfer("100", at=inv.expires_at - timedelta(minutes=1)), now=inv.expires_at + timedelta(minutes=31)
    )
    assert (inv.state, inv.exception) == (InvoiceState.PROCESSING, InvoiceException.NONE)


def test_mempool_sighting_before_expiry_counts_as_on_time():
    """A transfer seen unmined before expiry and mined after it was paid on time."""
    inv = invoice()
    inv.record_transfer(transfer("100", block=None), now=NOW + timedelta(minutes=10))
    mined = transfer("100", at=NOW + timedelta(minutes=40))
    inv.record_transfer(mined, now=NOW + timedelta(minutes=41))
    assert (inv.state, inv.exception) == (InvoiceState.PROCESSING, InvoiceException.NONE)


def test_withdrawn_payment_moves_the_invoice_back():
    """A settled invoice whose payment is reorganised away goes back to new, keeping the payment on record."""
    inv = invoice()
    paid = transfer("100")
    inv.record_transfer(paid, now=NOW)
    inv.confirm_transfer(paid.key, 2, now=NOW)
    events = inv.withdraw_transfer(paid.key, now=NOW)
    assert names(events) == ["invoice.payment_withdrawn"]
    assert events[0].payload["was_confirmed"] == "true"
    assert inv.state is InvoiceState.NEW and len(inv.payments) == 1
    assert inv.withdraw_transfer(paid.key, now=NOW) == []
    with pytest.raises(InvalidState):
        inv.confirm_transfer(paid.key, 3, now=NOW)


def test_withdrawn_transfer_that_reappears_in_another_block_counts_again():
    """The same transfer mined again in a new block is counted again and needs fresh confirmations."""
    inv = invoice()
    inv.record_transfer(transfer("100"), now=NOW)
    inv.confirm_transfer(transfer("100").key, 2, now=NOW)
    inv.withdraw_transfer(transfer("100").key, now=NOW)
    events = inv.record_transfer(transfer("100", block="0xb2"), now=NOW)
    assert names(events) == ["invoice.payment_received", "invoice.processing"]
    assert inv.payments[0].confirmations == 0


def test_unconfirmed_after_monitoring_window_is_invalid():
    """Paid but never confirmed by the end of the monitoring window, the invoice becomes invalid."""
    inv = invoice()
    inv.record_transfer(transfer("100"), now=NOW)
    assert inv.needs_watching(inv.monitoring_until)
    assert names(inv.refresh(now=inv.monitoring_until)) == ["invoice.invalid"]


def test_unknown_transfer_key_is_not_found():
    """Confirming or withdrawing a transfer the invoice never saw is NotFound."""
    with pytest.raises(NotFound):
        invoice().confirm_transfer(("tron", "0x0", 0), 1, now=NOW)


def test_marking_overrides_the_derived_state():
    """A merchant marks an expired, partly paid invoice settled; the exception becomes marked."""
    inv = invoice()
    inv.record_transfer(transfer("50"), now=NOW)
    inv.refresh(now=inv.expires_at)
    events = inv.mark(InvoiceState.SETTLED, by="usr_merchant", now=inv.expires_at)
    assert names(events) == ["invoice.settled", "invoice.marked"]
    assert events[1].payload["marked_by"] == "usr_merchant"
    assert (inv.state, inv.exception) == (InvoiceState.SETTLED, InvoiceException.MARKED)
    with pytest.raises(InvalidInput):
        inv.mark(InvoiceState.NEW, by="usr_merchant", now=NOW)


@pytest.mark.parametrize("tolerance", ["-1", "100"])
def test_tolerance_must_be_a_percent_below_100(tolerance):
    """A negative tolerance or one of 100% is refused."""
    with pytest.raises(InvalidInput):
        invoice(tolerance_percent=tolerance)


def test_transfer_seen_in_another_block_is_withdrawn_then_received_again():
    """A confirmed transfer re-reported in a new block withdraws the old sighting before counting the new one."""
    inv = invoice()
    inv.record_transfer(transfer("100"), now=NOW)
    inv.confirm_transfer(transfer("100").key, 2, now=NOW)
    events = inv.record_transfer(transfer("100", block="0xb2"), now=NOW)
    assert names(events) == ["invoice.payment_withdrawn", "invoice.payment_received", "invoice.processing"]
    assert events[0].payload["was_confirmed"] == "true" and events[1].payload["block_hash"] == "0xb2"
    confirmed = inv.confirm_transfer(transfer("100").key, 2, now=NOW)
    assert names(confirmed) == ["invoice.payment_confirmed", "invoice.settled"]
    assert confirmed[0].payload["block_hash"] == "0xb2"


def test_mempool_transfer_being_mined_is_not_a_withdrawal():
    """A transfer first seen unmined and then in a block just gains its block; no withdrawal is announced."""
    inv = invoice()
    inv.record_transfer(transfer("100", block=None), now=NOW)
    assert names(inv.record_transfer(transfer("100"), now=NOW)) == []
    assert inv.payments[0].transfer.block_hash == "0xb1"


def test_every_invoice_event_carries_the_order_id_and_metadata_as_objects():
    """Webhook payloads name the shop's order and notes as given, and what is due as an object by rail."""
    created, events = Invoice.create(
        invoice_id="inv_2",
        merchant_id="mer_1",
        price=usdt("10"),
        addresses=ADDRESSES,
        now=NOW,
        order_id="order-7",
        metadata={"cart": "c-88"},
    )
    payload = events[0].payload
    assert (payload["order_id"], payload["metadata"]) == ("order-7", {"cart": "c-88"})
    assert payload["due"] == {"usdt-tron": "10.000000", "usdt-ethereum": "10.000000"}
    assert not any(key.startswith("due.") for key in payload)
    later = created.refresh(now=NOW + timedelta(hours=2))
    assert later and all(
        e.payload["order_id"] == "order-7" and e.payload["metadata"] == {"cart": "c-88"} for e in later
    )


def test_a_store_tolerance_stored_above_the_cap_reads_as_the_cap():
    """Review F9: a tolerance saved before the cap existed (99.99) reads as 5, so no new invoice tolerates more,
    and setting one above the cap is refused naming the field."""
    from decimal import Decimal

    from cryptopay.core.errors import InvalidInput
    from cryptopay.core.payments.model import MAX_TOLERANCE_PERCENT, StoreSettings, check_tolerance
    from cryptopay.core.rails import rail_for

    stored = StoreSettings(merchant_id="m1", rails=[rail_for("tron", "USDT")], tolerance_percent="99.99")
    assert stored.tolerance_percent == MAX_TOLERANCE_PERCENT == Decimal(5)
    assert check_tolerance(Decimal("5")) == 5
    with pytest.raises(InvalidInput, match="tolerance_percent must be a percent from 0 to 5") as refused:
        check_tolerance(Decimal("5.01"))
    assert refused.value.details["field"] == "tolerance_percent"
