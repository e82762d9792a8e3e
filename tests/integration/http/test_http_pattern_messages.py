"""A value that does not fit its field's pattern is told so in words (the field's hint or what the field holds),
never by the regular expression; the OpenAPI document keeps the pattern."""

from __future__ import annotations

import typing
from collections.abc import Iterator

import attrs
import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity.service import EMAIL_RULE
from cryptopay.core.wallets.billers import biller_catalogue
from cryptopay_http.convert import pattern_problem

from tests.support.customer_keys import customer_key


def _fields(kind: object, seen: set[type]) -> Iterator[tuple[str, attrs.Attribute]]:
    """Every field of an attrs request class, nested classes and lists of them included."""
    if not isinstance(kind, type) or not attrs.has(kind) or kind in seen:
        return
    seen.add(kind)
    hints = typing.get_type_hints(kind)
    for field in attrs.fields(kind):
        yield f"{kind.__name__}.{field.name}", field
        hint = hints.get(field.name)
        for inner in (hint, *typing.get_args(hint)):
            for nested in (inner, *typing.get_args(inner)):
                yield from _fields(nested, seen)


def _request_fields(app) -> list[tuple[str, attrs.Attribute]]:
    seen: set[type] = set()
    found = []
    for view in app.view_functions.values():
        found += _fields(getattr(view, "__openapi__", {}).get("request"), seen)
    return found


def test_every_patterned_request_field_explains_itself_in_words(app):
    """Each field with a pattern has a hint or a description, so its message says what to enter, not a regex."""
    patterned = [(name, f.metadata) for name, f in _request_fields(app) if "pattern" in f.metadata]
    assert len(patterned) > 20  # the sweep reaches the blueprints' request classes
    unexplained = [
        name
        for name, declared in patterned
        if pattern_problem(declared.get("hint"), declared.get("description")) == "is not in the expected form"
    ]
    assert unexplained == []


def test_an_invitation_to_a_bad_address_says_so_in_words(client, auth):
    """The invitation's email: a readable 422 naming the field, no regular expression."""
    owner, _ = auth.merchant()
    answer = client.post("/v1/merchants/me/invitations", json={"email": "x@y", "role": "staff"}, headers=owner)
    assert answer.status_code == 422 and answer.content_type == "application/problem+json"
    assert answer.json["errors"] == [{"field": "email", "detail": EMAIL_RULE}]
    assert "^" not in answer.json["detail"] and "[" not in answer.json["detail"]


def test_a_field_without_a_hint_is_told_what_it_holds(client):
    """A remittance sender's country (a pattern, no hint): the problem names the field and describes it."""
    body = {
        "recipient_phone": "0712345678",
        "recipient_name": "Achieng Otieno",
        "amount": {"amount": "1000", "asset": "KES"},
        "sender": {"name": "Grace Otieno", "country": "gb"},
        "refund_address": "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",
    }
    answer = client.post("/v1/wallet/remittances", json=body, headers={"Idempotency-Key": customer_key("k1")})
    assert answer.status_code == 422
    [error] = [e for e in answer.json["errors"] if e["field"] == "sender.country"]
    assert error["detail"] == "is not in the expected form: ISO 3166 alpha-2 country of residence, e.g. GB"


def test_a_query_parameter_that_does_not_fit_says_so_in_words(client, auth):
    """A query parameter's pattern failure is described, not printed as a regex."""
    owner, _ = auth.merchant()
    answer = client.get("/v1/invoices?merchant_id=%01", headers=owner)
    assert answer.status_code == 422, answer.json
    assert "^" not in answer.json["detail"] and "\\x" not in answer.json["detail"]


def test_every_request_field_s_text_class_matches_its_pattern_and_every_password_is_a_secret(app):
    """A field's text class and its published pattern say the same (a trimmed name has the trimmed name pattern);
    passwords, which no one reads back, are secrets (any character but controls)."""
    from cryptopay.core.text import TextKind
    from cryptopay_http.convert import text_pattern, trimmed_pattern

    fields = _request_fields(app)
    mismatched = [
        name
        for name, field in fields
        if (declared := field.metadata.get("pattern")) is not None
        and (kind := field.metadata.get("text", TextKind.IDENTIFIER)) is not TextKind.SECRET
        and any(
            declared == pattern(other)
            for other in TextKind
            if other is not TextKind.SECRET
            for pattern in (text_pattern, trimmed_pattern)
        )
        and declared not in (text_pattern(kind), trimmed_pattern(kind))
    ]
    assert mismatched == []
    passwords = [name for name, field in fields if "password" in field.name]
    assert len(passwords) >= 5
    assert [n for n, f in fields if "password" in f.name and f.metadata.get("text") is not TextKind.SECRET] == []


def test_a_bad_settlement_destination_says_what_each_method_takes(client, auth):
    """Review H7: a malformed destination was answered with the 600-character bank regex. Now each method's
    refusal is a sentence naming the accepted form (and the field), whether the core or the edge refuses it."""
    headers, merchant_id = auth.merchant()
    cases = {
        ("bank", "x"): "BANK:ACCOUNT, such as KCB:1234567890",
        ("bank", "NOPE:1234567890"): "unknown bank code 'NOPE'",
        ("bank", "KCB:12345678"): "10 to 13 digits",
        ("bank", "KCB:12 34567890"): "BANK:ACCOUNT",  # the core would take the space; the document does not
        ("mpesa_till", "12"): "5 to 7 digits",
        ("mpesa_paybill", "888880"): "NUMBER#ACCOUNT",
        ("mpesa_b2c", "12"): "Kenyan mobile number",
    }
    for (method, destination), words in cases.items():
        body = {"settlement": {"schedule": "daily", "method": method, "destination": destination}}
        answer = client.patch(f"/v1/merchants/{merchant_id}", json=body, headers=headers)
        assert answer.status_code == 422, (method, destination)
        [error] = answer.json["errors"]
        assert error["field"] == "settlement.destination" and words in error["detail"], (method, error)
        assert "^" not in answer.get_data(as_text=True) and "[0-9]" not in answer.get_data(as_text=True)


def test_a_bad_bill_account_names_its_format_in_words():
    """The biller catalogue's account patterns are told as digit counts, never as the regex (review H7's class)."""
    for biller in biller_catalogue().billers.values():
        with pytest.raises(InvalidInput) as refused:
            biller.check("x")
        assert "digits" in refused.value.message and "^" not in refused.value.message, biller.code
