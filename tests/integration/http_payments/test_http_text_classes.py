"""Text by field class (``cryptopay.core.text.TextKind``): names and free text take the zero-width non-joiner a
Persian, Urdu or Indic name needs (and free text a pasted soft hyphen), identifiers stay strict, each refusal a 422
naming the field and the character; what is accepted is stored and returned exactly as sent."""

from __future__ import annotations

import pytest

PERSIAN = "\u06a9\u062a\u0627\u0628\u200c\u0641\u0631\u0648\u0634\u06cc"  # a bookshop, with its ZWNJ
HINDI = "\u0915\u094d\u200d\u0937\u0947\u0924\u094d\u0930"  # a half form: virama, then the joiner
SOFT = "Mandazi na chai \u2013 break\u00adfast"  # a soft hyphen pasted from a word processor


def _refused(answer, field: str, says: str) -> None:
    assert answer.status_code == 422 and answer.content_type == "application/problem+json", answer.json
    details = {e["field"]: e["detail"] for e in answer.json["errors"]}
    assert says in details.get(field, ""), answer.json


def test_a_persian_business_name_api_key_label_and_display_name_keep_their_non_joiner(client, auth, shop):
    renamed = client.patch(f"/v1/merchants/{shop.id}", json={"business_name": PERSIAN}, headers=shop.headers)
    assert renamed.status_code == 200 and renamed.json["business_name"] == PERSIAN, renamed.json
    assert client.get(f"/v1/merchants/{shop.id}", headers=shop.headers).json["business_name"] == PERSIAN
    keys = f"/v1/merchants/{shop.id}/api-keys"
    key = client.post(keys, json={"name": HINDI, "scopes": ["invoices:read"]}, headers=shop.stepped)
    assert key.status_code == 201 and key.json["key"]["name"] == HINDI, key.json
    body = {"email": "nasrin@example.ir", "password": "correct horse battery staple", "display_name": PERSIAN}
    assert client.post("/v1/auth/register", json=body).status_code == 202


def test_free_text_keeps_non_joiners_and_soft_hyphens(client, shop):
    """Invoice metadata values, a payment link's description, a webhook endpoint's description."""
    invoice = shop.invoice(metadata={"customer": PERSIAN, "note": SOFT})
    assert invoice["metadata"] == {"customer": PERSIAN, "note": SOFT}
    link = client.post("/v1/payment-links", json={"description": SOFT + " " + PERSIAN}, headers=shop.headers)
    assert link.status_code == 201 and link.json["description"] == SOFT + " " + PERSIAN, link.json
    hook = {"url": "https://duka.example/hooks", "description": SOFT}
    endpoint = client.post("/v1/webhook-endpoints", json=hook, headers=shop.stepped)
    assert endpoint.status_code == 201 and endpoint.json["endpoint"]["description"] == SOFT, endpoint.json


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"amount": "500", "currency": "KES", "order_id": "A-1\u200c"}, "order_id", "U+200C"),
        ({"amount": "500", "currency": "KES", "order_id": PERSIAN}, "order_id", "U+200C"),
        ({"amount": "500", "currency": "KES", "order_id": "A\u00ad1"}, "order_id", "U+00AD"),
        ({"amount": "500", "currency": "KES", "metadata": {"no\u00adte": "x"}}, "metadata", "U+00AD"),
        ({"amount": "500", "currency": "KES", "metadata": {"note": "KPLC\u200b"}}, "metadata", "U+200B"),
        ({"amount": "500", "currency": "KES", "metadata": {"note": "KP\u200cLC"}}, "metadata", "U+200C"),
    ],
)
def test_identifiers_stay_strict_and_free_text_refuses_what_joins_nothing(client, shop, body, field, says):
    """A reference or a metadata key with a non-joiner or soft hyphen, and free text with a zero-width space or a
    non-joiner between Latin letters (where it only hides): 422 naming the field and the character."""
    _refused(client.post("/v1/invoices", json=body, headers=shop.headers), field, says)
    assert client.get("/v1/invoices", headers=shop.headers).json["data"] == []


@pytest.mark.parametrize(
    ("name", "says"), [("KP\u200cLC", "U+200C"), ("KP\u00adLC", "U+00AD"), ("KPLC\u200b", "U+200B")]
)
def test_a_name_that_hides_a_character_is_still_refused(client, shop, name, says):
    """A business name is shown to customers: a non-joiner between Latin letters, or a soft hyphen, looks like
    "KPLC" and stays refused."""
    answer = client.patch(f"/v1/merchants/{shop.id}", json={"business_name": name}, headers=shop.headers)
    _refused(answer, "business_name", says)
    assert client.get(f"/v1/merchants/{shop.id}", headers=shop.headers).json["business_name"] == "Duka Ltd"
