"""The OpenAPI 3.1 registry: views describe themselves with ``@operation``; the document is built from the app's routes.

``require`` adds the security requirement, ``idempotent`` the ``Idempotency-Key`` header and ``paginated`` the
``limit``/``cursor`` query parameters, so a resource only states its summary and its request and response types.
Schemas come from the attrs classes through the same type rules as the edge converter.

Each operation's description is its own text (``@operation(description=)``, what it does) followed by paragraphs
generated from the facts the decorators recorded: who may call it (``require``), the step-up (``step_up``), the
``Idempotency-Key`` (``idempotent``), the amounts' format (from its schemas) and the problems it can answer with:
the ones its view and use case raise (``@operation(problems=)``, error classes, so the ``code`` and status come from
the class) and the ones its guards and inputs imply (a body: ``validation_failed``; a path id: ``not_found``...).
"""

from __future__ import annotations

import enum
import re
import types
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar, Union, get_args, get_origin

import attrs
from cryptopay.core.errors import CryptopayError, NotFound, TransientConflict, Unavailable
from cryptopay.core.money import ASSETS, Money
from flask import Flask

from cryptopay_http.convert import AMOUNT_PATTERN, TEXT_PATTERN, amount_pattern, prepare_converters, text_pattern

__all__ = [
    "EDGE_PROBLEMS",
    "HTTP_PROBLEMS",
    "INTERNAL_TAG",
    "Components",
    "PageOf",
    "Param",
    "ProblemNote",
    "annotate",
    "build_document",
    "object_schema",
    "operation",
    "prepare_views",
    "register_schema",
    "schema_for",
    "signed_money",
]

F = TypeVar("F", bound=Callable[..., Any])
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}

# The problems the edge answers as plain HTTP errors (werkzeug's): their ``code`` is the status phrase in snake case
# (``problems.problem``), their ``type`` the same urn as every other problem's.
HTTP_PROBLEMS: dict[str, int] = {
    "bad_request": 400,
    "request_entity_too_large": 413,
    "unsupported_media_type": 415,
}

# Codes the edge answers with through ``problems.problem(status, code=...)`` itself, not an error class.
EDGE_PROBLEMS: dict[str, int] = {"not_ready": 503}

# A problem an operation can answer with: an error class (its ``code`` and ``http_status``) or an ``HTTP_PROBLEMS``
# or ``EDGE_PROBLEMS`` code, alone or with when it happens.
ProblemKind = type[CryptopayError] | str
ProblemNote = ProblemKind | tuple[ProblemKind, str]
ProblemRow = tuple[int, str, str, bool]  # status, code, when, declared by the operation itself
_URN = "urn:cryptopay:problem:"


@attrs.frozen
class PageOf:
    """A response schema: ``{"data": [item, ...], "next_cursor": "..." | null}``."""

    item: type


_TUPLES = ("parameters", "errors", "problems", "own_problems")


def annotate(view: F, **meta: Any) -> F:
    """Merge OpenAPI facts into a view (a new dict, so wrapped and wrapper views do not share one)."""
    merged = dict(getattr(view, "__openapi__", {}))
    for name, value in meta.items():
        merged[name] = (*merged.get(name, ()), *value) if name in _TUPLES else value
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
    alternatives: tuple[str, ...] = (),
    example: Mapping[str, Any] | None = None,
    problems: tuple[ProblemNote, ...] = (),
    access: str = "",
) -> Callable[[F], F]:
    """Document a view: summary, request body type, response type, success status and other error statuses;
    ``description`` says what it does; ``problems`` are the errors its view and use case raise (a class, or a class
    with when: ``(InvalidState, "unless the invoice is open")``), beside those its decorators and inputs imply;
    ``access`` says who may call a view without ``require`` (one that checks another credential itself);
    ``alternatives`` are other media types the same success may be served as (text, e.g. ``text/csv``);
    ``example`` is a request body the edge accepts, shown beside the body's schema
    (``tests/integration/http_payments/test_http_openapi_examples.py`` parses each one with ``structure_request``).

    >>> @operation("Create a thing", request=dict, example={"name": "Duka"})
    ... def view() -> None: ...
    >>> view.__openapi__["example"]
    {'name': 'Duka'}
    """
    facts: dict[str, Any] = {"summary": summary, "request": request, "response": response, "status": status}
    facts |= {"tags": tags} | ({"example": dict(example)} if example is not None else {})

    def decorate(view: F) -> F:
        view = annotate(view, own_problems=problems, **({"access": access} if access else {}))
        return annotate(
            view, **facts, description=description, errors=errors, media_type=media_type, alternatives=alternatives
        )

    return decorate


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string", "pattern": TEXT_PATTERN},
    int: {"type": "integer"},
    bool: {"type": "boolean"},
    Decimal: {"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["12.50"]},
    datetime: {"type": "string", "format": "date-time"},
    date: {"type": "string", "format": "date"},
    Any: {},
}


_OVERRIDES: dict[type, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def register_schema(kind: type, build: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Describe ``kind`` with ``build(components)`` instead of its fields: for rules across fields (a destination
    whose form depends on the method, an amount whose places depend on the currency) that the edge enforces."""
    _OVERRIDES[kind] = build


class Components(dict[str, Any]):
    """The document's schemas by name, and which class each name describes: a component is keyed by its class's
    ``__name__``, so two classes of one name would share one schema (the first wins) and one of them would be
    documented wrongly; claiming a name another class holds raises instead."""

    def __init__(self, schemas: Mapping[str, Any] | None = None) -> None:
        super().__init__(schemas or {})
        self.owners: dict[str, object] = dict.fromkeys(self, "built in")


def _claim(kind: type, components: dict[str, Any]) -> bool:
    """Whether ``kind``'s schema is still to be built; a ``TypeError`` if another class holds its name."""
    name = kind.__name__
    if isinstance(components, Components):
        holder = components.owners.setdefault(name, kind)
        if holder is not kind:
            raise TypeError(
                f"two schemas named {name}: {kind.__module__}.{kind.__qualname__} and {holder!r}; rename one"
            )
    if name in components:
        return False
    components[name] = {}  # placeholder against recursion
    return True


def schema_for(kind: Any, components: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a type, adding attrs classes to ``components`` and returning a ``$ref`` to them."""
    if kind in _OVERRIDES:
        if _claim(kind, components):
            components[kind.__name__] = _OVERRIDES[kind](components)
        return {"$ref": f"#/components/schemas/{kind.__name__}"}
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
        if _claim(Money, components):
            components["Money"] = _money_schema()
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
        if _claim(kind, components):
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
    if declared.get("text") is not None:
        _retext(target, text_pattern(declared["text"]))
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
        target["propertyNames"] = {"minLength": 1, "maxLength": declared["key_max_length"], "pattern": TEXT_PATTERN}
    return schema


def _retext(schema: dict[str, Any], pattern: str) -> None:
    """The field's text class's ``pattern`` for its strings (its items, its object's values; not its keys)."""
    if schema.get("pattern") == TEXT_PATTERN:
        schema["pattern"] = pattern
    for inner in ("items", "additionalProperties"):
        if isinstance(schema.get(inner), dict):
            schema[inner] = dict(schema[inner])
            _retext(schema[inner], pattern)


def _money_schema(*, signed: bool = False) -> dict[str, Any]:
    """An amount of one asset, written with at most the asset's places (``signed``: a ``-`` before a debit)."""

    def pattern(decimals: int) -> str:
        unsigned = amount_pattern(decimals)
        return "^-?" + unsigned[1:] if signed else unsigned

    variants = [
        {"properties": {"asset": {"const": a.code}, "amount": {"pattern": pattern(a.decimals)}}}
        for a in ASSETS.values()
    ]
    example = "-12.50" if signed else "12.50"
    properties = {"amount": {"type": "string", "examples": [example]}, "asset": {"enum": sorted(ASSETS)}}
    schema = {"type": "object", "properties": properties, "required": ["amount", "asset"]}
    return {**schema, "additionalProperties": False, "oneOf": variants}


def signed_money(components: dict[str, Any]) -> dict[str, Any]:
    """A reference to ``SignedMoney`` (registered in ``components`` once): ``Money`` whose amount may be negative, for
    the signed figures of a history (``-`` out, no sign in) that ``Money``'s unsigned pattern would refuse."""
    if "SignedMoney" not in components:
        components["SignedMoney"] = _money_schema(signed=True)
    return {"$ref": "#/components/schemas/SignedMoney"}


def object_schema(cls: type, components: dict[str, Any]) -> dict[str, Any]:
    """The plain schema of an attrs class from its fields (for overrides that add rules to it)."""
    return _object_schema(cls, components)


def _problem_schema() -> dict[str, Any]:
    strings = {name: {"type": "string"} for name in ("type", "title", "detail", "instance", "code")}
    errors = {
        "type": "array",
        "items": {"type": "object", "properties": {"field": {"type": "string"}, "detail": {"type": "string"}}},
    }
    properties = {**strings, "status": {"type": "integer"}, "errors": errors}
    required = ["type", "title", "status", "detail", "instance", "code"]
    return {"type": "object", "properties": properties, "required": required}


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


def _segment_rules(app: Flask, rule: str) -> dict[str, dict[str, Any]]:
    """Per path parameter, the extra schema its URL converter declares (a ``schema`` class attribute)."""
    found: dict[str, dict[str, Any]] = {}
    for converter, name in re.findall(r"<([^:<>]+):([^<>]+)>", rule):
        declared = app.url_map.converters.get(converter)
        found[name] = dict(vars(declared).get("schema", {})) if declared is not None else {}
    return found


@attrs.frozen
class Param:
    """A query parameter, declared once (see ``cryptopay_http.query``): checked against this schema and documented.

    ``schema`` is a dict, or a callable returning one when it depends on the deployment (the page-size maximum).
    """

    name: str
    schema: Mapping[str, Any] | Callable[[], Mapping[str, Any]] = attrs.field(
        factory=lambda: {"type": "string", "maxLength": 200, "pattern": TEXT_PATTERN}
    )
    required: bool = False
    description: str = ""
    names_an_object: bool = False  # an id that must exist (and be the caller's): 404 otherwise
    when_empty: str = ""  # the problem's detail when the deployment offers no value at all (what to configure)

    def resolved(self) -> dict[str, Any]:
        """The schema now (calling it when it depends on the deployment)."""
        return dict(self.schema() if callable(self.schema) else self.schema)

    def document(self) -> dict[str, Any]:
        """The OpenAPI parameter object."""
        found = {"name": self.name, "in": "query", "required": self.required, "schema": self.resolved()}
        return {**found, "description": self.description} if self.description else found


PATH_SEGMENT = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": TEXT_PATTERN}


def _parameters(
    meta: dict[str, Any], path_params: list[str], segments: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    params = [
        {"name": n, "in": "path", "required": True, "schema": {**PATH_SEGMENT, **segments.get(n, {})}}
        for n in path_params
    ]
    for declared in meta.get("parameters", ()):
        params.append(declared.document() if isinstance(declared, Param) else declared)
    return params


def problem_status(kind: ProblemKind) -> tuple[int, str]:
    """(status, code) of a documented problem: an error class's, or an ``HTTP_PROBLEMS`` code's."""
    if isinstance(kind, str):
        return {**HTTP_PROBLEMS, **EDGE_PROBLEMS}[kind], kind
    return kind.http_status, kind.code


# What an operation's inputs imply, whatever its view does.
_BODY_PROBLEMS: tuple[ProblemNote, ...] = (
    ("bad_request", "the body is not JSON, repeats a key or nests deeper than 32 levels"),
    ("request_entity_too_large", "the body is over the size limit"),
    ("unsupported_media_type", "the body is not application/json in UTF-8"),
)


def _implied_problems(meta: dict[str, Any], params: list[dict[str, Any]]) -> list[ProblemNote]:
    """The problems an operation's request body, path and query parameters and dependencies imply."""
    from cryptopay_http.convert import ValidationFailed  # here: convert imports this module

    found: list[ProblemNote] = []
    if meta.get("request") is not None:
        found += [*_BODY_PROBLEMS, (ValidationFailed, "a field is missing, of the wrong type or out of bounds")]
    if any(p["in"] == "query" for p in params):
        found.append((ValidationFailed, "a query parameter is out of bounds or not one of its values"))
    if any(p["in"] == "path" for p in params):  # R9-3: a path value outside its pattern (a control character)
        found.append((ValidationFailed, "a path parameter is outside its pattern or length"))
    if any(p["in"] == "path" for p in params) or any(
        isinstance(p, Param) and p.names_an_object for p in meta.get("parameters", ())
    ):
        found.append((NotFound, "no such object, or it is another merchant's (the same answer)"))
    if "system" not in meta.get("tags", ()):
        found += [
            (Unavailable, "the database or a service it needs is down; retry later"),
            (TransientConflict, "a concurrent change won a race; retrying is safe"),
        ]
    return found


def _problems(meta: dict[str, Any], params: list[dict[str, Any]]) -> list[ProblemRow]:
    """(status, code, when, own) of every problem the operation can answer with, one per code, by status and code;
    ``own``: declared by the operation (``@operation(problems=)``), not implied by its decorators and inputs. A code
    noted for several cases (``invalid_input`` for an admin naming no merchant and for a rail not offered) lists
    every case, "; " between them (R14-1: a client switching on the code saw only the first)."""
    found: dict[tuple[int, str], tuple[str, bool]] = {}
    own = meta.get("own_problems", ())
    for note in (*own, *meta.get("problems", ()), *_implied_problems(meta, params)):
        kind, when = note if isinstance(note, tuple) else (note, "")
        key = problem_status(kind)
        if key not in found:
            found[key] = (when, note in own)
        elif when and when not in found[key][0].split("; "):
            first, mine = found[key]
            found[key] = (f"{first}; {when}" if first else when, mine)
    return [(status, code, when, mine) for (status, code), (when, mine) in sorted(found.items())]


def _error_codes(meta: dict[str, Any], params: list[dict[str, Any]], problems: list[ProblemRow]) -> list[int]:
    """Every status an operation can answer with besides success: what its guards and inputs imply."""
    codes = set(meta.get("errors", ())) | {status for status, _, _, _ in problems}
    if meta.get("request") is not None:
        codes |= {400, 413, 415, 422}
    if any(p["in"] == "path" for p in params):
        codes |= {404, 422}
    if any(p["in"] == "query" for p in params):
        codes.add(422)
    if any(isinstance(p, Param) and p.names_an_object for p in meta.get("parameters", ())):
        codes.add(404)
    if "system" not in meta.get("tags", ()):
        codes.add(503)  # the database or a service it needs is down
    return sorted(codes)


_AMOUNT_PATTERN = re.compile(r"^\^\((0\|)?\[1-9\]\[0-9\]")

AMOUNTS_NOTE = (
    '**Amounts:** decimal strings such as `"12.50"`, never JSON numbers (no sign, exponent, separator or space), '
    "with at most the currency's places (KES 2, USDT 6, BTC 8, or fewer where the field says: whole shillings "
    'where M-Pesa pays); a response shows money as `{"amount", "asset"}`. See /docs#amounts.'
)


def _has_amounts(schema: Any, components: Mapping[str, Any], seen: set[str]) -> bool:
    """Whether a schema holds money: a ``Money`` or an amount string (``AMOUNT_PATTERN``, ``amount_pattern``)."""
    if isinstance(schema, list):
        return any(_has_amounts(item, components, seen) for item in schema)
    if not isinstance(schema, dict):
        return False
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name in ("Money", "SignedMoney"):
            return True
        if name in seen:
            return False
        seen.add(name)
        return _has_amounts(components.get(name), components, seen)
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and _AMOUNT_PATTERN.match(pattern):
        return True
    return any(_has_amounts(value, components, seen) for value in schema.values() if isinstance(value, (dict, list)))


_PARAGRAPHS = (("access", "Who may call"), ("step_up", "Step-up"), ("idempotency", "Idempotency"))


def _description(meta: dict[str, Any], problems: list[ProblemRow], amounts: bool) -> str:
    """The operation's own description, then what its decorators, schemas and problems say."""
    parts = [meta["description"]] if meta.get("description") else []
    access = meta.get("access") or ("" if meta.get("security") else "anyone: no credentials.")
    for key, label in _PARAGRAPHS:
        text = access if key == "access" else meta.get(key)
        parts += [f"**{label}:** {text}"] if text else []
    if amounts:
        parts.append(AMOUNTS_NOTE)
    own = [f"- {status} `{code}`" + (f": {when}" if when else "") for status, code, when, mine in problems if mine]
    shared = ", ".join(f"{status} `{code}`" for status, code, _, mine in problems if not mine)
    if own:
        parts.append(f"**Problems** (the problem+json `code`; `type` is `{_URN}<code>`):\n" + "\n".join(own))
    if shared:
        label = "Also" if own else "Problems"
        parts.append(f"**{label}**, as for every operation with these inputs and guards: {shared}.")
    return "\n\n".join(parts)


def _shared_problems(operations: list[list[ProblemRow]]) -> str:
    """The document's description: what each problem its operations share means (said once, not per operation)."""
    said: dict[tuple[int, str], str] = {}
    for problems in operations:
        for status, code, when, mine in problems:
            if not mine and when:
                said.setdefault((status, code), when)
    lines = [f"- {status} `{code}`: {when}" for (status, code), when in sorted(said.items())]
    plain = ", ".join(f"`{c}`" for c in sorted(HTTP_PROBLEMS))
    return (
        "Errors are RFC 9457 `application/problem+json` with a stable `code`; `type` is "
        f"`urn:cryptopay:problem:<code>` for every problem (plain HTTP errors too: {plain}). A refused request "
        "changes nothing. "
        "Each operation's description lists its own problems with when they happen, then the ones its guards and "
        "inputs share with others, which mean:\n" + "\n".join(lines)
    )


def _success(meta: dict[str, Any], components: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    status = str(meta.get("status", 200))
    ok: dict[str, Any] = {"description": HTTP_DESCRIPTIONS.get(status, "Success")}
    media_type = meta.get("media_type", "application/json")
    if meta.get("response") is not None:
        ok["content"] = {media_type: {"schema": schema_for(meta["response"], components)}}
    elif status not in ("202", "204"):  # accepted or done, with nothing to show
        ok["content"] = {media_type: {"schema": {"type": "string"} if "json" not in media_type else {"type": "object"}}}
    for alternative in meta.get("alternatives", ()):
        ok.setdefault("content", {})[alternative] = {"schema": {"type": "string"}}
    return status, ok


def _operation_object(
    meta: dict[str, Any],
    path_params: list[str],
    components: dict[str, Any],
    op_id: str,
    segments: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    parameters = _parameters(meta, path_params, segments)
    body: dict[str, Any] | None = None
    if meta.get("request") is not None:
        content: dict[str, Any] = {"schema": schema_for(meta["request"], components)}
        content |= {"example": meta["example"]} if "example" in meta else {}
        body = {"required": True, "content": {"application/json": content}}
    status, ok = _success(meta, components)
    problems = _problems(meta, parameters)
    description = _description(meta, problems, _has_amounts([body, ok], components, set()))
    result: dict[str, Any] = {"operationId": op_id, "summary": meta["summary"]}
    result |= {"description": description} if description else {}
    result |= {"tags": list(meta.get("tags", ())), "parameters": parameters, "security": list(meta.get("security", []))}
    result |= {"requestBody": body} if body is not None else {}
    responses = {status: ok}
    for code in _error_codes(meta, parameters, problems):
        said = HTTP_DESCRIPTIONS.get(str(code), "Error")
        codes = ", ".join(f"`{c}`" for s, c, _, _ in problems if s == code)
        responses[str(code)] = {"description": f"{said}: {codes}" if codes else said, "content": _PROBLEM}
    result["responses"] = responses
    result["x-problems"] = problems  # read by build_document, removed there
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
    "413": "Body too large",
    "415": "Not JSON",
    "422": "Invalid fields, or refused by a rule",
    "429": "Too many requests",
    "503": "Not ready",
}


_EVENTS: dict[str, dict[str, Any]] = {}


def register_event(name: str, data: dict[str, Any], summary: str, *, data_v2: dict[str, Any] | None = None) -> None:
    """Add a webhook event type to the document's ``webhooks`` catalogue, with the schema of its ``data`` in payload
    version 1 and, when it differs, version 2 (``cryptopay.core.webhooks.payloads``)."""
    _EVENTS[name] = {"summary": summary, "data": data, "data_v2": data if data_v2 is None else data_v2}


def _envelope(name: str, data: dict[str, Any], version: int) -> dict[str, Any]:
    """The signed body of payload ``version``: version 2 says ``"version": 2``, version 1 has no such member."""
    properties: dict[str, Any] = {
        "type": {"const": name},
        "timestamp": {"type": "string", "format": "date-time"},
        "data": data,
        "version": {"const": version} if version != 1 else False,
    }
    required = ["type", "timestamp", "data"] + (["version"] if version != 1 else [])
    title = f"payload version {version}"
    return {"title": title, "type": "object", "properties": properties, "required": required}


_VERSION_HEADER = {
    "name": "cryptopay-payload-version",
    "in": "header",
    "required": True,
    "description": "the body's payload version, the endpoint's `payload_version` when the event was sent",
    "schema": {"type": "string", "enum": ["1", "2"]},
}


# Standard Webhooks (review12 R12-4): what an integrator needs to verify and de-duplicate a delivery, in the document
# itself and not only in the README.
WEBHOOK_SIGNING = (
    "Each delivery is signed as Standard Webhooks (standardwebhooks.com) says: `webhook-signature` "
    "holds space-separated `v1,<base64>` values (two during a secret rotation), each the HMAC-SHA256 of "
    "`{webhook-id}.{webhook-timestamp}.{raw body}` under the key that is the base64-decoded part of the endpoint's "
    "secret after `whsec_`. Verify on the raw body before parsing it, refuse a `webhook-timestamp` more than 5 "
    "minutes from your clock (a replay), compare in constant time against every offered signature, and handle each "
    "`webhook-id` once: it is the same on every retry and redelivery of one event, the de-duplication key (the "
    "body carries no event id). Answer 2xx; anything else is retried for about three days."
)
_SIGNATURE_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "the event's delivery id, the same on every retry and redelivery: handle each once",
        "schema": {"type": "string"},
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "when this attempt was signed, Unix seconds: refuse one more than 5 minutes from your clock",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "space-separated `v1,<base64 HMAC-SHA256 of {webhook-id}.{webhook-timestamp}.{raw body}>`",
        "schema": {"type": "string", "pattern": "^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$"},
    },
]


def _event_operations() -> dict[str, Any]:
    """OpenAPI 3.1 ``webhooks``: one POST per event type, its body the signed envelope around the event's data, in
    the endpoint's payload version (1 or 2, also named by the ``cryptopay-payload-version`` header)."""
    operations: dict[str, Any] = {}
    for name, event in sorted(_EVENTS.items()):
        versions = [_envelope(name, event["data"], 1), _envelope(name, event["data_v2"], 2)]
        body = {"required": True, "content": {"application/json": {"schema": {"oneOf": versions}}}}
        answer = {"2XX": {"description": "Received (any other answer is retried for about three days)"}}
        post = {
            "summary": event["summary"],
            "description": WEBHOOK_SIGNING,
            "parameters": [*_SIGNATURE_HEADERS, _VERSION_HEADER],
            "requestBody": body,
        }
        operations[name] = {"post": post | {"responses": answer}}
    return operations


# a tag for routes outside the public API (M-Pesa's callbacks: Safaricom calls them)
INTERNAL_TAG = _INTERNAL = "internal"


def prepare_views(app: Flask) -> int:
    """Build the converters of every documented view's request body and response now (``convert.prepare_converters``):
    a worker's warm-up, so that a first request builds none. The number of views."""
    views = [meta for view in app.view_functions.values() if (meta := getattr(view, "__openapi__", None))]
    requests = [meta["request"] for meta in views if isinstance(meta.get("request"), type)]
    responses = [r.item if isinstance(r, PageOf) else r for meta in views if (r := meta.get("response")) is not None]
    prepare_converters(requests, [r for r in responses if isinstance(r, type)])
    return len(views)


def build_document(app: Flask, *, title: str = "cryptopay API", version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every documented route of ``app``."""
    components = Components({"Problem": _problem_schema()})
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        meta = getattr(app.view_functions[rule.endpoint], "__openapi__", None)
        if rule.endpoint == "static" or not meta or "summary" not in meta or _INTERNAL in meta.get("tags", ()):
            continue
        path, names = _path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op_id = f"{rule.endpoint.replace('.', '_')}_{method.lower()}"
            segments = _segment_rules(app, rule.rule)
            paths.setdefault(path, {})[method.lower()] = _operation_object(meta, names, components, op_id, segments)
    shared = [op.pop("x-problems") for operations in paths.values() for op in operations.values()]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": _shared_problems(shared) + "\n\nWebhooks: " + WEBHOOK_SIGNING,
        },
        "paths": paths,
        "webhooks": _event_operations(),
        "components": {"schemas": dict(components), "securitySchemes": _SECURITY_SCHEMES},
    }
