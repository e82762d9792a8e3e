"""The OpenAPI 3.1 registry: views describe themselves with ``@operation``; the document is built from the app's routes.

``require`` adds the security requirement, ``idempotent`` the ``Idempotency-Key`` header and ``paginated`` the
``limit``/``cursor`` query parameters, so a resource only states its summary and its request and response types.
Schemas come from the attrs classes through the same type rules as the edge converter.
"""

from __future__ import annotations

import enum
import re
import types
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar, Union, get_args, get_origin

import attrs
from cryptopay.core.money import Money
from flask import Flask

from cryptopay_http.convert import AMOUNT_PATTERN

__all__ = ["PageOf", "annotate", "build_document", "operation", "schema_for"]

F = TypeVar("F", bound=Callable[..., Any])
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@attrs.frozen
class PageOf:
    """A response schema: ``{"data": [item, ...], "next_cursor": "..." | null}``."""

    item: type


def annotate(view: F, **meta: Any) -> F:
    """Merge OpenAPI facts into a view (a new dict, so wrapped and wrapper views do not share one)."""
    merged = dict(getattr(view, "__openapi__", {}))
    for name, value in meta.items():
        merged[name] = (*merged.get(name, ()), *value) if name in ("parameters", "errors") else value
    view.__openapi__ = merged  # type: ignore[attr-defined]
    return view


def operation(
    summary: str,
    *,
    request: type | None = None,
    response: type | PageOf | None = None,
    status: int = 200,
    tags: tuple[str, ...] = (),
    description: str = "",
    errors: tuple[int, ...] = (),
    media_type: str = "application/json",
) -> Callable[[F], F]:
    """Document a view: summary, request body type, response type, success status and other error statuses."""
    facts = {"summary": summary, "request": request, "response": response, "status": status, "tags": tags}

    def decorate(view: F) -> F:
        return annotate(view, **facts, description=description, errors=errors, media_type=media_type)

    return decorate


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    bool: {"type": "boolean"},
    Decimal: {"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["12.50"]},
    datetime: {"type": "string", "format": "date-time"},
    Any: {},
}


def schema_for(kind: Any, components: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a type, adding attrs classes to ``components`` and returning a ``$ref`` to them."""
    if kind in _SIMPLE:
        return dict(_SIMPLE[kind])
    if isinstance(kind, PageOf):
        data = {"type": "array", "items": schema_for(kind.item, components)}
        cursor = _nullable({"type": "string"})
        return {
            "type": "object",
            "properties": {"data": data, "next_cursor": cursor},
            "required": ["data", "next_cursor"],
        }
    if kind is Money:
        components.setdefault("Money", _money_schema())
        return {"$ref": "#/components/schemas/Money"}
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return {"type": "string", "enum": [m.value for m in kind]}
    origin, args = get_origin(kind), get_args(kind)
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        inner = (
            schema_for(options[0], components)
            if len(options) == 1
            else {"anyOf": [schema_for(a, components) for a in options]}
        )
        return _nullable(inner) if type(None) in args else inner
    if origin in (list, set, frozenset, tuple):
        schema = {"type": "array", "items": schema_for(args[0] if args else Any, components)}
        return {**schema, "uniqueItems": True} if origin in (set, frozenset) else schema
    if origin is dict:
        return {"type": "object", "additionalProperties": schema_for(args[1] if args else Any, components)}
    if attrs.has(kind):
        if kind.__name__ not in components:
            components[kind.__name__] = {}  # placeholder against recursion
            components[kind.__name__] = _object_schema(kind, components)
        return {"$ref": f"#/components/schemas/{kind.__name__}"}
    raise TypeError(f"no OpenAPI schema rule for {kind!r}")


def _object_schema(cls: type, components: dict[str, Any]) -> dict[str, Any]:
    fields = attrs.fields(attrs.resolve_types(cls))
    properties = {f.alias: _with_limits(schema_for(f.type, components), f.metadata) for f in fields}
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [f.alias for f in fields if f.default is attrs.NOTHING]
    if cls.__doc__:
        schema["description"] = cls.__doc__.strip().splitlines()[0]
    return {**schema, "required": required} if required else schema


_KEYWORDS = {
    "description": "description",
    "min_length": "minLength",
    "max_length": "maxLength",
    "min_items": "minItems",
    "max_items": "maxItems",
    "minimum": "minimum",
    "maximum": "maximum",
    "pattern": "pattern",
}


def _with_limits(schema: dict[str, Any], declared: Any) -> dict[str, Any]:
    """A field's schema with the bounds declared by ``convert.limits`` (the ones the edge enforces)."""
    target = schema["anyOf"][0] if "anyOf" in schema and len(schema["anyOf"]) == 2 else schema
    if "$ref" in target:
        return {**schema, **({"description": declared["description"]} if "description" in declared else {})}
    for name, keyword in _KEYWORDS.items():
        if name in declared:
            if target.get("type") == "object":
                keyword = keyword.replace("Items", "Properties")
            (schema if name == "description" else target)[keyword] = declared[name]
    if "item_max_length" in declared:
        inner = "items" if "items" in target else "additionalProperties"
        target[inner] = {**target[inner], "maxLength": declared["item_max_length"]}
    if "choices" in declared:
        allowed = sorted(declared["choices"]())
        if "items" in target:
            target["items"] = {**target["items"], "enum": allowed}
        else:
            target["enum"] = allowed
    if "key_max_length" in declared:
        target["propertyNames"] = {"minLength": 1, "maxLength": declared["key_max_length"]}
    return schema


def _money_schema() -> dict[str, Any]:
    amount = dict(_SIMPLE[Decimal])
    return {
        "type": "object",
        "properties": {"amount": amount, "asset": {"type": "string"}},
        "required": ["amount", "asset"],
    }


def _problem_schema() -> dict[str, Any]:
    strings = {name: {"type": "string"} for name in ("type", "title", "detail", "instance", "code")}
    errors = {
        "type": "array",
        "items": {"type": "object", "properties": {"field": {"type": "string"}, "detail": {"type": "string"}}},
    }
    return {"type": "object", "properties": {**strings, "status": {"type": "integer"}, "errors": errors}}


_SECURITY_SCHEMES = {
    "accessToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "A user's access token."},
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "A merchant API key (also accepted as Authorization: Bearer).",
    },
    "refreshCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "cp_refresh",
        "description": "Web sessions: needs the X-CSRF-Token header.",
    },
}


def _path(rule: str) -> tuple[str, list[str]]:
    names = re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", rule)
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule), names


def _operation_object(
    meta: dict[str, Any], path_params: list[str], components: dict[str, Any], op_id: str
) -> dict[str, Any]:
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in path_params]
    result: dict[str, Any] = {"operationId": op_id, "summary": meta["summary"], "tags": list(meta.get("tags", ()))}
    if meta.get("description"):
        result["description"] = meta["description"]
    result["parameters"] = params + list(meta.get("parameters", ()))
    result["security"] = list(meta.get("security", []))
    if meta.get("request") is not None:
        schema = schema_for(meta["request"], components)
        result["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    status = str(meta.get("status", 200))
    ok: dict[str, Any] = {"description": HTTP_DESCRIPTIONS.get(status, "Success")}
    media_type = meta.get("media_type", "application/json")
    if meta.get("response") is not None:
        ok["content"] = {media_type: {"schema": schema_for(meta["response"], components)}}
    elif status != "204":
        ok["content"] = {media_type: {"schema": {"type": "string"} if "json" not in media_type else {"type": "object"}}}
    responses = {status: ok}
    for code in sorted(set(meta.get("errors", ())) | ({400, 415, 422} if meta.get("request") else set())):
        responses[str(code)] = {"description": HTTP_DESCRIPTIONS.get(str(code), "Error"), "content": _PROBLEM}
    responses["default"] = {"description": "An error (RFC 9457 problem details)", "content": _PROBLEM}
    result["responses"] = responses
    return result


HTTP_DESCRIPTIONS = {
    "200": "OK",
    "201": "Created",
    "204": "No content",
    "400": "Malformed request",
    "401": "Not authenticated",
    "403": "Not allowed",
    "404": "Not found",
    "409": "Conflict",
    "415": "Not JSON",
    "422": "Invalid fields",
    "429": "Too many requests",
    "503": "Not ready",
}


def build_document(app: Flask, *, title: str = "cryptopay API", version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every documented route of ``app``."""
    components: dict[str, Any] = {"Problem": _problem_schema()}
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        meta = getattr(app.view_functions[rule.endpoint], "__openapi__", None)
        if rule.endpoint == "static" or not meta or "summary" not in meta:
            continue
        path, names = _path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op_id = f"{rule.endpoint.replace('.', '_')}_{method.lower()}"
            paths.setdefault(path, {})[method.lower()] = _operation_object(meta, names, components, op_id)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": _SECURITY_SCHEMES},
    }
