"""FX quotes over HTTP (#12.9): each call locks and stores a quote, so who may lock them and how often is bounded."""

from __future__ import annotations

from tests.integration.http.http_support import AuthActions, bearer, make_app


def test_quotes_are_bounded_per_caller_and_refused_to_personal_users(services):
    """A merchant locks quotes up to its per-window limit, then gets 429 with nothing stored; personal users 403."""
    app = make_app(services, quote_rate_limit=3)
    client = app.test_client()
    auth = AuthActions(app, client)
    headers, merchant_id = auth.merchant()
    stored_before = len(services.quotes)  # the stack's in-memory quote repository
    answers = [client.get("/v1/fx/quote?pair=USDT/KES", headers=headers).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    assert len(services.quotes) == stored_before + 3
    assert client.get("/v1/fx/quote?pair=USDT/KES", headers=auth.user("personal")).status_code == 403
    key = auth.api_key(headers, merchant_id, ["fx:quote"])
    assert client.get("/v1/fx/quote?pair=USDT/KES", headers=bearer(key)).status_code == 200
