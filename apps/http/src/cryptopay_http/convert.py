"""The HTTP edge's one cattrs converter, strict JSON request parsing and JSON responses.

Amounts travel as strings (``Decimal`` -> ``"12.50"``, ``Money`` -> ``{"amount": "12.50", "asset": "KES"}``), datetimes
as ISO 8601 with an offset, enums as their values, sets as sorted lists. Parsing is strict: a number where a string is
expected is an error, never coerced, and every field's problem is reported at once (HTTP 422 with ``errors``).

The input classes, checked here before anything is written (the OpenAPI document states the same rules, from the
same declarations: ``limits`` metadata on a request field is enforced here and published by ``openapi``):
- text is valid Unicode without control characters (``cryptopay.core.text``), at most ``MAX_TEXT`` characters
  unless a field declares its own ``max_length``; a field's text class (``limits(text=TextKind.NAME)``: identifier by
  default, name, prose or secret) says which invisible characters it may hold, and its published pattern follows;
- an amount is exactly ``AMOUNT_PATTERN`` (ASCII digits, an optional fraction; no sign, exponent, separators or
  spaces), with at most ``MAX_INTEGER_DIGITS`` + ``MAX_FRACTION_DIGITS`` digits;
- a JSON body is UTF-8, nests at most ``MAX_DEPTH`` deep and repeats no key in one object (400 otherwise).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cryptopay.adapters.hooks import prepare_hooks
from cryptopay.core.errors import InvalidInput
from cryptopay.core.jsontext import MAX_JSON_DEPTH, JsonTooDeep, loads_untrusted
from cryptopay.core.money import Money, asset_by_code
from cryptopay.core.system import in_utc
from cryptopay.core.text import TextKind, text_problem
from flask import Response, request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

__all__ = [
    "AMOUNT_PATTERN",
    "MAX_DEPTH",
    "MAX_TEXT",
    "NAME_PATTERN",
    "PROSE_PATTERN",
    "SECRET_PATTERN",
    "TEXT_PATTERN",
    "TRIMMED_HINT",
    "TRIMMED_NAME_PATTERN",
    "TRIMMED_PATTERN",
    "TRIMMED_PROSE_PATTERN",
    "FieldError",
    "ValidationFailed",
    "amount_pattern",
    "check_places",
    "check_text",
    "converter",
    "json_response",
    "json_text",
    "limits",
    "money_parts",
    "parse_amount",
    "parse_json",
    "pattern_problem",
    "prepare_converters",
    "read_body",
    "structure_request",
    "text_pattern",
    "trimmed_pattern",
]

T = TypeVar("T")
converter = cattrs.Converter(detailed_validation=False)


@attrs.frozen
class FieldError:
    """One problem with one field of a request; ``field`` is a dotted path such as ``settlement.destination``."""

    field: str
    detail: str


class ValidationFailed(InvalidInput):
    """The request body does not fit the operation's schema."""

    code = "validation_failed"

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("the request has invalid fields: " + "; ".join(f"{e.field} {e.detail}" for e in self.errors))


MAX_TEXT = 10_000
MAX_BODY_TEXT = 12_000_000  # the longest text a field may declare (a base64 document upload)
MAX_DEPTH = MAX_JSON_DEPTH
MAX_INTEGER_DIGITS = 18
MAX_FRACTION_DIGITS = 18
AMOUNT_PATTERN = rf"^(0|[1-9][0-9]{{0,{MAX_INTEGER_DIGITS - 1}}})(\.[0-9]{{1,{MAX_FRACTION_DIGITS}}})?$"
_AMOUNT = re.compile(AMOUNT_PATTERN)
# The text rule (``cryptopay.core.text``) as a JSON Schema pattern per text class, for the OpenAPI document:
# controls, line and paragraph separators, bidirectional controls and the invisible characters of the Basic
# Multilingual Plane, as a class of escapes; those beyond it (tags, supplementary private use, a few format controls)
# in one lookahead at the start, as the characters themselves (JSON carries them as surrogate pairs; a Unicode-aware
# regex, such as a JSON Schema validator's, reads one character each). A lookahead rather than more of the class:
# hypothesis (under schemathesis) builds a class's character set anew for each pattern and took seconds per pattern
# with those ranges in it. Lone surrogates are refused too, but no valid UTF-8 carries one. What depends on its
# neighbours is left to the rule: the zero-width joiner (inside an emoji; in names and prose also between letters
# that join) and, in names and prose, the zero-width non-joiner; so a trimmed text may not end with either. A name
# refuses the soft hyphen, prose allows it; a secret refuses only controls. The unit test compares each pattern with
# the rule over every assigned code point.
_CONTROLS = r"\x00-\x1f\x7f-\x9f"
_INVISIBLE_BMP = (
    r"\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5"
    r"\u180e\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u3164\ue000-\uf8ff\ufeff\uffa0"
    r"\ufff9-\ufffb"
)
_REFUSED_BMP = {
    TextKind.IDENTIFIER: rf"{_CONTROLS}\xad\u200c{_INVISIBLE_BMP}",
    TextKind.NAME: rf"{_CONTROLS}\xad{_INVISIBLE_BMP}",
    TextKind.PROSE: rf"{_CONTROLS}{_INVISIBLE_BMP}",
}
_REFUSED_BEYOND = "".join(
    chr(first) if first == last else f"{chr(first)}-{chr(last)}"
    for first, last in (
        (0x110BD, 0x110BD),
        (0x110CD, 0x110CD),
        (0x13430, 0x13438),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE0001),
        (0xE0020, 0xE007F),
        (0xF0000, 0xFFFFD),
        (0x100000, 0x10FFFD),
    )
)
_NONE_BEYOND = f"(?!.*[{_REFUSED_BEYOND}])"  # at the start: no refused character beyond the BMP anywhere


def text_pattern(kind: TextKind) -> str:
    """The JSON Schema pattern of text of class ``kind`` (as near the rule as a pattern can be; see above)."""
    if kind is TextKind.SECRET:
        return rf"^[^{_CONTROLS}]*$"
    return rf"^{_NONE_BEYOND}[^{_REFUSED_BMP[kind]}]*$"


def trimmed_pattern(kind: TextKind) -> str:
    """``text_pattern(kind)`` for text that is not blank and neither starts nor ends with a space or an invisible
    character (``TRIMMED_HINT``); not for secrets."""
    character = f"[^{_REFUSED_BMP[kind]}]"
    visible = rf"[^\s\xad\u200b-\u200f\u2060-\u2069{_REFUSED_BMP[kind]}]"  # neither blank nor a joiner
    return rf"^{_NONE_BEYOND}{visible}({character}*{visible})?$"


TEXT_PATTERN = text_pattern(TextKind.IDENTIFIER)
NAME_PATTERN = text_pattern(TextKind.NAME)
PROSE_PATTERN = text_pattern(TextKind.PROSE)
SECRET_PATTERN = text_pattern(TextKind.SECRET)
TRIMMED_PATTERN = trimmed_pattern(TextKind.IDENTIFIER)
TRIMMED_NAME_PATTERN = trimmed_pattern(TextKind.NAME)
TRIMMED_PROSE_PATTERN = trimmed_pattern(TextKind.PROSE)
TRIMMED_HINT = "must not be blank nor start or end with a space or an invisible character"


def amount_pattern(decimals: int, *, positive: bool = False, integer_digits: int = MAX_INTEGER_DIGITS) -> str:
    """The exact text of an amount with at most ``decimals`` places (and above zero when ``positive``) and at most
    ``integer_digits`` digits before the point.

    >>> amount_pattern(0, positive=True, integer_digits=6)
    '^([1-9][0-9]{0,5})$'
    """
    whole = f"(0|[1-9][0-9]{{0,{integer_digits - 1}}})"
    fraction = f"(\\.[0-9]{{1,{decimals}}})?" if decimals else ""
    if not positive:
        return f"^{whole}{fraction}$"
    below_one = "|".join(f"0{{{k}}}[1-9][0-9]{{0,{decimals - 1 - k}}}" for k in range(decimals))
    tail = f"|0\\.({below_one})" if decimals else ""
    return f"^([1-9][0-9]{{0,{integer_digits - 1}}}{fraction}{tail})$"


def check_places(amount: Decimal, decimals: int) -> None:
    """``InvalidInput`` unless ``amount`` is written with at most ``decimals`` places (``1.000`` KES has three)."""
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > decimals:
        raise InvalidInput(f"has at most {decimals} decimal places")


def limits(
    description: str | None = None,
    *,
    min_length: int | None = None,
    max_length: int | None = None,
    min_items: int | None = None,
    max_items: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    item_max_length: int | None = None,
    key_max_length: int | None = None,
    pattern: str | None = None,
    hint: str | None = None,
    choices: Callable[[], Iterable[str]] | None = None,
    when_empty: str | None = None,
    text: TextKind | None = None,
) -> dict[str, Any]:
    """Field metadata: a description and the bounds the edge enforces and the OpenAPI document publishes.

    ``pattern`` is an anchored regular expression a string (or an amount's text) must match (``hint`` is the
    message when it does not, else one made of the description: ``pattern_problem``); ``choices`` returns
    the values a string, or each item of a collection, may take (called per request: a deployment's rails), and
    ``when_empty`` what to configure when the deployment offers none. ``text`` is the class of the field's text
    (of a list's items, of an object's values; ``cryptopay.core.text.TextKind``; identifier when not given).
    """
    given = {
        "description": description,
        "min_length": min_length,
        "max_length": max_length,
        "min_items": min_items,
        "max_items": max_items,
        "minimum": minimum,
        "maximum": maximum,
        "item_max_length": item_max_length,
        "key_max_length": key_max_length,
        "pattern": pattern,
        "hint": hint,
        "choices": choices,
        "when_empty": when_empty,
        "text": text,
    }
    return {name: value for name, value in given.items() if value is not None}


def check_text(value: str, *, max_length: int = MAX_TEXT, kind: TextKind = TextKind.IDENTIFIER) -> str:
    """``value`` if it is acceptable text of class ``kind`` of at most ``max_length`` characters, else
    ``InvalidInput``."""
    reason = text_problem(value, kind)
    if reason is not None:
        raise InvalidInput(reason)
    if len(value) > max_length:
        raise InvalidInput(f"must be at most {max_length} characters")
    return value


_INT_DIGITS = 18  # the most digits a JSON number written as a fraction or an exponent may have for an integer field


def _strict(kind: type, label: str, *, checked: bool = True) -> Any:
    def structure(value: object, _: object) -> object:
        if kind is int and type(value) is Decimal and value.is_finite() and value == value.to_integral_value():
            if value.adjusted() > _INT_DIGITS:  # 1e300000: int() of it is seconds of CPU (R9-5)
                raise InvalidInput(f"must be {label}")
            value = int(value)  # 1.0 is an integer in JSON Schema; 1.5 is not
        if type(value) is not kind:
            raise InvalidInput(f"must be {label}")
        return check_text(value) if isinstance(value, str) and checked else value

    return structure


def parse_amount(value: object) -> Decimal:
    """An amount's JSON value as a ``Decimal``: a string of ``AMOUNT_PATTERN`` only, else ``InvalidInput``.

    >>> parse_amount("12.50")
    Decimal('12.50')
    """
    return _decimal(value, None)


def money_parts(value: object) -> tuple[object, str]:
    """The amount and asset code of a ``{"amount": "12.50", "asset": "KES"}`` object (the amount still unparsed)."""
    if not isinstance(value, dict) or set(value) != {"amount", "asset"}:
        raise InvalidInput('must be an object {"amount": "12.50", "asset": "KES"}')
    if not isinstance(value["asset"], str):
        raise InvalidInput('asset must be a string such as "KES"')
    return value["amount"], value["asset"]


def _decimal(value: object, _: object) -> Decimal:
    if not isinstance(value, str):
        raise InvalidInput('must be a string such as "12.50" (amounts are never JSON numbers)')
    if not _AMOUNT.match(value):
        raise InvalidInput(
            f'must be digits with an optional fraction, such as "12.50" (no sign, exponent, separators or spaces; '
            f"at most {MAX_INTEGER_DIGITS} digits before the point and {MAX_FRACTION_DIGITS} after)"
        )
    return Decimal(value)


def _money(value: object, _: object) -> Money:
    text, code = money_parts(value)
    amount, asset = _decimal(text, None), asset_by_code(code)
    check_places(amount, asset.decimals)
    return Money.of(amount, asset)


def _datetime(value: object, _: object) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput("must be an ISO 8601 date-time with a UTC offset")
    if in_utc(moment) is None:  # year 1 or 9999 overflows when compared or converted (R13-1)
        raise InvalidInput("must be a date-time in the years 1000 to 9999")
    return moment


def _enum(value: object, kind: type[enum.Enum]) -> enum.Enum:
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput("must be one of: " + ", ".join(str(m.value) for m in kind)) from None


def _sequence(into: cattrs.Converter) -> Callable[[object, Any], object]:
    def structure(value: object, kind: Any) -> object:
        if not isinstance(value, list):
            raise InvalidInput("must be a JSON array")
        (item,) = get_args(kind) or (Any,)
        return get_origin(kind)(into.structure(v, item) for v in value)

    return structure


def _mapping(into: cattrs.Converter) -> Callable[[object, Any], object]:
    def structure(value: object, kind: Any) -> object:
        if not isinstance(value, dict):
            raise InvalidInput("must be a JSON object")
        key_type, value_type = get_args(kind) or (str, Any)
        return {into.structure(k, key_type): into.structure(v, value_type) for k, v in value.items()}

    return structure


def _origin_in(kind: object, origins: tuple[type, ...]) -> bool:
    """Whether ``kind`` is a parametrised form of one of ``origins`` (``list[int]`` of ``list``)."""
    origin: object = get_origin(kind)
    return origin in origins


def _install(into: cattrs.Converter, *, checked: bool) -> cattrs.Converter:
    """The request hooks on ``into``; ``checked``: strings held to the identifier rule (else the caller checks them,
    by the field's text class: ``_check_strings``)."""
    for kind, label in ((str, "a string"), (int, "an integer"), (bool, "true or false")):
        into.register_structure_hook(kind, _strict(kind, label, checked=checked))
    into.register_structure_hook_func(lambda t: _origin_in(t, (list, set, frozenset)), _sequence(into))
    into.register_structure_hook_func(lambda t: _origin_in(t, (dict,)), _mapping(into))
    into.register_structure_hook(Decimal, _decimal)
    into.register_structure_hook(Money, _money)
    into.register_structure_hook(datetime, _datetime)
    into.register_structure_hook_func(lambda t: isinstance(t, type) and issubclass(t, enum.Enum), _enum)
    return into


_install(converter, checked=True)
_texts_checked = _install(cattrs.Converter(detailed_validation=False), checked=False)  # for fields of another class
converter.register_unstructure_hook(Decimal, str)
converter.register_unstructure_hook(Money, Money.to_json)
converter.register_unstructure_hook(datetime, datetime.isoformat)
converter.register_unstructure_hook(date, date.isoformat)
converter.register_unstructure_hook_func(
    lambda t: t in (set, frozenset) or _origin_in(t, (set, frozenset)),
    lambda items: sorted(converter.unstructure(i) for i in items),
)


_LEAVES = (Money,)  # attrs classes with their own structure hook: values, not nested request objects


def _optional_attrs(kind: Any) -> type | None:
    """The attrs class in ``kind`` or ``kind | None``, else None."""
    options = [a for a in getattr(kind, "__args__", ()) if a is not type(None)] if not attrs.has(kind) else [kind]
    nested = options[0] if len(options) == 1 and attrs.has(options[0]) else None
    return None if nested in _LEAVES else nested


def _structure_fields(cls: type, data: dict[str, Any], prefix: str) -> tuple[dict[str, Any], list[FieldError]]:
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    fields = attrs.fields(attrs.resolve_types(cls))
    for field in fields:
        path = f"{prefix}{field.alias}"
        if field.alias not in data:
            if field.default is attrs.NOTHING:
                errors.append(FieldError(path, "is required"))
            continue
        value, nested = data[field.alias], _optional_attrs(field.type)
        if nested is not None and isinstance(value, dict):
            try:
                values[field.alias] = structure_request(nested, value, prefix=f"{path}.")
            except ValidationFailed as failed:
                errors.extend(failed.errors)
            continue
        items = _list_of_attrs(field.type)
        if items is not None and isinstance(value, list):  # each object checked field by field, like a body
            values[field.alias], found = _structure_items(items, value, field.metadata, path)
            errors.extend(found)
            continue
        try:
            _matches(value, field.metadata)
            kind = field.metadata.get("text", TextKind.IDENTIFIER)
            if isinstance(value, str) and field.metadata.get("max_length", 0) > MAX_TEXT:  # a declared long text
                long_text = check_text(value, max_length=MAX_BODY_TEXT, kind=kind)
                values[field.alias] = _within_limits(long_text, field.metadata)
                continue
            if kind is not TextKind.IDENTIFIER:
                _check_strings(value, kind)
                values[field.alias] = _within_limits(_texts_checked.structure(value, field.type), field.metadata)
                continue
            values[field.alias] = _within_limits(converter.structure(value, field.type), field.metadata)
        except (InvalidInput, ValueError, TypeError) as error:
            errors.append(FieldError(path, getattr(error, "message", None) or "has the wrong type"))
    errors.extend(
        FieldError(f"{prefix}{name}", "is not a known field") for name in sorted(set(data) - {f.alias for f in fields})
    )
    return values, errors


def _check_strings(value: object, kind: TextKind) -> None:
    """Every string in a field's JSON value is text of class ``kind`` (an object's keys: identifiers)."""
    if isinstance(value, str):
        check_text(value, kind=kind)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item, kind)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            _check_strings(item, kind)


def _list_of_attrs(kind: Any) -> type | None:
    """The attrs class ``X`` of ``list[X]`` or ``list[X] | None``, else None."""
    for candidate in (kind, *getattr(kind, "__args__", ())):
        args = get_args(candidate) if _origin_in(candidate, (list,)) else ()
        if len(args) == 1 and attrs.has(args[0]) and args[0] not in _LEAVES:
            item: type = args[0]
            return item
    return None


def _structure_items(kind: type, value: list[Any], declared: Any, path: str) -> tuple[list[Any], list[FieldError]]:
    errors: list[FieldError] = []
    low, high = declared.get("min_items"), declared.get("max_items")
    if _outside(len(value), low, high):
        return [], [FieldError(path, f"must have {_bounds(low, high)} items")]
    items: list[Any] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            errors.append(FieldError(f"{path}[{index}]", "must be an object"))
            continue
        try:
            items.append(structure_request(kind, item, prefix=f"{path}[{index}]."))
        except ValidationFailed as failed:
            errors.extend(failed.errors)
    return items, errors


def _outside(size: int, low: int | None, high: int | None) -> bool:
    return (low is not None and size < low) or (high is not None and size > high)


def _bounds(low: int | None, high: int | None) -> str:
    return f"{low if low is not None else 0} to {high if high is not None else 'any number of'}"


def _matches(raw: object, declared: Any) -> None:
    """The JSON text of a field (before parsing: ``"050"`` is not ``"50"``) matches its declared pattern; text the
    text rule refuses says why (an invisible character), not only that it is not in the expected form."""
    pattern = declared.get("pattern")
    if pattern is not None and isinstance(raw, str) and not re.search(pattern, raw):
        problem = text_problem(raw, declared.get("text", TextKind.IDENTIFIER))
        raise InvalidInput(problem or pattern_problem(declared.get("hint"), declared.get("description")))


def pattern_problem(hint: str | None, description: str | None) -> str:
    """What a person is told when a value does not fit its field's pattern: the field's ``hint``, else what the
    field holds (its description), never the regular expression (noise to a person; the OpenAPI document keeps it).

    >>> pattern_problem(None, "ISO 3166 alpha-2 country of residence, e.g. GB")
    'is not in the expected form: ISO 3166 alpha-2 country of residence, e.g. GB'
    >>> pattern_problem(None, None)
    'is not in the expected form'
    """
    if hint:
        return hint
    return f"is not in the expected form: {description}" if description else "is not in the expected form"


def _check_choices(value: object, allowed: list[str], when_empty: str | None) -> None:
    values = value if isinstance(value, list | set | frozenset) else [value]
    for item in values:
        text = item.value if isinstance(item, enum.Enum) else item
        if text not in allowed:
            if not allowed:
                raise InvalidInput(when_empty or f"{text!r} is not offered: this server offers none")
            raise InvalidInput(f"{text!r} is not one of: {', '.join(allowed)}")


def _within_limits(value: Any, declared: Any) -> Any:
    """``value`` if it keeps the bounds declared with ``limits`` (the same bounds the OpenAPI document shows)."""
    if isinstance(value, str) and _outside(len(value), declared.get("min_length"), declared.get("max_length")):
        raise InvalidInput(f"must have {_bounds(declared.get('min_length'), declared.get('max_length'))} characters")
    if isinstance(value, list | set | frozenset | dict):
        if _outside(len(value), declared.get("min_items"), declared.get("max_items")):
            raise InvalidInput(f"must have {_bounds(declared.get('min_items'), declared.get('max_items'))} items")
        items = value.values() if isinstance(value, dict) else value
        for item in items if "item_max_length" in declared else ():
            check_text(item, max_length=declared["item_max_length"], kind=declared.get("text", TextKind.IDENTIFIER))
        for key in value if isinstance(value, dict) and "key_max_length" in declared else ():
            if not 1 <= len(key) <= declared["key_max_length"]:
                raise InvalidInput(f"keys must have 1 to {declared['key_max_length']} characters")
    if "choices" in declared and value is not None:  # an optional field left null chooses nothing
        _check_choices(value, sorted(declared["choices"]()), declared.get("when_empty"))
    if type(value) is int and _outside(value, declared.get("minimum"), declared.get("maximum")):
        raise InvalidInput(f"must be from {_bounds(declared.get('minimum'), declared.get('maximum'))}")
    return value


def structure_request(cls: type[T], data: object, *, prefix: str = "") -> T:
    """Build ``cls`` from parsed JSON, collecting every field's problem into one ``ValidationFailed``."""
    if not isinstance(data, dict):
        raise ValidationFailed([FieldError(prefix.rstrip(".") or "body", "must be a JSON object")])
    values, errors = _structure_fields(cls, data, prefix)
    if errors:
        raise ValidationFailed(errors)
    try:
        return cls(**values)
    except InvalidInput as error:
        field = str(error.details.get("field", prefix.rstrip(".") or "body"))
        raise ValidationFailed([FieldError(field, error.message)]) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise BadRequest(f"the request body repeats the key {key!r} in one object")
        found[key] = value
    return found


def parse_json(raw: bytes) -> Any:
    """Parse a request body strictly: UTF-8, no NaN/Infinity, no repeated keys, at most ``MAX_DEPTH`` deep (400)."""
    try:
        return loads_untrusted(raw, object_pairs_hook=_unique_keys)
    except JsonTooDeep:
        raise BadRequest(f"the request body nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the request body is not valid JSON") from None


def prepare_converters(request_bodies: Iterable[type], responses: Iterable[type]) -> int:
    """Build the edge converter's hooks for views' request bodies (each field's type, both text checks) and their
    responses now, and those of the types within them (``hooks.prepare_hooks``, all at once; cattrs builds a type's
    on first use: milliseconds each, with the GIL held): a worker's warm-up (``openapi.prepare_views``). The number
    of types met."""
    fields = [
        field.type for body in request_bodies if attrs.has(body) for field in attrs.fields(attrs.resolve_types(body))
    ]
    prepare_hooks(_texts_checked, fields)
    return prepare_hooks(converter, fields) + prepare_hooks(converter, list(responses), structure=False)


def read_body(cls: type[T], *, optional: bool = False) -> T:
    """The request's JSON body as ``cls``: 415 unless it is JSON, 400 if malformed, 422 if it does not fit."""
    raw = request.get_data(cache=True)
    if optional and not raw:
        return structure_request(cls, {})
    if not request.is_json:
        raise UnsupportedMediaType("send the request body as application/json")
    if request.mimetype_params.get("charset", "utf-8").lower() not in _UTF8:
        raise UnsupportedMediaType("JSON is read as UTF-8: send charset=utf-8 or no charset")
    check_body_encoding(request.headers.get("Content-Encoding", ""), raw)
    return structure_request(cls, parse_json(raw))


_UTF8 = ("utf-8", "utf8")  # JSON's one encoding (RFC 8259 section 8.1): any other charset would be misread


def check_body_encoding(content_encoding: str, raw: bytes) -> None:
    """415 unless the body is plain UTF-8 (review H3): a ``Content-Encoding`` other than ``identity`` is not decoded
    here (the compressed bytes would be read as JSON, or worse, a decoder would be a decompression bomb), and a
    UTF-16 or UTF-32 body (which ``json.loads`` of bytes would silently detect from its BOM or NULs) is not JSON as
    this API reads it. A UTF-8 byte-order mark is tolerated (RFC 8259 section 8.1 lets a parser ignore it).

    >>> check_body_encoding("", b'{"a": 1}'), check_body_encoding("identity", b'{}')
    (None, None)
    >>> check_body_encoding("", '{"a": 1}'.encode("utf-32"))
    Traceback (most recent call last):
    werkzeug.exceptions.UnsupportedMediaType: 415 Unsupported Media Type: JSON is read as UTF-8: this body is UTF-32
    """
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    if any(c != "identity" for c in codings):
        shown = re.sub(r"[^a-z0-9 ,._-]", "", ", ".join(c for c in codings if c != "identity"))[:40]
        raise UnsupportedMediaType(
            f"the body is read as sent: Content-Encoding {shown} is not decoded here, send it uncompressed (identity)"
        )
    found = json.detect_encoding(raw)
    if found not in ("utf-8", "utf-8-sig"):
        raise UnsupportedMediaType(f"JSON is read as UTF-8: this body is {found[:6].upper()}")


def json_text(body: object) -> str:
    """``body`` unstructured by the edge converter, as compact JSON (what ``json_response`` sends).

    >>> from cryptopay.core.money import KES
    >>> json_text({"amount": Money.of("1.5", KES), "note": "Café"})
    '{"amount":{"amount":"1.50","asset":"KES"},"note":"Café"}'
    """
    return json.dumps(converter.unstructure(body), ensure_ascii=False, separators=(",", ":"))


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response of ``body`` unstructured by the edge converter."""
    return Response(json_text(body), status=status, headers=headers, mimetype="application/json")
