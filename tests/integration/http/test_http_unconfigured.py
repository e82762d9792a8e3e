"""Plain ``cryptopay serve`` (the root's defaults: no chains, no FX) says what to configure, not an empty list."""

from __future__ import annotations

import attrs
from cryptopay.adapters.bootstrap import Settings, build, ready

from tests.integration.http.http_support import AuthActions, fast_hasher, make_app
from tests.support.sql_backends import migrated_sqlite


def test_rails_and_pairs_on_a_server_without_rails_say_what_to_configure(tmp_path):
    """The README's store and FX quote calls on the root's defaults: 422 problems naming what to set (and
    ``serve --dev``), never "is not one of: none offered" or an empty "must be one of: "."""
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path)}
    migrated_sqlite(env)
    root = build(Settings.from_env(env))
    try:
        app = make_app(attrs.evolve(root, password_hasher=ready(fast_hasher())))
        auth = AuthActions(app, app.test_client())
        owner, merchant_id = auth.merchant()
        body = {"rails": ["usdt-ethereum"], "tolerance_percent": "0.5"}
        store = auth.client.put(f"/v1/merchants/{merchant_id}/store", json=body, headers=owner)
        assert store.status_code == 422 and store.content_type == "application/problem+json", store.json
        text = str(store.json)
        assert "no rails configured" in text and "CRYPTOPAY_ETHEREUM_RPC_URL" in text and "serve --dev" in text
        quote = auth.client.get("/v1/fx/quote?pair=USDT/KES", headers=owner)
        assert quote.status_code == 422 and "no rate source configured" in str(quote.json), quote.json
        assert "must be one of: " not in str(quote.json) and "none offered" not in text
    finally:
        root.close()
