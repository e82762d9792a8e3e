"""The payment resources over the composition root's real ``Services`` (SQLite): the wiring the server runs with."""

from __future__ import annotations

import attrs
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.bootstrap import build, payout_urls, ready
from cryptopay.adapters.passwords import Argon2Hasher

from tests.integration.http.http_support import AuthActions, make_app
from tests.integration.http_payments.payments_support import INSTANT, Shop

TRON_XPUB = (
    "xpub6CUGRUonZSQ4TWtTMmzXdrXDtypWKiKrhko4egpiMZbpiaQL2jkwSB1icqYh2cfDfVxdx4df189oLKnC5fSwqPfgyP3hooxujYzAu3fDVmz"
)


def test_the_root_serves_stores_listings_and_webhooks_and_calls_back_to_our_hooks(tmp_path):
    """Over the real root: stores, listings, webhook endpoints and FX refusals work; Daraja gets our hook URLs."""
    env = {
        "CRYPTOPAY_DATA_DIR": str(tmp_path),
        "CRYPTOPAY_PUBLIC_URL": "https://pay.example.com",
        "CRYPTOPAY_TRON_API_URL": "http://127.0.0.1:9",
        # a rail is offered only with its network's address deriver (review 4, R8)
        "CRYPTOPAY_TRON_XPUB": TRON_XPUB,
        "CRYPTOPAY_FX_SANDBOX_URL": "http://127.0.0.1:9",
    }
    root = build(RootSettings.from_env(env))
    try:
        app = make_app(attrs.evolve(root, password_hasher=ready(Argon2Hasher(time_cost=1, memory_cost=1024))))
        client = app.test_client()
        shop = Shop(AuthActions(app, client), client, "Duka Ltd", INSTANT)
        assert shop.store(["usdt-tron"])["rails"] == ["usdt-tron"]
        refused = client.put(f"/v1/merchants/{shop.id}/store", json={"rails": ["usdt-ethereum"]}, headers=shop.headers)
        assert refused.status_code == 422 and "usdt-tron" in refused.json["detail"]
        for path in ("/v1/invoices", "/v1/settlements", "/v1/payouts", "/v1/webhook-deliveries"):
            assert client.get(path, headers=shop.headers).json == {"data": [], "next_cursor": None}, path
        body, stepped = {"url": "https://duka.example/hooks"}, shop.auth.stepped_up(shop.headers)
        created = client.post("/v1/webhook-endpoints", json=body, headers=stepped)
        assert created.status_code == 201 and created.json["secret"].startswith("whsec_")
        listed = client.get("/v1/webhook-endpoints", headers=shop.headers).json["data"]
        assert [e["id"] for e in listed] == [created.json["endpoint"]["id"]]
        quote = client.get("/v1/fx/quote?pair=USDT/KES", headers=shop.headers)  # no FX source answers on port 9
        assert quote.status_code == 503 and quote.content_type == "application/problem+json"
        urls = payout_urls(root.settings.public_url)
        assert urls.result == "https://pay.example.com/hooks/daraja/payouts/result"
        rules = {rule.rule.rsplit("/<", 1)[0] for rule in app.url_map.iter_rules()}
        for url in (urls.result, urls.timeout, urls.status_result, urls.status_timeout):
            assert url.removeprefix("https://pay.example.com") in rules
    finally:
        root.close()
