"""The console's held remittances (``/console/held-remittances``, review8 R8): an order paid from a listed address is
listed and shown to compliance officers (audited reads); one officer proposes its refund to another address with a
note and a fresh code (nothing moves), cannot approve it (409), and a second officer's approval with a fresh code
starts the refund and concludes its alert; a declined proposal moves nothing; an admin is refused; in Swahili."""

from __future__ import annotations

import re

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core.identity import Role
from cryptopay.core.remittances.service import RetryPolicy
from cryptopay_http import Services

from tests.integration.http.http_support import fast_hasher
from tests.integration.web.test_console_officer_pages import Staff
from tests.support.remittance_stack import TRON_REFUND, RemittanceStack, remittance_stack
from tests.support.services import in_memory_services

PAGE = "/console/held-remittances"
LISTED = "TLsanctionedTronAddressXXXXXXXXXXX"
OTHER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


@pytest.fixture
def stack() -> RemittanceStack:
    return remittance_stack(policy=RetryPolicy(attempts=1))


@pytest.fixture
def services(stack: RemittanceStack) -> Services:
    found = in_memory_services(clock=stack.clock, hasher=fast_hasher())
    return attrs.evolve(found, remittances=ready(stack.remittances))


@pytest.fixture
def ann(app, auth) -> Staff:
    return Staff(app, auth, "ann@cryptopay.example", Role.COMPLIANCE)


@pytest.fixture
def bob(app, auth) -> Staff:
    return Staff(app, auth, "bob@cryptopay.example", Role.COMPLIANCE)


def _held(stack: RemittanceStack) -> str:
    stack.list_sanctioned("Nobody Listed", addresses=(("tron", LISTED),))
    order = stack.order(amount="1500")
    stack.pay(order, payer=LISTED)
    stack.confirm()
    stack.run()
    assert stack.remittances.get(order.id).state.value == "held"
    return order.id


def _named(html: str) -> dict[str, str]:
    """The hidden fields of the page's decline form: which proposal the officer read."""
    form = html[html.index('/decline">') :]
    return dict(
        re.findall(
            r'<input type="hidden" name="(decision|proposed_at)" value="([^"]+)">', form[: form.index("</form>")]
        )
    )


def _actions(stack: RemittanceStack, order_id: str) -> list[str]:
    with stack.wallet.backend.uow() as uow:
        return [r.action for r in uow.audit.about([f"remittance:{order_id}"])]


def test_two_officers_refund_a_held_remittance_on_the_console(stack, services, ann, bob):
    order_id = _held(stack)
    [alert] = stack.monitoring.alerts()
    status, html = ann.get(PAGE)
    assert status == 200 and order_id in html and alert.id in html and 'aria-current="page"' in html
    detail = f"{PAGE}/{order_id}"
    status, html = ann.get(detail)
    assert status == 200 and LISTED in html and TRON_REFUND in html and alert.id in html
    assert 'for="propose-note"' in html and 'for="propose-address"' in html and 'for="propose-code"' in html
    assert "compliance.held_remittance_viewed" in [r.action for r in services.audit.records()]
    note = "delisted on 6 Dec; the new wallet of the sender, proof seen"
    status, html, _ = ann.post(f"{detail}/propose", detail, note=note, address=OTHER, code="000000")
    assert status == 403 and 'role="alert"' in html and stack.remittances.get(order_id).refund_proposal is None
    status, html, _ = ann.post(f"{detail}/propose", detail, note=" ", address=OTHER, code=ann.code())
    assert status == 422 and 'role="alert"' in html
    status, html, _ = ann.post(f"{detail}/propose", detail, note=note, address="nope", code=ann.code())
    assert status == 422 and 'role="alert"' in html and "nope" in html  # the refused form keeps what was typed
    assert ann.post(f"{detail}/propose", detail, note=note, address=OTHER, code=ann.code())[2] == detail
    assert stack.refunds.list_refunds(stack.remittances.get(order_id).invoice_id) == []  # four-eyes: nothing moved
    status, html = ann.get(detail)
    assert "A second officer must approve your proposal" in html and f"{detail}/approve" not in html and OTHER in html
    status, html, _ = ann.post(f"{detail}/approve", detail, address=OTHER, code=ann.code())
    assert status == 409 and 'role="alert"' in html
    assert "remittance.refund_same_officer_refused" in _actions(stack, order_id)
    status, html = bob.get(detail)
    assert f"{detail}/approve" in html and note in html
    status, html, _ = bob.post(f"{detail}/approve", detail, address=TRON_REFUND, code=bob.code())
    assert status == 409 and 'role="alert"' in html  # not the proposal the page showed
    assert bob.post(f"{detail}/approve", detail, address=OTHER, code=bob.code())[2] == detail
    done = stack.remittances.get(order_id)
    assert (done.state.value, done.refund_address, done.refund_proposal) == ("refunding", OTHER, None)
    assert done.refund_id and "remittance.refund_approved" in _actions(stack, order_id)
    assert stack.monitoring.alerts()[0].status.value != "open"
    assert order_id not in ann.get(PAGE)[1]
    status, html = ann.get(detail)
    assert f"{detail}/propose" not in html and f"{detail}/approve" not in html and done.refund_id in html


def test_a_declined_refund_moves_nothing(stack, ann, bob):
    order_id = _held(stack)
    detail = f"{PAGE}/{order_id}"
    assert ann.post(f"{detail}/propose", detail, note="namesake", address="", code=ann.code())[2] == detail
    assert stack.remittances.get(order_id).refund_proposal.address == TRON_REFUND  # empty: the sender's own
    status, html = bob.get(detail)
    assert "Why you decline it, for the record" in html and f"{detail}/approve" in html
    status, html, _ = bob.post(f"{detail}/approve", detail, code=bob.code())
    assert status == 422 and stack.remittances.get(order_id).state.value == "held"  # which address: the page's
    status, html, _ = bob.post(f"{detail}/decline", detail, note=" ", **_named(html))
    assert status == 422 and stack.remittances.get(order_id).refund_proposal is not None
    read = _named(bob.get(detail)[1])
    assert read["decision"] == "refund" and read["proposed_at"]
    assert bob.post(f"{detail}/decline", detail, note="a strong match: keep it", **read)[2] == detail
    order = stack.remittances.get(order_id)
    assert (order.state.value, order.refund_proposal, order.refund_id) == ("held", None, None)
    assert "remittance.refund_proposal_declined" in _actions(stack, order_id)
    status, html, _ = bob.post(f"{detail}/decline", detail, note="again", **read)
    assert status == 409 and 'role="alert"' in html  # nothing proposed


def test_the_held_remittances_pages_are_the_compliance_officers_and_speak_swahili(app, auth, stack, ann):
    order_id = _held(stack)
    admin = Staff(app, auth, "chief@cryptopay.example", Role.ADMIN)
    assert admin.get(PAGE)[0] == 403 and admin.get(f"{PAGE}/{order_id}")[0] == 403
    assert ann.get(f"{PAGE}/rmt_nope")[0] == 404
    ann.client.set_cookie("cp_lang", "sw")
    status, html = ann.get(PAGE)
    assert status == 200 and "Remittance orders held" not in html and "Maagizo ya pesa za nje" in html
    status, html = ann.get(f"{PAGE}/{order_id}")
    assert status == 200 and "Propose refunding it" not in html


def test_two_officers_release_a_sanctions_held_remittance_on_the_console(stack, ann, bob):
    """reviewer10 R10-1 on the console: one officer proposes paying a sanctions-held order out (``release`` decision,
    a fresh code; nothing moves), cannot approve it (409, audited), a second officer's approval with a fresh code
    concludes the alert and plans the payout; a declined release moves nothing."""
    stack.list_sanctioned("Viktor Anatolyevich Bout")
    order = stack.order(amount="1600", name="Viktor Anatolyevich Bout")
    stack.pay(order)
    stack.confirm()
    stack.run()
    detail = f"{PAGE}/{order.id}"
    status, html = ann.get(detail)
    assert status == 200 and 'id="propose-release"' in html and 'id="propose-refund"' in html
    form = {"decision": "release", "note": "born 1950: a namesake"}
    status, html, _ = ann.post(f"{detail}/propose", detail, **form, address=OTHER, code=ann.code())
    assert status == 422 and stack.remittances.get(order.id).release_proposal is None  # no address with a release
    status, html, _ = ann.post(f"{detail}/propose", detail, decision="pay", note="x", code=ann.code())
    assert status == 422 and 'role="alert"' in html
    assert ann.post(f"{detail}/propose", detail, **form, code=ann.code())[2] == detail
    assert stack.remittances.get(order.id).release_proposal is not None
    read = _named(bob.get(detail)[1])
    assert bob.post(f"{detail}/decline", detail, note="read the file first", **read)[2] == detail
    assert stack.remittances.get(order.id).release_proposal is None
    assert "remittance.release_proposal_declined" in _actions(stack, order.id)
    assert ann.post(f"{detail}/propose", detail, **form, code=ann.code())[2] == detail
    status, html = ann.get(PAGE)
    assert "release by" in html
    status, html, _ = ann.post(f"{detail}/approve", detail, decision="release", code=ann.code())
    assert status == 409 and "remittance.release_same_officer_refused" in _actions(stack, order.id)
    status, html = bob.get(detail)
    assert "Proposed: paying it out to its recipient" in html and 'name="decision" value="release"' in html
    status, html, _ = bob.post(f"{detail}/approve", detail, address=TRON_REFUND, code=bob.code())
    assert status == 409 and stack.remittances.get(order.id).state.value == "held"  # not a refund: none proposed
    assert bob.post(f"{detail}/approve", detail, decision="release", code=bob.code())[2] == detail
    done = stack.remittances.get(order.id)
    assert (done.state.value, done.release_proposal) == ("paying_out", None) and done.payout_id
    assert "remittance.release_approved" in _actions(stack, order.id)
    assert stack.monitoring.alerts()[0].status.value != "open"


def test_a_decline_names_the_proposal_the_officer_read(stack, ann, bob):
    """reader2 M-9: the decline acted on whatever was proposed when it arrived. Bob reads a refund proposal; Ann
    withdraws it and proposes a release (or proposes the refund again, later): Bob's decline of what he read is
    refused (409) and the proposal standing stays; declining what the page now shows works."""
    order_id = _held(stack)
    detail = f"{PAGE}/{order_id}"
    assert ann.post(f"{detail}/propose", detail, note="namesake", address="", code=ann.code())[2] == detail
    read = _named(bob.get(detail)[1])
    assert ann.post(f"{detail}/decline", detail, note="wrong form", **_named(ann.get(detail)[1]))[2] == detail
    release = {"decision": "release", "note": "a namesake: pay it"}
    assert ann.post(f"{detail}/propose", detail, **release, code=ann.code())[2] == detail
    status, html, _ = bob.post(f"{detail}/decline", detail, note="keep it held", **read)
    assert status == 409 and 'role="alert"' in html
    assert stack.remittances.get(order_id).release_proposal is not None  # the release Bob never read stays
    assert ann.post(f"{detail}/decline", detail, note="again", **_named(ann.get(detail)[1]))[2] == detail
    stack.clock.advance(minutes=1)
    assert ann.post(f"{detail}/propose", detail, note="namesake, again", address="", code=ann.code())[2] == detail
    status, html, _ = bob.post(f"{detail}/decline", detail, note="keep it held", **read)
    assert status == 409 and stack.remittances.get(order_id).refund_proposal.note == "namesake, again"
    status, html, _ = bob.post(f"{detail}/decline", detail, note="no proposal named")
    assert status == 422 and stack.remittances.get(order_id).refund_proposal is not None
    assert bob.post(f"{detail}/decline", detail, note="keep it held", **_named(bob.get(detail)[1]))[2] == detail
    assert stack.remittances.get(order_id).refund_proposal is None
