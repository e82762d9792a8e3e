"""reviewer10 R10-7: a bank payout confirmed by one operator with any reference was compared with nothing, and a
reconciliation with M-Pesa's statement and Account Balance said clean. No bank statement is read yet, so the
``bank-transfers`` check is skipped while any confirmed bank transfer exists (``--require-outside`` then exits 7)."""

from __future__ import annotations

from cryptopay.core.money import USDT, Money
from cryptopay.core.reconciliation import Outside, parse_statement, render_statement
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.mpesa_statement import statement_of
from cryptopay.core.testing.payments_stack import PaymentsStack


def _reconcile(stack: PaymentsStack):
    statement = parse_statement(render_statement(statement_of(stack.mpesa, shortcode=stack.mpesa.payout_shortcode)))
    balance = stack.mpesa.float_balance + stack.mpesa.charges_paid
    outside = Outside(statement=statement, mpesa_balance=balance, float_baseline=stack.mpesa.float_balance)
    return stack.reconciliation.reconcile(outside)


def test_a_confirmed_bank_transfer_is_reported_not_compared_with_the_bank() -> None:
    stack = PaymentsStack()
    stack.add_merchant(
        "m1", settlement=SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.BANK, "CITI:1234567890")
    )
    before = _reconcile(stack).skipped  # other outside sources this stack does not give (chains...)
    assert "bank-transfers" not in before  # nothing confirmed: nothing to compare
    invoice = stack.invoicing.create_invoice("m1", Money.of("100", USDT))
    stack.pay(invoice.id)
    stack.confirm(3)
    [run] = stack.settling.run_settlements()
    [payout] = run.payouts
    stack.payouts.submit_payouts()
    stack.payouts.confirm_bank_transfer(payout.id, reference="MADE-UP-1", actor="ops:mallory")
    report = _reconcile(stack)
    assert sorted(report.skipped) == sorted([*before, "bank-transfers"])
    (result,) = [r for r in report.results if r.check.name == "bank-transfers"]
    assert result.skipped.startswith("bank not compared: 1 bank transfer(s) confirmed by an operator")
