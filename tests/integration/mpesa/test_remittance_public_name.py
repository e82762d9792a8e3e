"""A remittance paid out over HTTP by the Daraja sandbox, which answers the B2C with the name the number is
registered to (set on its control endpoint ``POST /sandbox/names``, as ``/sandbox/scenarios`` sets a scenario): a
name that is not the order's ``recipient_name`` raises the ``payee-name-mismatch`` alert; the payout stands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptopay.core.remittances import RemittanceState
from cryptopay.sandbox.certs import SandboxCertificate

from tests.support.real_payments_stack import DarajaOverHttp
from tests.support.remittance_stack import RemittanceStack, remittance_stack

PHONE = "254712345678"


@pytest.fixture
def over_http(mpesa_certificate: tuple[Path, SandboxCertificate]) -> Iterator[tuple[RemittanceStack, DarajaOverHttp]]:
    path, certificate = mpesa_certificate
    daraja = DarajaOverHttp(certificate, path, callback_delay=0.0, response_delay=1.0)
    try:
        stack = remittance_stack()
        stack.answers = daraja.answers_to(daraja.payouts_for(stack.wallet))
        yield stack, daraja
    finally:
        daraja.close()


def test_the_sandbox_names_someone_else_and_the_paid_out_order_is_alerted(over_http) -> None:
    stack, daraja = over_http
    named = httpx.post(daraja.sandbox.url + "/sandbox/names", json={"phone": "0712345678", "name": "PETER MWANGI"})
    assert named.status_code == 200 and named.json() == {"phone": PHONE, "name": "PETER MWANGI"}
    order = stack.order(phone=PHONE, amount="1000", name="Achieng Otieno")
    stack.pay(order)
    stack.confirm()
    stack.run()
    done = stack.get(order)
    assert done.state is RemittanceState.PAID_OUT and daraja.sandbox.engine.transactions()[0].phone == PHONE
    [alert] = stack.monitoring.alerts()
    assert (alert.rule_id, alert.evidence["name"], alert.evidence["ref"]) == (
        "payee-name-mismatch",
        "PETER MWANGI",
        done.payout_id,
    )


def test_the_names_control_endpoint_refuses_a_bad_phone_or_no_name(over_http) -> None:
    _, daraja = over_http
    for body in ({"phone": "12", "name": "A B"}, {"phone": "0712345678", "name": " "}, {"phone": "0712345678"}):
        answer = httpx.post(daraja.sandbox.url + "/sandbox/names", json=body)
        assert answer.status_code == 400 and answer.json()["errorCode"] == "400.002.02", body
