"""The Travel Rule core: valuation against the threshold, completeness, the self-hosted attestation, IVMS101 JSON."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from cryptopay.core.compliance.ivms101 import party_from_json, party_json, person_from_json, person_json
from cryptopay.core.compliance.travel_rule import (
    Address,
    AddressType,
    DateAndPlaceOfBirth,
    IncompleteTravelRuleData,
    LegalName,
    LegalPerson,
    NameIdentifier,
    NameIdentifierType,
    NationalIdentification,
    NationalIdentifierType,
    NaturalPerson,
    Party,
    ThresholdPolicy,
    TransferDirection,
    TravelRule,
    record_from_json,
    record_json,
)
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import Money
from cryptopay.core.pricing import Pricer
from cryptopay.core.testing.fx import FixedRateSource, InMemoryQuoteRepository
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import ManualClock, SequentialIds
from cryptopay.core.testing.travel_rule import InMemoryTravelRule
from hypothesis import given
from hypothesis import strategies as st

from tests.support.travel_rule_data import ANN, ANN_WALLET, US, ann_attests, ann_beneficiary, ann_originator, withdrawal


def rule(threshold: str = "1000", **mids: str) -> TravelRule:
    clock, ids = ManualClock(), SequentialIds()
    rates = {"USDT/USD": "1.0000", "BTC/USD": "97000", "USD/KES": "129.00"} | {
        k.replace("_", "/"): v for k, v in mids.items()
    }
    pricer = Pricer([FixedRateSource("market", clock, rates)], clock=clock, ids=ids, quotes=InMemoryQuoteRepository())
    return TravelRule(quoter=pricer, clock=clock, ids=ids, policy=ThresholdPolicy(Money.of(threshold, "USD")), vasp=US)


def test_the_threshold_is_met_at_the_amount_not_just_above_it():
    """USD 1,000.00 worth applies, 999.99 does not; the quote that valued it is named."""
    travel = rule()
    at, below = travel.assess(Money.of("1000", "USDT")), travel.assess(Money.of("999.999999", "USDT"))
    assert (at.applies, at.equivalent, at.quote_id) == (True, Money.of("1000", "USD"), "fxq_000001")
    assert (below.applies, below.equivalent) == (False, Money.of("1000.00", "USD"))


def test_shillings_are_valued_through_the_dollar_rate_inverted():
    """KES has no KES/USD source: 129,000 shillings at USD/KES 129 is exactly USD 1,000."""
    travel = rule()
    assert travel.assess(Money.of("129000", "KES")).applies
    assert not travel.assess(Money.of("128999", "KES")).applies


def test_dollars_need_no_quote_and_the_threshold_is_a_setting():
    """An amount in the threshold's own currency is compared directly; a lower threshold catches less."""
    assessed = rule(threshold="250").assess(Money.of("250", "USD"))
    assert (assessed.applies, assessed.quote_id) == (True, None)


def test_below_the_threshold_nothing_is_kept():
    """keep() returns None and stores nothing for a small transfer."""
    travel, storage = rule(), InMemoryStorage(travel_rule=InMemoryTravelRule())
    transfer = withdrawal("10")
    with storage.unit_of_work() as uow:
        kept = travel.keep(
            uow,
            transfer,
            travel.assess(transfer.amount),
            originator=ann_originator(),
            beneficiary=ann_beneficiary(),
            actor="user:usr_ann",
        )
        assert kept is None and uow.travel_rule.list() == []
    assert storage.audit_records() == []


def test_at_the_threshold_a_withdrawal_to_a_self_hosted_wallet_is_kept_with_the_attestation_and_audited():
    """The record holds both parties, the valuation and Ann's attestation; the audit names the transfer."""
    travel, storage = rule(), InMemoryStorage(travel_rule=InMemoryTravelRule())
    transfer = withdrawal("1500")
    with storage.unit_of_work() as uow:
        kept = travel.keep(
            uow,
            transfer,
            travel.assess(transfer.amount),
            originator=ann_originator(),
            beneficiary=ann_beneficiary(),
            attestation=ann_attests(),
            actor="user:usr_ann",
        )
    assert kept is not None and kept.attestation == ann_attests()
    with storage.unit_of_work() as uow:
        assert uow.travel_rule.for_transfer(TransferDirection.OUT, "wdr_1") == kept
    [audit] = storage.audit_records()
    assert (audit.action, dict(audit.details)["reference"]) == ("travel_rule.record", "wdr_1")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"attestation": None}, "needs the owner's attestation"),
        ({"attestation": ann_attests(address="0x" + "1" * 40)}, "another address"),
        ({"attestation": ann_attests(network="ethereum")}, "for this network"),
        ({"originator": Party(persons=(ANN,))}, "originator's account number"),
        ({"beneficiary": Party(persons=(ANN,))}, "beneficiary's account number"),
        (
            {"originator": Party(persons=(NaturalPerson(names=(NameIdentifier("Wanjiru"),)),), account_numbers=("a",))},
            "besides a name",
        ),
    ],
)
def test_incomplete_data_at_the_threshold_is_refused_by_name_and_keeps_nothing(change, message):
    """Each missing piece R.16 asks for is named; nothing is stored."""
    travel, storage = rule(), InMemoryStorage(travel_rule=InMemoryTravelRule())
    transfer = withdrawal("1500")
    data = {"originator": ann_originator(), "beneficiary": ann_beneficiary(), "attestation": ann_attests()} | change
    with pytest.raises(IncompleteTravelRuleData, match=message), storage.unit_of_work() as uow:
        travel.keep(uow, transfer, travel.assess(transfer.amount), actor="user:usr_ann", **data)
    with storage.unit_of_work() as uow:
        assert uow.travel_rule.list() == []


def test_a_transfer_to_another_vasp_needs_no_attestation():
    """When the beneficiary's VASP is known, the wallet is hosted and no self-hosted attestation is asked for."""
    travel, storage = rule(), InMemoryStorage(travel_rule=InMemoryTravelRule())
    transfer = withdrawal("1500")
    other = LegalPerson(names=(LegalName("Other Exchange Ltd"),), country_of_registration="UG")
    with storage.unit_of_work() as uow:
        kept = travel.keep(
            uow,
            transfer,
            travel.assess(transfer.amount),
            originator=ann_originator(),
            beneficiary=ann_beneficiary(),
            counterparty_vasp=other,
            actor="user:usr_ann",
        )
    assert kept is not None
    assert kept.ivms101()["beneficiaryVASP"]["beneficiaryVASP"]["legalPerson"]["countryOfRegistration"] == "UG"


def test_the_ivms101_payload_uses_the_standards_field_names():
    """Originator persons, the legal name identifier, address, national id, birth and our VASP, as IVMS101 spells them."""
    travel, storage = rule(), InMemoryStorage(travel_rule=InMemoryTravelRule())
    transfer = withdrawal("1500")
    with storage.unit_of_work() as uow:
        kept = travel.keep(
            uow,
            transfer,
            travel.assess(transfer.amount),
            originator=ann_originator(),
            beneficiary=ann_beneficiary(),
            attestation=ann_attests(),
            actor="user:usr_ann",
        )
    assert kept is not None
    payload = kept.ivms101()
    natural = payload["originator"]["originatorPersons"][0]["naturalPerson"]
    assert natural == {
        "name": {
            "nameIdentifier": [
                {"primaryIdentifier": "Wanjiru", "secondaryIdentifier": "Ann", "nameIdentifierType": "LEGL"}
            ]
        },
        "geographicAddress": [
            {"addressType": "HOME", "townName": "Nairobi", "addressLine": ["Moi Avenue 12"], "country": "KE"}
        ],
        "nationalIdentification": {
            "nationalIdentifier": "12345678",
            "nationalIdentifierType": "IDCD",
            "countryOfIssue": "KE",
        },
        "customerIdentification": "usr_ann",
        "dateAndPlaceOfBirth": {"dateOfBirth": "1990-04-01", "placeOfBirth": "Nyeri"},
        "countryOfResidence": "KE",
    }
    assert payload["originator"]["accountNumber"] == ["usr_ann"]
    assert payload["beneficiary"]["accountNumber"] == [ANN_WALLET]
    vasp = payload["originatingVASP"]["originatingVASP"]["legalPerson"]
    assert vasp["name"] == {
        "nameIdentifier": [{"legalPersonName": "Cryptopay Kenya Ltd", "legalPersonNameIdentifierType": "LEGL"}]
    }
    assert "beneficiaryVASP" not in payload  # a self-hosted wallet has no VASP
    assert record_from_json(record_json(kept)) == kept


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: NaturalPerson(names=(NameIdentifier("Ann", type=NameIdentifierType.ALIA),)), "legal name"),
        (lambda: Address(AddressType.HOME, "Kenya", town_name="Nairobi", address_lines=("x",)), "ISO 3166"),
        (lambda: Address(AddressType.HOME, "KE", town_name="Nairobi", street_name="Moi Avenue"), "building"),
        (lambda: Address(AddressType.HOME, "KE", address_lines=("Moi Avenue 12",)), "town_name is required"),
        (lambda: NameIdentifier("x" * 101), "longer than 100"),
        (
            lambda: NaturalPerson(
                names=(NameIdentifier("Ann"),),
                national_identification=NationalIdentification("5493001KJTIIGC8Y1R12", NationalIdentifierType.LEIX),
            ),
            "legal person",
        ),
        (
            lambda: LegalPerson(
                names=(LegalName("Acme"),),
                national_identification=NationalIdentification("A1", NationalIdentifierType.CCPT),
            ),
            "not identified by a CCPT",
        ),
        (lambda: Party(persons=()), "at least one person"),
        (lambda: NationalIdentification("1", NationalIdentifierType.RAID, registration_authority="X"), "RA000001"),
    ],
)
def test_values_outside_the_standard_are_refused_where_they_are_made(make, message):
    """Codes, countries, lengths and the standard's constraints C6, C7 and C8."""
    with pytest.raises(InvalidInput, match=message):
        make()


def test_a_birth_date_must_be_in_the_past():
    """C2, checked against the day the caller names."""
    born = DateAndPlaceOfBirth(date(2030, 1, 1), "Nyeri")
    with pytest.raises(InvalidInput, match="in the past"):
        born.check_past(date(2026, 12, 6))


@pytest.mark.parametrize(
    "payload",
    [
        {
            "originatorPersons": [
                {
                    "naturalPerson": {
                        "name": {"nameIdentifier": [{"primaryIdentifier": "A", "nameIdentifierType": "NICK"}]}
                    }
                }
            ]
        },
        {"originatorPersons": [{"naturalPerson": {}, "legalPerson": {}}]},
        {"originatorPersons": "ann"},
        {
            "originatorPersons": [
                {
                    "naturalPerson": {
                        "name": {"nameIdentifier": [{"primaryIdentifier": "A", "nameIdentifierType": "LEGL"}]},
                        "dateAndPlaceOfBirth": {"dateOfBirth": "1 April", "placeOfBirth": "Nyeri"},
                    }
                }
            ]
        },
    ],
)
def test_bad_ivms101_json_is_refused_with_a_clear_error(payload):
    """Unknown codes, both person kinds at once, wrong shapes and bad dates are InvalidInput, not a crash."""
    with pytest.raises(InvalidInput):
        party_from_json(payload, "originator")


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30).filter(str.strip)
_natural = st.builds(
    NaturalPerson,
    names=st.lists(st.builds(NameIdentifier, _text, _text), min_size=1, max_size=3),
    addresses=st.lists(
        st.builds(
            Address,
            st.sampled_from(AddressType),
            st.sampled_from(["KE", "UG", "TZ"]),
            town_name=_text,
            address_lines=st.lists(_text, min_size=1, max_size=3),
        ),
        max_size=2,
    ),
    customer_identification=st.one_of(st.just(""), _text),
    date_and_place_of_birth=st.one_of(st.none(), st.builds(DateAndPlaceOfBirth, st.dates(), _text)),
)
_legal = st.builds(
    LegalPerson,
    names=st.lists(st.builds(LegalName, _text), min_size=1, max_size=2),
    customer_number=st.one_of(st.just(""), _text),
    country_of_registration=st.sampled_from(["", "KE", "US"]),
)


@given(persons=st.lists(st.one_of(_natural, _legal), min_size=1, max_size=3), accounts=st.lists(_text, max_size=3))
def test_any_party_survives_the_ivms101_round_trip(persons, accounts):
    """What party_json writes, party_from_json reads back equal, for natural and legal persons alike."""
    party = Party(persons=persons, account_numbers=accounts)
    assert party_from_json(party_json(party, "beneficiary"), "beneficiary") == party
    assert all(person_from_json(person_json(p)) == p for p in persons)


@given(cents=st.integers(min_value=0, max_value=10**9))
def test_the_rule_applies_exactly_from_the_threshold_up(cents):
    """For dollar amounts, applies is the same as amount >= threshold, whatever the amount."""
    amount = Money.of(Decimal(cents) / 100, "USD")
    assert rule().assess(amount).applies is (amount.amount >= Decimal(1000))
