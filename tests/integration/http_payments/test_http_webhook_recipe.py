"""Review F7: the README's webhook verification recipe, run as written against real signed deliveries."""

from __future__ import annotations

import re
import types
from pathlib import Path

from tests.integration.http_payments.payments_support import WebhookRig

README = Path(__file__).resolve().parents[3] / "README.md"


def _recipe(hooks: WebhookRig) -> types.FunctionType:
    """The README's snippet, executed, with its ``time.time()`` reading the test clock."""
    text = README.read_text()
    (code,) = re.findall(r"<!-- webhook-verification -->\n```python\n(.*?)```", text, re.DOTALL)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    namespace["time"] = types.SimpleNamespace(time=lambda: hooks.clock.now().timestamp())
    recipe = namespace["verified_webhook_id"]
    assert isinstance(recipe, types.FunctionType)
    return recipe


def test_the_readme_recipe_accepts_our_deliveries_and_refuses_tampering_replays_and_old_secrets(client, hooks, shop):
    """A delivery verifies with the endpoint's secret, and after a rotation with either secret (both signatures
    are sent); a changed body, a wrong secret or a delivery older than five minutes is refused."""
    created = client.post("/v1/webhook-endpoints", json={"url": "https://duka.example/hooks"}, headers=shop.stepped)
    secret, endpoint_id = created.json["secret"], created.json["endpoint"]["id"]
    recipe = _recipe(hooks)
    shop.invoice()
    hooks.relay()
    hooks.run_jobs()
    sent = hooks.sender.sent[-1]
    headers = {k.lower(): v for k, v in sent.headers.items()}
    assert recipe(secret, headers, sent.body) == headers["webhook-id"]
    assert recipe(secret, headers, sent.body.replace(b"}", b" }", 1)) is None
    assert recipe(secret.replace(secret[-5], "A" if secret[-5] != "A" else "B"), headers, sent.body) is None
    hooks.clock.advance(minutes=6)
    assert recipe(secret, headers, sent.body) is None
    rotate = f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret"
    new = client.post(rotate, json={"overlap_seconds": 3600}, headers=shop.stepped).json["secret"]
    shop.invoice()
    hooks.relay()
    hooks.run_jobs()
    rotated = hooks.sender.sent[-1]
    headers = {k.lower(): v for k, v in rotated.headers.items()}
    assert len(headers["webhook-signature"].split()) == 2
    assert recipe(new, headers, rotated.body) == recipe(secret, headers, rotated.body) == headers["webhook-id"]
