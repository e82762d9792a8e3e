"""Money coming in feeds AML monitoring too: a merchant's confirmed invoice payment (``merchant_payment``, in, the
payer's address as counterparty) and a claimed P2P transfer on the recipient's side (``p2p``, in, the sender as
counterparty). Each is journaled once its transaction committed, and the batch rules fire on it; in memory and on
PostgreSQL (journal, alerts and the products' own tables in the same database)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import attrs
import pytest
from cryptopay.core.compliance.feed import MonitoringFeed
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.rules import Direction, load_rules
from cryptopay.core.identity.model import Role, User
from cryptopay.core.money import KES, Money
from cryptopay.core.payments.detection import payment_movement_id
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.testing.compliance import monitoring_repositories
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.system import ManualClock, SequentialIds

from tests.support.sql_backends import empty_postgres, postgres_database
from tests.support.wallet_stack import WalletStack, memory_wallet_backend, wallet_stack

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PAYER = "TPayerAddressOnTheSanctionsList1"
RULES = """{"version": 7, "rules": [
  {"id": "merchant-large-in", "kind": "large_transaction", "threshold_kes": "1000000",
   "products": ["merchant_payment"], "directions": ["in"]},
  {"id": "merchant-velocity", "kind": "velocity", "window_minutes": 60, "max_count": 2,
   "products": ["merchant_payment"], "directions": ["in"]},
  {"id": "merchant-sanctioned-payer", "kind": "sanctioned_counterparty",
   "products": ["merchant_payment"], "directions": ["in"]},
  {"id": "p2p-large-in", "kind": "large_transaction", "threshold_kes": "4000",
   "products": ["p2p"], "directions": ["in"]}
]}"""
PROFILE = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254712345678")


@pytest.fixture(scope="module")
def feeds_pg(postgres_admin_url: str) -> Iterator[str]:
    with postgres_database(postgres_admin_url, "cryptopay_monitoring_feeds") as url:
        yield url


def _monitoring(uow, clock) -> Monitoring:
    return Monitoring(
        uow=uow,
        rules=load_rules(RULES),
        clock=clock,
        ids=SequentialIds(),
        screen=lambda movement: movement.counterparty == PAYER,
    )


def _journal(monitoring: Monitoring, party_id: str):
    with monitoring.uow() as uow:
        return uow.movements.for_party(party_id, since=datetime(2000, 1, 1, tzinfo=UTC))


# -- a merchant's incoming payments --------------------------------------------------------------------------------
@pytest.fixture(params=["memory", "postgres"])
def payments(request: pytest.FixtureRequest) -> Iterator[PaymentsStack]:
    stack = PaymentsStack(start=START)
    engine = None
    if request.param == "postgres":
        from cryptopay.adapters.sql import make_engine
        from cryptopay.adapters.sql.repositories.chains import SqlScanCursorStore
        from cryptopay.adapters.sql.repositories.identity import SqlMerchants, SqlUsers
        from cryptopay.adapters.sql.uow import SqlStorage
        from cryptopay.core.ledger import Ledger

        engine = make_engine(request.getfixturevalue("feeds_pg"))
        empty_postgres(engine)
        stack.storage = SqlStorage(engine, ids=stack.ids)
        stack.uow = stack.storage.unit_of_work
        stack.ledger = Ledger(stack.storage.ledger_store, clock=stack.clock, ids=stack.ids)
        stack.cursors = SqlScanCursorStore(engine)
        stack.merchants = SqlMerchants(engine)
        stack.wire_use_cases()
        SqlUsers(engine).add(User("user-m1", "m1@shops.test", "-", Role.MERCHANT, stack.clock.now()))
        stack.monitoring = _monitoring(stack.storage.unit_of_work, stack.clock)
    else:
        from cryptopay.core.testing.storage import InMemoryStorage

        stack.monitoring = _monitoring(InMemoryStorage(**monitoring_repositories()).unit_of_work, stack.clock)
    stack.monitor = MonitoringFeed(stack.monitoring)
    stack.wire_use_cases()
    stack.add_merchant("m1", settlement=PROFILE)
    yield stack
    if engine is not None:
        engine.dispose()


def test_a_confirmed_invoice_payment_is_journaled_once_with_the_payer_as_counterparty(payments) -> None:
    """Seen, it is not journaled; confirmed and credited, it is, once (a rescan adds nothing), valued in KES."""
    invoice = payments.invoicing.create_invoice("m1", Money.of("1300", KES))
    transfer = payments.pay(invoice.id)
    payments.sync()
    assert _journal(payments.monitoring, "m1") == []
    payments.confirm(3)
    [moved] = _journal(payments.monitoring, "m1")
    assert (moved.product, moved.direction, moved.counterparty) == ("merchant_payment", Direction.IN, "0xcustomer")
    assert (moved.amount, moved.asset, moved.network) == (Money.of("1300", KES), "USDT", "tron")
    assert moved.id == payment_movement_id(transfer.key)
    payments.detection.record_chain_transfers("tron", [transfer])
    payments.confirm(1)
    assert len(_journal(payments.monitoring, "m1")) == 1


def test_rules_fire_on_merchant_payments_large_velocity_and_a_sanctioned_payer(payments) -> None:
    """A KES 1.3M payment is large; three in an hour trip velocity; a payer on the list is a sanctions hit."""
    start = payments.clock.now()
    with payments.uow() as uow:  # above the default most an invoice asks (KES 1,000,000): this store sets its own
        uow.stores.put(attrs.evolve(uow.stores.get("m1"), max_invoice=Decimal("5000000")))
    big = payments.invoicing.create_invoice("m1", Money.of("1300000", KES))
    payments.pay(big.id)
    for _ in range(2):
        small = payments.invoicing.create_invoice("m1", Money.of("1300", KES))
        payments.pay(small.id)
    listed = payments.invoice(payments.invoicing.create_invoice("m1", Money.of("1300", KES)).id).options[0]
    paid = payments.chains["tron"].pay(listed.address, listed.due, sender=PAYER)
    payments.confirm(3)
    alerts = payments.monitoring.run_batch(start, payments.clock.now())
    fired = {(a.rule_id, a.party_id) for a in alerts}
    assert fired == {
        ("merchant-large-in", "m1"),
        ("merchant-velocity", "m1"),
        ("merchant-sanctioned-payer", "m1"),
    }
    [sanctioned] = [a for a in alerts if a.rule_id == "merchant-sanctioned-payer"]
    assert sanctioned.movement_id == payment_movement_id(paid.key)


# -- a claimed P2P transfer ----------------------------------------------------------------------------------------
@pytest.fixture(params=["memory", "postgres"])
def wallets(request: pytest.FixtureRequest) -> Iterator[tuple[WalletStack, Monitoring]]:
    clock = ManualClock(START)
    if request.param == "memory":
        stack = wallet_stack(memory_wallet_backend(), clock=clock)
        engine = None
    else:
        from cryptopay.adapters.sql import make_engine

        from tests.contract.conftest import sql_backend_from_engine

        engine = make_engine(request.getfixturevalue("feeds_pg"))
        empty_postgres(engine)
        stack = wallet_stack(sql_backend_from_engine(engine), clock=clock)
    monitoring = _monitoring(stack.backend.uow, clock)
    stack.wallets.monitor = stack.signup.monitor = MonitoringFeed(monitoring)
    yield stack, monitoring
    if engine is not None:
        engine.dispose()


def test_a_claimed_transfer_is_journaled_on_the_recipients_side_and_a_rule_fires(wallets) -> None:
    """KES 4,500 sent to a number with no wallet: only the sender's side is journaled; when the number signs up
    and claims it, the recipient's side is (in, from the sender, at the claim), and the large-incoming rule fires
    on it. (KES 4,500: what a new tier-0 wallet may receive at once is KES 5,000, review H14.)"""
    wallets, monitoring = wallets
    amina = wallets.sign_up("0712000001", tier=1)
    wallets.fund(amina, "30000", "KES")
    start = wallets.clock.now()
    transfer = wallets.wallets.send(amina.id, "0733000002", Money.of("4500", KES))
    assert [m.direction for m in _journal(monitoring, amina.id)] == [Direction.OUT]
    wallets.clock.advance(hours=2)
    baraka = wallets.sign_up("0733000002")
    [moved] = _journal(monitoring, baraka.id)
    assert (moved.id, moved.product, moved.direction) == (f"{transfer.id}:in", "p2p", Direction.IN)
    assert (moved.counterparty, moved.amount, moved.at) == (amina.id, Money.of("4500", KES), wallets.clock.now())
    wallets.clock.advance(minutes=1)
    alerts = monitoring.run_batch(start, wallets.clock.now())
    assert {(a.rule_id, a.party_id) for a in alerts} == {("p2p-large-in", baraka.id)}
