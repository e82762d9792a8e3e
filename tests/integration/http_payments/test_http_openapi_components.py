"""Review F14: every component of the OpenAPI document describes one class, and real settlements validate against it."""

from __future__ import annotations

import attrs
import jsonschema_rs
import pytest
from cryptopay_http.openapi import Components, build_document, schema_for

from tests.integration.http_payments.payments_support import idem


def _validator(document, name):
    """A validator of ``#/components/schemas/{name}`` that resolves the document's other components."""
    return jsonschema_rs.validator_for({"$ref": f"#/components/schemas/{name}", "components": document["components"]})


def test_two_classes_of_one_name_cannot_share_a_component():
    """A second class claiming a component name another class holds raises instead of being documented wrongly."""

    def view(field: str) -> type:
        return attrs.frozen(type("ConversionView", (), {"__annotations__": {field: str}}))

    components = Components()
    schema_for(view("quote_id"), components)
    with pytest.raises(TypeError, match="two schemas named ConversionView"):
        schema_for(view("reference"), components)


def test_the_apps_document_builds_with_one_class_per_component(app):
    """The whole app's document builds (a clash raises) and the settlement's conversions are its own schema."""
    with app.app_context():
        schemas = build_document(app)["components"]["schemas"]
    item = schemas["SettlementView"]["properties"]["conversions"]["items"]
    assert item == {"$ref": "#/components/schemas/SettlementConversionView"}
    assert set(schemas["SettlementConversionView"]["properties"]) == {"quote_id", "converted", "credited", "fx_spread"}


def test_a_real_settlement_with_conversions_validates_against_the_document(client, stack, shop):
    """A settled USDT invoice's settlement, as listed and as read by id, matches the published SettlementView."""
    document = client.get("/openapi.json").json
    stack.pay(shop.invoice()["id"])
    stack.confirm(3)
    run = client.post("/v1/settlements/run", json={}, headers=idem(shop.headers))
    settlement = run.json["runs"][0]["settlement"]
    assert settlement["conversions"], settlement
    read = client.get(f"/v1/settlements/{settlement['id']}", headers=shop.headers).json
    listed = client.get("/v1/settlements", headers=shop.headers).json["data"]
    validator = _validator(document, "SettlementView")
    for body in (read, *listed):
        assert [e.message for e in validator.iter_errors(body)] == []
