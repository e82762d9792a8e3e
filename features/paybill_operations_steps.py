"""Steps for paybill_operations.feature over the in-memory wallet stack and its fake M-Pesa (test_paybill_operations)."""

from typing import Any

import pytest
from cryptopay.core.errors import InvalidState, Refused
from cryptopay.core.mobile_money import ReversalRequest, parse_payload
from cryptopay.core.money import KES, Money
from cryptopay.core.payments.held import SameOfficer
from cryptopay.core.wallets.paybill import Paybill, PaybillProposal, PaybillState
from pytest_bdd import given, parsers, then, when

from tests.support.paybill import answer_reversal, registered, verified
from tests.support.wallet_stack import WalletStack


def _stack(context: Any) -> WalletStack:
    stack: WalletStack = context["stack"]
    return stack


def _desk(context: Any) -> Paybill:
    desk: Paybill = context["desk"]
    return desk


@given(parsers.re(r"(?P<name>\w+) has a wallet with the phone number (?P<phone>[\d ]+) and the username (?P<user>\w+)"))
def wallet(context, paybill_stack, name, phone, user):
    context["stack"] = paybill_stack
    context.setdefault("people", {})[name] = paybill_stack.sign_up(phone.replace(" ", ""), username=user)
    context["desk"], context["token"] = registered(paybill_stack)


@given(
    parsers.re(
        r'a customer with the number (?P<phone>[\d ]+) paid our paybill KES (?P<value>[\d,]+) for the account "(?P<ref>\w+)"'
    )
)
def customer_paid(context, phone, value, ref):
    stack, number = _stack(context), phone.replace(" ", "")
    context["before"] = stack.mpesa.balance(number)
    stack.mpesa.simulate_c2b(number, int(context.amount(value)), ref)
    context["confirmation"] = stack.mpesa.outbox.pop().payload


@given("the confirmation we were sent named another payer, so M-Pesa did not verify it")
def another_payer(context):
    stack, desk = _stack(context), _desk(context)
    payload = {**context["confirmation"], "MSISDN": "254799999999"}
    context["payment"] = desk.confirm(parse_payload(payload), token=context["token"]).id
    verified(stack, desk)
    assert desk.get(context["payment"]).state is PaybillState.UNVERIFIED


@when(parsers.re(r"(?P<officer>\w+) asks M-Pesa about the payment again"))
def asks_again(context, officer):
    _desk(context).reverify(context["payment"], actor=f"user:{officer}", note="the payer sent a screenshot")
    verified(_stack(context), _desk(context))


@then("the payment is still not verified and nothing is credited")
def still_unverified(context):
    payment = _desk(context).get(context["payment"])
    assert payment.state is PaybillState.UNVERIFIED and "payer" in payment.reason
    assert _stack(context).balance(context["people"]["Amina"], "KES").is_zero()


@when(parsers.re(r'(?P<officer>\w+) proposes crediting the payment to the wallet "(?P<to>\w+)"'))
def proposes(context, officer, to):
    _desk(context).propose_credit(context["payment"], to, officer=officer, note="the payer asked for this wallet")


@when(
    parsers.re(
        r'an operator at the server\'s shell proposes crediting the payment to the wallet "(?P<to>\w+)" in '
        r"(?P<officer>\w+)'s name"
    )
)
def shell_proposes(context, to, officer):
    with pytest.raises(Refused) as refused:
        desk = _desk(context)
        desk.propose_credit(context["payment"], to, officer=officer, note="the payer asked", operator="ops:kim")
    context["refusal"] = refused.value


@then("they are told to propose it on the console, where the officer signs in with a fresh code")
def told_console(context):
    message = context["refusal"].message
    assert "/console/paybill" in message and "fresh one-time code" in message


@then(parsers.re(r"nothing is proposed and (?P<name>\w+) has KES 0 in her wallet"))
def nothing_proposed(context, name):
    assert _desk(context).get(context["payment"]).proposed_by is None
    assert _stack(context).balance(context["people"][name], "KES").is_zero()


@then("the refusal is recorded under the operator's name")
def refusal_recorded(context):
    records = _stack(context).backend.storage.audit_records()
    [refusal] = [r for r in records if r.action == "paybill.shell_proposal_refused"]
    assert refusal.actor == "ops:kim" and dict(refusal.details)["officer"] == "Ann"
    assert not any(r.action == "paybill.credit_proposed" for r in records)


@when(parsers.re(r"(?P<officer>\w+) tries to approve her own proposal"))
def approves_own(context, officer):
    with pytest.raises(SameOfficer) as refused:
        _desk(context).approve(context["payment"], officer=officer)
    context["refusal"] = refused.value


@then("she is told a second officer must approve it")
def told_second_officer(context):
    assert "a second officer approves it" in context["refusal"].message


@when(parsers.re(r"(?P<officer>\w+) approves (?P<proposer>\w+)'s proposal"))
def approves(context, officer, proposer):
    desk = _desk(context)
    proposal = desk.get(context["payment"]).proposal
    assert proposal is not None and desk.get(context["payment"]).proposed_by == proposer
    done = desk.approve(context["payment"], officer=officer, expected=proposal)
    if proposal is PaybillProposal.CREDIT:
        assert done.state is PaybillState.RELEASED and done.decided_by == f"user:{officer}"
    else:
        context["answered"] = answer_reversal(_stack(context), desk)


@then(parsers.re(r"(?P<name>\w+) has KES (?P<value>[\d,.]+) in her wallet"))
def has_kes(context, name, value):
    assert _stack(context).balance(context["people"][name], "KES") == Money.of(context.amount(value), KES)


@when(parsers.re(r"(?P<officer>\w+) proposes returning the payment to the payer"))
def proposes_return(context, officer):
    _desk(context).propose_return(context["payment"], officer=officer, note="the payer asked for it back")


@then("nothing is sent to M-Pesa")
def nothing_to_mpesa(context):
    assert not [t for t in _stack(context).mpesa.transactions() if t.product == "reversal"]


@then("M-Pesa reverses it and the payment is marked reversed")
def reversed_(context):
    (answered,) = context["answered"]
    assert answered.state is PaybillState.REVERSED and _desk(context).get(answered.id).reversal_receipt


@then(parsers.re(r"the customer with the number (?P<phone>[\d ]+) has the KES (?P<value>[\d,]+) back"))
def payer_back(context, phone, value):
    assert _stack(context).mpesa.balance(phone.replace(" ", "")) == context["before"]


@then("the books show nothing of it")
def books_nothing(context):
    assert set(_stack(context).ledger.trial_balance().values()) <= {0}


@given("a confirmation of a receipt M-Pesa never made was posted with our token")
def forged(context):
    stack, desk = _stack(context), _desk(context)
    payload = {**context["confirmation"], "TransID": "NOSUCH0001"}
    context["payment"] = desk.confirm(parse_payload(payload), token=context["token"]).id
    verified(stack, desk)


@given("someone already reversed the payment by hand in the M-Pesa portal")
def reversed_in_portal(context):
    stack, payment = _stack(context), _desk(context).get(context["payment"])
    urls = {"result_url": "https://example.test/r", "timeout_url": "https://example.test/t"}
    stack.mpesa.reversal(ReversalRequest(transaction_id=payment.trans_id, amount=payment.kes, **urls))
    stack.mpesa.outbox.clear()


@then("M-Pesa refuses with R000002 and the payment waits again with the reason")
def refused_r000002(context):
    (answered,) = context["answered"]
    assert answered.state is PaybillState.UNVERIFIED and "R000002" in answered.reason


@when(parsers.re(r"(?P<officer>\w+) tries to return that payment to the payer"))
def tries_to_return(context, officer):
    with pytest.raises(InvalidState) as refused:
        _desk(context).propose_return(context["payment"], officer=officer, note="give it back")
    context["refusal"] = refused.value


@when(parsers.re(r'(?P<officer>\w+) tries to credit that payment to the wallet "(?P<to>\w+)"'))
def tries_to_credit(context, officer, to):
    with pytest.raises(InvalidState) as refused:
        _desk(context).propose_credit(context["payment"], to, officer=officer, note="the payer insists")
    context["refusal"] = refused.value


@then("she is told to ask M-Pesa again first and nothing is sent")
def nothing_sent(context):
    assert "re-verify it first" in context["refusal"].message
    assert _desk(context).get(context["payment"]).state is PaybillState.UNVERIFIED
    assert not [t for t in _stack(context).mpesa.transactions() if t.product == "reversal"]
    assert _desk(context).get(context["payment"]).state is PaybillState.UNVERIFIED
    assert not [t for t in _stack(context).mpesa.transactions() if t.product == "reversal"]
