"""The dashboard's invoice page shows payments sent to the invoice's address on another EVM network."""

from __future__ import annotations

import re

import pytest
from cryptopay.core.money import Money
from cryptopay.core.testing.payments_stack import PaymentsStack

from tests.integration.http.http_support import PASSWORD
from tests.integration.web.test_dashboard_pages import _keyed, _log_in
from tests.integration.web.test_dashboard_pages import owner as owner


@pytest.fixture
def stack() -> PaymentsStack:
    return PaymentsStack(networks=("tron", "ethereum", "polygon"))


def _ethereum_invoice(client) -> str:
    form = client.get("/dashboard/invoices/new").text
    body = {**_keyed(form), "amount": "25", "currency": "USDT", "rails": ["usdt-ethereum"]}
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
    assert '<td data-label="State">waiting</td>' in page and '<td data-label="Amount">USDT 25.00</td>' in page
    client.get(f"/lang/sw?next=/dashboard/invoices/{invoice_id}")
    swahili = client.get(f"/dashboard/invoices/{invoice_id}").text
    assert "Yametumwa kwenye mtandao mwingine" in swahili


PAYER = "0x" + "cd" * 20  # the address that paid: where a refund goes back (review R27)


def _form(page: str, action: str, **fields: str) -> dict[str, str]:
    start = page.index(f'action="{action}"')
    form = page[start : page.index("</form>", start)]
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form))
    return {**hidden, "confirm": "yes", **fields}


def _paid_on_polygon(client, stack: PaymentsStack, asset: str = "USDT") -> tuple[str, str]:
    invoice_id = _ethereum_invoice(client)
    option = stack.invoice(invoice_id).options[0]
    stack.chains["polygon"].pay(option.address, Money.of("25", asset), sender=PAYER)
    stack.sync()
    [record] = stack.detection.wrong_network_payments(invoice_id=invoice_id)
    return invoice_id, record.id


def test_the_merchant_accepts_it_from_the_invoice_page(client, owner, stack):
    """The accept form (a confirmation box, no password) takes it into the invoice; pressed twice, once."""
    _log_in(client)
    invoice_id, record_id = _paid_on_polygon(client, stack)
    action = f"/dashboard/invoices/{invoice_id}/wrong-network/{record_id}/accept"
    form = _form(client.get(f"/dashboard/invoices/{invoice_id}").text, action)
    done = client.post(action, data=form)
    assert done.status_code == 303 and done.headers["Location"].endswith(f"?accepted={record_id}")
    assert client.post(action, data=form).headers.get("Idempotent-Replayed") == "true"
    assert stack.invoice(invoice_id).state.value == "processing"
    page = client.get(done.headers["Location"]).text
    assert f"Payment {record_id} accepted" in page and "USDT · Polygon" in page and action not in page  # a way to pay


def test_a_refusal_is_shown_on_the_page_and_a_refund_needs_the_password(client, owner, stack):
    """USDC to a USDT invoice cannot be accepted (422 on the page); its refund is refused without the password
    (403), waits for the network's depth (422), then is requested whole to the payer's address."""
    _log_in(client)
    invoice_id, record_id = _paid_on_polygon(client, stack, "USDC")
    accept = f"/dashboard/invoices/{invoice_id}/wrong-network/{record_id}/accept"
    refused = client.post(accept, data=_form(client.get(f"/dashboard/invoices/{invoice_id}").text, accept))
    assert refused.status_code == 422 and 'role="alert"' in refused.text and "asks for no USDC" in refused.text
    refund = f"/dashboard/invoices/{invoice_id}/wrong-network/{record_id}/refund"
    payer = PAYER
    assert PAYER in client.get(f"/dashboard/invoices/{invoice_id}").text  # shown: the only address it goes to

    def form(**fields: str) -> dict[str, str]:
        # an address slipped into the form is ignored: the page only ever refunds to the address that paid
        page = client.get(f"/dashboard/invoices/{invoice_id}").text
        return _form(page, refund, address="0x" + "ee" * 20, **fields)

    assert client.post(refund, data=form(password="wrong")).status_code == 403
    early = client.post(refund, data=form(password=PASSWORD))
    assert early.status_code == 422 and "confirmations" in early.text
    stack.confirm(2)
    done = client.post(refund, data=form(password=PASSWORD))
    assert done.status_code == 303 and "refunded=" in done.headers["Location"]
    (sent,) = stack.refunds.list_refunds(invoice_id)
    assert sent.address == payer and sent.amount == Money.of("25", "USDC") and sent.rail_key == "usdc-polygon"
