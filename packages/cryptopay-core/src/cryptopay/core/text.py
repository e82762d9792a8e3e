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

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["spreadsheet_cell", "spreadsheet_row", "text_problem"]

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


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def spreadsheet_cell(value: object) -> object:
    """``value`` as a CSV cell that a spreadsheet shows as text: text starting with ``=``, ``+``, ``-``, ``@``, a tab
    or a carriage return (which Excel, LibreOffice and Google Sheets run as a formula) gets a leading apostrophe;
    numbers such as ``-100.00`` and anything else are left as they are.

    >>> spreadsheet_cell('=HYPERLINK("https://evil.example")'), spreadsheet_cell("-100.00"), spreadsheet_cell("Duka")
    ('\\'=HYPERLINK("https://evil.example")', '-100.00', 'Duka')
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def spreadsheet_row(row: Iterable[object]) -> list[object]:
    """Every cell of a CSV row through ``spreadsheet_cell`` (for a ``DictWriter``, map its values the same way).

    >>> spreadsheet_row(["=1+1", "-5", 3])
    ["'=1+1", '-5', 3]
    """
    return [spreadsheet_cell(value) for value in row]
