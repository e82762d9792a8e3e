"""review3 I18, the payout's side: M-Pesa's B2C result names who the number is registered to
(``ReceiverPartyPublicName``, ``2547... - NAME``). Once a remittance's payout completed, that name is compared with
the order's ``recipient_name`` by the project's name matcher (the screening's, as the wallet credit's name match):
a mismatch does not undo the payout (the money has gone) but raises an AML alert for the officers
(``payee-name-mismatch``) and is audited; a match is recorded as such. The sandbox's M-Pesa engine returns the name
registered for the number (``FakeMobileMoney.register_name``)."""

from __future__ import annotations

import pytest
from cryptopay.core.remittances import RemittanceState

from tests.support.remittance_stack import remittance_stack

PHONE = "254712345678"


@pytest.fixture
def stack():
    return remittance_stack()


def _details(stack, order_id: str, action: str) -> list[dict[str, str]]:
    with stack.wallet.backend.uow() as uow:
        return [dict(r.details) for r in uow.audit.about([f"remittance:{order_id}"]) if r.action == action]


def _paid_out(stack, name: str):
    order = stack.order(phone=PHONE, amount="1000", name=name)
    stack.pay(order)
    stack.confirm()
    stack.run()
    return stack.get(order)


def test_a_payout_to_a_number_registered_to_someone_else_is_alerted_not_undone(stack):
    stack.wallet.mpesa.register_name(PHONE, "PETER KAMAU MWANGI")
    done = _paid_out(stack, "Achieng Otieno")
    assert done.state is RemittanceState.PAID_OUT and done.notified_at is not None  # the money has gone: told
    [alert] = stack.monitoring.alerts()
    assert (alert.rule_id, alert.blocking, alert.movement_id) == ("payee-name-mismatch", False, f"remittance:{done.id}")
    assert (alert.evidence["counterparty"], alert.evidence["name"]) == ("Achieng Otieno", "PETER KAMAU MWANGI")
    assert float(alert.evidence["score"]) < 70 and alert.evidence["ref"] == done.payout_id
    [details] = _details(stack, done.id, "remittance.payout_name_mismatch")
    assert (details["payout"], details["alert"]) == (done.payout_id, alert.id) and float(details["score"]) < 70
    assert _details(stack, done.id, "remittance.payout_name_matched") == []
    assert stack.books_balanced()
    stack.run()  # later runs raise nothing again
    assert len(stack.monitoring.alerts()) == 1 and len(_details(stack, done.id, "remittance.payout_name_mismatch")) == 1


def test_a_payout_to_the_named_recipient_records_that_it_matched(stack):
    stack.wallet.mpesa.register_name(PHONE, "ACHIENG OTIENO")
    done = _paid_out(stack, "Achieng Otieno")
    assert done.state is RemittanceState.PAID_OUT
    [details] = _details(stack, done.id, "remittance.payout_name_matched")
    assert details["payout"] == done.payout_id and float(details["score"]) >= 70
    assert stack.monitoring.alerts() == [] and _details(stack, done.id, "remittance.payout_name_mismatch") == []
