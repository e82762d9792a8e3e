"""Query parameters, declared once: ``@query(Param(...))`` checks them before the view and documents them.

A ``Param`` carries a JSON Schema (a dict, or a callable returning one when it depends on the deployment, such as
the page-size maximum or the rails offered). The same schema is what ``/openapi.json`` shows and what a request is
checked against (types, enums, patterns, lengths and bounds), so the two cannot drift. A declared one that does not
fit is a 422 naming it. A parameter the operation does not declare, or a declared one given twice, is a 422 naming
it too (``refuse_undeclared``, run before every documented operation): ignoring it silently answered
``GET /v1/invoices?state=settled`` with every invoice (review H1), and a repeated one meant the first won.

Who is asking comes first: on an operation behind a credential (``require``, or a view that checks its own, marked
``after_credential``) the check runs once the caller is authenticated and allowed (``refuse_undeclared_query``,
called by ``require``), so an anonymous caller gets the 401 (or the 404 an unlisted operation gives), never a 422
naming the parameters a protected route takes. Public operations are checked before their view, by the app's
``before_request`` hook (``refuse_undeclared_before_view``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar

from cryptopay.core.text import text_problem
from flask import current_app, request

from cryptopay_http.convert import TEXT_PATTERN, FieldError, ValidationFailed, pattern_problem
from cryptopay_http.openapi import INTERNAL_TAG, Param, annotate

__all__ = [
    "MERCHANT_ID",
    "Param",
    "after_credential",
    "checked_after_credential",
    "enum_param",
    "id_param",
    "query",
    "query_names",
    "query_text_errors",
    "refuse_undeclared",
    "refuse_undeclared_before_view",
    "refuse_undeclared_query",
    "text_errors",
    "whole_number",
]

P = ParamSpec("P")
R = TypeVar("R")
_INTEGER = re.compile(r"-?[0-9]{1,18}")
_ID = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": TEXT_PATTERN}
MERCHANT_ID = Param("merchant_id", _ID, description="admins: the merchant to act for", names_an_object=True)


def id_param(name: str, description: str) -> Param:
    """An optional id filter (an unknown id matches nothing)."""
    return Param(name, _ID, description=description)


def enum_param(
    name: str, values: Callable[[], Iterable[str]], description: str, *, required: bool = False, when_empty: str = ""
) -> Param:
    """A parameter taking one of ``values()`` (called per request: the deployment's rails or pairs); ``when_empty``
    says what to configure when the deployment offers none."""
    schema = lambda: {"type": "string", "enum": sorted(values())}  # noqa: E731
    return Param(name, schema, required, description, when_empty=when_empty)


def _problem(param: Param, text: str) -> str | None:
    """Why ``text`` does not fit the parameter's schema, or None."""
    schema = param.resolved()
    if schema.get("type") == "integer":
        return _integer_problem(text, schema)
    if "enum" in schema and text not in schema["enum"]:
        if not schema["enum"] and param.when_empty:
            return param.when_empty
        return "must be one of: " + ", ".join(map(str, schema["enum"]))
    if not schema.get("minLength", 0) <= len(text) <= schema.get("maxLength", len(text)):
        return f"must have {schema.get('minLength', 0)} to {schema.get('maxLength')} characters"
    if "pattern" in schema and not re.search(schema["pattern"], text):
        return pattern_problem(None, param.description)
    return None


def whole_number(text: str, *, digits: int = 18) -> int | None:
    """``text`` as a whole number when it is 1 to ``digits`` ASCII digits, else None: the one way a page or a
    parameter turns typed text into an ``int`` (R9-5: Python's ``int()`` refuses more than 4,300 digits with a
    ``ValueError``, a 500 where the field's 422 belongs, and a long one costs time first).

    >>> whole_number("12"), whole_number("9" * 19), whole_number("٣"), whole_number(""), whole_number("-1")
    (12, None, None, None, None)
    """
    if 0 < len(text) <= digits and text.isascii() and text.isdigit():
        return int(text)
    return None


def _integer_problem(text: str, schema: Mapping[str, Any]) -> str | None:
    low, high = schema.get("minimum"), schema.get("maximum")
    if not _INTEGER.fullmatch(text) or (low is not None and int(text) < low) or (high is not None and int(text) > high):
        return f"must be an integer from {low} to {high}"
    return None


def _check(params: tuple[Param, ...]) -> None:
    errors = [FieldError(p.name, "is required") for p in params if p.required and p.name not in request.args]
    for param in params:
        for text in request.args.getlist(param.name)[:1]:
            reason = _problem(param, text)
            if reason is not None:
                errors.append(FieldError(param.name, reason))
    if errors:
        raise ValidationFailed(errors)


def query_names(meta: Mapping[str, Any]) -> frozenset[str]:
    """The query parameters an operation declares (``Param``s and any ``"in": "query"`` parameter objects)."""
    names = set()
    for declared in meta.get("parameters", ()):
        if isinstance(declared, Param):
            names.add(declared.name)
        elif isinstance(declared, Mapping) and declared.get("in") == "query":
            names.add(str(declared["name"]))
    return frozenset(names)


def refuse_undeclared(meta: Mapping[str, Any]) -> None:
    """A 422 naming each query parameter the operation (documented by ``meta``) does not take, and each one it takes
    that is given more than once (all are single-valued: which one counted would be a guess)."""
    declared = query_names(meta)
    errors = []
    for name in request.args:
        shown = name if len(name) <= 64 and not _UNPRINTABLE.search(name) else repr(name[:64])
        if name not in declared:
            takes = ", ".join(sorted(declared)) if declared else "none"
            errors.append(FieldError(shown, f"is not a query parameter of this operation (it takes: {takes})"))
        elif len(request.args.getlist(name)) > 1:
            errors.append(FieldError(shown, "is given more than once: give it once"))
    if errors:
        raise ValidationFailed(errors)


_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
_AFTER_CREDENTIAL = "query_after_credential"  # the operation's facts: its query is checked once the caller is known


def after_credential(view: Callable[P, R]) -> Callable[P, R]:
    """Mark an operation whose query is checked after its credential: ``require`` marks its own; a view that checks
    another credential itself (``/metrics``' scrape token) is marked with this and calls ``refuse_undeclared_query``
    once the credential passed."""
    return annotate(view, **{_AFTER_CREDENTIAL: True})


def _documented() -> Mapping[str, Any] | None:
    """The OpenAPI facts of this request's operation when it is one of the documented REST API's: the HTML pages
    and the internal callbacks (no ``summary``, or tagged internal) keep their own rules."""
    if request.endpoint is None:
        return None
    meta: Mapping[str, Any] | None = getattr(current_app.view_functions.get(request.endpoint), "__openapi__", None)
    if not meta or "summary" not in meta or INTERNAL_TAG in meta.get("tags", ()):
        return None
    return meta


MAX_PARAMETER = 1000  # characters of a path segment, a query parameter's name or value


def query_text_errors() -> list[FieldError]:
    """The query's names and values that break the text rules bodies obey (``text_problem``) or are too long."""
    if not request.query_string:  # most API reads have none: no query parsing
        return []
    pairs = [(f"query.{k}", v) for k, v in request.args.items(multi=True)]
    pairs += [(f"query.{k}", k) for k in request.args]
    return text_errors(pairs)


def text_errors(pairs: Iterable[tuple[str, str]]) -> list[FieldError]:
    """The ``(name, value)`` pairs of a request's path or query that break the text rules bodies obey
    (``text_problem``), then those longer than ``MAX_PARAMETER``.

    >>> [(e.field, e.detail) for e in text_errors([("path.id", "inv_1"), ("query.q", "x" * 1001)])]
    [('query.q', 'is too long')]
    """
    pairs = list(pairs)
    errors = [FieldError(name, problem) for name, value in pairs if (problem := text_problem(value))]
    return errors + [FieldError(name, "is too long") for name, value in pairs if len(value) > MAX_PARAMETER]


def checked_after_credential() -> bool:
    """Whether this request's operation checks its query once the caller is known (``require``,
    ``after_credential``)."""
    meta = _documented() if request.query_string else None
    return bool(meta and meta.get(_AFTER_CREDENTIAL))


def refuse_undeclared_query() -> None:
    """The query's text rules (``query_text_errors``), then ``refuse_undeclared``, for this request's documented
    operation (nothing for the pages and the callbacks): what ``require`` runs once the caller is authenticated and
    allowed."""
    meta = _documented() if request.query_string else None
    if meta is None:
        return
    if errors := query_text_errors():
        raise ValidationFailed(errors)
    refuse_undeclared(meta)


def refuse_undeclared_before_view() -> None:
    """The app's ``before_request`` hook: ``refuse_undeclared`` for the public operations alone; one behind a
    credential is checked after it (``require``, ``after_credential``), so anonymous callers learn nothing of it."""
    meta = _documented() if request.args else None
    if meta is not None and not meta.get(_AFTER_CREDENTIAL):
        refuse_undeclared(meta)


def query(*params: Param) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Check the declared query parameters before the view runs, and document them."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            _check(params)
            return view(*args, **kwargs)

        return annotate(wrapper, parameters=params, errors=(422,))

    return decorate
