"""Untrusted JSON text is measured before it is parsed: how deep it nests, read from its brackets.

Every parser of outside JSON (request bodies, Daraja callbacks, pagination cursors) checks ``json_depth`` first.
The reason is not style: web3's ``py_ecc`` raises Python's recursion limit to 100,000 when it is imported, so
``json.loads`` of 100,000 ``[`` overflows the C stack and kills the process (a segfault, not a
``RecursionError``). Counting brackets outside strings is linear and never recurses.

>>> json_depth(b'{"a": [[1], "[[[["], "b": {}}')
3
>>> json_depth('"no brackets [ here"')
0
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "JsonTooDeep", "json_depth", "loads_untrusted"]

MAX_JSON_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_MARKS = bytes.maketrans(b"[{]}", b"\x01\x01\x02\x02")


def json_depth(text: str | bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (0 for a scalar); malformed text is measured too."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    depth = deepest = 0
    for mark in _STRING.sub(b"", raw).translate(_MARKS):
        if mark == 1:
            depth += 1
            deepest = max(deepest, depth)
        elif mark == 2:
            depth -= 1
    return deepest


class JsonTooDeep(ValueError):
    """The text nests deeper than ``MAX_JSON_DEPTH``; refused before any parser ran."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads_untrusted(
    text: str | bytes, *, object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None
) -> Any:
    """Parse outside JSON: depth measured first (``JsonTooDeep``), fractions as ``Decimal``, no ``NaN``/``Infinity``.

    Malformed text, a constant, or an integer past Python's digit limit raise ``ValueError`` (or
    ``UnicodeDecodeError``); callers turn them into their own "not JSON" refusal.

    >>> loads_untrusted('{"amount": 1.5}')
    {'amount': Decimal('1.5')}
    """
    if json_depth(text) > MAX_JSON_DEPTH:
        raise JsonTooDeep(f"nests deeper than {MAX_JSON_DEPTH} levels")
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=object_pairs_hook)
