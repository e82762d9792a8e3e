"""Retention on a clock, in memory and on PostgreSQL (personal data sealed): a person whose relationship ended is
anonymised the day the rule set's period has passed, not a day before, once; money held or a freeze keeps it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity.model import RefreshToken
from cryptopay.core.kyc.applications import KycApplication, PersonDetails, StoredDocument
from cryptopay.core.kyc.checks import IdType
from cryptopay.core.kyc.documents import DocumentKind
from cryptopay.core.kyc.tiers import PartyKind
from cryptopay.core.money import KES, Money
from cryptopay.core.privacy.retention import RetentionPolicy, RetentionPurge
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
    """Seven years after the last movement (2,557 days): profile, KYC details, phones and sessions are gone; audited."""
    user = _emptied(stack, "254712000001")
    ended = stack.clock.now()
    stack.clock.set(ended + SEVEN_YEARS - timedelta(minutes=1))
    assert _purge(stack).run() == []
    stack.clock.set(ended + SEVEN_YEARS)
    assert _purge(stack).run() == [user.id]
    with stack.backend.uow() as uow:
        erased = uow.users.get(user.id)
        assert (erased.email, erased.phone, erased.display_name) == (None, None, None)
        assert uow.users.by_phone("254712000001") is None and uow.wallets.by_phone("254712000001") is None
        [application] = uow.kyc_applications.for_party(user.id)
        assert (application.person, application.notify_to, application.documents) == (None, None, ())
        [transfer] = uow.wallet_transfers.for_user(user.id, after=None, limit=10)
        assert transfer.recipient_phone.startswith("erased:") and transfer.amount == Money.of("1000", KES)
        assert all(t.revoked_at is not None for t in uow.refresh_tokens.for_user(user.id))
        [record] = [r for r in uow.audit.about([f"user:{user.id}"]) if r.action == "privacy.anonymised"]
    assert dict(record.details)["version"] == "1" and record.actor == "system:retention"
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
    """Every kind of record needs one rule, with its own action and a sane period; the default is version 1."""
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
