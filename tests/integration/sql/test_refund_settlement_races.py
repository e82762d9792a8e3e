"""Refunds racing settlement on PostgreSQL: the merchant's balance is taken once, whoever commits first.

Each test lines real use cases up on threads (each thread its own connections) behind a barrier, many times over,
and checks the books after every round: what the refunds hold and the settlement converts never exceeds what the
merchant was credited, no merchant balance goes negative, the trial balance is zero, and a loser gets the business
refusal (never a database error, never a retry exhausted).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core import flows
from cryptopay.core.errors import CryptopayError, InvalidInput, Refused
from cryptopay.core.invoices import InvoiceState
from cryptopay.core.ledger import HoldState, trading_account
from cryptopay.core.money import BTC, KES, USDT, Money
from cryptopay.core.payments import Refund, RefundState
from cryptopay.core.ports.chains import TxState
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.contract.test_payments_repository_contract import SqlPaymentsStack
from tests.support.sql_engines import race
from tests.support.threads import joined

CUSTOMER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
MERCHANT_USDT = flows.merchant_liability("m1", USDT)
MERCHANT_KES = flows.merchant_liability("m1", KES)
ROUNDS = 12


def usdt(value: str) -> Money:
    return Money.of(value, USDT)


@pytest.fixture
def stack(pg_engine: Engine) -> SqlPaymentsStack:
    """Merchant m1, settled instantly over M-Pesa B2C, with a store taking USDT on Tron (1% fee)."""
    stack = SqlPaymentsStack(SqlStorage(pg_engine))
    stack.add_merchant(
        "m1", settlement=SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678")
    )
    return stack


def paid(stack: SqlPaymentsStack, price: str) -> str:
    """An invoice of ``price`` USDT, paid in full and confirmed (the merchant is credited 99%)."""
    invoice = stack.invoicing.create_invoice("m1", usdt(price))
    stack.pay(invoice.id)
    stack.confirm(3)
    return invoice.id


def attempt(call):
    """The call's result, or the CryptopayError it raised (a business refusal the race may end in)."""
    try:
        return call()
    except CryptopayError as error:
        return error


def check_books(stack: SqlPaymentsStack) -> None:
    """The trial balance is zero, no account that may not go negative is, and every pending hold is counted."""
    assert stack.books_balanced(), stack.ledger.trial_balance()
    store = stack.ledger._store
    for balance in store.balances():
        if not balance.account.allow_negative:
            assert not balance.available.is_negative() and not balance.posted.is_negative(), balance
    pending: dict[str, Decimal] = {}
    for hold in store.holds(pending_only=True):
        assert hold.state is HoldState.PENDING
        pending[hold.debit_account] = pending.get(hold.debit_account, Decimal(0)) + hold.amount.amount
    for balance in store.balances():
        assert balance.debits_pending == pending.get(balance.account.code, Decimal(0)), balance


def test_a_refund_and_a_settlement_of_the_same_balance_take_it_once(stack: SqlPaymentsStack) -> None:
    """A refund of 60 and the settlement of the merchant's 99 USDT, at once, 12 times: either the refund holds its
    60 and the settlement sells the other 39, or the settlement sells all 99 and the refund is refused (the balance
    no longer covers it); never both, never a database error."""
    outcomes = []
    for _ in range(ROUNDS):
        invoice_id = paid(stack, "100")
        credited = stack.ledger.balance(MERCHANT_USDT).available
        assert credited == usdt("99")

        def refund() -> Refund | CryptopayError:
            return attempt(
                lambda: stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="user:u1", amount=usdt("60"))
            )

        def settle():
            return attempt(lambda: stack.settling.run_settlements(merchant_id="m1"))

        refunded, settled = race(2, lambda n: refund() if n == 0 else settle())
        assert not isinstance(settled, CryptopayError), settled
        [run] = settled
        converted = run.settlement.converted if run.settlement else usdt("0")
        if isinstance(refunded, Refund):
            outcomes.append("refund first")
            assert converted == usdt("39"), run
        else:
            outcomes.append("settlement first")
            assert isinstance(refunded, Refused) and "no longer covers" in refunded.message, refunded
            assert converted == usdt("99"), run
        assert stack.ledger.balance(MERCHANT_USDT).available == usdt("0")
        check_books(stack)
    print(outcomes)


def test_two_refunds_of_one_invoice_at_once_take_what_it_received_once(stack: SqlPaymentsStack) -> None:
    """Two refunds of 6 USDT of an invoice that received 10, at once, 12 times (the merchant's balance covering
    both): exactly one is held, the other is refused by the invoice's cap."""
    paid(stack, "1000")  # balance enough for both: only the invoice's own cap can refuse
    for _ in range(ROUNDS):
        invoice_id = paid(stack, "10")

        def refund(_: int) -> Refund | CryptopayError:
            return attempt(
                lambda: stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="user:u1", amount=usdt("6"))
            )

        results = race(2, refund)
        held = [r for r in results if isinstance(r, Refund)]
        refused = [r for r in results if not isinstance(r, Refund)]
        assert len(held) == 1 and len(refused) == 1, results
        assert isinstance(refused[0], Refused) and "at most" in refused[0].message, refused
        assert stack.refunds.refundable(invoice_id, "usdt-tron") == usdt("4")
        check_books(stack)


def test_a_refund_of_what_is_owed_racing_a_late_payment_refunds_what_was_confirmed(stack: SqlPaymentsStack) -> None:
    """The default refund (what is owed beyond the price) racing the confirmation of a late payment of 5: it
    refunds the 5 if the payment was confirmed first, else nothing is owed yet (422); never more than received."""
    paid(stack, "1000")
    for _ in range(ROUNDS):
        invoice_id = paid(stack, "10")
        stack.pay(invoice_id, usdt("5"))  # late: the invoice is settled; mined, not yet deep enough
        stack.tick(minutes=1)
        stack.tick(minutes=1)

        def confirm() -> object:
            return attempt(lambda: stack.tick(minutes=1))

        def refund() -> Refund | CryptopayError:
            return attempt(lambda: stack.refunds.refund(invoice_id, address=CUSTOMER, requested_by="user:u1"))

        refunded, confirmed = race(2, lambda n: refund() if n == 0 else confirm())
        assert not isinstance(confirmed, CryptopayError), confirmed
        if isinstance(refunded, Refund):
            assert refunded.amount == usdt("5")
        else:
            assert isinstance(refunded, InvalidInput) and "nothing is owed" in refunded.message, refunded
        assert stack.refunds.refundable(invoice_id, "usdt-tron") == usdt("15") - (
            refunded.amount if isinstance(refunded, Refund) else usdt("0")
        )
        check_books(stack)


def deadlocks(engine: Engine) -> int:
    """The deadlocks PostgreSQL has detected in this database. Its connections are closed first (a backend reports
    its counts when it ends), then the count is read until it stops moving."""
    engine.dispose()
    seen = -1
    for _ in range(30):
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            count = int(conn.scalar(_DEADLOCKS) or 0)
        if count == seen:
            return count
        seen = count
        time.sleep(0.2)
    return seen


_DEADLOCKS = text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
_WAITING = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")


_PUBLISHED = text("SELECT count(*) FROM outbox WHERE topic = :topic AND key = :key")
_AUDITED = text("SELECT count(*) FROM audit_log WHERE action = :action AND subject = :subject")


@contextmanager
def holding(engine: Engine, *codes: str) -> Iterator[Callable[[int], None]]:
    """Lock the balance rows of ``codes`` from a transaction of the test's own until the block ends; the block gets
    ``wait_for(n)``, which returns once ``n`` other transactions are waiting for a lock."""
    with engine.connect() as conn, engine.connect() as watcher, conn.begin():
        conn.execute(text("SELECT code FROM ledger_accounts WHERE code = ANY(:c) FOR UPDATE"), {"c": list(codes)})

        def wait_for(waiters: int) -> None:
            for _ in range(500):
                if watcher.scalar(_WAITING) >= waiters:
                    return
                watcher.rollback()
                time.sleep(0.01)
            raise AssertionError(f"{waiters} transactions never queued for a lock")

        yield wait_for


def started(call: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """``call`` on a thread of its own, started; its result (or the error it raised) lands in the list."""
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(attempt(call)))
    thread.start()
    return thread, out


def test_a_refund_confirmed_while_a_payment_is_credited_takes_the_accounts_in_code_order(
    stack: SqlPaymentsStack, pg_engine: Engine
) -> None:
    """The worker confirming a refund (its hold posted, custody paid out) and detection crediting another payment
    of the same merchant on the same rail both lock custody and the merchant's balance: in code order, so the two
    queue and never deadlock. Lined up for it: the merchant's balance row is held while the confirmation queues for
    it and then the credit does; once it is released, PostgreSQL's deadlock count has not moved and both are done."""
    paid(stack, "1000")
    refund = stack.refunds.refund(paid(stack, "10"), address=CUSTOMER, requested_by="user:u1", amount=usdt("1"))
    stack.refunds.send_refunds()
    stack.senders["tron"].finish(refund.id, TxState.CONFIRMED)
    late = stack.invoicing.create_invoice("m1", usdt("10"))
    stack.pay(late.id)
    stack.tick(minutes=1)  # two blocks deep: the next one confirms it
    before = deadlocks(pg_engine)
    with holding(pg_engine, MERCHANT_USDT) as wait_for:
        confirming, confirmed = started(stack.refunds.check_refunds)
        wait_for(1)
        crediting, credited = started(lambda: stack.tick(minutes=1))
        wait_for(2)
    joined(confirming, crediting)
    assert not isinstance(confirmed[0], CryptopayError) and not isinstance(credited[0], CryptopayError)
    assert stack.refunds.get_refund(refund.id).state is RefundState.CONFIRMED
    assert stack.invoice(late.id).state is InvoiceState.SETTLED
    check_books(stack)
    assert deadlocks(pg_engine) == before


def test_two_workers_confirming_one_refund_publish_it_once(stack: SqlPaymentsStack) -> None:
    """Two workers following the same sent refund at once, 12 times: the hold is posted once, and refund.confirmed
    is published and audited once per refund (the second worker finds it confirmed)."""
    paid(stack, "1000")
    for _ in range(ROUNDS):
        refund = stack.refunds.refund(paid(stack, "10"), address=CUSTOMER, requested_by="user:u1", amount=usdt("1"))
        stack.refunds.send_refunds()
        stack.senders["tron"].finish(refund.id, TxState.CONFIRMED)
        results = race(2, lambda _: attempt(stack.refunds.check_refunds))
        assert not any(isinstance(r, CryptopayError) for r in results), results
        with stack.storage.engine.connect() as conn:
            confirmed = conn.scalar(_PUBLISHED, {"topic": "refund.confirmed", "key": refund.id})
            audited = conn.scalar(_AUDITED, {"action": "refund.confirmed", "subject": f"refund:{refund.id}"})
        assert (confirmed, audited) == (1, 1)
        check_books(stack)


def test_two_merchants_settling_different_assets_at_once_take_the_accounts_in_code_order(
    stack: SqlPaymentsStack, pg_engine: Engine
) -> None:
    """m1 holds USDT and BTC, m2 BTC only, and both settle at once: each settlement locks every balance it moves (the
    merchant's, the trading accounts, the spread, the payouts in flight) up front in code order, so they queue and
    never deadlock. Lined up for it: USDT's trading account is held while m1's settlement queues for it and then
    m2's does; once it is released, PostgreSQL's deadlock count has not moved and both settled."""
    stack.rates.set("BTC/KES", "9000000")
    stack.add_merchant(
        "m2", settlement=SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254722000000")
    )
    paid(stack, "100")
    for merchant in ("m1", "m2"):
        flows.open_platform_accounts(stack.ledger, merchant, "bitcoin", BTC)
        flows.credit_invoice_payment(
            stack.ledger,
            invoice_id=f"inv_btc_{merchant}",
            merchant_id=merchant,
            network="bitcoin",
            received=Money.of("0.001", BTC),
            fees=stack.merchant_fee("BTC", "0"),
        )
    before = deadlocks(pg_engine)
    with holding(pg_engine, trading_account("USDT")) as wait_for:
        first, first_run = started(lambda: stack.settling.run_settlements(merchant_id="m1"))
        wait_for(1)
        second, second_run = started(lambda: stack.settling.run_settlements(merchant_id="m2"))
        wait_for(2)
    joined(first, second)
    for result in (first_run, second_run):
        assert not isinstance(result[0], CryptopayError), result
        [run] = result[0]
        assert run.settlement is not None and run.payouts, run
    sold = [flows.merchant_liability(m, a) for m in ("m1", "m2") for a in (USDT, BTC)]
    balances = stack.ledger.balances(sold)
    assert len(balances) == 3 and all(b.available.is_zero() for b in balances.values()), balances  # m2 has no USDT
    check_books(stack)
    assert deadlocks(pg_engine) == before


def test_a_refund_racing_a_reorg_of_its_payment_is_never_sent(stack: SqlPaymentsStack) -> None:
    """A refund of 6 racing a reorganisation that drops the block of the invoice's only payment, 12 times: it is
    refused (nothing confirmed is left to refund), or it was held while the payment still counted, the payment's credit
    is reversed from the merchant's other funds, and the worker fails it instead of sending it (its hold voided, a
    refund.failed webhook): the customer is never paid for a payment that left the chain. No error, books balanced."""
    paid(stack, "1000")  # the merchant's other funds: a reversal is always covered
    chain = stack.chains["tron"]
    for _ in range(ROUNDS):
        invoice_id = paid(stack, "10")
        before = stack.ledger.balance(MERCHANT_USDT).available

        def reorg() -> object:
            chain.reorg(4)  # the payment's block and the three above it
            return attempt(stack.sync)

        def refund() -> Refund | CryptopayError:
            return attempt(
                lambda: stack.refunds.refund(
                    invoice_id, address=CUSTOMER, requested_by="user:u1", amount=usdt("6"), rail="usdt-tron"
                )
            )

        refunded, reorganised = race(2, lambda n: refund() if n == 0 else reorg())
        assert not isinstance(reorganised, CryptopayError), reorganised
        assert isinstance(refunded, Refund | Refused), refunded
        sent = stack.refunds.send_refunds()
        assert [r.state for r in sent] == ([RefundState.FAILED] if isinstance(refunded, Refund) else []), sent
        assert stack.ledger.balance(MERCHANT_USDT).available == before - usdt("9.9")  # the reversal alone
        assert stack.senders["tron"].sent == {}
        stack.tick(minutes=1)  # the chain grows past the dropped blocks again
        check_books(stack)


def test_a_refund_on_a_desk_invoice_racing_the_worker_that_funds_its_order_never_takes_the_price(
    pg_engine: Engine, sql_pg_url: str
) -> None:
    """A remittance order paid (its desk invoice settled), then a refund of its price and the worker's advance at
    once, 6 times: the refund is refused whichever commits first (the order's price is spoken for before funding and
    taken after), the advance never fails, and every order is funded and paid out from its own coins."""
    from cryptopay.core.remittances import DESK, RemittanceState

    from tests.support.remittance_stack import remittance_stack
    from tests.support.sql_backends import sql_backend

    backend = sql_backend("sql", sql_pg_url)
    try:
        stack = remittance_stack(backend)
        orders = []
        for _ in range(6):
            order = stack.order(amount="1500")
            stack.pay(order)
            stack.confirm()
            orders.append(order)

            def refund(order=order) -> Refund | CryptopayError:
                return attempt(
                    lambda: stack.refunds.refund(
                        order.invoice_id, address=CUSTOMER, requested_by="ops:test", rail="usdt-tron", amount=order.usdt
                    )
                )

            refunded, advanced = race(2, lambda n: refund() if n == 0 else attempt(stack.remittances.advance))
            assert isinstance(refunded, Refused) and not isinstance(advanced, CryptopayError), (refunded, advanced)
        stack.run()
        assert {stack.get(order).state for order in orders} == {RemittanceState.PAID_OUT}
        assert stack.ledger.balance(flows.merchant_liability(DESK, USDT)).available.is_zero()
        assert stack.books_balanced()
    finally:
        backend.engine.dispose()
