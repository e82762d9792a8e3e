"""Personal data at rest on SQLite and PostgreSQL: the raw tables hold no name, ID number, birth date, address, phone
or email in the clear (payout and settlement destinations, team invitations, case notes, KYC review notes, raw M-Pesa
answers kept unmatched, the monitoring journal's counterparties and alerts' evidence included), lookups by phone,
email and payout destination still work, and the sealing pass seals rows written before."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from cryptopay.adapters.sql import make_engine, upgrade
from cryptopay.adapters.sql.personal import PersonalData
from cryptopay.adapters.sql.repositories.reconciliation import SqlReconciliationRuns
from cryptopay.adapters.sql.sealing import seal_personal_data
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.adapters.vault import EnvelopeVault, VaultBlobRejected, generate_kek
from cryptopay.core.compliance.cases import Alert, Case
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.compliance.travel_rule import Assessment, TravelRuleRecord
from cryptopay.core.identity.model import Merchant, Role, User
from cryptopay.core.identity.teams import Invitation, TeamRole
from cryptopay.core.kyc import KycProfile
from cryptopay.core.kyc.applications import BusinessDetails, Director, KycApplication, PersonDetails, ReviewStep
from cryptopay.core.kyc.checks import IdType
from cryptopay.core.kyc.tiers import PartyKind
from cryptopay.core.money import KES, Money
from cryptopay.core.payouts.answers import UnmatchedAnswer
from cryptopay.core.payouts.model import B2BTarget, CallbackPurpose, Payout
from cryptopay.core.reconciliation import Check, CheckResult, Difference, Report
from cryptopay.core.settlement import Settlement, SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.wallets.model import PhoneVerification, Transfer, TransferState, Wallet
from sqlalchemy.engine import Engine

from tests.support.sql_backends import postgres_database
from tests.support.travel_rule_data import AT, US, ann_attests, ann_beneficiary, ann_originator, withdrawal

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
PHONE, OTHER_PHONE, EMAIL = "254712345678", "254733000111", "Wanjiku.Kamau@Example.com"
SECRETS = [
    "Wanjiku",
    "Kamau",
    "1990-05-17",
    "23456789",
    "Moi Avenue",
    PHONE,
    OTHER_PHONE,
    "wanjiku.kamau",
    "Otieno",
    "12345678",
    "Kenyatta Avenue",
    "Mama Mboga",
    "1980-01-02",
    "254722000111",
    "Ngong Road",
    "254799000222",  # a payout's phone
    "0170123456789",  # a bank account (a payout's B2B account reference, a merchant's settlement destination)
    "0990012345678",
    "amina@duka.co.ke",  # a team invitation
    "Seen at Gikomba",  # an officer's case note
    "Njeri Wambui",  # a KYC reviewer's reason and note
    "Baraka Mwangi",  # a name screening matched at submission
    "254711222333",  # an unmatched B2C result's receiver
    "Achieng Atieno",
    "Kiprotich Rescreened",  # a periodic sanctions rescreen's matched party name (alert evidence "name")
    "254744555666",  # a monitored movement's counterparty (and the alert's evidence)
    "254755666777",  # a party M-Pesa's statement names in a kept reconciliation difference
    "Kariuki Mwangi",
]


def _personal() -> PersonalData:
    return PersonalData(EnvelopeVault.from_spec(f"k1:{generate_kek()}"), secrets.token_bytes(32))


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'pii.db'}"
        upgrade(url)
        found = make_engine(url)
        yield found
        found.dispose()
    else:
        with postgres_database(request.getfixturevalue("postgres_admin_url"), "cryptopay_pii") as url:
            found = make_engine(url)
            yield found
            found.dispose()


def _application() -> KycApplication:
    person = PersonDetails(
        legal_name="Wanjiku Kamau",
        date_of_birth=date(1990, 5, 17),
        id_type=IdType.NATIONAL_ID,
        id_number="23456789",
        phone=PHONE,
        address="Moi Avenue 12, Nairobi",
    )
    return KycApplication(
        id="kya_1",
        party_id="usr_1",
        kind=PartyKind.PERSONAL,
        level=1,
        created_at=NOW,
        submitted_by="usr_1",
        notify_to=EMAIL,
        person=person,
        reason="The selfie shows Njeri Wambui, not the applicant",
        history=(
            ReviewStep(NOW, "user:usr_1", "submitted"),
            ReviewStep(NOW, "user:usr_officer", "rejected", "The selfie shows Njeri Wambui, not the applicant"),
        ),
        sanctions_matches=("un QDi.1: Baraka Mwangi (91)",),
    )


def _business_application() -> KycApplication:
    business = BusinessDetails(
        registered_name="Duka Ltd",
        registration_number="PVT-AB12CD3",
        kra_pin="P051234567Q",
        phone=OTHER_PHONE,
        address="Kenyatta Avenue 1, Nairobi",
        directors=(
            Director(
                name="Otieno Odhiambo",
                id_type=IdType.NATIONAL_ID,
                id_number="12345678",
                id="d1",
                date_of_birth=date(1980, 1, 2),
                phone="254722000111",
                address="Ngong Road 5, Nairobi",
            ),
        ),
    )
    return KycApplication(
        id="kya_2",
        party_id="mer_1",
        kind=PartyKind.MERCHANT,
        level=1,
        created_at=NOW,
        submitted_by="usr_2",
        business=business,
    )


def _write_everything(storage: SqlStorage) -> None:
    with storage.unit_of_work() as uow:
        user = User("usr_1", EMAIL, "hash", Role.PERSONAL, NOW, "Mama Mboga", phone=PHONE)
        uow.users.add(user)
        uow.kyc_applications.add(_application())
        uow.kyc_applications.add(_business_application())
        uow.wallets.add(Wallet(user_id="usr_1", phone=PHONE, created_at=NOW, username="mboga"))
        verification = PhoneVerification(
            id="pv_1", phone=PHONE, code_hash="x", created_at=NOW, expires_at=NOW, last_sent_at=NOW
        )
        uow.phone_verifications.add(verification)
        transfer = Transfer(
            id="tr_1",
            sender_id="usr_1",
            recipient_phone=OTHER_PHONE,
            amount=Money.of("10", "KES"),
            fee=Money.of("0", "KES"),
            state=TransferState.AWAITING_CLAIM,
            created_at=NOW,
            claim_expires_at=NOW + timedelta(days=7),
        )
        uow.wallet_transfers.add(transfer)
        _write_merchant_side(uow)
    SqlReconciliationRuns(storage.engine, personal=storage.personal).add(_statement_run().records("rcn_1", "cli"))


def _no_check(_records: Any) -> list[Difference]:
    """Nothing to compare (the run's results are given)."""
    return []


def _statement_run() -> Report:
    """A reconciliation whose M-Pesa statement names a party paid that our books do not know."""
    paid = "M-Pesa paid KES 5000.00 to 254755666777 - Kariuki Mwangi (receipt RKT1)"
    found = (Difference("receipt RKT1", "a payout of ours", "none in our books", paid),)
    return Report(NOW, (CheckResult(Check("statement", "mpesa", _no_check), found),))


def _payout(n: int, method: SettlementMethod, destination: str, b2b: B2BTarget | None = None) -> Payout:
    return Payout(
        id=f"po_{n}",
        settlement_id="stl_1",
        merchant_id="mer_1",
        originator_id=f"po_{n}-1",
        method=method,
        destination=destination,
        amount=Money.of(5000, KES),
        charge=Money.of("15.50", KES),
        hold_id=f"hld_{n}",
        created_at=NOW,
        b2b=b2b,
    )


def _case() -> Case:
    case = Case(id="cas_1", party_id="usr_1", alert_ids=("alr_1",), created_at=NOW, deadline=NOW)
    case.add_note("usr_officer", "Seen at Gikomba with cash; ID 23456789", at=NOW)
    return case


def _write_merchant_side(uow: Any) -> None:
    """A merchant paid to a bank account, its payouts (a phone, a bank by paybill), an invitation and a case."""
    uow.users.add(User("usr_2", "owner@duka.co.ke", "hash", Role.MERCHANT, NOW))
    bank = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.BANK, "01:0990012345678")
    uow.merchants.add(Merchant("mer_1", "usr_2", "Duka Ltd", bank, NOW, NOW))
    uow.payouts.add(_payout(1, SettlementMethod.MPESA_B2C, "254799000222"))
    paybill = B2BTarget.paybill("247247", "0170123456789")
    uow.payouts.add(_payout(2, SettlementMethod.MPESA_PAYBILL, "247247#0170123456789", paybill))
    invitation = Invitation(
        id="inv_1",
        merchant_id="mer_1",
        email="amina@duka.co.ke",
        role=TeamRole.FINANCE,
        token_hash="f" * 64,
        created_at=NOW,
        expires_at=NOW + timedelta(days=7),
        invited_by="usr_2",
    )
    uow.teams.add_invitation(invitation)
    uow.cases.add(_case())
    uow.settlements.add(_settlement())
    uow.unmatched_answers.add(_answer())
    uow.kyc.add(_profile())
    uow.movements.add(_movement())
    uow.alerts.add(_alert())
    uow.alerts.add(_rescreen_alert())


_RESULT = (
    '{"Result":{"ConversationID":"AG_1","OriginatorConversationID":"po_9-1","ResultCode":0,"ResultParameters":'
    '{"ResultParameter":[{"Key":"ReceiverPartyPublicName","Value":"254711222333 - Achieng Atieno"}]}}}'
)


def _profile() -> KycProfile:
    """A profile whose application was sent back (the officer's message) and which was then frozen (the reason)."""
    return KycProfile(
        party_id="usr_1",
        kind=PartyKind.PERSONAL,
        reason="The selfie shows Njeri Wambui, not the applicant",
        frozen_at=NOW,
        frozen_by="usr_officer",
        freeze_reason="Njeri Wambui uses this wallet",
    )


def _answer() -> UnmatchedAnswer:
    return UnmatchedAnswer(id="ans_1", received_at=NOW, purpose=CallbackPurpose.RESULT, body=_RESULT)


def _movement() -> Movement:
    amount = Money.of(2000, KES)
    return Movement(
        id="mv_1",
        party_id="usr_1",
        product="p2p",
        direction=Direction.OUT,
        amount=amount,
        at=NOW,
        counterparty="254744555666",
    )


def _alert() -> Alert:
    return Alert(
        id="alr_1",
        key="round-trip:1:mv_1",
        rule_id="round-trip",
        rule_version=1,
        kind="round_trip",
        party_id="usr_1",
        movement_id="mv_1",
        created_at=NOW,
        evidence={"counterparty": "254744555666", "earlier": "2000"},
    )


def _rescreen_alert() -> Alert:
    """What the periodic sanctions rescreen raises: the party's screened name in the evidence's ``name``."""
    return Alert(
        id="alr_2",
        key="sanctions:snap_1:usr_1:ofac-1",
        rule_id="sanctions-name-match",
        rule_version=1,
        kind="sanctioned_name",
        party_id="usr_1",
        movement_id="",
        created_at=NOW,
        evidence={
            "name": "Kiprotich Rescreened",
            "listed_name": "RESCREENED, Kiprotich",
            "list": "ofac",
            "score": "96",
        },
    )


def _settlement() -> Settlement:
    return Settlement(
        id="stl_1",
        merchant_id="mer_1",
        cutoff=NOW,
        created_at=NOW,
        complete_by=NOW + timedelta(hours=1),
        method=SettlementMethod.BANK,
        destination="01:0990012345678",
    )


def _raw_text(engine: Engine) -> str:
    """Every value of every table holding personal data, as the database stores it."""
    tables = (
        "users",
        "kyc_applications",
        "wallets",
        "phone_verifications",
        "wallet_transfers",
        "payouts",
        "merchants",
        "merchant_invitations",
        "compliance_cases",
        "settlements",
        "unmatched_answers",
        "compliance_movements",
        "compliance_alerts",
        "kyc_profiles",
        "reconciliation_results",
    )
    with engine.connect() as conn:
        return "\n".join(
            repr(tuple(row)) for table in tables for row in conn.execute(sa.text(f"SELECT * FROM {table}"))
        )


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s.lower() in text.lower()]


def test_the_stored_bytes_hold_no_personal_data_and_lookups_still_work(engine: Engine) -> None:
    """Names, ID numbers, birth dates, addresses, phones and emails are sealed; phone and email lookups find them."""
    storage = SqlStorage(engine, personal=_personal())
    _write_everything(storage)
    assert _leaks(_raw_text(engine)) == []
    with storage.unit_of_work() as uow:
        assert uow.users.by_phone(PHONE).display_name == "Mama Mboga"  # type: ignore[union-attr]
        assert uow.users.by_email(EMAIL.upper()).email == EMAIL  # type: ignore[union-attr]
        assert uow.wallets.by_phone(PHONE).phone == PHONE  # type: ignore[union-attr]
        assert [t.id for t in uow.wallet_transfers.awaiting_claim(OTHER_PHONE)] == ["tr_1"]
        application = uow.kyc_applications.get("kya_1")
        assert application is not None and application.person == _application().person
        assert uow.kyc_applications.get("kya_2").business == _business_application().business  # type: ignore[union-attr]
        assert uow.phone_verifications.get("pv_1").phone == PHONE  # type: ignore[union-attr]
        _merchant_side_reads_back(uow)


def _merchant_side_reads_back(uow: Any) -> None:
    """Payouts are found by destination (the daily limit's lookup), and every sealed field opens as written."""
    assert [p.id for p in uow.payouts.to_destination("254799000222", since=NOW)] == ["po_1"]
    assert [p.id for p in uow.payouts.to_destinations(["247247#0170123456789", "254700000000"], since=NOW)] == ["po_2"]
    assert uow.payouts.get("po_2").b2b.account_reference == "0170123456789"
    assert uow.payouts.by_originator_id("po_1-1").destination == "254799000222"
    assert uow.merchants.get("mer_1").settlement.destination == "01:0990012345678"
    assert uow.teams.invitation_by_hash("f" * 64).email == "amina@duka.co.ke"
    assert uow.cases.get("cas_1").notes == _case().notes
    assert [c.notes for c in uow.cases.list()] == [_case().notes]
    assert uow.settlements.get("stl_1") == _settlement()
    assert uow.settlements.last_for("mer_1").destination == "01:0990012345678"
    assert uow.kyc_applications.get("kya_1") == _application()  # the reason, review notes and matches open
    assert uow.unmatched_answers.get("ans_1").body == _RESULT
    assert [a.body for a in uow.unmatched_answers.pending()] == [_RESULT]
    assert uow.movements.for_party("usr_1", since=NOW) == [_movement()]
    assert uow.movements.between(NOW, NOW + timedelta(seconds=1)) == [_movement()]
    assert uow.alerts.get("alr_1") == _alert()
    assert uow.alerts.list() == [_alert(), _rescreen_alert()]
    assert uow.kyc.get("usr_1") == _profile()
    assert uow.kyc.find(["usr_1"]) == {"usr_1": _profile()}
    runs = SqlReconciliationRuns(uow.connection.engine, personal=uow.personal)
    assert [r.differences for r in runs.latest_per_check()] == [_statement_run().results[0].differences]


def test_a_sealed_value_copied_onto_another_row_does_not_open(engine: Engine) -> None:
    """Each sealed field is bound to its table, row and field: moving it to another user's row fails to decrypt."""
    storage = SqlStorage(engine, personal=_personal())
    _write_everything(storage)
    with storage.unit_of_work() as uow:
        uow.users.add(User("usr_9", "other@example.com", "hash", Role.PERSONAL, NOW, "Someone"))
    with engine.begin() as conn:
        name = conn.execute(sa.text("SELECT display_name FROM users WHERE id = 'usr_1'")).scalar_one()
        conn.execute(sa.text("UPDATE users SET display_name = :n WHERE id = 'usr_9'"), {"n": name})
    with pytest.raises(VaultBlobRejected), storage.unit_of_work() as uow:
        uow.users.get("usr_9")


def test_the_sealing_pass_seals_rows_written_in_the_clear(engine: Engine) -> None:
    """Rows an older version wrote in the clear are sealed by the pass (once: a second pass rewrites nothing)."""
    _write_everything(SqlStorage(engine))  # no keys: as rows were stored before sealing
    assert "Wanjiku" in _raw_text(engine)
    storage = SqlStorage(engine, personal=_personal())
    counts = seal_personal_data(storage, batch=1)  # one row per transaction: the paging is exercised too
    assert counts["users"] == 2 and counts["kyc_applications"] == 2 and counts["wallet_transfers"] == 1
    assert (counts["payouts"], counts["merchants"], counts["merchant_invitations"], counts["compliance_cases"]) == (
        2,
        1,
        1,
        1,
    )
    assert counts["settlements"] == 1
    assert (counts["unmatched_answers"], counts["compliance_movements"], counts["compliance_alerts"]) == (1, 1, 2)
    assert counts["kyc_profiles"] == 1 and counts["reconciliation_results"] == 1
    assert _leaks(_raw_text(engine)) == []
    assert set(seal_personal_data(storage).values()) == {0}
    with storage.unit_of_work() as uow:
        assert uow.users.by_phone(PHONE).id == "usr_1"  # type: ignore[union-attr]
        assert uow.wallets.by_phone(PHONE).user_id == "usr_1"  # type: ignore[union-attr]
        assert uow.kyc_applications.get("kya_1").person.legal_name == "Wanjiku Kamau"  # type: ignore[union-attr]
        _merchant_side_reads_back(uow)


def test_the_sealing_pass_gives_applications_from_before_0045_their_id_hash(engine: Engine) -> None:
    """G5: an application sealed before its ID's keyed hash existed (``id_lookup`` NULL) gets it from the pass
    (which ``cryptopay db upgrade`` runs), so a later submission with the same ID finds it."""
    from cryptopay.core.kyc.applications import id_key

    storage = SqlStorage(engine, personal=_personal())
    _write_everything(storage)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE kyc_applications SET id_lookup = NULL"))
    key = id_key(IdType.NATIONAL_ID, _application().person.id_number)  # type: ignore[union-attr]
    with storage.unit_of_work() as uow:
        assert uow.kyc_applications.sharing_id(key) == []
    assert seal_personal_data(storage)["kyc_applications"] == 2  # the personal one and the KYB (0048: its number)
    with storage.unit_of_work() as uow:
        assert [a.id for a in uow.kyc_applications.sharing_id(key)] == ["kya_1"]
    assert seal_personal_data(storage)["kyc_applications"] == 0


def test_the_sealing_pass_gives_kybs_from_before_0048_their_registration_and_directors_hashes(engine: Engine) -> None:
    """G5 for businesses: a KYB written before 0048 (no ``id_lookup``, no ``kyc_director_lookups`` rows) gets its
    registration number's and its directors' keyed hashes from the pass, so a later KYB finds it."""
    from cryptopay.core.kyc.applications import id_key, registration_key

    storage = SqlStorage(engine, personal=_personal())
    _write_everything(storage)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM kyc_director_lookups"))
        conn.execute(sa.text("UPDATE kyc_applications SET id_lookup = NULL WHERE id = 'kya_2'"))
    registration, director = registration_key("PVT-AB12CD3"), id_key(IdType.NATIONAL_ID, "12345678")
    with storage.unit_of_work() as uow:
        assert uow.kyc_applications.sharing_id(registration) == []
        assert uow.kyc_applications.sharing_id(director, directors=True) == []
    assert seal_personal_data(storage)["kyc_applications"] == 1
    with storage.unit_of_work() as uow:
        assert [a.id for a in uow.kyc_applications.sharing_id(registration)] == ["kya_2"]
        assert [a.id for a in uow.kyc_applications.sharing_id(director, directors=True)] == ["kya_2"]
    assert seal_personal_data(storage)["kyc_applications"] == 0


def test_re_sealing_everything_moves_to_a_new_key_encryption_key(engine: Engine) -> None:
    """After a KEK rotation and ``--all``, the old KEK can go: everything opens under the new one alone."""
    lookup = secrets.token_bytes(32)
    old, new = f"old:{generate_kek()}", f"new:{generate_kek()}"
    _write_everything(SqlStorage(engine, personal=PersonalData(EnvelopeVault.from_spec(old), lookup)))
    both = SqlStorage(engine, personal=PersonalData(EnvelopeVault.from_spec(f"{new},{old}"), lookup))
    assert seal_personal_data(both, all_rows=True)["kyc_applications"] == 2
    only_new = SqlStorage(engine, personal=PersonalData(EnvelopeVault.from_spec(new), lookup))
    with only_new.unit_of_work() as uow:
        assert uow.users.by_email(EMAIL).display_name == "Mama Mboga"  # type: ignore[union-attr]
        assert uow.kyc_applications.get("kya_2").business.directors[0].name == "Otieno Odhiambo"  # type: ignore[union-attr]


def test_the_migration_then_the_pass_seal_a_database_from_before(engine: Engine) -> None:
    """A database at revision 0025 with personal data in the clear is migrated and sealed; its phones still log in."""
    url = engine.url.render_as_string(hide_password=False)
    from cryptopay.adapters.sql import downgrade

    downgrade(url, "0025")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO users (id, email, email_key, password_hash, role, created_at, display_name, phone,"
                " session_version, totp_last_step) VALUES ('usr_1', :e, :k, 'h', 'personal', :at, 'Mama Mboga', :p,"
                " 0, 0)"
            ),
            {
                "e": EMAIL,
                "k": EMAIL.lower(),
                "at": NOW if engine.dialect.name != "sqlite" else "2026-12-06 09:00:00",
                "p": PHONE,
            },
        )
    upgrade(url)
    storage = SqlStorage(engine, personal=_personal())
    assert seal_personal_data(storage)["users"] == 1
    assert _leaks(_raw_text(engine)) == []
    with storage.unit_of_work() as uow:
        assert uow.users.by_phone(PHONE).email == EMAIL  # type: ignore[union-attr]


def test_a_movement_naming_a_user_by_id_keeps_the_id_and_seals_anything_else(engine: Engine) -> None:
    """A P2P movement's counterparty that is one of our users' ids is no personal data (the transfer's columns hold
    it in the clear): stored as it is, while a phone or a name beside it is sealed; the sealing pass finds nothing
    left to seal, and every movement reads back as journaled."""
    storage = SqlStorage(engine, personal=_personal())
    by_id = attrs.evolve(_movement(), id="mv_2", counterparty="usr_01JD3ZQ8M2R6N0PVX7YB4T9K5C")
    by_name = attrs.evolve(_movement(), id="mv_3", counterparty="usr_9 Wanjiku")  # an id must be all of it
    with storage.unit_of_work() as uow:
        for movement in (_movement(), by_id, by_name):
            uow.movements.add(movement)
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT id, doc FROM compliance_movements")).all())
    docs = {key: doc if isinstance(doc, dict) else json.loads(doc) for key, doc in stored.items()}
    assert docs["mv_2"]["counterparty"] == "usr_01JD3ZQ8M2R6N0PVX7YB4T9K5C"
    assert docs["mv_1"]["counterparty"].startswith("pii1:") and docs["mv_3"]["counterparty"].startswith("pii1:")
    assert seal_personal_data(storage)["compliance_movements"] == 0
    with storage.unit_of_work() as uow:
        assert uow.movements.for_party("usr_1", since=NOW) == [_movement(), by_id, by_name]


def _travel_record() -> TravelRuleRecord:
    transfer = withdrawal(reference="wdr_9")
    return TravelRuleRecord(
        id="trr_1",
        transfer=transfer,
        originator=ann_originator(),
        beneficiary=ann_beneficiary(),
        assessment=Assessment(transfer.amount, Money.of("1500.00", "USD"), "fxq_1", True),
        created_at=AT,
        attestation=ann_attests(),
        vasp=US,
    )


def test_travel_rule_records_keep_their_ivms101_payload_sealed(engine: Engine) -> None:
    """The originator's and beneficiary's names, address, ID number and birth date are sealed; the record reads back
    equal, and a record written in the clear is sealed by the pass."""
    with SqlStorage(engine).unit_of_work() as uow:  # as written before sealing
        uow.travel_rule.add(_travel_record())
    with engine.connect() as conn:
        assert "Moi Avenue" in str(conn.execute(sa.text("SELECT doc FROM travel_rule_records")).scalar_one())
    storage = SqlStorage(engine, personal=_personal())
    assert seal_personal_data(storage)["travel_rule_records"] == 1
    with engine.connect() as conn:
        raw = str(conn.execute(sa.text("SELECT doc FROM travel_rule_records")).scalar_one())
    assert [s for s in ("Wanjiru", "Moi Avenue", "12345678", "1990-04-01", "Nyeri") if s in raw] == []
    with storage.unit_of_work() as uow:
        assert uow.travel_rule.get("trr_1") == _travel_record()
        assert uow.travel_rule.list(party_id="usr_ann") == [_travel_record()]


def test_the_staff_search_finds_sealed_payouts_and_transfers_by_phone(engine: Engine) -> None:
    """Search by phone goes through the keyed hashes (payout destination, wallet phone, transfer recipient) and opens
    what it finds; a phone nobody used finds nothing."""
    from cryptopay.adapters.sql.search import SqlTransactionIndex
    from cryptopay.core.search import TransactionSearch

    personal = _personal()
    _write_everything(SqlStorage(engine, personal=personal))
    search = TransactionSearch(SqlTransactionIndex(engine, personal=personal))
    assert [(h.kind, h.id, h.matched) for h in search.find("0799000222")] == [("payout", "po_1", "phone")]
    assert {(h.kind, h.id) for h in search.find("0733000111")} == {("wallet_transfer", "tr_1")}
    assert {(h.kind, h.id) for h in search.find(PHONE)} == {("wallet_transfer", "tr_1")}  # the sender's wallet
    assert search.find("0700000000") == []


def _old_audit_log(engine: Engine) -> tuple[int, str]:
    """A log as written before 0030: a ``team.invite`` record naming the invitee's email between two others; the
    head (seq, hash) it ends at."""
    from cryptopay.adapters.sql.audit import SqlAuditLog
    from cryptopay.core.audit import AuditEvent

    events = [
        AuditEvent("user:usr_2", "merchant.created", "merchant:mer_1", NOW),
        AuditEvent(
            "user:usr_2",
            "team.invite",
            "merchant:mer_1",
            NOW,
            {"invitation": "inv_1", "email": "amina@duka.co.ke", "role": "finance", "via": "api"},
        ),
        AuditEvent("user:usr_2", "team.join", "merchant:mer_1", NOW, {"user": "usr_3"}),
    ]
    with engine.begin() as conn:
        log = SqlAuditLog(conn)
        for event in events:
            log.append(event)
        head = log.head()
    assert head is not None
    return head


def test_the_migration_removes_invitee_emails_from_old_audit_records_and_re_anchors_the_chain(engine: Engine) -> None:
    """0031 drops the email of old ``team.invite`` records; the chain verifies after, and an ``audit.reanchored``
    record names the old head, the first record rewritten and how many were; the other records keep their facts."""
    from cryptopay.adapters.sql import downgrade
    from cryptopay.adapters.sql.audit import SqlAuditLog, verify_audit_log

    url = engine.url.render_as_string(hide_password=False)
    downgrade(url, "0030")
    old_head = _old_audit_log(engine)
    assert verify_audit_log(engine) == []
    with engine.connect() as conn:
        before = SqlAuditLog(conn).records()
    upgrade(url)
    assert verify_audit_log(engine) == []
    with engine.connect() as conn:
        raw = "\n".join(repr(tuple(row)) for row in conn.execute(sa.text("SELECT * FROM audit_log")))
        records = SqlAuditLog(conn).records()
    assert "amina" not in raw.lower()
    assert [r.action for r in records] == ["merchant.created", "team.invite", "team.join", "audit.reanchored"]
    assert dict(records[1].details) == {"invitation": "inv_1", "role": "finance", "via": "api"}
    assert records[0] == before[0]  # the records before the first rewritten one are unchanged
    assert [(r.id, r.at, r.actor, r.subject) for r in records[:3]] == [(r.id, r.at, r.actor, r.subject) for r in before]
    assert records[2].details == before[2].details and records[2].hash != before[2].hash  # re-hashed only
    anchor = dict(records[-1].details)
    assert (anchor["old_head_seq"], anchor["old_head_hash"]) == (str(old_head[0]), old_head[1])
    assert (anchor["first_rewritten"], anchor["rewritten"], anchor["rehashed"]) == ("2", "1", "2")
    assert records[-1].actor == "system:migration-0031"
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:  # append-only again
        conn.execute(sa.text("UPDATE audit_log SET action = 'x' WHERE seq = 1"))


def test_a_broken_audit_chain_is_not_re_anchored(engine: Engine) -> None:
    """A log that does not verify fails the migration and is left as it was (the email too): re-anchoring never
    launders an edited log."""
    from cryptopay.adapters.sql import downgrade
    from cryptopay.adapters.sql.audit import verify_audit_log

    url = engine.url.render_as_string(hide_password=False)
    downgrade(url, "0030")
    _old_audit_log(engine)
    with engine.begin() as conn:  # a record deleted behind the triggers' back
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 1"))
            conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        else:
            conn.execute(sa.text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 1"))
            conn.execute(
                sa.text(
                    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END"
                )
            )
    broken = verify_audit_log(engine)
    assert broken
    with pytest.raises(Exception, match="does not verify"):
        upgrade(url)
    assert verify_audit_log(engine) == broken
    with engine.connect() as conn:
        assert "amina@duka.co.ke" in str(conn.execute(sa.text("SELECT details FROM audit_log")).all())
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:  # the triggers lifted by the migration are back
        conn.execute(sa.text("UPDATE audit_log SET action = 'x' WHERE seq = 2"))
