"""API keys and merchant owners without a database round trip per request; revocation seen at once (#17.1)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from cryptopay.adapters.cache import CachedApiKeys, CachedMerchants, RedisEpoch
from cryptopay.adapters.passwords import Argon2Hasher
from cryptopay.adapters.sql import make_engine, upgrade
from cryptopay.adapters.sql.repositories.identity import sql_identity_repositories
from cryptopay.core.identity import ApiKeys, Unauthenticated
from cryptopay.core.system import RandomIds, SystemClock
from cryptopay.core.testing.storage import InMemoryAuditLog
from sqlalchemy import event
from sqlalchemy.engine import Engine

pytestmark = pytest.mark.redis


class Statements:
    """Counts the SQL statements an engine sends (the database round trips)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: object) -> None:
        self.count += 1


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def epoch_key() -> str:
    return f"test:identity-epoch:{uuid.uuid4().hex}"


def _process(engine: Engine, redis_url: str, epoch_key: str) -> ApiKeys:
    """What one API process builds: its own cache over the shared database and the shared Redis epoch."""
    epoch = RedisEpoch(redis.Redis.from_url(redis_url), key=epoch_key)
    keys = CachedApiKeys(sql_identity_repositories(engine)["api_keys"], epoch)
    return ApiKeys(keys, SystemClock(), RandomIds(), InMemoryAuditLog())


def test_a_cached_key_is_checked_without_a_database_statement(engine, redis_url, epoch_key) -> None:
    """After the first check, checking the same API key sends no SQL at all."""
    api = _process(engine, redis_url, epoch_key)
    _key, presented = api.create(_merchant(engine), name="shop", scopes=["invoices:read"], created_by="u")
    api.authenticate(presented)
    statements = Statements(engine)
    for _ in range(5):
        assert api.authenticate(presented).kind.value == "api_key"
    assert statements.count == 0


def test_a_revocation_in_one_process_is_honoured_at_once_in_another(engine, redis_url, epoch_key) -> None:
    """Process B has the key cached; process A revokes it; B's very next check refuses it."""
    a, b = _process(engine, redis_url, epoch_key), _process(engine, redis_url, epoch_key)
    key, presented = a.create(_merchant(engine), name="shop", scopes=["invoices:read"], created_by="u")
    b.authenticate(presented)
    b.authenticate(presented)
    a.revoke(a.keys.get(key.id), actor="user:u")
    with pytest.raises(Unauthenticated):
        b.authenticate(presented)


def test_removing_a_member_revokes_their_keys_in_every_process_at_once(engine, redis_url, epoch_key) -> None:
    """Process B has an admin's key cached; process A's ``Teams.remove`` of that admin makes B refuse it next."""
    from cryptopay.core.identity import Role, User
    from cryptopay.core.identity.model import TeamRole
    from cryptopay.core.identity.teams import Member, Teams
    from cryptopay.core.testing.notifications import InMemoryNotifier

    a, b = _process(engine, redis_url, epoch_key), _process(engine, redis_url, epoch_key)
    repositories = sql_identity_repositories(engine)
    merchant_id = _merchant(engine)
    admin = f"usr_{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    repositories["users"].add(User(admin, f"{admin}@example.co.ke", "x", Role.MERCHANT, now))
    member = Member(merchant_id=merchant_id, user_id=admin, role=TeamRole.ADMIN, added_at=now, added_by=admin)
    repositories["teams"].add_member(member)
    _key, presented = a.create(merchant_id, name="till", scopes=["invoices:read"], created_by=admin)
    b.authenticate(presented)
    teams = Teams(
        teams=repositories["teams"],
        merchants=repositories["merchants"],
        api_keys=a.keys,
        users=repositories["users"],
        notifier=InMemoryNotifier(),
        audit=InMemoryAuditLog(),
        clock=SystemClock(),
        ids=RandomIds(),
        hasher=Argon2Hasher(),
    )
    teams.remove(merchant_id, admin, actor=repositories["merchants"].get(merchant_id).owner_user_id)
    with pytest.raises(Unauthenticated):
        b.authenticate(presented)


def test_an_unreadable_epoch_means_no_cache(engine, epoch_key) -> None:
    """With Redis unreachable every check reads the database (never a possibly revoked cached key)."""
    dead = RedisEpoch(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), key=epoch_key)
    api = ApiKeys(
        CachedApiKeys(sql_identity_repositories(engine)["api_keys"], dead),
        SystemClock(),
        RandomIds(),
        InMemoryAuditLog(),
    )
    keys = sql_identity_repositories(engine)["api_keys"]
    key, presented = ApiKeys(keys, SystemClock(), RandomIds(), InMemoryAuditLog()).create(
        _merchant(engine), name="shop", scopes=["invoices:read"], created_by="u"
    )
    api.authenticate(presented)
    key.revoked_at = datetime.now(UTC)
    keys.update(key)  # a change the cache did not see: without an epoch, nothing was cached
    with pytest.raises(Unauthenticated):
        api.authenticate(presented)


def test_a_merchant_users_tenant_is_resolved_from_the_cache(engine, redis_url, epoch_key) -> None:
    """``by_owner`` (read on every merchant user's request) is served from the cache after the first read."""
    epoch = RedisEpoch(redis.Redis.from_url(redis_url), key=epoch_key)
    repositories = sql_identity_repositories(engine)
    merchants = CachedMerchants(repositories["merchants"], epoch)
    owner = f"usr_{uuid.uuid4().hex[:8]}"
    assert merchants.by_owner(owner) is None  # not cached: a merchant created next is found at once
    created = _create_merchant(merchants, owner, repositories)
    assert merchants.by_owner(owner).id == created
    statements = Statements(engine)
    assert merchants.by_owner(owner).id == created and statements.count == 0


def _merchant(engine: Engine) -> str:
    """A merchant stored in the database (API keys belong to one)."""
    repositories = sql_identity_repositories(engine)
    return _create_merchant(repositories["merchants"], f"usr_{uuid.uuid4().hex[:8]}", repositories)


def _create_merchant(merchants, owner: str, repositories) -> str:
    """A merchant user and its merchant, stored through ``merchants`` (a repository)."""
    from cryptopay.core.identity import Merchant, Role, User
    from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule

    now = datetime.now(UTC)
    repositories["users"].add(User(owner, f"{owner}@example.co.ke", "x", Role.MERCHANT, now))
    settlement = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254708374149")
    merchant = Merchant(f"mer_{uuid.uuid4().hex[:8]}", owner, "Duka", settlement, now, now)
    merchants.add(merchant)
    return merchant.id


def test_a_locked_quote_is_read_from_the_database_once(engine) -> None:
    """Quotes never change once locked, so the second read of one sends no SQL; an unknown id is asked again."""
    from datetime import timedelta
    from decimal import Decimal

    from cryptopay.adapters.cache import CachedQuotes
    from cryptopay.adapters.sql.repositories.fx import SqlQuoteRepository
    from cryptopay.core.fx import Pair, Rate, lock_quote
    from cryptopay.core.money import KES, USDT

    now = datetime.now(UTC)
    quote = lock_quote(
        [Rate(Pair(USDT, KES), Decimal("129.20"), "test", now)], now=now, quote_id=f"q_{uuid.uuid4().hex[:8]}"
    )
    quotes = CachedQuotes(SqlQuoteRepository(engine))
    quotes.add(quote)
    assert quotes.get(quote.id) == quote
    statements = Statements(engine)
    assert quotes.get(quote.id) == quote and statements.count == 0
    assert quotes.get("q_unknown") is None and quotes.get("q_unknown") is None and statements.count == 2
    assert quote.expires_at - now <= timedelta(hours=1)
