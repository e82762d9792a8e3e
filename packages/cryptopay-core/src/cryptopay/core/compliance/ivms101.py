"""IVMS101 (the interVASP Messaging Standard): who sends and who receives a crypto transfer, as the Travel Rule
(FATF Recommendation 16) asks VASPs to keep and exchange.

The classes mirror the standard's elements with Python names; ``to_ivms101``/``from_ivms101`` speak the standard's
JSON (camelCase field names: ``originatorPersons``, ``naturalPerson``, ``nameIdentifier``, ``primaryIdentifier``,
``nameIdentifierType``, ``geographicAddress``, ``nationalIdentification``, ``dateAndPlaceOfBirth``,
``customerIdentification``, ``accountNumber``...). Values are checked where they are made: codes from the
standard's code lists, ISO 3166 alpha-2 countries, the standard's lengths, and its constraints that a natural
person has a legal name (C6), an address has lines or a street with a building (C8), a birth date is in the past
(C2) and a legal person's national identifier is one a company can hold (C7).

>>> ann = NaturalPerson(
...     names=(NameIdentifier("Wanjiru", "Ann"),),
...     addresses=(Address(AddressType.HOME, "KE", town_name="Nairobi", address_lines=("Moi Avenue 12",)),),
...     customer_identification="usr_ann",
... )
>>> party = Party(persons=(ann,), account_numbers=("0x8576acc5c05d6ce88f4e49bf65bdf0c62f91353c",))
>>> party_json(party, "originator")["originatorPersons"][0]["naturalPerson"]["name"]
{'nameIdentifier': [{'primaryIdentifier': 'Wanjiru', 'secondaryIdentifier': 'Ann', 'nameIdentifierType': 'LEGL'}]}
>>> party_from_json(party_json(party, "originator"), "originator") == party
True
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import attrs
from cryptopay.core.errors import InvalidInput

__all__ = [
    "Address",
    "AddressType",
    "DateAndPlaceOfBirth",
    "LegalName",
    "LegalNameType",
    "LegalPerson",
    "NameIdentifier",
    "NameIdentifierType",
    "NationalIdentification",
    "NationalIdentifierType",
    "NaturalPerson",
    "Party",
    "Person",
    "party_from_json",
    "party_json",
    "person_from_json",
    "person_json",
]

_COUNTRY = re.compile(r"[A-Z]{2}")
_REGISTRATION_AUTHORITY = re.compile(r"RA\d{6}")


class NameIdentifierType(enum.Enum):
    """NaturalPersonNameTypeCode: legal, alias, at birth, maiden, other."""

    LEGL = "LEGL"
    ALIA = "ALIA"
    BIRT = "BIRT"
    MAID = "MAID"
    MISC = "MISC"


class LegalNameType(enum.Enum):
    """LegalPersonNameTypeCode: legal, short, trading."""

    LEGL = "LEGL"
    SHRT = "SHRT"
    TRAD = "TRAD"


class AddressType(enum.Enum):
    """AddressTypeCode: residential, business, geographic."""

    HOME = "HOME"
    BIZZ = "BIZZ"
    GEOG = "GEOG"


class NationalIdentifierType(enum.Enum):
    """NationalIdentifierTypeCode: alien registration, passport, registration authority, driver's licence, foreign
    investment, tax, social security, identity card, LEI, other."""

    ARNU = "ARNU"
    CCPT = "CCPT"
    RAID = "RAID"
    DRLC = "DRLC"
    FIIN = "FIIN"
    TXID = "TXID"
    SOCS = "SOCS"
    IDCD = "IDCD"
    LEIX = "LEIX"
    MISC = "MISC"


_LEGAL_PERSON_IDS = {
    NationalIdentifierType.RAID,
    NationalIdentifierType.MISC,
    NationalIdentifierType.LEIX,
    NationalIdentifierType.TXID,
}


def _text(limit: int, *, required: bool = True) -> Any:
    """An attrs validator: a stripped string of at most ``limit`` characters (non-empty when ``required``)."""

    def check(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
        if not isinstance(value, str):
            raise InvalidInput(f"{attribute.name} must be text")
        if required and not value.strip():
            raise InvalidInput(f"{type(instance).__name__}.{attribute.name} is required")
        if len(value) > limit:
            raise InvalidInput(f"{type(instance).__name__}.{attribute.name} is longer than {limit} characters")

    return check


def _country(*, required: bool) -> Any:
    def check(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
        if (value or required) and not _COUNTRY.fullmatch(value):
            raise InvalidInput(f"{attribute.name} must be an ISO 3166 alpha-2 code like 'KE', got {value!r}")

    return check


def _texts(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


@attrs.frozen
class NameIdentifier:
    """A natural person's name: ``primary`` is the family name (or the full name), ``secondary`` the given names."""

    primary: str = attrs.field(validator=_text(100))
    secondary: str = attrs.field(default="", validator=_text(100, required=False))
    type: NameIdentifierType = NameIdentifierType.LEGL


@attrs.frozen
class LegalName:
    """A legal person's name of one kind (legal, short, trading)."""

    name: str = attrs.field(validator=_text(100))
    type: LegalNameType = LegalNameType.LEGL


@attrs.frozen
class Address:
    """A geographic address (IVMS101 ``Address``); lines, or a street with a building name or number (C8)."""

    address_type: AddressType
    country: str = attrs.field(validator=_country(required=True))
    town_name: str = attrs.field(default="", validator=_text(35))
    street_name: str = attrs.field(default="", validator=_text(70, required=False))
    building_number: str = attrs.field(default="", validator=_text(16, required=False))
    building_name: str = attrs.field(default="", validator=_text(35, required=False))
    post_code: str = attrs.field(default="", validator=_text(16, required=False))
    country_sub_division: str = attrs.field(default="", validator=_text(35, required=False))
    address_lines: tuple[str, ...] = attrs.field(default=(), converter=_texts)

    def __attrs_post_init__(self) -> None:
        if len(self.address_lines) > 7 or any(not 0 < len(line) <= 70 for line in self.address_lines):
            raise InvalidInput("an address has at most 7 lines of 1 to 70 characters")
        if not self.address_lines and not (self.street_name and (self.building_number or self.building_name)):
            raise InvalidInput("an address needs address lines, or a street name with a building name or number")


@attrs.frozen
class NationalIdentification:
    """An identity document or registration number, its type, and who issued it."""

    identifier: str = attrs.field(validator=_text(35))
    type: NationalIdentifierType
    country_of_issue: str = attrs.field(default="", validator=_country(required=False))
    registration_authority: str = ""

    def __attrs_post_init__(self) -> None:
        if self.registration_authority and not _REGISTRATION_AUTHORITY.fullmatch(self.registration_authority):
            raise InvalidInput("a registration authority is a GLEIF code like 'RA000001'")


@attrs.frozen
class DateAndPlaceOfBirth:
    """When and where a natural person was born; the date is in the past (C2: checked against ``today``)."""

    date_of_birth: date
    place_of_birth: str = attrs.field(validator=_text(70))

    def check_past(self, today: date) -> None:
        if self.date_of_birth >= today:
            raise InvalidInput("a date of birth must be in the past")


def _names(items: Iterable[NameIdentifier]) -> tuple[NameIdentifier, ...]:
    return tuple(items)


def _legal_names(items: Iterable[LegalName]) -> tuple[LegalName, ...]:
    return tuple(items)


def _addresses(items: Iterable[Address]) -> tuple[Address, ...]:
    return tuple(items)


@attrs.frozen
class NaturalPerson:
    """A human: at least one name, one of them legal (C6), and what else we know."""

    names: tuple[NameIdentifier, ...] = attrs.field(converter=_names)
    addresses: tuple[Address, ...] = attrs.field(default=(), converter=_addresses)
    national_identification: NationalIdentification | None = None
    customer_identification: str = attrs.field(default="", validator=_text(50, required=False))
    date_and_place_of_birth: DateAndPlaceOfBirth | None = None
    country_of_residence: str = attrs.field(default="", validator=_country(required=False))

    def __attrs_post_init__(self) -> None:
        if not any(n.type is NameIdentifierType.LEGL for n in self.names):
            raise InvalidInput("a natural person needs a legal name (name identifier type LEGL)")
        if self.national_identification and self.national_identification.type is NationalIdentifierType.LEIX:
            raise InvalidInput("an LEI identifies a legal person, not a natural person")

    @property
    def identifies(self) -> bool:
        """Whether, beyond a name, something places the person (FATF R.16 for an originator: an address, an
        identity number, a customer number, or date and place of birth)."""
        return bool(
            self.addresses
            or self.national_identification
            or self.customer_identification
            or self.date_and_place_of_birth
        )


@attrs.frozen
class LegalPerson:
    """A company or other organisation: at least one legal name, and what else we know."""

    names: tuple[LegalName, ...] = attrs.field(converter=_legal_names)
    addresses: tuple[Address, ...] = attrs.field(default=(), converter=_addresses)
    customer_number: str = attrs.field(default="", validator=_text(50, required=False))
    national_identification: NationalIdentification | None = None
    country_of_registration: str = attrs.field(default="", validator=_country(required=False))

    def __attrs_post_init__(self) -> None:
        if not any(n.type is LegalNameType.LEGL for n in self.names):
            raise InvalidInput("a legal person needs a legal name (legal person name identifier type LEGL)")
        ident = self.national_identification
        if ident and ident.type not in _LEGAL_PERSON_IDS:
            raise InvalidInput(
                f"a legal person is not identified by a {ident.type.value} (use RAID, TXID, LEIX or MISC)"
            )

    @property
    def identifies(self) -> bool:
        return bool(self.addresses or self.national_identification or self.customer_number)


Person = NaturalPerson | LegalPerson


def _persons(items: Iterable[Person]) -> tuple[Person, ...]:
    return tuple(items)


@attrs.frozen
class Party:
    """The originator or the beneficiary of a transfer: its persons and their account numbers (for a crypto transfer,
    the wallet addresses; for a remittance, e.g. the phone number paid)."""

    persons: tuple[Person, ...] = attrs.field(converter=_persons)
    account_numbers: tuple[str, ...] = attrs.field(default=(), converter=_texts)

    def __attrs_post_init__(self) -> None:
        if not self.persons:
            raise InvalidInput("a party needs at least one person")
        if any(not 0 < len(a) <= 100 for a in self.account_numbers):
            raise InvalidInput("an account number has 1 to 100 characters")


# -- IVMS101 JSON -------------------------------------------------------------------------------------------------


def _drop_empty(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v not in ("", None, [], {})}


def _address_json(a: Address) -> dict[str, Any]:
    return _drop_empty(
        {
            "addressType": a.address_type.value,
            "streetName": a.street_name,
            "buildingNumber": a.building_number,
            "buildingName": a.building_name,
            "postCode": a.post_code,
            "townName": a.town_name,
            "countrySubDivision": a.country_sub_division,
            "addressLine": list(a.address_lines),
            "country": a.country,
        }
    )


def _ident_json(n: NationalIdentification | None) -> dict[str, Any] | None:
    if n is None:
        return None
    return _drop_empty(
        {
            "nationalIdentifier": n.identifier,
            "nationalIdentifierType": n.type.value,
            "countryOfIssue": n.country_of_issue,
            "registrationAuthority": n.registration_authority,
        }
    )


def person_json(person: Person) -> dict[str, Any]:
    """One IVMS101 ``Person``: ``{"naturalPerson": {...}}`` or ``{"legalPerson": {...}}``."""
    if isinstance(person, NaturalPerson):
        birth = person.date_and_place_of_birth
        names = [
            _drop_empty(
                {
                    "primaryIdentifier": n.primary,
                    "secondaryIdentifier": n.secondary,
                    "nameIdentifierType": n.type.value,
                }
            )
            for n in person.names
        ]
        natural = {
            "name": {"nameIdentifier": names},
            "geographicAddress": [_address_json(a) for a in person.addresses],
            "nationalIdentification": _ident_json(person.national_identification),
            "customerIdentification": person.customer_identification,
            "dateAndPlaceOfBirth": birth
            and {"dateOfBirth": birth.date_of_birth.isoformat(), "placeOfBirth": birth.place_of_birth},
            "countryOfResidence": person.country_of_residence,
        }
        return {"naturalPerson": _drop_empty(natural)}
    legal = {
        "name": {
            "nameIdentifier": [
                {"legalPersonName": n.name, "legalPersonNameIdentifierType": n.type.value} for n in person.names
            ]
        },
        "geographicAddress": [_address_json(a) for a in person.addresses],
        "customerNumber": person.customer_number,
        "nationalIdentification": _ident_json(person.national_identification),
        "countryOfRegistration": person.country_of_registration,
    }
    return {"legalPerson": _drop_empty(legal)}


def party_json(party: Party, role: str) -> dict[str, Any]:
    """An IVMS101 ``Originator`` or ``Beneficiary`` (``role`` is ``"originator"`` or ``"beneficiary"``)."""
    if role not in ("originator", "beneficiary"):
        raise InvalidInput(f"a party is the originator or the beneficiary, not {role!r}")
    return {f"{role}Persons": [person_json(p) for p in party.persons], "accountNumber": list(party.account_numbers)}


def _enum(kind: type[enum.Enum], value: Any, what: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not an IVMS101 {what}") from None


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"IVMS101 {what} must be an object")
    return data


def _list(data: Any, what: str) -> Sequence[Any]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise InvalidInput(f"IVMS101 {what} must be an array")
    return data


def _address_from(data: Any) -> Address:
    d = _mapping(data, "geographicAddress")
    return Address(
        _enum(AddressType, d.get("addressType"), "addressType"),
        str(d.get("country", "")),
        town_name=str(d.get("townName", "")),
        street_name=str(d.get("streetName", "")),
        building_number=str(d.get("buildingNumber", "")),
        building_name=str(d.get("buildingName", "")),
        post_code=str(d.get("postCode", "")),
        country_sub_division=str(d.get("countrySubDivision", "")),
        address_lines=tuple(str(line) for line in _list(d.get("addressLine"), "addressLine")),
    )


def _ident_from(data: Any) -> NationalIdentification | None:
    if data is None:
        return None
    d = _mapping(data, "nationalIdentification")
    return NationalIdentification(
        str(d.get("nationalIdentifier", "")),
        _enum(NationalIdentifierType, d.get("nationalIdentifierType"), "nationalIdentifierType"),
        country_of_issue=str(d.get("countryOfIssue", "")),
        registration_authority=str(d.get("registrationAuthority", "")),
    )


def _natural_from(d: Mapping[str, Any]) -> NaturalPerson:
    names = _list(_mapping(d.get("name"), "name").get("nameIdentifier"), "nameIdentifier")
    birth = d.get("dateAndPlaceOfBirth")
    born = None
    if birth is not None:
        b = _mapping(birth, "dateAndPlaceOfBirth")
        try:
            day = date.fromisoformat(str(b.get("dateOfBirth")))
        except ValueError:
            raise InvalidInput("dateOfBirth must be a date like 1990-04-01") from None
        born = DateAndPlaceOfBirth(day, str(b.get("placeOfBirth", "")))
    return NaturalPerson(
        names=tuple(
            NameIdentifier(
                str(_mapping(n, "nameIdentifier").get("primaryIdentifier", "")),
                str(n.get("secondaryIdentifier", "")),
                _enum(NameIdentifierType, n.get("nameIdentifierType"), "nameIdentifierType"),
            )
            for n in names
        ),
        addresses=tuple(_address_from(a) for a in _list(d.get("geographicAddress"), "geographicAddress")),
        national_identification=_ident_from(d.get("nationalIdentification")),
        customer_identification=str(d.get("customerIdentification", "")),
        date_and_place_of_birth=born,
        country_of_residence=str(d.get("countryOfResidence", "")),
    )


def _legal_from(d: Mapping[str, Any]) -> LegalPerson:
    names = _list(_mapping(d.get("name"), "name").get("nameIdentifier"), "nameIdentifier")
    return LegalPerson(
        names=tuple(
            LegalName(
                str(_mapping(n, "nameIdentifier").get("legalPersonName", "")),
                _enum(LegalNameType, n.get("legalPersonNameIdentifierType"), "legalPersonNameIdentifierType"),
            )
            for n in names
        ),
        addresses=tuple(_address_from(a) for a in _list(d.get("geographicAddress"), "geographicAddress")),
        customer_number=str(d.get("customerNumber", "")),
        national_identification=_ident_from(d.get("nationalIdentification")),
        country_of_registration=str(d.get("countryOfRegistration", "")),
    )


def person_from_json(data: Any) -> Person:
    """The person an IVMS101 ``Person`` object describes (exactly one of ``naturalPerson``/``legalPerson``)."""
    d = _mapping(data, "Person")
    if ("naturalPerson" in d) == ("legalPerson" in d):
        raise InvalidInput("an IVMS101 Person is either a naturalPerson or a legalPerson")
    if "naturalPerson" in d:
        return _natural_from(_mapping(d["naturalPerson"], "naturalPerson"))
    return _legal_from(_mapping(d["legalPerson"], "legalPerson"))


def party_from_json(data: Any, role: str) -> Party:
    """The party an IVMS101 ``Originator``/``Beneficiary`` object describes."""
    d = _mapping(data, role)
    persons = _list(d.get(f"{role}Persons"), f"{role}Persons")
    accounts = _list(d.get("accountNumber"), "accountNumber")
    return Party(persons=tuple(person_from_json(p) for p in persons), account_numbers=tuple(map(str, accounts)))
