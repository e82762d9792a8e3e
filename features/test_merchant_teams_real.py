"""Merchant teams (merchant_teams.feature) on real parts: users, merchants, teams and the audit chain in PostgreSQL.

The same scenarios and steps as test_merchant_teams.py; only ``duka`` differs: ``Teams`` over the SQL repositories
on empty tables (the notifier stays the in-memory outbox of emails, as SMTP is a service we cannot reach). The
audit records the steps read are the chain's rows.
"""

import pytest
from cryptopay.adapters.passwords import Argon2Hasher
from cryptopay.adapters.sql.audit import SqlAuditLog, SqlAuditTrail
from cryptopay.adapters.sql.repositories.identity import SqlApiKeys, SqlMerchants, SqlTeams, SqlUsers
from cryptopay.core.identity.model import Merchant, Role, User
from cryptopay.core.identity.teams import Teams
from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.identity import TeamFixture
from cryptopay.core.testing.notifications import InMemoryNotifier
from cryptopay.core.testing.system import ManualClock, SequentialIds
from pytest_bdd import scenarios

from features.real_parts import database_url, journey_engine, postgres_admin_url  # noqa: F401
from features.test_merchant_teams import *  # noqa: F403  (the steps; their in-memory ``duka`` is replaced below)
from tests.support.sql_backends import empty_postgres

scenarios("merchant_teams.feature")


class _ChainRecords:
    """The audit chain's rows, read as the in-memory log's ``records()``."""

    def __init__(self, engine):
        self._engine = engine

    def records(self):
        with self._engine.connect() as conn:
            return SqlAuditLog(conn).records()


@pytest.fixture
def duka(journey_engine):  # noqa: F811  (the fixture by that name, imported above)
    empty_postgres(journey_engine)
    clock, ids = ManualClock(), SequentialIds()
    users, merchants = SqlUsers(journey_engine), SqlMerchants(journey_engine)
    owner = User("usr_owner", "owner@duka.co.ke", "x", Role.MERCHANT, clock.now())
    users.add(owner)
    profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")
    merchant = Merchant("mer_1", owner.id, "Duka", profile, clock.now(), clock.now())
    merchants.add(merchant)
    notifier, hasher = InMemoryNotifier(), Argon2Hasher()
    teams = Teams(
        teams=SqlTeams(journey_engine),
        merchants=merchants,
        api_keys=SqlApiKeys(journey_engine),
        users=users,
        notifier=notifier,
        audit=SqlAuditTrail(journey_engine, ids),
        clock=clock,
        ids=ids,
        hasher=hasher,
    )
    audit = _ChainRecords(journey_engine)
    return TeamFixture(teams, owner, merchant, clock, users, merchants, audit, notifier, hasher)
