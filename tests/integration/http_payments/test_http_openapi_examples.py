"""The OpenAPI document's request examples: each is a body the edge accepts, and each call of the README's curl tour
that sends a body shows one (a newcomer reads /docs beside the tour)."""

from __future__ import annotations

import re
from typing import Any

from cryptopay_http.convert import structure_request
from flask import Flask
from flask.testing import FlaskClient

TOUR = {  # the README's curl tour: every call with a JSON body worth showing
    ("post", "/v1/auth/register"),
    ("post", "/v1/auth/login"),
    ("post", "/v1/auth/email/verify"),
    ("post", "/v1/auth/step-up"),
    ("post", "/v1/merchants"),
    ("put", "/v1/merchants/{merchant_id}/store"),
    ("post", "/v1/merchants/{merchant_id}/api-keys"),
    ("post", "/v1/webhook-endpoints"),
    ("post", "/v1/invoices"),
    ("post", "/v1/invoices/{invoice_id}/refunds"),
    ("post", "/v1/payment-links"),
    ("post", "/v1/payment-links/{public_id}/invoices"),
}


def _documented(client: FlaskClient) -> dict[tuple[str, str], Any]:
    """Each operation's request example in /openapi.json, by (method, path)."""
    paths = client.get("/openapi.json").json["paths"]
    return {
        (method, path): operation["requestBody"]["content"]["application/json"]["example"]
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "example" in operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    }


def test_every_request_example_is_a_body_the_edge_accepts(app: Flask, client: FlaskClient) -> None:
    """The example of each documented view parses with the request type the view reads (the same strict parser, in a
    request of this app: the rails it offers are the choices), and is what the document shows."""
    documented = _documented(client)
    checked = 0
    for rule in app.url_map.iter_rules():
        meta = getattr(app.view_functions[rule.endpoint], "__openapi__", {})
        if "example" not in meta:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            assert documented[(method.lower(), path)] == meta["example"], path
        with app.test_request_context(rule.rule, method="POST"):
            structure_request(meta["request"], meta["example"])  # raises ValidationFailed naming the field
        checked += 1
    assert checked == len(documented) >= len(TOUR)


def test_the_readme_tour_calls_show_an_example(client: FlaskClient) -> None:
    """Every call of the README's curl tour that sends a body has its example in the document."""
    assert TOUR - set(_documented(client)) == set()
