"""What a P2P send costs on PostgreSQL, counted on the wire (#14, Performance): two round trips, whatever the load.

``BEGIN`` (and the ``SET LOCAL`` that gives the transaction cached generic plans) with the sender's wallet locked
(a statement of its own, so that the read's snapshot comes after the lock: review5 S4) and the one read (the
recipient, the KYC profile, the month's usage, the ledger balances locked and the entry's
idempotency key), then the ledger's writes and the transfer and usage rows, one statement, with the ``COMMIT``: each
a simple query of prepared statements (``EXECUTE``). The same send before this was nine round trips. A refused send (frozen wallet, limit) still reads once and writes nothing; a
number without a wallet costs one more (the claims account is locked by the ledger itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from cryptopay.adapters.sql import make_engine
from cryptopay.adapters.sql.personal import PersonalData
from cryptopay.adapters.sql.repositories.compliance import movement_row
from cryptopay.adapters.sql.tables_compliance import compliance_movements
from cryptopay.adapters.sql.types import document_text
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core.compliance.feed import MonitoringFeed
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.rules import default_rules
from cryptopay.core.errors import LimitExceeded
from cryptopay.core.flows import wallet_account
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.system import RandomIds
from cryptopay.core.wallets import TransferState
from cryptopay.core.wallets.service import WalletFrozen
from sqlalchemy.engine import Engine

from tests.support.round_trips import RoundTripRelay
from tests.support.sql_backends import Backend, empty_postgres
from tests.support.wallet_stack import WalletStack, wallet_stack

AMINA, BARAKA, NEWCOMER = "254712000001", "254712000002", "254712000099"
READ = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; EXECUTE cryptopay_send_lo"  # (first 80 characters)


@pytest.fixture
def relay(sql_pg_url: str) -> Iterator[RoundTripRelay]:
    parts = urlsplit(sql_pg_url)
    found = RoundTripRelay(parts.hostname or "127.0.0.1", parts.port or 5432)
    yield found
    found.close()


@pytest.fixture
def engine(sql_pg_url: str, relay: RoundTripRelay) -> Iterator[Engine]:
    """An engine whose connections go through the relay; one connection, so the count covers every statement."""
    engine = make_engine(relay.url(sql_pg_url), pool_size=1)
    engine.pool._max_overflow = 0  # type: ignore[attr-defined]
    empty_postgres(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def stack(engine: Engine) -> WalletStack:
    stack = wallet_stack(Backend("postgres", SqlStorage(engine), engine))
    for phone in (AMINA, BARAKA):
        user = stack.sign_up(phone, tier=1)
        stack.fund(user, "5000", "KES")
        stack.fund(user, "50", "USDT")
    return stack


def _user_id(stack: WalletStack, phone: str) -> str:
    return stack.wallets.find(phone, actor="usr_test").user_id


def test_a_send_is_two_round_trips(stack: WalletStack, relay: RoundTripRelay) -> None:
    """KES and USDT, by phone and by username: two round trips each, and the money and rows are all there."""
    amina, baraka = _user_id(stack, AMINA), _user_id(stack, BARAKA)
    stack.wallets.send(amina, BARAKA, Money.of("50", KES))  # the connection is open and warm
    for to, amount in ((BARAKA, Money.of("100", KES)), (BARAKA, Money.of("2.5", USDT))):
        relay.reset()
        transfer = stack.wallets.send(amina, to, amount, note="lunch")
        assert relay.turns == 2, relay.statements
        assert relay.statements[0].startswith(READ), relay.statements
        # the ledger's writes and the send's in one statement (no flush of its own) with the COMMIT
        assert relay.statements[1].startswith("EXECUTE cryptopay_send_write_"), relay.statements
        assert transfer.state is TransferState.DELIVERED and transfer.recipient_id == baraka
        assert stack.wallets.transfer(amina, transfer.id) == transfer
    balances = stack.ledger.balances([wallet_account(amina, KES), wallet_account(baraka, USDT)])
    assert balances[wallet_account(amina, KES)].available == Money.of("4850", KES)
    assert balances[wallet_account(baraka, USDT)].available == Money.of("52.5", USDT)
    start = stack.clock.now().replace(year=2000)
    with stack.backend.uow() as uow:
        usage = uow.wallet_usage.totals(amina, day_start=start, month_start=start)
    assert usage["p2p"][1] == Money.of("150", KES) + Money.of("325", KES)  # 2.5 USDT at the mid of 130


def test_monitoring_as_wired_in_production_costs_no_round_trip(
    stack: WalletStack, relay: RoundTripRelay, engine: Engine
) -> None:
    """With AML monitoring on the wallet's own storage (as the composition root wires it), the send's two movements
    are journaled by its write statement: still two round trips, no transaction of their own after the commit."""
    monitoring = Monitoring(uow=stack.backend.uow, rules=default_rules(), clock=stack.clock, ids=RandomIds())
    stack.wallets.monitor = MonitoringFeed(monitoring)
    amina, baraka = _user_id(stack, AMINA), _user_id(stack, BARAKA)
    stack.wallets.send(amina, BARAKA, Money.of("50", KES))
    relay.reset()
    transfer = stack.wallets.send(amina, BARAKA, Money.of("100", KES))
    assert relay.turns == 2, relay.statements
    start = stack.clock.now().replace(year=2000)
    with stack.backend.uow() as uow:
        journal = {m.id: m for m in uow.movements.for_party(baraka, since=start)}
    received = journal[f"{transfer.id}:in"]
    assert (received.party_id, received.counterparty, received.amount) == (baraka, amina, Money.of("100", KES))
    with engine.connect() as conn:  # stored to the byte as SqlMovementJournal.add stores it
        query = sa.select(compliance_movements.c.id, sa.cast(compliance_movements.c.doc, sa.Text))
        texts = dict(conn.execute(query.where(compliance_movements.c.id.in_(list(journal)))).all())
    for movement_id, movement in journal.items():
        assert texts[movement_id] == document_text(movement_row(movement, PersonalData.plaintext())["doc"])


@pytest.mark.parametrize("refusal", ["limit", "frozen"])
def test_refusals_read_once_and_write_nothing(stack: WalletStack, relay: RoundTripRelay, refusal: str) -> None:
    """A limit or a frozen sender refuses after the one read: then the rollback (psycopg follows it with
    ``DEALLOCATE ALL`` once it holds prepared statements), and nothing is written."""
    amina = _user_id(stack, AMINA)
    stack.wallets.send(amina, BARAKA, Money.of("50", KES))
    if refusal == "frozen":
        stack.wallets.freeze(amina, reason="fraud report", actor="usr_admin")
    relay.reset()
    with pytest.raises(LimitExceeded if refusal == "limit" else WalletFrozen):
        stack.wallets.send(amina, BARAKA, Money.of("400000" if refusal == "limit" else "50", KES))
    assert relay.statements[0].startswith(READ) and relay.statements[1] == "ROLLBACK", relay.statements
    assert not any(
        s.startswith(("INSERT", "UPDATE", "WITH new", "EXECUTE cryptopay_ledger", "EXECUTE cryptopay_send_w"))
        for s in relay.statements
    ), relay.statements
    assert len(stack.wallets.transfers(amina)) == 1
    # psycopg's DEALLOCATE ALL took the prepared statements: the next send prepares them again (a look-up and the
    # statements in one query), then sends as before.
    if refusal == "frozen":
        stack.wallets.unfreeze(amina, actor="usr_admin")
    relay.reset()
    stack.wallets.send(amina, BARAKA, Money.of("50", KES))
    assert relay.turns <= 4, relay.statements
    relay.reset()
    stack.wallets.send(amina, BARAKA, Money.of("50", KES))
    assert relay.turns == 2, relay.statements
    assert len(stack.wallets.transfers(amina)) == 3


def test_a_number_without_a_wallet_costs_one_more(stack: WalletStack, relay: RoundTripRelay) -> None:
    """The claims account is not locked by the read (that would queue every send on one row): the ledger locks
    it, one more round trip; the invitation limits read the sender's transfers of the claim window, one more. The
    SMS invitation's audit record follows the commit in a transaction of its own."""
    amina = _user_id(stack, AMINA)
    stack.wallets.send(amina, BARAKA, Money.of("50", KES))
    relay.reset()
    transfer = stack.wallets.send(amina, NEWCOMER, Money.of("100", KES))
    assert transfer.state is TransferState.AWAITING_CLAIM
    send = relay.statements[: relay.statements.index("BEGIN")]  # the audit record's transaction follows
    assert send[0].startswith(READ), send
    assert [s.split(" ", 1)[0] for s in send[1:] if s != "Sync"] == ["SELECT", "SELECT", "EXECUTE"]
    assert send.count("Sync") == 2  # the invitation limits, the claims account's lock; the read, the commit simple
    with stack.backend.uow() as uow:
        assert [r.action for r in uow.audit.records()][-1] == "wallet.invitation"


def test_a_read_inside_a_transaction_under_way_takes_the_generic_plans(
    stack: WalletStack, relay: RoundTripRelay
) -> None:
    """The read as a later statement of its transaction (no ``BEGIN`` to ride with) still sends the ``SET LOCAL``
    with it, in one round trip, and the transaction runs on generic plans from there on."""
    amina, baraka = _user_id(stack, AMINA), _user_id(stack, BARAKA)
    stack.wallets.send(amina, BARAKA, Money.of("50", KES))
    start = stack.clock.now().replace(day=1)
    with stack.backend.uow() as uow:
        assert uow.wallets.get(amina) is not None  # the transaction is under way
        relay.reset()
        parties = uow.wallet_sends.parties(
            amina,
            phone=BARAKA,
            username=None,
            day_start=start,
            month_start=start,
            asset=KES,
            ledger_keys=["a-key-never-used"],
            ledger_codes=[wallet_account(amina, KES)],
        )
        assert [s for s in relay.statements if s != "Sync"] == [
            "SET LOCAL plan_cache_mode = force_generic_plan",
            "SELECT FROM wallets WHERE id = $1 FOR UPDATE",
            "WITH sender AS MATERIALIZED (",
        ]
        assert relay.turns == 1, relay.statements
        assert parties.sender is not None and parties.sender.user_id == amina
        assert parties.recipient is not None and parties.recipient.user_id == baraka
        driver = uow.connection.connection.driver_connection
        assert driver.execute("SHOW plan_cache_mode").fetchone() == ("force_generic_plan",)
