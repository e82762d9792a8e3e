"""Payments to our paybill outside an STK prompt (Daraja C2B): the account number names the wallet to top up; what
no wallet may take waits in the suspense account for an operator. Confirmations come from the fake M-Pesa in the
wire format (and Safaricom's own published sample), through ``parse_payload``."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from cryptopay.core import flows
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, LimitExceeded, NotFound, Refused
from cryptopay.core.identity.model import Forbidden
from cryptopay.core.mobile_money import B2CCommand, B2CRequest, parse_payload
from cryptopay.core.money import KES, Money
from cryptopay.core.payments.held import SameOfficer
from cryptopay.core.ports.paybill import PaybillUnitOfWork
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.testing.mobile_money import Scenario
from cryptopay.core.wallets.paybill import Paybill, PaybillPayment, PaybillProposal, PaybillState, RegistrationState

from tests.support.paybill import (
    answer_reversal,
    answer_status,
    confirmed,
    credit,
    give_back,
    pay,
    paybill,
    registered,
    verified,
)
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
    verified(stack, desk)
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


def test_officers_credit_a_suspended_payment_to_a_wallet_within_its_limits_or_two_return_it(
    stack: WalletStack,
) -> None:
    """A credit two officers agree on checks the wallet's limits again at the approval (6,000 stays refused for tier
    0, 300 goes); a return two officers agree on is M-Pesa's Reversal, out of suspense and the collections; each
    needs a note; a decided payment is not decided again."""
    amina = stack.sign_up("0712000001")
    desk, _ = registered(stack)
    stranger = pay(stack, desk, "0799000001", 300, "acc 17")
    big = pay(stack, desk, "0799000002", 6000, "0712000001")
    with pytest.raises(InvalidInput):
        desk.propose_credit(stranger.id, "@nobody", officer="usr_a", note="  ")
    with pytest.raises(LimitExceeded):
        credit(desk, big.id, "0712000001", note="the payer called")
    desk.decline(big.id, officer="usr_b", note="over Amina's limits")
    released = credit(desk, stranger.id, amina.id, note="the payer called: Amina's top-up")
    assert released.state is PaybillState.RELEASED and released.decided_by == "user:usr_b"
    assert stack.balance(amina, "KES") == Money.of(300, KES)
    give_back(desk, big.id, note="over the limit")
    (returned,) = answer_reversal(stack, desk)
    assert returned.state is PaybillState.REVERSED and returned.decided_by == "user:usr_b"
    assert stack.ledger.balance(flows.PAYBILL_SUSPENSE).posted == Money.zero(KES)
    assert stack.ledger.balance(flows.MPESA_COLLECTIONS).posted == Money.of(300, KES)
    with pytest.raises(InvalidState):
        desk.propose_return(stranger.id, officer="usr_a", note="again")
    assert set(stack.ledger.trial_balance().values()) == {0}


def test_a_frozen_wallet_s_payment_is_held(stack: WalletStack) -> None:
    """A payment to a frozen wallet is held in suspense, and officers cannot credit it there either."""
    amina = stack.sign_up("0712000001")
    stack.wallets.freeze(amina.id, actor="usr_ops", reason="case 12")
    desk, _ = registered(stack)
    held = pay(stack, desk, "0799000001", 100, "0712000001")
    assert held.state is PaybillState.SUSPENDED and "frozen" in held.reason
    with pytest.raises(InvalidState):
        credit(desk, held.id, "0712000001", note="checked")


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


def test_safaricom_s_published_confirmation_is_recorded_with_its_masked_number(stack: WalletStack) -> None:
    """Daraja v2's own sample (MSISDN masked, a free-text reference, shortcode 600966) parses and is recorded, with
    the number as sent, to be verified by Transaction Status before anything is booked."""
    desk = paybill(stack, "600966")
    assert desk.register_urls(actor="usr_ops").state is RegistrationState.ACTIVE
    token = (stack.mpesa.c2b_validation_url() or "").rsplit("/", 1)[-1]
    payment = desk.confirm(parse_payload(json.loads(SAMPLE.read_text())), token=token)
    assert payment.trans_id == "RKL51ZDR4F" and payment.kes == Money.of("5.00", KES)
    assert payment.state is PaybillState.VERIFYING and payment.msisdn == "2547 ***** 126"


def _collected(stack: WalletStack) -> Money:
    """What the collections account holds (nothing was ever posted to it: zero)."""
    try:
        return stack.ledger.balance(flows.MPESA_COLLECTIONS).posted
    except NotFound:
        return Money.zero(KES)


def _masked(phone: str) -> str:
    return f"{phone[:4]} ***** {phone[-3:]}"  # as Daraja v2 sends it


def test_a_genuine_payment_with_a_masked_number_is_credited_once_transaction_status_agrees(stack: WalletStack) -> None:
    """Daraja v2 masks the payer's number: the digits it shows are compared with Transaction Status's debit party;
    the payment is credited only after the answer, once however many times the answer comes."""
    amina = stack.sign_up("0712000001")
    desk, token = registered(stack)
    stack.mpesa.simulate_c2b("0799000001", 800, "0712000001")
    confirmation = stack.mpesa.outbox.pop().payload
    waiting = desk.confirm(parse_payload({**confirmation, "MSISDN": _masked("254799000001")}), token=token)
    assert waiting.state is PaybillState.VERIFYING and stack.balance(amina, "KES") == Money.zero(KES)
    assert _collected(stack) == Money.zero(KES)
    desk.verify_due()
    (answer,) = [d for d in stack.mpesa.outbox if "/status/result/" in d.url]
    token_of = answer.url.rsplit("/", 1)[-1]
    first = desk.on_status(parse_payload(answer.payload), token=token_of)
    again = desk.on_status(parse_payload(answer.payload), token=token_of)
    assert first.state is again.state is PaybillState.CREDITED and first.user_id == amina.id
    assert stack.balance(amina, "KES") == Money.of(800, KES)
    actions = [r.action for r in stack.backend.storage.audit_records()]
    assert actions.count("paybill.credited") == 1 and "paybill.status_repeated" in actions
    assert desk.verify_due() == []  # nothing left to ask


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"TransAmount": "8000.00"}, "amount"),  # a real TransID, a bigger amount
        ({"MSISDN": _masked("254711999888")}, "payer"),  # a real TransID, another payer
        ({"MSISDN": "254711999888"}, "payer"),
        ({"MSISDN": ""}, "payer"),  # no number shown: nothing to compare, never a pass (revpass6 P2)
        ({"MSISDN": "*"}, "payer"),
        ({"MSISDN": "2547 ***** 1"}, "payer"),
        ({"BusinessShortCode": "654321"}, "not our shortcode"),
    ],
)
def test_a_confirmation_m_pesa_records_otherwise_is_never_booked(
    stack: WalletStack, change: dict[str, str], why: str
) -> None:
    """Someone with the token replays a genuine TransID with another amount, payer or shortcode: Transaction
    Status's record differs, so it ends unverified with the reason, nothing booked, audited for an operator."""
    amina = stack.sign_up("0712000001")
    desk, token = registered(stack)
    stack.mpesa.simulate_c2b("0799000001", 800, "0712000001")
    confirmation = stack.mpesa.outbox.pop().payload
    desk.confirm(parse_payload({**confirmation, **change}), token=token)
    (payment,) = verified(stack, desk)
    assert payment.state is PaybillState.UNVERIFIED and why in payment.reason
    assert stack.balance(amina, "KES") == Money.zero(KES)
    assert set(stack.ledger.trial_balance().values()) <= {0} and _collected(stack) == Money.zero(KES)
    assert "paybill.unverified" in [r.action for r in stack.backend.storage.audit_records()]


def test_a_status_answer_on_a_token_of_no_query_is_refused_and_a_timeout_asks_again_later(stack: WalletStack) -> None:
    """Only the tokens recorded for the query work (each on its own URL); a queue timeout is no answer: the payment
    stays verifying and is asked about again after the wait, which doubles."""
    stack.sign_up("0712000001")
    desk, token = registered(stack)
    payment = confirmed(stack, desk, "0799000001", 300, "0712000001")
    stack.mpesa.outbox.clear()
    (asked,) = desk.verify_due()
    (answer,) = stack.mpesa.outbox
    result, result_token = parse_payload(answer.payload), answer.url.rsplit("/", 1)[-1]
    with pytest.raises(Forbidden):
        desk.on_status(result, token=token)  # the confirmation's token is not a status token
    with pytest.raises(Forbidden):
        desk.on_status(result, token=result_token, timed_out=True)  # a result token on the timeout URL
    assert desk.get(payment.id).state is PaybillState.VERIFYING
    stack.mpesa.outbox.clear()
    assert asked.queries == 1 and asked.check_at is not None
    assert desk.verify_due() == []  # not due yet
    stack.clock.advance(minutes=1)
    (again,) = desk.verify_due()
    assert again.queries == 2 and again.check_at == stack.clock.now() + timedelta(minutes=2)
    assert answer_status(stack, desk)[0].state is PaybillState.CREDITED


def test_a_trans_id_that_is_no_receipt_is_refused_before_anything_is_written(stack: WalletStack) -> None:
    desk, token = registered(stack)
    stack.mpesa.simulate_c2b("0799000001", 300, "x")
    confirmation = stack.mpesa.outbox.pop().payload
    with pytest.raises(InvalidInput):
        desk.confirm(parse_payload({**confirmation, "TransID": "../../x"}), token=token)
    assert desk.listed() == []


def test_a_second_confirmation_of_a_trans_id_naming_another_account_holds_it_for_an_operator(
    stack: WalletStack,
) -> None:
    """revpass6 P2: someone with the token confirms a genuine TransID first, naming their own wallet; M-Pesa's own
    confirmation then names another account. Transaction Status cannot say which account number is M-Pesa's, so the
    payment is never booked to either wallet: it waits in suspense with the reason, the repeat audited with what
    differs."""
    amina = stack.sign_up("0712000001")
    mallory = stack.sign_up("0712000066", username="mallory")
    desk, token = registered(stack)
    stack.mpesa.simulate_c2b("0799000001", 900, "0712000001")
    genuine = stack.mpesa.outbox.pop().payload
    forged = desk.confirm(parse_payload({**genuine, "BillRefNumber": "mallory"}), token=token)
    repeat = desk.confirm(parse_payload(genuine), token=token)
    assert repeat.id == forged.id and repeat.repeats == 1 and "account number" in repeat.reason
    (payment,) = verified(stack, desk)
    assert payment.state is PaybillState.SUSPENDED and "disagree" in payment.reason and payment.user_id is None
    assert stack.balance(mallory, "KES") == stack.balance(amina, "KES") == Money.zero(KES)
    [repeated] = [r for r in stack.backend.storage.audit_records() if r.action == "paybill.confirmation_repeated"]
    assert dict(repeated.details)["differs"] == "account number" and dict(repeated.details)["same"] == "false"
    assert credit(desk, payment.id, "0712000001", note="M-Pesa's statement names Amina").user_id
    assert stack.balance(amina, "KES") == Money.of(900, KES)


def _suspended(stack: WalletStack) -> tuple[Paybill, PaybillPayment]:
    stack.sign_up("0712000001")
    desk, _ = registered(stack)
    payment = pay(stack, desk, "0799000001", 300, "acc 17")
    assert payment.state is PaybillState.SUSPENDED
    stack.mpesa.outbox.clear()
    return desk, payment


def test_a_reversal_s_queue_timeout_is_settled_by_transaction_status_about_it(stack: WalletStack) -> None:
    """No result but a queue timeout: Transaction Status is asked about the reversal by the OriginatorConversationID
    Daraja acknowledged (tokens recorded first); its Completed answer marks the payment reversed."""
    desk, payment = _suspended(stack)
    stack.mpesa.set_scenario(payment.trans_id, Scenario.QUEUE_TIMEOUT)
    sent = give_back(desk, payment.id, note="the payer asked")
    (waiting,) = answer_reversal(stack, desk)
    assert waiting.state is PaybillState.REVERSING and waiting.check_at == stack.clock.now()
    (asked,) = desk.verify_due()
    assert asked.status_digest is not None and asked.queries == 1
    (done,) = answer_status(stack, desk)
    assert done.state is PaybillState.REVERSED and sent.reversal_originator == done.reversal_originator
    assert stack.ledger.balance(flows.PAYBILL_SUSPENSE).posted == Money.zero(KES)
    assert _collected(stack) == Money.zero(KES)
    assert "paybill.reversed" in [r.action for r in stack.backend.storage.audit_records()]


def test_a_reversal_whose_acknowledgement_was_lost_is_asked_about_by_its_trans_id(stack: WalletStack) -> None:
    """The answer to the Reversal request was lost: nothing is known but the tokens; after the wait Transaction
    Status about the original TransID says Reversed, so it is."""
    desk, payment = _suspended(stack)
    stack.mpesa.set_scenario(payment.trans_id, Scenario.RESPONSE_LOST)
    sent = give_back(desk, payment.id, note="the payer asked")
    assert sent.state is PaybillState.REVERSING and sent.reversal_originator is None
    stack.mpesa.outbox.clear()  # the result never came
    assert desk.verify_due() == []  # not before the deadline
    stack.clock.advance(minutes=10)
    (asked,) = desk.verify_due()
    assert asked.state is PaybillState.REVERSING and asked.queries == 1
    (done,) = answer_status(stack, desk)
    assert done.state is PaybillState.REVERSED


def test_reversal_answers_in_safaricom_s_wire_format_match_only_their_request(stack: WalletStack) -> None:
    """Safaricom's published success and R000002 results, with our request's ids: success reverses; an answer on a
    token of no reversal, or naming another request, is refused and writes nothing; R000002 leaves it waiting."""
    desk, payment = _suspended(stack)
    stack.mpesa.set_scenario(payment.trans_id, Scenario.LOST_CALLBACK)
    sent = give_back(desk, payment.id, note="the payer asked")
    ours = {"OriginatorConversationID": sent.reversal_originator, "ConversationID": sent.reversal_conversation}
    success = json.loads((SAMPLE.parent / "reversal_result_success_official.json").read_text())
    failure = json.loads((SAMPLE.parent / "reversal_result_failure_R000002_official.json").read_text())
    with pytest.raises(Forbidden):
        desk.on_reversal(parse_payload(success), token="forged")
    result_token = _reversal_token(stack, sent)
    with pytest.raises(Forbidden):  # Safaricom's own ids: another request's answer
        desk.on_reversal(parse_payload(success), token=result_token)
    assert desk.get(payment.id).state is PaybillState.REVERSING
    refused = desk.on_reversal(parse_payload({"Result": {**failure["Result"], **ours}}), token=result_token)
    assert refused.state is PaybillState.SUSPENDED and "R000002" in refused.reason
    again = give_back(desk, payment.id, note="try again")
    done = desk.on_reversal(
        parse_payload(
            {
                "Result": {
                    **success["Result"],
                    "OriginatorConversationID": again.reversal_originator,
                    "ConversationID": again.reversal_conversation,
                }
            }
        ),
        token=_reversal_token(stack, again),
    )
    assert done.state is PaybillState.REVERSED and done.reversal_receipt == "SKE52PAWR9"


def test_operator_actions_refuse_the_wrong_state_and_the_shell_approving(stack: WalletStack) -> None:
    desk, payment = _suspended(stack)
    with pytest.raises(InvalidState):
        desk.reverify(payment.id, actor="usr_ops", note="only unverified ones are asked about again")
    with pytest.raises(InvalidInput):
        give_back(desk, payment.id, note=" ")
    desk.propose_credit(payment.id, "0712000001", officer="usr_a", note="the payer called")
    with pytest.raises(Refused):
        desk.approve_credit(payment.id, officer="usr_b", operator="ops@host")
    with pytest.raises(Conflict):
        give_back(desk, payment.id, note="while a credit is proposed")
    assert desk.decline(payment.id, officer="usr_b", note="not the payer's").proposed_by is None
    with pytest.raises(NotFound):
        desk.propose_credit(payment.id, "nobody", officer="usr_a", note="no such wallet")
    actions = [r.action for r in stack.backend.storage.audit_records()]
    assert {"paybill.credit_proposed", "paybill.credit_declined"} <= set(actions)


def _reversal_token(stack: WalletStack, sent: PaybillPayment) -> str:
    """The token our Reversal request's ResultURL ended in, as the fake M-Pesa received it."""
    (tx,) = [
        t for t in stack.mpesa.transactions() if t.product == "reversal" and t.reference == sent.reversal_originator
    ]
    assert tx.result_url is not None
    return tx.result_url.rsplit("/", 1)[-1]


def _reversal_taken_as_failed(stack: WalletStack) -> tuple[Paybill, PaybillPayment, dict[str, object], str]:
    """A suspended payment whose Reversal sent no result, and Transaction Status then found no record of it (taken
    as failed: back in suspense); with M-Pesa's success result for it and the token it is to arrive on."""
    desk, payment = _suspended(stack)
    stack.mpesa.set_scenario(payment.trans_id, Scenario.LOST_CALLBACK)
    sent = give_back(desk, payment.id, note="the payer asked")
    success = json.loads((SAMPLE.parent / "reversal_result_success_official.json").read_text())
    ours = {"OriginatorConversationID": sent.reversal_originator, "ConversationID": sent.reversal_conversation}
    token = _reversal_token(stack, sent)
    not_found = {
        "Result": {
            "ResultType": 0,
            "ResultCode": "TransactionNotFound",
            "ResultDesc": "The transaction is not found.",
            "OriginatorConversationID": "x",
            "ConversationID": "y",
            "TransactionID": "Z000000000",
        }
    }
    stack.clock.advance(minutes=10)
    stack.mpesa.outbox.clear()
    (asked,) = desk.verify_due()
    assert asked.state is PaybillState.REVERSING
    (status,) = [d for d in stack.mpesa.outbox if "/status/result/" in d.url]
    failed = desk.on_status(parse_payload(not_found), token=status.url.rsplit("/", 1)[-1])
    assert failed.state is PaybillState.SUSPENDED and "no record of the reversal" in failed.reason
    return desk, payment, {"Result": {**success["Result"], **ours}}, token


def test_a_reversal_m_pesa_did_after_status_found_none_still_marks_it_reversed(stack: WalletStack) -> None:
    """No result came and Transaction Status found no record of the reversal (taken as failed: back in suspense);
    then M-Pesa's own success result arrives on its token: the payment is reversed after all, out of the suspense."""
    desk, _, success, token = _reversal_taken_as_failed(stack)
    done = desk.on_reversal(parse_payload(success), token=token)
    assert done.state is PaybillState.REVERSED
    assert stack.ledger.balance(flows.PAYBILL_SUSPENSE).posted == Money.zero(KES)


@pytest.mark.parametrize("proposal", [PaybillProposal.CREDIT, PaybillProposal.RETURN])
def test_a_reversal_s_late_success_is_booked_and_closes_the_proposal_made_since(
    stack: WalletStack, proposal: PaybillProposal
) -> None:
    """Taken as failed, the payment waits in suspense and an officer proposes a credit (or a new return); M-Pesa's
    late success still reverses it (out of the suspense: the payer has the money back) and the waiting proposal is
    declined with the reason, audited in M-Pesa's callback's name, so nobody approves money that is gone (lastread
    A10: the success was ignored while a proposal waited)."""
    desk, payment, success, token = _reversal_taken_as_failed(stack)
    if proposal is PaybillProposal.CREDIT:
        desk.propose_credit(payment.id, "0712000001", officer="usr_a", note="the payer called")
    else:
        desk.propose_return(payment.id, officer="usr_a", note="try the return again")
    done = desk.on_reversal(parse_payload(success), token=token)
    assert (done.state, done.proposal, done.reversal_receipt) == (PaybillState.REVERSED, None, "SKE52PAWR9")
    assert desk.get(payment.id).proposal is None
    assert stack.ledger.balance(flows.PAYBILL_SUSPENSE).posted == Money.zero(KES)
    assert set(stack.ledger.trial_balance().values()) == {0}
    [declined] = [r for r in stack.backend.storage.audit_records() if r.action == f"paybill.{proposal.value}_declined"]
    assert declined.actor == "mpesa:callback" and "reversed the payment" in dict(declined.details)["note"]
    assert dict(declined.details)["proposed_by"] == "usr_a"
    with pytest.raises(InvalidState):
        desk.approve(payment.id, officer="usr_b")


def test_a_reversal_returns_what_m_pesa_received_never_a_payout_of_ours(stack: WalletStack) -> None:
    """A confirmation claimed KES 9,000 of a genuine KES 800 payment: the reversal returns the 800 M-Pesa shows;
    a confirmation naming the receipt of a payout of ours (M-Pesa's record: paid to a customer, not to our paybill)
    is refused before anything is sent: that money is not a payer's to return."""
    desk, token = registered(stack)
    stack.mpesa.simulate_c2b("0799000001", 800, "acc 1")
    inflated = desk.confirm(parse_payload({**stack.mpesa.outbox.pop().payload, "TransAmount": "9000"}), token=token)
    verified(stack, desk)
    assert desk.get(inflated.id).paid_to_us == Money.of(800, KES)
    with pytest.raises(InvalidState):  # crediting the 9,000 the confirmation claimed would credit money never paid
        desk.propose_credit(inflated.id, "0799000001", officer="usr_a", note="credit it")
    give_back(desk, inflated.id, note="the payer asked")
    (done,) = answer_reversal(stack, desk)
    assert done.state is PaybillState.REVERSED
    payout = stack.mpesa.b2c(_b2c_to("254799000002"))
    receipt = stack.mpesa.transaction(str(payout.originator_conversation_id)).receipt
    stack.mpesa.outbox.clear()
    stack.mpesa.simulate_c2b("0799000003", 100, "acc 2")
    claimed = desk.confirm(parse_payload({**stack.mpesa.outbox.pop().payload, "TransID": receipt}), token=token)
    (unverified,) = verified(stack, desk)
    assert unverified.id == claimed.id and unverified.state is PaybillState.UNVERIFIED
    assert unverified.paid_to_us is None
    with pytest.raises(InvalidState):
        give_back(desk, claimed.id, note="give it back")


def _b2c_to(phone: str) -> B2CRequest:
    return B2CRequest(
        originator_conversation_id="payout-1",
        command=B2CCommand.BUSINESS_PAYMENT,
        amount=Money.of(500, KES),
        phone=phone,
        remarks="A payout of ours",
        result_url="https://example.test/r",
        timeout_url="https://example.test/t",
    )


def test_confirmations_that_disagreed_still_go_to_suspense_after_being_asked_about_again(stack: WalletStack) -> None:
    """Two confirmations of a TransID named different accounts; M-Pesa did not know it yet (unverified); asked about
    again it is verified: held in suspense, never credited to the account either confirmation named."""
    mallory = stack.sign_up("0712000009", username="mallory")
    desk, token = registered(stack)
    stack.mpesa.simulate_c2b("0799000001", 500, "0712000001")
    genuine = stack.mpesa.outbox.pop().payload
    desk.confirm(parse_payload({**genuine, "BillRefNumber": "mallory"}), token=token)
    payment = desk.confirm(parse_payload(genuine), token=token)
    assert "disagree" in payment.reason
    desk.verify_due()
    (status,) = [d for d in stack.mpesa.outbox if "/status/result/" in d.url]
    stack.mpesa.outbox.clear()
    not_found = {
        "Result": {
            "ResultType": 0,
            "ResultCode": "TransactionNotFound",
            "ResultDesc": "The transaction is not found.",
            "OriginatorConversationID": "x",
            "ConversationID": "y",
            "TransactionID": "Z000000000",
        }
    }
    unverified = desk.on_status(parse_payload(not_found), token=status.url.rsplit("/", 1)[-1])
    assert unverified.state is PaybillState.UNVERIFIED and unverified.reason.startswith("confirmations of this")
    desk.reverify(payment.id, actor="usr_ops", note="M-Pesa was slow")
    (booked,) = verified(stack, desk)
    assert booked.state is PaybillState.SUSPENDED and stack.balance(mallory, "KES").is_zero()


def test_a_trans_id_m_pesa_records_paid_to_another_party_is_never_credited(stack: WalletStack) -> None:
    """revpass7 P1: a confirmation naming the receipt of a payout of ours (M-Pesa's completed record: paid to a
    customer, not into our paybill) ends unverified; two officers may not credit it to a wallet either (it would book
    money that never came into the paybill), as it may not be reversed: proposal and approval refused, nothing moves."""
    amina = stack.sign_up("0712000001")
    desk, token = registered(stack)
    payout = stack.mpesa.b2c(_b2c_to("254799000002"))
    receipt = stack.mpesa.transaction(str(payout.originator_conversation_id)).receipt
    stack.mpesa.outbox.clear()
    stack.mpesa.simulate_c2b("0799000003", 500, "0712000001")
    claimed = desk.confirm(parse_payload({**stack.mpesa.outbox.pop().payload, "TransID": receipt}), token=token)
    (unverified,) = verified(stack, desk)
    assert unverified.id == claimed.id and unverified.state is PaybillState.UNVERIFIED
    assert unverified.paid_to_us is None and "no payment into our paybill" in unverified.reason
    with pytest.raises(InvalidState, match="no payment into our paybill"):
        desk.propose_credit(claimed.id, "0712000001", officer="usr_a", note="the customer insists")
    assert desk.get(claimed.id).proposed_by is None
    assert stack.balance(amina, "KES") == Money.zero(KES) and _collected(stack) == Money.zero(KES)


def test_a_payment_m_pesa_has_no_record_of_is_neither_credited_nor_returned_by_two_officers(stack: WalletStack) -> None:
    """Whoever learnt the confirmation URL's token posts a TransID M-Pesa does not know: it ends unverified, and two
    officers vouching for it credit nothing (refused at the proposal, saying to re-verify first); it is not returned
    either (no money of a payer's came); nothing is proposed, nothing moves, and re-verifying stays open."""
    amina = stack.sign_up("0712000001", username="amina")
    desk, token = registered(stack)
    stack.mpesa.simulate_c2b("0799000001", 400, "amina")
    forged = desk.confirm(parse_payload({**stack.mpesa.outbox.pop().payload, "TransID": "NOSUCH0001"}), token=token)
    (unverified,) = verified(stack, desk)
    assert unverified.state is PaybillState.UNVERIFIED and unverified.paid_to_us is None
    with pytest.raises(InvalidState, match="re-verify it first"):
        desk.propose_credit(forged.id, "amina", officer="usr_a", note="the payer sent a screenshot")
    with pytest.raises(InvalidState, match="re-verify it first"):
        desk.propose_return(forged.id, officer="usr_a", note="give it back")
    assert desk.get(forged.id).proposal is None
    assert stack.balance(amina, "KES").is_zero() and _collected(stack) == Money.zero(KES)
    assert not [t for t in stack.mpesa.transactions() if t.product == "reversal"]
    assert desk.reverify(forged.id, actor="usr_ops", note="ask again").state is PaybillState.VERIFYING


def test_a_return_is_proposed_by_one_officer_and_sent_only_when_a_second_approves(stack: WalletStack) -> None:
    """A return sends money out of our paybill, so it is four-eyes as a credit is: the proposal sends nothing; its
    proposer is refused (``SameOfficer``, audited); a shell neither proposes (audited by its operator) nor approves;
    an approval of another proposal than the one read is a ``Conflict``; the second officer's approval sends M-Pesa's
    Reversal, audited naming both."""
    desk, payment = _suspended(stack)
    with pytest.raises(Refused):
        desk.propose_return(payment.id, officer="usr_a", note="the payer asked", operator="ops:kim")
    proposed = desk.propose_return(payment.id, officer="usr_a", note="the payer asked")
    assert (proposed.proposal, proposed.proposed_by, proposed.state) == (
        PaybillProposal.RETURN,
        "usr_a",
        PaybillState.SUSPENDED,
    )
    assert not stack.mpesa.outbox and not [t for t in stack.mpesa.transactions() if t.product == "reversal"]
    with pytest.raises(SameOfficer):
        desk.approve_return(payment.id, officer="usr_a")
    with pytest.raises(SameOfficer):
        desk.approve(payment.id, officer="usr_a")
    with pytest.raises(Refused):
        desk.approve_return(payment.id, officer="usr_b", operator="ops:kim")
    with pytest.raises(InvalidState):
        desk.approve_credit(payment.id, officer="usr_b")  # no credit is proposed
    with pytest.raises(Conflict):
        desk.approve(payment.id, officer="usr_b", expected=PaybillProposal.CREDIT)
    with pytest.raises(Conflict):
        desk.propose_credit(payment.id, "0712000001", officer="usr_b", note="rather credit it")
    assert desk.get(payment.id).state is PaybillState.SUSPENDED and not stack.mpesa.outbox
    sent = desk.approve(payment.id, officer="usr_b", expected=PaybillProposal.RETURN)
    assert sent.state is PaybillState.REVERSING and sent.proposal is None and sent.reversal_by == "user:usr_b"
    (done,) = answer_reversal(stack, desk)
    assert done.state is PaybillState.REVERSED and stack.ledger.balance(flows.PAYBILL_SUSPENSE).posted.is_zero()
    records = stack.backend.storage.audit_records()
    [requested] = [r for r in records if r.action == "paybill.reversal_requested"]
    assert requested.actor == "user:usr_b" and dict(requested.details)["proposed_by"] == "usr_a"
    actions = [r.action for r in records]
    assert {"paybill.return_proposed", "paybill.return_same_officer_refused", "paybill.shell_proposal_refused"} <= set(
        actions
    )


def test_a_proposal_stored_before_returns_were_four_eyes_reads_as_a_credit(stack: WalletStack) -> None:
    """A proposal kept without its kind (before ``proposal_kind``) is the credit it was; none proposed reads as none."""
    _, payment = _suspended(stack)
    assert payment.proposal is None
    old = attrs.evolve(payment, proposed_by="usr_a", proposed_to="usr_amina", proposal_kind=None)
    assert old.proposal is PaybillProposal.CREDIT


def test_no_officer_proposes_or_approves_a_credit_into_their_own_wallet(stack: WalletStack) -> None:
    """The wallet to credit is the officer's own: 403 ``own_party`` at proposal and at approval, each refusal
    audited ``paybill.own_party_refused``; nothing is proposed or credited by them (lastread B9)."""
    from cryptopay.core.compliance.own_party import OwnParty

    desk, payment = _suspended(stack)
    mine = stack.sign_up("0712000002")
    with pytest.raises(OwnParty):
        desk.propose_credit(payment.id, "0712000002", officer=mine.id, note="my own top-up")
    assert desk.get(payment.id).proposal is None
    desk.propose_credit(payment.id, "0712000002", officer="usr_a", note="the payer called")
    with pytest.raises(OwnParty):
        desk.approve_credit(payment.id, officer=mine.id)
    assert desk.get(payment.id).state is PaybillState.SUSPENDED
    refused = [r for r in stack.backend.storage.audit_records() if r.action == "paybill.own_party_refused"]
    assert [(r.actor, dict(r.details)["action"]) for r in refused] == [
        (f"user:{mine.id}", "credit_proposal"),
        (f"user:{mine.id}", "credit_approval"),
    ]
    assert desk.approve_credit(payment.id, officer="usr_b").state is PaybillState.RELEASED


def _as_stored_before_paid_to_us(stack: WalletStack, payment: PaybillPayment, *, answers: bool) -> None:
    """The payment as a document written before ``paid_to_us`` was kept (and, without ``answers``, before payments
    were verified at all: migration 0186)."""

    def work(uow: PaybillUnitOfWork) -> None:
        uow.paybill_payments.update(attrs.evolve(payment, paid_to_us=None, answers=payment.answers if answers else ()))

    in_transaction(stack.backend.uow, work)


def test_a_payment_suspended_before_m_pesa_s_record_was_kept_is_still_credited_or_returned(stack: WalletStack) -> None:
    """A suspended payment reached suspense only after a Transaction Status answer matching it: stored before
    ``paid_to_us`` was kept, that answer is M-Pesa's record (``mpesa_record``), so two officers credit it or return
    it; one stored before payments were verified at all (no answer) is still refused, nothing proposed."""
    amina = stack.sign_up("0712000001")
    desk, _ = registered(stack)
    first = pay(stack, desk, "0799000001", 300, "acc 17")
    second = pay(stack, desk, "0799000002", 200, "acc 18")
    unasked = pay(stack, desk, "0799000003", 100, "acc 19")
    for payment, answered in ((first, True), (second, True), (unasked, False)):
        _as_stored_before_paid_to_us(stack, payment, answers=answered)
    assert desk.get(first.id).mpesa_record == Money.of(300, KES) and desk.get(unasked.id).mpesa_record is None
    assert credit(desk, first.id, amina.id, note="Amina's top-up").state is PaybillState.RELEASED
    assert stack.balance(amina, "KES") == Money.of(300, KES)
    give_back(desk, second.id, note="the payer asked")
    (reversed_,) = answer_reversal(stack, desk)
    assert reversed_.state is PaybillState.REVERSED
    with pytest.raises(InvalidState, match="re-verify it first"):
        desk.propose_credit(unasked.id, amina.id, officer="usr_a", note="old one")
    with pytest.raises(InvalidState, match="re-verify it first"):
        desk.propose_return(unasked.id, officer="usr_a", note="old one")
    assert desk.get(unasked.id).proposal is None
    assert stack.ledger.balance(flows.PAYBILL_SUSPENSE).posted == Money.of(100, KES)


def test_a_payment_suspended_before_payments_were_verified_is_re_verified_without_booking_it_again(
    stack: WalletStack,
) -> None:
    """A payment booked into suspense on its confirmation alone (before migration 0186: no M-Pesa answer) is asked
    about again by Transaction Status and stays in suspense, booked once: a matching answer keeps M-Pesa's record,
    so two officers credit it as any other; one M-Pesa does not know keeps none and is still refused (escalate it).
    Before, re-verifying refused it (only unverified ones) and crediting asked to re-verify: no way out. Audited."""
    reverified_in_suspense(stack)
    reverified = [dict(r.details) for r in stack.backend.storage.audit_records() if r.action == "paybill.reverified"]
    assert sorted(d["verified"] for d in reverified) == ["false", "true"]


def reverified_in_suspense(stack: WalletStack) -> None:
    """Two payments suspended before payments were verified, re-verified: one M-Pesa knows (then credited by two
    officers), one it does not (still refused); nothing booked twice (the contract runs it on every backend)."""
    amina = stack.sign_up("0712000001")
    desk, _ = registered(stack)
    genuine = pay(stack, desk, "0799000003", 100, "acc 19")
    forged = pay(stack, desk, "0799000004", 50, "acc 20")
    _as_stored_before_paid_to_us(stack, genuine, answers=False)
    _as_stored_before_paid_to_us(stack, attrs.evolve(forged, trans_id="QZZ0000000"), answers=False)
    suspense = stack.ledger.balance(flows.PAYBILL_SUSPENSE).posted
    assert suspense == Money.of(150, KES)
    for payment in (genuine, forged):
        asked = desk.reverify(payment.id, actor="user:usr_ops", note="stored before payments were verified")
        assert asked.state is PaybillState.SUSPENDED and asked.check_at == stack.clock.now()
    stack.mpesa.outbox.clear()
    assert {p.id for p in desk.verify_due()} == {genuine.id, forged.id}
    answered = {p.id: p for p in answer_status(stack, desk)}
    assert answered[genuine.id].state is PaybillState.SUSPENDED and answered[genuine.id].check_at is None
    assert answered[genuine.id].mpesa_record == Money.of(100, KES)
    assert answered[forged.id].state is PaybillState.SUSPENDED and answered[forged.id].mpesa_record is None
    assert "escalate" in answered[forged.id].reason
    assert stack.ledger.balance(flows.PAYBILL_SUSPENSE).posted == suspense  # nothing booked again
    assert desk.verify_due() == []
    with pytest.raises(InvalidState, match="M-Pesa's record kept"):
        desk.reverify(genuine.id, actor="user:usr_ops", note="again")
    assert credit(desk, genuine.id, amina.id, note="Amina's top-up").state is PaybillState.RELEASED
    assert stack.balance(amina, "KES") == Money.of(100, KES)
    with pytest.raises(InvalidState, match="re-verify it first"):
        desk.propose_credit(forged.id, amina.id, officer="usr_a", note="old one")
    assert stack.ledger.balance(flows.PAYBILL_SUSPENSE).posted == Money.of(50, KES)
    assert set(stack.ledger.trial_balance().values()) == {0}
