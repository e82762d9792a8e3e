"""review3 I20: a listed blockchain address neither pays a remittance out nor receives a refund. A listed refund
address refuses the order (and an operator's refund to it); a listed payer holds the paid order for compliance; an
excess or a whole refund to an address listed since is never asked (held); every refusal is alerted and audited."""

from __future__ import annotations

import pytest
from cryptopay.core.compliance.monitoring import Blocked, UnderReview
from cryptopay.core.money import USDT, Money
from cryptopay.core.remittances import RemittanceState
from cryptopay.core.remittances.service import RetryPolicy
from cryptopay.core.testing.mobile_money import Scenario

from tests.support.remittance_stack import TRON_REFUND, remittance_stack

LISTED = "TLsanctionedTronAddressXXXXXXXXXXX"  # a Tron address shape the fake chain accepts
LISTED_REFUND = "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"


@pytest.fixture
def stack():
    return remittance_stack(policy=RetryPolicy(attempts=1))


def _actions(stack, subject: str) -> list[tuple[str, dict[str, str]]]:
    with stack.wallet.backend.uow() as uow:
        return [(r.action, dict(r.details)) for r in uow.audit.about([subject])]


def test_a_listed_refund_address_refuses_the_order_before_anything_is_stored(stack):
    stack.list_sanctioned("Nobody Listed", addresses=(("tron", LISTED_REFUND),))
    with pytest.raises(Blocked) as refused:
        stack.order(refund_address=LISTED_REFUND)
    assert refused.value.code == "blocked_by_compliance" and "ofac" not in refused.value.message
    assert stack.remittances.orders() == []
    [alert] = stack.monitoring.alerts()
    assert (alert.rule_id, alert.blocking, alert.evidence["counterparty"]) == (
        "sanctioned-address",
        True,
        LISTED_REFUND,
    )
    assert stack.order(refund_address=TRON_REFUND).state is RemittanceState.AWAITING_PAYMENT  # another is fine


def test_an_order_paid_from_a_listed_address_is_held_for_compliance_and_never_paid_out(stack):
    stack.list_sanctioned("Nobody Listed", addresses=(("tron", LISTED),))
    order = stack.order(amount="1000")
    stack.pay(order, payer=LISTED)
    stack.confirm()
    stack.run()
    held = stack.get(order)
    assert held.state is RemittanceState.HELD and "sanctions list" in held.note
    assert stack.remittances.payout_of(held) is None and stack.wallet.mpesa.transactions() == []
    [alert] = stack.monitoring.alerts()
    assert (alert.rule_id, alert.evidence["counterparty"]) == ("sanctioned-address", LISTED)
    assert held.review_alerts == (alert.id,)
    [details] = [d for a, d in _actions(stack, f"remittance:{order.id}") if a == "remittance.held"]
    assert (details["reason"], details["address"], details["alerts"]) == ("sanctioned_payer", LISTED, alert.id)
    with pytest.raises(UnderReview):  # an operator's retry waits for compliance to clear the alert
        stack.remittances.retry(order.id, actor="ops:a")
    assert stack.books_balanced()


def test_an_excess_is_never_refunded_to_an_address_listed_since_the_order_opened(stack):
    order = stack.order(amount="1000")
    stack.list_sanctioned("Nobody Listed", addresses=(("tron", TRON_REFUND),))
    stack.pay(order, order.usdt + Money.of(5, USDT))
    stack.confirm()
    stack.run()
    stack.run()
    paid = stack.get(order)
    assert paid.excess_refund_ids == () and "sanctions list" in (paid.excess_note or "")
    assert stack.refunds.list_refunds(order.invoice_id) == []
    blocked = [a for a in _actions(stack, f"invoice:{order.invoice_id}") if a[0] == "refund.blocked"]
    assert len(blocked) == 1 and blocked[0][1]["address"] == TRON_REFUND  # audited once, not every run
    assert [a.rule_id for a in stack.monitoring.alerts()] == ["sanctioned-address"]


def test_a_failed_payout_is_not_refunded_to_a_listed_address_and_an_operator_cannot_send_it_there(stack):
    stack.wallet.mpesa.set_scenario("254712345678", Scenario.INSUFFICIENT_FUNDS)
    order = stack.order(amount="1000")
    stack.pay(order)
    stack.confirm()
    stack.list_sanctioned("Nobody Listed", addresses=(("tron", TRON_REFUND), ("tron", LISTED_REFUND)))
    stack.run(4)
    held = stack.get(order)
    assert held.state is RemittanceState.HELD and "blocked_by_compliance" not in held.note
    assert "sanctions list" in held.note and stack.refunds.list_refunds(order.invoice_id) == []
    with pytest.raises(Blocked):
        stack.remittances.refund(order.id, actor="ops:a", address=LISTED_REFUND, reason="the sender asked")
    assert stack.get(order).refund_address == TRON_REFUND and stack.get(order).state is RemittanceState.HELD


def test_a_refund_of_any_invoice_to_a_listed_address_is_refused_before_anything_is_held(stack):
    """``Refunds.refund`` (merchant refunds, the API's and the CLI's) screens the destination first."""
    order = stack.order(amount="1000")
    stack.pay(order, order.usdt + Money.of(5, USDT))
    stack.confirm()
    stack.list_sanctioned("Nobody Listed", addresses=(("tron", LISTED_REFUND),))
    with pytest.raises(Blocked):
        stack.refunds.refund(order.invoice_id, address=LISTED_REFUND, requested_by="ops:a", amount=Money.of(1, USDT))
    assert stack.refunds.list_refunds(order.invoice_id) == []
    assert [a for a, _ in _actions(stack, f"invoice:{order.invoice_id}")].count("refund.blocked") == 1


def test_every_refusal_of_a_refund_by_screening_is_audited_whatever_the_monitor_does(stack):
    """``refund.blocked`` was written only with a new alert (or with no monitor at all): an operator's second
    refund to the same listed address, or any refusal under a rule set that raises no alert for it, left no record.
    Every refusal is audited now; only a worker's repeat of one it already has on record is not written again."""
    from cryptopay.core.compliance.feed import MonitoringFeed
    from cryptopay.core.compliance.monitoring import Monitoring
    from cryptopay.core.compliance.rules import RuleSet, default_rules
    from cryptopay.core.payments.refunds import Refunds

    order = stack.order(amount="1000")
    stack.pay(order, order.usdt + Money.of(5, USDT))
    stack.confirm()
    stack.list_sanctioned("Nobody Listed", addresses=(("tron", LISTED_REFUND),))

    def blocked() -> list[dict[str, str]]:
        return [d for a, d in _actions(stack, f"invoice:{order.invoice_id}") if a == "refund.blocked"]

    for _ in range(2):
        with pytest.raises(Blocked):
            stack.refunds.refund(
                order.invoice_id, address=LISTED_REFUND, requested_by="ops:a", amount=Money.of(1, USDT)
            )
    assert len(blocked()) == 2 and blocked()[1]["alerts"] == ""  # the alert was raised by the first refusal
    shipped = default_rules()
    quiet = RuleSet(shipped.version, tuple(r for r in shipped.rules if r.id != "sanctioned-address"))
    clock, ids, uow = stack.wallet.clock, stack.refunds._ids, stack.wallet.backend.uow
    monitor = Monitoring(uow=uow, rules=quiet, clock=clock, ids=ids, screening=stack.screening)
    refunds = Refunds(
        uow=uow,
        clock=clock,
        ids=ids,
        ledger=stack.wallet.ledger,
        senders=stack.senders,
        screening=lambda: stack.screening,
        monitoring=lambda: MonitoringFeed(monitor),
    )
    with pytest.raises(Blocked):
        refunds.refund(order.invoice_id, address=LISTED_REFUND, requested_by="ops:b", amount=Money.of(1, USDT))
    assert [d["address"] for d in blocked()] == [LISTED_REFUND] * 3
    assert stack.refunds.list_refunds(order.invoice_id) == []
