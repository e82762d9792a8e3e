"""Payments to our paybill outside an STK prompt (Daraja C2B): the account number names the wallet to top up; what
no wallet may take waits in the suspense account for an operator. Confirmations come from the fake M-Pesa in the
wire format (and Safaricom's own published sample), through ``parse_payload``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptopay.core import flows
from cryptopay.core.errors import InvalidInput, InvalidState, LimitExceeded
from cryptopay.core.identity.model import Forbidden
from cryptopay.core.mobile_money import parse_payload
from cryptopay.core.money import KES, Money
from cryptopay.core.wallets.paybill import PaybillState, RegistrationState

from tests.support.paybill import pay, paybill, registered
from tests.support.wallet_stack import WalletStack, wallet_stack

SAMPLE = Path(__file__).parents[2] / "fixtures" / "daraja" / "c2b_v2_confirmation_masked_official.json"


@pytest.fixture
def stack() -> WalletStack:
    return wallet_stack()


def test_a_payment_naming_a_wallet_s_phone_or_username_credits_its_kes(stack: WalletStack) -> None:
    """0712 000 001 (as people write it) and @amina both name Amina's wallet: her KES grows by each, booked Dr
    collections / Cr her wallet, idempotent on the TransID; the books balance."""
    amina = stack.sign_up("0712000001", username="amina")
    desk, _ = registered(stack)
    first = pay(stack, desk, "0799000001", 1500, "0712 000 001")
    second = pay(stack, desk, "0799000001", 500, "@Amina")
    assert (first.state, first.user_id, second.state, second.user_id) == (
        PaybillState.CREDITED,
        amina.id,
        PaybillState.CREDITED,
        amina.id,
    )
    assert stack.balance(amina, "KES") == Money.of(2000, KES)
    assert stack.ledger.balance(flows.MPESA_COLLECTIONS).posted == Money.of(2000, KES)
    assert set(stack.ledger.trial_balance().values()) == {0}
    actions = [r.action for r in stack.backend.storage.audit_records()]
    assert actions.count("paybill.credited") == 2 and "mpesa.c2b_urls_registered" in actions


def test_a_repeated_confirmation_books_nothing_more(stack: WalletStack) -> None:
    """M-Pesa posts the same TransID twice: one payment, one credit, the repeat counted."""
    amina = stack.sign_up("0712000001")
    desk, token = registered(stack)
    receipt = stack.mpesa.simulate_c2b("0799000001", 700, "0712000001")
    (delivery,) = stack.mpesa.outbox
    result = parse_payload(delivery.payload)
    one, two = desk.confirm(result, token=token), desk.confirm(result, token=token)
    assert one.id == two.id and two.repeats == 1 and one.trans_id == receipt
    assert stack.balance(amina, "KES") == Money.of(700, KES)


def test_an_unknown_reference_or_a_payment_over_the_limit_waits_in_suspense_for_an_operator(stack: WalletStack) -> None:
    """Nobody's reference, and KES 6,000 to a tier-0 wallet (it may receive 5,000 at once): both held in the
    paybill suspense account with the reason; the wallet gets nothing."""
    amina = stack.sign_up("0712000001")
    desk, _ = registered(stack)
    stranger = pay(stack, desk, "0799000001", 300, "Sample Transaction")
    big = pay(stack, desk, "0799000002", 6000, "0712000001")
    assert stranger.state is PaybillState.SUSPENDED and "names no wallet" in stranger.reason
    assert big.state is PaybillState.SUSPENDED and "limit" in big.reason
    assert stack.balance(amina, "KES") == Money.zero(KES)
    assert stack.ledger.balance(flows.PAYBILL_SUSPENSE).posted == Money.of(6300, KES)
    assert [p.id for p in desk.listed(state=PaybillState.SUSPENDED)] == [big.id, stranger.id]


def test_an_operator_releases_a_suspended_payment_to_a_wallet_within_its_limits_or_returns_it(
    stack: WalletStack,
) -> None:
    """Release to a wallet checks its limits again (6,000 stays refused for tier 0, 300 goes); return takes the
    payment out of suspense and the collections; each needs a note; a decided payment is not decided again."""
    amina = stack.sign_up("0712000001")
    desk, _ = registered(stack)
    stranger = pay(stack, desk, "0799000001", 300, "acc 17")
    big = pay(stack, desk, "0799000002", 6000, "0712000001")
    with pytest.raises(InvalidInput):
        desk.release(stranger.id, "@nobody", actor="usr_ops", note="  ")
    with pytest.raises(LimitExceeded):
        desk.release(big.id, "0712000001", actor="usr_ops", note="the payer called")
    released = desk.release(stranger.id, amina.id, actor="usr_ops", note="the payer called: Amina's top-up")
    assert released.state is PaybillState.RELEASED and released.decided_by == "usr_ops"
    assert stack.balance(amina, "KES") == Money.of(300, KES)
    returned = desk.send_back(big.id, actor="usr_ops", note="over the limit; reversed in the portal")
    assert returned.state is PaybillState.RETURNED
    assert stack.ledger.balance(flows.PAYBILL_SUSPENSE).posted == Money.zero(KES)
    assert stack.ledger.balance(flows.MPESA_COLLECTIONS).posted == Money.of(300, KES)
    with pytest.raises(InvalidState):
        desk.send_back(stranger.id, actor="usr_ops", note="again")
    assert set(stack.ledger.trial_balance().values()) == {0}


def test_a_frozen_wallet_s_payment_is_held(stack: WalletStack) -> None:
    """A payment to a frozen wallet is held in suspense, and an operator cannot release it there either."""
    amina = stack.sign_up("0712000001")
    stack.wallets.freeze(amina.id, actor="usr_ops", reason="case 12")
    desk, _ = registered(stack)
    held = pay(stack, desk, "0799000001", 100, "0712000001")
    assert held.state is PaybillState.SUSPENDED and "frozen" in held.reason
    with pytest.raises(InvalidState):
        desk.release(held.id, "0712000001", actor="usr_ops", note="checked")


def test_forged_callbacks_are_refused_and_write_nothing(stack: WalletStack) -> None:
    """A confirmation or validation on a token we never issued, or on a superseded registration's, is Forbidden."""
    stack.sign_up("0712000001")
    desk, old = registered(stack)
    stack.mpesa.simulate_c2b("0799000001", 100, "0712000001")
    result = parse_payload(stack.mpesa.outbox[0].payload)
    for token in ("forged", ""):
        with pytest.raises(Forbidden):
            desk.confirm(result, token=token)
        with pytest.raises(Forbidden):
            desk.validate(result, token=token)
    desk.register_urls(actor="usr_ops")  # new URLs: the old token stops working
    with pytest.raises(Forbidden):
        desk.confirm(result, token=old)
    assert desk.listed() == []


def test_validation_accepts_our_shortcode_s_payments_unknown_references_included(stack: WalletStack) -> None:
    """Validation never refuses an unknown reference (it is held instead); another shortcode is refused."""
    desk, token = registered(stack)
    stack.mpesa.simulate_c2b("0799000001", 100, "whoever")
    payload = dict(stack.mpesa.outbox[0].payload)
    assert desk.validate(parse_payload(payload), token=token)["ResultCode"] == "0"
    payload["BusinessShortCode"] = "999999"
    assert desk.validate(parse_payload(payload), token=token)["ResultCode"] == "C2B00015"


def test_safaricom_s_published_confirmation_is_booked_with_its_masked_number(stack: WalletStack) -> None:
    """Daraja v2's own sample (MSISDN masked, a free-text reference, shortcode 600966) parses and, naming no
    wallet, is held in suspense with the number as sent."""
    desk = paybill(stack, "600966")
    assert desk.register_urls(actor="usr_ops").state is RegistrationState.ACTIVE
    token = (stack.mpesa.c2b_validation_url() or "").rsplit("/", 1)[-1]
    payment = desk.confirm(parse_payload(json.loads(SAMPLE.read_text())), token=token)
    assert payment.trans_id == "RKL51ZDR4F" and payment.kes == Money.of("5.00", KES)
    assert payment.state is PaybillState.SUSPENDED and payment.msisdn == "2547 ***** 126"
