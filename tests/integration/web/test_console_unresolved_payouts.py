"""The console's unresolved payouts (``/console/payouts/unresolved``, R10-4): a payout unknown past the bound is
listed and shown to admins (audited reads); one admin proposes concluding it with M-Pesa's statement uploaded (a
fresh code; a statement contradicting the conclusion refused, 409, nothing proposed), cannot approve it (409
``same_officer``), and a second admin's approval of what the page showed, with a fresh code, concludes it; a
declined proposal moves nothing; compliance officers are refused; in Swahili."""

from __future__ import annotations

import io

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core.identity import Role
from cryptopay.core.payouts.model import ConclusionOutcome
from cryptopay.core.reconciliation import render_statement
from cryptopay.core.settlement import SettlementMethod
from cryptopay.core.testing.mpesa_statement import statement_of
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay_http import Services

from tests.integration.http.http_support import fast_hasher
from tests.integration.web.test_console_officer_pages import Staff
from tests.support.services import in_memory_services
from tests.unit.reconciliation.test_reconciliation_unknown_payouts import LOST, settled

PAGE = "/console/payouts/unresolved"


@pytest.fixture
def paid() -> tuple[PaymentsStack, str]:
    """A merchant's payout M-Pesa paid while every answer about it was lost: unknown for an hour."""
    stack, payout = settled(SettlementMethod.MPESA_B2C, LOST)
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    stack.clock.advance(minutes=3)
    stack.payouts.query_stale_payouts()
    stack.clock.advance(hours=1)
    return stack, payout.id


@pytest.fixture
def stack(paid) -> PaymentsStack:
    return paid[0]


@pytest.fixture
def services(stack: PaymentsStack) -> Services:
    found = in_memory_services(clock=stack.clock, ids=stack.ids, hasher=fast_hasher())
    return attrs.evolve(found, payouts=ready(stack.payouts))


@pytest.fixture
def ann(app, auth) -> Staff:
    return Staff(app, auth, "ann@cryptopay.example", Role.ADMIN)


@pytest.fixture
def bob(app, auth) -> Staff:
    return Staff(app, auth, "bob@cryptopay.example", Role.ADMIN)


def upload(stack: PaymentsStack) -> tuple[io.BytesIO, str]:
    """The payout Short Code's statement as the org portal's CSV file."""
    text = render_statement(statement_of(stack.mpesa, shortcode=stack.mpesa.payout_shortcode))
    return io.BytesIO(text.encode()), "statement.csv"


def _actions(stack: PaymentsStack, payout_id: str) -> list[str]:
    return [r.action for r in stack.storage.audit_records() if r.subject == f"payout:{payout_id}"]


def test_two_admins_conclude_an_unresolved_payout_from_the_statement_uploaded(paid, services, ann, bob):
    stack, payout_id = paid
    status, html = ann.get(PAGE)
    assert status == 200 and payout_id in html and 'aria-current="page"' in html
    assert "payouts.unresolved_viewed" in [r.action for r in services.audit.records()]
    detail = f"{PAGE}/{payout_id}"
    status, html = ann.get(detail)
    assert status == 200 and 'enctype="multipart/form-data"' in html
    for name in ("statement", "receipt", "evidence", "note", "code"):
        assert f'for="propose-{name}"' in html
    [line] = [x for x in statement_of(stack.mpesa, shortcode=stack.mpesa.payout_shortcode).lines if x.is_payout]
    failed = {"decision": "failed", "note": "not on it"}
    status, html, _ = ann.post(f"{detail}/propose", detail, **failed, statement=upload(stack), code=ann.code())
    assert status == 409 and 'role="alert"' in html and line.receipt in html  # the statement shows it paid
    assert stack.payouts.get_payout(payout_id).conclusion is None
    status, html, _ = ann.post(f"{detail}/propose", detail, decision="maybe", note="x", code=ann.code())
    assert status == 422 and 'role="alert"' in html
    form = {"decision": "completed", "receipt": line.receipt, "note": "on the statement"}
    status, html, _ = ann.post(f"{detail}/propose", detail, **form, statement=upload(stack), code="000000")
    assert status == 403 and stack.payouts.get_payout(payout_id).conclusion is None  # a wrong code
    assert ann.post(f"{detail}/propose", detail, **form, statement=upload(stack), code=ann.code())[2] == detail
    kept = stack.payouts.get_payout(payout_id).conclusion
    assert kept is not None and kept.statement is not None and kept.statement.receipt == line.receipt
    assert stack.payouts.get_payout(payout_id).state.value == "unknown"  # four-eyes: nothing moved
    status, html = ann.get(detail)
    assert "A second officer must approve your proposal" in html and f"{detail}/approve" not in html
    assert f"sha256:{kept.statement.digest}" in html
    status, html, _ = ann.post(f"{detail}/approve", detail, outcome="completed", receipt=line.receipt, code=ann.code())
    assert status == 409 and "payout.conclusion_same_person_refused" in _actions(stack, payout_id)
    status, html = bob.get(detail)
    assert f"{detail}/approve" in html and 'name="outcome" value="completed"' in html and line.receipt in html
    status, html, _ = bob.post(f"{detail}/approve", detail, outcome="failed", receipt="", code=bob.code())
    assert status == 409 and stack.payouts.get_payout(payout_id).state.value == "unknown"  # not what was proposed
    form = {"outcome": "completed", "receipt": line.receipt}
    assert bob.post(f"{detail}/approve", detail, **form, code=bob.code())[2] == detail
    done = stack.payouts.get_payout(payout_id)
    assert (done.state.value, done.receipt) == ("completed", line.receipt) and stack.books_balanced()
    assert "payout.concluded" in _actions(stack, payout_id)
    assert payout_id not in ann.get(PAGE)[1]
    status, html = ann.get(detail)
    assert f"{detail}/propose" not in html and f"{detail}/approve" not in html


def test_a_declined_conclusion_moves_nothing(paid, ann, bob):
    stack, payout_id = paid
    detail = f"{PAGE}/{payout_id}"
    form = {"decision": "failed", "evidence": "Transaction Status: not found", "note": "asked"}
    assert ann.post(f"{detail}/propose", detail, **form, code=ann.code())[2] == detail  # words, no file
    status, html, _ = bob.post(f"{detail}/decline", detail, note=" ")
    assert status == 422 and 'role="alert"' in html and stack.payouts.get_payout(payout_id).conclusion is not None
    assert bob.post(f"{detail}/decline", detail, note="it is on the statement")[2] == detail
    payout = stack.payouts.get_payout(payout_id)
    assert (payout.state.value, payout.conclusion) == ("unknown", None)
    assert "payout.conclusion_declined" in _actions(stack, payout_id)


def test_the_unresolved_payouts_pages_are_the_admins_and_speak_swahili(app, auth, paid, ann):
    _, payout_id = paid
    officer = Staff(app, auth, "cleo@cryptopay.example", Role.COMPLIANCE)
    assert officer.get(PAGE)[0] == 403 and officer.get(f"{PAGE}/{payout_id}")[0] == 403
    assert "/console/payouts/unresolved" not in officer.get("/console/search")[1]  # not in their navigation
    assert ann.get(f"{PAGE}/po_nope")[0] == 404
    english = ann.get(f"{PAGE}/{payout_id}")[1]
    assert "outcome unknown" in english and "M-Pesa sent no result within 2 minutes;" in english, english
    ann.client.set_cookie("cp_lang", "sw")
    status, html = ann.get(PAGE)
    assert status == 200 and "Malipo yasiyotatuliwa" in html and "Unresolved payouts" not in html
    row = f'href="{PAGE}/{payout_id}"'
    assert row in html and row not in ann.get(f"{PAGE}?after={payout_id}")[1]  # R13-15: paged
    status, html = ann.get(f"{PAGE}/{payout_id}")
    assert status == 200 and "Pendekeza hitimisho" in html and "Propose a conclusion" not in html
    # R13-9: the state and the reason in Swahili too, the wait in minutes (was "unknown", "no result within 0:02:00")
    assert "matokeo hayajulikani" in html and "M-Pesa haikutuma matokeo ndani ya dakika 2;" in html, html
    assert "<code>unknown</code>" not in html and "no result within" not in html and "0:02:00" not in html


def test_two_admins_correct_a_mistyped_receipt_on_the_payout_page(paid, ann, bob):
    """A payout concluded with a receipt mistyped from the statement: one admin proposes the right one with a reason
    and a fresh code, cannot approve it (409), a second approves the receipt shown; only the receipt changes."""
    stack, payout_id = paid
    [line] = [x for x in statement_of(stack.mpesa, shortcode=stack.mpesa.payout_shortcode).lines if x.is_payout]
    typo = "NLJ7RT61SW"
    stack.payouts.propose_conclusion(
        payout_id, outcome=ConclusionOutcome.COMPLETED, receipt=typo, evidence="by eye", note="paid", by="user:x"
    )
    stack.payouts.approve_conclusion(payout_id, by="user:y", outcome=ConclusionOutcome.COMPLETED, receipt=typo)
    detail, before = f"{PAGE}/{payout_id}", stack.balance("assets:mpesa_float:KES")
    status, html = ann.get(detail)
    assert status == 200 and f"{detail}/receipt/propose" in html and 'for="propose-receipt"' in html
    form = {"receipt": "NLJ-7", "note": "one letter off the statement"}
    status, html, _ = ann.post(f"{detail}/receipt/propose", detail, **form, code=ann.code())
    assert status == 422 and 'role="alert"' in html and stack.payouts.get_payout(payout_id).correction is None
    form["receipt"] = line.receipt
    assert ann.post(f"{detail}/receipt/propose", detail, **form, code=ann.code())[2] == detail
    status, _, _ = ann.post(f"{detail}/receipt/approve", detail, receipt=line.receipt, code=ann.code())
    assert status == 409 and stack.payouts.get_payout(payout_id).receipt == typo
    status, html = bob.get(detail)
    assert f"{detail}/receipt/approve" in html and f'name="receipt" value="{line.receipt}"' in html
    assert bob.post(f"{detail}/receipt/approve", detail, receipt=line.receipt, code=bob.code())[2] == detail
    done = stack.payouts.get_payout(payout_id)
    assert (done.state.value, done.receipt) == ("completed", line.receipt) and [c.before for c in done.corrections] == [
        typo
    ]
    assert stack.balance("assets:mpesa_float:KES") == before and stack.books_balanced()
    status, html = bob.get(detail)
    assert typo in html and line.receipt in html  # the old receipt is kept and shown
    bob.client.set_cookie("cp_lang", "sw")
    assert "Sahihisha risiti" in bob.get(detail)[1]
