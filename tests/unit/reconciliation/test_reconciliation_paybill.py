"""``mpesa-collections`` and ``wallet-buys`` account for payments to our paybill outside an STK prompt (C2B):
a booked one matches its statement row by TransID; one M-Pesa collected that our books lack, one we returned that
M-Pesa did not reverse, and a suspense account that does not hold the waiting payments are differences."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.core import flows
from cryptopay.core.ledger import Account, AccountKind
from cryptopay.core.mobile_money import ReversalRequest, parse_payload
from cryptopay.core.money import KES, Money
from cryptopay.core.reconciliation import Outside, Reconciliation, Report, parse_statement, render_statement
from cryptopay.core.testing.mobile_money import Scenario
from cryptopay.core.testing.mpesa_statement import statement_of
from cryptopay.core.wallets.paybill import PaybillState

from tests.support.paybill import answer_reversal, credit, give_back, pay, registered, returned_by_hand, verified
from tests.support.wallet_stack import WalletStack, wallet_stack
from tests.unit.reconciliation.test_reconciliation_statement_rows import differences


@pytest.fixture
def stack() -> WalletStack:
    return wallet_stack()


def reconcile(stack: WalletStack) -> Report:
    """Our books against the fake M-Pesa's statement, as an operator downloads it."""
    books = stack.backend.uow
    reconciliation = Reconciliation(uow=books, ledger=stack.ledger, clock=stack.clock, wallets=books, paybill=books)
    statement = parse_statement(render_statement(statement_of(stack.mpesa)))
    return reconciliation.reconcile(Outside(statement=statement))


def checked(report: Report) -> list[tuple[str, str, str]]:
    return differences(report, "mpesa-collections") + differences(report, "wallet-buys")


def test_paybill_payments_credited_held_released_and_returned_reconcile_clean(stack: WalletStack) -> None:
    """One credited, one released from suspense, one waiting there: each is its statement row; a returned one
    reconciles once M-Pesa's reversal of it is on the statement too."""
    amina = stack.sign_up("0712000001")
    desk, _ = registered(stack)
    pay(stack, desk, "0799000001", 1500, "0712000001")
    stranger = pay(stack, desk, "0799000002", 300, "acc 17")
    pay(stack, desk, "0799000003", 200, "acc 18")
    big = pay(stack, desk, "0799000004", 6000, "0712000001")
    credit(desk, stranger.id, amina.id, note="the payer called")
    assert checked(reconcile(stack)) == []
    returned_by_hand(stack, big.id, note="over the limit")  # before returns were four-eyes
    found = checked(reconcile(stack))
    subject = f"paybill payment {big.id} (returned)"
    assert (subject, "reversed by M-Pesa (returned to its payer)", "not reversed") in found
    urls = {"result_url": "https://example.test/r", "timeout_url": "https://example.test/t"}
    stack.mpesa.reversal(ReversalRequest(transaction_id=big.trans_id, amount=big.kes, **urls))  # as the portal does
    stack.mpesa.complete_open()
    assert checked(reconcile(stack)) == []


def test_a_paybill_payment_mpesa_collected_and_our_books_lack_is_reported(stack: WalletStack) -> None:
    """The confirmation never reached us: the statement's C2B row is a collection none of ours carries."""
    stack.sign_up("0712000001")
    registered(stack)
    receipt = stack.mpesa.simulate_c2b("0799000001", 700, "0712000001")
    stack.mpesa.outbox.clear()  # lost on its way
    found = checked(reconcile(stack))
    assert (f"receipt {receipt}", "a buy of ours", "none in our books") in found


def test_a_booked_paybill_payment_missing_from_the_statement_and_a_short_suspense_are_reported(
    stack: WalletStack,
) -> None:
    """A payment our books hold that M-Pesa's statement lacks, and a suspense account the ledger moved behind the
    payments' backs, are differences."""
    desk, _ = registered(stack)
    held = pay(stack, desk, "0799000001", 300, "nobody")
    assert held.state is PaybillState.SUSPENDED
    stack.ledger.open_account(Account("assets:elsewhere:KES", AccountKind.ASSET, KES, allow_negative=True))
    stack.ledger.transfer(
        "test:suspense", debit=flows.PAYBILL_SUSPENSE, credit="assets:elsewhere:KES", amount=Money.of(100, KES)
    )
    found = checked(reconcile(stack))
    expected = f"{Money.of(300, KES)} from 1 paybill payments in suspense"
    assert (flows.PAYBILL_SUSPENSE, expected, f"{Money.of(200, KES)} in the books") in found
    statement = statement_of(stack.mpesa)
    lines = tuple(line for line in statement.lines if line.receipt != held.trans_id)
    without = attrs.evolve(statement, lines=lines, period=statement.covers)
    books = stack.backend.uow
    report = Reconciliation(uow=books, ledger=stack.ledger, clock=stack.clock, wallets=books, paybill=books).reconcile(
        Outside(statement=without)
    )
    assert (
        f"paybill payment {held.id} (suspended)",
        f"receipt {held.trans_id} on M-Pesa's statement",
        "not on it",
    ) in (differences(report, "mpesa-collections"))


def test_a_forged_confirmation_never_verified_is_not_in_the_books_reconciliation_expects(stack: WalletStack) -> None:
    """A confirmation of a TransID M-Pesa does not know ends unverified with nothing booked: reconciliation neither
    expects it on the statement nor counts it in the collections; the genuine one beside it reconciles."""
    stack.sign_up("0712000001")
    desk, token = registered(stack)
    pay(stack, desk, "0799000001", 1500, "0712000001")
    stack.mpesa.simulate_c2b("0799000002", 100, "0712000001")
    delivery = stack.mpesa.outbox.pop()
    stack.mpesa.outbox.clear()
    forged = desk.confirm(parse_payload({**delivery.payload, "TransID": "FORGED0002"}), token=token)
    stack.clock.advance(seconds=1)
    verified(stack, desk)
    assert desk.get(forged.id).state is PaybillState.UNVERIFIED
    # the genuine KES 100's own confirmation was taken by the forger (never posted): M-Pesa collected it, our books
    # lack it; the forged one is nowhere
    assert checked(reconcile(stack)) == [
        (f"receipt {delivery.payload['TransID']}", "a buy of ours", "none in our books"),
        (
            "assets:mpesa_collections:KES collected in the statement's period",
            "1500.00 KES in our books",
            "1600.00 KES per M-Pesa",
        ),
    ]


def test_payments_reversed_by_the_reversal_api_are_neither_credited_nor_differences(stack: WalletStack) -> None:
    """A suspended payment and an unverified one returned by M-Pesa's Reversal: their collection and reversal rows
    are on the statement, neither counts as collected, the suspense holds nothing; one still reversing from suspense
    is still held there."""
    desk, token = registered(stack)
    held = pay(stack, desk, "0799000001", 300, "nobody")
    stack.mpesa.simulate_c2b("0799000002", 400, "acc 9")
    odd = desk.confirm(parse_payload({**stack.mpesa.outbox.pop().payload, "MSISDN": "254799999999"}), token=token)
    verified(stack, desk)
    assert desk.get(odd.id).state is PaybillState.UNVERIFIED
    waiting = pay(stack, desk, "0799000003", 200, "nobody either")
    stack.mpesa.set_scenario(waiting.trans_id, Scenario.SLOW)  # M-Pesa has not done it yet
    for payment in (held, odd, waiting):
        give_back(desk, payment.id, note="the payer asked for it back")
    assert [p.state for p in answer_reversal(stack, desk)] == [PaybillState.REVERSED, PaybillState.REVERSED]
    assert desk.get(waiting.id).state is PaybillState.REVERSING
    assert checked(reconcile(stack)) == []
    assert stack.ledger.balance(flows.PAYBILL_SUSPENSE).posted == Money.of(200, KES)


def _reconciled_with(stack: WalletStack, change) -> list[tuple[str, str, str]]:
    """``checked`` against the fake M-Pesa's statement with ``change`` applied to each of its rows."""
    books = stack.backend.uow
    reconciliation = Reconciliation(uow=books, ledger=stack.ledger, clock=stack.clock, wallets=books, paybill=books)
    record = statement_of(stack.mpesa)
    rows = tuple(change(line) for line in record.lines)
    statement = parse_statement(render_statement(attrs.evolve(record, lines=rows)))
    return checked(reconciliation.reconcile(Outside(statement=statement)))


def test_a_paybill_payment_mpesa_recorded_for_another_account_or_payer_is_a_difference(stack: WalletStack) -> None:
    """Review7 F3: the statement's ``A/C No.`` is the only outside record of which wallet a paybill payment was for,
    and it was never compared: Amina's KES 3,000, credited to her, read clean with the statement saying ``dedan7``.
    Now another account (however the same one is written: ``+254 712…`` for ``0712…``), or another payer than the
    confirmation named, is a difference; payments held in suspense are checked the same way."""
    stack.sign_up("0712000001")
    stack.sign_up("0712000004", username="dedan7")
    desk, _ = registered(stack)
    amina = pay(stack, desk, "0799000001", 3000, "0712000001")
    held = pay(stack, desk, "0799000002", 200, "acc 18")
    assert (amina.state, held.state) == (PaybillState.CREDITED, PaybillState.SUSPENDED)
    assert _reconciled_with(stack, lambda line: line) == []
    written = {amina.trans_id: "+254 712 000 001", held.trans_id: "ACC18"}
    assert _reconciled_with(stack, lambda line: attrs.evolve(line, account_no=written[line.receipt])) == []

    forged = {amina.trans_id: "dedan7", held.trans_id: "acc 19"}
    found = _reconciled_with(stack, lambda line: attrs.evolve(line, account_no=forged[line.receipt]))
    assert found == [
        (f"paybill payment {amina.id} (credited)", "for account 2547******01", "for account 'dedan7'"),
        (f"paybill payment {held.id} (suspended)", "for account 'acc 18'", "for account 'acc 19'"),
    ]
    payer = {amina.trans_id: "2547*****009 - SANDBOX CUSTOMER", held.trans_id: "2547*****002 - SANDBOX CUSTOMER"}
    found = _reconciled_with(stack, lambda line: attrs.evolve(line, other_party=payer[line.receipt]))
    assert found == [(f"paybill payment {amina.id} (credited)", "paid by 2547******01", "paid by 2547******09")]


def test_a_payment_reversed_for_what_m_pesa_received_not_what_its_confirmation_claimed_reconciles_clean(
    stack: WalletStack,
) -> None:
    """revpass7 P3: a confirmation claimed KES 9,000 of a genuine KES 800 payment (unverified, never booked); the
    Reversal returned the 800 M-Pesa's record shows. The statement's collection and reversal rows are 800: nothing is
    left to report (it used to say 'KES 9,000 collected' against 800 in every reconciliation of that period)."""
    desk, token = registered(stack)
    stack.mpesa.simulate_c2b("0799000001", 800, "acc 1")
    inflated = desk.confirm(parse_payload({**stack.mpesa.outbox.pop().payload, "TransAmount": "9000"}), token=token)
    verified(stack, desk)
    assert checked(reconcile(stack)) != []  # unverified, claiming 9,000: a difference while it waits
    give_back(desk, inflated.id, note="the payer asked")
    (done,) = answer_reversal(stack, desk)
    assert done.state is PaybillState.REVERSED and done.returned_kes == Money.of(800, KES)
    assert checked(reconcile(stack)) == []
