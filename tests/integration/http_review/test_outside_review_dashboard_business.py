"""Outside review: the merchant dashboard's new pages (refund/cancel buttons, statements and PDFs, posters, KYB)
between two merchants, and with odd query values: another merchant's objects are 404s that change nothing, and
an odd month, year or file kind is a 4xx page, never a 5xx."""

from __future__ import annotations

import pytest

from tests.integration.http.http_support import PASSWORD, bearer
from tests.integration.http_payments.payments_support import INSTANT
from tests.integration.web.test_dashboard_pages import _csrf, _log_in
from tests.integration.web.test_dashboard_pages import owner as owner
from tests.integration.web.test_dashboard_refund_cancel import CUSTOMER, _invoice


def test_another_merchant_cannot_refund_cancel_or_print_my_objects(app, client, auth, owner, stack):
    _log_in(client)
    invoice_id = _invoice(client)
    token = _csrf(client.get("/dashboard/").get_data(as_text=True))
    made = client.post(
        "/dashboard/links", data={"csrf_token": token, "description": "Chapati", "amount": "60", "currency": "KES"}
    )
    assert made.status_code == 303, made.get_data(as_text=True)[:300]
    link_id = _link_id(app, owner)
    other = app.test_client()
    auth.register("rival@duka.example", "merchant")
    rival_headers = bearer(auth.login("rival@duka.example")["access_token"])
    auth.prove_email("rival@duka.example", rival_headers)
    created = other.post(
        "/v1/merchants", json={"business_name": "Rival Ltd", "settlement": INSTANT}, headers=rival_headers
    )
    assert created.status_code == 201, created.json
    form = other.get("/dashboard/login").get_data(as_text=True)
    body = {"email": "rival@duka.example", "password": PASSWORD, "csrf_token": _csrf(form)}
    assert other.post("/dashboard/login", data=body).status_code == 303
    theirs = _csrf(other.get("/dashboard/").get_data(as_text=True))
    refund = {"csrf_token": theirs, "rail": "usdt-tron", "address": CUSTOMER, "confirm": "yes", "password": PASSWORD}
    for path, data in (
        (f"/dashboard/invoices/{invoice_id}/refunds", {**refund, "idempotency_key": "k1"}),
        (f"/dashboard/invoices/{invoice_id}/cancel", {"csrf_token": theirs, "confirm": "yes", "idempotency_key": "k2"}),
        (f"/dashboard/links/{link_id}/deactivate", {"csrf_token": theirs}),
    ):
        answer = other.post(path, data=data)
        assert answer.status_code == 404, (path, answer.status_code)
    for path in (f"/dashboard/invoices/{invoice_id}", f"/dashboard/links/{link_id}/poster.pdf"):
        assert other.get(path).status_code == 404, path
    shown = client.get(f"/dashboard/invoices/{invoice_id}").get_data(as_text=True)
    assert "Cancel invoice" in shown  # still open: the rival's cancel changed nothing
    assert stack.refunds.list_refunds(invoice_id) == []


def _link_id(app, merchant_id: str) -> str:
    links = app.extensions["cryptopay"].services.payment_links.list_links(merchant_id, limit=10)
    return links[0].id


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/reports?month=2026-13",
        "/dashboard/reports?month=2026-00",
        "/dashboard/reports?month=0000-01",
        "/dashboard/reports?month=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-01",
        "/dashboard/reports?year=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96",
        "/dashboard/reports/statement.pdf?month=2026-13",
        "/dashboard/reports/statement.pdf?month=9999-12",
        "/dashboard/reports/sales.csv?month=2026-99",
        "/dashboard/reports/..%2F..%2Fetc.csv",
        "/dashboard/reports/tax-99999.pdf",
        "/dashboard/reports/tax-1999.csv",
        "/dashboard/reports/tax-2026.exe",
        "/dashboard/analytics?days=-1",
        "/dashboard/analytics?days=1e9",
        "/dashboard/analytics?from=2026-02-30",
        "/dashboard/links/%00/poster.pdf",
    ],
)
def test_odd_report_and_poster_requests_are_4xx_pages(client, owner, path):
    _log_in(client)
    answer = client.get(path)
    assert answer.status_code < 500, (path, answer.status_code)
