"""Core identity: access tokens, API key strings, sessions with rotating refresh tokens, and the in-memory fakes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from cryptopay.core.errors import Conflict, InvalidInput
from cryptopay.core.identity import (
    AccessClaims,
    AccessTokenSigner,
    Accounts,
    ApiKeys,
    Role,
    SessionStates,
    TwoFactor,
    Unauthenticated,
    hash_secret,
    new_api_key,
    parse_api_key,
)
from cryptopay.core.testing.identity import (
    FastPasswordHasher,
    InMemoryApiKeys,
    InMemoryIdempotency,
    InMemoryRefreshTokens,
    InMemoryUsers,
    StdlibTotp,
)
from cryptopay.core.testing.storage import InMemoryAuditLog
from cryptopay.core.testing.system import ManualClock, SequentialIds
from hypothesis import given
from hypothesis import strategies as st

from tests.support.threads import joined

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
KEY = b"k" * 32


def _claims(expires: timedelta = timedelta(minutes=15)) -> AccessClaims:
    return AccessClaims("usr_1", "merchant", "atk_1", NOW, NOW + expires)


def test_tokens_signed_with_a_previous_key_still_verify_after_rotation():
    """A token signed under key k1 verifies with a signer whose current key is k2 but still knows k1."""
    token = AccessTokenSigner({"k1": KEY}, current="k1").sign(_claims())
    rotated = AccessTokenSigner({"k1": KEY, "k2": b"n" * 32}, current="k2")
    assert rotated.verify(token, now=NOW).subject == "usr_1"
    with pytest.raises(Unauthenticated):
        AccessTokenSigner({"k2": b"n" * 32}, current="k2").verify(token, now=NOW)


def test_tampered_expired_and_alg_none_tokens_are_refused():
    """Changing a claim, passing expiry, or claiming alg none all fail verification."""
    import base64
    import json

    signer = AccessTokenSigner({"k1": KEY}, current="k1")
    head, body, sig = signer.sign(_claims()).split(".")
    forged_body = (
        base64.urlsafe_b64encode(
            json.dumps({**json.loads(base64.urlsafe_b64decode(body + "==")), "role": "admin"}).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    none_head = base64.urlsafe_b64encode(b'{"alg":"none","kid":"k1"}').rstrip(b"=").decode()
    for token in (f"{head}.{forged_body}.{sig}", f"{none_head}.{body}.", "garbage"):
        with pytest.raises(Unauthenticated):
            signer.verify(token, now=NOW)
    with pytest.raises(Unauthenticated, match="expired"):
        signer.verify(f"{head}.{body}.{sig}", now=NOW + timedelta(minutes=15))


def test_signer_refuses_short_keys_and_hides_them():
    """Keys under 32 bytes are refused and the repr names key ids only."""
    with pytest.raises(InvalidInput):
        AccessTokenSigner({"k1": b"short"}, current="k1")
    assert "kkkk" not in repr(AccessTokenSigner({"k1": KEY}, current="k1"))


@given(st.text(alphabet=st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=30))
def test_api_key_strings_round_trip(key_id):
    """Every key string made for an id without dots parses back to that id and its secret."""
    if "." in key_id:
        return
    made_id, secret, presented = new_api_key(key_id)
    assert parse_api_key(presented) == (made_id, secret)


def make_accounts(clock: ManualClock) -> Accounts:
    """Accounts over the in-memory fakes, with an audit log, a TOTP second factor and a session cache."""
    signer = AccessTokenSigner({"k1": KEY}, current="k1")
    users, tokens, audit = InMemoryUsers(), InMemoryRefreshTokens(), InMemoryAuditLog()
    sessions = SessionStates(users, tokens, clock)
    two_factor = TwoFactor(users, StdlibTotp(), audit, clock, sessions)
    hasher = FastPasswordHasher()
    return Accounts(users, tokens, hasher, signer, clock, SequentialIds(), audit, two_factor, sessions)


@pytest.fixture
def accounts():
    return make_accounts(ManualClock(NOW))


def test_refresh_expires_and_concurrent_refreshes_have_one_winner(accounts):
    """Of many simultaneous refreshes of one token exactly one succeeds; an old refresh token expires."""
    accounts.register("a@example.co.ke", "plenty of words", role=Role.PERSONAL)
    pair = accounts.login("a@example.co.ke", "plenty of words")
    results: list[str] = []

    def attempt() -> None:
        try:
            accounts.refresh(pair.refresh_token)
            results.append("ok")
        except Unauthenticated:
            results.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    joined(*threads)
    assert results.count("ok") == 1
    fresh = accounts.login("a@example.co.ke", "plenty of words")
    accounts.clock.advance(days=31)
    with pytest.raises(Unauthenticated, match="expired"):
        accounts.refresh(fresh.refresh_token)


def test_login_rehashes_passwords_hashed_with_old_parameters(accounts):
    """A hash made with weaker parameters is replaced at the next successful login."""
    user = accounts.register("b@example.co.ke", "plenty of words", role=Role.MERCHANT)
    user.password_hash = FastPasswordHasher(rounds=10).hash("plenty of words")
    accounts.users.update(user)
    accounts.login("b@example.co.ke", "plenty of words")
    assert accounts.users.get(user.id).password_hash.startswith("pbkdf2$1000$")


def test_api_keys_are_stored_hashed_and_revocable():
    """The store holds a SHA-256 of the secret only, and a revoked key no longer authenticates."""
    keys = ApiKeys(InMemoryApiKeys(), ManualClock(NOW), SequentialIds(), InMemoryAuditLog())
    key, presented = keys.create("mer_1", name="shop", scopes=["invoices:read"], created_by="usr_1")
    assert key.secret_hash == hash_secret(presented.split(".", 1)[1]) and presented not in repr(key)
    assert keys.authenticate(presented).merchant_id == "mer_1"
    keys.revoke(key, actor="user:usr_1")
    with pytest.raises(Unauthenticated):
        keys.authenticate(presented)


def test_idempotency_fake_claims_once_and_releases_only_in_flight():
    """begin claims a key once; release forgets an in-flight claim but never a completed one."""
    from cryptopay.core.identity import StoredResponse

    store = InMemoryIdempotency()
    assert store.begin("user:u", "k", request_hash="h", at=NOW) is None
    assert store.begin("user:u", "k", request_hash="h", at=NOW).response is None
    assert store.begin("user:v", "k", request_hash="h", at=NOW) is None
    store.release("user:u", "k")
    assert store.begin("user:u", "k", request_hash="h", at=NOW) is None
    store.complete("user:u", "k", StoredResponse(201, "{}"))
    store.release("user:u", "k")
    assert store.begin("user:u", "k", request_hash="h", at=NOW).response == StoredResponse(201, "{}")


def test_users_fake_refuses_duplicate_emails_case_insensitively(accounts):
    """Two users cannot share an email, whatever its case."""
    accounts.register("c@example.co.ke", "plenty of words", role=Role.PERSONAL)
    with pytest.raises(Conflict):
        accounts.register("C@Example.co.ke", "quite other words", role=Role.PERSONAL)


class _Epoch:
    """A shared identity epoch in one process (``ChangeEpoch``): the Redis one is ``cryptopay.adapters.cache``."""

    def __init__(self) -> None:
        self.value = 0

    def current(self) -> int | None:
        return self.value

    def bump(self) -> None:
        self.value += 1


def test_a_keys_principal_is_kept_while_the_epoch_is_unchanged():
    """With an epoch, the principal of a key in use is kept; any bump (a revocation anywhere bumps it) ends that at
    once; a different secret for the same key id is checked, never served from what is kept; without an epoch
    every request checks the stored key."""
    store, epoch = InMemoryApiKeys(), _Epoch()
    keys = ApiKeys(store, ManualClock(NOW), SequentialIds(), InMemoryAuditLog(), epoch=epoch)
    key, presented = keys.create("mer_1", name="shop", scopes=["invoices:read"], created_by="usr_1")
    assert keys.authenticate(presented) is keys.authenticate(presented)
    with pytest.raises(Unauthenticated):
        keys.authenticate(presented[:-1] + ("x" if presented[-1] != "x" else "y"))
    store.update(attrs.evolve(key, revoked_at=NOW))  # behind the epoch's back: still the kept principal
    assert keys.authenticate(presented).merchant_id == "mer_1"
    epoch.bump()
    with pytest.raises(Unauthenticated):
        keys.authenticate(presented)
    unkept = ApiKeys(store, ManualClock(NOW), SequentialIds(), InMemoryAuditLog())
    other, secret = unkept.create("mer_1", name="pos", scopes=["invoices:read"], created_by="usr_1")
    assert unkept.authenticate(secret).id == other.id
    store.update(attrs.evolve(other, revoked_at=NOW))
    with pytest.raises(Unauthenticated):
        unkept.authenticate(secret)


def test_a_disabled_account_logs_in_by_no_name_and_refreshes_no_login(accounts):
    """An account with ``disabled_at`` (released, erased) is refused at login as an unknown one would be, by its
    phone too (audited ``auth.login_failed``, reason ``disabled``), and its refresh tokens no longer refresh."""
    user = accounts.register("c@example.co.ke", "plenty of words", role=Role.PERSONAL)
    user.phone = "254712345678"
    accounts.users.update(user)
    pair = accounts.login("0712345678", "plenty of words")
    user.disabled_at = accounts.clock.now()
    accounts.users.update(user)
    for name in ("c@example.co.ke", "0712345678"):
        with pytest.raises(Unauthenticated, match="the email or password is wrong"):
            accounts.login(name, "plenty of words")
    with pytest.raises(Unauthenticated, match="no longer exists"):
        accounts.refresh(pair.refresh_token)
    failed = [r for r in accounts.audit.records() if r.action == "auth.login_failed"]
    assert [dict(r.details)["reason"] for r in failed] == ["disabled", "disabled"]


def test_a_wallet_holders_role_is_not_changed():
    """Finding I21: another role would strand a personal wallet (its routes need the personal role): refused
    ``holds_wallet`` (409), nothing changed, nothing audited; an account without a wallet changes as before."""
    from cryptopay.core.identity.admin import HoldsWallet, UserAdmin
    from cryptopay.core.identity.model import Role, User
    from cryptopay.core.testing.identity import FastPasswordHasher, InMemoryUsers
    from cryptopay.core.testing.storage import InMemoryAuditLog
    from cryptopay.core.testing.system import ManualClock, SequentialIds

    clock, users, audit = ManualClock(), InMemoryUsers(), InMemoryAuditLog()
    users.add(User("usr_w", "w@example.com", "h", Role.PERSONAL, clock.now()))
    users.add(User("usr_m", "m@example.com", "h", Role.MERCHANT, clock.now()))
    admin = UserAdmin(users, FastPasswordHasher(), audit, clock, SequentialIds(), holds_wallet={"usr_w"}.__contains__)
    with pytest.raises(HoldsWallet) as refused:
        admin.set_role("w@example.com", Role.COMPLIANCE, actor="ops:amina")
    assert refused.value.http_status == 409 and refused.value.exit_code == 4
    assert users.get("usr_w").role is Role.PERSONAL and audit.records() == []
    assert admin.set_role("m@example.com", Role.COMPLIANCE, actor="ops:amina").role is Role.COMPLIANCE
