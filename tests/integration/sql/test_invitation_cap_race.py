"""Review R15's cap under a race, on PostgreSQL: merchants inviting one address at once never send it more than
``INVITATIONS_PER_ADDRESS`` a day (the count and the insert were two transactions; now one, under a lock on the
address's keyed hash). So for a team's own caps (fix6d): managers of one team inviting at once never pass
``OPEN_INVITATIONS`` nor send one address two open invitations (counted under a lock on the team, taken first)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from cryptopay.adapters.sql import make_engine
from cryptopay.adapters.sql.repositories.identity import sql_identity_repositories
from cryptopay.core.errors import Conflict, LimitExceeded
from cryptopay.core.identity.model import Merchant, Role, TeamRole, User
from cryptopay.core.identity.teams import INVITATIONS_PER_ADDRESS, OPEN_INVITATIONS, Member, Teams
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


def _teams(engine: Engine, clock: ManualClock) -> tuple[Teams, InMemoryAuditLog, InMemoryNotifier]:
    """``Teams`` on PostgreSQL with ``MERCHANTS`` merchants ``mer_<n>`` owned by ``usr_o<n>``."""
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
    return teams, audit, notifier


def test_merchants_inviting_one_address_at_once_never_pass_its_daily_cap(engine):
    """Eight merchants invite one address at the same instant: five invitations are stored and mailed, three are
    refused ``team.invitations_per_address`` (audited on their merchant), nothing stored for them."""
    clock = ManualClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    teams, audit, notifier = _teams(engine, clock)

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


def test_managers_of_one_team_inviting_at_once_never_pass_its_open_cap(engine):
    """A team three short of ``OPEN_INVITATIONS``; eight of its managers invite eight addresses at the same instant:
    three are stored and mailed, five refused ``team.invitations`` with nothing stored (the caps were counted before
    the insert, outside its transaction: all eight passed). Then eight invite one address at once: one is sent, the
    rest are ``Conflict`` (one open invitation per address per team)."""
    clock = ManualClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    teams, _, notifier = _teams(engine, clock)
    repos = sql_identity_repositories(engine, personal=TEST_PERSONAL)
    for n in range(MERCHANTS):
        repos["users"].add(User(f"usr_m{n}", f"manager{n}@duka.co.ke", "x", Role.MERCHANT, clock.now()))
        admin = Member(
            merchant_id="mer_0", user_id=f"usr_m{n}", role=TeamRole.ADMIN, added_at=clock.now(), added_by="usr_o0"
        )
        repos["teams"].add_member(admin)
    for n in range(OPEN_INVITATIONS - 3):
        teams.invite("mer_0", actor="usr_o0", email=f"early{n}@example.org", role=TeamRole.STAFF)

    def invite(n: int, email: str) -> str:
        try:
            teams.invite("mer_0", actor=f"usr_m{n}", email=email, role=TeamRole.STAFF)
        except LimitExceeded as refused:
            return str(refused.details["limit"])
        except Conflict:
            return "conflict"
        return "sent"

    outcomes = race(MERCHANTS, lambda n: invite(n, f"new{n}@example.org"))
    assert sorted(outcomes) == ["sent"] * 3 + ["team.invitations"] * (MERCHANTS - 3)
    assert len(teams.invitations("mer_0")) == OPEN_INVITATIONS
    assert sum(len(notifier.sent_to(f"new{n}@example.org")) for n in range(MERCHANTS)) == 3

    outcomes = race(MERCHANTS, lambda n: _invite_other_team(teams, n))
    assert sorted(outcomes) == ["conflict"] * (MERCHANTS - 1) + ["sent"]
    assert len(notifier.sent_to("twice@example.org")) == 1


def _invite_other_team(teams: Teams, n: int) -> str:
    """Team ``mer_1``'s owner invites ``twice@example.org`` (one of eight at once)."""
    try:
        teams.invite("mer_1", actor="usr_o1", email="twice@example.org", role=TeamRole.STAFF)
    except Conflict:
        return "conflict"
    return "sent"
