"""Identity repositories: the same behaviour from the in-memory fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from cryptopay.adapters.sql.repositories.identity import SqlIdempotency, sql_identity_repositories
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.identity.model import (
    AccountChanged,
    ApiKey,
    Merchant,
    MerchantChanged,
    RefreshToken,
    Role,
    StoredResponse,
    TeamRole,
    User,
)
from cryptopay.core.identity.teams import Invitation, InvitationChanged, InviteCap, Member, TeamCaps
from cryptopay.core.money import Money
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing import identity as fakes

from tests.support.sql_backends import TEST_PERSONAL
from tests.support.sql_engines import SQL_BACKENDS, backend_engine, race

NOW = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)
PROFILE = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")


@pytest.fixture
def repos(engine):
    if engine is None:
        return {
            "users": fakes.InMemoryUsers(),
            "refresh_tokens": fakes.InMemoryRefreshTokens(),
            "merchants": fakes.InMemoryMerchants(),
            "api_keys": fakes.InMemoryApiKeys(),
            "idempotency": fakes.InMemoryIdempotency(),
            "teams": fakes.InMemoryTeams(),
        }
    return sql_identity_repositories(engine, personal=TEST_PERSONAL)


def user(n: int, email: str | None = None) -> User:
    return User(f"usr_{n}", email or f"user{n}@example.com", f"hash-{n}", Role.MERCHANT, NOW, None)


def token(n: int, family: str = "fam_1", user_id: str = "usr_1") -> RefreshToken:
    return RefreshToken(f"rt_{n}", family, user_id, f"th_{n}", NOW, NOW + timedelta(days=30))


def merchant(n: int, profile: SettlementProfile = PROFILE) -> Merchant:
    return Merchant(f"mer_{n}", f"usr_{n}", f"Shop {n}", profile, NOW, NOW)


def api_key(n: int, merchant_id: str = "mer_1") -> ApiKey:
    return ApiKey(f"key_{n:02d}", merchant_id, f"key {n}", frozenset({"invoices:read"}), f"sh_{n}", NOW, "usr_1")


def test_users_are_found_by_id_and_by_email_ignoring_case(repos):
    """A stored user comes back by id and by its email in any case; unknown ones are None."""
    users = repos["users"]
    stored = user(1, "Ann.Wanjiru@Example.com")
    users.add(stored)
    assert users.get("usr_1") == stored
    assert users.by_email("ann.wanjiru@EXAMPLE.COM") == stored
    assert users.get("usr_9") is None and users.by_email("nobody@example.com") is None


def test_an_email_taken_in_another_case_is_a_conflict(repos):
    """Registering the same email again, whatever its case, is a Conflict and leaves the first user alone."""
    users = repos["users"]
    users.add(user(1, "ann@example.com"))
    with pytest.raises(Conflict):
        users.add(user(2, "ANN@example.com"))
    assert users.get("usr_2") is None
    assert users.by_email("ann@example.com").id == "usr_1"


def test_user_update_is_stored_and_copies_are_independent(repos):
    """A change counts only once update() stores it; afterwards every read sees it."""
    users = repos["users"]
    users.add(user(1))
    changed = users.get("usr_1")
    changed.display_name, changed.password_hash = "Ann", "new-hash"
    assert users.get("usr_1").display_name is None
    users.update(changed)
    assert users.get("usr_1") == changed


def test_a_write_from_a_stale_read_is_refused_and_changes_nothing(repos):
    """Review11 R11-1: two copies read at once; the first write wins and bumps the version, the second (from the
    older read) is ``AccountChanged`` and leaves the first's values: an operator's demotion is not undone by a
    password change that was hashing meanwhile. Read again, and the write goes through."""
    users = repos["users"]
    users.add(attrs.evolve(user(1), role=Role.ADMIN))
    operator, owner = users.get("usr_1"), users.get("usr_1")
    operator.role = Role.MERCHANT
    users.update(operator)
    assert operator.row_version == 1
    owner.password_hash = "hash-new"
    with pytest.raises(AccountChanged):
        users.update(owner)
    stored = users.get("usr_1")
    assert (stored.role, stored.password_hash, stored.row_version) == (Role.MERCHANT, "hash-1", 1)
    again = users.get("usr_1")
    again.password_hash = "hash-new"
    users.update(again)
    assert (users.get("usr_1").role, users.get("usr_1").password_hash) == (Role.MERCHANT, "hash-new")
    with pytest.raises(NotFound):
        users.update(user(9))


def test_concurrent_writes_from_one_read_have_one_winner(repos):
    """Of many writers that read the same version, exactly one writes (a recovery code consumed once, R11-2)."""
    users = repos["users"]
    users.add(attrs.evolve(user(1), recovery_code_hashes=("a", "b")))
    copies = [users.get("usr_1") for _ in range(6)]

    def consume(i: int) -> bool:
        copies[i].recovery_code_hashes = ("b",)
        try:
            users.update(copies[i])
        except AccountChanged:
            return False
        return True

    assert sum(race(len(copies), consume)) == 1
    assert users.get("usr_1").recovery_code_hashes == ("b",)


def test_refresh_tokens_rotate_once_and_families_revoke(repos):
    """A token rotates once; rotated or revoked tokens never rotate; revoking counts only unrevoked family members."""
    repos["users"].add(user(1))
    tokens = repos["refresh_tokens"]
    for n, family in ((1, "fam_1"), (2, "fam_1"), (3, "fam_1"), (4, "fam_2")):
        tokens.add(token(n, family))
    assert tokens.by_hash("th_1") == token(1)
    assert tokens.mark_rotated("rt_1", at=NOW) is True
    assert tokens.mark_rotated("rt_1", at=NOW) is False
    assert tokens.by_hash("th_1").rotated_at == NOW
    assert tokens.revoke_family("fam_1", at=NOW + timedelta(seconds=1)) == 3
    assert tokens.revoke_family("fam_1", at=NOW + timedelta(seconds=2)) == 0
    assert tokens.mark_rotated("rt_2", at=NOW) is False
    assert tokens.by_hash("th_3").revoked_at == NOW + timedelta(seconds=1)
    assert tokens.by_hash("th_4").revoked_at is None and tokens.by_hash("th_9") is None


def test_refresh_token_rotation_race_has_one_winner(repos):
    """Eight concurrent refreshes of one token: exactly one marks it rotated."""
    repos["users"].add(user(1))
    repos["refresh_tokens"].add(token(1))
    results = race(8, lambda i: repos["refresh_tokens"].mark_rotated("rt_1", at=NOW + timedelta(seconds=i)))
    assert sorted(results) == [False] * 7 + [True]


def test_merchants_one_per_owner_with_settlement_profile(repos):
    """A merchant comes back with its settlement profile (minimum as exact money); an owner has only one."""
    repos["users"].add(user(1))
    with_minimum = SettlementProfile(
        SettlementSchedule.WEEKLY, SettlementMethod.BANK, "01:1234", Money.of("1500.5", "KES")
    )
    repos["merchants"].add(merchant(1, with_minimum))
    assert repos["merchants"].get("mer_1") == merchant(1, with_minimum)
    assert repos["merchants"].by_owner("usr_1").settlement.minimum == Money.of("1500.50", "KES")
    second = Merchant("mer_2", "usr_1", "Other", PROFILE, NOW, NOW)
    with pytest.raises(Conflict):
        repos["merchants"].add(second)
    assert repos["merchants"].get("mer_2") is None and repos["merchants"].by_owner("usr_9") is None


def test_merchants_update_and_list_by_keyset(repos):
    """Merchants list in id order, strictly after the cursor, at most ``limit``; updates are kept."""
    for n in (3, 1, 2, 4):
        repos["users"].add(user(n))
        repos["merchants"].add(merchant(n))
    renamed = repos["merchants"].get("mer_2")
    renamed.business_name, renamed.updated_at = "Renamed", NOW + timedelta(hours=1)
    repos["merchants"].update(renamed)
    first = repos["merchants"].list(after=None, limit=2)
    assert [m.id for m in first] == ["mer_1", "mer_2"] and first[1] == renamed
    assert [m.id for m in repos["merchants"].list(after="mer_2", limit=5)] == ["mer_3", "mer_4"]
    assert repos["merchants"].list(after="mer_4", limit=5) == []


def test_a_merchant_write_from_a_stale_read_is_refused_and_changes_nothing(repos):
    """Review11 R11-3: an operator's close and an owner's rename read the merchant at once; the close is written
    first, and the rename (from the older read, ``closed_at`` None) is ``MerchantChanged`` and leaves the close:
    ``closed_at`` is never written back to NULL. Read again, and the rename goes through over the close."""
    merchants = repos["merchants"]
    repos["users"].add(user(1))
    merchants.add(merchant(1))
    operator, owner = merchants.get("mer_1"), merchants.get("mer_1")
    operator.closed_at = NOW
    merchants.update(operator)
    assert operator.row_version == 1
    owner.business_name = "Reopened Ltd"
    with pytest.raises(MerchantChanged):
        merchants.update(owner)
    stored = merchants.get("mer_1")
    assert (stored.closed_at, stored.business_name, stored.row_version) == (NOW, "Shop 1", 1)
    again = merchants.get("mer_1")
    again.business_name = "Renamed Ltd"
    merchants.update(again)
    assert (merchants.get("mer_1").closed_at, merchants.get("mer_1").business_name) == (NOW, "Renamed Ltd")
    assert merchants.get("mer_1").row_version == 2 and merchants.get("mer_1") == again
    with pytest.raises(NotFound):
        merchants.update(merchant(9))


def test_concurrent_merchant_writes_from_one_read_have_one_winner(repos):
    """Of many writers that read the same version of a merchant, exactly one writes."""
    merchants = repos["merchants"]
    repos["users"].add(user(1))
    merchants.add(merchant(1))
    copies = [merchants.get("mer_1") for _ in range(6)]

    def rename(i: int) -> bool:
        copies[i].business_name = f"Shop {i} Ltd"
        try:
            merchants.update(copies[i])
        except MerchantChanged:
            return False
        return True

    wins = race(len(copies), rename)
    assert sum(wins) == 1
    assert merchants.get("mer_1").business_name == f"Shop {wins.index(True)} Ltd"


def test_api_keys_by_merchant_with_scopes_and_revocation(repos):
    """API keys keep their scopes and revocation; a merchant's keys list newest first before a cursor, never another's."""
    for n in (1, 2):
        repos["users"].add(user(n))
        repos["merchants"].add(merchant(n))
    keys = repos["api_keys"]
    for n in (3, 1, 2):
        keys.add(api_key(n))
    keys.add(api_key(4, "mer_2"))
    wide = api_key(1)
    wide.scopes, wide.revoked_at, wide.last_used_at = frozenset({"payouts:write", "invoices:read"}), NOW, NOW
    keys.update(wide)
    assert keys.get("key_01") == wide
    assert [k.id for k in keys.for_merchant("mer_1", before=None, limit=2)] == ["key_03", "key_02"]
    assert [k.id for k in keys.for_merchant("mer_1", before="key_02", limit=10)] == ["key_01"]
    assert keys.for_merchant("mer_1", before="key_01", limit=10) == []
    assert keys.get("key_99") is None


def test_api_keys_are_found_by_their_creator_while_active(repos):
    """``created_by`` lists one user's unrevoked keys of one merchant, oldest first; revoked and others' keys are not."""
    for n in (1, 2):
        repos["users"].add(user(n))
        repos["merchants"].add(merchant(n))
    keys = repos["api_keys"]
    mine = [api_key(n) for n in (3, 1, 2)]
    mine[1].created_by = "usr_2"
    for key in [*mine, api_key(4, "mer_2"), api_key(5)]:
        keys.add(key)
    revoked = api_key(5)
    revoked.revoked_at = NOW
    keys.update(revoked)
    assert [k.id for k in keys.created_by("mer_1", "usr_1")] == ["key_02", "key_03"]
    assert [k.id for k in keys.created_by("mer_1", "usr_2")] == ["key_01"]
    assert keys.created_by("mer_2", "usr_2") == [] and keys.created_by("mer_1", "usr_9") == []


def test_idempotency_claim_replay_and_release(repos):
    """The first begin claims; later ones see the entry (in flight, then with its response); release frees a claim."""
    store = repos["idempotency"]
    assert store.begin("user:u1", "k1", request_hash="h1", at=NOW) is None
    in_flight = store.begin("user:u1", "k1", request_hash="h2", at=NOW)
    assert (in_flight.request_hash, in_flight.response, in_flight.created_at) == ("h1", None, NOW)
    response = StoredResponse(201, '{"id":"inv_1"}', "application/json", (("Location", "/v1/invoices/inv_1"),))
    store.complete("user:u1", "k1", response)
    assert store.begin("user:u1", "k1", request_hash="h1", at=NOW).response == response
    store.release("user:u1", "k1")  # a completed key is never forgotten
    assert store.begin("user:u1", "k1", request_hash="h1", at=NOW).response == response
    assert store.begin("api_key:k9", "k1", request_hash="h1", at=NOW) is None  # scopes are independent
    store.release("api_key:k9", "k1")
    assert store.begin("api_key:k9", "k1", request_hash="h3", at=NOW) is None


def test_idempotency_scopes_of_any_length_are_kept_apart(repos):
    """Review F5: a scope longer than any column (a caller's long path segment) claims, completes and releases like
    a short one, and two long scopes differing only at their end are two scopes."""
    store = repos["idempotency"]
    first, second = "payment_link:" + "0" * 1000, "payment_link:" + "0" * 999 + "1"
    assert store.begin(first, "k1", request_hash="h1", at=NOW) is None
    assert store.begin(second, "k1", request_hash="h2", at=NOW) is None
    store.complete(first, "k1", StoredResponse(201, "{}"))
    assert store.begin(first, "k1", request_hash="h1", at=NOW).response == StoredResponse(201, "{}")
    assert store.renew(second, "k1", claimed_at=NOW, at=NOW + timedelta(seconds=1))
    store.release(second, "k1")
    assert store.begin(second, "k1", request_hash="h3", at=NOW) is None


def test_idempotency_complete_of_a_claim_only_while_it_is_ours(repos):
    """``complete`` with ``claimed_at`` records the response only while the key is still that in-flight claim."""
    store, later = repos["idempotency"], NOW + timedelta(seconds=5)
    assert store.begin("user:u1", "k2", request_hash="h1", at=NOW) is None
    assert store.renew("user:u1", "k2", claimed_at=NOW, at=later)  # e.g. the retry that took it over
    assert not store.complete("user:u1", "k2", StoredResponse(201, "{}"), claimed_at=NOW)
    assert store.begin("user:u1", "k2", request_hash="h1", at=later).response is None
    assert store.complete("user:u1", "k2", StoredResponse(201, "{}"), claimed_at=later)
    assert store.begin("user:u1", "k2", request_hash="h1", at=later).response == StoredResponse(201, "{}")
    assert not store.complete("user:u1", "k2", StoredResponse(500, "{}"), claimed_at=later)  # done: kept as is


def test_idempotency_begin_race_has_one_winner(repos):
    """Eight concurrent requests with one key: exactly one claims it, the others see that claim."""
    results = race(8, lambda i: repos["idempotency"].begin("user:u1", "k1", request_hash="h", at=NOW))
    assert sum(r is None for r in results) == 1
    assert {r.request_hash for r in results if r is not None} == {"h"}


@pytest.fixture(params=SQL_BACKENDS)
def sql_engine(request, tmp_path):
    yield from backend_engine(request, tmp_path)


def test_a_stale_in_flight_claim_is_taken_over_once(sql_engine):
    """An in-flight claim older than ``stale_after`` goes to the next request (one of eight); fresh or done ones stay."""
    store = SqlIdempotency(sql_engine, stale_after=timedelta(minutes=5))
    store.begin("s", "crashed", request_hash="h1", at=NOW)
    store.begin("s", "done", request_hash="h1", at=NOW)
    store.complete("s", "done", StoredResponse(200, "{}"))
    assert store.begin("s", "crashed", request_hash="h2", at=NOW + timedelta(minutes=4)).request_hash == "h1"
    later = NOW + timedelta(minutes=6)
    results = race(8, lambda i: store.begin("s", "crashed", request_hash="h2", at=later))
    assert sum(r is None for r in results) == 1
    assert store.begin("s", "crashed", request_hash="h3", at=later).request_hash == "h2"
    assert store.begin("s", "done", request_hash="h1", at=later).response == StoredResponse(200, "{}")


def test_a_crashed_requests_claim_is_free_for_its_retry_within_a_minute(sql_engine):
    """By default a claim whose request died (no release, no renewal) goes to the retry after 30 s, not 5 minutes."""
    store = SqlIdempotency(sql_engine)
    store.begin("s", "crashed", request_hash="h1", at=NOW)
    assert store.begin("s", "crashed", request_hash="h1", at=NOW + timedelta(seconds=20)) is not None
    assert store.begin("s", "crashed", request_hash="h1", at=NOW + timedelta(seconds=31)) is None


def test_identity_repositories_join_the_unit_of_work(sql_engine):
    """In a SQL unit of work, identity writes commit with it and vanish when it fails (the fakes stand alone)."""
    storage = SqlStorage(sql_engine)
    with storage.unit_of_work() as uow:
        uow.users.add(user(1))
    with pytest.raises(RuntimeError), storage.unit_of_work() as uow:
        uow.users.add(user(2))
        raise RuntimeError("the use case failed")
    with storage.unit_of_work() as uow:
        assert uow.users.get("usr_1") == user(1) and uow.users.get("usr_2") is None


def test_security_fields_of_users_and_merchants_round_trip(repos):
    """Session version, TOTP enrolment, recovery-code hashes, the email's proof and a destination cool-off are
    stored and read back."""
    users, merchants = repos["users"], repos["merchants"]
    users.add(user(1))
    stored = users.get("usr_1")
    assert stored.email_verified_at is None
    stored.email_verified_at = NOW
    stored.session_version, stored.totp_secret, stored.totp_confirmed_at = 3, "JBSWY3DPEHPK3PXP", NOW
    stored.totp_last_step, stored.recovery_code_hashes = 59_000_000, ("h1", "h2")
    users.update(stored)
    assert users.get("usr_1") == stored and users.get("usr_1").two_factor
    merchants.add(merchant(1))
    cooling = merchants.get("mer_1")
    cooling.destination_ready_at = NOW + timedelta(hours=24)
    merchants.update(cooling)
    assert merchants.get("mer_1").destination_ready_at == NOW + timedelta(hours=24)


def test_revoking_a_users_tokens_ends_every_login_and_family_activity_follows(repos):
    """revoke_user revokes every family of one user only; family_active is false once a family is revoked."""
    users, tokens = repos["users"], repos["refresh_tokens"]
    users.add(user(1))
    users.add(user(2))
    for n, family, owner in ((1, "fam_a", "usr_1"), (2, "fam_b", "usr_1"), (3, "fam_c", "usr_2")):
        tokens.add(token(n, family, owner))
    assert tokens.family_active("fam_a") and not tokens.family_active("fam_unknown")
    assert tokens.revoke_user("usr_1", at=NOW) == 2
    assert not tokens.family_active("fam_a") and not tokens.family_active("fam_b")
    assert tokens.family_active("fam_c")
    tokens.revoke_family("fam_c", at=NOW)
    assert not tokens.family_active("fam_c")


@pytest.mark.parametrize("engine", SQL_BACKENDS, indirect=True)
def test_totp_secrets_are_sealed_by_the_vault_at_rest(engine):
    """With a cipher the stored TOTP secret is a vault blob bound to the user; reads give the secret back."""
    import sqlalchemy as sa
    from cryptopay.adapters.sql.repositories.identity import SqlUsers
    from cryptopay.adapters.sql.repositories.webhooks import SecretCipher
    from cryptopay.adapters.sql.tables_identity import users as users_table
    from cryptopay.adapters.vault import EnvelopeVault, generate_kek

    sealed = SqlUsers(engine, cipher=SecretCipher.from_vault(EnvelopeVault.from_spec(f"k1:{generate_kek()}")))
    stored = user(1)
    stored.totp_secret = "JBSWY3DPEHPK3PXP"
    sealed.add(stored)
    with engine.connect() as conn:
        raw = conn.execute(sa.select(users_table.c.totp_secret)).scalar_one()
    assert raw.startswith("v1:") and "JBSWY3DPEHPK3PXP" not in raw
    assert sealed.get("usr_1").totp_secret == "JBSWY3DPEHPK3PXP"
    assert sealed.by_email(stored.email).totp_secret == "JBSWY3DPEHPK3PXP"


def _team(repos):
    """Two owners with merchants, and two more users to join their teams."""
    for n in (1, 2, 3, 4):
        repos["users"].add(user(n))
    for n in (1, 2):
        repos["merchants"].add(merchant(n))
    return repos["teams"]


def test_a_user_joins_one_team_and_its_role_changes_and_it_leaves(repos):
    """Members are found by merchant and by user; a second team is a Conflict; role updates and removal stick."""
    teams = _team(repos)
    member = Member(merchant_id="mer_1", user_id="usr_3", role=TeamRole.FINANCE, added_at=NOW, added_by="usr_1")
    teams.add_member(member)
    teams.add_member(attrs.evolve(member, user_id="usr_4", role=TeamRole.STAFF, added_at=NOW + timedelta(seconds=1)))
    with pytest.raises(Conflict):
        teams.add_member(attrs.evolve(member, merchant_id="mer_2"))
    assert teams.member("mer_1", "usr_3") == member and teams.membership("usr_3") == member
    assert teams.member("mer_2", "usr_3") is None and teams.membership("usr_1") is None
    assert [m.user_id for m in teams.members("mer_1")] == ["usr_3", "usr_4"] and teams.members("mer_2") == []
    teams.update_member(attrs.evolve(member, role=TeamRole.ADMIN))
    assert teams.member("mer_1", "usr_3").role is TeamRole.ADMIN
    teams.remove_member("mer_1", "usr_3")
    assert teams.member("mer_1", "usr_3") is None and [m.user_id for m in teams.members("mer_1")] == ["usr_4"]


def test_an_invitation_is_found_by_its_token_hash_and_claimed_once(repos):
    """Invitations by id and hash, newest first per merchant; the claim is atomic: once, never after a revoke."""
    teams = _team(repos)
    first = Invitation(
        id="inv_1",
        merchant_id="mer_1",
        email="amina@duka.co.ke",
        role=TeamRole.FINANCE,
        token_hash="a" * 64,
        created_at=NOW,
        expires_at=NOW + timedelta(days=7),
        invited_by="usr_1",
    )
    second = attrs.evolve(first, id="inv_2", token_hash="b" * 64, created_at=NOW + timedelta(minutes=1))
    teams.add_invitation(first)
    teams.add_invitation(second)
    assert teams.invitation("inv_1") == first and teams.invitation_by_hash("b" * 64) == second
    assert [i.id for i in teams.invitations("mer_1")] == ["inv_2", "inv_1"] and teams.invitation_by_hash("c") is None
    assert teams.claim_invitation("inv_1", "usr_3", at=NOW) and not teams.claim_invitation("inv_1", "usr_4", at=NOW)
    claimed = teams.invitation("inv_1")
    assert (claimed.accepted_at, claimed.accepted_by) == (NOW, "usr_3")
    teams.update_invitation(attrs.evolve(second, revoked_at=NOW))
    assert not teams.claim_invitation("inv_2", "usr_4", at=NOW)
    # the invitations to one address are counted across every team (R15), revoked and claimed ones too, since a time
    teams.add_invitation(attrs.evolve(first, id="inv_3", merchant_id="mer_2", token_hash="c" * 64))
    teams.add_invitation(attrs.evolve(first, id="inv_4", email="other@duka.co.ke", token_hash="d" * 64))
    assert teams.invitations_to("amina@duka.co.ke", since=NOW) == 3
    assert teams.invitations_to("amina@duka.co.ke", since=NOW + timedelta(seconds=1)) == 1
    assert teams.invitations_to("other@duka.co.ke", since=NOW) == 1 and teams.invitations_to("x@y.ke", since=NOW) == 0


def test_an_invitation_write_from_a_read_before_its_acceptance_is_refused(repos):
    """Review11 R11-3's class: a revocation read the invitation open, the invitee accepted it, then the revocation
    writes: ``InvitationChanged``, and the acceptance stays (``accepted_at`` not written back to None). Read again,
    and a write goes through over it."""
    teams = _team(repos)
    teams.add_invitation(
        Invitation(
            id="inv_1",
            merchant_id="mer_1",
            email="amina@duka.co.ke",
            role=TeamRole.FINANCE,
            token_hash="a" * 64,
            created_at=NOW,
            expires_at=NOW + timedelta(days=7),
            invited_by="usr_1",
        )
    )
    revoking = teams.invitation("inv_1")
    assert teams.claim_invitation("inv_1", "usr_3", at=NOW)
    revoking.revoked_at = NOW
    with pytest.raises(InvitationChanged):
        teams.update_invitation(revoking)
    stored = teams.invitation("inv_1")
    assert (stored.accepted_by, stored.revoked_at, stored.row_version) == ("usr_3", None, 1)
    stored.email = "erased:inv_1"
    teams.update_invitation(stored)
    assert teams.invitation("inv_1").email == "erased:inv_1" and teams.invitation("inv_1").accepted_by == "usr_3"
    with pytest.raises(NotFound):
        teams.update_invitation(attrs.evolve(stored, id="inv_9"))


def test_invitations_racing_to_one_address_from_many_merchants_never_pass_its_cap(repos):
    """Review R15's race: eight teams invite one address at once under a cap of five: exactly five are stored, the
    rest refused with nothing stored; another address is not held up by the cap."""
    _team(repos)
    teams = repos["teams"]
    invitation = Invitation(
        id="inv_0",
        merchant_id="mer_1",
        email="amina@duka.co.ke",
        role=TeamRole.STAFF,
        token_hash="0" * 64,
        created_at=NOW,
        expires_at=NOW + timedelta(days=7),
        invited_by="usr_1",
    )

    def invite(n: int) -> bool:
        mine = attrs.evolve(invitation, id=f"inv_r{n}", merchant_id=f"mer_{n % 2 + 1}", token_hash=f"{n:064d}")
        return teams.add_invitation_within(mine, per_address=5, since=NOW - timedelta(days=1)) is None

    assert sorted(race(8, invite)) == [False] * 3 + [True] * 5
    assert teams.invitations_to("amina@duka.co.ke", since=NOW - timedelta(days=1)) == 5
    other = attrs.evolve(invitation, id="inv_o", email="other@duka.co.ke", token_hash="f" * 64)
    assert teams.add_invitation_within(other, per_address=5, since=NOW - timedelta(days=1)) is None
    late = attrs.evolve(invitation, id="inv_late", token_hash="e" * 64)
    assert teams.add_invitation_within(late, per_address=5, since=NOW - timedelta(days=1)) is InviteCap.ADDRESS_DAY
    assert teams.invitation("inv_late") is None


def _invitation(n: int, **changes: object) -> Invitation:
    made = Invitation(
        id=f"inv_t{n}",
        merchant_id="mer_1",
        email=f"staff{n}@duka.co.ke",
        role=TeamRole.STAFF,
        token_hash=f"{n:064d}",
        created_at=NOW,
        expires_at=NOW + timedelta(days=7),
        invited_by="usr_1",
    )
    return attrs.evolve(made, **changes)


def test_a_teams_invitation_caps_are_counted_with_the_insert(repos):
    """The team caps ``add_invitation_within`` counts with ``team``: a second open invitation to one address
    (a revoked or expired one does not count), ``open`` open ones, ``per_day`` made since ``since`` (revoked ones
    count); each refusal names its cap and stores nothing; another team is not held up; without ``team`` only the
    address's cap is counted."""
    teams, since, caps = _team(repos), NOW - timedelta(days=1), TeamCaps(open=2, per_day=3)
    assert teams.add_invitation_within(_invitation(1), per_address=5, since=since, team=caps) is None
    again = _invitation(2, email="staff1@duka.co.ke")
    assert teams.add_invitation_within(again, per_address=5, since=since, team=caps) is InviteCap.ADDRESS_OPEN
    assert teams.add_invitation_within(_invitation(3), per_address=5, since=since, team=caps) is None
    assert teams.add_invitation_within(_invitation(4), per_address=5, since=since, team=caps) is InviteCap.TEAM_OPEN
    revoked = teams.invitation("inv_t1")
    revoked.revoked_at = NOW
    teams.update_invitation(revoked)
    assert teams.add_invitation_within(again, per_address=5, since=since, team=caps) is None  # staff1 again
    assert teams.add_invitation_within(_invitation(5), per_address=5, since=since, team=caps) is InviteCap.TEAM_OPEN
    for open_one in (teams.invitation("inv_t2"), teams.invitation("inv_t3")):
        open_one.revoked_at = NOW
        teams.update_invitation(open_one)
    assert teams.add_invitation_within(_invitation(6), per_address=5, since=since, team=caps) is InviteCap.TEAM_DAY
    assert len(teams.invitations("mer_1")) == 3  # nothing stored by a refusal
    theirs = _invitation(7, merchant_id="mer_2")
    assert teams.add_invitation_within(theirs, per_address=5, since=since, team=caps) is None
    expired = _invitation(8, merchant_id="mer_2", email="staff7@duka.co.ke", created_at=NOW + timedelta(days=8))
    assert teams.add_invitation_within(expired, per_address=5, since=since, team=caps) is None  # the first expired
    unlimited = _invitation(9, merchant_id="mer_1")
    assert teams.add_invitation_within(unlimited, per_address=5, since=since) is None


def test_managers_inviting_at_once_never_pass_their_teams_caps(repos):
    """Review6's race on the team caps: eight invitations to one team at once, under an open cap of three, store
    exactly three; eight to one address of one team store one (the rest ``ADDRESS_OPEN``); nothing deadlocks while
    other teams invite the same addresses (the team's lock is always taken before the address's)."""
    teams, since, caps = _team(repos), NOW - timedelta(days=1), TeamCaps(open=3, per_day=50)

    def invite(n: int) -> InviteCap | None:
        return teams.add_invitation_within(_invitation(n), per_address=5, since=since, team=caps)

    refusals = race(8, invite)
    assert sorted(r is None for r in refusals) == [False] * 5 + [True] * 3
    assert {r for r in refusals if r is not None} == {InviteCap.TEAM_OPEN}
    assert len(teams.invitations("mer_1")) == 3

    def same_address(n: int) -> InviteCap | None:
        mine = _invitation(100 + n, merchant_id=f"mer_{n % 2 + 1}", email="amina@duka.co.ke")
        return teams.add_invitation_within(mine, per_address=5, since=since, team=TeamCaps())

    refusals = race(8, same_address)
    assert sorted(r is None for r in refusals) == [False] * 6 + [True] * 2  # one per team
    assert {r for r in refusals if r is not None} == {InviteCap.ADDRESS_OPEN}


def test_an_email_proof_token_is_kept_and_a_released_address_can_register_again(repos):
    """The pending proof link's hash and expiry come back as stored; an account whose email was released (set to
    None) is no longer found by it, keeps when it was disabled (``disabled_at``, migration 0072), and the address can
    register a new account (review G11)."""
    users = repos["users"]
    pending = attrs.evolve(user(1, "ann@example.com"), email_token_hash="a" * 64, email_token_expires_at=NOW)
    users.add(pending)
    assert users.get("usr_1").email_token_hash == "a" * 64 and users.get("usr_1").email_token_expires_at == NOW
    assert users.get("usr_1").disabled_at is None
    released = attrs.evolve(
        users.get("usr_1"), email=None, email_token_hash=None, email_token_expires_at=None, disabled_at=NOW
    )
    users.update(released)
    assert users.by_email("ann@example.com") is None and users.get("usr_1").email is None
    assert users.get("usr_1").disabled_at == NOW
    assert users.get("usr_1").email_token_hash is None
    users.add(user(2, "ANN@example.com"))
    assert users.by_email("ann@example.com").id == "usr_2"
