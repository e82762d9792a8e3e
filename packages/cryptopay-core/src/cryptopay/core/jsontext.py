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

import re

__all__ = ["MAX_JSON_DEPTH", "json_depth"]

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
