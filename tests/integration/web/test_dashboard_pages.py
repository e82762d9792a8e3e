"""The merchant dashboard over the in-memory stack: page sessions, CSRF on every form, the merchant's own data."""

from __future__ import annotations

import re
import secrets

import pytest
from flask.testing import FlaskClient

from tests.integration.http.http_support import PASSWORD, AuthActions, bearer
from tests.integration.http_payments.payments_support import INSTANT

EMAIL = "owner@duka.example"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _keyed(html: str) -> dict[str, str]:
    """The first form's CSRF token and, for a money form, its form key (``idempotency_key``)."""
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    return {"csrf_token": _csrf(html), **({"idempotency_key": key.group(1)} if key else {})}


@pytest.fixture
def owner(auth: AuthActions, client: FlaskClient) -> str:
    """A merchant owner with a store on Tron and Ethereum; returns the merchant id."""
    auth.register(EMAIL, "merchant")
    headers = bearer(auth.login(EMAIL)["access_token"])
    auth.prove_email(EMAIL, headers)
    created = client.post("/v1/merchants", json={"business_name": "Duka Ltd", "settlement": INSTANT}, headers=headers)
    assert created.status_code == 201, created.json
    store = {"rails": ["usdt-tron", "usdt-ethereum"]}
    assert client.put(f"/v1/merchants/{created.json['id']}/store", json=store, headers=headers).status_code == 200
    return str(created.json["id"])


def _log_in(client: FlaskClient, password: str = PASSWORD) -> FlaskClient:
    form = client.get("/dashboard/login")
    body = {"email": EMAIL, "password": password, "csrf_token": _csrf(form.get_data(as_text=True))}
    response = client.post("/dashboard/login", data=body)
    assert response.status_code in (303, 401), response.get_data(as_text=True)
    return client


def test_pages_need_a_login_and_never_take_an_api_key(client, owner, auth):
    """Without a page session every dashboard page sends the visitor to the login page; a bearer token is ignored."""
    headers = bearer(auth.login(EMAIL)["access_token"])
    for path in ("/dashboard/", "/dashboard/invoices", "/dashboard/developers"):
        response = client.get(path, headers=headers)
        assert response.status_code == 303 and response.headers["Location"].startswith("/dashboard/login?next="), path


def test_login_create_an_invoice_and_find_it(client, owner):
    """Log in, create an invoice from the form, see it in the list, search it by order id, open its detail."""
    _log_in(client)
    home = client.get("/dashboard/")
    assert home.status_code == 200 and "Duka Ltd" in home.get_data(as_text=True)
    form = client.get("/dashboard/invoices/new").get_data(as_text=True)
    body = {**_keyed(form), "amount": "2,500", "currency": "KES", "order_id": "A-1001"}
    body["rails"] = ["usdt-tron"]
    created = client.post("/dashboard/invoices/new", data=body)
    assert created.status_code == 303
    detail = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "KES 2,500.00" in detail and "A-1001" in detail and "/pay/" in detail
    listing = client.get("/dashboard/invoices?q=a-10").get_data(as_text=True)
    assert "A-1001" in listing
    assert "A-1001" not in client.get("/dashboard/invoices?state=settled").get_data(as_text=True)


def test_a_double_press_of_create_invoice_makes_one_invoice(client, owner):
    """The new-invoice form posted twice with its form key (a double press, a resent post) makes one invoice; both
    answers lead to it. A refused form is shown again with a fresh key; a form without a key makes nothing."""
    _log_in(client)
    form = client.get("/dashboard/invoices/new").get_data(as_text=True)
    body = {**_keyed(form), "amount": "700", "currency": "KES", "order_id": "D-77", "rails": ["usdt-tron"]}
    first = client.post("/dashboard/invoices/new", data=body)
    second = client.post("/dashboard/invoices/new", data=body)
    assert first.status_code == second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"] and second.headers["Idempotent-Replayed"] == "true"
    listing = client.get("/dashboard/invoices?q=D-77").get_data(as_text=True)
    assert listing.count(">D-77</a>") == 1, listing
    keyless = {k: v for k, v in body.items() if k != "idempotency_key"}
    assert client.post("/dashboard/invoices/new", data=keyless).status_code == 400
    refused = client.post("/dashboard/invoices/new", data={**body, "idempotency_key": "k-2", "amount": "lots"})
    assert refused.status_code == 422 and _keyed(refused.text)["idempotency_key"] not in (
        "k-2",
        body["idempotency_key"],
    )


def test_bad_form_input_is_a_422_page_and_creates_nothing(client, owner):
    """An amount that is not a number re-shows the form with the reason; no invoice is made."""
    _log_in(client)
    form = client.get("/dashboard/invoices/new").get_data(as_text=True)
    bad = client.post("/dashboard/invoices/new", data={**_keyed(form), "amount": "lots", "currency": "KES"})
    assert bad.status_code == 422 and "enter an amount" in bad.get_data(as_text=True)
    assert "No invoices found" in client.get("/dashboard/invoices").get_data(as_text=True)


@pytest.mark.parametrize("amount", ["10,50", "1,5000", "0,500"])
def test_a_decimal_comma_in_a_price_is_refused_not_read_as_thousands(client, owner, amount):
    """A comma that does not group thousands by three is a 422 saying to use a dot, not a price 100 times over."""
    _log_in(client)
    form = client.get("/dashboard/invoices/new").get_data(as_text=True)
    body = {**_keyed(form), "amount": amount, "currency": "KES", "rails": ["usdt-tron"]}
    bad = client.post("/dashboard/invoices/new", data=body)
    assert bad.status_code == 422 and "use a dot for decimals" in bad.get_data(as_text=True)
    assert "No invoices found" in client.get("/dashboard/invoices").get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused(client, owner):
    """A POST without the form's token (a cross-site form) is a 403 and creates nothing."""
    _log_in(client)
    forged = client.post("/dashboard/invoices/new", data={"amount": "100", "currency": "KES"})
    assert forged.status_code == 403
    assert "No invoices found" in client.get("/dashboard/invoices").get_data(as_text=True)
    login = client.post("/dashboard/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": "x.y"})
    assert login.status_code == 403


def test_wrong_password_and_logout_end_the_session(client, owner):
    """A wrong password is a 401 page; logging out revokes the login, so the old cookie no longer works."""
    wrong = client.post(
        "/dashboard/login",
        data={"email": EMAIL, "password": "wrong password!", "csrf_token": _csrf(client.get("/dashboard/login").text)},
    )
    assert wrong.status_code == 401 and "wrong" in wrong.get_data(as_text=True)
    _log_in(client)
    cookie = client.get_cookie("cp_session", path="/")
    assert cookie is not None and cookie.http_only
    home = client.get("/dashboard/").get_data(as_text=True)
    assert client.post("/dashboard/logout", data={"csrf_token": _csrf(home)}).status_code == 303
    client.set_cookie("cp_session", cookie.value, path="/")  # a stolen copy of the old cookie
    assert client.get("/dashboard/").status_code == 303


def test_api_key_needs_the_password_and_is_shown_once(client, owner):
    """Creating an API key asks for the password (a step-up); the secret is shown once, and the key can be revoked."""
    _log_in(client)
    page = client.get("/dashboard/developers").get_data(as_text=True)
    refused = client.post(
        "/dashboard/developers/api-keys",
        data={"csrf_token": _csrf(page), "name": "till", "password": "nope", "idempotency_key": "form-1"},
    )
    assert refused.status_code == 403
    made = client.post(
        "/dashboard/developers/api-keys",
        data={
            "csrf_token": _csrf(page),
            "name": "till",
            "password": PASSWORD,
            "idempotency_key": secrets.token_urlsafe(18),
        },
    )
    html = made.get_data(as_text=True)
    assert made.status_code == 201 and "cp_" in html and "Copy this secret now" in html
    key_id = re.search(r"<code>(key_[^<]+)</code>", html)
    assert key_id
    revoked = client.post(f"/dashboard/developers/api-keys/{key_id.group(1)}/revoke", data={"csrf_token": _csrf(html)})
    assert revoked.status_code == 303
    assert "revoked" in client.get("/dashboard/developers").get_data(as_text=True)


def test_dashboard_in_swahili(client, owner):
    """The language switch turns the dashboard into Swahili."""
    _log_in(client)
    client.get("/lang/sw?next=/dashboard/")
    html = client.get("/dashboard/").get_data(as_text=True)
    assert '<html lang="sw">' in html and "Ankara mpya" in html and "Toka" in html


def test_a_ping_sent_again_from_the_delivery_log_counts_against_the_pings_limit(client, owner, auth, hooks):
    """G12: as over the API, a ping redelivered from the dashboard is a ping: with the test ping itself, the limit's
    sixth is refused (429) and nothing more is sent."""
    _log_in(client)
    headers = bearer(auth.login(EMAIL)["access_token"])
    page = client.get("/dashboard/developers").get_data(as_text=True)
    body = {
        "csrf_token": _csrf(page),
        "url": "https://duka.example/hooks",
        "password": PASSWORD,
        "idempotency_key": secrets.token_urlsafe(18),
    }
    assert client.post("/dashboard/developers/webhooks", data=body).status_code == 201
    (endpoint,) = client.get("/v1/webhook-endpoints", headers=headers).json["data"]
    ping = client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=headers)
    assert ping.status_code == 202, ping.json
    hooks.run_jobs()
    redeliver = f"/dashboard/developers/deliveries/{ping.json['id']}/redeliver"
    answers = []
    for _ in range(5):
        log = client.get("/dashboard/developers").get_data(as_text=True)
        answers.append(client.post(redeliver, data={"csrf_token": _csrf(log)}).status_code)
        hooks.run_jobs()
    assert answers == [303, 303, 303, 303, 429] and len(hooks.sender.sent) == 5


def test_webhook_endpoint_delivery_log_and_redelivery(client, owner, hooks):
    """Add an endpoint (with the password), see an invoice's event delivered in the log, and send it again."""
    _log_in(client)
    page = client.get("/dashboard/developers").get_data(as_text=True)
    body = {
        "csrf_token": _csrf(page),
        "url": "https://duka.example/hooks",
        "password": PASSWORD,
        "idempotency_key": secrets.token_urlsafe(18),
    }
    added = client.post("/dashboard/developers/webhooks", data=body)
    assert added.status_code == 201 and "whsec_" in added.get_data(as_text=True)
    form = client.get("/dashboard/invoices/new").get_data(as_text=True)
    invoice = {**_keyed(form), "amount": "900", "currency": "KES", "rails": ["usdt-tron"]}
    assert client.post("/dashboard/invoices/new", data=invoice).status_code == 303
    delivery_id = hooks.relay()[0]  # invoice.created
    hooks.run_jobs()
    log = client.get("/dashboard/developers").get_data(as_text=True)
    assert "invoice.created" in log and "delivered" in log
    redeliver = f"/dashboard/developers/deliveries/{delivery_id}/redeliver"
    assert client.post(redeliver, data={"csrf_token": _csrf(log)}).status_code == 303
    hooks.run_jobs()
    attempts = [d.attempts for d in hooks.deliveries() if d.id == delivery_id]
    assert attempts == [2] and len(hooks.sender.sent) >= 2


def test_an_endpoint_added_on_the_page_asks_for_payload_version_2(client, owner, auth, hooks, services):
    """The add-endpoint form's payload version 2 makes the endpoint's bodies v2 (shown in the list); a version other
    than 1 or 2 is refused and adds nothing."""
    _log_in(client)
    headers = bearer(auth.login(EMAIL)["access_token"])
    page = client.get("/dashboard/developers").get_data(as_text=True)
    assert 'name="payload_version"' in page
    bad = {
        "csrf_token": _csrf(page),
        "url": "https://duka.example/bad",
        "password": PASSWORD,
        "payload_version": "7",
        "idempotency_key": secrets.token_urlsafe(18),
    }
    assert client.post("/dashboard/developers/webhooks", data=bad).status_code == 422
    assert client.get("/v1/webhook-endpoints", headers=headers).json["data"] == []
    body = {
        "csrf_token": _csrf(page),
        "url": "https://duka.example/hooks",
        "password": PASSWORD,
        "payload_version": "2",
        "idempotency_key": secrets.token_urlsafe(18),
    }
    assert client.post("/dashboard/developers/webhooks", data=body).status_code == 201
    (endpoint,) = client.get("/v1/webhook-endpoints", headers=headers).json["data"]
    assert endpoint["payload_version"] == 2
    page = client.get("/dashboard/developers").get_data(as_text=True)
    assert "payload version 2" in page
    # switching back needs the password, and then applies (audited) to the endpoint's events from now on
    action = f"/dashboard/developers/webhooks/{endpoint['id']}/payload-version"
    refused = client.post(action, data={"csrf_token": _csrf(page), "payload_version": "1", "password": "wrong"})
    assert refused.status_code == 403
    assert client.get("/v1/webhook-endpoints", headers=headers).json["data"][0]["payload_version"] == 2
    switched = client.post(action, data={"csrf_token": _csrf(page), "payload_version": "1", "password": PASSWORD})
    assert switched.status_code == 200 and "payload version 1" in switched.get_data(as_text=True)
    assert client.get("/v1/webhook-endpoints", headers=headers).json["data"][0]["payload_version"] == 1
    audited = [
        dict(r.details).get("payload_version")
        for r in services.audit.records()
        if r.action.startswith("webhook_endpoint.")
    ]
    assert audited == ["2", "1"]  # created as 2, switched to 1
    assert (
        client.post(action, data={"csrf_token": _csrf(page), "payload_version": "5", "password": PASSWORD}).status_code
        == 422
    )
    other = client.post(
        "/dashboard/developers/webhooks/whe_nope/payload-version",
        data={"csrf_token": _csrf(page), "payload_version": "2", "password": PASSWORD},
    )
    assert other.status_code == 404


def test_a_password_with_invisible_characters_logs_in_on_the_page(client, auth):
    """The login form takes the password exactly as the API does: any character but a control (text class SECRET),
    so a zero-width space or soft hyphen pasted into it at registration still logs in."""
    odd = "correct\u200bhorse\u00adbattery\u200cstaple"
    auth.register(EMAIL, "merchant", password=odd)
    for password, status in (("correcthorsebatterystaple", 401), (odd, 303)):
        form = client.get("/dashboard/login").get_data(as_text=True)
        body = {"email": EMAIL, "password": password, "csrf_token": _csrf(form)}
        assert client.post("/dashboard/login", data=body).status_code == status, password


# --- review3 I17: the forms apply the API's text rule (core.text, the field's TextKind) to the same fields: the use
# cases check them whichever shell called. Each text field of each form, given a bidi override, a control character
# or too many characters, is a 422 page and stores nothing (the API refuses the same; it never serves such text).

BIDI, CONTROL = "ORD\u202egnp.exe", "hooks\u0007x"

# (form page, form action, the other fields, the text field under test, where what it would create is listed)
FORMS = [
    (
        "/dashboard/invoices/new",
        "/dashboard/invoices/new",
        {"amount": "500", "currency": "KES", "rails": "usdt-tron"},
        "order_id",
        "/v1/invoices",
    ),
    ("/dashboard/links", "/dashboard/links", {"amount": "50", "currency": "KES"}, "description", "/v1/payment-links"),
    (
        "/dashboard/developers",
        "/dashboard/developers/webhooks",
        {"url": "https://duka.example/hooks", "password": PASSWORD},
        "description",
        "/v1/webhook-endpoints",
    ),
    (
        "/dashboard/developers",
        "/dashboard/developers/api-keys",
        {"password": PASSWORD},
        "name",
        "/v1/merchants/{m}/api-keys",
    ),
]


@pytest.mark.parametrize("value", [BIDI, CONTROL, "long" * 60], ids=["bidi-override", "control", "too-long"])
@pytest.mark.parametrize(
    ("page", "action", "fields", "field", "listing"), FORMS, ids=[f[1] + ":" + f[3] for f in FORMS]
)
def test_every_dashboard_text_field_refuses_what_the_api_refuses(
    client,
    owner,
    auth,
    page,
    action,
    fields,
    field,
    listing,
    value,
):
    _log_in(client)
    headers = bearer(auth.login(EMAIL)["access_token"])
    listing = listing.format(m=owner)
    before = client.get(listing, headers=headers)
    hidden = _keyed(client.get(page).get_data(as_text=True))
    answer = client.post(action, data={**hidden, **fields, field: value})
    assert answer.status_code == 422, (action, field, answer.status_code)
    after = client.get(listing, headers=headers)
    assert after.status_code == before.status_code
    if after.status_code == 200:
        assert after.json["data"] == before.json["data"]


def _form_key(html: str, action: str) -> str:
    """The form key of the rendered form posting to ``action``."""
    form = html[html.index(f'action="{action}"') :]
    found = re.search(r'name="idempotency_key" value="([^"]+)"', form[: form.index("</form>")])
    assert found, form[:400]
    return found.group(1)


def test_a_double_press_or_reload_makes_one_key_and_one_endpoint(client, auth, owner):
    """Reviewer9 R9-6: each secret-issuing form carries its own key; the same rendered form posted twice (a double
    press, a reload of the answer) issues one key / one endpoint, the second answer a redirect to the page listing it
    (no secret again); a second endpoint at a URL the merchant already has is refused (409) over the API too."""
    _log_in(client)
    headers = bearer(auth.login(EMAIL)["access_token"])
    page = client.get("/dashboard/developers").get_data(as_text=True)
    key_form = {
        "csrf_token": _csrf(page),
        "name": "doublepress",
        "password": PASSWORD,
        "idempotency_key": _form_key(page, "/dashboard/developers/api-keys"),
    }
    first = client.post("/dashboard/developers/api-keys", data=key_form)
    assert first.status_code == 201, first.get_data(as_text=True)[:300]
    again = client.post("/dashboard/developers/api-keys", data=key_form)
    assert again.status_code == 303 and again.headers["Location"].endswith("/dashboard/developers")
    keys = client.get(f"/v1/merchants/{owner}/api-keys", headers=headers).json["data"]
    assert [k["name"] for k in keys].count("doublepress") == 1

    hook_form = {
        "csrf_token": _csrf(page),
        "url": "https://duka.example/dp",
        "password": PASSWORD,
        "idempotency_key": _form_key(page, "/dashboard/developers/webhooks"),
    }
    added = client.post("/dashboard/developers/webhooks", data=hook_form)
    assert added.status_code == 201 and "whsec_" in added.get_data(as_text=True)
    replayed = client.post("/dashboard/developers/webhooks", data=hook_form)
    assert replayed.status_code == 303 and "whsec_" not in replayed.get_data(as_text=True)
    fresh = client.get("/dashboard/developers").get_data(as_text=True)
    other_form = {**hook_form, "idempotency_key": _form_key(fresh, "/dashboard/developers/webhooks")}
    duplicate = client.post("/dashboard/developers/webhooks", data=other_form)
    assert duplicate.status_code == 409, duplicate.get_data(as_text=True)[:300]
    endpoints = client.get("/v1/webhook-endpoints", headers=headers).json["data"]
    assert [e["url"] for e in endpoints].count("https://duka.example/dp") == 1
    api = client.post(
        "/v1/webhook-endpoints", json={"url": "https://duka.example/dp"}, headers=auth.stepped_up(headers)
    )
    assert api.status_code == 409 and api.json["code"] == "duplicate_endpoint", api.json


def test_a_double_press_with_a_one_time_code_replays_the_first_answer(client, auth, owner):
    """reader2 M-3: the form's replay worked only with a password: a one-time code is used up by the first press,
    so the second press's step-up was refused (403) before the form key was looked at. The step-up now runs inside
    the form key's claim: the same press again replays the first answer (no second key, no secret again), and a
    wrong code still refuses and leaves the form usable."""
    headers = bearer(auth.login(EMAIL)["access_token"])
    codes = auth.enrol_totp(headers)
    form = client.get("/dashboard/login").get_data(as_text=True)
    body = {"email": EMAIL, "password": PASSWORD, "code": codes[0], "csrf_token": _csrf(form)}
    assert client.post("/dashboard/login", data=body).status_code == 303
    page = client.get("/dashboard/developers").get_data(as_text=True)
    key_form = {
        "csrf_token": _csrf(page),
        "name": "coded",
        "code": "000000",
        "idempotency_key": _form_key(page, "/dashboard/developers/api-keys"),
    }
    assert client.post("/dashboard/developers/api-keys", data=key_form).status_code == 403
    key_form["code"] = codes[1]
    first = client.post("/dashboard/developers/api-keys", data=key_form)
    assert first.status_code == 201 and "Copy this secret now" in first.get_data(as_text=True)
    again = client.post("/dashboard/developers/api-keys", data=key_form)
    assert again.status_code == 303 and again.headers["Location"].endswith("/dashboard/developers")
    fresh = bearer(auth.login(EMAIL, code=codes[2])["access_token"])
    keys = client.get(f"/v1/merchants/{owner}/api-keys", headers=fresh).json["data"]
    assert [k["name"] for k in keys].count("coded") == 1
