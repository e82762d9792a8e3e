"""The one text rule (``cryptopay.core.text.text_problem``, review G8): every text that enters the system -- names,
descriptions, notes -- is visible text. Line and paragraph separators (Zl, Zp), format characters (Cf: zero-width
spaces and joiners, direction marks, BOM, tags), private-use (Co), controls (Cc) and lone surrogates (Cs) are
refused wherever they sit, each with its message; the zero-width joiner only inside an emoji.

By field class (``TextKind``): names and prose keep the zero-width (non-)joiner where a script needs it (after a
virama, between letters of a joining script), prose a soft hyphen too, secrets anything but controls; each published
pattern is compared with its class over every assigned code point.
"""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.text import (
    _JOINING_LETTERS,
    TextKind,
    checked_text,
    joins_letters,
    person_name_problem,
    text_problem,
)
from cryptopay_http.convert import (
    NAME_PATTERN,
    PROSE_PATTERN,
    SECRET_PATTERN,
    TEXT_PATTERN,
    TRIMMED_NAME_PATTERN,
    TRIMMED_PATTERN,
    TRIMMED_PROSE_PATTERN,
)
from hypothesis import given
from hypothesis import strategies as st

_REFUSED = ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")
_visible = st.text(st.characters(blacklist_categories=(*_REFUSED, "Cn")), max_size=20)
_invisible = st.characters(whitelist_categories=_REFUSED).filter(lambda ch: ch != "\u200d")


@given(_visible, _invisible, _visible)
def test_an_invisible_character_anywhere_is_refused(before: str, ch: str, after: str):
    """Whatever surrounds it, a character of a refused category makes the text unacceptable."""
    assert text_problem(before + ch + after) is not None, hex(ord(ch))


@given(_invisible)
def test_a_person_s_name_with_one_is_refused(ch: str):
    assert person_name_problem(f"Grace{ch}Otieno") is not None


@given(_visible)
def test_visible_text_is_acceptable(text: str):
    """Letters, marks, numbers, punctuation, symbols and spaces of any script pass (bar the blank letters)."""
    blank = {"\u034f", "\u115f", "\u1160", "\u17b4", "\u17b5", "\u3164", "\uffa0"}
    assert (text_problem(text) is None) == blank.isdisjoint(text)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Shop\u2028Bcc: x@evil.example", "line or paragraph separators"),
        ("Shop\u2029", "line or paragraph separators"),
        ("KPLC\u200b", "invisible characters"),
        ("KP\u200dLC", "invisible characters"),  # a joiner between letters
        ("Shop\ufeffBOM", "invisible characters"),
        ("Shop\U000e0041tag", "invisible characters"),
        ("Shop\u200e", "invisible characters"),
        ("\ue000Shop", "invisible characters"),
        ("\u3164", "invisible characters"),  # a Hangul filler: a blank "letter"
        ("Duka\u202e", "bidirectional override"),
        ("Duka\n", "control characters"),
    ],
)
def test_the_review_s_examples_are_refused_by_name(text: str, says: str):
    assert says in (text_problem(text) or ""), text


@pytest.mark.parametrize("text", ["\U0001f469\u200d\U0001f4bb", "Team \U0001f468\U0001f3fd\u200d\U0001f33e", "Zoë"])
def test_an_emoji_sequence_keeps_its_joiner(text: str):
    assert text_problem(text) is None


def test_checked_text_names_the_field():
    with pytest.raises(InvalidInput) as refused:
        checked_text("Duka\u2028", field="business_name")
    assert refused.value.details["field"] == "business_name" and "separators" in refused.value.message


# -- the text classes: identifiers strict, names and prose with the joiners a script needs, prose with soft hyphens,
# -- secrets anything but controls ----------------------------------------------------------------------------------

_KINDS = (TextKind.IDENTIFIER, TextKind.NAME, TextKind.PROSE, TextKind.SECRET)
_JOINING = [chr(c) for first, last in _JOINING_LETTERS for c in range(first, last + 1) if chr(c).isalpha()]
_joining_letter = st.sampled_from(_JOINING)
# marks that show: the blank ones (U+034F, Khmer's inherent vowels U+17B4/U+17B5) are refused as invisible anywhere
_marks = st.text(
    st.characters(whitelist_categories=("Mn",)).filter(lambda ch: ch not in "\u034f\u17b4\u17b5"), max_size=2
)
_not_joining_letter = st.characters(whitelist_categories=("Lu", "Ll", "Lo", "Lt", "Lm")).filter(
    lambda ch: ch not in _JOINING
)
_VIRAMAS = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.combining(chr(c)) == 9]


@given(st.text())
def test_each_class_accepts_all_that_a_stricter_one_accepts(text: str):
    """identifier <= name <= prose <= secret: a looser class never refuses what a stricter one takes."""
    accepted = [text_problem(text, kind) is None for kind in _KINDS]
    assert accepted == sorted(accepted), (ascii(text), accepted)


@given(_visible, st.sampled_from("\u200c\u200d"), _visible)
def test_no_class_but_secret_takes_a_joiner_that_joins_nothing(before: str, joiner: str, after: str):
    """A joiner whose neighbours are no joining letters (Latin, CJK, digits, spaces ...) nor a virama changes
    nothing one can see: refused in identifiers, names and prose alike (an emoji's joiner aside)."""
    text = before + joiner + after
    here = len(before)
    if not joins_letters(text, here) and not (joiner == "\u200d" and _emoji_neighbours(text, here)):
        for kind in (TextKind.IDENTIFIER, TextKind.NAME, TextKind.PROSE):
            assert text_problem(text, kind) is not None, (ascii(text), kind)
    assert text_problem(text, TextKind.SECRET) is None


def _emoji_neighbours(text: str, at: int) -> bool:
    return at > 0 and at + 1 < len(text) and unicodedata.category(text[at + 1]) == "So"


@given(_joining_letter, _marks, st.sampled_from("\u200c\u200d"), _marks, _joining_letter)
def test_a_joiner_between_letters_of_a_joining_script_is_a_name_and_prose(a, marks_a, joiner, marks_b, b):
    """Persian "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", Syriac, N'Ko, Mongolian: marks on either side
    do not matter; an identifier still refuses the joiner (U+200C / U+200D named)."""
    text = a + marks_a + joiner + marks_b + b
    assert text_problem(text, TextKind.NAME) is None, ascii(text)
    assert text_problem(text, TextKind.PROSE) is None, ascii(text)
    assert f"U+{ord(joiner):04X}" in (text_problem(text) or ""), ascii(text)


@given(_not_joining_letter, st.sampled_from("\u200c\u200d"), _joining_letter)
def test_a_joiner_beside_a_letter_that_does_not_join_is_refused(a, joiner, b):
    for text in (a + joiner + b, b + joiner + a):
        assert text_problem(text, TextKind.NAME) is not None, ascii(text)


@given(st.sampled_from(_VIRAMAS), st.sampled_from("\u200c\u200d"), st.sampled_from(["", " ", "\u0937", "\u0d30"]))
def test_a_joiner_after_a_virama_is_a_name_and_prose(virama: str, joiner: str, after: str):
    """Indic conjuncts and chillus ("\u0915\u094d\u200c\u0937", "\u0d28\u0d4d\u200d"), even at a word's end."""
    text = "\u0915" + virama + joiner + after
    assert text_problem(text, TextKind.NAME) is None and text_problem(text, TextKind.PROSE) is None, ascii(text)
    assert text_problem(text) is not None


@given(_visible, _visible)
def test_a_soft_hyphen_is_prose_only(before: str, after: str):
    text = before + "\u00ad" + after
    blank = {"\u034f", "\u115f", "\u1160", "\u17b4", "\u17b5", "\u3164", "\uffa0"}
    if blank.isdisjoint(text):
        assert text_problem(text, TextKind.PROSE) is None
    assert "U+00AD" in (text_problem(text, TextKind.NAME) or "") and "U+00AD" in (text_problem(text) or "")


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs"))))
def test_a_secret_takes_anything_but_controls(secret: str):
    """Invisible, format, private-use, unassigned characters, separators, bidirectional controls: a password is
    never shown, so none of them spoofs anything."""
    assert text_problem(secret, TextKind.SECRET) is None


@given(st.text(max_size=10), st.characters(whitelist_categories=("Cc",)), st.text(max_size=10))
def test_a_secret_with_a_control_character_is_refused(before: str, control: str, after: str):
    assert text_problem(before + control + after, TextKind.SECRET) == (
        "must not contain control characters (such as NUL or line breaks)"
    )


def test_persian_hindi_and_malayalam_names_keep_their_joiners():
    for name in (
        "\u0639\u0644\u06cc\u200c\u0627\u06a9\u0628\u0631",
        "\u062d\u0633\u0646\u200c\u0632\u0627\u062f\u0647",
    ):
        assert person_name_problem(name) is None, ascii(name)
        assert checked_text(name, field="name", kind=TextKind.NAME) == name
    assert text_problem("\u0915\u094d\u200d\u0937", TextKind.NAME) is None  # Hindi half form
    assert text_problem("\u0d05\u0d35\u0d28\u0d4d\u200d", TextKind.NAME) is None  # Malayalam chillu, old encoding
    assert person_name_problem("Gr\u200cace") is not None  # Latin: nothing to join


def test_the_joining_letters_are_unicode_s():
    """The table of letters with a joining type matches the Unicode data (the idna package's copy), for every
    letter this Python knows."""
    idnadata = pytest.importorskip("idna.idnadata")
    unicode = {
        code
        for kind in "DLRC"
        for packed in idnadata.joining_types[kind]
        for code in range(packed >> 32, packed & 0xFFFFFFFF)
        if unicodedata.category(chr(code))[0] == "L"
    }
    table = {code for first, last in _JOINING_LETTERS for code in range(first, last + 1)}
    assert table == unicode, sorted(table ^ unicode)


_PATTERNS = [
    (TextKind.IDENTIFIER, TEXT_PATTERN, TRIMMED_PATTERN, "\u200d"),
    (TextKind.NAME, NAME_PATTERN, TRIMMED_NAME_PATTERN, "\u200c\u200d"),
    (TextKind.PROSE, PROSE_PATTERN, TRIMMED_PROSE_PATTERN, "\u200c\u200d"),
    (TextKind.SECRET, SECRET_PATTERN, None, ""),
]


@pytest.mark.parametrize(("kind", "text", "trimmed", "in_context"), _PATTERNS, ids=lambda p: getattr(p, "name", ""))
def test_each_published_pattern_agrees_with_its_class_on_every_code_point(kind, text, trimmed, in_context):
    """Every pattern the OpenAPI document publishes refuses what its class of the rule refuses and nothing it
    accepts, over every assigned code point; only the characters whose fate depends on their neighbours (the
    joiners) are left to the rule; a trimmed text's ends are held to the rule too."""
    pattern, ends = re.compile(text), re.compile(trimmed) if trimmed else None
    differ = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF
        and chr(code) not in in_context
        and unicodedata.category(chr(code)) != "Cn"
        and (
            (pattern.fullmatch(chr(code)) is None) != (text_problem(chr(code), kind) is not None)
            or (ends is not None and ends.fullmatch(chr(code)) is not None and text_problem(chr(code), kind))
        )
    ]
    assert differ == [], differ
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    assert (pattern.fullmatch(persian) is not None) == (kind is not TextKind.IDENTIFIER)
    assert (pattern.fullmatch("pay\u00adment") is not None) == (kind in (TextKind.PROSE, TextKind.SECRET))
    if ends is not None:
        assert ends.fullmatch("\u00adDuka") is None and ends.fullmatch("Duka\u200c") is None
    for hidden in ("Duka\U000e0041\U000e0042 Ltd", "Duka Ltd\U000f0000", "\U00100000Duka"):  # anywhere in a text
        refused = kind is not TextKind.SECRET
        assert (pattern.fullmatch(hidden) is None) == refused, ascii(hidden)
        assert ends is None or ends.fullmatch(hidden) is None, ascii(hidden)
    assert pattern.fullmatch("Duka Ltd \U0001f469\u200d\U0001f4bb")
