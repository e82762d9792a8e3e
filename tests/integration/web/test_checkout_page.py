"""The hosted checkout page over the in-memory stack: what a payer sees at each step, with and without htmx."""

from __future__ import annotations

import re
from pathlib import Path

from cryptopay.core.money import Money
from cryptopay_http import pages


def _public_path(invoice: dict) -> str:
    return invoice["checkout_url"].removeprefix("http://127.0.0.1:8000")


def test_checkout_page_shows_price_rails_address_and_wallet_link(client, shop):
    """The page names the merchant, the price in KES, every rail, the chosen rail's amount, address and URI."""
    invoice = shop.invoice("5000", rails=["usdt-tron", "usdt-ethereum"])
    path = _public_path(invoice)
    assert re.fullmatch(r"/pay/[A-Za-z0-9_-]{22}", path)
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Duka Ltd" in html and "KES 5,000.00" in html
    assert "?rail=usdt-tron" in html and "?rail=usdt-ethereum" in html
    tron = invoice["payment_options"][0]
    assert tron["address"] in html and tron["uri"].replace("&", "&amp;") in html
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    ethereum = client.get(f"{path}?rail=usdt-ethereum").get_data(as_text=True)
    assert invoice["payment_options"][1]["address"] in ethereum
    qr = client.get(f"{path}/qr.svg?rail=usdt-ethereum")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"


def test_checkout_status_follows_the_payment(client, shop, stack):
    """waiting -> underpaid (send the remaining) -> confirming -> paid with a receipt; htmx is told to stop at the end."""
    invoice = shop.invoice("5000", rails=["usdt-tron"], return_url="https://duka.example/thanks")
    path = _public_path(invoice)
    assert "Waiting for your payment" in client.get(f"{path}/status").get_data(as_text=True)
    due = Money.of(invoice["payment_options"][0]["amount"], "USDT")
    half = Money.of((due.amount / 2).quantize(due.asset.quantum), "USDT")
    stack.pay(invoice["id"], half)
    stack.sync()
    underpaid = client.get(f"{path}/status").get_data(as_text=True)
    assert "Part of the payment has arrived" in underpaid and "Send the remaining" in underpaid
    stack.pay(invoice["id"], Money.of(due.amount - half.amount, "USDT"))
    stack.tick(minutes=1)
    assert "Confirming your payment" in client.get(f"{path}/status").get_data(as_text=True)
    stack.confirm(blocks=20)
    final = client.get(f"{path}/status", headers={"HX-Request": "true"})
    html = final.get_data(as_text=True)
    assert final.status_code == 286  # htmx stops polling
    assert "Paid. Thank you!" in html and "Receipt" in html and "https://duka.example/thanks" in html
    assert client.get(f"{path}/status").status_code == 200  # without htmx, an ordinary page


def test_only_pages_with_a_live_part_load_htmx(client, shop):
    """The checkout polls its status with htmx and loads it; a page without a live part (the login) does not, and
    every template that polls says so (``live``), so no polling page goes without it."""
    checkout = client.get(_public_path(shop.invoice("5000"))).get_data(as_text=True)
    assert 'hx-get="' in checkout and re.search(r'<script src="/static/htmx\.min\.[0-9a-f]+\.js" defer>', checkout)
    login = client.get("/dashboard/login").get_data(as_text=True)
    assert "htmx" not in login and "/static/app." in login
    templates = Path(pages.__file__).parent / "templates"
    polling = [t for t in templates.rglob("*.html") if "hx-get" in t.read_text()]
    assert len(polling) >= 4 and all("{% set live = true %}" in t.read_text() for t in polling)


def test_unknown_checkout_id_is_an_html_404(client):
    """A guessed id is a plain 404 page, in HTML, not problem+json."""
    page = client.get("/pay/AAAAAAAAAAAAAAAAAAAAAA")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "Not found" in page.get_data(as_text=True)


def test_checkout_page_in_swahili_from_the_browser_and_the_switch(client, shop):
    """Accept-Language picks Swahili; the switch's cookie overrides it; the switch never redirects off-site."""
    path = _public_path(shop.invoice("100"))
    sw = client.get(path, headers={"Accept-Language": "sw-KE,sw;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="sw">' in sw and "Lipa kwa" in sw
    switched = client.get(f"/lang/en?next={path}")
    assert switched.status_code == 303 and switched.headers["Location"] == path
    en = client.get(path, headers={"Accept-Language": "sw"}).get_data(as_text=True)
    assert '<html lang="en">' in en
    assert client.get("/lang/sw?next=//evil.example/").headers["Location"] == "/dashboard"
    for sneaky in ("/%5Cevil.example/", "/%5C%5Cevil.example"):  # browsers read "/\\" as "//", another host
        answer = client.get(f"/lang/sw?next={sneaky}")
        assert answer.headers.get("Location") == "/dashboard", (sneaky, answer.status_code)
    crlf = client.get("/lang/sw?next=/pay/x%0D%0ALocation:%20//evil.example")
    assert crlf.status_code == 422 and "Location" not in crlf.headers  # control characters are refused first


def test_the_installable_shell_caches_no_money_data(client):
    """The manifest names the app and its icons; the service worker caches only static files and the offline page."""
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json" and manifest.json["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest.json["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest.json["icons"]:
        assert client.get(icon["src"]).status_code == 200
    worker = client.get("/sw.js")
    source = worker.get_data(as_text=True)
    assert worker.mimetype == "text/javascript" and worker.headers["Cache-Control"] == "no-cache"
    shell = re.search(r"var SHELL = (\[.*?\]);", source)
    assert shell, source
    cached = re.findall(r'"([^"]+)"', shell.group(1))
    assert cached and all(path.startswith("/static/") or path == "/offline" for path in cached), cached
    assert all(client.get(path).status_code == 200 for path in cached)
    offline = client.get("/offline", headers={"Accept-Language": "sw"}).get_data(as_text=True)
    assert "Huna mtandao" in offline


def test_static_assets_are_fingerprinted_gzipped_and_cached_for_a_year(client, shop):
    """Each asset the pages link has a content hash in its name, a gzip answer, and a year of immutable caching,
    even when the browser sends a cookie."""
    html = client.get(_public_path(shop.invoice("100"))).get_data(as_text=True)
    links = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert len(links) >= 4
    for link in links:
        assert re.search(r"\.[0-9a-f]{10}\.(css|js|svg|png)$", link), link
        client.set_cookie("cp_lang", "en")
        answer = client.get(link, headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200 and answer.headers["Content-Encoding"] == "gzip"
        assert "immutable" in answer.headers["Cache-Control"] and "max-age=31536000" in answer.headers["Cache-Control"]
        assert "no-store" not in answer.headers["Cache-Control"]
    assert client.get("/static/pico.min.css").status_code == 404  # only fingerprinted names are served


def test_a_cancelled_invoice_tells_the_payer_not_to_pay(client, shop):
    """Once the merchant cancels, the page says so, shows no address to pay, and htmx stops polling."""
    invoice = shop.invoice("300", rails=["usdt-tron"])
    assert client.post(f"/v1/invoices/{invoice['id']}/cancel", headers=shop.headers).status_code == 200
    path = _public_path(invoice)
    html = client.get(path).get_data(as_text=True)
    assert "This payment request was cancelled" in html and "Do not send anything" in html
    assert invoice["payment_options"][0]["address"] not in html
    assert client.get(f"{path}/status", headers={"HX-Request": "true"}).status_code == 286
