"""The one text rule (``cryptopay.core.text.text_problem``, review G8): every text that enters the system -- names,
descriptions, notes -- is visible text. Line and paragraph separators (Zl, Zp), format characters (Cf: zero-width
spaces and joiners, direction marks, BOM, tags), private-use (Co), controls (Cc) and lone surrogates (Cs) are
refused wherever they sit, each with its message; the zero-width joiner only inside an emoji sequence.
"""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.text import checked_text, person_name_problem, text_problem
from cryptopay_http.convert import TEXT_PATTERN, TRIMMED_PATTERN
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


def test_the_published_pattern_agrees_with_the_rule_on_every_plane():
    """The OpenAPI pattern refuses what the rule refuses (bar the joiner, which depends on its neighbours) and
    nothing the rule accepts, in the BMP and beyond it (tags, supplementary private use: a client generating from
    the document, as schemathesis does, met 422s for text the pattern allowed); a trimmed text's first and last
    character are held to the rule too."""
    pattern, trimmed = re.compile(TEXT_PATTERN), re.compile(TRIMMED_PATTERN)
    differ = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF
        and code != 0x200D
        and unicodedata.category(chr(code)) != "Cn"
        and (
            (pattern.fullmatch(chr(code)) is None) != (text_problem(chr(code)) is not None)
            or (trimmed.fullmatch(chr(code)) is not None and text_problem(chr(code)) is not None)
        )
    ]
    assert differ == [], differ
    assert sys.maxunicode > 0xFFFF
    for hidden in ("Duka\U000e0041\U000e0042 Ltd", "Duka Ltd\U000f0000", "\U00100000Duka"):  # anywhere in a text
        assert pattern.fullmatch(hidden) is None and trimmed.fullmatch(hidden) is None, ascii(hidden)
    assert pattern.fullmatch("Duka Ltd 👩‍💻") and trimmed.fullmatch("Duka Ltd 👩‍💻")
