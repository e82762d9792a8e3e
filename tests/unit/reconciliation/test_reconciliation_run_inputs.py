"""R10-13: every reconciliation run keeps what it compared with (the Account Balance and its source, the float
baseline and its source, each statement's Short Code, period and digest) and who ran it; a typed balance is marked
and audited, and a float baseline other than the last run's is audited."""

from __future__ import annotations

from cryptopay.core.money import KES, Money
from cryptopay.core.reconciliation import Outside
from cryptopay.core.testing.mpesa_statement import statement_of
from cryptopay.core.testing.payments_stack import PaymentsStack


def _float(stack: PaymentsStack):
    (record,) = [r for r in stack.reconciliation.latest_results() if r.name == "mpesa-float"]
    return record


def _actions(stack: PaymentsStack, action: str):
    return [r for r in stack.storage.audit_records() if r.action == action]


def test_a_typed_balance_is_kept_marked_and_audited_with_its_operator() -> None:
    stack = PaymentsStack()
    typed = Outside(mpesa_balance=Money.of(1, KES), float_baseline=Money.of(0, KES))
    report = stack.reconciliation.reconcile(typed, by="cli", operator="ops:amina")
    assert report.inputs["mpesa_balance_source"] == "typed" and report.inputs["float_baseline_source"] == "typed"
    kept = _float(stack)
    assert kept.operator == "ops:amina" and kept.typed_balance
    assert kept.inputs["mpesa_balance"] == str(Money.of(1, KES))
    (audited,) = _actions(stack, "reconciliation.balance_typed")
    assert audited.actor == "ops:amina" and dict(audited.details)["balance"] == kept.inputs["mpesa_balance"]


def test_a_baseline_moved_to_make_the_float_agree_is_audited() -> None:
    """R10-13's reproduction: a difference, then the baseline moved until the float agrees: the change is on record."""
    stack = PaymentsStack()
    stack.reconciliation.reconcile(
        Outside(mpesa_balance=Money.of(1, KES), float_baseline=Money.of(0, KES)), by="cli", operator="ops:amina"
    )
    assert not _actions(stack, "reconciliation.float_baseline_changed")
    stack.reconciliation.reconcile(
        Outside(mpesa_balance=Money.of(1, KES), float_baseline=Money.of(4940, KES)), by="cli", operator="ops:amina"
    )
    (changed,) = _actions(stack, "reconciliation.float_baseline_changed")
    details = dict(changed.details)
    assert changed.actor == "ops:amina" and "4940" in details["to"] and details["source"] == "typed"
    assert "4940" in _float(stack).inputs["float_baseline"]


def test_the_configured_baseline_and_statements_are_named_with_their_sources() -> None:
    stack = PaymentsStack()
    statement = statement_of(stack.mpesa)
    report = stack.reconciliation.reconcile(Outside(statement=statement), by="cli", operator="ops:amina")
    assert report.inputs["float_baseline_source"] == "configured"
    assert "mpesa_balance_source" not in report.inputs  # no balance answer: the float check skipped
    assert report.inputs["statement_1"].startswith(stack.mpesa.shortcode)
    scheduled = stack.reconciliation.reconcile_and_alert()
    assert scheduled.operator == "system:schedule"
