"""The console's paybill payments (``/console/paybill``): staff see those M-Pesa did not verify (and those in
suspense), ask M-Pesa again, credit a wallet or return the money to the payer by M-Pesa's Reversal, each only when a second officer approves (a
fresh code each; the proposer's own approval refused with 409, audited); in English and Swahili."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core.identity import Role
from cryptopay.core.mobile_money import ReversalRequest, parse_payload
from cryptopay.core.money import KES, Money
from cryptopay.core.ports.paybill import PaybillUnitOfWork
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.wallets.paybill import Paybill, PaybillPayment, PaybillState
from cryptopay_http import Services

from tests.integration.http.http_support import fast_hasher
from tests.integration.web.test_console_officer_pages import Staff
from tests.support.paybill import answer_reversal, pay, paybill, registered, verified
from tests.support.services import in_memory_services, with_wallets
from tests.support.wallet_stack import WalletStack, wallet_stack

PAGE = "/console/paybill"


@pytest.fixture
def wallets() -> WalletStack:
    return wallet_stack()


@pytest.fixture
def desk(wallets: WalletStack) -> Paybill:
    return paybill(wallets)


@pytest.fixture
def services(wallets: WalletStack, desk: Paybill) -> Services:
    found = with_wallets(in_memory_services(clock=wallets.clock, hasher=fast_hasher()), wallets)
    return attrs.evolve(found, paybill=ready(desk))


@pytest.fixture
def ann(app, auth) -> Staff:
    return Staff(app, auth, "ann@cryptopay.example", Role.ADMIN)


@pytest.fixture
def bob(app, auth) -> Staff:
    return Staff(app, auth, "bob@cryptopay.example", Role.COMPLIANCE)


def _unverified(wallets: WalletStack, desk: Paybill, amount: int = 400, token: str | None = None) -> PaybillPayment:
    """A genuine payment whose confirmation shows another payer: M-Pesa's Transaction Status does not confirm it."""
    token = token or registered(wallets)[1]
    wallets.mpesa.simulate_c2b("0799000001", amount, "acc 9")
    payload = {**wallets.mpesa.outbox.pop().payload, "MSISDN": "254799999999"}
    payment = desk.confirm(parse_payload(payload), token=token)
    verified(wallets, desk)
    assert desk.get(payment.id).state is PaybillState.UNVERIFIED
    return payment


def _actions(wallets: WalletStack) -> list[str]:
    return [r.action for r in wallets.backend.storage.audit_records()]


def test_an_unverified_payment_is_credited_when_a_second_officer_approves(wallets, desk, ann, bob):
    """Ann sees it in the list, asks M-Pesa again (still unverified), proposes Amina's wallet (a wrong code refused,
    nothing proposed), cannot approve her own proposal (409, audited, nothing moves); Bob approves with his code."""
    amina = wallets.sign_up("0712000001", username="amina")
    payment = _unverified(wallets, desk)
    status, html = ann.get(PAGE)
    assert status == 200 and payment.id in html and 'href="?state=unverified" aria-current="page"' in html
    detail = f"{PAGE}/{payment.id}"
    status, html = ann.get(detail)
    assert status == 200 and payment.trans_id in html and "the payer&#39;s number differs" in html
    assert "799999999" not in html  # never a whole phone, however written (2547..., 07..., +254 7...)
    assert ann.post(f"{detail}/reverify", detail, note="the payer sent a screenshot")[2] == detail
    assert desk.get(payment.id).state is PaybillState.VERIFYING
    verified(wallets, desk)
    form = {"wallet": "@amina", "note": "the payer asked for Amina's wallet"}
    status, html, _ = ann.post(f"{detail}/propose", detail, **form, code="000000")
    assert status == 403 and 'role="alert"' in html and desk.get(payment.id).proposed_to is None
    assert ann.post(f"{detail}/propose", detail, **form, code=ann.code())[2] == detail
    status, html = ann.get(detail)
    assert "A second officer must approve your proposal" in html and "/approve" not in html
    status, html, _ = ann.post(f"{detail}/approve", detail, code=ann.code(), proposal="credit", proposed_to=amina.id)
    assert status == 409 and 'role="alert"' in html and "paybill.credit_same_officer_refused" in _actions(wallets)
    assert wallets.balance(amina, "KES").is_zero()
    status, html = bob.get(detail)
    assert "/approve" in html and "Amina&#39;s wallet" in html
    status, html, _ = bob.post(f"{detail}/approve", detail, code=bob.code(), proposal="credit", proposed_to="usr_other")
    assert status == 409  # a page showing another wallet approves nothing
    assert bob.post(f"{detail}/approve", detail, code=bob.code(), proposal="credit", proposed_to=amina.id)[2] == detail
    assert desk.get(payment.id).state is PaybillState.RELEASED
    assert wallets.balance(amina, "KES") == Money.of(400, KES)
    assert {"paybill.reverify_requested", "paybill.credit_proposed", "paybill.credit_approved"} <= set(
        _actions(wallets)
    )


def test_a_payment_is_returned_to_the_payer_when_a_second_officer_approves(wallets, desk, ann, bob):
    """Ann proposes the return (a code is needed), cannot approve it herself (409, audited, nothing sent); Bob
    approves (his code): M-Pesa's Reversal is sent and its result marks it reversed; a payment M-Pesa has no record
    of is not proposed (409, re-verify first); one M-Pesa refuses (R000002) waits again with the reason shown."""
    wallets.sign_up("0712000001")
    _, token = registered(wallets)
    payment = _unverified(wallets, desk, 300, token)
    detail = f"{PAGE}/{payment.id}"
    status, html, _ = ann.post(f"{detail}/propose-return", detail, note="the payer asked for it back")
    assert status == 422 and desk.get(payment.id).proposed_by is None  # no code: nothing proposed
    proposing = {"note": "the payer asked for it back", "code": ann.code()}
    assert ann.post(f"{detail}/propose-return", detail, **proposing)[2] == detail
    status, html = ann.get(detail)
    assert "A second officer must approve your proposal" in html and "/approve" not in html
    status, html, _ = ann.post(f"{detail}/approve", detail, code=ann.code(), proposal="return")
    assert status == 409 and "paybill.return_same_officer_refused" in _actions(wallets)
    assert desk.get(payment.id).state is PaybillState.UNVERIFIED and not wallets.mpesa.outbox  # nothing sent
    status, html = bob.get(detail)
    assert "Approve and return it to the payer" in html
    status, html, _ = bob.post(f"{detail}/approve", detail, code=bob.code(), proposal="credit", proposed_to="usr_x")
    assert status == 409 and desk.get(payment.id).state is PaybillState.UNVERIFIED  # another proposal was shown
    assert bob.post(f"{detail}/approve", detail, code=bob.code(), proposal="return")[2] == detail
    assert desk.get(payment.id).state is PaybillState.REVERSING
    (done,) = answer_reversal(wallets, desk)
    assert done.state is PaybillState.REVERSED and "paybill.reversal_requested" in _actions(wallets)
    wallets.mpesa.simulate_c2b("0799000003", 100, "acc 1")
    forged = desk.confirm(parse_payload({**wallets.mpesa.outbox.pop().payload, "TransID": "NOSUCH0001"}), token=token)
    verified(wallets, desk)
    forged_page = f"{PAGE}/{forged.id}"
    status, html, _ = ann.post(f"{forged_page}/propose-return", forged_page, note="give it back", code=ann.code())
    assert status == 409 and "re-verify it first" in html  # M-Pesa has nothing of a payer's: nothing proposed
    assert "nothing paid to our paybill: there is nothing to return" in html
    twice = _unverified(wallets, desk, 200, token)
    urls = {"result_url": "https://example.test/r", "timeout_url": "https://example.test/t"}
    wallets.mpesa.reversal(ReversalRequest(transaction_id=twice.trans_id, amount=twice.kes, **urls))  # the portal
    wallets.mpesa.outbox.clear()
    twice_page = f"{PAGE}/{twice.id}"
    assert ann.post(f"{twice_page}/propose-return", twice_page, note="give it back", code=ann.code())[2] == twice_page
    assert bob.post(f"{twice_page}/approve", twice_page, code=bob.code(), proposal="return")[2] == twice_page
    answer_reversal(wallets, desk)
    status, html = ann.get(twice_page)
    assert status == 200 and "R000002" in html and desk.get(twice.id).state is PaybillState.UNVERIFIED
    assert set(wallets.ledger.trial_balance().values()) <= {0}  # unverified, reversed: nothing was ever booked


def test_the_paybill_pages_speak_swahili_and_refuse_a_wrong_list(wallets, desk, ann):
    _unverified(wallets, desk)
    assert ann.get(f"{PAGE}?state=lost")[0] == 422
    assert ann.get(f"{PAGE}?state=suspended")[0] == 200
    ann.client.set_cookie("cp_lang", "sw")
    status, html = ann.get(PAGE)
    assert status == 200 and "Paybill payments waiting for staff" not in html


def test_the_list_shows_a_proposed_return_and_a_suspended_payment_shows_m_pesa_s_record(wallets, desk, ann):
    """A return proposed on a suspended payment reads in the list (what and by whom), not "none yet"; its page shows
    what M-Pesa's record shows we received, and one stored before payments were verified says to ask M-Pesa again
    before a credit or a return (before an officer spends a one-time code on a refusal) and offers it: asked, it
    stays in suspense, due for the worker's Transaction Status query."""
    registered(wallets)
    payment = pay(wallets, desk, "0799000001", 300, "acc 17")
    old = pay(wallets, desk, "0799000002", 200, "acc 18")
    assert payment.state is PaybillState.SUSPENDED and old.state is PaybillState.SUSPENDED

    def unverified_era(uow: PaybillUnitOfWork) -> None:  # stored before migration 0186: no answer, no record
        uow.paybill_payments.update(attrs.evolve(old, paid_to_us=None, answers=()))

    in_transaction(wallets.backend.uow, unverified_era)
    desk.propose_return(payment.id, officer="usr_a", note="the payer asked for it back")
    status, html = ann.get(f"{PAGE}?state=suspended")
    assert status == 200 and "return to the payer · <code>usr_a</code>" in html
    status, html = ann.get(f"{PAGE}/{payment.id}")
    assert status == 200 and "300" in html.split("record shows we received")[1].split("</dd>")[0]
    status, html = ann.get(f"{PAGE}/{old.id}")
    assert "no M-Pesa record kept" in html and "ask M-Pesa again before a credit or a return" in html
    assert f'action="{PAGE}/{old.id}/reverify"' in html and "the payment stays in suspense" in html
    assert f'action="{PAGE}/{payment.id}/reverify"' not in ann.get(f"{PAGE}/{payment.id}")[1]  # its record is kept
    detail = f"{PAGE}/{old.id}"
    assert ann.post(f"{detail}/reverify", detail, note="stored before payments were verified")[2] == detail
    asked = desk.get(old.id)
    assert asked.state is PaybillState.SUSPENDED and asked.check_at is not None and asked.reverified_in_suspense
