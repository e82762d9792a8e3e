"""Amounts typed into the pages' forms (``cryptopay_http.pages.web.typed_decimal``, review G2): a comma is read only
as a thousands separator where it is one (groups of exactly three digits), anything else with a comma is refused
with a message to use a dot -- never reinterpreted, since "10,50" read as 1,050 sends a hundred times the money.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from cryptopay.core.errors import InvalidAmount
from cryptopay_http.pages.web import MISGROUPED, typed_decimal
from hypothesis import assume, given
from hypothesis import strategies as st

_amounts = st.decimals(min_value=0, max_value=Decimal("999999999999999.99"), places=2, allow_nan=False)


@given(_amounts, st.sampled_from([",", " "]))
def test_a_correctly_grouped_amount_reads_as_itself(amount: Decimal, separator: str):
    """``format(amount, ",")`` -- what the pages themselves show -- comes back as the same amount."""
    typed = format(amount, ",.2f").replace(",", separator)
    assert typed_decimal(typed) == amount
    assert typed_decimal(f"{amount:.2f}") == amount  # and without grouping


@st.composite
def _commas_anywhere(draw: st.DrawFn) -> str:
    """Digits with commas put at random places, and a fraction after a dot or a comma."""
    digits = str(draw(st.integers(min_value=0, max_value=10**12)))
    text = digits
    for at in sorted(set(draw(st.lists(st.integers(0, len(digits)), min_size=1, max_size=4))), reverse=True):
        text = text[:at] + "," + text[at:]
    return text + draw(st.sampled_from(["", ".5", ".50", ",5", ",50"]))


_CORRECT = re.compile(r"[1-9][0-9]{0,2}(,[0-9]{3})+(\.[0-9]+)?")  # a first group of 1-3 digits, then threes


@given(_commas_anywhere())
def test_a_misgrouped_comma_is_refused_never_reinterpreted(typed: str):
    assume(not _CORRECT.fullmatch(typed))
    with pytest.raises(InvalidAmount) as refused:
        typed_decimal(typed)
    assert refused.value.message == MISGROUPED and refused.value.details["field"] == "amount"


@pytest.mark.parametrize(
    "typed", ["10,50", "1,05", "1,,000", ",5", "0,5", "1,5000", "1.000,5", "1,000.5,0", "1,000 000"]
)
def test_the_review_s_examples_are_refused(typed: str):
    with pytest.raises(InvalidAmount, match="use a dot for decimals"):
        typed_decimal(typed, field="kes")


@pytest.mark.parametrize(("typed", "value"), [("1,050", "1050"), ("12,345.50", "12345.50"), (" 1,500 ", "1500")])
def test_thousands_separators_are_read(typed: str, value: str):
    assert typed_decimal(typed) == Decimal(value)


def test_an_amount_that_is_no_number_names_the_example_and_field():
    with pytest.raises(InvalidAmount, match="enter an amount such as 500") as refused:
        typed_decimal("1 50", field="usdt", example="500")  # a space that does not group thousands either
    assert refused.value.details["field"] == "usdt"
