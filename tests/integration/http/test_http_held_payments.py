"""Merchant payments held for a listed payer, decided by officers over REST: listed, a release proposed by one
officer and approved by a second (four-eyes; a step-up, audited when refused), declined, kept; the problems of a bad
decision; nobody else may act."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core import flows
from cryptopay.core.money import USDT
from cryptopay.core.testing.payments_stack import PaymentsStack
from cryptopay.core.testing.system import ManualClock, SequentialIds
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
    found = in_memory_services(clock=ManualClock(), ids=SequentialIds(), hasher=fast_hasher())
    return attrs.evolve(found, held_payments=ready(stack.held_payments))


def test_an_officer_lists_releases_and_keeps_held_payments(client, auth, stack: PaymentsStack, services: Services):
    first, second = _paid_from(stack, LISTED), _paid_from(stack, LISTED)
    officer, codes = auth.staff("compliance")
    assert client.get(PATH, headers=auth.user("merchant")).status_code == 403
    listed = client.get(PATH, headers=officer)
    assert listed.status_code == 200, listed.json
    rows = {r["invoice_id"]: r for r in listed.json["data"]}
    assert set(rows) == {first, second} and all(r["alert_ids"] and r["decision"] is None for r in rows.values())
    release = f"{PATH}/{rows[first]['id']}/release"
    unstepped = client.post(release, json={"note": "false positive"}, headers=officer)
    assert unstepped.status_code == 403 and unstepped.json["code"] == "step_up_required", unstepped.json
    assert any(r.action == "access.refused" for r in services.audit.records())  # a refused step-up is audited
    stepped = auth.stepped_up(officer, code=codes[0])
    assert client.post(release, json={"note": ""}, headers=stepped).status_code == 422
    assert client.post(f"{PATH}/crd_nope/release", json={"note": "x"}, headers=stepped).status_code == 404
    proposed = client.post(release, json={"note": "false positive"}, headers=stepped)
    assert proposed.status_code == 200, proposed.json
    assert (proposed.json["decision"], proposed.json["proposal"]) == (None, "released")  # four-eyes: nothing moved
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_zero()
    approve = f"{PATH}/{rows[first]['id']}/approve"
    read = {"proposal": "released"}
    same = client.post(approve, json=read, headers=auth.stepped_up(officer, code=codes[1]))
    assert (same.status_code, same.json["code"]) == (409, "same_officer"), same.json
    second_officer, second_codes = auth.staff("compliance")
    assert client.post(approve, json=read, headers=second_officer).status_code == 403  # money moves: a step-up
    stepped = auth.stepped_up(second_officer, code=second_codes[2])
    for unread in (None, {}):  # R9-1: what the approver read is required, as on the paybill desk
        blind = client.post(approve, json=unread, headers=stepped)
        assert (blind.status_code, blind.json["code"]) == (422, "validation_failed"), blind.json
        assert "proposal" in blind.json["detail"] and stack.balance(flows.merchant_liability("m1", USDT)).is_zero()
    stale = client.post(
        approve, json={"proposal": "returned"}, headers=auth.stepped_up(second_officer, code=second_codes[0])
    )
    assert stale.status_code == 409, stale.json  # not the proposal the approver read
    done = client.post(
        approve, json={"proposal": "released"}, headers=auth.stepped_up(second_officer, code=second_codes[1])
    )
    assert done.status_code == 200, done.json
    assert done.json["decision"] == "released" and done.json["fee"] != "0" and done.json["proposal"] is None
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_positive() and stack.books_balanced()
    again = client.post(release, json={"note": "twice"}, headers=auth.stepped_up(officer, code=codes[3]))
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    kept = client.post(f"{PATH}/{rows[second]['id']}/keep", json={"note": "for the FRC"}, headers=officer)
    assert kept.status_code == 200 and kept.json["decision"] == "kept", kept.json
    assert client.get(PATH, headers=officer).json["data"] == []
    blocked = client.post(
        f"{PATH}/{rows[second]['id']}/return", json={"note": "x"}, headers=auth.stepped_up(officer, code=codes[4])
    )
    assert blocked.status_code == 409, blocked.json  # kept: decided already


def test_a_second_officer_declines_a_proposed_return(client, auth, stack: PaymentsStack):
    """A proposal is declined with a note (nothing moves, the payment waits again); a decline needs a note."""
    invoice_id = _paid_from(stack, LISTED)
    officer, codes = auth.staff("compliance")
    [row] = client.get(PATH, headers=officer).json["data"]
    assert row["invoice_id"] == invoice_id
    proposed = client.post(
        f"{PATH}/{row['id']}/release", json={"note": "namesake"}, headers=auth.stepped_up(officer, code=codes[0])
    )
    assert proposed.status_code == 200 and proposed.json["proposed_by"], proposed.json
    second_officer, _ = auth.staff("compliance")
    decline = f"{PATH}/{row['id']}/decline"
    assert client.post(decline, json={"note": ""}, headers=second_officer).status_code == 422
    declined = client.post(decline, json={"note": "a strong match"}, headers=second_officer)
    assert declined.status_code == 200 and declined.json["proposal"] is None, declined.json
    assert client.post(f"{PATH}/{row['id']}/approve", headers=second_officer).status_code in (403, 409)
    [waiting] = client.get(PATH, headers=officer).json["data"]
    assert waiting["proposal"] is None and waiting["decision"] is None
