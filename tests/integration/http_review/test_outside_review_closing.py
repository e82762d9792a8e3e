"""Review R22: a closed merchant takes no new business. Its logins' and API keys' writes are refused (403
``merchant_closed``, audited), its payment links answer as deactivated, reads go on; a payment still arriving on an
earlier invoice is credited as any other, and waits for an operator instead of the run over every merchant."""

from __future__ import annotations

from tests.integration.http_payments.payments_support import idem, key_headers

SCOPES = ["invoices:write", "invoices:read", "payment_links:write", "refunds:write"]


def _closed(answer) -> None:
    assert answer.status_code == 403, (answer.status_code, answer.get_data(as_text=True))
    assert answer.content_type == "application/problem+json" and answer.json["code"] == "merchant_closed"


def test_a_closed_merchant_takes_no_new_business_and_a_late_payment_waits_for_an_operator(
    client, auth, services, stack, shop
):
    key = key_headers(auth.api_key(shop.headers, shop.id, SCOPES))
    link_body = {"description": "Mandazi", "amount": "100", "currency": "KES"}
    link = client.post("/v1/payment-links", json=link_body, headers=idem(shop.headers)).json
    earlier = shop.invoice(rails=["usdt-tron"])
    services.retention.close_merchant(shop.id, actor="user:ops", reason="relationship ended")
    before = client.get("/v1/invoices", headers=key).json["data"]

    body = {"amount": "1000", "currency": "KES", "rails": ["usdt-tron"]}
    _closed(client.post("/v1/invoices", json=body, headers=idem(key)))
    _closed(client.post("/v1/invoices", json=body, headers=idem(shop.headers)))
    _closed(client.post("/v1/payment-links", json=link_body, headers=idem(key)))
    minted = {"name": "another", "scopes": ["invoices:write"]}
    _closed(client.post(f"/v1/merchants/{shop.id}/api-keys", json=minted, headers=auth.stepped_up(shop.headers)))
    used = client.post(f"/v1/payment-links/{link['public_id']}/invoices", json={})
    assert used.status_code == 409 and used.json["code"] == "payment_link_closed"
    assert services.payment_links.load_public(link["public_id"]).active is False
    assert client.get("/v1/invoices", headers=key).json["data"] == before  # nothing made; reads go on
    refusals = [r for r in services.audit.records() if r.action == "access.refused"]
    assert {dict(r.details)["reason"] for r in refusals} == {"merchant_closed"} and len(refusals) == 4

    stack.pay(earlier["id"])  # a payment still arriving on an earlier invoice is credited
    stack.confirm(3)
    assert client.get(f"/v1/invoices/{earlier['id']}", headers=key).json["state"] == "settled"
    (run,) = [r for r in stack.settling.run_settlements() if r.merchant_id == shop.id]
    assert run.settlement is None and "closed" in run.reason and not run.payouts
    (named,) = stack.settling.run_settlements(merchant_id=shop.id)  # an operator names it
    assert named.settlement is not None and len(named.payouts) == 1
