"""What counts as text: valid Unicode with no lone surrogates, no control characters and no bidirectional overrides.

Every name, id, email, URL and note that enters the system passes ``text_problem`` before anything is stored, so
SQLite and PostgreSQL see the same strings (PostgreSQL refuses NUL; neither can encode a lone surrogate as UTF-8).

>>> text_problem("Duka Ltd") is None
True
>>> text_problem("a\\x00b")
'must not contain control characters (such as NUL or line breaks)'

The explicit bidirectional embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069) are refused too: one
in a payment link's description or a name would reorder what a customer or an officer reads ("Trojan Source"
spoofing); right-to-left text needs none of them (the marks U+200E and U+200F stay allowed).

>>> text_problem("Mandazi \\u202e05 SEK")
'must not contain bidirectional override characters (U+202A to U+202E, U+2066 to U+2069)'
"""

from __future__ import annotations

import unicodedata

__all__ = ["text_problem"]

_SURROGATE = "must be valid Unicode text (a lone UTF-16 surrogate is not)"
_CONTROL = "must not contain control characters (such as NUL or line breaks)"
_BIDI = "must not contain bidirectional override characters (U+202A to U+202E, U+2066 to U+2069)"
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def text_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable text, or None when it is."""
    if value.isprintable():
        return None
    for ch in value:
        if "\ud800" <= ch <= "\udfff":
            return _SURROGATE
        if unicodedata.category(ch) == "Cc":
            return _CONTROL
        if ch in _BIDI_CONTROLS:
            return _BIDI
    return None
