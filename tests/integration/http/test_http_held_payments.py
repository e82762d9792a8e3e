"""Merchant payments held for a listed payer, decided by officers over REST: listed, released (a step-up, audited
when refused), kept; the problems of a bad decision; nobody else may act."""

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
    done = client.post(release, json={"note": "false positive"}, headers=stepped)
    assert done.status_code == 200, done.json
    assert done.json["decision"] == "released" and done.json["fee"] != "0"
    assert stack.balance(flows.merchant_liability("m1", USDT)).is_positive() and stack.books_balanced()
    again = client.post(release, json={"note": "twice"}, headers=auth.stepped_up(officer, code=codes[1]))
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    kept = client.post(f"{PATH}/{rows[second]['id']}/keep", json={"note": "for the FRC"}, headers=officer)
    assert kept.status_code == 200 and kept.json["decision"] == "kept", kept.json
    assert client.get(PATH, headers=officer).json["data"] == []
    blocked = client.post(
        f"{PATH}/{rows[second]['id']}/return", json={"note": "x"}, headers=auth.stepped_up(officer, code=codes[2])
    )
    assert blocked.status_code == 409, blocked.json  # kept: decided already
