"""Cursor pagination: ``?limit=&cursor=`` in, ``{"data": [...], "next_cursor": ...}`` out.

Listings are keyset-paginated on a sortable key (ids are time-ordered); a merchant's lists are newest first. The
cursor is the last key seen, which clients treat as opaque and pass back unchanged; the next page holds the items
that follow it in the listing's order. Any text is a position, so a valid-looking cursor is never refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, ParamSpec, Protocol, TypeVar

import attrs
from cryptopay.core.errors import InvalidInput
from flask import request

from cryptopay_http.convert import TEXT_PATTERN
from cryptopay_http.openapi import Param
from cryptopay_http.query import query
from cryptopay_http.runtime import runtime

__all__ = ["Page", "decode_cursor", "encode_cursor", "paginate", "paginated"]


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


def decode_cursor(cursor: str) -> str:
    """The key a cursor points past. Every key-shaped text is a position in the listing, so no cursor is refused
    once it passed the parameter's declared pattern (a stale one simply starts past that key)."""
    return cursor


def _limit() -> int:
    settings = runtime().settings
    text = request.args.get("limit")
    if text is None:
        return settings.page_size
    if not text.isdigit() or not 1 <= int(text) <= settings.max_page_size:
        raise InvalidInput(f"limit must be an integer from 1 to {settings.max_page_size}", field="limit")
    return int(text)


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


CURSOR_PATTERN = TEXT_PATTERN
LIMIT = Param(
    "limit",
    lambda: {"type": "integer", "minimum": 1, "maximum": runtime().settings.max_page_size},
    description="items per page (the default page size when left out)",
)
CURSOR = Param(
    "cursor",
    {"type": "string", "minLength": 1, "maxLength": 64, "pattern": CURSOR_PATTERN},
    description="next_cursor of the previous page",
)


def paginated(view: Callable[P, R]) -> Callable[P, R]:
    """Check and document the ``limit`` and ``cursor`` query parameters of a listing view."""
    return query(LIMIT, CURSOR)(view)
