"""The paybill (C2B) desk of a wallet stack, and a customer's payment to it through the fake M-Pesa's wire format."""

from __future__ import annotations

from cryptopay.core import flows
from cryptopay.core.mobile_money import parse_payload
from cryptopay.core.ports.paybill import PaybillUnitOfWork
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.system import RandomIds
from cryptopay.core.wallets.paybill import Paybill, PaybillPayment, PaybillState, RegistrationState

from tests.support.wallet_stack import WalletStack

__all__ = [
    "HOOKS",
    "answer_reversal",
    "answer_status",
    "confirmed",
    "credit",
    "give_back",
    "pay",
    "paybill",
    "registered",
    "returned_by_hand",
    "verified",
]

HOOKS = "https://pay.example.com/hooks/daraja/paybill"


def paybill(stack: WalletStack, shortcode: str | None = None) -> Paybill:
    """The paybill desk of the stack's wallets, on the fake M-Pesa (its shortcode unless told another)."""
    code = shortcode or stack.mpesa.shortcode
    return Paybill(stack.backend.uow, stack.ledger, lambda: stack.mpesa, HOOKS, code, stack.clock, RandomIds())


def registered(stack: WalletStack) -> tuple[Paybill, str]:
    """Our URLs registered with the fake M-Pesa; the token they end in."""
    desk = paybill(stack)
    assert desk.register_urls(actor="usr_ops").state is RegistrationState.ACTIVE
    url = stack.mpesa.c2b_validation_url()
    assert url is not None and url.startswith(f"{HOOKS}/validation/")
    return desk, url.rsplit("/", 1)[-1]


def confirmed(stack: WalletStack, desk: Paybill, phone: str, amount: int, reference: str) -> PaybillPayment:
    """A customer pays the paybill from the SIM menu; M-Pesa's confirmation is posted to our URL (not verified)."""
    receipt = stack.mpesa.simulate_c2b(phone, amount, reference)
    assert receipt is not None
    (delivery,) = stack.mpesa.outbox
    stack.mpesa.outbox.clear()
    return desk.confirm(parse_payload(delivery.payload), token=delivery.url.rsplit("/", 1)[-1])


def answer_status(stack: WalletStack, desk: Paybill) -> list[PaybillPayment]:
    """Post the fake M-Pesa's pending Transaction Status answers to our paybill status URLs, as Daraja would."""
    answered = []
    for delivery in list(stack.mpesa.outbox):
        if f"{HOOKS}/status/" not in delivery.url:
            continue
        stack.mpesa.outbox.remove(delivery)
        token, timed_out = delivery.url.rsplit("/", 1)[-1], "/status/timeout/" in delivery.url
        answered.append(desk.on_status(parse_payload(delivery.payload), token=token, timed_out=timed_out))
    return answered


def answer_reversal(stack: WalletStack, desk: Paybill) -> list[PaybillPayment]:
    """Post the fake M-Pesa's pending Reversal results (and queue timeouts) to our paybill reversal URLs."""
    answered = []
    for delivery in list(stack.mpesa.outbox):
        if f"{HOOKS}/reversal/" not in delivery.url:
            continue
        stack.mpesa.outbox.remove(delivery)
        token, timed_out = delivery.url.rsplit("/", 1)[-1], "/reversal/timeout/" in delivery.url
        answered.append(desk.on_reversal(parse_payload(delivery.payload), token=token, timed_out=timed_out))
    return answered


def verified(stack: WalletStack, desk: Paybill) -> list[PaybillPayment]:
    """The worker's turn: Transaction Status asked about every payment due, and M-Pesa's answers posted back."""
    desk.verify_due()
    return answer_status(stack, desk)


def pay(stack: WalletStack, desk: Paybill, phone: str, amount: int, reference: str) -> PaybillPayment:
    """A customer pays the paybill, M-Pesa confirms it, and Transaction Status verifies it: as it was booked."""
    payment = confirmed(stack, desk, phone, amount, reference)
    verified(stack, desk)
    return desk.get(payment.id)


def credit(desk: Paybill, payment_id: str, to: str, *, note: str) -> PaybillPayment:
    """Credit a payment to the wallet ``to`` names as the console does: officer usr_a proposes, usr_b approves."""
    desk.propose_credit(payment_id, to, officer="usr_a", note=note)
    return desk.approve_credit(payment_id, officer="usr_b")


def give_back(desk: Paybill, payment_id: str, *, note: str) -> PaybillPayment:
    """Return a payment to its payer as the console does: officer usr_a proposes it, usr_b approves (the Reversal)."""
    desk.propose_return(payment_id, officer="usr_a", note=note)
    return desk.approve_return(payment_id, officer="usr_b")


def returned_by_hand(stack: WalletStack, payment_id: str, *, note: str) -> PaybillPayment:
    """A suspended payment one operator returned before returns were four-eyes (reversed by hand in the M-Pesa
    portal): out of the suspense account and the collections, ``returned``. Such data stays valid."""

    def work(uow: PaybillUnitOfWork) -> PaybillPayment:
        payment = uow.paybill_payments.get(payment_id, lock=True)
        assert payment is not None and payment.state is PaybillState.SUSPENDED
        flows.return_paybill_payment(stack.ledger, payment_id=payment.id, kes=payment.kes, session=uow.ledger)
        payment.state, payment.decided_by, payment.decided_at, payment.note = (
            PaybillState.RETURNED,
            "usr_ops",
            stack.clock.now(),
            note,
        )
        uow.paybill_payments.update(payment)
        return payment

    return in_transaction(stack.backend.uow, work)
