"""The console's bank confirmations (``/console/payouts/bank-confirmations``, R10-7): a bank transfer one admin
confirmed with the bank's reference is listed for admins (who, reference, amount, age; an audited read); its proposer
cannot approve it (409 ``same_officer``); a second admin refuses it with a note (nothing moves) or approves the
reference the page showed with a fresh code (the payout completes); compliance officers are refused; in Swahili."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core.identity import Role
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay_http import Services

from tests.integration.http.http_support import fast_hasher
from tests.integration.web.test_console_officer_pages import Staff
from tests.support.services import in_memory_services
from tests.unit.payments.test_payments_bank_settlement import bank_merchant

PAGE = "/console/payouts/bank-confirmations"


@pytest.fixture
def proposed() -> tuple[PaymentsStack, str]:
    """A bank transfer in the bank file, confirmed by ann with the bank's reference 90 minutes ago."""
    stack, [payout] = bank_merchant("CITI:12345678")
    stack.payouts.bank_file(actor="ops:amina")
    return stack, payout.id


@pytest.fixture
def stack(proposed) -> PaymentsStack:
    return proposed[0]


@pytest.fixture
def services(stack: PaymentsStack) -> Services:
    found = in_memory_services(clock=stack.clock, ids=stack.ids, hasher=fast_hasher())
    return attrs.evolve(found, payouts=ready(stack.payouts))


@pytest.fixture
def ann(app, auth, proposed) -> Staff:
    staff = Staff(app, auth, "ann@cryptopay.example", Role.ADMIN)
    stack, payout_id = proposed
    stack.payouts.propose_bank_confirmation(
        payout_id, reference="FT26005ABC", note="on the bank's site", by=f"user:{staff.id}"
    )
    stack.clock.advance(minutes=90)
    return staff


@pytest.fixture
def bob(app, auth) -> Staff:
    return Staff(app, auth, "bob@cryptopay.example", Role.ADMIN)


def test_a_second_admin_approves_the_bank_reference_the_page_showed(proposed, services, ann, bob):
    stack, payout_id = proposed
    status, html = bob.get(PAGE)
    assert (
        status == 200
        and payout_id in html
        and "FT26005ABC" in html
        and f"user:{ann.id}" in html
        and "1 h 30 min" in html
    )
    assert 'aria-current="page"' in html
    assert "payouts.bank_transfers_viewed" in [r.action for r in services.audit.records()]
    detail = f"{PAGE}/{payout_id}"
    status, html = ann.get(detail)
    assert "A second officer must approve your proposal" in html and f"{detail}/approve" not in html
    status, _, _ = ann.post(f"{detail}/approve", detail, reference="FT26005ABC", code=ann.code())
    assert status == 409 and stack.payouts.get_payout(payout_id).state.value == "submitted"
    status, html = bob.get(detail)
    assert f"{detail}/approve" in html and 'name="reference" value="FT26005ABC"' in html
    status, html, _ = bob.post(f"{detail}/approve", detail, reference="FT26005ABC", code="000000")
    assert status == 403 and stack.payouts.get_payout(payout_id).state.value == "submitted"  # a wrong code
    status, html, _ = bob.post(f"{detail}/approve", detail, reference="FT99", code=bob.code())
    assert status == 409 and 'role="alert"' in html  # not the reference proposed
    assert bob.post(f"{detail}/approve", detail, reference="FT26005ABC", code=bob.code())[2] == detail
    done = stack.payouts.get_payout(payout_id)
    assert (done.state.value, done.receipt) == ("completed", "FT26005ABC") and stack.books_balanced()
    assert payout_id not in bob.get(PAGE)[1]


def test_a_refused_bank_confirmation_moves_nothing(proposed, ann, bob):
    stack, payout_id = proposed
    detail = f"{PAGE}/{payout_id}"
    status, html, _ = bob.post(f"{detail}/decline", detail, note=" ")
    assert status == 422 and 'role="alert"' in html and stack.payouts.get_payout(payout_id).conclusion is not None
    assert bob.post(f"{detail}/decline", detail, note="not on the bank statement")[2] == detail
    payout = stack.payouts.get_payout(payout_id)
    assert (payout.state.value, payout.conclusion) == ("submitted", None)
    assert "No bank confirmation is awaiting a second admin." in bob.get(PAGE)[1]


def test_the_bank_confirmations_pages_are_the_admins_and_speak_swahili(app, auth, proposed, ann):
    _, payout_id = proposed
    officer = Staff(app, auth, "cleo@cryptopay.example", Role.COMPLIANCE)
    assert officer.get(PAGE)[0] == 403 and officer.get(f"{PAGE}/{payout_id}")[0] == 403
    assert ann.get(f"{PAGE}/po_nope")[0] == 404
    ann.client.set_cookie("cp_lang", "sw")
    status, html = ann.get(PAGE)
    assert status == 200 and "Uthibitisho wa benki" in html and "Bank confirmations" not in html
