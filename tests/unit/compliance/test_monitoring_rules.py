"""Monitoring rules as data: validation on load, each rule's firing, and properties over random movements."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from cryptopay.core.compliance.cases import AlertStatus, CaseStatus
from cryptopay.core.compliance.monitoring import Blocked
from cryptopay.core.compliance.rules import Direction, Movement, evaluate, load_rules
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState
from cryptopay.core.money import KES, Money
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.monitoring_rig import RULES, START, MonitoringRig, file_str

PRODUCTS = ["wallet_buy", "wallet_sell", "p2p", "withdraw", "merchant_payment", "settlement_payout"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"version": 1, "rules": [{"id": "a", "kind": "teleport"}]}', "unknown kind"),
        ('{"version": 1, "rules": [{"id": "a", "kind": "large_transaction"}]}', "missing threshold_kes"),
        ('{"version": 1, "rules": [{"id": "a", "kind": "large_transaction", "threshold_kes": "-5"}]}', "positive"),
        ('{"version": 1, "rules": [{"id": "a", "kind": "velocity", "window_minutes": 5}]}', "max_count or"),
        (
            '{"version": 1, "rules": [{"id": "a", "kind": "large_transaction", "threshold_kes": "1", "x": 1}]}',
            "unknown field",
        ),
        ('{"version": 0, "rules": []}', "version"),
        (
            '{"version": 1, "rules": [{"id": "a", "kind": "sanctioned_counterparty"}, {"id": "a", "kind": "sanctioned_counterparty"}]}',
            "unique",
        ),
        ('{"version": 1, "rules": [{"id": "a", "kind": "sanctioned_name", "review_score": "150"}]}', "percentage"),
        ("not json", "not valid JSON"),
    ],
)
def test_a_bad_rule_set_is_refused_naming_what_is_wrong(document, message):
    """Validation on load: unknown kinds, missing or bad parameters, duplicate ids."""
    with pytest.raises(InvalidInput, match=message):
        load_rules(document)


def test_rules_load_from_toml_too():
    """The same document in TOML."""
    rules = load_rules(
        'version = 4\n[[rules]]\nid = "large"\nkind = "large_transaction"\nthreshold_kes = "5000"\n', fmt="toml"
    )
    assert (rules.version, rules.rules[0].params["threshold_kes"]) == (4, "5000")


movements = st.builds(
    lambda i, kes, minutes, out, product: Movement(
        id=f"mv_{i}",
        party_id="usr_1",
        product=product,
        direction=Direction.OUT if out else Direction.IN,
        amount=Money.of(kes, KES),
        at=START + timedelta(minutes=minutes),
        counterparty="TXYZ",
        party_since=START - timedelta(days=1),
    ),
    st.integers(0, 10**6),
    st.integers(1, 2_000_000),
    st.integers(0, 3000),
    st.booleans(),
    st.sampled_from(PRODUCTS),
)


@settings(max_examples=150, deadline=None)
@given(movements, st.lists(movements, max_size=12), st.sampled_from(PRODUCTS), st.booleans())
def test_a_rule_never_fires_on_a_movement_outside_its_scope(movement, history, product, sanctioned):
    """Scoped to one product and the other direction, no rule of the standard set fires on the movement."""
    other = Direction.OUT if movement.direction is Direction.IN else Direction.IN
    for rule in load_rules(RULES).rules:
        scoped = type(rule)(
            id=rule.id,
            kind=rule.kind,
            version=rule.version,
            products=frozenset({product}),
            directions=frozenset({other}),
            params=rule.params,
        )
        assert evaluate(scoped, movement, history, sanctioned=sanctioned) is None
        if movement.product != product:
            wider = type(rule)(id=rule.id, kind=rule.kind, version=1, products=frozenset({product}), params=rule.params)
            assert evaluate(wider, movement, history, sanctioned=sanctioned) is None


@settings(max_examples=100, deadline=None)
@given(movements, st.lists(movements, max_size=12))
def test_a_hit_names_its_rule_version_and_movement(movement, history):
    """Every hit carries the rule's id and version, the movement and the party."""
    for rule in load_rules(RULES).rules:
        hit = evaluate(rule, movement, history, sanctioned=True)
        if hit is not None:
            assert (hit.rule_id, hit.rule_version, hit.movement_id, hit.party_id) == (rule.id, 3, movement.id, "usr_1")


def test_structuring_across_a_day_raises_one_alert_that_becomes_a_case():
    """Three deposits just under KES 150,000 in a day: one structuring alert, grouped into a case and reported (its STR filed)."""
    rig = MonitoringRig()
    for minutes, kes in ((0, "140000"), (240, "145000"), (600, "139500"), (700, "5000")):
        rig.monitoring.observe(rig.movement(kes, minutes=minutes))
    rig.clock.advance(days=1)
    alerts = rig.monitoring.run_batch(START, START + timedelta(days=1))
    assert [(a.rule_id, a.rule_version) for a in alerts] == [("structuring", 3)]
    assert alerts[0].evidence["count"] == "3" and alerts[0].evidence["total"] == "424500.00"
    assert rig.monitoring.run_batch(START, START + timedelta(days=1)) == []  # a rerun raises nothing twice
    case = rig.monitoring.open_case("usr_ann", [alerts[0].id])
    assert rig.monitoring.alerts(status=AlertStatus.OPEN) == []
    rig.monitoring.move("usr_ann", case.id, CaseStatus.INVESTIGATING)
    rig.monitoring.note("usr_ann", case.id, "deposits from three agents in Eastleigh")
    with pytest.raises(InvalidInput):
        rig.monitoring.move("usr_ann", case.id, CaseStatus.CLOSED_NO_ACTION)
    done = file_str(rig.monitoring, case.id, "usr_ann")
    assert done.status is CaseStatus.REPORTED and done.closed_at is not None
    with pytest.raises(InvalidState):
        rig.monitoring.move("usr_ann", case.id, CaseStatus.INVESTIGATING)


def test_each_rule_fires_on_its_pattern():
    """Large value, velocity, rapid in-and-out and a new account with high value each raise their alert."""
    rig = MonitoringRig()
    feed = [
        rig.movement("1200000", party="usr_big"),
        *[rig.movement("100", party="usr_fast", minutes=i) for i in range(6)],
        rig.movement("50000", party="usr_mule", minutes=0),
        rig.movement("45000", party="usr_mule", minutes=10, direction=Direction.OUT, product="withdraw"),
        rig.movement("400000", party="usr_new", since_days=2),
    ]
    for movement in feed:
        rig.monitoring.observe(movement)
    alerts = rig.monitoring.run_batch(START, START + timedelta(days=1))
    fired = {(a.party_id, a.rule_id) for a in alerts}
    assert fired == {
        ("usr_big", "large"),
        ("usr_fast", "velocity"),
        ("usr_mule", "in-out"),
        ("usr_new", "new-account"),
    }


def test_a_sanctioned_counterparty_is_blocked_before_anything_moves():
    """The blocking rule refuses the withdrawal, the alert is kept, and the movement is not journaled."""
    rig = MonitoringRig(sanctioned=frozenset({"TSanctioned"}))
    withdrawal = rig.movement("1000", direction=Direction.OUT, product="withdraw", counterparty="TSanctioned")
    with pytest.raises(Blocked, match="sanctioned"):
        rig.monitoring.check(withdrawal)
    [alert] = rig.monitoring.alerts()
    assert alert.blocking and alert.evidence["counterparty"] == "TSanctioned"
    assert rig.monitoring.run_batch(START, START + timedelta(days=1)) == []
    clean = rig.movement("1000", direction=Direction.OUT, product="withdraw", counterparty="TClean")
    assert rig.monitoring.check(clean) == []


def test_a_case_is_about_one_party_and_alerts_join_one_case():
    """Alerts of two parties cannot share a case; an alert already in a case cannot join another."""
    rig = MonitoringRig()
    rig.monitoring.observe(rig.movement("1200000", party="usr_a"))
    rig.monitoring.observe(rig.movement("1300000", party="usr_b"))
    a, b = rig.monitoring.run_batch(START, START + timedelta(days=1))
    with pytest.raises(InvalidInput, match="one party"):
        rig.monitoring.open_case("usr_ann", [a.id, b.id])
    rig.monitoring.open_case("usr_ann", [a.id])
    with pytest.raises(Conflict, match="already in a case"):
        rig.monitoring.open_case("usr_bob", [a.id])
    rig.clock.advance(days=8)
    assert [c.party_id for c in rig.monitoring.overdue()] == ["usr_a"]


def test_round_trips_and_high_risk_remittances_fire():
    """Value sent to a wallet and coming back within a day; a remittance from a high-risk country."""
    rig = MonitoringRig()
    feed = [
        rig.movement("80000", party="usr_rt", direction=Direction.OUT, product="withdraw", counterparty="TRound"),
        rig.movement("79000", party="usr_rt", minutes=120, counterparty="TRound"),
        rig.movement("5000", party="usr_ok", minutes=5, counterparty="TOther"),
        attrs.evolve(rig.movement("20000", party="usr_kp", product="remittance"), country="KP"),
        attrs.evolve(rig.movement("20000", party="usr_ke", product="remittance"), country="TZ"),
    ]
    for movement in feed:
        rig.monitoring.observe(movement)
    alerts = rig.monitoring.run_batch(START, START + timedelta(days=1))
    assert {(a.party_id, a.rule_id) for a in alerts} == {("usr_rt", "round-trip"), ("usr_kp", "high-risk")}
    [trip] = [a for a in alerts if a.rule_id == "round-trip"]
    assert trip.evidence["counterparty"] == "TRound" and trip.evidence["earlier"] == "80000.00"


def test_country_lists_are_validated():
    """ISO codes only."""
    with pytest.raises(InvalidInput, match="ISO country codes"):
        load_rules('{"version": 1, "rules": [{"id": "h", "kind": "high_risk_jurisdiction", "countries": ["Korea"]}]}')


def test_check_journals_what_it_lets_through_unless_the_product_observes_it_later():
    """``check`` journals a movement nothing blocks (with or without a blocking rule watching it); with
    ``journal=False`` only ``observe`` does, so a movement refused afterwards never reaches the batch rules."""
    rig = MonitoringRig(sanctioned=frozenset({"TSanctioned"}))
    watched = rig.movement("1000", direction=Direction.OUT, product="withdraw", counterparty="TClean")
    unwatched = rig.movement("1000", direction=Direction.OUT, product="p2p", counterparty="usr_b")
    later = rig.movement("2000", direction=Direction.OUT, product="withdraw", counterparty="TClean")
    assert rig.monitoring.check(watched) == [] and rig.monitoring.check(unwatched) == []
    assert rig.monitoring.check(later, journal=False) == []
    with rig.storage.unit_of_work() as uow:
        journaled = {m.id for m in uow.movements.for_party("usr_otieno", since=START)}
    assert journaled == {watched.id, unwatched.id}
    assert rig.monitoring.observe(later) and not rig.monitoring.observe(later)


@pytest.mark.parametrize("parts", [["90000"], ["49000", "49000"], ["33000", "33000", "33000"]])
def test_value_leaving_in_parts_raises_rapid_in_out_once(parts):
    """Review12 R12-5: KES 100,000 in, then 80 % or more out within the window in one movement or several parts:
    one alert, on the part that crosses, naming every part; splitting the cash-out no longer hides it."""
    rig = MonitoringRig()
    rig.monitoring.observe(rig.movement("100000", party="usr_mule"))
    for i, kes in enumerate(parts, start=1):
        rig.monitoring.observe(
            rig.movement(kes, party="usr_mule", minutes=i, direction=Direction.OUT, product="withdraw")
        )
    alerts = [a for a in rig.monitoring.run_batch(START, START + timedelta(days=1)) if a.rule_id == "in-out"]
    assert len(alerts) == 1
    if len(parts) > 1:
        assert len(alerts[0].evidence["movements"].split(",")) == len(parts)


def test_value_leaving_below_the_share_in_parts_raises_nothing():
    rig = MonitoringRig()
    rig.monitoring.observe(rig.movement("100000", party="usr_saver"))
    for i in (1, 2):
        rig.monitoring.observe(
            rig.movement("30000", party="usr_saver", minutes=i, direction=Direction.OUT, product="withdraw")
        )
    assert [a for a in rig.monitoring.run_batch(START, START + timedelta(days=1)) if a.rule_id == "in-out"] == []


def test_a_round_trip_returned_in_parts_fires_once():
    """Review12 R12-5's twin: 100,000 sent to a counterparty and 2 x 49,000 back within the day."""
    rig = MonitoringRig()
    feed = [
        rig.movement("100000", party="usr_rt", direction=Direction.OUT, product="withdraw", counterparty="TRound"),
        rig.movement("49000", party="usr_rt", minutes=60, counterparty="TRound"),
        rig.movement("49000", party="usr_rt", minutes=120, counterparty="TRound"),
    ]
    for movement in feed:
        rig.monitoring.observe(movement)
    [trip] = [a for a in rig.monitoring.run_batch(START, START + timedelta(days=1)) if a.rule_id == "round-trip"]
    assert trip.evidence["returned"] == "98000.00" and len(trip.evidence["returning"].split(",")) == 2
