"""Retention on a clock, in memory and on PostgreSQL (personal data sealed): a person whose relationship ended is
anonymised the day the rule set's period has passed, not a day before, once; money held or a freeze keeps it. A closed
merchant's people and KYB particulars likewise, its financial records kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptopay.core import flows
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity.model import Merchant, RefreshToken, Role, User
from cryptopay.core.identity.teams import Invitation, Member, TeamRole
from cryptopay.core.kyc.applications import BusinessDetails, Director, KycApplication, PersonDetails, StoredDocument
from cryptopay.core.kyc.checks import IdType
from cryptopay.core.kyc.documents import DocumentKind
from cryptopay.core.kyc.tiers import PartyKind
from cryptopay.core.ledger import Account, AccountKind
from cryptopay.core.money import KES, Money
from cryptopay.core.payouts.model import Payout
from cryptopay.core.privacy.retention import ERASED, RetentionPolicy, RetentionPurge, close_merchant
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.system import ManualClock

from tests.support.privacy_stack import privacy_storage
from tests.support.sql_backends import Backend, empty_postgres, postgres_database
from tests.support.wallet_stack import WalletStack, wallet_stack

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SEVEN_YEARS = timedelta(days=2557)


@pytest.fixture(scope="module")
def retention_pg(postgres_admin_url: str) -> Iterator[str]:
    with postgres_database(postgres_admin_url, "cryptopay_retention") as url:
        yield url


@pytest.fixture(params=["memory", "postgres"])
def stack(request: pytest.FixtureRequest) -> Iterator[WalletStack]:
    clock = ManualClock(START)
    if request.param == "memory":
        yield wallet_stack(Backend("memory", privacy_storage()), clock=clock)
        return
    from cryptopay.adapters.sql import make_engine

    from tests.contract.conftest import sql_backend_from_engine

    engine = make_engine(request.getfixturevalue("retention_pg"))
    empty_postgres(engine)
    yield wallet_stack(sql_backend_from_engine(engine), clock=clock)
    engine.dispose()


def _purge(stack: WalletStack) -> RetentionPurge:
    return RetentionPurge(stack.backend.uow, stack.ledger, stack.clock)


def _apply_for_kyc(stack: WalletStack, user: Any) -> None:
    at = stack.clock.now()
    person = PersonDetails(
        legal_name="Wanjiku Kamau",
        date_of_birth=date(1990, 5, 17),
        id_type=IdType.NATIONAL_ID,
        id_number="23456789",
        phone=user.phone,
        address="Moi Avenue 12",
    )
    selfie = StoredDocument(
        id="doc_1", kind=DocumentKind.SELFIE, content_type="image/jpeg", size=10, sha256="b" * 64, uploaded_at=at
    )
    application = KycApplication(
        id=f"kya_{user.id}",
        party_id=user.id,
        kind=PartyKind.PERSONAL,
        level=2,
        created_at=at,
        submitted_by=user.id,
        notify_to=user.email,
        person=person,
        documents=(selfie,),
    )
    with stack.backend.uow() as uow:
        uow.kyc_applications.add(application)
        uow.refresh_tokens.add(RefreshToken("rt_1", "fam_1", user.id, "h", at, at + timedelta(days=30)))


def _emptied(stack: WalletStack, phone: str) -> Any:
    """A person who signed up, applied, and sent everything they had away (their wallet holds nothing)."""
    user = stack.sign_up(phone, tier=1, email=f"{phone}@example.com")
    _apply_for_kyc(stack, user)
    stack.fund(user, "1000", "KES")
    stack.wallets.send(user.id, "254799000009", Money.of("1000", KES))
    return user


def test_a_person_is_anonymised_the_day_the_period_ends_and_only_once(stack):
    """Seven years after the last movement (2,557 days): profile, KYC details, phones and sessions are gone, the
    account disabled (``disabled_at``); audited."""
    user = _emptied(stack, "254712000001")
    ended = stack.clock.now()
    stack.clock.set(ended + SEVEN_YEARS - timedelta(minutes=1))
    assert _purge(stack).run() == []
    stack.clock.set(ended + SEVEN_YEARS)
    assert _purge(stack).run() == [user.id]
    with stack.backend.uow() as uow:
        erased = uow.users.get(user.id)
        assert (erased.email, erased.phone, erased.display_name) == (None, None, None)
        assert erased.disabled_at == ended + SEVEN_YEARS  # the account is disabled from then on
        assert uow.users.by_phone("254712000001") is None and uow.wallets.by_phone("254712000001") is None
        [application] = uow.kyc_applications.for_party(user.id)
        assert (application.person, application.notify_to, application.documents) == (None, None, ())
        [transfer] = uow.wallet_transfers.for_user(user.id, after=None, limit=10)
        assert transfer.recipient_phone.startswith("erased:") and transfer.amount == Money.of("1000", KES)
        assert all(t.revoked_at is not None for t in uow.refresh_tokens.for_user(user.id))
        [record] = [r for r in uow.audit.about([f"user:{user.id}"]) if r.action == "privacy.anonymised"]
    assert dict(record.details)["version"] == "2" and record.actor == "system:retention"
    stack.clock.advance(days=1)
    assert _purge(stack).run() == []


def test_money_held_or_a_freeze_keeps_the_relationship_going(stack):
    """A wallet with a balance, or a frozen one, is never anonymised, however long it sleeps."""
    keeps_money = stack.sign_up("254712000002", tier=1)
    stack.fund(keeps_money, "50", "KES")
    frozen = _emptied(stack, "254712000003")
    stack.wallets.freeze(frozen.id, reason="court order", actor="user:officer")
    stack.clock.advance(days=3 * 2557)
    assert _purge(stack).run() == []


def test_a_new_login_moves_the_end_of_the_relationship(stack):
    """A session five years on restarts the clock: the person is kept seven years from that login."""
    user = _emptied(stack, "254712000004")
    login = stack.clock.now() + timedelta(days=5 * 365)
    with stack.backend.uow() as uow:
        uow.refresh_tokens.add(RefreshToken("rt_2", "fam_2", user.id, "h2", login, login + timedelta(days=30)))
    stack.clock.set(login + SEVEN_YEARS - timedelta(days=1))
    assert _purge(stack).run() == []
    stack.clock.set(login + SEVEN_YEARS)
    assert _purge(stack).run() == [user.id]


def test_a_rule_set_is_checked_when_it_is_loaded():
    """Every kind of record needs one rule, with its own action and a sane period; the default is version 2."""
    rules = [{"records": r.records, "keep_days": 3650, "then": r.then} for r in RetentionPolicy.default().rules]
    good = {"version": 2, "rules": rules}
    assert RetentionPolicy.from_json(good).version == 2
    for broken in (
        {"version": 2, "rules": good["rules"][:-1]},
        {"version": 2, "rules": [{**good["rules"][0], "keep_days": 30}, *good["rules"][1:]]},
        {"version": 2, "rules": [{**good["rules"][0], "then": "delete"}, *good["rules"][1:]]},
        {"rules": good["rules"]},
    ):
        with pytest.raises(InvalidInput):
            RetentionPolicy.from_json(broken)


# -- merchants -----------------------------------------------------------------------------------------------------
def _merchant(stack: WalletStack, n: int) -> str:
    """A merchant (owner and a finance member who joined by invitation), its KYB application and one payout."""
    at, mid, owner, member = stack.clock.now(), f"mer_{n}", f"usr_owner{n}", f"usr_fin{n}"
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, f"25471100000{n}")
    kyb = BusinessDetails(
        registered_name="Duka Ltd",
        registration_number="PVT-AB12CD3",
        kra_pin="P051234567Q",
        phone=f"25471100000{n}",
        address="Kenyatta Avenue 1, Nairobi",
        directors=(Director(name="Otieno Odhiambo", id_type=IdType.NATIONAL_ID, id_number="12345678", id="d1"),),
    )
    with stack.backend.uow() as uow:
        uow.users.add(
            User(owner, f"owner{n}@duka.co.ke", "h", Role.MERCHANT, at, "Achieng Owner", phone=profile.destination)
        )
        uow.users.add(User(member, f"fin{n}@duka.co.ke", "h", Role.MERCHANT, at, "Baraka Finance"))
        uow.merchants.add(Merchant(mid, owner, "Duka Ltd", profile, at, at))
        uow.teams.add_member(
            Member(merchant_id=mid, user_id=member, role=TeamRole.FINANCE, added_at=at, added_by=owner)
        )
        invitation = Invitation(
            id=f"inv_{n}",
            merchant_id=mid,
            email=f"fin{n}@duka.co.ke",
            role=TeamRole.FINANCE,
            token_hash=f"{n}" * 64,
            created_at=at,
            expires_at=at + timedelta(days=7),
            invited_by=owner,
            accepted_at=at,
            accepted_by=member,
        )
        uow.teams.add_invitation(invitation)
        uow.refresh_tokens.add(RefreshToken(f"rt_m{n}", f"fam_m{n}", owner, f"hm{n}", at, at + timedelta(days=30)))
        application = KycApplication(
            id=f"kya_{mid}",
            party_id=mid,
            kind=PartyKind.MERCHANT,
            level=1,
            created_at=at,
            submitted_by=owner,
            notify_to=f"owner{n}@duka.co.ke",
            business=kyb,
        )
        uow.kyc_applications.add(application)
        payout = Payout(
            id=f"po_m{n}",
            settlement_id=f"stl_m{n}",
            merchant_id=mid,
            originator_id=f"po_m{n}-1",
            method=SettlementMethod.MPESA_B2C,
            destination=profile.destination,
            amount=Money.of(5000, KES),
            charge=Money.of("15.50", KES),
            hold_id=f"hld_m{n}",
            created_at=at,
        )
        uow.payouts.add(payout)
    return mid


def test_a_closed_merchants_people_and_kyb_are_anonymised_after_the_period_its_payouts_kept(stack):
    """Closed today: seven years on (not a minute before) the owner's and member's profiles, their logins, the
    invitation's email, the settlement phone and the KYB particulars are gone; the payout (amount, destination) stays.
    An open merchant, and a closed one still owed money, are kept however long they sleep."""
    closed, still_open, owed = _merchant(stack, 1), _merchant(stack, 2), _merchant(stack, 3)
    stack.ledger.open_account(Account(flows.FLOAT, AccountKind.ASSET, KES, allow_negative=True))
    stack.ledger.open_account(Account(flows.merchant_liability(owed, KES), AccountKind.LIABILITY, KES))
    stack.ledger.transfer(
        "owed", debit=flows.FLOAT, credit=flows.merchant_liability(owed, KES), amount=Money.of(50, KES)
    )
    for merchant_id in (closed, owed):
        close_merchant(stack.backend.uow, merchant_id, actor="user:ops", at=stack.clock.now(), reason="wound up")
    with pytest.raises(InvalidInput):
        close_merchant(stack.backend.uow, still_open, actor="user:ops", at=stack.clock.now(), reason=" ")
    ended = stack.clock.now()
    stack.clock.set(ended + SEVEN_YEARS - timedelta(minutes=1))
    assert _purge(stack).run() == []
    stack.clock.set(ended + SEVEN_YEARS)
    assert _purge(stack).run() == [closed]
    with stack.backend.uow() as uow:
        for user_id in ("usr_owner1", "usr_fin1"):
            erased = uow.users.get(user_id)
            assert (erased.email, erased.phone, erased.display_name) == (None, None, None)
            assert erased.disabled_at == ended + SEVEN_YEARS
        assert uow.users.get("usr_owner2").disabled_at is None
        assert all(t.revoked_at is not None for t in uow.refresh_tokens.for_user("usr_owner1"))
        assert uow.users.by_email("owner1@duka.co.ke") is None and uow.users.by_phone("254711000001") is None
        assert [i.email for i in uow.teams.invitations(closed)] == [f"{ERASED}:inv_1"]
        assert uow.merchants.get(closed).settlement.destination == ERASED
        [application] = uow.kyc_applications.for_party(closed)
        assert (application.business, application.notify_to, application.documents) == (None, None, ())
        payout = uow.payouts.get("po_m1")
        assert (payout.destination, payout.amount) == ("254711000001", Money.of(5000, KES))
        kept = uow.users.get("usr_owner2")
        assert kept.email == "owner2@duka.co.ke" and uow.merchants.get(owed).settlement.destination == "254711000003"
        [record] = [r for r in uow.audit.about([f"merchant:{closed}"]) if r.action == "privacy.anonymised"]
    assert dict(record.details)["rules"] == "kyb,merchant_people" and dict(record.details)["version"] == "2"
    stack.clock.advance(days=1)
    assert _purge(stack).run() == []
