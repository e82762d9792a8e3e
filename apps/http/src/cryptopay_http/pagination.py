"""Cursor pagination: ``?limit=&cursor=`` in, ``{"data": [...], "next_cursor": ...}`` out.

Listings are keyset-paginated on a sortable key (ids are time-ordered); the cursor is opaque to clients
(base64url of the last key seen), so the key can change without breaking them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.jsontext import json_depth
from flask import request

from cryptopay_http.openapi import annotate
from cryptopay_http.runtime import runtime

__all__ = ["Page", "decode_cursor", "encode_cursor", "paginate", "paginated"]


class Identified(Protocol):
    """An item listed by its id (ids are time-ordered, so they sort as the listing does)."""

    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=Identified)
V = TypeVar("V")
F = TypeVar("F", bound=Callable[..., Any])


@attrs.frozen
class Page(Generic[V]):
    data: list[V]
    next_cursor: str | None


def encode_cursor(after: str) -> str:
    """An opaque cursor meaning "the items after ``after``"."""
    return base64.urlsafe_b64encode(json.dumps({"v": 1, "after": after}).encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> str:
    """The key a cursor points after; ``InvalidInput`` for anything this API did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if len(cursor) > 512 or json_depth(raw) > 1:
            raise ValueError("not a cursor of ours")
        data = json.loads(raw)
        if data.get("v") != 1 or not isinstance(data.get("after"), str):
            raise ValueError("unknown cursor version")
        return str(data["after"])
    except (ValueError, binascii.Error, AttributeError):
        raise InvalidInput("cursor is not a cursor issued by this API", field="cursor") from None


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
    """One page: ``fetch(after, limit)`` returns items ordered by ``key``; one extra tells whether more follow."""
    limit = _limit()
    cursor = request.args.get("cursor")
    items = fetch(decode_cursor(cursor) if cursor else None, limit + 1)
    more, items = len(items) > limit, items[:limit]
    return Page([present(i) for i in items], encode_cursor(key(items[-1])) if more and items else None)


def paginated(view: F) -> F:
    """Document the ``limit`` and ``cursor`` query parameters of a listing view."""
    params = (
        {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
        {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
    )
    return annotate(view, parameters=params, errors=(422,))
