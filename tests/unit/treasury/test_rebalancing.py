"""Rebalancing records: balanced entries, realised FX results against customers' quotes, idempotent, refused cleanly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptopay.core import flows
from cryptopay.core.errors import IdempotencyConflict, InvalidInput, Refused
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.testing.treasury import rebalancing_stack
from cryptopay.core.treasury import Fill


def usdt(value: str) -> Money:
    return Money.of(value, USDT)


def test_a_sale_below_the_customers_quotes_is_a_realised_loss():
    """500 of 1,000 USDT bought at 129 sold at 128: KES 500 loss, the rest keeps its cost."""
    stack = rebalancing_stack(bought="1000", paid="129000")
    done = stack.rebalancing.record_conversion(
        reference="ex-1",
        network="tron",
        fills=[Fill(usdt("500"), Decimal("128"))],
        fee=Money.of("64", KES),
        venue="exchange",
        actor="ops",
    )
    assert (str(done.cost), str(done.gain)) == ("64500.00 KES", "-500.00 KES")
    assert stack.ledger.balance(flows.FX_LOSS).posted == Money.of("500", KES)
    assert stack.ledger.balance(flows.BANK).posted == Money.of("63936", KES)
    assert stack.ledger.balance(flows.custody("tron", USDT)).posted == usdt("500")
    assert stack.rebalancing.cost_basis("USDT") == (usdt("500"), Money.of("64500", KES))
    assert all(total == 0 for total in stack.ledger.trial_balance().values())


def test_the_same_reference_is_one_record_and_other_figures_conflict():
    """Recording again returns the first entry, audited once; the same reference with another amount is refused."""
    stack = rebalancing_stack(bought="10", paid="1290")
    first = stack.rebalancing.record_topup(reference="bank-1", amount=Money.of("5000", KES), actor="ops")
    again = stack.rebalancing.record_topup(reference="bank-1", amount=Money.of("5000", KES), actor="ops")
    assert first.entry.id == again.entry.id
    assert [r.action for r in stack.storage.audit_records()].count("treasury.topup") == 1
    with pytest.raises(IdempotencyConflict):
        stack.rebalancing.record_topup(reference="bank-1", amount=Money.of("5001", KES), actor="ops")
    assert stack.ledger.balance(flows.FLOAT).posted == Money.of("5000", KES)


@pytest.mark.parametrize(
    ("fills", "fee", "error"),
    [
        ([], "0", InvalidInput),
        ([Fill(Money.of("5", KES), Decimal("1"))], "0", InvalidInput),
        ([Fill(usdt("5"), Decimal("0"))], "0", InvalidInput),
        ([Fill(usdt("5"), Decimal("130"))], "650", InvalidInput),  # the fee takes all the proceeds
        ([Fill(usdt("11"), Decimal("130"))], "0", Refused),  # more than was bought at customers' quotes
    ],
)
def test_bad_conversions_are_refused_and_change_nothing(fills, fee, error):
    """Each bad record is a specific error; the books stay as they were."""
    stack = rebalancing_stack(bought="10", paid="1290")
    before = {b.account.code: b.posted for b in stack.ledger._store.balances()}
    with pytest.raises(error):
        stack.rebalancing.record_conversion(
            reference="x-1", network="tron", fills=fills, fee=Money.of(fee, KES), venue="desk", actor="ops"
        )
    assert {b.account.code: b.posted for b in stack.ledger._store.balances()} == before


def test_a_top_up_must_be_positive_shillings_with_a_plain_reference():
    """A negative or crypto top-up, or a reference with spaces, is invalid input."""
    stack = rebalancing_stack(bought="10", paid="1290")
    for amount, reference in ((Money.of("-1", KES), "r1"), (usdt("1"), "r1"), (Money.of("1", KES), "a b")):
        with pytest.raises(InvalidInput):
            stack.rebalancing.record_topup(reference=reference, amount=amount, actor="ops")


def test_a_reference_typed_in_another_case_is_the_same_top_up():
    """R10-14: ' bank-1 ' after 'BANK-1' is the same bank transfer: replayed (the same entry, audited once), another
    amount refused; the float is topped up once."""
    stack = rebalancing_stack(bought="10", paid="1290")
    first = stack.rebalancing.record_topup(reference="BANK-1", amount=Money.of("1000", KES), actor="ops")
    again = stack.rebalancing.record_topup(reference=" bank-1 ", amount=Money.of("1000", KES), actor="ops")
    assert again.entry.id == first.entry.id and again.reference == "BANK-1"
    with pytest.raises(IdempotencyConflict):
        stack.rebalancing.record_topup(reference="Bank-1", amount=Money.of("2000", KES), actor="ops")
    assert [r.action for r in stack.storage.audit_records()].count("treasury.topup") == 1
    assert stack.ledger.balance(flows.FLOAT).posted == Money.of("1000", KES)


def test_a_top_up_booked_under_its_typed_case_before_r10_14_is_still_found():
    """A top-up keyed with its reference as typed (before the key was case-folded) answers a retry in any case."""
    stack = rebalancing_stack(bought="10", paid="1290")
    legacy = flows.record_float_topup(stack.ledger, reference="BANK-7", amount=Money.of("700", KES))
    assert legacy.idempotency_key == "treasury:topup:BANK-7"
    again = stack.rebalancing.record_topup(reference="bank-7", amount=Money.of("700", KES), actor="ops")
    assert again.entry.id == legacy.id
    assert stack.ledger.balance(flows.FLOAT).posted == Money.of("700", KES)
