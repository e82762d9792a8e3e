"""Contract: a merchant payment held for a listed payer reads, to the payer (the checkout page and its status) and
to the merchant (``GET /v1/invoices/{id}``, the webhooks), exactly as an ordinary payment still confirming, and the
invoice neither goes back to new nor expires under it while an officer decides (review8 R5: it went ``processing`` ->
``new``, "Waiting for your payment", then expired: the listed party was told). Staff see it held."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cryptopay.core.ports.chains import ObservedTransfer
from cryptopay.core.testing.payments_stack import PaymentsStack
from flask.testing import FlaskClient

from tests.integration.http_payments.payments_support import Shop
from tests.integration.web.test_dashboard_pages import owner as owner
from tests.unit.payments.test_sanctioned_payers import CLEAN, LISTED, with_lists


@pytest.fixture
def stack() -> PaymentsStack:
    return with_lists(PaymentsStack(networks=("tron", "ethereum")))


def _pay(stack: PaymentsStack, invoice: dict[str, Any], sender: str) -> ObservedTransfer:
    option = invoice["payment_options"][0]
    due = stack.invoice(invoice["id"]).options[0].due
    return stack.chains["tron"].pay(option["address"], due, sender=sender)


def _path(invoice: dict[str, Any]) -> str:
    return str(invoice["checkout_url"]).removeprefix("http://127.0.0.1:8000")


def _blank(text: str, invoice: dict[str, Any], paid: ObservedTransfer) -> str:
    """``text`` without what tells one invoice from another: its ids, address (and QR), quote and transaction, and
    the payment's own payer address and block time (``payments`` in the API: R14-18)."""
    option = invoice["payment_options"][0]
    own = (invoice["id"], _path(invoice).rsplit("/", 1)[1], option["address"], paid.tx_hash, invoice["quote"]["id"])
    for value in (*own, paid.from_address or "<own>"):
        text = text.replace(value, "<own>")
    text = re.sub(r'"paid_at": "[^"]+"', '"paid_at": "<own>"', text)
    return re.sub(r"data:image/svg\+xml;base64,[A-Za-z0-9+/=]+", "<own QR>", text)


def _views(
    client: FlaskClient, shop: Shop | None, stack: PaymentsStack, invoice: dict[str, Any], paid: ObservedTransfer
) -> dict[str, Any]:
    """What the payer (checkout page, its live status) and the merchant (the API, when ``shop``; the webhooks) see."""
    api = client.get(f"/v1/invoices/{invoice['id']}", headers=shop.headers) if shop is not None else None
    assert api is None or api.status_code == 200, api.json
    page = client.get(_path(invoice))
    status = client.get(f"{_path(invoice)}/status", headers={"HX-Request": "true"})
    hooks = [
        (m.topic, m.payload.get("state"), m.payload.get("exception"))
        for m in stack.storage.outbox_messages()
        if m.key == invoice["id"] and m.topic.startswith("invoice.")
    ]
    return {
        "api": _blank(json.dumps(api.json, sort_keys=True), invoice, paid) if api is not None else None,
        "page": (page.status_code, _blank(page.get_data(as_text=True), invoice, paid)),
        "status": (status.status_code, _blank(status.get_data(as_text=True), invoice, paid)),
        "hooks": hooks,
    }


def test_a_held_payment_reads_as_an_ordinary_payment_confirming(client, shop, stack):
    held = shop.invoice("1300", rails=["usdt-tron"], order_id="A-1")
    ordinary = shop.invoice("1300", rails=["usdt-tron"], order_id="A-1")
    held_tx = _pay(stack, held, LISTED)
    ordinary_tx = _pay(stack, ordinary, CLEAN)  # one block later: one confirmation short when the other is held
    stack.confirm(1)
    assert stack.invoice(held["id"]).payments[0].held and stack.held_payments.waiting()  # staff see it held
    assert stack.invoice(ordinary["id"]).state.value == "processing"
    seen_held = _views(client, shop, stack, held, held_tx)
    seen_ordinary = _views(client, shop, stack, ordinary, ordinary_tx)
    assert seen_held == seen_ordinary
    assert '"state": "processing"' in seen_held["api"] and "waiting for the network" in seen_held["status"][1]
    assert [topic for topic, *_ in seen_held["hooks"]] == [
        "invoice.created",
        "invoice.payment_received",
        "invoice.processing",
    ]
    stack.tick(minutes=20)
    stack.tick(hours=25)  # past the expiry and the monitoring window: still confirming, never expired nor invalid
    later = _views(client, None, stack, held, held_tx)  # the merchant's token has expired meanwhile
    assert later == {**seen_held, "api": None} and stack.invoice(held["id"]).state.value == "processing"


def test_a_payment_an_officer_kept_is_left_off_the_merchants_invoice_page_as_off_the_api(client, owner, stack):
    """fixinvoice's finding: the dashboard's invoice page listed a payment an officer kept for the authorities, with
    its depth, beside an invoice that is not paid (the API leaves it out): it would tell the merchant."""
    from tests.integration.web.test_dashboard_pages import _log_in
    from tests.integration.web.test_dashboard_refund_cancel import _invoice

    _log_in(client)
    invoice_id = _invoice(client)
    option = stack.invoice(invoice_id).options[0]
    paid = stack.chains["tron"].pay(option.address, option.due, sender=LISTED)
    stack.confirm(3)
    [credit] = stack.held_payments.waiting()
    assert paid.tx_hash in client.get(f"/dashboard/invoices/{invoice_id}").text  # held: shown as confirming
    stack.held_payments.keep(credit.id, officer="usr_officer_1", note="frozen for the FRC")
    page = client.get(f"/dashboard/invoices/{invoice_id}").text
    assert paid.tx_hash not in page and "No payment yet." in page
