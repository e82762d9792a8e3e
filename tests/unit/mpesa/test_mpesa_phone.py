"""Kenyan phone numbers: every form people type becomes Daraja's 2547/2541 form; anything else is refused."""

from __future__ import annotations

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.mobile_money import InvalidPhoneNumber, mask_msisdn, normalize_msisdn, try_normalize_msisdn
from hypothesis import given
from hypothesis import strategies as st

subscriber = st.builds(
    lambda prefix, rest: prefix + rest, st.sampled_from("17"), st.text("0123456789", min_size=8, max_size=8)
)


@given(subscriber)
def test_every_accepted_form_normalises_to_the_same_wire_number(digits: str) -> None:
    """07…/01…, +254…, 254… and spaced or dashed variants all give 254 + the nine subscriber digits."""
    expected = "254" + digits
    forms = [
        "0" + digits,
        "+254" + digits,
        "254" + digits,
        f"0{digits[:3]} {digits[3:6]} {digits[6:]}",
        f"+254-{digits[:3]}-{digits[3:]}",
        f"  254{digits}  ",
    ]
    assert {normalize_msisdn(form) for form in forms} == {expected}


@given(subscriber)
def test_normalising_is_idempotent(digits: str) -> None:
    """A normalised number normalises to itself."""
    once = normalize_msisdn("0" + digits)
    assert normalize_msisdn(once) == once


@given(st.text(max_size=20))
def test_anything_accepted_is_a_twelve_digit_kenyan_mobile_number(text: str) -> None:
    """Whatever the input, an accepted number is 12 digits starting 2547 or 2541."""
    result = try_normalize_msisdn(text)
    if result is not None:
        assert len(result) == 12 and result.isdigit() and result[:4] in ("2547", "2541")


@pytest.mark.parametrize(
    "bad",
    [
        "0201234567",
        "255712345678",
        "071234567",
        "07123456789",
        "+254 0712345678",
        "2547 ***** 126",
        "abc",
        "",
        "0812345678",
        "+1 712 345 678",
    ],
)
def test_other_numbers_are_refused_with_a_clear_message(bad: str) -> None:
    """Landlines, foreign, short, long, masked and garbage numbers are refused, naming the accepted forms."""
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize_msisdn(bad)
    assert "07XXXXXXXX" in str(caught.value) and isinstance(caught.value, InvalidInput)


def test_integers_from_callbacks_are_numbers_too() -> None:
    """Daraja's PhoneNumber arrives as a JSON number; it normalises like text."""
    assert normalize_msisdn(254708374149) == "254708374149"


def test_non_text_is_refused() -> None:
    """A None or a float is not a phone number."""
    with pytest.raises(InvalidPhoneNumber):
        normalize_msisdn(None)


def test_masking_hides_the_middle_digits() -> None:
    """Masked numbers keep only the country prefix and the last two digits."""
    assert mask_msisdn("254712345678") == "2547******78"
