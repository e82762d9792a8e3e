"""Sanctions: the official files parsed, snapshots versioned, names matched fuzzily, addresses exactly per network."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from cryptopay.adapters.sanctions import RapidfuzzMatcher, parse_list, parse_ofac_sdn, parse_un_consolidated
from cryptopay.core.compliance.monitoring import Blocked, Monitoring
from cryptopay.core.compliance.rules import Direction, load_rules
from cryptopay.core.compliance.screening import Screening, normalize_name
from cryptopay.core.errors import InvalidInput
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.storage import InMemoryStorage
from cryptopay.core.testing.system import ManualClock, SequentialIds
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.monitoring_rig import RULES, MonitoringRig

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sanctions"
SDN, UN = (FIXTURES / "sdn.xml").read_bytes(), (FIXTURES / "un_consolidated.xml").read_bytes()


def screening(storage=None) -> Screening:
    storage = storage or InMemoryStorage(**monitoring_repositories())
    return Screening(uow=storage.unit_of_work, matcher=RapidfuzzMatcher(), clock=ManualClock(), ids=SequentialIds())


def loaded(storage=None) -> Screening:
    service = screening(storage)
    for parsed in (parse_list(SDN), parse_list(UN)):
        service.import_list(parsed.source, parsed.version, parsed.entries, actor="operator:test")
    return service


def test_the_ofac_sdn_file_is_read_with_names_programs_and_digital_currency_addresses():
    """sdn.xml: primary names and a.k.a.s, programs, and only digital currency ids, each on its network."""
    parsed = parse_ofac_sdn(SDN)
    assert (parsed.source, parsed.version, len(parsed.entries)) == ("ofac_sdn", "11/28/2026", 3)
    airline, person, exchange = parsed.entries
    assert airline.names == ("AEROCARIBBEAN AIRLINES", "AERO-CARIBBEAN") and airline.programs == ("CUBA",)
    assert person.ref == "ofac:30001" and person.kind == "individual"
    assert person.names == ("José Ramón NÚÑEZ GARCÍA", "Pepe NUNEZ")
    assert person.addresses == (
        ("bitcoin", "bc1qsanctionedaddressxyz0000000000000000000"),
        ("ethereum", "0x8576aCC5C05D6Ce88f4e49bf65BdF0C62F91353C"),
        ("tron", "TLsanctionedTronAddressXXXXXXXXXXX"),
    )  # the passport and the Monero address are not addresses on our chains
    assert exchange.addresses == (("tron", "TGarantexTronAddressYYYYYYYYYYYYYY"),)


def test_the_un_consolidated_list_is_read_with_individuals_entities_and_aliases():
    """CONSOLIDATED_LIST: names joined from their parts, aliases, the list type; empty aliases skipped."""
    parsed = parse_un_consolidated(UN)
    assert (parsed.source, parsed.version) == ("un_consolidated", "2026-11-30T05:00:03.413Z")
    person, group = parsed.entries
    assert (person.ref, person.kind, person.names) == ("un:KPi.001", "individual", ("RI WON HO", "Ri Wonho"))
    assert group.names == ("AL-SHABAAB", "Harakat Shabaab al-Mujahidiin", "Mujahidin Youth Movement")
    assert group.programs == ("Al-Shabaab",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><sdnList>&a;</sdnList>', "document type"),
        (b"<sdnList><sdnEntry>", "not well-formed"),
        (b"<catalog/>", "not a list we know"),
    ],
)
def test_files_that_are_not_official_lists_are_refused(data, message):
    """Declarations (XML bombs), broken XML and other documents are refused naming why."""
    with pytest.raises(InvalidInput, match=message):
        parse_list(data)


def test_snapshots_are_versioned_and_the_same_list_twice_is_one_snapshot():
    """A re-import of the same entries returns the latest snapshot; an empty list never replaces one."""
    service = loaded()
    again = parse_list(SDN)
    first = service.snapshots()[0]
    assert service.import_list(again.source, again.version, again.entries, actor="operator:test") == first
    assert len(service.snapshots()) == 2
    with pytest.raises(InvalidInput):
        service.import_list("ofac_sdn", "12/01/2026", (), actor="operator:test")
    changed = again.entries[:2]
    newer = service.import_list("ofac_sdn", "12/01/2026", changed, actor="operator:test")
    assert newer.id != first.id and newer.entries == 2
    assert service.screen_name("Garantex Europe OU") == []  # delisted in the newer snapshot


def test_names_match_fuzzily_across_accents_case_and_order():
    """ "jose ramon nunez garcia", "GARCIA, Jose Ramon NUNEZ" and a typo all match the listed person."""
    service = loaded()
    for name in ("jose ramon nunez garcia", "GARCIA, Jose Ramon NUNEZ", "José Ramón Núñez Garsia"):
        [match] = service.screen_name(name)
        assert (match.source, match.ref) == ("ofac_sdn", "ofac:30001") and match.score >= 90
    assert service.screen_name("Wanjiku Kamau") == []
    assert [m.ref for m in service.screen_name("Mujahidin Youth Movement")] == ["un:SOe.001"]


def test_addresses_match_exactly_per_network_family():
    """A listed ETH address matches on every EVM chain in any case; not on Tron; a near miss never matches."""
    service = loaded()
    eth = "0x8576acc5c05d6ce88f4e49bf65bdf0c62f91353c"
    assert [m.ref for m in service.screen_address("ethereum", eth)] == ["ofac:30001"]
    assert [m.ref for m in service.screen_address("bsc", eth.upper().replace("0X", "0x"))] == ["ofac:30001"]
    assert service.screen_address("tron", eth) == []
    assert service.screen_address("ethereum", eth[:-1] + "d") == []
    assert [m.ref for m in service.screen_address("tron", "TGarantexTronAddressYYYYYYYYYYYYYY")] == ["ofac:30002"]
    assert service.screen_address("tron", "tgarantextronaddressyyyyyyyyyyyyyy") == []  # base58 is case-sensitive


def test_a_withdrawal_to_a_sanctioned_address_is_blocked_before_anything_is_signed():
    """Monitoring's blocking rule asks the screening: the withdrawal is refused and an alert kept."""
    storage = InMemoryStorage(**monitoring_repositories())
    service = loaded(storage)
    rig = MonitoringRig(storage)
    rig.monitoring = Monitoring(
        uow=storage.unit_of_work,
        rules=load_rules(RULES),
        clock=rig.clock,
        ids=SequentialIds(),
        screen=lambda m: service.sanctioned_counterparty(m.network, m.counterparty),
    )
    withdrawal = rig.movement(
        "5000", direction=Direction.OUT, product="withdraw", counterparty="TLsanctionedTronAddressXXXXXXXXXXX"
    )
    withdrawal = attrs.evolve(withdrawal, network="tron")
    with pytest.raises(Blocked):
        rig.monitoring.check(withdrawal)
    assert [a.rule_id for a in rig.monitoring.alerts()] == ["sanctioned"]


NAMED_RULES = """{"version": 7, "rules": [
  {"id": "named", "kind": "sanctioned_name", "products": ["remittance"], "directions": ["in"], "blocking": true,
   "review_score": "80"},
  {"id": "named-flag", "kind": "sanctioned_name", "products": ["bill"]}]}"""


def test_names_are_screened_per_the_rules_scope_strong_matches_refused_possible_ones_flagged_once():
    """``screen_names``: only for movements a ``sanctioned_name`` rule watches; a match at the threshold of a blocking
    rule refuses (naming the rule) with a blocking alert; one of a non-blocking rule, or a possible match (from
    ``review_score``), is a non-blocking alert returned to the product; screening one movement again raises nothing
    twice; without a screening nothing is screened."""
    storage = InMemoryStorage(**monitoring_repositories())
    service = loaded(storage)
    rig = MonitoringRig(storage)
    monitoring = Monitoring(
        uow=storage.unit_of_work, rules=load_rules(NAMED_RULES), clock=rig.clock, ids=SequentialIds(), screening=service
    )
    remittance = rig.movement("5000", direction=Direction.IN, product="remittance")
    withdrawal = rig.movement("5000", direction=Direction.OUT, product="withdraw")
    listed = [("sender", "GARCIA Jose Ramon NUNEZ")]
    assert monitoring.screen_names(withdrawal, listed) == []
    with pytest.raises(Blocked, match="'named'") as refused:
        monitoring.screen_names(remittance, listed)
    assert "ofac" not in refused.value.message.lower()
    [blocking] = monitoring.alerts()
    assert blocking.blocking and (blocking.evidence["ref"], blocking.evidence["match"]) == ("ofac:30001", "strong")
    [possible] = monitoring.screen_names(remittance, [("recipient", "Jose Ramon Nunez")])
    assert (
        not possible.blocking and possible.evidence["match"] == "possible" and possible.evidence["role"] == "recipient"
    )
    assert monitoring.screen_names(remittance, [("recipient", "Jose Ramon Nunez")]) == []  # raised once
    bill = rig.movement("5000", direction=Direction.OUT, product="bill")
    [flagged] = monitoring.screen_names(bill, listed)
    assert not flagged.blocking and flagged.evidence["match"] == "strong"
    assert attrs.evolve(monitoring, screening=None).screen_names(remittance, listed) == []
    quiet = rig.movement("5000", direction=Direction.IN, product="remittance")  # a product that must not tell
    [kept] = monitoring.screen_names(quiet, listed, refuse=False)
    assert kept.blocking and kept.evidence["match"] == "strong" and kept.movement_id == quiet.id
    assert monitoring.check(remittance) == []  # the name rule is not the movement's: ``check`` leaves it alone


names = st.text(alphabet=st.sampled_from("abcdeéèñÑOÖuüíI -'."), min_size=1, max_size=24)


@settings(max_examples=200, deadline=None)
@given(names, names, st.booleans())
def test_a_listed_name_with_more_words_around_it_scores_full(listed, extra, before):
    """score(a, b) ignores words ``a`` has beyond ``b``'s: a listed name with more given names is the listed name."""
    matcher, y, more = RapidfuzzMatcher(), normalize_name(listed), normalize_name(extra)
    if y:
        assert matcher.score(y, y) == 100
        assert matcher.score(f"{more} {y}" if before else f"{y} {more}", y) == 100


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["José Ramón NÚÑEZ GARCÍA", "AL-SHABAAB", "Ri Wonho", "AEROCARIBBEAN AIRLINES"]), st.data())
def test_matching_is_case_and_diacritic_insensitive(listed, data):
    """Any casing of a listed name, with or without its accents, finds the same entries at the same score."""
    service = loaded()
    plain = "".join({"é": "e", "ó": "o", "Ú": "U", "Ñ": "N", "Í": "I", "á": "a"}.get(c, c) for c in listed)
    flips = data.draw(st.lists(st.booleans(), min_size=len(plain), max_size=len(plain)))
    variant = "".join(c.upper() if f else c.lower() for c, f in zip(plain, flips, strict=True))
    expected = [(m.ref, m.score) for m in service.screen_name(listed)]
    assert expected and [(m.ref, m.score) for m in service.screen_name(variant)] == expected


def test_applicants_are_screened_at_onboarding_and_only_officers_see_the_match():
    """A listed name submitted for KYC is recorded on the application and audited."""
    from tests.support.kyc_rig import KycRig

    rig = KycRig(screening=loaded())
    app_id = rig.personal(level=1)  # Wanjiku Kamau: not listed
    assert rig.review.standing("usr_wanjiku").applications[0].sanctions_matches == ()
    listed = KycRig(screening=loaded())
    from tests.support.kyc_rig import person

    details = attrs.evolve(person(), legal_name="Jose Ramon Nunez Garcia")
    application = listed.review.apply_personal("usr_jose", 1, details, notify_to=None)
    listed.review.submit("usr_jose", application.id)
    [found] = listed.review.standing("usr_jose").applications
    assert found.sanctions_matches == ("ofac_sdn ofac:30001: José Ramón NÚÑEZ GARCÍA (100)",)
    assert "kyc.sanctions_match" in listed.audit_actions()
    assert app_id


def test_a_list_update_rescreens_everyone_and_raises_each_match_once():
    """A customer verified before being listed is found when the list changes; rescreening again raises nothing."""
    from tests.support.kyc_rig import KycRig, person

    storage = InMemoryStorage(**monitoring_repositories())
    service = screening(storage)
    kyc = KycRig(screening=service)
    details = attrs.evolve(person(), legal_name="Jose Ramon Nunez Garcia")
    application = kyc.review.apply_personal("usr_jose", 1, details, notify_to=None)
    kyc.review.submit("usr_jose", application.id)
    kyc.decide("usr_ann", application.id)
    kyc.personal("usr_wanjiku", level=1)
    rig = MonitoringRig(storage)
    assert rig.monitoring.rescreen(kyc.review.screened_names(), service) == []  # no list yet
    parsed = parse_list(SDN)
    service.import_list(parsed.source, parsed.version, parsed.entries, actor="operator:test")
    [alert] = rig.monitoring.rescreen(kyc.review.screened_names(), service)
    assert (alert.party_id, alert.kind, alert.evidence["ref"]) == ("usr_jose", "sanctioned_name", "ofac:30001")
    assert rig.monitoring.rescreen(kyc.review.screened_names(), service) == []
