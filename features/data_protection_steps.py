"""Steps for data_protection.feature, over a ``PrivacyWorld``: the wallet stack (its storage also holding KYC
applications and sessions) and the export use case. The test modules give the world: in memory
(test_data_protection.py) or on PostgreSQL with personal data sealed (test_data_protection_real.py)."""

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import attrs
from cryptopay.core.audit import AuditRecord
from cryptopay.core.identity.model import Merchant, RefreshToken, Role, User
from cryptopay.core.kyc.applications import (
    BusinessDetails,
    Director,
    KycApplication,
    PersonDetails,
    ReviewStep,
    StoredDocument,
)
from cryptopay.core.kyc.checks import IdType
from cryptopay.core.kyc.documents import DocumentKind
from cryptopay.core.kyc.tiers import PartyKind
from cryptopay.core.money import KES, Money
from cryptopay.core.privacy import NOTICE_ACTION, SubjectExports
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.notifications import InMemoryNotifier
from pytest_bdd import given, parsers, then, when

from tests.support.wallet_stack import WalletStack

OFFICER = "usr_officer_amina"


@attrs.define
class PrivacyWorld:
    stack: WalletStack
    exports: SubjectExports
    audit_about: Callable[..., list[AuditRecord]]  # the storage's audit records about subjects (``AuditLog.about``)


def _world(context: Any) -> PrivacyWorld:
    world: PrivacyWorld = context["privacy_world"]
    return world


def _person(context: Any, name: str) -> Any:
    return context["people"][name]


@given(parsers.re(r"(?P<name>\w+) has a wallet with the phone number (?P<phone>\d+) and the email (?P<email>\S+)"))
def has_wallet(context, privacy_world, name, phone, email):
    context["privacy_world"] = privacy_world
    user = privacy_world.stack.sign_up(phone, tier=1, email=email)
    context.setdefault("people", {})[name] = user
    context.setdefault("facts", {})[name] = [phone, email, user.id]
    at = privacy_world.stack.clock.now()
    with privacy_world.stack.backend.uow() as uow:  # a login's session, as the API's sign-in keeps it
        token = RefreshToken(f"rt_{user.id}", f"fam_{user.id}", user.id, f"hash-{user.id}", at, at + timedelta(days=30))
        uow.refresh_tokens.add(token)


@given(
    parsers.re(
        r'(?P<name>\w+) applied for a national ID check as "(?P<legal>[^"]+)", ID number (?P<number>\d+), '
        r'living at "(?P<address>[^"]+)"'
    )
)
def applied(context, name, legal, number, address):
    world, user = _world(context), _person(context, name)
    at = world.stack.clock.now()
    details = PersonDetails(
        legal_name=legal,
        date_of_birth=date(1990, 5, 17),
        id_type=IdType.NATIONAL_ID,
        id_number=number,
        phone=user.phone,
        address=address,
    )
    front = StoredDocument(
        id=f"doc_{user.id}",
        kind=DocumentKind.ID_FRONT,
        content_type="image/jpeg",
        size=2048,
        sha256="a" * 64,
        uploaded_at=at,
        width=800,
        height=600,
    )
    application = KycApplication(
        id=f"kya_{user.id}",
        party_id=user.id,
        kind=PartyKind.PERSONAL,
        level=2,
        created_at=at,
        submitted_by=user.id,
        notify_to=user.email,
        person=details,
        documents=(front,),
    )
    with world.stack.backend.uow() as uow:
        uow.kyc_applications.add(application)
    context["facts"][name] += [legal, *legal.split(), number, address]


@given(
    parsers.re(
        r"(?P<name>\w+) has KES (?P<value>[\d,]+) in (his|her) wallet and sent KES (?P<sent>[\d,]+) to (?P<to>\d+)"
    )
)
def funded_and_sent(context, name, value, sent, to):
    stack, user = _world(context).stack, _person(context, name)
    stack.fund(user, str(context.amount(value)), "KES")
    stack.wallets.send(user.id, to, Money.of(context.amount(sent), KES))
    context["facts"][name].append(to)


@when(parsers.re(r"(?P<name>\w+) asks for (his|her) data"))
def asks_for_own_data(context, name):
    user = _person(context, name)
    context["export"] = _world(context).exports.export_own(user.id)


@when(
    parsers.re(
        r"the compliance officer Amina looks up (?P<who>\S+) and exports that person's data "
        r'because "(?P<reason>[^"]+)"'
    )
)
def officer_exports(context, who, reason):
    exports = _world(context).exports
    found = exports.find(who, actor=f"user:{OFFICER}")
    context["export"] = exports.export(found.id, actor=f"user:{OFFICER}", reason=reason)


def _text(context: Any) -> str:
    return json.dumps(context["export"]).lower()


@then("the export holds her profile with her phone number and email")
def holds_profile(context):
    profile, user = context["export"]["profile"], _person(context, "Wanjiku")
    assert (profile["id"], profile["phone"], profile["email"]) == (user.id, user.phone, user.email)
    assert [s["id"] for s in context["export"]["sessions"]] == [f"rt_{user.id}"]


@then("the export holds her KYC application with her name, ID number, address and her documents' details")
def holds_application(context):
    [application] = context["export"]["kyc"]["applications"]
    person = application["person"]
    assert (person["legal_name"], person["id_number"], person["address"]) == (
        "Wanjiku Kamau",
        "23456789",
        "Moi Avenue 12",
    )
    assert person["date_of_birth"] == "1990-05-17"
    [document] = application["documents"]
    assert (document["kind"], document["content_type"], document["size"]) == ("id_front", "image/jpeg", 2048)
    assert context["export"]["kyc"]["profile"]["level"] == 1


@then(parsers.re(r"the export holds her wallet, her movements and her transfer of KES 300 to (?P<to>\d+)"))
def holds_wallet(context, to):
    exported, user = context["export"], _person(context, "Wanjiku")
    assert exported["wallet"]["phone"] == user.phone
    amounts = sorted(line["amount"]["amount"] for line in exported["movements"])
    assert amounts == ["-300.00", "2000.00"], amounts
    [transfer] = exported["transfers"]
    assert (transfer["recipient_phone"], transfer["amount"]["amount"]) == (to, "300.00")


def _nothing_of(context: Any, name: str) -> None:
    text = _text(context)
    leaked = [fact for fact in context["facts"][name] if fact.lower() in text]
    assert leaked == [], f"{name}'s data in the export: {leaked}"


@then("nothing about Otieno appears in the export")
def nothing_of_otieno(context):
    _nothing_of(context, "Otieno")


@then("no password or token is in the export")
def no_secrets(context):
    text = _text(context)
    for secret in ("password_hash", "token_hash", "hash-usr", "totp_secret", "token_digest", "code_hash"):
        assert secret not in text, secret


@then("the audit log says Wanjiku exported her own data")
def audited_own(context):
    user = _person(context, "Wanjiku")
    records = _world(context).audit_about([f"user:{user.id}"])
    assert [(r.actor, r.action) for r in records if r.action == "privacy.exported"] == [
        (f"user:{user.id}", "privacy.exported")
    ]


@then("Wanjiku is told by email that her data was downloaded, and that is audited")
def told_by_email(context):
    user, world = _person(context, "Wanjiku"), _world(context)
    notifier = world.exports.notifier
    assert isinstance(notifier, InMemoryNotifier)
    assert [(n.to, n.subject) for n in notifier.sent] == [(user.email, "A copy of your cryptopay data was downloaded")]
    records = world.audit_about([f"user:{user.id}"])
    assert [(r.actor, dict(r.details)) for r in records if r.action == NOTICE_ACTION] == [
        ("system:notify", {"channel": "email", "outcome": "sent"})
    ]


@then("the export is Otieno's and nothing about Wanjiku appears in it")
def otienos_export(context):
    assert context["export"]["subject"] == _person(context, "Otieno").id
    assert context["export"]["kyc"]["applications"][0]["person"]["legal_name"] == "Otieno Odhiambo"
    _nothing_of(context, "Wanjiku")


@then(parsers.re(r'the audit log says Amina looked up Otieno and exported his data because "(?P<reason>[^"]+)"'))
def audited_officer(context, reason):
    user = _person(context, "Otieno")
    records = _world(context).audit_about([f"user:{user.id}"], actor=f"user:{OFFICER}")
    mine = [(r.actor, r.action, dict(r.details).get("reason")) for r in records if r.action.startswith("privacy.")]
    assert mine == [
        (f"user:{OFFICER}", "privacy.subject_looked_up", None),
        (f"user:{OFFICER}", "privacy.exported", reason),
    ]


def _document(doc_id: str, kind: DocumentKind, at: Any, director: str | None) -> StoredDocument:
    return StoredDocument(
        id=doc_id, kind=kind, content_type="image/jpeg", size=2048, sha256="b" * 64, uploaded_at=at, director=director
    )


@given(
    parsers.re(
        r'(?P<name>\w+) owns the merchant "(?P<business>[^"]+)", whose business application names her and '
        r"(?P<other>\w+) as its directors"
    )
)
def owns_merchant(context, name, business, other):
    world, owner, them = _world(context), _person(context, name), _person(context, other)
    at = world.stack.clock.now()
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, owner.phone)
    her = Director(name="Wanjiku Kamau", id_type=IdType.NATIONAL_ID, id_number="23456789", party_id=owner.id, id="d1")
    his = Director(
        name="Otieno Odhiambo",
        id_type=IdType.NATIONAL_ID,
        id_number="12345678",
        party_id=them.id,
        id="d2",
        phone=them.phone,
        address="Kenyatta Avenue 1",
    )
    details = BusinessDetails(
        registered_name=business,
        registration_number="PVT-AB12CD3",
        kra_pin="P051234567Q",
        phone=owner.phone,
        address="Moi Avenue 12",
        directors=(her, his),
    )
    documents = (
        _document("doc_cert", DocumentKind.CERTIFICATE_OF_INCORPORATION, at, None),
        _document("doc_d1", DocumentKind.ID_FRONT, at, "d1"),
        _document("doc_d2", DocumentKind.ID_FRONT, at, "d2"),
    )
    checks = (ReviewStep(at, "user:usr_ann", "director_verified", "d2 Otieno Odhiambo"),)
    application = KycApplication(
        id="kya_duka",
        party_id="mer_duka",
        kind=PartyKind.MERCHANT,
        level=1,
        created_at=at,
        submitted_by=owner.id,
        business=details,
        documents=documents,
        history=checks,
        verified_directors=("d1", "d2"),
        sanctions_matches=("ofac-sdn 9: Duka Ltd (0.97)",),
    )
    with world.stack.backend.uow() as uow:
        uow.merchants.add(Merchant("mer_duka", owner.id, business, profile, at, at))
        uow.kyc_applications.add(application)


@then(
    parsers.re(
        r"the export holds (?P<business>.+)'s business application with her as its director and her documents' details"
    )
)
def holds_business(context, business):
    [kyb] = [a for a in context["export"]["kyc"]["applications"] if a["kind"] == "merchant"]
    assert (kyb["party_id"], kyb["business"]["registered_name"]) == ("mer_duka", business)
    assert [(d["id"], d["name"]) for d in kyb["business"]["directors"]] == [("d1", "Wanjiku Kamau")]
    assert sorted(d["id"] for d in kyb["documents"]) == ["doc_cert", "doc_d1"]
    assert kyb["verified_directors"] == ["d1"] and kyb["history"] == []


@then(parsers.re(r"the export holds nothing of what sanctions screening found on (?P<business>.+)"))
def no_screening(context, business):
    assert "sanctions_matches" not in json.dumps(context["export"]) and "ofac" not in _text(context)


@given("the compliance officer Amina has an account")
def officer_account(context):
    world = _world(context)
    with world.stack.backend.uow() as uow:
        at = world.stack.clock.now()
        uow.users.add(User(OFFICER, "amina@cryptopay.example", "unused-hash", Role.COMPLIANCE, at))


@when("the compliance officer Amina downloads her own data")
def officer_own_export(context):
    context["export"] = _world(context).exports.export(OFFICER, actor=f"user:{OFFICER}")


@then("the export says she looked a person up and exported their data, without saying whom")
def officer_actions_without_whom(context):
    done = [r for r in context["export"]["audit"] if r["action"].startswith("privacy.")]
    assert [r["action"] for r in done] == ["privacy.subject_looked_up", "privacy.exported"]
    assert all(r["actor"] == f"user:{OFFICER}" and "subject" not in r and "details" not in r for r in done)
    assert "request by post" not in _text(context)
