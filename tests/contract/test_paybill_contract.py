"""Paybill (C2B) payments: the same booking, idempotency and decisions on the in-memory fakes, SQLite and
PostgreSQL, and one payment however many confirmations of a TransID arrive at once."""

from __future__ import annotations

import re
import threading

import attrs
import pytest
from cryptopay.core import flows
from cryptopay.core.errors import Conflict, InvalidState
from cryptopay.core.identity.model import Forbidden
from cryptopay.core.mobile_money import ReversalRequest, parse_payload
from cryptopay.core.money import KES, Money
from cryptopay.core.payments.held import SameOfficer
from cryptopay.core.wallets import Usage
from cryptopay.core.wallets.paybill import Paybill, PaybillPayment, PaybillState, RegistrationState

from tests.support.paybill import (
    answer_reversal,
    answer_status,
    confirmed,
    credit,
    give_back,
    pay,
    registered,
    returned_by_hand,
    verified,
)
from tests.support.sql_backends import Backend
from tests.support.threads import joined
from tests.support.wallet_stack import WalletStack, memory_wallet_backend, wallet_stack


@pytest.fixture
def in_memory_backend() -> Backend:
    """The contract's in-memory variant of ``backend`` (tests/contract/conftest.py)."""
    return memory_wallet_backend()


def test_paybill_payments_are_booked_decided_and_listed_on_this_backend(backend: Backend) -> None:
    """A payment naming a wallet credits it; an unknown one waits in suspense, is credited by two officers; one over
    the limit is returned; a repeated TransID books nothing; the payer's details come back as stored."""
    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", username="amina")
    desk, token = registered(stack)
    stack.mpesa.simulate_c2b("0799000001", 1500, "@amina")
    confirmation = parse_payload(stack.mpesa.outbox.pop().payload)
    credited = desk.confirm(confirmation, token=token)
    stranger = pay(stack, desk, "0799000002", 300, "acc 17")
    big = pay(stack, desk, "0799000003", 6000, "0712000001")
    again = desk.confirm(confirmation, token=token)  # Daraja repeats itself
    assert again.id == credited.id and again.repeats == 1
    credit(desk, stranger.id, "amina", note="the payer called")
    returned_by_hand(stack, big.id, note="over the limit")  # before returns were four-eyes: still read back
    states = {p.trans_id: (p.state, p.user_id) for p in desk.listed()}
    assert states == {
        credited.trans_id: (PaybillState.CREDITED, amina.id),
        stranger.trans_id: (PaybillState.RELEASED, amina.id),
        big.trans_id: (PaybillState.RETURNED, None),
    }
    found = desk.get(stranger.id)
    assert (found.bill_ref, found.msisdn, found.payer, found.kes) == ("acc 17", "254799000002", "SANDBOX", stranger.kes)
    assert found.note == "the payer called" and found.decided_by == "user:usr_b"
    assert stack.balance(amina, "KES") == Money.of(1800, KES)
    assert stack.ledger.balance(flows.MPESA_COLLECTIONS).posted == Money.of(1800, KES)
    assert stack.ledger.balance(flows.PAYBILL_SUSPENSE).posted == Money.zero(KES)
    assert set(stack.ledger.trial_balance().values()) == {0}
    with backend.uow() as uow:
        assert [p.trans_id for p in uow.paybill_payments.all()] == [credited.trans_id, stranger.trans_id, big.trans_id]
        with pytest.raises(Conflict):
            uow.paybill_payments.add(attrs.evolve(credited, id="pbl_other"))  # the same TransID again


def test_a_newer_registration_supersedes_the_older_token_on_this_backend(backend: Backend) -> None:
    """Registering again makes the older registration superseded: its token is refused, the new one taken."""
    stack = wallet_stack(backend)
    stack.sign_up("0712000001")
    desk, old = registered(stack)
    desk.register_urls(actor="usr_ops")
    new = (stack.mpesa.c2b_validation_url() or "").rsplit("/", 1)[-1]
    stack.mpesa.simulate_c2b("0799000001", 100, "0712000001")
    result = parse_payload(stack.mpesa.outbox[-1].payload)
    with pytest.raises(Forbidden):
        desk.confirm(result, token=old)
    assert desk.confirm(result, token=new).state is PaybillState.VERIFYING
    assert [p.state for p in verified(stack, desk)] == [PaybillState.CREDITED]
    with backend.uow() as uow:
        states = [r.state for r in uow.paybill_urls.for_shortcode(stack.mpesa.shortcode)]
    assert states == [RegistrationState.SUPERSEDED, RegistrationState.ACTIVE]


def test_confirmations_of_one_trans_id_at_once_book_one_payment(backend: Backend) -> None:
    """Four threads confirm the same TransID together: one payment, one credit, the others see it as a repeat."""
    if backend.name == "memory":
        pytest.skip("the in-memory fakes are not shared between threads")
    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001")
    desk, token = registered(stack)
    stack.mpesa.simulate_c2b("0799000001", 400, "0712000001")
    result = parse_payload(stack.mpesa.outbox[-1].payload)
    seen: list[PaybillPayment] = []
    start = threading.Barrier(4)

    def confirm() -> None:
        start.wait()
        seen.append(desk.confirm(result, token=token))

    threads = [threading.Thread(target=confirm, name=f"confirm-{n}") for n in range(4)]
    for thread in threads:
        thread.start()
    joined(*threads)
    assert len(seen) == 4 and len({p.id for p in seen}) == 1
    verified(stack, desk)
    assert stack.balance(amina, "KES") == Money.of(400, KES)
    assert len(desk.listed()) == 1


def test_only_what_transaction_status_confirms_is_booked_on_this_backend(backend: Backend) -> None:
    """A genuine payment waits (verifying, nothing booked) until Transaction Status answers, then is credited; a
    confirmation on the valid token of a TransID M-Pesa does not know is never booked; a repeated answer changes
    nothing; the status tokens are found by their digests, each on its own URL; the payments are counted by state."""
    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001")
    desk, token = registered(stack)
    genuine = confirmed(stack, desk, "0799000001", 1200, "0712000001")
    stack.mpesa.simulate_c2b("0799000002", 100, "0712000001")
    forged_payload = {**stack.mpesa.outbox.pop().payload, "TransID": "NOSUCH0001", "TransAmount": "50000"}
    forged = desk.confirm(parse_payload(forged_payload), token=token)
    assert (genuine.state, forged.state) == (PaybillState.VERIFYING, PaybillState.VERIFYING)
    assert stack.balance(amina, "KES") == Money.zero(KES)
    asked = desk.verify_due()
    assert {p.id for p in asked} == {genuine.id, forged.id}
    answers = list(stack.mpesa.outbox)
    assert len(answer_status(stack, desk)) == 2
    assert desk.get(forged.id).state is PaybillState.UNVERIFIED
    assert desk.get(genuine.id).state is PaybillState.CREDITED
    for delivery in answers:  # Daraja repeats its answers: nothing more
        desk.on_status(parse_payload(delivery.payload), token=delivery.url.rsplit("/", 1)[-1])
    assert stack.balance(amina, "KES") == Money.of(1200, KES)
    assert stack.ledger.balance(flows.MPESA_COLLECTIONS).posted == Money.of(1200, KES)
    assert set(stack.ledger.trial_balance().values()) == {0}
    with backend.uow() as uow:
        assert uow.paybill_payments.due_for_status(stack.clock.now(), limit=10) == []
        counted = {state: uow.paybill_payments.count(state) for state in PaybillState}  # the gauges' count
        assert counted == {
            state: int(state in (PaybillState.UNVERIFIED, PaybillState.CREDITED)) for state in PaybillState
        }
        found = uow.paybill_payments.get(genuine.id)
        assert found is not None and found.status_digest is not None
        assert uow.paybill_payments.by_status_token(found.status_digest, timeout=False) == found
        assert uow.paybill_payments.by_status_token(found.status_digest, timeout=True) is None


def _unverified(stack: WalletStack, desk: Paybill, token: str, phone: str, amount: int) -> PaybillPayment:
    """A genuine payment whose confirmation shows another payer: Transaction Status does not confirm it."""
    stack.mpesa.simulate_c2b(phone, amount, "acc 9")
    payload = {**stack.mpesa.outbox.pop().payload, "MSISDN": "254799999999"}
    payment = desk.confirm(parse_payload(payload), token=token)
    verified(stack, desk)
    found = desk.get(payment.id)
    assert found.state is PaybillState.UNVERIFIED and "payer" in found.reason
    return found


def test_operators_reverify_credit_with_four_eyes_and_reverse_on_this_backend(backend: Backend) -> None:
    """An unverified payment is asked about again (unverified again), then credited to a wallet only when a second
    officer approves (its proposer refused, audited); a suspended one is returned by M-Pesa's Reversal (out of the
    suspense account); a reversal M-Pesa refuses (R000002) leaves the payment waiting with the reason; the
    reversal's tokens are found by their digests; the unverified counter never drops."""
    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", username="amina")
    desk, token = registered(stack)
    odd = _unverified(stack, desk, token, "0799000001", 500)
    assert desk.reverify(odd.id, actor="usr_a", note="the payer sent a screenshot").state is PaybillState.VERIFYING
    assert [p.state for p in verified(stack, desk)] == [PaybillState.UNVERIFIED]
    desk.propose_credit(odd.id, "@amina", officer="usr_a", note="the payer asked for Amina's wallet")
    with pytest.raises(SameOfficer):
        desk.approve_credit(odd.id, officer="usr_a")
    with pytest.raises(Conflict):
        desk.approve_credit(odd.id, officer="usr_b", expected_to="usr_other")
    credited = desk.approve_credit(odd.id, officer="usr_b", expected_to=amina.id)
    assert (credited.state, credited.user_id, credited.decided_by) == (PaybillState.RELEASED, amina.id, "user:usr_b")
    assert stack.balance(amina, "KES") == Money.of(500, KES)

    before = stack.mpesa.balance("0799000002")
    stranger = pay(stack, desk, "0799000002", 300, "acc 17")  # names no wallet: in suspense
    assert stranger.state is PaybillState.SUSPENDED
    sending = give_back(desk, stranger.id, note="the payer asked for it back")
    assert sending.state is PaybillState.REVERSING and sending.reversal_originator is not None
    with backend.uow() as uow:
        assert sending.reversal_digest is not None
        assert uow.paybill_payments.by_reversal_token(sending.reversal_digest, timeout=False) == sending
        assert uow.paybill_payments.by_reversal_token(sending.reversal_digest, timeout=True) is None
    (reversed_,) = answer_reversal(stack, desk)
    assert reversed_.state is PaybillState.REVERSED and reversed_.reversal_from is PaybillState.SUSPENDED
    assert stack.mpesa.balance("0799000002") == before  # the payer has it back
    assert stack.ledger.balance(flows.PAYBILL_SUSPENSE).posted == Money.zero(KES)
    assert stack.ledger.balance(flows.MPESA_COLLECTIONS).posted == Money.of(500, KES)

    stack.mpesa.simulate_c2b("0799000003", 100, "acc 1")
    forged = desk.confirm(parse_payload({**stack.mpesa.outbox.pop().payload, "TransID": "NOSUCH0001"}), token=token)
    verified(stack, desk)
    with pytest.raises(InvalidState):  # M-Pesa has no payment to us by that TransID: nothing of a payer's to return
        give_back(desk, forged.id, note="give it back")
    twice = _unverified(stack, desk, token, "0799000004", 200)
    _reversed_in_the_portal(stack, twice)
    give_back(desk, twice.id, note="give it back")
    (failed,) = answer_reversal(stack, desk)
    assert failed.state is PaybillState.UNVERIFIED and "R000002" in failed.reason
    assert set(stack.ledger.trial_balance().values()) == {0}
    with backend.uow() as uow:
        assert uow.paybill_payments.unverified_ever() == 3  # odd (credited since), forged and twice
        assert uow.paybill_payments.count(PaybillState.UNVERIFIED) == 2


def _reversed_in_the_portal(stack: WalletStack, payment: PaybillPayment) -> None:
    """Someone reverses the payment by hand in the M-Pesa portal: M-Pesa will refuse a second reversal (R000002)."""
    urls = {"result_url": "https://example.test/r", "timeout_url": "https://example.test/t"}
    stack.mpesa.reversal(ReversalRequest(transaction_id=payment.trans_id, amount=payment.kes, **urls))
    stack.mpesa.outbox.clear()


def test_a_paybill_credit_waits_for_what_a_send_to_the_wallet_is_recording_on_this_backend(backend: Backend) -> None:
    """revpass7 P2: a send to a tier-0 wallet records its receipt under the wallet's receive lock (not its row lock,
    which a send *from* it takes); a paybill payment booked meanwhile waits for that lock before it reads what the
    wallet received, so the two cannot both pass the day's KES 10,000 (6,000 sent + 4,500 paid: the payment goes to
    suspense, refused by the limits). PostgreSQL only: SQLite and the fakes run one writer at a time."""
    if backend.name != "postgres":
        pytest.skip("one writer at a time: a second transaction cannot be open while the first holds the lock")
    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001")
    desk, _ = registered(stack)
    confirmed(stack, desk, "0799000001", 4500, "0712000001")
    desk.verify_due()  # the Transaction Status query left; its answer books the payment
    now = stack.clock.now()
    held, release = threading.Event(), threading.Event()

    def sending() -> None:  # what a send to Amina does, its receipt recorded and not yet committed
        with backend.uow() as uow:
            uow.wallet_usage.lock_receiving(amina.id)
            uow.wallet_usage.add(Usage("use_sent", amina.id, "receive", Money.of(6000, KES), now, "trf_sent"))
            held.set()
            release.wait(timeout=60)

    answered: list[PaybillPayment] = []
    sender = threading.Thread(target=sending, name="send")
    sender.start()
    try:
        assert held.wait(timeout=60)
        booker = threading.Thread(target=lambda: answered.extend(answer_status(stack, desk)), name="book")
        booker.start()
        booker.join(timeout=3)  # unfixed, it booked at once, reading none of the send
    finally:
        release.set()
        joined(sender)
    joined(booker)
    (done,) = answered
    assert done.state is PaybillState.SUSPENDED and "limits" in done.reason, done.reason
    assert stack.balance(amina, "KES") == Money.zero(KES)


def test_a_payment_suspended_before_payments_were_verified_is_re_verified_on_this_backend(backend: Backend) -> None:
    """A suspended payment with no M-Pesa record (stored before migration 0186) is asked about by the worker's
    Transaction Status job while it stays in suspense (its ``check_at`` kept on this backend), booked once."""
    from tests.unit.wallets.test_wallet_paybill import reverified_in_suspense

    reverified_in_suspense(wallet_stack(backend))


def test_a_credit_proposal_looks_the_wallet_up_once_and_keeps_the_own_party_refusal_s_record(
    backend: Backend,
) -> None:
    """Proposing a credit reads the named wallet once (the own-party check and the proposal share one unit of work;
    it was read twice, in two transactions); an officer naming their own wallet is still refused, the refusal
    audited ``paybill.own_party_refused`` and nothing proposed."""
    import sqlalchemy as sa
    from cryptopay.core.compliance.own_party import OwnParty
    from cryptopay.core.ports.storage import in_transaction

    if backend.engine is None:
        pytest.skip("counts the statements a database runs")
    stack = wallet_stack(backend)
    stack.sign_up("0712000001", username="amina")
    mine = stack.sign_up("0712000002")
    desk, _ = registered(stack)
    payment = pay(stack, desk, "0799000009", 300, "acc 17")
    reads: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if re.search(r"\bFROM wallets\b", statement):
            reads.append(statement)

    sa.event.listen(backend.engine, "before_cursor_execute", seen)
    try:
        proposed = desk.propose_credit(payment.id, "@amina", officer="usr_a", note="the payer called")
        assert proposed.proposed_to is not None and len(reads) == 1, reads
        desk.decline(payment.id, officer="usr_b", note="not yet")
        with pytest.raises(OwnParty):
            desk.propose_credit(payment.id, "0712000002", officer=mine.id, note="my own top-up")
    finally:
        sa.event.remove(backend.engine, "before_cursor_execute", seen)
    assert desk.get(payment.id).proposal is None
    records = in_transaction(backend.uow, lambda uow: uow.audit.records())
    refused = [r for r in records if r.action == "paybill.own_party_refused"]
    assert [(r.actor, dict(r.details)["action"]) for r in refused] == [(f"user:{mine.id}", "credit_proposal")]
