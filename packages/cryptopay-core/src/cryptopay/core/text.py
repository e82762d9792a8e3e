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

__all__ = ["person_name_problem", "quoted_name", "spreadsheet_cell", "spreadsheet_row", "text_problem"]

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


_NAME_PUNCTUATION = frozenset(" '\u2019-.")  # space, apostrophes (straight and typographic), hyphen, full stop
NAME_MOST = 70  # characters of a person's name as entered (a full legal name for the Travel Rule)
SMS_NAME_MOST = 40  # characters of a name quoted in an SMS


def person_name_problem(value: str, *, most: int = NAME_MOST) -> str | None:
    """Why ``value`` is not a person's name, or None when it is: letters of any script (with their combining
    accents), spaces, apostrophes, hyphens and full stops only, starting with a letter, at most ``most`` characters.

    A name is text that other people read -- in an SMS from the platform's own sender ID, on a statement -- so it
    must not carry a phone number, a link, an email address or an instruction ("call 0700...", "visit https://...").

    >>> person_name_problem("Zoë O'Brien-Ng") is None, person_name_problem("Wanjiků Mũthoni") is None
    (True, True)
    >>> person_name_problem("张伟") is None, person_name_problem("Dr. J. R. R. Tolkien") is None
    (True, True)
    >>> person_name_problem("M-PESA Reversal: call 0700111222")
    "a person's name has only letters, spaces, apostrophes, hyphens and full stops (not ':')"
    >>> person_name_problem("visit https://evil.example")
    "a person's name has only letters, spaces, apostrophes, hyphens and full stops (not ':')"
    >>> person_name_problem("Agent 47")
    "a person's name has only letters, spaces, apostrophes, hyphens and full stops (not '4')"
    >>> person_name_problem("-Grace")
    "a person's name starts with a letter"
    """
    text = value.strip()
    if not text:
        return "a person's name is required"
    if len(text) > most:
        return f"a person's name is at most {most} characters"
    if (problem := text_problem(text)) is not None:
        return problem
    for ch in unicodedata.normalize("NFC", text):
        if ch not in _NAME_PUNCTUATION and unicodedata.category(ch)[0] not in "LM":
            return f"a person's name has only letters, spaces, apostrophes, hyphens and full stops (not {ch!r})"
    if unicodedata.category(text[0])[0] != "L":
        return "a person's name starts with a letter"
    if "  " in text:
        return "a person's name has single spaces between its words"
    return None


def quoted_name(value: str, *, most: int = SMS_NAME_MOST, fallback: str = "a sender abroad") -> str:
    """``value`` as a message to another person may quote it: a valid person's name (``person_name_problem``) cut to
    ``most`` characters at a word where it can be, else ``fallback`` (a name stored before the rule existed).

    >>> quoted_name("Grace Otieno"), quoted_name("call 0700111222"), quoted_name("Wanjiru " * 8, most=20)
    ('Grace Otieno', 'a sender abroad', 'Wanjiru Wanjiru…')
    """
    text = value.strip()
    if person_name_problem(text, most=max(most, NAME_MOST)) is not None:
        return fallback
    if len(text) <= most:
        return text
    cut = text[: most - 1]
    word = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return word.rstrip(" .'\u2019-") + "…"


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
