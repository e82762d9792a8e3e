"""People and transfers for the Travel Rule tests: Ann withdraws to her own wallet; a sender abroad pays Otieno."""

from __future__ import annotations

from datetime import UTC, date, datetime

from cryptopay.core.compliance.travel_rule import (
    Address,
    AddressType,
    DateAndPlaceOfBirth,
    LegalName,
    LegalPerson,
    NameIdentifier,
    NationalIdentification,
    NationalIdentifierType,
    NaturalPerson,
    Party,
    SelfHostedAttestation,
    Transfer,
    TransferDirection,
)
from cryptopay.core.money import Money

AT = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
ANN_WALLET = "0x8576acc5c05d6ce88f4e49bf65bdf0c62f91353c"

ANN = NaturalPerson(
    names=(NameIdentifier("Wanjiru", "Ann"),),
    addresses=(Address(AddressType.HOME, "KE", town_name="Nairobi", address_lines=("Moi Avenue 12",)),),
    national_identification=NationalIdentification("12345678", NationalIdentifierType.IDCD, country_of_issue="KE"),
    customer_identification="usr_ann",
    date_and_place_of_birth=DateAndPlaceOfBirth(date(1990, 4, 1), "Nyeri"),
    country_of_residence="KE",
)
US = LegalPerson(
    names=(LegalName("Cryptopay Kenya Ltd"),),
    national_identification=NationalIdentification("PVT-AAA111", NationalIdentifierType.RAID),
    country_of_registration="KE",
)


def withdrawal(amount: str = "1500", reference: str = "wdr_1", party: str = "usr_ann") -> Transfer:
    return Transfer(TransferDirection.OUT, "polygon", Money.of(amount, "USDT"), reference, party)


def ann_originator() -> Party:
    return Party(persons=(ANN,), account_numbers=("usr_ann",))


def ann_beneficiary() -> Party:
    return Party(persons=(ANN,), account_numbers=(ANN_WALLET,))


def ann_attests(address: str = ANN_WALLET, network: str = "polygon") -> SelfHostedAttestation:
    return SelfHostedAttestation("usr_ann", network, address, AT)
