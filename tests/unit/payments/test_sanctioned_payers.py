"""A merchant's invoice paid from a listed blockchain address (an OFAC "Digital Currency Address"): the payment is
held, as a listed remittance payer is: booked into custody against ``liabilities:payments_held`` (never the
merchant's balance, so never settled nor refundable by the merchant; the invoice is not settled by it), audited ``invoice.payment_held``, with a
blocking ``sanctioned-address`` alert for the officers (the default rule set's, product ``merchant_payer``). A payer
not on the list is credited as before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptopay.core import flows
from cryptopay.core.compliance.feed import MonitoringFeed
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.rules import default_rules
from cryptopay.core.compliance.screening import ListEntry, Screening
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.storage import InMemoryStorage

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LISTED = "TLsanctionedTronAddressXXXXXXXXXXX"
CLEAN = "TCleanCustomerAddressXXXXXXXXXXXXX"
PROFILE = SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678")


@pytest.fixture
def stack() -> PaymentsStack:
    from cryptopay.adapters.sanctions import RapidfuzzMatcher

    stack = PaymentsStack(start=START)
    lists = InMemoryStorage(**monitoring_repositories())
    screening = Screening(uow=lists.unit_of_work, matcher=RapidfuzzMatcher(), clock=stack.clock, ids=stack.ids)
    entry = ListEntry(ref="ofac:38", kind="individual", names=("BADGUY, Crypto",), addresses=(("tron", LISTED),))
    screening.import_list("ofac_sdn", "test", [entry], actor="operator:test")
    stack.monitoring = Monitoring(
        uow=lists.unit_of_work,
        rules=default_rules(),
        clock=stack.clock,
        ids=stack.ids,
        screen=lambda m: screening.sanctioned_counterparty(m.network, m.counterparty),  # as wired
        screening=screening,
    )
    stack.monitor = MonitoringFeed(stack.monitoring)
    stack.screening = screening
    stack.wire_use_cases()
    stack.add_merchant("m1", settlement=PROFILE)
    return stack


def _paid_from(stack: PaymentsStack, sender: str) -> str:
    invoice = stack.invoicing.create_invoice("m1", Money.of("1300", KES))
    option = stack.invoice(invoice.id).options[0]
    stack.chains["tron"].pay(option.address, option.due, sender=sender)
    stack.confirm(3)
    return invoice.id


def test_a_payment_from_a_listed_address_is_held_never_credited_settled_or_refundable(stack: PaymentsStack) -> None:
    invoice_id = _paid_from(stack, LISTED)
    option = stack.invoice(invoice_id).options[0]
    assert stack.balance(flows.merchant_liability("m1", USDT)) == Money.zero(USDT)
    assert stack.balance(flows.payments_held(USDT)) == option.due
    [alert] = stack.monitoring.alerts()
    assert (alert.rule_id, alert.blocking, alert.party_id) == ("sanctioned-address", True, "m1")
    assert (alert.evidence["counterparty"], alert.evidence["product"]) == (LISTED, "merchant_payer")
    with stack.uow() as uow:
        [held] = [
            dict(r.details) for r in uow.audit.about([f"invoice:{invoice_id}"]) if r.action == "invoice.payment_held"
        ]
        [credit] = uow.payment_credits.for_invoice(invoice_id)
    assert (held["reason"], held["address"], held["lists"], held["alerts"]) == (
        "sanctioned_payer",
        LISTED,
        "ofac:38",
        alert.id,
    )
    assert credit.held and credit.fee == Money.zero(USDT)
    with stack.monitoring.uow() as uow:  # never journaled as the merchant's payment (its turnover)
        assert uow.movements.for_party("m1", since=START) == []
    runs = stack.settling.run_settlements(merchant_id="m1")
    assert [r.settlement for r in runs] == [None] and stack.mpesa.transactions() == []
    stack.confirm(2)  # later steps hold it still and raise nothing again
    assert len(stack.monitoring.alerts()) == 1 and stack.balance(flows.merchant_liability("m1", USDT)).is_zero()
    assert stack.books_balanced()
    checks = stack.reconciliation.reconcile().by_check()
    assert (checks["custody"], checks["payments-credited"]) == (0, 0)
    # the invoice is not settled by it (nor the payment announced as confirmed): it expires unpaid
    assert stack.invoice(invoice_id).state is InvoiceState.NEW and stack.invoice(invoice_id).payments[0].held
    assert "invoice.settled" not in stack.topics() and "invoice.payment_confirmed" not in stack.topics()
    stack.tick(minutes=20)
    assert stack.invoice(invoice_id).state is InvoiceState.EXPIRED and stack.books_balanced()
    assert stack.refunds.refundable(invoice_id, option.rail.key) == Money.zero(USDT)  # not the merchant's to refund


def test_a_payment_from_an_address_not_listed_is_credited_as_before(stack: PaymentsStack) -> None:
    invoice_id = _paid_from(stack, CLEAN)
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_positive()
    assert stack.monitoring.alerts() == []
    with stack.uow() as uow:
        [credit] = uow.payment_credits.for_invoice(invoice_id)
    assert not credit.held


def test_a_held_payment_mined_again_after_a_reorg_is_held_again(stack: PaymentsStack) -> None:
    invoice_id = _paid_from(stack, LISTED)
    dropped = stack.chains["tron"].reorg(4)  # the payment's block and the three after it
    stack.chains["tron"].mine()
    stack.sync()
    assert stack.balance(flows.payments_held(USDT)).is_zero() and stack.books_balanced()
    stack.chains["tron"].include(dropped[0])
    stack.confirm(3)
    with stack.uow() as uow:
        credits = uow.payment_credits.for_invoice(invoice_id)
    assert [(c.generation, c.held) for c in credits if c.reversal_entry_id is None] == [(1, True)]
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_zero() and stack.books_balanced()
    assert stack.balance(flows.payments_held(USDT)).is_positive()
