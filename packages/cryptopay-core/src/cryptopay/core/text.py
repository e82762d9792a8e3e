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

Not every text is read the same way, so the rule has four classes (``TextKind``), chosen per field:

- ``IDENTIFIER`` (the default): ids, references, cursors, usernames, emails, URLs, codes, metadata keys -- what must
  be unambiguous, compared or looked up. Everything above applies.
- ``NAME``: what a person or a business is called, shown to others (a display name, a business name, a sender's or
  recipient's name, an API key's label). As an identifier, except that the zero-width non-joiner and joiner
  (U+200C, U+200D) are allowed where a script needs them (``joins_letters``): after a virama (Indic conjuncts and
  chillus, "\\u0915\\u094d\\u200c\\u0937") or between two letters of a cursively joining script (Arabic, Syriac,
  N'Ko, Mongolian, Adlam ...: the Persian "\\u0645\\u06cc\\u200c\\u062e\\u0648\\u0627\\u0647\\u0645"), where they
  change what the reader sees. Beside a Latin, CJK or other non-joining letter they change nothing visible and stay
  refused.
- ``PROSE``: free text (notes, descriptions, reasons, metadata values, postal addresses). As a name, and the soft
  hyphen (U+00AD, a hyphenation hint pasted from a word processor) is allowed too.
- ``SECRET``: what a client chooses and nobody reads back (passwords). Any character but the control characters
  (C0, C1, NUL) and lone surrogates: a password is never displayed, so an invisible character is no spoofing risk,
  and refusing one would lock out whoever pasted it.

>>> text_problem("\\u0645\\u06cc\\u200c\\u062e\\u0648\\u0627\\u0647\\u0645", TextKind.NAME) is None
True
>>> text_problem("\\u0645\\u06cc\\u200c\\u062e\\u0648\\u0627\\u0647\\u0645")  # the same in an identifier
'must not contain invisible characters (zero-width, format or private-use characters such as U+200C)'
>>> text_problem("KPLC\\u200c", TextKind.PROSE), text_problem("pay\\u00adment", TextKind.PROSE)
('must not contain invisible characters (zero-width, format or private-use characters such as U+200C)', None)
>>> text_problem("pass\\u200bword\\u00ad", TextKind.SECRET), text_problem("pass\\x00word", TextKind.SECRET)
(None, 'must not contain control characters (such as NUL or line breaks)')
"""

from __future__ import annotations

import bisect
import enum
import functools
import json
import re
import unicodedata
from collections.abc import Iterable
from importlib import resources

from cryptopay.core.errors import InvalidInput

__all__ = [
    "TextKind",
    "checked_text",
    "joins_letters",
    "one_line",
    "pattern_form",
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
_JOINERS = frozenset("\u200c\u200d")  # the zero-width non-joiner and joiner
_SOFT_HYPHEN = "\u00ad"
# The letters with a Unicode joining type (ArabicShaping.txt: dual, left, right or join causing), as ranges: the
# scripts whose letters join, where a zero-width (non-)joiner between two of them changes what is seen. The unit test
# compares the table with the idna package's copy of the Unicode data (letters Python knows).
_JOINING_LETTERS = (
    (0x0620, 0x0620), (0x0622, 0x064A), (0x066E, 0x066F), (0x0671, 0x0673), (0x0675, 0x06D3), (0x06D5, 0x06D5),
    (0x06EE, 0x06EF), (0x06FA, 0x06FC), (0x06FF, 0x06FF), (0x0710, 0x0710), (0x0712, 0x072F), (0x074D, 0x077F),
    (0x07CA, 0x07EA), (0x07FA, 0x07FA), (0x0840, 0x0858), (0x0860, 0x0860), (0x0862, 0x0865), (0x0867, 0x086A),
    (0x0870, 0x0886), (0x0889, 0x088E), (0x08A0, 0x08AC), (0x08AE, 0x08C8), (0x1820, 0x1878), (0x1887, 0x18A8),
    (0x18AA, 0x18AA), (0xA840, 0xA872), (0x10AC0, 0x10AC5), (0x10AC7, 0x10AC7), (0x10AC9, 0x10ACA),
    (0x10ACD, 0x10AE1), (0x10AE4, 0x10AE4), (0x10B80, 0x10B91), (0x10D00, 0x10D23), (0x10F30, 0x10F44),
    (0x10F70, 0x10F81), (0x10FB0, 0x10FB0), (0x10FB2, 0x10FB6), (0x10FB8, 0x10FBF), (0x10FC1, 0x10FC4),
    (0x1E900, 0x1E943),
)  # fmt: skip
_JOINING_STARTS = tuple(first for first, _ in _JOINING_LETTERS)
_EMOJI_MODIFIERS = frozenset("\ufe0f") | frozenset(chr(c) for c in range(0x1F3FB, 0x1F400))  # presentation, skin tones


class TextKind(enum.Enum):
    """Which class of text a field holds (the module's docstring): how strictly invisible characters are refused."""

    IDENTIFIER = "identifier"
    NAME = "name"
    PROSE = "prose"
    SECRET = "secret"


def text_problem(value: str, kind: TextKind = TextKind.IDENTIFIER) -> str | None:
    """Why ``value`` is not acceptable text of class ``kind``, or None when it is.

    Refused in every class: lone surrogates (Cs) and control characters (Cc). Refused in all but ``SECRET``: the
    bidirectional controls, line and paragraph separators (Zl, Zp), format characters (Cf), private-use characters
    (Co) and the blank letters, but for the joiners in context (``NAME``, ``PROSE``: ``joins_letters``; every class
    but ``SECRET``: the joiner inside an emoji) and the soft hyphen (``PROSE``). Each with its own message (the
    caller's 422 names the field).
    """
    if value.isprintable() and (value.isascii() or _BLANK.isdisjoint(value)):
        return None  # no C* or Z* category but the space: the common case, at C speed
    for at, ch in enumerate(value):
        category = unicodedata.category(ch)
        if category == "Cs":
            return _SURROGATE
        if category == "Cc":
            return _CONTROL
        if kind is TextKind.SECRET:
            continue
        if ch in _BIDI_CONTROLS:
            return _BIDI
        if category in ("Zl", "Zp"):
            return _SEPARATOR
        if (category in ("Cf", "Co") or ch in _BLANK) and not _allowed_invisible(value, at, kind):
            return _INVISIBLE.format(ord(ch))
    return None


def _allowed_invisible(value: str, at: int, kind: TextKind) -> bool:
    ch = value[at]
    if ch == _ZWJ and _joins_emoji(value, at):
        return True
    if kind is TextKind.IDENTIFIER:
        return False
    if ch in _JOINERS:
        return joins_letters(value, at)
    return ch == _SOFT_HYPHEN and kind is TextKind.PROSE


def checked_text(value: str, *, field: str, kind: TextKind = TextKind.IDENTIFIER) -> str:
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
    if (problem := text_problem(value, kind)) is not None:
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


def joins_letters(value: str, at: int) -> bool:
    """Whether the zero-width non-joiner or joiner at ``at`` sits where a script needs it: right after a virama
    (canonical combining class 9: an Indic conjunct or chillu, "\\u0915\\u094d\\u200c\\u0937",
    "\\u0d28\\u0d4d\\u200d"), or between two letters of a cursively joining script (``_JOINING_LETTERS``),
    combining marks on either side skipped ("\\u0628\\u0650\\u200c\\u0647"). The context rule of IDNA (RFC 5892,
    appendix A.1 and A.2), lenient on a joiner between letters that would not have joined anyway (Persian typists
    put one after every part of a word).

    >>> joins_letters("\\u0645\\u06cc\\u200c\\u062e", 2), joins_letters("\\u0915\\u094d\\u200c\\u0937", 2)
    (True, True)
    >>> joins_letters("KP\\u200cLC", 2), joins_letters("\\u5f20\\u200c\\u4f1f", 1)
    (False, False)
    >>> joins_letters("\\u0645\\u06cc\\u200c", 2)  # at the end: nothing to join to
    False
    """
    if at > 0 and unicodedata.combining(value[at - 1]) == 9:
        return True
    before = at - 1
    while before >= 0 and unicodedata.category(value[before])[0] == "M":
        before -= 1
    after = at + 1
    while after < len(value) and unicodedata.category(value[after])[0] == "M":
        after += 1
    return before >= 0 and after < len(value) and _joining_letter(value[before]) and _joining_letter(value[after])


def _joining_letter(ch: str) -> bool:
    """A letter (L*) with a Unicode joining type (D, L, R or C: Arabic, Syriac, N'Ko, Mongolian ...)."""
    code = ord(ch)
    index = bisect.bisect_right(_JOINING_STARTS, code) - 1
    return index >= 0 and code <= _JOINING_LETTERS[index][1] and unicodedata.category(ch)[0] == "L"


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
    if (problem := text_problem(text, TextKind.NAME)) is not None:
        return problem
    for ch in unicodedata.normalize("NFC", text):  # a joiner left by text_problem is one a script needs
        if ch not in _NAME_PUNCTUATION and ch not in _JOINERS and unicodedata.category(ch)[0] not in "LM":
            return f"a person's name has only letters, spaces, apostrophes, hyphens and full stops (not {ch!r})"
    if unicodedata.category(text[0])[0] != "L":
        return "a person's name starts with a letter"
    if "  " in text:
        return "a person's name has single spaces between its words"
    if any(len(_scripts(word)) > 1 for word in text.split(" ")):
        return "a person's name has no word mixing letters of different scripts"
    return None


# Scripts written together in one word (Japanese mixes kanji and kana; Korean may mix hanja and hangul).
_EAST_ASIAN = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO", "IDEOGRAPHIC"})


def _scripts(word: str) -> set[str]:
    """The scripts of a word's letters, from their Unicode names ("CYRILLIC SMALL LETTER A": Cyrillic); marks and
    modifier letters belong to no script. A word of Latin letters with one Cyrillic "а" is two scripts -- the
    look-alike spelling that evades sanctions screening (UTS #39's single-script rule, per word).

    >>> sorted(_scripts("Mоhamed")), sorted(_scripts("山田たろう"))  # a Cyrillic о; kanji and hiragana
    (['CYRILLIC', 'LATIN'], ['EAST ASIAN'])
    """
    found: set[str] = set()
    for ch in unicodedata.normalize("NFKC", word):
        if unicodedata.category(ch) not in ("Lu", "Ll", "Lt", "Lo"):
            continue
        script = unicodedata.name(ch, "UNKNOWN").split(" ")[0]
        found.add("EAST ASIAN" if script in _EAST_ASIAN else script)
    return found


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


# What makes a merchant-typed name a link, an address or a number to call (``quoted_business_name``)
_LINK_LIKE = re.compile(
    r"(://|www\.|@|[\w-]\.[a-z]{2,}\b|[0-9][0-9 ().-]{5,}[0-9])",
    re.IGNORECASE,
)


_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1"})
_NUMBER_RUN = re.compile(r"[0-9Oo][0-9OoIl| ().-]{5,}[0-9Oo]")


@functools.cache
def _confusable_prototypes() -> dict[str, str]:
    """Unicode's confusables (UTS #39: ``compliance/data/confusables.json``, by scripts/generate_confusables.py)."""
    data = resources.files("cryptopay.core.compliance").joinpath("data/confusables.json").read_text(encoding="utf-8")
    prototypes: dict[str, str] = json.loads(data)["prototypes"]
    return prototypes


def _ascii_digit_of(ch: str) -> str:
    """A digit of any script as its ASCII digit, another character as its one-character ASCII look-alike (the
    confusables table) where it has one, else itself."""
    if ch.isascii():
        return ch
    if unicodedata.category(ch) == "Nd":
        return str(unicodedata.digit(ch))
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) == 1 and folded.isascii():
        return folded
    prototype = _confusable_prototypes().get(ch, ch)
    return prototype if len(prototype) == 1 and prototype.isascii() else ch


def digits_folded(text: str) -> str:
    """``text`` as a phone-number test should read it (reviewer9 R9-10): digits of every script and confusable
    look-alikes as ASCII, and in a run of at least three digits, letter O/o as 0 and I/l as 1.

    >>> digits_folded("Call O722OOO111 Duka"), digits_folded("Duka \u0660\u0667\u0662\u0662\u0660\u0660")
    ('Call 0722000111 Duka', 'Duka 072200')
    >>> digits_folded("Good Looking Ltd")
    'Good Looking Ltd'
    """
    ascii_text = "".join(_ascii_digit_of(ch) for ch in text)

    def as_digits(run: re.Match[str]) -> str:
        found = run.group(0)
        return found.translate(_DIGIT_LOOKALIKES) if sum(c.isdigit() for c in found) >= 3 else found

    return _NUMBER_RUN.sub(as_digits, ascii_text)


def quoted_business_name(value: str, *, most: int = 60, fallback: str = "a merchant") -> str:
    """``value`` (a business name the merchant typed) as a platform email may quote it: in double quotes when it has
    no link, domain, email address or phone number in it and fits ``most`` characters on one line, else
    ``fallback`` (review4 R15: the invitation email was a phishing relay for whatever a merchant named itself).

    >>> [quoted_business_name(n) for n in ("Duka Ltd", "Pay at https://x.example", "Call 0712 345 678")]
    ['"Duka Ltd"', 'a merchant', 'a merchant']
    >>> arabic = "Duka \u0660\u0667\u0662\u0662\u0660\u0660\u0660\u0661\u0661\u0661"  # R9-10: not a way round
    >>> [quoted_business_name(n) for n in ("Call O722OOO111 Duka", "Duka 0722 OOO 111", arabic)]
    ['a merchant', 'a merchant', 'a merchant']
    """
    text = value.strip()
    if not text or len(text) > most or text_problem(text, TextKind.NAME) is not None:
        return fallback
    if _LINK_LIKE.search(text) or _LINK_LIKE.search(digits_folded(text)):  # O for 0, other scripts' digits too
        return fallback
    if any(ch in text for ch in '"\r\n<>'):
        return fallback
    return f'"{text}"'


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


_DIGITS = re.compile(r"\^\[0-9\]\{(\d+)(?:,(\d+))?\}\$")


def pattern_form(pattern: str, fallback: str) -> str:
    """A person's words for a data-defined format (a bank's or biller's account pattern), never the regular
    expression itself (review H7: a refusal quoting a regex is noise to the person who has to correct the value).
    The digit-run patterns the catalogues use are spelled out; any other is ``fallback`` (where to look it up).

    >>> pattern_form("^[0-9]{10,13}$", "see GET /v1/banks"), pattern_form("^[0-9]{10}$", "")
    ('10 to 13 digits', '10 digits')
    >>> pattern_form("^[A-Z]{2}[0-9]+$", "the form GET /v1/banks gives")
    'the form GET /v1/banks gives'
    """
    found = _DIGITS.fullmatch(pattern)
    if found is None:
        return fallback
    low, high = found.group(1), found.group(2)
    return f"{low} digits" if high is None or high == low else f"{low} to {high} digits"
