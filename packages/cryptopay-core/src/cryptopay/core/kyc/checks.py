"""Format checks of what an applicant types: ID numbers by ID type, KRA PINs, registration numbers, dates of birth.

A format check only says the text *could* be a real number; the officer's review is what verifies it. Each check
returns the normalised value (upper case, no spaces) or raises ``InvalidInput`` naming the field.

>>> check_id_number(IdType.NATIONAL_ID, " 2345 6789 ")
'23456789'
>>> check_id_number(IdType.PASSPORT, "ak0123456")
'AK0123456'
>>> check_kra_pin("a012345678z")
'A012345678Z'
>>> check_kra_pin("B012345678Z")
Traceback (most recent call last):
...
cryptopay.core.errors.InvalidInput: a KRA PIN is A or P, nine digits and a letter (e.g. A012345678Z)
"""

from __future__ import annotations

import enum
import re
from datetime import date

from cryptopay.core.errors import InvalidInput

__all__ = [
    "IdType",
    "check_birth_date",
    "check_id_number",
    "check_kra_pin",
    "check_name",
    "check_registration_number",
]

ADULT_AGE = 18


class IdType(enum.Enum):
    """The identity documents a Kenyan VASP accepts from individuals."""

    NATIONAL_ID = "national_id"  # Kenyan national identity card: 7 or 8 digits (older cards have fewer)
    PASSPORT = "passport"  # Kenyan e-passport AK1234567, older A1234567, foreign passports 6-9 letters/digits
    ALIEN_ID = "alien_id"  # foreign national certificate (alien card): 6 to 9 digits


_ID_FORMATS = {
    IdType.NATIONAL_ID: (re.compile(r"^\d{6,8}$"), "a national ID number is 6 to 8 digits"),
    IdType.PASSPORT: (
        re.compile(r"^(?=.*\d)[A-Z0-9]{6,9}$"),
        "a passport number is 6 to 9 letters and digits, with at least one digit (e.g. AK0123456)",
    ),
    IdType.ALIEN_ID: (re.compile(r"^\d{6,9}$"), "an alien ID number is 6 to 9 digits"),
}
_KRA_PIN = re.compile(r"^[AP]\d{9}[A-Z]$")
# Business Registration Service numbers: PVT-XXXXXXX, CPR/2012/12345, BN-XXXXXXX, C.123456 and the like.
_REGISTRATION = re.compile(r"^[A-Z0-9][A-Z0-9./-]{3,29}$")
_NAME = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ '.,&()-]|\d){0,119}$")


def _compact(text: str) -> str:
    return "".join(text.split()).upper()


def check_id_number(id_type: IdType, number: str) -> str:
    """``number`` normalised for ``id_type``, or ``InvalidInput`` (field ``id_number``)."""
    value = _compact(number)
    pattern, hint = _ID_FORMATS[id_type]
    if not pattern.match(value):
        raise InvalidInput(hint, field="id_number")
    return value


def check_kra_pin(pin: str) -> str:
    """A KRA PIN: ``A`` (individuals) or ``P`` (companies), nine digits, a check letter."""
    value = _compact(pin)
    if not _KRA_PIN.match(value):
        raise InvalidInput("a KRA PIN is A or P, nine digits and a letter (e.g. A012345678Z)", field="kra_pin")
    return value


def check_registration_number(number: str) -> str:
    """A business registration number as the Business Registration Service prints it (``PVT-AB12CD3``)."""
    value = _compact(number)
    if not _REGISTRATION.match(value):
        raise InvalidInput(
            "a registration number is 4 to 30 letters, digits, '.', '/' or '-' (e.g. PVT-AB12CD3)",
            field="registration_number",
        )
    return value


def check_name(name: str, *, field: str = "legal_name") -> str:
    """A person's or a business's name: letters first, single spaces, at most 120 characters."""
    value = " ".join(name.split())
    if not _NAME.match(value):
        raise InvalidInput("a name starts with a letter and has at most 120 characters", field=field)
    return value


def check_birth_date(born: date, *, today: date) -> date:
    """An adult's date of birth: not in the future, at least 18 years ago, at most 120."""
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if years < ADULT_AGE:
        raise InvalidInput(f"an applicant must be at least {ADULT_AGE} years old", field="date_of_birth")
    if years > 120:
        raise InvalidInput("the date of birth is more than 120 years ago", field="date_of_birth")
    return born
