"""A wrong-asset payment pending a decision sits at our address: the chain's custody check counts it as expected
there (review R24), leaving its ageing to ``wrong-payments-owed`` (a day's grace)."""

from __future__ import annotations

from cryptopay.core.money import USDC, USDT, Money
from cryptopay.core.payments.wrong_network import WrongNetworkState
from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.treasury import TreasuryStack


def test_a_pending_wrong_asset_payment_is_no_custody_difference_only_owed_after_a_day() -> None:
    """USDC paid to a USDT-only invoice's address (USDC custody is read: another store takes it): custody-on-chain
    stays clean while the payment is pending; a day later only wrong-payments-owed reports it."""
    payments = PaymentsStack(networks=("ethereum",))
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    payments.add_merchant("m1", settlement=profile, rails=("usdt-ethereum",))
    payments.add_merchant("m2", settlement=profile, rails=("usdc-ethereum",))
    stack = TreasuryStack(payments=payments)
    invoice = payments.invoicing.create_invoice("m1", Money.of("25", USDT))
    payments.chains["ethereum"].pay(invoice.options[0].address, Money.of("7.8", USDC))
    payments.confirm(12)
    [record] = payments.detection.wrong_network_payments(invoice_id=invoice.id)
    assert (record.state, record.wrong) == (WrongNetworkState.PENDING, "asset")

    def found() -> dict[str, list[str]]:
        report = stack.reconcile()
        return {r.check.name: [d.subject for d in r.differences] for r in report.results if not r.skipped}

    now = found()
    assert now["custody-on-chain"] == [] and now["wrong-payments-owed"] == []
    payments.clock.advance(days=1, minutes=1)
    later = found()
    assert later["custody-on-chain"] == []
    assert later["wrong-payments-owed"] == [f"wrong-asset payment {record.id} (invoice {invoice.id})"]
