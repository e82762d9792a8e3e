"""``cryptopay merchants payout-charges``: an operator passes M-Pesa's B2C tariff on to a merchant (outside review
R13), audited; the dry run shows each part's charge before the settlement is made."""

from __future__ import annotations

from cryptopay.core.payments.charges import PayoutCharging, charging_of

from tests.integration.cli_payments.cli_payments_support import cli, cli_json, create_merchant


def test_cli_passes_the_b2c_tariff_on_with_an_audit_record(stack):
    """`merchants payout-charges ID --charging mpesa_b2c` prints the bands, stores the version, audits the change."""
    merchant_id = create_merchant()
    view = cli_json("merchants", "payout-charges", merchant_id, "--charging", "mpesa_b2c")
    assert view["charging"] == "mpesa_b2c" and view["schedule_id"] == "mpesa_payout:KES:standard:v1"
    assert [(b["from_kes"], b["charge_kes"]) for b in view["bands"]][1:3] == [("101.00", "5.00"), ("1501.00", "9.00")]
    with stack.uow() as uow:
        store = uow.stores.get(merchant_id)
    assert store is not None and charging_of(store.payout_charges(stack.clock.now())) is PayoutCharging.MPESA_B2C
    [audited] = [r for r in stack.storage.audit_records() if r.action == "store.payout_charges"]
    assert dict(audited.details)["before"] == "none" and audited.subject == f"merchant:{merchant_id}"
    table = cli("merchants", "payout-charges", merchant_id, "--charging", "none")
    assert table.exit_code == 0 and "payout charge none" in table.output


def test_cli_refuses_custom_an_unknown_value_or_merchant_and_changes_nothing(stack):
    merchant_id = create_merchant()
    assert cli("merchants", "payout-charges", merchant_id, "--charging", "custom").exit_code == 2
    assert cli("merchants", "payout-charges", merchant_id, "--charging", "sometimes").exit_code == 2
    assert cli("merchants", "payout-charges", "mer_missing", "--charging", "none").exit_code == 3
    with stack.uow() as uow:
        store = uow.stores.get(merchant_id)
    assert store is not None and store.payout_charges(stack.clock.now()) is None
    assert [r for r in stack.storage.audit_records() if r.action == "store.payout_charges"] == []
