"""Settlement racing the other writers of the balances it moves, on PostgreSQL with real threads.

1. A merchant's multi-asset settlement (USDT, USDC and BTC sold for shillings and paid out) against a refund paid in
   one of those assets and the refund worker confirming an earlier one: they meet on the merchant's balance of that
   asset, which the settlement locks up front with every balance it moves (``Settling._lock_books``) and the refund
   locks when it holds its amount (``Ledger.hold``) or posts it (``Ledger.post_hold_and_pay``).
2. Personal wallets selling USDT for shillings (``Sells.start``: the sale through the trading accounts, then the B2C
   payout's hold) against a settlement converting through the same trading accounts, the FX spread and the payouts in
   flight.

Every round checks the books (``check_books``: trial balance zero, no account that may not go negative is, every
pending hold counted), that each side got all of its money or a business refusal (never a database error, never a
retry exhausted), and that the settlement sold exactly what the others left. The lined-up tests hold a row while
both sides queue for it, then check that PostgreSQL's deadlock count has not moved.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptopay.adapters.sql.uow import SqlStorage
from cryptopay.core import flows
from cryptopay.core.errors import CryptopayError, Refused
from cryptopay.core.ledger import trading_account
from cryptopay.core.money import BTC, USDC, USDT, Asset, Money
from cryptopay.core.payments import Refund, RefundState
from cryptopay.core.payouts import PayoutState
from cryptopay.core.ports.chains import TxState
from cryptopay.core.settlement import SettlementMethod, SettlementProfile, SettlementSchedule
from cryptopay.core.wallets.sells import Sale
from sqlalchemy.engine import Engine

from tests.contract.test_payments_repository_contract import SqlPaymentsStack
from tests.integration.sql.test_refund_settlement_races import attempt, check_books, deadlocks, holding, started
from tests.support.sql_backends import Backend
from tests.support.sql_engines import race
from tests.support.threads import joined
from tests.support.wallet_stack import WalletStack, wallet_stack

ROUNDS = 20
ASSETS = (USDT, USDC, BTC)
RAILS = {USDT: "usdt-tron", USDC: "usdc-ethereum", BTC: "btc-bitcoin"}
PRICES = {USDT: "20", USDC: "20", BTC: "0.0002"}  # the merchant is credited 99% of each (1% fee)
REFUNDS = {USDT: "12", USDC: "12", BTC: "0.00012"}  # more than half: after a settlement, never covered
CUSTOMERS = {
    USDT: "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
    USDC: "0x52908400098527886E0F7030069857D2E4169EE7",
    BTC: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
}


def liability(asset: Asset, merchant_id: str = "m1") -> str:
    return flows.merchant_liability(merchant_id, asset)


@pytest.fixture
def stack(pg_engine: Engine) -> SqlPaymentsStack:
    """Merchant m1, settled instantly over M-Pesa B2C, taking USDT on Tron, USDC on Ethereum and BTC (1% fee)."""
    stack = SqlPaymentsStack(SqlStorage(pg_engine), networks=("tron", "ethereum", "bitcoin"))
    stack.rates.set("USDC/KES", "129")
    stack.rates.set("USDC/USD", "1")
    stack.rates.set("BTC/KES", "9000000")
    stack.add_merchant(
        "m1",
        settlement=SettlementProfile(SettlementSchedule.INSTANT, SettlementMethod.MPESA_B2C, "254712345678"),
        rails=tuple(RAILS.values()),
    )
    return stack


def paid_in_every_asset(stack: SqlPaymentsStack) -> dict[Asset, str]:
    """An invoice per asset, each paid in full on its rail and confirmed: the invoices by asset."""
    invoices = {}
    for asset in ASSETS:
        invoice = stack.invoicing.create_invoice("m1", Money.of(PRICES[asset], asset), rails=[RAILS[asset]])
        stack.pay(invoice.id)
        invoices[asset] = invoice.id
    stack.confirm(3)
    return invoices


def sold(run: object) -> dict[Asset, Money]:
    """What a settlement run converted, by asset (nothing when it planned no settlement)."""
    settlement = getattr(run, "settlement", None)
    conversions = settlement.conversions if settlement is not None else ()
    return {c.converted.asset: c.converted for c in conversions}


def test_a_multi_asset_settlement_and_a_refund_in_one_of_its_assets_take_that_balance_once(
    stack: SqlPaymentsStack,
) -> None:
    """Each round the merchant is credited USDT, USDC and BTC; then at once, 20 times (the refunded asset taking
    turns): a refund of more than half of one asset's credit, the worker confirming the refund held the round before,
    and the settlement of everything. The refund is held and later paid in full (the settlement selling the rest of
    that asset and all of the others), or refused because the settlement sold it first (it sold everything); the
    confirmation never fails and never changes what the settlement may sell; the books balance after every round."""
    outcomes: list[str] = []
    held: list[Refund] = []
    for n in range(ROUNDS):
        asset = ASSETS[n % len(ASSETS)]
        invoices = paid_in_every_asset(stack)
        credited = {a: stack.ledger.balance(liability(a)).available for a in ASSETS}
        assert credited == {a: Money.of(Decimal(PRICES[a]) * Decimal("0.99"), a) for a in ASSETS}, credited

        def refund(asset: Asset = asset, invoices: dict[Asset, str] = invoices) -> Refund | CryptopayError:
            return attempt(
                lambda: stack.refunds.refund(
                    invoices[asset],
                    address=CUSTOMERS[asset],
                    requested_by="user:u1",
                    amount=Money.of(REFUNDS[asset], asset),
                )
            )

        def work(i: int) -> object:
            if i == 0:
                return refund()
            if i == 1:
                return attempt(lambda: stack.settling.run_settlements(merchant_id="m1"))
            return attempt(stack.refunds.check_refunds)

        refunded, settled, confirmed = race(3, work)
        assert not isinstance(settled, CryptopayError), settled
        assert not isinstance(confirmed, CryptopayError), confirmed
        [run] = settled
        assert run.settlement is not None and run.payouts, run
        others = {a: credited[a] for a in ASSETS if a != asset}
        if isinstance(refunded, Refund):
            outcomes.append(f"{asset.code}: refund first")
            held.append(refunded)
            assert sold(run) == {**others, asset: credited[asset] - refunded.amount}, run
        else:
            outcomes.append(f"{asset.code}: settlement first")
            assert isinstance(refunded, Refused) and "no longer covers" in refunded.message, refunded
            assert sold(run) == credited, run
        assert all(stack.ledger.balance(liability(a)).available.is_zero() for a in ASSETS)
        check_books(stack)
        if isinstance(refunded, Refund):  # sent now, confirmed on the chain: the next round's worker posts it
            [sent] = stack.refunds.send_refunds()
            assert sent.state is RefundState.SENT, sent
            stack.senders[sent.network].finish(sent.id, TxState.CONFIRMED)
    stack.refunds.check_refunds()
    assert {stack.refunds.get_refund(r.id).state for r in held} <= {RefundState.CONFIRMED}, held
    for asset in ASSETS:  # every refund held was paid in full: nothing is in flight, custody paid it
        in_flight = stack.ledger.balances([f"liabilities:withdrawals_in_flight:{asset.code}"])
        assert all(b.posted.is_zero() and b.available.is_zero() for b in in_flight.values()), in_flight
    check_books(stack)
    print(outcomes)


def test_a_refund_and_a_multi_asset_settlement_queued_on_one_balance_do_not_deadlock(
    stack: SqlPaymentsStack, pg_engine: Engine
) -> None:
    """Lined up: the merchant's BTC balance is held while the settlement (USDT, USDC and BTC; it has locked the
    trading accounts before it) queues for it and then a BTC refund does; once released, both are done (the refund
    held from what the settlement left, or refused), the books balance and PostgreSQL's deadlock count has not moved."""
    invoices = paid_in_every_asset(stack)
    before = deadlocks(pg_engine)
    with holding(pg_engine, liability(BTC)) as wait_for:
        settling, settled = started(lambda: stack.settling.run_settlements(merchant_id="m1"))
        wait_for(1)
        refunding, refunded = started(
            lambda: stack.refunds.refund(
                invoices[BTC], address=CUSTOMERS[BTC], requested_by="user:u1", amount=Money.of(REFUNDS[BTC], BTC)
            )
        )
        wait_for(2)
    joined(settling, refunding)
    assert not isinstance(settled[0], CryptopayError), settled
    assert isinstance(refunded[0], Refund | Refused), refunded
    assert all(stack.ledger.balance(liability(a)).available.is_zero() for a in ASSETS)
    check_books(stack)
    assert deadlocks(pg_engine) == before


# --- wallet sales and a settlement on the trading accounts, the FX spread and the payouts in flight -----------------
SELLERS = ("0712000001", "0712000002")
SOLD = Money.of("10", USDT)


@pytest.fixture
def sellers(stack: SqlPaymentsStack, pg_engine: Engine) -> tuple[WalletStack, list[str]]:
    """The personal-wallet use cases on the same database and clock as ``stack``, and two tier-1 wallets holding 300
    USDT each. Their sales' payouts are sent and answered through ``stack.payouts`` (one M-Pesa for everyone)."""
    wallets = wallet_stack(Backend("postgres", SqlStorage(pg_engine), pg_engine), clock=stack.clock)
    users = []
    for phone in SELLERS:
        user = wallets.sign_up(phone, tier=1)
        wallets.fund(user, "300", "USDT")
        users.append(user.id)
    return wallets, users


def test_wallet_sales_and_a_settlement_through_the_same_trading_accounts_each_move_their_own_money(
    stack: SqlPaymentsStack, sellers: tuple[WalletStack, list[str]], pg_engine: Engine
) -> None:
    """Each round the merchant is credited USDT, USDC and BTC; then at once, 20 times: two wallets each sell 10 USDT
    (the sale through the trading accounts and the FX spread, then its payout's hold into the payouts in flight), the
    merchant's settlement sells everything through the same accounts and holds its payouts there too, and M-Pesa's
    answers to the previous round's payouts complete them (each posting its hold out of the payouts in flight). Every
    sale and the settlement succeed, each moving exactly its own amounts (the trading accounts' balances are the sum of
    what was sold into them), every hold is counted once, and the books balance."""
    wallets, users = sellers
    before = deadlocks(pg_engine)
    expected_usdt = Money.zero(USDT)  # no USDT was sold into the trading account yet
    for _ in range(ROUNDS):
        paid_in_every_asset(stack)
        credited = stack.ledger.balance(liability(USDT)).available

        def work(i: int) -> object:
            if i < len(users):
                return attempt(lambda: wallets.sells.start(users[i], SOLD))
            if i == len(users):
                return attempt(lambda: stack.settling.run_settlements(merchant_id="m1"))
            return attempt(stack.deliver_callbacks)

        *sales, settled, answered = race(len(users) + 2, work)
        assert all(isinstance(s, Sale) for s in sales), sales
        assert not isinstance(settled, CryptopayError) and not isinstance(answered, CryptopayError), (settled, answered)
        [run] = settled
        assert run.settlement is not None and run.payouts, run
        assert sold(run)[USDT] == credited
        expected_usdt += credited + Money.of(
            SOLD.amount * len(users), USDT
        )  # Cr trading:USDT: what the merchant and the wallets sold
        assert stack.ledger.balance(trading_account("USDT")).posted == expected_usdt
        assert all(stack.ledger.balance(liability(a)).available.is_zero() for a in ASSETS)
        check_books(stack)
        stack.payouts.submit_payouts()  # M-Pesa's answers arrive during the next round
    stack.deliver_callbacks()
    in_flight = stack.ledger.balance(flows.IN_FLIGHT)
    assert in_flight.posted.is_zero() and in_flight.available.is_zero(), in_flight
    for user_id in users:
        assert wallets.wallets.balances(user_id)["USDT"] == Money.of(300 - SOLD.amount * ROUNDS, USDT)
    check_books(stack)
    assert deadlocks(pg_engine) == before  # 2 in 20 rounds when a sale locked the payouts in flight after the rest


def test_a_wallet_sale_and_the_answer_to_its_earlier_payout_queued_on_the_payouts_in_flight_do_not_deadlock(
    stack: SqlPaymentsStack, sellers: tuple[WalletStack, list[str]], pg_engine: Engine
) -> None:
    """A wallet sold 10 USDT and its payout is at M-Pesa. Lined up: the payouts in flight are held while M-Pesa's
    success answer queues for them (its completion posts the hold: the float, the payouts in flight, the wallet's KES)
    and then the wallet's next sale does (it moves the wallet's KES, the trading accounts, the spread and the payouts
    in flight). Once released both are done, nothing is in flight but the new sale's payout, and PostgreSQL's deadlock
    count has not moved."""
    wallets, [user_id, _] = sellers
    first = wallets.sells.start(user_id, SOLD)
    stack.payouts.submit_payouts()
    before = deadlocks(pg_engine)
    with holding(pg_engine, flows.IN_FLIGHT) as wait_for:
        answering, answered = started(stack.deliver_callbacks)
        wait_for(1)
        selling, second = started(lambda: wallets.sells.start(user_id, SOLD))
        wait_for(2)
    joined(answering, selling)
    assert not isinstance(answered[0], CryptopayError), answered
    assert isinstance(second[0], Sale), second
    assert stack.payouts.get_payout(first.payout.id).state is PayoutState.COMPLETED
    in_flight = stack.ledger.balance(flows.IN_FLIGHT)
    assert (
        in_flight.posted.is_zero()
        and in_flight.credits_pending == (second[0].payout.amount + second[0].payout.charge).amount
    )
    check_books(stack)
    assert deadlocks(pg_engine) == before
