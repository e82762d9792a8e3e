"""Four-eyes that proves two people, over REST (review10 R10-8), on the held payments desk: an approval by an officer
made staff by the same person as the proposer, or by one the proposer made staff, is a 409 ``related_officers``; by
an officer made staff less than the cool-off ago a 409 ``officer_cooling_off``; each a problem+json, audited, nothing
moved. Two officers made staff by different people, past the cool-off, approve."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core import flows
from cryptopay.core.compliance.four_eyes import FourEyes
from cryptopay.core.identity import Role
from cryptopay.core.money import USDT
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.system import SequentialIds
from cryptopay_http import Services

from tests.integration.http.http_support import fast_hasher
from tests.support.services import in_memory_services
from tests.unit.payments.test_sanctioned_payers import LISTED, START, _paid_from, with_lists

PATH = "/v1/admin/compliance/held-payments"


@pytest.fixture
def stack() -> PaymentsStack:
    return with_lists(PaymentsStack(start=START))


@pytest.fixture
def services(stack: PaymentsStack) -> Services:
    """The held payments desk with the deployment's check over the accounts (as ``Parts.four_eyes`` wires it)."""
    found = in_memory_services(clock=stack.clock, ids=SequentialIds(), hasher=fast_hasher())
    stack.held_payments.four_eyes = FourEyes.over(found.users.get, timedelta(hours=24))
    return attrs.evolve(found, held_payments=ready(stack.held_payments))


def _appoint(app, n: int, actor: str, *, aged: bool = False) -> str:
    """Make ``auth.staff``'s ``n``-th account staff again in ``actor``'s name (admin, then back to compliance), as
    ``cryptopay users set-role`` or the console's accounts page does; ``aged``: as if a day had passed since (the
    appointment moved back, the sessions' clock left alone). Its user id."""
    runtime = app.extensions["cryptopay"]
    email = f"compliance-staff{n}@cryptopay.example"
    runtime.user_admin.set_role(email, Role.ADMIN, actor=actor)
    user = runtime.user_admin.set_role(email, Role.COMPLIANCE, actor=actor)
    if aged:
        user.appointed_at -= timedelta(hours=25)
        runtime.services.users.update(user)
    return str(user.id)


def _refusals(stack: PaymentsStack) -> list[tuple[str, str, dict[str, str]]]:
    with stack.held_payments.uow() as uow:
        records = uow.audit.records()
    return [(r.actor, r.action, dict(r.details)) for r in records if r.action.endswith("_refused")]


def test_related_or_new_officers_cannot_approve_and_unrelated_ones_past_the_cool_off_can(
    app, client, auth, stack: PaymentsStack, services: Services
):
    _paid_from(stack, LISTED)
    proposer, codes = auth.staff("compliance")
    approver, approver_codes = auth.staff("compliance")
    held = client.get(PATH, headers=proposer).json["data"][0]["id"]
    ann = _appoint(app, 1, "ops:amina", aged=True)
    bob = _appoint(app, 2, "ops:amina", aged=True)
    proposed = client.post(
        f"{PATH}/{held}/release", json={"note": "false positive"}, headers=auth.stepped_up(proposer, code=codes[0])
    )
    assert proposed.status_code == 200, proposed.json
    approve, read = f"{PATH}/{held}/approve", {"proposal": "released"}

    related = client.post(approve, json=read, headers=auth.stepped_up(approver, code=approver_codes[0]))
    assert (related.status_code, related.json["code"]) == (409, "related_officers"), related.json
    assert related.mimetype == "application/problem+json" and "ops:amina" in related.json["detail"]
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_zero()
    assert _refusals(stack)[-1] == (
        f"user:{bob}",
        "compliance.held_payment_related_officers_refused",
        {"credit": held, "proposal": "released", "proposed_by": ann, "appointed_by": "ops:amina"},
    )

    _appoint(app, 2, f"user:{ann}", aged=True)  # made staff by the proposer itself: related too
    made = client.post(approve, json=read, headers=auth.stepped_up(approver, code=approver_codes[1]))
    assert (made.status_code, made.json["code"]) == (409, "related_officers"), made.json

    _appoint(app, 2, "ops:juma")  # by another person, just now: cooling off
    new = client.post(approve, json=read, headers=auth.stepped_up(approver, code=approver_codes[2]))
    assert (new.status_code, new.json["code"]) == (409, "officer_cooling_off"), new.json
    assert _refusals(stack)[-1][1] == "compliance.held_payment_officer_cooling_off_refused"
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_zero()

    _appoint(app, 2, "ops:juma", aged=True)  # a day later
    done = client.post(approve, json=read, headers=auth.stepped_up(approver, code=approver_codes[3]))
    assert done.status_code == 200 and done.json["decision"] == "released", done.json
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_positive() and stack.books_balanced()


def test_the_approval_documents_the_four_eyes_problems(client):
    """The OpenAPI of every approval names ``related_officers`` and ``officer_cooling_off`` beside ``same_officer``."""
    spec = client.get("/openapi.json").json
    approvals = [
        op
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if path.endswith(("/approve", "/conclusion/approve")) and method == "post"
    ]
    assert len(approvals) >= 6
    for op in approvals:
        text = str(op)
        assert "related_officers" in text and "officer_cooling_off" in text, op.get("operationId")
