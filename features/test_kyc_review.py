"""Steps for kyc_review.feature: the officers' review over the core's use cases and real documents."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.core.errors import Conflict, InvalidState
from cryptopay.core.kyc import PartyKind
from cryptopay.core.kyc.applications import ApplicationState, RegistrationInUse
from cryptopay.core.kyc.documents import DocumentKind
from pytest_bdd import given, parsers, scenarios, then, when

from tests.support.kyc_rig import GatedStack, KycRig, approve_after_reading, business, director

scenarios("kyc_review.feature")

OFFICERS = {"Ann": "usr_ann", "Bob": "usr_bob"}
PARTIES = {"Wanjiku": "usr_wanjiku", "Duka Ltd": "mer_duka"}
MERCHANTS = {"Duka Ltd": "mer_duka", "Duka Traders": "mer_traders", "Shamba Ltd": "mer_shamba"}
DIRECTORS = {"Otieno": director("Otieno Odhiambo"), "Achieng": director("Achieng Atieno", id_number="22334455")}


@pytest.fixture
def office() -> dict[str, object]:
    return {"rig": KycRig()}


def rig_of(office) -> KycRig:
    return office["rig"]


@given("Wanjiku applied for tier 2 with her national ID, both sides of the card and a selfie")
def wanjiku_applied(office):
    office["application"] = rig_of(office).personal("usr_wanjiku", level=2)


@given("Duka Ltd applied for business verification with its KRA PIN and certificate of incorporation")
def duka_applied(office):
    office["application"] = rig_of(office).kyb("mer_duka", "usr_owner")


@given("Duka Ltd applied for business verification naming two directors, Otieno and Achieng")
def duka_with_two_directors(office):
    office["details"] = attrs.evolve(business(), directors=(director("Otieno Odhiambo"), director("Achieng Atieno")))


@given("each director's ID card, both sides, and selfie are uploaded with the certificate of incorporation")
def directors_documents(office):
    office["application"] = rig_of(office).kyb("mer_duka", "usr_owner", details=office["details"])
    with rig_of(office).storage.unit_of_work() as uow:
        application = uow.kyc_applications.get(office["application"])
    assert {(d.director, d.kind.value) for d in application.documents if d.director} == {
        (who, kind) for who in ("d1", "d2") for kind in ("id_front", "id_back", "selfie")
    }


@when(parsers.parse("officer {name} claims the application and checks Otieno's ID and selfie but not Achieng's yet"))
def checks_one_director(office, name):
    review = rig_of(office).review
    review.claim(OFFICERS[name], office["application"])
    review.verify_director(OFFICERS[name], office["application"], "d1")


@then(parsers.parse("{name} cannot approve the business: Achieng is not verified"))
def cannot_approve_yet(office, name):
    with pytest.raises(InvalidState, match="Achieng Atieno"):
        approve_after_reading(rig_of(office).review, OFFICERS[name], office["application"])


@when(parsers.parse("officer {name} checks Achieng's ID and selfie too and approves"))
def checks_the_other_director(office, name):
    review = rig_of(office).review
    review.verify_director(OFFICERS[name], office["application"], "d2")
    approve_after_reading(review, OFFICERS[name], office["application"])


@when(parsers.parse("officer {name} claims the application and approves it"))
def approves(office, name):
    rig_of(office).decide(OFFICERS[name], office["application"])


@when(parsers.parse('officer {name} claims the application and asks for "{what}"'))
def asks_for_more(office, name, what):
    review = rig_of(office).review
    review.claim(OFFICERS[name], office["application"])
    review.request_information(OFFICERS[name], office["application"], what)


@when(parsers.parse("officer {name} opens the selfie"))
def opens_selfie(office, name):
    review = rig_of(office).review
    [application] = review.standing("usr_wanjiku").applications
    selfie = next(d for d in application.documents if d.kind is DocumentKind.SELFIE)
    _, content = review.document(OFFICERS[name], application.id, selfie.id)
    assert content.startswith(b"\xff\xd8\xff")


@then("Wanjiku is not verified yet and her application is back in the queue")
def not_yet(office):
    standing = rig_of(office).review.standing("usr_wanjiku")
    assert standing.profile.level is None
    assert [a.id for a in rig_of(office).review.queue()] == [office["application"]]


@then(parsers.parse("{name} cannot approve it a second time"))
def not_twice(office, name):
    with pytest.raises(Conflict):
        rig_of(office).decide(OFFICERS[name], office["application"])


@then(parsers.parse("Wanjiku holds tier {level:d} and may move KES {amount} at once"))
def holds_tier(office, level, amount):
    profile = rig_of(office).review.standing("usr_wanjiku").profile
    tier = profile.tier_at(rig_of(office).clock.now())
    assert tier.level == level and f"{tier.single_limit.amount:,.0f}" == amount


@then(parsers.parse('{name} is told "{subject}"'))
def told(office, name, subject):
    assert rig_of(office).notifier.sent[-1].subject == subject


@then("the application waits for Wanjiku")
def waits(office):
    [application] = rig_of(office).review.standing("usr_wanjiku").applications
    assert application.state is ApplicationState.INFORMATION_REQUESTED


@then(parsers.parse("the audit log shows that {name} viewed a document of Wanjiku's"))
def audited(office, name):
    with rig_of(office).storage.unit_of_work() as uow:
        last = uow.audit.records()[-1]
    assert (last.actor, last.action, last.subject) == (
        f"user:{OFFICERS[name]}",
        "kyc.document_viewed",
        "kyc:usr_wanjiku",
    )


@pytest.fixture
def shop():
    return GatedStack(require_kyb=True)


@given("Duka Ltd, not yet verified, sells goods for 100 USDT")
def unverified_sale(shop):
    shop.paid("100")


@given("Duka Ltd, verified, has a payout waiting to be sent")
def verified_with_payout(shop):
    shop.kyb_approved()
    shop.paid("100")
    [run] = shop.stack.settling.run_settlements()
    shop.payout = run.payouts[0]


@when("the settlement runs")
def settlement_runs(shop):
    shop.runs = shop.stack.settling.run_settlements()


@when("two officers approve Duka Ltd's business verification")
def two_officers(shop):
    shop.kyb_approved()


@when(parsers.parse('officer {name} freezes Duka Ltd because "{reason}"'))
def freezes(shop, name, reason):
    shop.kyc.review.freeze(OFFICERS[name], "mer_duka", PartyKind.MERCHANT, reason)


@when(parsers.parse("officer {name} unfreezes Duka Ltd"))
def unfreezes(shop, name):
    shop.kyc.review.unfreeze(OFFICERS[name], "mer_duka", PartyKind.MERCHANT)


@then("Duka Ltd's balance holds the payment and nothing is paid out, because its business verification is pending")
def waits_for_kyb(shop):
    [run] = shop.runs
    assert run.settlement is None and "KYB" in run.reason
    assert shop.stack.mpesa.transactions() == []


@then("Duka Ltd is paid out over M-Pesa")
def paid_out(shop):
    [run] = shop.runs
    assert len(run.payouts) == 1
    [sent] = shop.stack.payouts.submit_payouts()
    assert sent.amount.amount > 0


@then("the payout is not sent")
def not_sent(shop):
    assert shop.stack.payouts.submit_payouts() == []


@then("the payout is sent")
def sent(shop):
    assert [p.id for p in shop.stack.payouts.submit_payouts()] == [shop.payout.id]


@pytest.fixture
def watch():
    from tests.support.monitoring_rig import MonitoringRig

    return {"rig": MonitoringRig()}


@given("Otieno deposits KES 140,000, then KES 145,000, then KES 139,500 on the same day")
def deposits(watch):
    rig = watch["rig"]
    for minutes, kes in ((0, "140000"), (240, "145000"), (600, "139500")):
        rig.monitoring.observe(attrs.evolve(rig.movement(kes, minutes=minutes), asset="USDT", network="tron"))


@when("the monitoring batch runs at night")
def batch(watch):
    from datetime import timedelta

    from tests.support.monitoring_rig import START

    watch["alerts"] = watch["rig"].monitoring.run_batch(START, START + timedelta(days=1))


@then("one structuring alert is raised, naming the three deposits")
def one_alert(watch):
    [alert] = watch["alerts"]
    assert alert.rule_id == "structuring" and len(alert.evidence["movements"].split(",")) == 3


@when(parsers.parse('officer {name} opens a case from it and notes "{text}"'))
def open_case(watch, name, text):
    monitoring = watch["rig"].monitoring
    case = monitoring.open_case(OFFICERS[name], [watch["alerts"][0].id])
    watch["case"] = monitoring.note(OFFICERS[name], case.id, text)


@when(parsers.parse("officer {name} exports the suspicious transaction report"))
def exports(watch, name):
    from cryptopay.core.compliance.reports import Reporter, Reporting

    rig = watch["rig"]
    reporter = Reporter(rentity_id="4711", officer_name="Ann Wambui", officer_email="ann@example.co.ke")
    watch["xml"] = Reporting(uow=rig.storage.unit_of_work, clock=rig.clock).goaml_export(
        watch["case"].id, reporter, party_name="Otieno Odhiambo", officer=OFFICERS[name]
    )[1]


@then("the goAML report lists the three deposits under the structuring indicator")
def goaml(watch):
    import xml.etree.ElementTree as ET

    root = ET.fromstring(watch["xml"])
    assert len(root.findall("transaction")) == 3
    assert [i.text for i in root.findall("report_indicators/indicator")] == ["STRUCTURING"]


@then("the case is not reported until its filing is recorded")
def not_reported(watch):
    from cryptopay.core.compliance.cases import CaseStatus, StrNotFiled

    monitoring = watch["rig"].monitoring
    with pytest.raises(StrNotFiled):
        monitoring.move(OFFICERS["Ann"], watch["case"].id, CaseStatus.REPORTED, "STR filed")
    assert monitoring.case(watch["case"].id).status is CaseStatus.OPEN


@when(parsers.parse('officer {name} records the FRC\'s goAML report id "{reference}" filed today'))
def records_filing(watch, name, reference):
    from cryptopay.core.system import NAIROBI

    rig = watch["rig"]
    today = rig.clock.now().astimezone(NAIROBI).date()
    watch["case"] = rig.monitoring.file(OFFICERS[name], watch["case"].id, reference, today)


@then("the case is reported with that filing")
def reported(watch):
    import hashlib

    case = watch["case"]
    assert case.status.value == "reported" and case.filing is not None and case.filing.reference == "100234"
    assert case.filing.export_digest == hashlib.sha256(watch["xml"]).hexdigest()


# -- one business, one verified merchant (G5 for businesses) --------------------------------------------------------
@given(parsers.parse("Duka Ltd is verified with registration number {number} and director {who}"))
def duka_verified(office, number, who):
    rig = rig_of(office)
    first = rig.kyb("mer_duka", "usr_owner", details=business(number, DIRECTORS[who]))
    rig.decide("usr_ann", first)
    rig.decide("usr_bob", first)


@given(parsers.parse('another merchant, {merchant}, applied with registration number "{number}" and director {who}'))
def another_applied(office, merchant, number, who):
    details = business(number, DIRECTORS[who])
    office["application"] = rig_of(office).kyb(MERCHANTS[merchant], "usr_other", details=details)


@then("the officers see that Duka Ltd gave the same registration number")
def sees_registration(office):
    assert rig_of(office).review.application("usr_ann", office["application"]).id_unlinked == ("mer_duka",)


@then(parsers.parse("the officers see that {who} also directs Duka Ltd"))
def sees_director(office, who):
    shown = rig_of(office).review.application("usr_ann", office["application"])
    assert shown.id_shared_with == () and shown.directors_elsewhere == {"d1": ("mer_duka",)}


@then(parsers.parse("officer {name} cannot approve {merchant}: the registration number is in use by Duka Ltd"))
def registration_refused(office, name, merchant):
    with pytest.raises(RegistrationInUse) as refused:
        rig_of(office).decide(OFFICERS[name], office["application"])
    assert refused.value.code == "registration_in_use" and refused.value.details == {"accounts": ["mer_duka"]}
    assert rig_of(office).review.standing(MERCHANTS[merchant]).profile.level is None


@when(parsers.parse('officer {name} links the two merchants because "{reason}"'))
def links(office, name, reason):
    rig_of(office).review.link_id(OFFICERS[name], office["application"], reason)


@when(parsers.parse("officer {name} now approves it"))
def approves_claimed(office, name):
    approve_after_reading(rig_of(office).review, OFFICERS[name], office["application"])


@then(parsers.parse("{merchant} holds business tier {level:d}"))
def merchant_tier(office, merchant, level):
    assert rig_of(office).review.standing(MERCHANTS[merchant]).profile.level == level


@then(parsers.parse("the audit log shows that {name} linked {merchant} to Duka Ltd"))
def link_audited(office, name, merchant):
    with rig_of(office).storage.unit_of_work() as uow:
        [linked] = [r for r in uow.audit.records() if r.action == "kyc.id_linked"]
    assert linked.actor == f"user:{OFFICERS[name]}" and dict(linked.details)["accounts"] == "mer_duka"
    assert linked.subject == f"kyc:{MERCHANTS[merchant]}"
