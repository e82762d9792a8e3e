"""Outside review: the merchant dashboard's forms keep the team roles the REST API keeps.

A staff member (reads invoices, refunds and links; changes nothing) and a finance member (money, no keys or
webhooks) log in to the dashboard: what their role cannot do over REST is a 403 page here too, and changes nothing.
"""

from __future__ import annotations

import re
import secrets

from flask.testing import FlaskClient

from tests.integration.http.http_support import PASSWORD, bearer
from tests.integration.http.test_http_teams import join
from tests.integration.web.test_dashboard_pages import EMAIL, _csrf, _log_in
from tests.integration.web.test_dashboard_pages import owner as owner


def _page_login(client: FlaskClient, email: str) -> str:
    form = client.get("/dashboard/login")
    body = {"email": email, "password": PASSWORD, "csrf_token": _csrf(form.get_data(as_text=True))}
    assert client.post("/dashboard/login", data=body).status_code == 303
    return _csrf(client.get("/dashboard/").get_data(as_text=True))


def _owner_key(app, owner: str) -> str:
    with app.test_client() as other:
        _log_in(other)
        page = other.get("/dashboard/developers").get_data(as_text=True)
        made = other.post(
            "/dashboard/developers/api-keys",
            data={
                "csrf_token": _csrf(page),
                "name": "till",
                "password": PASSWORD,
                "idempotency_key": secrets.token_urlsafe(18),
            },
        )
        found = re.search(r"<code>(key_[^<]+)</code>", made.get_data(as_text=True))
        assert made.status_code == 201 and found
        return found.group(1)


def test_staff_cannot_make_keys_webhooks_links_or_invoices_on_the_dashboard(app, client, auth, services, owner):
    owner_headers = bearer(auth.login(EMAIL)["access_token"])
    key_id = _owner_key(app, owner)
    join(client, auth, services, owner_headers, "staff@duka.example", "staff")
    staff = app.test_client()
    token = _page_login(staff, "staff@duka.example")
    attempts = {
        "/dashboard/developers/api-keys": {"name": "mine", "password": PASSWORD, "scopes": "refunds:write"},
        "/dashboard/developers/webhooks": {"url": "https://evil.example/hook", "password": PASSWORD},
        f"/dashboard/developers/api-keys/{key_id}/revoke": {},
        "/dashboard/links": {"description": "Free", "amount": "1", "currency": "KES"},
        "/dashboard/invoices/new": {"amount": "100", "currency": "KES"},
    }
    for path, form in attempts.items():
        answer = staff.post(path, data={"csrf_token": token, **form})
        assert answer.status_code == 403, (path, answer.status_code, answer.get_data(as_text=True)[:300])
    keys = client.get(f"/v1/merchants/{owner}/api-keys", headers=owner_headers).json["data"]
    assert [(k["id"], k["revoked_at"]) for k in keys] == [(key_id, None)]
    assert client.get("/v1/webhook-endpoints", headers=owner_headers).json["data"] == []
    assert client.get("/v1/payment-links", headers=owner_headers).json["data"] == []
    assert client.get("/v1/invoices", headers=owner_headers).json["data"] == []
    # what staff may do, it still does: read the pages
    for path in ("/dashboard/", "/dashboard/invoices", "/dashboard/links"):
        assert staff.get(path).status_code == 200, path


def test_finance_makes_links_and_invoices_on_the_dashboard_but_no_keys(app, client, auth, services, owner):
    owner_headers = bearer(auth.login(EMAIL)["access_token"])
    join(client, auth, services, owner_headers, "fin@duka.example", "finance")
    finance = app.test_client()
    token = _page_login(finance, "fin@duka.example")
    refused = finance.post(
        "/dashboard/developers/api-keys", data={"csrf_token": token, "name": "mine", "password": PASSWORD}
    )
    assert refused.status_code == 403
    made = finance.post(
        "/dashboard/links", data={"csrf_token": token, "description": "Chapati", "amount": "60", "currency": "KES"}
    )
    assert made.status_code == 303, made.get_data(as_text=True)[:300]
    assert client.get(f"/v1/merchants/{owner}/api-keys", headers=owner_headers).json["data"] == []
