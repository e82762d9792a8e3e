"""Review R22: a closed merchant takes no new business. Its logins' writes are refused (403 ``merchant_closed``,
audited), its API keys are revoked at the close (audited), its payment links answer as deactivated, its unpaid
invoices are cancelled (the payer's page says so), reads go on. A payment still arriving on a cancelled invoice is
recorded late, never lost, and waits for an operator instead of the run over every merchant; an operator refunds a
closed merchant's invoice only by saying why."""

from __future__ import annotations

import pytest
from cryptopay.core.identity.model import MerchantClosed
from cryptopay.core.invoices import InvoiceException, InvoiceState
from cryptopay.core.money import Money

from tests.integration.http_payments.payments_support import idem, key_headers

SCOPES = ["invoices:write", "invoices:read", "payment_links:write", "refunds:write"]
CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


def _closed(answer) -> None:
    assert answer.status_code == 403, (answer.status_code, answer.get_data(as_text=True))
    assert answer.content_type == "application/problem+json" and answer.json["code"] == "merchant_closed"


def test_a_closed_merchant_takes_no_new_business_and_a_late_payment_waits_for_an_operator(
    client, auth, services, stack, shop
):
    secret = auth.api_key(shop.headers, shop.id, SCOPES)
    key = key_headers(secret)
    link_body = {"description": "Mandazi", "amount": "100", "currency": "KES"}
    link = client.post("/v1/payment-links", json=link_body, headers=idem(shop.headers)).json
    unpaid = shop.invoice(rails=["usdt-tron"])
    partly = shop.invoice(rails=["usdt-tron"])
    stack.pay(partly["id"], Money.of("1", "USDT"))
    stack.confirm(1)

    done = services.closing.close(shop.id, actor="user:ops", reason="relationship ended")
    assert done.keys_revoked == 1 and done.invoices_cancelled == (unpaid["id"],)
    assert done.invoices_kept == (partly["id"],)  # it received something: left to its own path (a refund)

    assert client.get("/v1/invoices", headers=key).status_code == 401  # the key is revoked, not merely refused
    before = client.get("/v1/invoices", headers=shop.headers).json["data"]  # the owner's reads go on
    body = {"amount": "1000", "currency": "KES", "rails": ["usdt-tron"]}
    _closed(client.post("/v1/invoices", json=body, headers=idem(shop.headers)))
    minted = {"name": "another", "scopes": ["invoices:write"]}
    _closed(client.post(f"/v1/merchants/{shop.id}/api-keys", json=minted, headers=auth.stepped_up(shop.headers)))
    used = client.post(f"/v1/payment-links/{link['public_id']}/invoices", json={})
    assert used.status_code == 409 and used.json["code"] == "payment_link_closed"
    assert services.payment_links.load_public(link["public_id"]).active is False
    assert client.get("/v1/invoices", headers=shop.headers).json["data"] == before  # nothing made
    records = services.audit.records()
    refusals = [r for r in records if r.action == "access.refused"]
    assert {dict(r.details)["reason"] for r in refusals} == {"merchant_closed"} and len(refusals) == 2
    [revoked] = [r for r in records if r.action == "api_key.revoked"]
    assert dict(revoked.details)["reason"] == "merchant_closed" and revoked.actor == "user:ops"
    with stack.uow() as uow:  # the payments' own records are written with the invoices
        payments_records = uow.audit.records()
    [cancelled] = [r for r in payments_records if r.action == "invoice.cancel"]
    assert cancelled.subject == f"invoice:{unpaid['id']}" and dict(cancelled.details)["reason"] == "merchant_closed"
    [wound] = [r for r in records if r.action == "merchant.wound_down"]
    assert dict(wound.details) == {"keys": "1", "invoices_cancelled": "1", "invoices_kept": "1"}

    read = client.get(f"/v1/invoices/{unpaid['id']}", headers=shop.headers).json
    assert read["state"] == "cancelled"
    page = client.get("/pay/" + read["checkout_url"].rsplit("/pay/", 1)[1])
    assert page.status_code == 200 and "This payment request was cancelled" in page.get_data(as_text=True)

    stack.tick(minutes=1)
    stack.pay(unpaid["id"])  # a payment still made to the cancelled invoice's address: recorded late, never lost
    stack.confirm(3)
    late = stack.invoice(unpaid["id"])
    assert late.state is InvoiceState.CANCELLED and late.exception is InvoiceException.PAID_LATE
    (run,) = [r for r in stack.settling.run_settlements() if r.merchant_id == shop.id]
    assert run.settlement is None and "closed" in run.reason and not run.payouts

    with pytest.raises(MerchantClosed):  # an operator refunds a closed merchant's customer only by saying why
        services.refunds.refund(unpaid["id"], address=CUSTOMER, requested_by="ops:achieng")
    refund = services.refunds.refund(
        unpaid["id"], address=CUSTOMER, requested_by="ops:achieng", closed_merchant="returning a late payment"
    )
    assert refund.merchant_id == shop.id
    with stack.uow() as uow:
        [asked] = [r for r in uow.audit.records() if r.action == "refund.request"]
    assert dict(asked.details)["merchant_closed"] == "returning a late payment" and asked.actor == "ops:achieng"

    again = services.closing.close(shop.id, actor="user:ops", reason="again")  # the first date stands
    assert again.merchant.closed_at == done.merchant.closed_at and again.keys_revoked == 0
    assert again.invoices_cancelled == ()
