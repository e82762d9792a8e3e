"""What counts as text: valid Unicode with no lone surrogates and no control characters.

Every name, id, email, URL and note that enters the system passes ``text_problem`` before anything is stored, so
SQLite and PostgreSQL see the same strings (PostgreSQL refuses NUL; neither can encode a lone surrogate as UTF-8).

>>> text_problem("Duka Ltd") is None
True
>>> text_problem("a\\x00b")
'must not contain control characters (such as NUL or line breaks)'
"""

from __future__ import annotations

import unicodedata

__all__ = ["text_problem"]

_SURROGATE = "must be valid Unicode text (a lone UTF-16 surrogate is not)"
_CONTROL = "must not contain control characters (such as NUL or line breaks)"


def text_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable text, or None when it is."""
    if value.isprintable():
        return None
    for ch in value:
        if "\ud800" <= ch <= "\udfff":
            return _SURROGATE
        if unicodedata.category(ch) == "Cc":
            return _CONTROL
    return None
