"""Review R15's cap under a race, on PostgreSQL: merchants inviting one address at once never send it more than
``INVITATIONS_PER_ADDRESS`` a day (the count and the insert were two transactions; now one, under a lock on the
address's keyed hash)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from cryptopay.adapters.sql import make_engine
from cryptopay.adapters.sql.repositories.identity import sql_identity_repositories
from cryptopay.core.errors import LimitExceeded
from cryptopay.core.identity.model import Merchant, Role, TeamRole, User
from cryptopay.core.identity.teams import INVITATIONS_PER_ADDRESS, Teams
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.identity import FastPasswordHasher, InMemoryApiKeys
from cryptopay.core.testing.notifications import InMemoryNotifier
from cryptopay.core.testing.storage import InMemoryAuditLog
from cryptopay.core.testing.system import ManualClock, SequentialIds
from sqlalchemy.engine import Engine

from tests.support.sql_backends import TEST_PERSONAL, postgres_database
from tests.support.sql_engines import race

MERCHANTS = 8
PROFILE = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")


@pytest.fixture
def engine(postgres_admin_url: str) -> Iterator[Engine]:
    with postgres_database(postgres_admin_url, "cryptopay_invite_races") as url:
        engine = make_engine(url, pool_size=MERCHANTS + 2)
        yield engine
        engine.dispose()


def test_merchants_inviting_one_address_at_once_never_pass_its_daily_cap(engine):
    """Eight merchants invite one address at the same instant: five invitations are stored and mailed, three are
    refused ``team.invitations_per_address`` (audited on their merchant), nothing stored for them."""
    clock = ManualClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    repos = sql_identity_repositories(engine, personal=TEST_PERSONAL)
    audit, notifier = InMemoryAuditLog(), InMemoryNotifier()
    for n in range(MERCHANTS):
        repos["users"].add(User(f"usr_o{n}", f"owner{n}@duka.co.ke", "x", Role.MERCHANT, clock.now()))
        repos["merchants"].add(Merchant(f"mer_{n}", f"usr_o{n}", f"Duka {n}", PROFILE, clock.now(), clock.now()))
    teams = Teams(
        teams=repos["teams"],
        merchants=repos["merchants"],
        api_keys=InMemoryApiKeys(),
        users=repos["users"],
        notifier=notifier,
        audit=audit,
        clock=clock,
        ids=SequentialIds(),
        hasher=FastPasswordHasher(),
    )

    def invite(n: int) -> str:
        try:
            teams.invite(f"mer_{n}", actor=f"usr_o{n}", email="victim@example.org", role=TeamRole.STAFF)
        except LimitExceeded as refused:
            return str(refused.details["limit"])
        return "sent"

    outcomes = race(MERCHANTS, invite)
    refused = MERCHANTS - INVITATIONS_PER_ADDRESS
    assert sorted(outcomes) == ["sent"] * INVITATIONS_PER_ADDRESS + ["team.invitations_per_address"] * refused
    stored = sum(len(teams.invitations(f"mer_{n}")) for n in range(MERCHANTS))
    assert stored == INVITATIONS_PER_ADDRESS == len(notifier.sent_to("victim@example.org"))
    assert len([r for r in audit.records() if r.action == "team.invite_capped"]) == refused
