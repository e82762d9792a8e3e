"""Payment-link pages: a fixed-price link and an open-amount link each become an invoice's checkout page."""

from __future__ import annotations

import json
import re
import time

from tests.integration.web.test_dashboard_pages import _csrf, _keyed
from tests.integration.web.test_dashboard_pages import owner as owner


def _link(client, shop, **body) -> str:
    created = client.post("/v1/payment-links", json={"description": "Mandazi", **body}, headers=shop.headers)
    assert created.status_code == 201, created.json
    return str(created.json["public_id"])


def test_an_integer_field_written_with_a_huge_exponent_is_refused_at_once(client, shop):
    """R9-5: a JSON integer written as ``1e300000`` was turned into a 300,000-digit int before its range was checked
    (seconds of CPU per request); it is the field's 422 at once."""
    started = time.monotonic()
    body = {"description": "Mandazi", "amount": "500", "max_uses": 1, "expires_in_minutes": 10}
    for huge in ("1e300000", "1E+999999"):
        raw = json.dumps(body).replace('"expires_in_minutes": 10', f'"expires_in_minutes": {huge}')
        sent = client.post("/v1/payment-links", data=raw, content_type="application/json", headers=shop.headers)
        assert sent.status_code == 422 and "expires_in_minutes" in sent.json["detail"], sent.json
    assert time.monotonic() - started < 2


def test_a_fixed_price_link_opens_a_checkout_page(client, shop):
    """The page shows the price and the merchant; continuing makes an invoice and goes to its checkout page."""
    public_id = _link(client, shop, amount="500", rails=["usdt-tron"], max_uses=1)
    page = client.get(f"/link/{public_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "KES 500.00" in html and "Duka Ltd" in html
    used = client.post(f"/link/{public_id}", data={**_keyed(html)})
    assert used.status_code == 303 and re.fullmatch(r"/pay/[A-Za-z0-9_-]{22}", used.headers["Location"])
    assert "KES 500.00" in client.get(used.headers["Location"]).get_data(as_text=True)
    busy = client.get(f"/link/{public_id}").get_data(as_text=True)  # its one use held by that unpaid checkout
    assert "taken by a checkout in progress" in busy and "free up within 5 min" in busy
    assert "This payment link is closed." not in busy and 'name="csrf_token"' not in busy


def test_an_open_amount_link_asks_for_the_amount(client, shop):
    """Without a fixed price the payer enters one; a bad amount re-shows the form with the reason (422)."""
    public_id = _link(client, shop)
    html = client.get(f"/link/{public_id}").get_data(as_text=True)
    assert 'id="amount"' in html
    bad = client.post(f"/link/{public_id}", data={**_keyed(html), "amount": "lots"})
    assert bad.status_code == 422 and "enter an amount" in bad.get_data(as_text=True)
    amount = re.search(r'<input id="amount"[^>]*>', bad.get_data(as_text=True))
    assert amount and 'value="lots"' in amount.group(0) and 'aria-invalid="true"' in amount.group(0)
    assert "refusal" in amount.group(0)  # described by the refusal (and the bounds)
    good = client.post(f"/link/{public_id}", data={**_keyed(html), "amount": "1,250"})
    assert good.status_code == 303
    assert "KES 1,250.00" in client.get(good.headers["Location"]).get_data(as_text=True)


def test_a_link_form_without_its_token_is_refused_and_unknown_links_are_404(client, shop):
    """A cross-site post makes no invoice (403); an unknown link is an HTML 404."""
    public_id = _link(client, shop, amount="500", max_uses=1)
    assert client.post(f"/link/{public_id}", data={}).status_code == 403
    assert "Continue to pay" in client.get(f"/link/{public_id}").get_data(as_text=True)  # still unused
    missing = client.get("/link/pl_nothing-here")
    assert missing.status_code == 404 and missing.mimetype == "text/html"


def test_the_dashboard_creates_lists_and_deactivates_links(client, owner):
    """A merchant creates a capped link on the dashboard, sees it listed with its uses, and deactivates it."""
    from tests.integration.web.test_dashboard_pages import _log_in

    _log_in(client)
    html = client.get("/dashboard/links").get_data(as_text=True)
    body = {"csrf_token": _csrf(html), "description": "Chapati", "amount": "60", "currency": "KES", "max_uses": "3"}
    assert client.post("/dashboard/links", data=body).status_code == 303
    listed = client.get("/dashboard/links").get_data(as_text=True)
    assert "Chapati" in listed and "KES 60.00" in listed and "0 / 3" in listed
    # "²": str.isdigit() says yes, int() says no; 5,000 digits: int() refuses over 4,300 (R9-5): each a 500 before
    for odd in ("-1", "\u00b2", "9" * 5000):
        bad = client.post("/dashboard/links", data={**body, "max_uses": odd})
        assert bad.status_code == 422 and "whole number" in bad.get_data(as_text=True)
    assert client.get("/dashboard/links").get_data(as_text=True).count("Chapati") == listed.count("Chapati")
    too_small = client.post("/dashboard/links", data={**body, "amount": "5"})  # below KES 10: the link bounds
    assert too_small.status_code == 422 and "below this link&#39;s minimum" in too_small.get_data(as_text=True)
    link_id = re.search(r"/dashboard/links/([^/]+)/deactivate", listed)
    assert link_id
    assert (
        client.post(f"/dashboard/links/{link_id.group(1)}/deactivate", data={"csrf_token": _csrf(listed)}).status_code
        == 303
    )
    public_id = re.search(r'href="/link/([^"]+)"', listed)
    assert public_id and "This payment link is closed." in client.get(f"/link/{public_id.group(1)}").get_data(
        as_text=True
    )


def test_an_open_amount_link_says_its_bounds_and_refuses_amounts_outside_them(client, shop):
    """The form says from what to what (English and Swahili); too little, too much or cents re-show it with why (422)
    and make no invoice."""
    public_id = _link(client, shop)
    html = client.get(f"/link/{public_id}").get_data(as_text=True)
    assert "From KES 10.00 to KES 1,000,000.00." in html and "Whole amounts only, no cents." in html
    assert 'aria-describedby="amount-bounds"' in html and 'inputmode="numeric"' in html
    for amount, why in (("5", "below this link"), ("2,000,000", "above this link"), ("250.50", "whole")):
        refused = client.post(f"/link/{public_id}", data={**_keyed(html), "amount": amount})
        assert refused.status_code == 422 and why in refused.get_data(as_text=True), amount
    client.get("/lang/sw?next=/")
    swahili = client.get(f"/link/{public_id}").get_data(as_text=True)
    assert "Kuanzia KES 10.00 hadi KES 1,000,000.00." in swahili and "Kiasi kamili tu, bila senti." in swahili
    shop_invoices = client.get("/v1/invoices", headers=shop.headers).json["data"]
    assert shop_invoices == []


def test_a_double_press_of_the_pay_button_makes_one_invoice(client, shop):
    """The same form posted twice (a double press, a resent post) leads to the same checkout: one invoice, one use
    of the link. A fresh rendering is a new payment; a form without its key, or with a guessable one, makes none."""
    public_id = _link(client, shop, amount="500", rails=["usdt-tron"], max_uses=2)
    html = client.get(f"/link/{public_id}").get_data(as_text=True)
    form = _keyed(html)
    first = client.post(f"/link/{public_id}", data=form)
    second = client.post(f"/link/{public_id}", data=form)
    assert first.status_code == second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"] and second.headers["Idempotent-Replayed"] == "true"
    assert "Continue to pay" in client.get(f"/link/{public_id}").get_data(as_text=True)  # one use of two
    missing = client.post(f"/link/{public_id}", data={"csrf_token": form["csrf_token"]})
    weak = client.post(f"/link/{public_id}", data={**form, "idempotency_key": "order-1"})
    assert missing.status_code == 400 and weak.status_code == 422
    again = client.post(f"/link/{public_id}", data=_keyed(client.get(f"/link/{public_id}").get_data(as_text=True)))
    assert again.status_code == 303 and again.headers["Location"] != first.headers["Location"]
    assert "taken by a checkout in progress" in client.get(f"/link/{public_id}").get_data(as_text=True)  # two uses


def test_a_third_unpaid_checkout_from_one_address_is_a_429_page_in_the_payer_s_language(client, shop):
    """Review5 S7: the page refuses a third open checkout of a capped link from one address (429, nothing made),
    in Swahili with the English reason below."""
    public_id = _link(client, shop, amount="500", rails=["usdt-tron"], max_uses=5)
    sw = {"Accept-Language": "sw"}
    for _ in range(2):
        html = client.get(f"/link/{public_id}").get_data(as_text=True)
        assert client.post(f"/link/{public_id}", data={**_keyed(html)}).status_code == 303
    html = client.get(f"/link/{public_id}", headers=sw).get_data(as_text=True)
    busy = client.post(f"/link/{public_id}", data={**_keyed(html)}, headers=sw)
    shown = busy.get_data(as_text=True)
    assert busy.status_code == 429 and "Kiungo hiki kina shughuli nyingi" in shown and "unpaid checkouts" in shown


def test_a_link_held_full_by_unpaid_checkouts_says_busy_and_when_never_closed(client, shop):
    """Review6 F11: checkouts in progress (nothing paid) fill a 2-use link: its page says so and in how many minutes
    a place may free up, in English and Swahili; another payer's API use is a 429 with Retry-After, not
    payment_link_closed "used 2 times"."""
    public_id = _link(client, shop, amount="500", rails=["usdt-tron"], max_uses=2)
    for _ in range(2):
        html = client.get(f"/link/{public_id}").get_data(as_text=True)
        assert client.post(f"/link/{public_id}", data={**_keyed(html)}).status_code == 303
    english = client.get(f"/link/{public_id}").get_data(as_text=True)
    assert "Every place on this link is taken by a checkout in progress" in english
    assert "A place may free up within 5 min" in english and "closed" not in english
    swahili = client.get(f"/link/{public_id}", headers={"Accept-Language": "sw"}).get_data(as_text=True)
    assert "Nafasi zote za kiungo hiki zimechukuliwa" in swahili and "ndani ya dakika 5" in swahili
    other = client.post(f"/v1/payment-links/{public_id}/invoices", json={}, environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert other.status_code == 429 and other.json["code"] == "payment_link_busy", other.json
    assert 0 < int(other.headers["Retry-After"]) <= 300
    assert "checkout in progress" in other.json["detail"] and "used" not in other.json["detail"]


def test_a_link_description_is_shown_as_the_merchant_s_note_and_never_speaks_as_a_brand(client, shop):
    """Review6 F2: the payer reads the description as the merchant's words ("Note from Duka Ltd:"), never as the
    page's heading; one that speaks as M-Pesa, Safaricom or another reserved brand is refused (422), nothing made,
    while naming a brand honestly is fine."""
    public_id = _link(client, shop, description="Airtel airtime top-up")
    html = client.get(f"/link/{public_id}").get_data(as_text=True)
    assert "Note from Duka Ltd:</span> Airtel airtime top-up" in html
    assert re.search(r"<h1>\s*Pay Duka Ltd\s*</h1>", html), html
    sw = client.get(f"/link/{public_id}", headers={"Accept-Language": "sw"}).get_data(as_text=True)
    assert "Ujumbe kutoka kwa Duka Ltd:" in sw
    before = client.get("/v1/payment-links", headers=shop.headers).json
    for description in (
        "Safaricom M-PESA official top-up",  # the reviewer's
        "M-PESA Agent float",
        "\uff2d\uff30\uff25\uff33\uff21 top-up",  # ＭＰＥＳＡ, fullwidth
        "M-PE$A reversal",
        "S\u0430faricom bundles",  # a Cyrillic а
        "KPLC customer care: pay here",
    ):
        refused = client.post("/v1/payment-links", json={"description": description}, headers=shop.headers)
        assert refused.status_code == 422 and refused.json["code"] == "impersonating_text", refused.json
        assert refused.mimetype == "application/problem+json"
    assert client.get("/v1/payment-links", headers=shop.headers).json == before


def test_an_invoice_order_reference_on_the_checkout_never_speaks_as_a_brand(client, shop):
    """The checkout shows an invoice's ``order_id`` ("Order ...") to the payer: the same channel as a link's
    description (review6 F2), so one speaking as a brand is a 422 problem; a shop's own reference is kept."""
    kept = shop.invoice(order_id="KPLC-TOKENS-1001")  # naming what is sold
    assert kept["order_id"] == "KPLC-TOKENS-1001"
    listed = client.get("/v1/invoices", headers=shop.headers).json
    refusals = ("MPESA-OFFICIAL-REVERSAL", "Safaricom_Customer_Care", "\uff2d\uff30\uff25\uff33\uff21-77")
    # review7 F7: digits for letters too, as in a link's description ("Order M-PE5A-REVERSAL" on the checkout)
    for order_id in (*refusals, "M-PE5A-REVERSAL", "5AFARICOM-REFUND", "SAFAR1COM", "MPE5AREVERSAL"):
        body = {"amount": "500", "currency": "KES", "order_id": order_id}
        refused = client.post("/v1/invoices", json=body, headers=shop.headers)
        assert refused.status_code == 422 and refused.json["code"] == "impersonating_text", refused.json
        assert refused.mimetype == "application/problem+json" and "order_id" in str(refused.json), refused.json
    assert client.get("/v1/invoices", headers=shop.headers).json == listed  # nothing stored
    # a shop's random reference (a ULID) whose digits spell a brand inside its run by chance is kept and found
    ulid = "BHSN75P2WXGJ2K5TGPR5H1FYM6"
    assert shop.invoice(order_id=ulid)["order_id"] == ulid
    found = client.get(f"/v1/invoices?order_id={ulid}", headers=shop.headers)
    assert found.status_code == 200 and [i["order_id"] for i in found.json["data"]] == [ulid], found.json


def test_a_merchant_sees_a_link_its_checkouts_fill_as_busy_and_may_still_deactivate_it(client, owner, services):
    """Review6 F11, the merchant's side: two unpaid checkouts fill a 2-use link; the dashboard says busy (English and
    Swahili) and still offers Deactivate, and the API's closed_reason says checkouts in progress, not "used 2 times"."""
    from tests.integration.web.test_dashboard_pages import _log_in

    _log_in(client)
    html = client.get("/dashboard/links").get_data(as_text=True)
    body = {"csrf_token": _csrf(html), "description": "Tickets", "amount": "500", "currency": "KES", "max_uses": "2"}
    assert client.post("/dashboard/links", data=body).status_code == 303
    public_id = re.search(r'href="/link/([^"]+)"', client.get("/dashboard/links").get_data(as_text=True))
    assert public_id
    for address in ("192.0.2.1", "192.0.2.2"):
        services.payment_links.create_invoice(public_id.group(1), client=address)
    listed = client.get("/dashboard/links").get_data(as_text=True)
    assert "busy: every use is held by a checkout in progress" in listed and "2 / 2" in listed
    assert "/deactivate" in listed and ">closed<" not in listed
    swahili = client.get("/dashboard/links", headers={"Accept-Language": "sw"}).get_data(as_text=True)
    assert "ina shughuli: kila matumizi yameshikiliwa" in swahili
    link = services.payment_links.load_public(public_id.group(1))
    reason = services.payment_links.closed_reason(link)
    assert reason is not None and "checkouts in progress" in reason and "used" not in reason
