"""Cursor pagination: ``?limit=&cursor=`` in, ``{"data": [...], "next_cursor": ...}`` out.

Listings are keyset-paginated on a sortable key (ids are time-ordered); a merchant's lists are newest first. The
cursor is the last key seen, which clients treat as opaque and pass back unchanged; the next page holds the items
that follow it in the listing's order. Each list operation declares the prefix of the ids it lists, once:
``@paginated("inv")``. That one declaration is the ``cursor`` parameter's published pattern (``^inv_[0-9A-Z]{1,40}$``)
and the rule the query check holds a request to, so a cursor that is not an id of the list's kind (``cursor=x``, a
base64 token, a lower-case or spaced text, a ``po_...`` on ``/v1/invoices``) is a 422 on ``cursor`` (review H2): used
as a raw bound it silently gave the whole list or nothing. Any id-shaped text of the list's kind is a position, the
items that follow it (a stale id, or one no longer there, pages on from where it was); a truncated id of the right
kind is such a position too (ids' length is not fixed: the test id source writes ``inv_000001``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Generic, ParamSpec, Protocol, TypeVar

import attrs
from cryptopay.core.errors import InvalidInput
from flask import request

from cryptopay_http.openapi import Param
from cryptopay_http.query import query, whole_number
from cryptopay_http.runtime import runtime

__all__ = [
    "CURSOR_PATTERN",
    "Page",
    "cursor_param",
    "cursor_pattern",
    "decode_cursor",
    "encode_cursor",
    "newest_first",
    "paginate",
    "paginated",
]


class Identified(Protocol):
    """An item listed by its id (ids are time-ordered, so they sort as the listing does)."""

    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=Identified)
V = TypeVar("V")
P = ParamSpec("P")
R = TypeVar("R")


@attrs.frozen
class Page(Generic[V]):
    data: list[V]
    next_cursor: str | None


def encode_cursor(last: str) -> str:
    """The cursor meaning "the items that follow ``last``": the last key seen, which clients pass back unchanged."""
    return last


_NOT_A_CURSOR = "is not a next_cursor of this list (pass it back unchanged)"


def decode_cursor(cursor: str) -> str:
    """The key a cursor points past: an id's form (``prefix_DIGITS``), else a 422 on ``cursor``.

    >>> decode_cursor("inv_01J5Q3ZK8M0000000000000000"[:30])
    'inv_01J5Q3ZK8M0000000000000000'
    >>> decode_cursor("eyJpZCI6Inp6enoifQ==")
    Traceback (most recent call last):
    cryptopay.core.errors.InvalidInput: cursor is not a next_cursor of this list (pass it back unchanged)
    """
    if not _KEY.fullmatch(cursor):
        raise InvalidInput(f"cursor {_NOT_A_CURSOR}", field="cursor")
    return cursor


def _limit() -> int:
    settings = runtime().settings
    text = request.args.get("limit")
    if text is None:
        return settings.page_size
    limit = whole_number(text)
    if limit is None or not 1 <= limit <= settings.max_page_size:
        raise InvalidInput(f"limit must be an integer from 1 to {settings.max_page_size}", field="limit")
    return limit


def paginate(
    fetch: Callable[[str | None, int], list[T]],
    present: Callable[[T], V],
    key: Callable[[T], str] = lambda item: item.id,
) -> Page[V]:
    """One page: ``fetch(cursor, limit)`` returns the items that follow the cursor in the listing's order (``key``
    is what the next cursor is made of); one extra tells whether more follow."""
    limit = _limit()
    cursor = request.args.get("cursor")
    items = fetch(decode_cursor(cursor) if cursor else None, limit + 1)
    more, items = len(items) > limit, items[:limit]
    return Page([present(i) for i in items], encode_cursor(key(items[-1])) if more and items else None)


def newest_first(items: Sequence[T]) -> Callable[[str | None, int], list[T]]:
    """A ``paginate`` fetch over a short list already read whole (an invoice's few wrong-network payments, a team's
    invitations): newest first by id (ids are time-ordered), the items that follow the cursor."""
    ordered = sorted(items, key=lambda item: item.id, reverse=True)
    return lambda before, limit: [i for i in ordered if before is None or i.id < before][:limit]


CURSOR_PATTERN = r"^[a-z]{2,12}_[0-9A-Z]{1,40}$"  # an id: its prefix, "_", its digits (Crockford base32)
_KEY = re.compile(CURSOR_PATTERN)
_PREFIX = re.compile(r"[a-z]{2,12}")
LIMIT = Param(
    "limit",
    lambda: {"type": "integer", "minimum": 1, "maximum": runtime().settings.max_page_size},
    description="items per page (the default page size when left out)",
)


def cursor_pattern(prefix: str) -> str:
    """The form of a cursor of a list of ``prefix`` ids: that prefix, ``_``, then the id's digits.

    >>> cursor_pattern("inv")
    '^inv_[0-9A-Z]{1,40}$'
    """
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"an id prefix is 2 to 12 lower-case letters, not {prefix!r}")
    return f"^{prefix}_[0-9A-Z]{{1,40}}$"


def cursor_param(prefix: str) -> Param:
    """The ``cursor`` parameter of a list of ``prefix`` ids: documented and checked with one schema."""
    schema = {"type": "string", "minLength": len(prefix) + 2, "maxLength": len(prefix) + 41}
    return Param(
        "cursor",
        {**schema, "pattern": cursor_pattern(prefix)},
        description=(
            f"next_cursor of the previous page (an id `{prefix}_...` of this list), passed back unchanged "
            "(anything else is a 422 on cursor)"
        ),
    )


def paginated(prefix: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Check and document the ``limit`` and ``cursor`` query parameters of a listing of ``prefix`` ids (the one place
    a list says what kind of id its cursor is: the published pattern and the check both come from it)."""
    return query(LIMIT, cursor_param(prefix))
