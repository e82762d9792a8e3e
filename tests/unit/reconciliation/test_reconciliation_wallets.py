"""Reconciliation of the personal wallets on the in-memory fakes: buys against M-Pesa collections, claims against
the transfers awaiting them, claims past their window, wallet payouts among the payouts, balances never negative."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptopay.core.flows import FLOAT, MPESA_COLLECTIONS, wallet_account, wallet_claims
from cryptopay.core.ledger import Account, AccountBalance, AccountKind
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.reconciliation import CHECKS, Outside, Reconciliation, Report
from cryptopay.core.reconciliation.wallets import wallet_balances_hold
from cryptopay.core.wallets.buys import BuyState
from cryptopay.core.wallets.claims import return_expired_claims

from tests.support.wallet_stack import WalletStack, wallet_stack

WALLET_CHECKS = {"wallet-balances", "wallet-buys", "wallet-claims", "claims-returned"}


@pytest.fixture
def stack() -> WalletStack:
    return wallet_stack()


def reconcile(stack: WalletStack) -> Report:
    """The reconciliation the shells run, over this stack's storage, with the wallets given."""
    books = stack.backend.uow
    return Reconciliation(uow=books, ledger=stack.ledger, clock=stack.clock, wallets=books).reconcile()


def differences(report: Report, name: str) -> list[tuple[str, str, str]]:
    (result,) = [r for r in report.results if r.check.name == name]
    assert not result.skipped, result.skipped
    return [(d.subject, d.expected, d.actual) for d in result.differences]


def unclean(report: Report) -> dict[str, list[tuple[str, str, str]]]:
    return {r.check.name: differences(report, r.check.name) for r in report.results if r.differences}


def journey(stack: WalletStack):
    """Amina buys USDT by STK Push, sends shillings to a number with no wallet, and sells USDT (B2C not sent yet)."""
    amina = stack.sign_up("0712000001", tier=1)
    buy = stack.buys.start(amina.id, Money.of(1000, KES))
    stack.deliver_callbacks()
    assert stack.buys.get(buy.id).state is BuyState.CREDITED
    stack.fund(amina, "300", "KES")
    waiting = stack.wallets.send(amina.id, "0733000003", Money.of(120, KES))
    sale = stack.sells.start(amina.id, Money.of(5, USDT))
    return amina, buy, waiting, sale


def test_every_wallet_check_is_registered_and_skipped_without_a_wallet_store(stack):
    """The four wallet checks are in CHECKS; a reconciliation with no wallet store skips them, saying why."""
    assert {c.name for c in CHECKS if c.area == "wallets"} >= WALLET_CHECKS
    report = Reconciliation(uow=stack.backend.uow, ledger=stack.ledger, clock=stack.clock).reconcile()
    skipped = {r.check.name: r.skipped for r in report.results if r.check.area == "wallets"}
    assert set(skipped) == WALLET_CHECKS and set(skipped.values()) == {"no wallet store is configured"}


def test_wallet_books_that_agree_reconcile_clean_with_a_sale_in_flight(stack):
    """A credited buy, a claim waiting, a sale's payout planned: every check (payouts' in-flight too) is clean."""
    _, _, _, sale = journey(stack)
    report = reconcile(stack)
    assert report.clean, unclean(report)
    assert not any(r.skipped for r in report.results if r.check.area == "wallets")
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    assert stack.sells.get(sale.payout.merchant_id, sale.id).state == "completed"
    report = reconcile(stack)
    assert report.clean, unclean(report)


def test_the_sale_payout_of_a_wallet_is_checked_like_a_merchants(stack):
    """Without the wallet store, the sale's hold sits in flight unexplained; with it, it is matched to its payout."""
    _, _, _, sale = journey(stack)
    alone = Reconciliation(uow=stack.backend.uow, ledger=stack.ledger, clock=stack.clock).reconcile()
    [(_subject, expected, actual)] = differences(alone, "in-flight")
    held = sale.payout.amount + sale.payout.charge
    assert (expected, actual) == ("0.00 KES held for 0 payouts in flight", f"{held} pending")
    assert differences(reconcile(stack), "in-flight") == []
    assert differences(reconcile(stack), "payout-holds") == []


def test_shillings_taken_out_of_collections_behind_the_buys_back_are_reported(stack):
    """Someone moves KES 50 of the STK takings to the float without a record: collections no longer match the buys."""
    journey(stack)
    stack.ledger.transfer("move-takings", debit=FLOAT, credit=MPESA_COLLECTIONS, amount=Money.of(50, KES))
    [(subject, expected, actual)] = differences(reconcile(stack), "wallet-buys")
    assert subject == MPESA_COLLECTIONS
    assert (expected, actual) == ("1000.00 KES from 1 credited buys", "950.00 KES in the books")


def test_a_buy_marked_credited_without_its_entry_is_reported(stack):
    """A buy whose record says credited but whose ledger entry is missing (and whose shillings never came)."""
    amina = stack.sign_up("0712000002", tier=1)
    buy = stack.buys.start(amina.id, Money.of(400, KES))  # prompted; the callback has not come
    with stack.backend.uow() as uow:
        record = uow.wallet_buys.get(buy.id, lock=True)
        record.state = BuyState.CREDITED
        uow.wallet_buys.update(record)
    found = differences(reconcile(stack), "wallet-buys")
    assert (f"buy {buy.id} (credited)", f"entry buy:{buy.id}:credit", "no ledger entry") in found
    assert (MPESA_COLLECTIONS, "400.00 KES from 1 credited buys", "0.00 KES in the books") in found


def test_a_claims_account_that_does_not_match_the_waiting_transfers_is_reported(stack):
    """KES 30 booked to the claims account with no transfer behind it."""
    amina, *_ = journey(stack)
    stack.ledger.transfer(
        "stray-claim", debit=wallet_account(amina.id, KES), credit=wallet_claims(KES), amount=Money.of(30, KES)
    )
    [found] = differences(reconcile(stack), "wallet-claims")
    assert found == ("liabilities:wallet_claims:KES", "120.00 KES awaiting 1 claims", "150.00 KES in the books")


def test_a_claim_left_past_its_window_is_reported_until_it_is_returned(stack):
    """Seven days and two hours on, the unclaimed transfer still waits: reported; the worker's job returns it."""
    _, _, waiting, _ = journey(stack)
    stack.clock.advance(days=7, hours=2)
    [(subject, _expected, actual)] = differences(reconcile(stack), "claims-returned")
    assert subject == f"transfer {waiting.id} (awaiting_claim)" and actual == "still awaiting a claim"
    [result] = [r for r in reconcile(stack).results if r.check.name == "claims-returned"]
    [detail] = [d.detail for d in result.differences]
    phone = waiting.recipient_phone
    assert detail == f"{waiting.amount} to {phone[:4]}******{phone[-2:]}" and phone not in detail  # masked
    assert return_expired_claims(stack.backend.uow, stack.ledger, now=stack.clock.now()) == 1
    report = reconcile(stack)
    assert report.clean, unclean(report)


def test_within_the_grace_an_expired_claim_is_not_yet_a_difference(stack):
    """Half an hour past the window the worker (every ten minutes) may simply not have run yet."""
    journey(stack)
    stack.clock.advance(days=7, minutes=30)
    assert differences(reconcile(stack), "claims-returned") == []


def test_a_negative_wallet_or_holds_beyond_its_balance_are_reported():
    """The rule itself, on balances the ledger would refuse to produce."""
    from datetime import UTC, datetime

    from cryptopay.core.reconciliation import Records
    from cryptopay.core.reconciliation.model import WalletBooks

    def owed(code: str, **totals: Decimal) -> AccountBalance:
        return AccountBalance(Account(code, AccountKind.LIABILITY, KES, allow_negative=True), **totals)

    negative = owed("liabilities:wallet:usr_1:KES", debits_posted=Decimal(5))
    overheld = owed("liabilities:wallet:usr_2:KES", credits_posted=Decimal(100), debits_pending=Decimal(150))
    fine = owed("liabilities:wallet:usr_3:KES", credits_posted=Decimal(100), debits_pending=Decimal(100))
    books = WalletBooks(
        wallets=3,
        balances={b.account.code: b for b in (negative, overheld, fine)},
        claims={},
        waiting=(),
        overdue=(),
        buys=(),
        buy_entries={},
        collections=Money.zero(KES),
    )
    records = Records(
        invoices=(),
        credits=(),
        refunds=(),
        payouts=(),
        custody={},
        in_flight=None,
        float_balance=None,
        holds={},
        credit_entries={},
        trial_balance={},
        at=datetime(2026, 3, 2, tzinfo=UTC),
        wallets=books,
    )
    found = [(d.subject, d.expected, d.actual) for d in wallet_balances_hold(records)]
    assert found == [
        ("liabilities:wallet:usr_1:KES", "never negative", "-5.00 KES posted"),
        ("liabilities:wallet:usr_2:KES", "holds within 100.00 KES posted", "150.00 KES held"),
    ]


def test_reconciliation_reads_every_wallet(stack):
    """Every wallet's accounts are in the snapshot, a wallet with nothing yet included."""
    users = [stack.sign_up(f"07120001{i:02d}") for i in range(3)]
    reconciliation = Reconciliation(
        uow=stack.backend.uow, ledger=stack.ledger, clock=stack.clock, wallets=stack.backend.uow
    )
    books = reconciliation.snapshot(Outside()).wallets
    assert books is not None and books.wallets == len(users)
    assert all(wallet_account(u.id, asset) in books.balances for u in users for asset in (KES, USDT))


def test_the_held_sends_account_holds_exactly_the_sends_held_for_a_frozen_recipient(stack):
    """Review4 R6: a send to a frozen recipient waits in ``p2p_held``: clean while it holds the held send, reported
    when it holds more, clean again once an officer returned the send."""
    from cryptopay.core.flows import p2p_held

    amina, *_ = journey(stack)
    baraka = stack.sign_up("0712000002", tier=1)
    stack.wallets.freeze(baraka.id, reason="reported stolen phone", actor="admin:ops")
    held = stack.wallets.send(amina.id, "0712000002", Money.of(60, KES))
    assert differences(reconcile(stack), "wallet-claims") == []
    stack.ledger.transfer(
        "stray-held", debit=wallet_account(amina.id, KES), credit=p2p_held(KES), amount=Money.of(5, KES)
    )
    [found] = differences(reconcile(stack), "wallet-claims")
    assert found == ("liabilities:p2p_held:KES", "60.00 KES held in 1 sends", "65.00 KES in the books")
    stack.wallets.held_sends().return_to_sender(held.id, officer="usr_officer", note="stolen phone")
    stack.wallets.held_sends().approve(held.id, officer="usr_second")  # four-eyes
    [found] = differences(reconcile(stack), "wallet-claims")
    assert found == ("liabilities:p2p_held:KES", "nothing held in 0 sends", "5.00 KES in the books")
