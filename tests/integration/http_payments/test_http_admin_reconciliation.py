"""``GET /v1/admin/reconciliation``: the core's reconciliation over HTTP, for admins only, in the OpenAPI document."""

from __future__ import annotations

from cryptopay.core.reconciliation import CHECKS

from tests.integration.http_payments.payments_support import idem

ROUTE = "/v1/admin/reconciliation"


def test_an_admin_reads_the_reconciliation_report(client, auth, stack, shop):
    """After a paid invoice and a completed payout every check is clean or says why it was skipped."""
    invoice = shop.invoice()
    stack.pay(invoice["id"])
    stack.confirm(3)
    admin = auth.user("admin")
    client.post("/v1/settlements/run", json={"merchant_id": shop.id}, headers=idem(admin))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    response = client.get(ROUTE, headers=admin)
    assert response.status_code == 200, response.json
    report = response.json
    assert report["clean"] and report["differences"] == 0
    assert [c["name"] for c in report["checks"]] == [c.name for c in CHECKS]
    assert {c["name"] for c in report["checks"] if c["skipped"]} == {
        "mpesa-statement",
        "mpesa-float",
        "custody-on-chain",
    }


def test_the_report_shows_a_broken_record_with_a_200(client, auth, stack, shop):
    """A payout hold voided behind the payout's back is a difference in a 200 report (finding it is the job)."""
    invoice = shop.invoice()
    stack.pay(invoice["id"])
    stack.confirm(3)
    admin = auth.user("admin")
    run = client.post("/v1/settlements/run", json={"merchant_id": shop.id}, headers=idem(admin)).json
    payout = stack.payouts.get_payout(run["runs"][0]["payouts"][0]["id"])
    stack.ledger.void_hold(payout.hold_id)
    report = client.get(ROUTE, headers=admin).json
    assert not report["clean"]
    (holds,) = [c for c in report["checks"] if c["name"] == "payout-holds"]
    assert holds["differences"][0]["subject"] == f"payout {payout.id} (planned)"


def test_only_admins_reconcile(client, auth, shop):
    """A merchant gets a 403 problem, an anonymous caller a 401 problem; nothing is run for either."""
    forbidden = client.get(ROUTE, headers=shop.headers)
    assert forbidden.status_code == 403 and forbidden.mimetype == "application/problem+json"
    anonymous = client.get(ROUTE)
    assert anonymous.status_code == 401 and anonymous.mimetype == "application/problem+json"


def test_the_route_is_in_the_openapi_document(client):
    """The admin route is documented with its response schema, security and problem responses."""
    op = client.get("/openapi.json").json["paths"][ROUTE]["get"]
    assert op["summary"] and op["security"] and "401" in op["responses"] and "403" in op["responses"]
    assert "admin" in op["tags"]
