"""``prepare_hooks``: a cattrs converter's hooks for some types built now (a worker's warm-up) rather than on first use.

cattrs builds a class's structure and unstructure functions the first time it meets the class (generating and
compiling code: 10 to 27 ms for an invoice, with the GIL held), and those of a tuple's or a list's items only when
it meets an item. ``prepare_hooks`` asks the converter for each type and every type within it (attrs fields, the
arguments of ``tuple[X, ...]``, ``list[X]``, ``X | None``, ``dict[K, V]``), so each is built and kept once.

>>> from decimal import Decimal
>>> prepare_hooks(cattrs.Converter(), [tuple[Decimal, ...], dict[str, int | None]])
6
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, get_args

import attrs
import cattrs

__all__ = ["prepare_hooks"]


def prepare_hooks(converter: cattrs.Converter, types: Iterable[Any], *, structure: bool = True) -> int:
    """Build ``converter``'s unstructure hook (and its structure hook, with ``structure``) of each of ``types`` and of
    every type within them; the number of distinct types met.

    Twice over: cattrs registers the hook of a new list, tuple or dict type as it builds it, which empties its cache
    of the classes' hooks built so far (each would be built again at its next use); on the second pass every such
    type is registered already, so the classes' hooks built then stay. Give every type at once for the same reason.
    """
    wanted = list(types)
    _walk(converter, wanted, structure=structure)
    return _walk(converter, wanted, structure=structure)


def _walk(converter: cattrs.Converter, types: list[Any], *, structure: bool) -> int:
    seen: set[Any] = set()
    pending = list(types)
    while pending:
        kind = pending.pop()
        if kind is type(None) or kind is Any or isinstance(kind, str):
            continue
        try:
            if kind in seen:
                continue
            seen.add(kind)
        except TypeError:  # an unhashable annotation: left to its first use
            continue
        try:
            converter.get_unstructure_hook(kind)
            if structure:
                converter.get_structure_hook(kind)
            fields = attrs.fields(attrs.resolve_types(kind)) if attrs.has(kind) else ()
        except Exception:  # noqa: S112  (a type the converter cannot handle fails at its first use, as before)
            continue
        pending.extend(field.type for field in fields if field.type is not None)
        pending.extend(arg for arg in get_args(kind) if arg is not Ellipsis)
    return len(seen)
