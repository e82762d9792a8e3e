"""The dashboard's invoice page shows payments sent to the invoice's address on another EVM network."""

from __future__ import annotations

import pytest
from cryptopay.core.testing.payments_stack import PaymentsStack

from tests.integration.web.test_dashboard_pages import _csrf, _log_in
from tests.integration.web.test_dashboard_pages import owner as owner


@pytest.fixture
def stack() -> PaymentsStack:
    return PaymentsStack(networks=("tron", "ethereum", "polygon"))


def _ethereum_invoice(client) -> str:
    form = client.get("/dashboard/invoices/new").text
    body = {"csrf_token": _csrf(form), "amount": "25", "currency": "USDT", "rails": ["usdt-ethereum"]}
    made = client.post("/dashboard/invoices/new", data=body)
    assert made.status_code == 303, made.text
    return str(made.headers["Location"].rsplit("/", 1)[1])


def test_the_invoice_page_lists_a_payment_on_another_network_in_english_and_swahili(client, owner, stack):
    """No section while there is none; then the payment's network, amount, state and transaction, in both
    languages."""
    _log_in(client)
    invoice_id = _ethereum_invoice(client)
    assert "Sent on another network" not in client.get(f"/dashboard/invoices/{invoice_id}").text
    invoice = stack.invoice(invoice_id)
    paid = stack.chains["polygon"].pay(invoice.options[0].address, invoice.options[0].due)
    stack.sync()
    page = client.get(f"/dashboard/invoices/{invoice_id}").text
    assert "Sent on another network" in page and "polygon" in page and paid.tx_hash in page
    assert "<td>waiting</td>" in page and "<td>USDT 25</td>" in page
    client.get(f"/lang/sw?next=/dashboard/invoices/{invoice_id}")
    swahili = client.get(f"/dashboard/invoices/{invoice_id}").text
    assert "Yametumwa kwenye mtandao mwingine" in swahili
