"""The console's held merchant payments (``/console/held-payments``): the compliance officers' list and page, a
release proposed by one officer (a fresh code) and carried out only when a second approves it (four-eyes: the
proposer's own approval refused with 409, audited), a proposal declined, a payment kept; in English and Swahili."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core import flows
from cryptopay.core.identity import Role
from cryptopay.core.money import USDT
from cryptopay.core.payments.model import HoldDecision
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay_http import Services

from tests.integration.http.http_support import fast_hasher
from tests.integration.web.test_console_officer_pages import Staff
from tests.support.services import in_memory_services
from tests.unit.payments.test_sanctioned_payers import LISTED, START, _paid_from, with_lists

PAGE = "/console/held-payments"


@pytest.fixture
def stack() -> PaymentsStack:
    return with_lists(PaymentsStack(start=START))


@pytest.fixture
def services(stack: PaymentsStack) -> Services:
    found = in_memory_services(clock=stack.clock, ids=stack.ids, hasher=fast_hasher())
    return attrs.evolve(found, held_payments=ready(stack.held_payments))


@pytest.fixture
def ann(app, auth) -> Staff:
    return Staff(app, auth, "ann@cryptopay.example", Role.COMPLIANCE)


@pytest.fixture
def bob(app, auth) -> Staff:
    return Staff(app, auth, "bob@cryptopay.example", Role.COMPLIANCE)


def _records(stack: PaymentsStack, action: str) -> list:
    return [r for r in stack.storage.audit_records() if r.action == action]


def test_a_release_proposed_by_one_officer_is_carried_out_when_a_second_approves(stack, services, ann, bob):
    """Ann proposes (a wrong code refused, nothing proposed), cannot approve her own proposal (409, audited, nothing
    moves); Bob approves with his code and the merchant is credited."""
    invoice_id = _paid_from(stack, LISTED)
    [credit] = stack.held_payments.waiting()
    status, html = ann.get(PAGE)
    assert status == 200 and credit.id in html and 'aria-current="page"' in html
    detail = f"{PAGE}/{credit.id}"
    status, html = ann.get(detail)
    assert status == 200 and invoice_id in html and "Propose" in html
    form = {"decision": "release", "note": "a namesake, not the listed person"}
    status, html, _ = ann.post(f"{detail}/propose", detail, **form, code="000000")
    assert status == 403 and 'role="alert"' in html
    assert stack.held_payments.get(credit.id).proposal is None
    assert ann.post(f"{detail}/propose", detail, **form, code=ann.code())[2] == detail
    status, html = ann.get(detail)
    assert "A second officer must approve your proposal" in html and "/approve" not in html
    status, html, _ = ann.post(f"{detail}/approve", detail, code=ann.code(), proposal="released")
    assert status == 409 and 'role="alert"' in html
    assert _records(stack, "compliance.held_payment_same_officer_refused")
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_zero()
    status, html = bob.get(detail)
    assert "/approve" in html and "a namesake" in html
    status, html, _ = bob.post(f"{detail}/approve", detail, code=bob.code(), proposal="returned")
    assert status == 409 and 'role="alert"' in html  # a page showing another proposal approves nothing
    assert bob.post(f"{detail}/approve", detail, code=bob.code(), proposal="released")[2] == detail
    done = stack.held_payments.get(credit.id)
    assert (done.decision, done.decided_by) == (HoldDecision.RELEASED, bob.id)
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_positive() and stack.books_balanced()
    [released] = _records(stack, "compliance.held_payment_released")
    assert dict(released.details)["proposed_by"] == ann.id
    assert credit.id not in ann.get(PAGE)[1]
    assert any(r.action == "compliance.held_payments_viewed" for r in services.audit.records())


def test_a_proposal_is_declined_and_a_payment_kept_with_a_note(stack, ann, bob):
    """Bob declines Ann's proposal (a note required); Ann then keeps the payment for the authorities."""
    _paid_from(stack, LISTED)
    [credit] = stack.held_payments.waiting()
    detail = f"{PAGE}/{credit.id}"
    stack.held_payments.release(credit.id, officer=ann.id, note="a namesake")
    assert bob.post(f"{detail}/decline", detail, note=" ")[0] == 422
    assert bob.post(f"{detail}/decline", detail, note="a strong match")[2] == detail
    assert stack.held_payments.get(credit.id).proposal is None
    assert ann.post(f"{detail}/keep", detail, note="for the FRC")[2] == detail
    assert stack.held_payments.get(credit.id).decision is HoldDecision.KEPT
    assert stack.balance(flows.payments_held(USDT)) == credit.received


def test_the_held_payments_pages_are_the_compliance_officers_and_speak_swahili(app, auth, stack, ann):
    """An admin is refused the page; an officer's page in Swahili has no untranslated heading."""
    _paid_from(stack, LISTED)
    admin = Staff(app, auth, "chief@cryptopay.example", Role.ADMIN)
    assert admin.get(PAGE)[0] == 403
    ann.client.set_cookie("cp_lang", "sw")
    status, html = ann.get(PAGE)
    assert status == 200 and "Held merchant payments" not in html and "Malipo ya wafanyabiashara" in html
