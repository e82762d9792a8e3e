"""Review R22 on the dashboard: a closed merchant's forms are refused (403 ``merchant_closed``, audited) and change
nothing; its pages still read, and it may still log out."""

from __future__ import annotations

from tests.integration.http.http_support import PASSWORD
from tests.integration.web.test_dashboard_pages import _keyed, _log_in
from tests.integration.web.test_dashboard_pages import owner as owner
from tests.integration.web.test_dashboard_refund_cancel import _refund_form, _settled


def test_a_closed_merchants_dashboard_forms_are_refused_and_change_nothing(client, owner, services, stack):
    _log_in(client)
    paid = _settled(client, stack)
    refund = _refund_form(client, paid, amount="1", currency="USDT", password=PASSWORD)
    form = client.get("/dashboard/invoices/new").text
    services.retention.close_merchant(owner, actor="user:ops", reason="relationship ended")
    assert client.post(f"/dashboard/invoices/{paid}/refunds", data=refund).status_code == 403
    assert stack.refunds.list_refunds(paid) == []
    body = {**_keyed(form), "amount": "1300", "currency": "KES", "rails": ["usdt-tron"], "order_id": "R-1"}
    refused = client.post("/dashboard/invoices/new", data=body)
    assert refused.status_code == 403, refused.text
    links = client.get("/dashboard/links").text
    made = client.post("/dashboard/links", data={**_keyed(links), "description": "Mandazi", "amount": "100"})
    assert made.status_code == 403, made.text
    assert [i.id for i in stack.invoicing.list_invoices(owner)] == [paid] and stack.payment_links.list_links(
        owner
    ) == []
    refusals = [r for r in services.audit.records() if r.action == "access.refused"]
    assert [dict(r.details)["reason"] for r in refusals] == ["merchant_closed"] * 3
    assert client.get("/dashboard/invoices").status_code == 200  # reads go on
