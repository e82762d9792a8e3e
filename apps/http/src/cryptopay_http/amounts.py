"""One request shape for an amount of money, as the merchant API has it: ``"amount": "12.50", "currency": "KES"``.

The amount is a decimal string (never a JSON number), the currency an asset code; which currencies an operation
takes, and how many places and digits, is its ``AmountRule``, enforced here (``convert.parse_amount`` first, then the
rule's pattern) and published in the OpenAPI document from the same rule. Every wallet operation that takes money
reads it with ``AmountRule.money``.

The wallet API used to take amounts in other shapes, still read during a deprecation period (until ``SUNSET``):
``{"amount": {"amount": "300", "asset": "KES"}}`` (transfers, remittances), ``kes``/``usdt`` (buys, cash-outs,
sales), ``amount`` with ``asset`` (withdrawals) and ``amount`` without a currency (bills, KES). A request in one of
them is answered as the same request in the canonical shape would be, plus ``Deprecation`` (RFC 9745), ``Sunset``
(RFC 8594) and ``Link: </docs#amounts>; rel="deprecation"`` headers; it is logged and counted
(``cryptopay_http_deprecated_shapes_total`` by route and shape). A retry under the same ``Idempotency-Key`` gets
the first answer again with these headers (``described``) and is not counted again: one operation, one count. A
request mixing two shapes is refused (422
``amount_shapes_mixed``): nobody can tell which one was meant.

>>> rule = AmountRule(("KES",), places=0, positive=True, legacy_fields=(("kes", "KES"),))
>>> rule.pattern_for("KES")
'^([1-9][0-9]{0,17})$'
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import Money, asset_by_code
from flask import current_app, request

from cryptopay_http import described
from cryptopay_http.convert import (
    MAX_INTEGER_DIGITS,
    FieldError,
    ValidationFailed,
    amount_pattern,
    money_parts,
    parse_amount,
)
from cryptopay_http.metrics import HttpMetrics
from cryptopay_http.openapi import object_schema, register_schema

__all__ = ["CURRENCY", "DEPRECATED_SINCE", "DOCS", "SUNSET", "AmountRule", "AmountShapesMixed", "deprecation_headers"]

_log = logging.getLogger("cryptopay.http")

DEPRECATED_SINCE = datetime(2026, 12, 6, tzinfo=UTC)  # the old wallet amount shapes, from this day
SUNSET = datetime(2027, 6, 30, tzinfo=UTC)  # after which they may be refused
DOCS = "/docs#amounts"
CANONICAL = "amount_and_currency"


class AmountShapesMixed(InvalidInput):
    """A request gave its amount in two shapes at once (``amount`` and ``currency``, and also ``kes``)."""

    code = "amount_shapes_mixed"


CURRENCY = "the amount's currency, e.g. KES"  # the description of a request's ``currency`` field


@attrs.frozen
class AmountRule:
    """Which amounts one operation takes: ``currencies``, at most ``places`` decimals (None: the asset's own),
    ``integer_digits`` before the point, above zero when ``positive`` (or exactly ``pattern``, told as ``hint``),
    and the deprecated shapes it still reads: ``legacy_fields`` (a field per currency, e.g. ``("kes", "KES")``),
    ``legacy_object`` (``amount`` as ``{"amount", "asset"}``), ``legacy_asset`` (``asset`` for ``currency``) and
    ``implied`` (``amount`` with no currency is this currency's)."""

    currencies: tuple[str, ...]
    places: int | None = None
    integer_digits: int = MAX_INTEGER_DIGITS
    positive: bool = False
    pattern: str | None = None
    hint: str | None = None
    legacy_fields: tuple[tuple[str, str], ...] = ()
    legacy_object: bool = False
    legacy_asset: bool = False
    implied: str | None = None

    def pattern_for(self, currency: str) -> str:
        """The exact text of an amount of ``currency`` this operation takes."""
        if self.pattern is not None:
            return self.pattern
        places = self.places if self.places is not None else asset_by_code(currency).decimals
        return amount_pattern(places, positive=self.positive, integer_digits=self.integer_digits)

    def hint_for(self, currency: str) -> str:
        """What a person is told when an amount of ``currency`` does not fit."""
        if self.hint is not None:
            return self.hint
        places = self.places if self.places is not None else asset_by_code(currency).decimals
        kind = f"whole {currency}" if places == 0 else f"{currency} with at most {places} decimal places"
        above = " above zero" if self.positive else ""
        digits = f" and at most {self.integer_digits} digits before the point" if self.integer_digits < 18 else ""
        return f"must be {kind}{above}{digits}"

    def money(self, body: object) -> Money:
        """The amount of a request's ``amount`` and ``currency`` fields (or its deprecated fields),
        checked against this rule: ``ValidationFailed`` naming the field, ``AmountShapesMixed`` for two shapes."""
        text, currency, where, shape = self._shape(body)
        if shape != CANONICAL:
            _deprecated(shape)  # told even when the amount is refused: the shape is what is deprecated
        errors: list[FieldError] = []
        if currency not in self.currencies:
            errors.append(FieldError(where[1], "must be one of: " + ", ".join(self.currencies)))
        try:
            amount = parse_amount(text)
        except InvalidInput as error:
            errors.append(FieldError(where[0], error.message))
        else:
            if not errors and re.search(self.pattern_for(currency), str(text)) is None:
                errors.append(FieldError(where[0], self.hint_for(currency)))
        if errors:
            raise ValidationFailed(errors)
        return Money.of(amount, currency)

    def _shape(self, body: object) -> tuple[object, str, tuple[str, str], str]:
        """The amount's text, its currency, the fields that held them and the shape's name (null is absent)."""

        def given(name: str) -> object:
            return getattr(body, name, None)

        amount, currency = given("amount"), given("currency")
        named = [(name, code) for name, code in self.legacy_fields if given(name) is not None]
        asset = given("asset") if self.legacy_asset else None
        shapes = [name for name, _ in named]
        if isinstance(amount, dict) and self.legacy_object:
            shapes.append("amount_object")
        elif asset is not None:
            shapes.append("amount_and_asset")
        elif amount is not None and currency is None and self.implied is not None:
            shapes.append("amount_without_currency")
        claimed = bool(shapes) and shapes[-1] in ("amount_object", "amount_and_asset", "amount_without_currency")
        if currency is not None or (amount is not None and not claimed):
            shapes.append(CANONICAL)
        if len(shapes) > 1:
            raise AmountShapesMixed(
                f"the amount is given in more than one shape ({', '.join(shapes)}): "
                'send "amount" (a decimal string) and "currency" only',
                field="amount",
            )
        shape = shapes[0] if shapes else CANONICAL
        if named:
            name, code = named[0]
            return given(name), code, (name, name), shape
        if shape == "amount_object":
            try:
                text, code = money_parts(amount)
            except InvalidInput as error:
                raise ValidationFailed([FieldError("amount", error.message)]) from None
            return text, code, ("amount.amount", "amount.asset"), shape
        if amount is None or (currency is None and shape == CANONICAL):
            missing = [("amount", amount), ("currency", currency if shape == CANONICAL else asset)]
            raise ValidationFailed([FieldError(name, "is required") for name, value in missing if value is None])
        if shape == "amount_and_asset":
            return amount, str(asset), ("amount", "asset"), shape
        if shape == "amount_without_currency":
            return amount, str(self.implied), ("amount", "amount"), shape
        return amount, str(currency), ("amount", "currency"), shape

    def document(self, cls: type) -> None:
        """Publish ``cls``'s schema with this rule: the canonical shape, the deprecated ones marked ``deprecated``,
        one of them exactly (a mix is refused)."""
        register_schema(cls, lambda components: self._schema(cls, components))

    def _schema(self, cls: type, components: dict[str, Any]) -> dict[str, Any]:
        schema = object_schema(cls, components)
        properties: dict[str, Any] = schema["properties"]
        amount: dict[str, Any] = {"type": "string", "examples": ["12.50"]}
        if self.legacy_object:
            amount = {"anyOf": [amount, {"$ref": "#/components/schemas/Money", "deprecated": True}]}
        properties["amount"] = {**_nullable(amount), "description": properties["amount"].get("description", "")}
        currency = {"type": "string", "enum": list(self.currencies)}
        properties["currency"] = {**_nullable(currency), "description": CURRENCY}
        legacy = self._legacy_names()
        for name in legacy:
            properties[name] = {**properties[name], "deprecated": True}
        return {**schema, "oneOf": self._variants(legacy)}

    def _legacy_names(self) -> list[str]:
        return [name for name, _ in self.legacy_fields] + (["asset"] if self.legacy_asset else [])

    def _variants(self, legacy: list[str]) -> list[dict[str, Any]]:
        """One schema per accepted shape and currency, each excluding the fields of the others (null is absent)."""

        def without(*names: str) -> dict[str, Any]:
            present = [{"required": [n], "properties": {n: {"not": {"type": "null"}}}} for n in names]
            return {"not": {"anyOf": present}} if present else {}

        def text(currency: str) -> dict[str, Any]:
            return {"type": "string", "pattern": self.pattern_for(currency)}

        def variant(fields: dict[str, Any], *excluded: str) -> dict[str, Any]:
            return {"properties": fields, "required": sorted(fields), **without(*excluded)}

        variants = [variant({"currency": {"const": c}, "amount": text(c)}, *legacy) for c in self.currencies]
        for name, code in self.legacy_fields:
            variants.append(variant({name: text(code)}, "amount", "currency", *[n for n in legacy if n != name]))
        if self.legacy_asset:
            others = [n for n in legacy if n != "asset"]
            variants += [
                variant({"asset": {"const": c}, "amount": text(c)}, "currency", *others) for c in self.currencies
            ]
        if self.legacy_object:
            for c in self.currencies:
                fields = {"asset": {"const": c}, "amount": text(c)}
                money: dict[str, Any] = {"type": "object", "properties": fields, "required": ["amount", "asset"]}
                money["additionalProperties"] = False
                variants.append(variant({"amount": money}, "currency", *legacy))
        if self.implied is not None:
            variants.append(variant({"amount": text(self.implied)}, "currency", *legacy))
        return variants


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def deprecation_headers() -> dict[str, str]:
    """The headers a response to a deprecated request shape carries.

    >>> deprecation_headers()["Deprecation"]
    '@1796515200'
    """
    return {
        "Deprecation": f"@{int(DEPRECATED_SINCE.timestamp())}",
        "Sunset": format_datetime(SUNSET, usegmt=True),
        "Link": f'<{DOCS}>; rel="deprecation"; type="text/html"',
    }


def _deprecated(shape: str) -> None:
    """Answer this request with the deprecation headers; log and count it."""
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    _log.info("deprecated request shape %s on %s", shape, rule)
    metrics = current_app.extensions.get("cryptopay.metrics")
    if isinstance(metrics, HttpMetrics):
        metrics.deprecated(rule, shape)
    described.describe(deprecation_headers())  # also on a replay of the answer (``idempotency``)
