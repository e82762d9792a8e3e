"""What counts as text: valid Unicode with no lone surrogates, no control characters and no bidirectional overrides.

Every name, id, email, URL and note that enters the system passes ``text_problem`` before anything is stored, so
SQLite and PostgreSQL see the same strings (PostgreSQL refuses NUL; neither can encode a lone surrogate as UTF-8).

>>> text_problem("Duka Ltd") is None
True
>>> text_problem("a\\x00b")
'must not contain control characters (such as NUL or line breaks)'

The explicit bidirectional embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069) are refused too: one
in a payment link's description or a name would reorder what a customer or an officer reads ("Trojan Source"
spoofing); right-to-left text needs none of them.

>>> text_problem("Mandazi \\u202e05 SEK")
'must not contain bidirectional override characters (U+202A to U+202E, U+2066 to U+2069)'

Line and paragraph separators (U+2028, U+2029) are line breaks like CR and LF (an email subject with one cannot be
sent), and invisible characters -- every format character (Unicode category Cf: zero-width spaces and joiners, the
direction marks, the BOM, soft hyphens, tag characters), private-use characters (Co) and the blank "letters" that
render as nothing (Hangul fillers, U+034F) -- are refused as well: "KPLC" and "KPLC" followed by a zero-width space
look the same on a checkout page, an SMS or a statement. The one exception is the zero-width joiner inside an emoji
sequence (a pictograph on both sides: "\U0001f469\u200d\U0001f4bb"), which shows as one visible emoji.

>>> text_problem("Shop\\u2028Bcc: x@evil.example")
'must not contain line or paragraph separators (U+2028, U+2029)'
>>> text_problem("KPLC\\u200b")
'must not contain invisible characters (zero-width, format or private-use characters such as U+200B)'
>>> text_problem("Team \\U0001f469\\u200d\\U0001f4bb") is None
True
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from cryptopay.core.errors import InvalidInput

__all__ = [
    "checked_text",
    "one_line",
    "person_name_problem",
    "quoted_name",
    "spreadsheet_cell",
    "spreadsheet_row",
    "text_problem",
]

_SURROGATE = "must be valid Unicode text (a lone UTF-16 surrogate is not)"
_CONTROL = "must not contain control characters (such as NUL or line breaks)"
_BIDI = "must not contain bidirectional override characters (U+202A to U+202E, U+2066 to U+2069)"
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


_SEPARATOR = "must not contain line or paragraph separators (U+2028, U+2029)"
_INVISIBLE = "must not contain invisible characters (zero-width, format or private-use characters such as U+{:04X})"
# Letters and marks that render as nothing (Unicode's default-ignorable code points outside category Cf, less the
# variation selectors that pick an emoji's presentation): a name made of them looks blank or like another.
_BLANK = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0")
_ZWJ = "\u200d"
_EMOJI_MODIFIERS = frozenset("\ufe0f") | frozenset(chr(c) for c in range(0x1F3FB, 0x1F400))  # presentation, skin tones


def text_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable text, or None when it is.

    Refused: lone surrogates (Cs), control characters (Cc), the bidirectional controls, line and paragraph
    separators (Zl, Zp), format characters (Cf), private-use characters (Co) and the blank letters; each with its
    own message (the caller's 422 names the field).
    """
    if value.isprintable() and (value.isascii() or _BLANK.isdisjoint(value)):
        return None  # no C* or Z* category but the space: the common case, at C speed
    for at, ch in enumerate(value):
        category = unicodedata.category(ch)
        if category == "Cs":
            return _SURROGATE
        if category == "Cc":
            return _CONTROL
        if ch in _BIDI_CONTROLS:
            return _BIDI
        if category in ("Zl", "Zp"):
            return _SEPARATOR
        if (category in ("Cf", "Co") or ch in _BLANK) and not (ch == _ZWJ and _joins_emoji(value, at)):
            return _INVISIBLE.format(ord(ch))
    return None


def checked_text(value: str, *, field: str) -> str:
    """``value`` if it is acceptable text (``text_problem``), else ``InvalidInput`` naming ``field``: the use cases'
    own check of a name or description, whichever shell (API, page form, CLI) it came through.

    >>> checked_text("Duka Ltd", field="business_name")
    'Duka Ltd'
    >>> try:
    ...     checked_text("Duka\\ufeff", field="business_name")
    ... except InvalidInput as error:
    ...     error.details["field"], error.message[:51]
    ('business_name', 'business_name must not contain invisible characters')
    """
    if (problem := text_problem(value)) is not None:
        raise InvalidInput(f"{field} {problem}", field=field)
    return value


_LINE_BREAKING = frozenset(("Cc", "Zl", "Zp"))


def one_line(value: str) -> str:
    """``value`` with every control character, line and paragraph separator (anything that could start a new line
    in a mail header, a log line or a CSV row) replaced by a space: for text made of stored values, which may
    predate today's rule.

    >>> one_line("Shop\\u2028Bcc: x@evil.example\\r\\nX: y"), one_line("Duka Ltd")
    ('Shop Bcc: x@evil.example  X: y', 'Duka Ltd')
    """
    if value.isprintable():
        return value
    return "".join(" " if unicodedata.category(ch) in _LINE_BREAKING else ch for ch in value)


def _joins_emoji(value: str, at: int) -> bool:
    """Whether the zero-width joiner at ``at`` sits between two pictographs (an emoji sequence such as a family)."""
    before, after = value[at - 1 : at], value[at + 1 : at + 2]
    return (
        bool(before)
        and bool(after)
        and (unicodedata.category(before) == "So" or before in _EMOJI_MODIFIERS)
        and unicodedata.category(after) == "So"
    )


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
