"""Accepting a team invitation on PostgreSQL is one unit of work: a crash half way leaves nothing half-written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptopay.adapters.sql.audit import SqlAuditTrail
from cryptopay.adapters.sql.repositories.identity import SqlApiKeys, SqlMerchants, SqlTeams, SqlUsers
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core import faults
from cryptopay.core.identity.model import Merchant, Role, TeamRole, User
from cryptopay.core.identity.teams import Teams
from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.system import RandomIds
from cryptopay.core.testing.identity import FastPasswordHasher
from cryptopay.core.testing.notifications import InMemoryNotifier
from cryptopay.core.testing.system import ManualClock
from sqlalchemy.engine import Engine

from tests.support.sql_backends import TEST_PERSONAL


class CrashAt:
    """Fault points that raise at ``window`` while ``armed`` (a process dying there, as far as the database sees)."""

    def __init__(self, window: str) -> None:
        self.window, self.armed = window, True

    def reached(self, window: str) -> None:
        if self.armed and window == self.window:
            raise RuntimeError(f"crashed at {window}")


def test_an_acceptance_that_fails_half_way_leaves_no_member_no_claim_no_audit_and_no_proof(pg_engine: Engine):
    """The invitation claimed and the member added, the process dies before the audit record and the email proof:
    nothing of it stays (the invitation is still open, the user belongs to no team, no ``team.join`` nor
    ``auth.email_proven`` is recorded, the email is still unproven), and accepting again joins the team once."""
    clock, ids, hasher = ManualClock(datetime(2026, 12, 7, 9, tzinfo=UTC)), RandomIds(), FastPasswordHasher()
    storage = SqlStorage(pg_engine, personal=TEST_PERSONAL)
    users = SqlUsers(pg_engine, personal=TEST_PERSONAL)
    merchants, teams = SqlMerchants(pg_engine, personal=TEST_PERSONAL), SqlTeams(pg_engine, personal=TEST_PERSONAL)
    now = clock.now()
    owner = User(ids.new_id("usr"), "owner@duka.co.ke", hasher.hash("owner pass"), Role.MERCHANT, now)
    amina = User(ids.new_id("usr"), "amina@duka.co.ke", hasher.hash("amina pass"), Role.MERCHANT, now)
    users.add(owner)
    users.add(amina)
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    merchant = Merchant(ids.new_id("mer"), owner.id, "Duka", profile, now, now)
    merchants.add(merchant)
    crash = CrashAt(faults.TEAM_JOINED)
    team = Teams(
        teams=teams,
        merchants=merchants,
        api_keys=SqlApiKeys(pg_engine),
        users=users,
        notifier=InMemoryNotifier(),
        audit=SqlAuditTrail(pg_engine, ids),
        clock=clock,
        ids=ids,
        hasher=hasher,
        units=storage.unit_of_work,
        faults=crash,
    )
    invitation, token = team.invite(merchant.id, actor=owner.id, email=amina.email or "", role=TeamRole.FINANCE)

    with pytest.raises(RuntimeError, match=r"crashed at team\.joined"):
        team.accept(token, user_id=amina.id, password="amina pass")

    assert teams.membership(amina.id) is None
    still = teams.invitation(invitation.id)
    assert still is not None and still.accepted_at is None and still.open(clock.now())
    with storage.unit_of_work() as uow:
        actions = [r.action for r in uow.audit.records()]
    assert "team.join" not in actions and "auth.email_proven" not in actions
    assert (users.get(amina.id) or amina).email_verified_at is None

    crash.armed = False
    member = team.accept(token, user_id=amina.id, password="amina pass")
    assert (member.role, teams.membership(amina.id)) == (TeamRole.FINANCE, member)
    with storage.unit_of_work() as uow:
        actions = [r.action for r in uow.audit.records()]
    assert actions.count("team.join") == 1 and actions.count("auth.email_proven") == 1
    assert (users.get(amina.id) or amina).email_verified_at == clock.now()
