"""review8 R8: a remittance order held for compliance (paid from a listed address) is refunded only by two compliance
officers over the admin API, each with a step-up: one proposes (to the sender's address or another, audited old ->
new), a second approves (409 ``same_officer`` for the proposer), and the approval concludes the order's alert in the
unit of work that starts the refund. Nobody else may act; the shell is refused (``test_cli_remittances``)."""

from __future__ import annotations

import attrs
import pytest
from cryptopay.adapters.bootstrap import ready
from cryptopay.core.remittances.service import RetryPolicy
from cryptopay_http import Services

from tests.integration.http.http_support import fast_hasher
from tests.support.remittance_stack import TRON_REFUND, RemittanceStack, remittance_stack
from tests.support.services import in_memory_services

PATH = "/v1/admin/compliance/held-remittances"
LISTED = "TLsanctionedTronAddressXXXXXXXXXXX"
OTHER = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


@pytest.fixture
def stack() -> RemittanceStack:
    return remittance_stack(policy=RetryPolicy(attempts=1))


@pytest.fixture
def services(stack: RemittanceStack) -> Services:
    found = in_memory_services(clock=stack.clock, hasher=fast_hasher())
    return attrs.evolve(found, remittances=ready(stack.remittances))


def _held(stack: RemittanceStack) -> str:
    stack.list_sanctioned("Nobody Listed", addresses=(("tron", LISTED),))
    order = stack.order(amount="1500")
    stack.pay(order, payer=LISTED)
    stack.confirm()
    stack.run()
    assert stack.remittances.get(order.id).state.value == "held"
    return order.id


def _actions(stack: RemittanceStack, order_id: str) -> dict[str, tuple[str, dict[str, str]]]:
    with stack.wallet.backend.uow() as uow:
        return {r.action: (r.actor, dict(r.details)) for r in uow.audit.about([f"remittance:{order_id}"])}


def test_two_officers_refund_a_held_order_to_another_address_and_conclude_its_alert(client, auth, stack):
    order_id = _held(stack)
    officer, codes = auth.staff("compliance")
    assert client.get(f"{PATH}/{order_id}", headers=auth.staff("admin")[0]).status_code == 403
    assert client.get(PATH, headers=auth.user("merchant")).status_code == 403
    listed = client.get(PATH, headers=officer)
    assert listed.status_code == 200 and [r["id"] for r in listed.json["data"]] == [order_id], listed.json
    shown = client.get(f"{PATH}/{order_id}", headers=officer)
    assert shown.status_code == 200, shown.json
    [alert] = stack.monitoring.alerts()
    assert (shown.json["state"], shown.json["review_alerts"], shown.json["refund_proposal"]) == (
        "held",
        [alert.id],
        None,
    )
    refund = f"{PATH}/{order_id}/refund"
    body = {"note": "delisted on 6 Dec; the sender's new wallet, proof seen", "address": OTHER}
    unstepped = client.post(refund, json=body, headers=officer)
    assert unstepped.status_code == 403 and unstepped.json["code"] == "step_up_required", unstepped.json
    stepped = auth.stepped_up(officer, code=codes[0])
    assert client.post(refund, json={"note": ""}, headers=stepped).status_code == 422
    assert client.post(refund, json={"note": "x", "address": "nope"}, headers=stepped).status_code == 422
    assert client.post(f"{PATH}/rmt_nope/refund", json={"note": "x"}, headers=stepped).status_code == 404
    proposed = client.post(refund, json=body, headers=stepped)
    assert proposed.status_code == 200, proposed.json
    assert proposed.json["state"] == "held" and proposed.json["refund_proposal"]["address"] == OTHER
    assert stack.refunds.list_refunds(stack.remittances.get(order_id).invoice_id) == []  # four-eyes: nothing moved yet
    assert stack.monitoring.alerts()[0].status.value == "open"
    actor, details = _actions(stack, order_id)["remittance.refund_proposed"]
    assert actor.startswith("user:") and (details["from"], details["to"]) == (TRON_REFUND, OTHER)
    again = client.post(refund, json={"note": "twice"}, headers=auth.stepped_up(officer, code=codes[1]))
    assert again.status_code == 409, again.json
    approve = f"{PATH}/{order_id}/approve"
    same = client.post(approve, json={"address": OTHER}, headers=auth.stepped_up(officer, code=codes[2]))
    assert (same.status_code, same.json["code"]) == (409, "same_officer"), same.json
    assert "remittance.refund_same_officer_refused" in _actions(stack, order_id)
    second, second_codes = auth.staff("compliance")
    assert client.post(approve, json={"address": OTHER}, headers=second).status_code == 403  # money moves: a step-up
    stale = client.post(approve, json={"address": TRON_REFUND}, headers=auth.stepped_up(second, code=second_codes[0]))
    assert stale.status_code == 409, stale.json  # not the proposal the approver read
    done = client.post(approve, json={"address": OTHER}, headers=auth.stepped_up(second, code=second_codes[1]))
    assert done.status_code == 200, done.json
    assert (done.json["state"], done.json["refund_address"], done.json["refund_proposal"]) == ("refunding", OTHER, None)
    assert done.json["refund_id"]
    [concluded] = stack.monitoring.alerts()
    assert concluded.status.value != "open" and stack.monitoring.clearance([concluded.id])[0].cleared
    actions = _actions(stack, order_id)
    approver, approved = actions["remittance.refund_approved"]
    assert approver != actor and approved["proposed_by"] == actor.removeprefix("user:") and approved["cases"]
    assert (actions["remittance.refund_address_changed"][1]["from"], approved["address"]) == (TRON_REFUND, OTHER)
    stack.run()
    stack.confirm_refunds()
    stack.run()
    assert stack.remittances.get(order_id).state.value == "refunded" and stack.books_balanced()


def test_a_proposal_is_declined_and_an_order_not_under_review_is_the_operators(client, auth, stack):
    ordinary = stack.order(amount="1500", phone="254711000009")  # expired, then paid late: no compliance alert
    stack.clock.advance(minutes=31)
    stack.confirm(2)
    stack.run()
    stack.pay(ordinary)
    stack.confirm()
    order_id = _held(stack)
    officer, codes = auth.staff("compliance")
    proposed = client.post(
        f"{PATH}/{order_id}/refund", json={"note": "namesake"}, headers=auth.stepped_up(officer, code=codes[0])
    )
    assert proposed.status_code == 200 and proposed.json["refund_proposal"]["address"] == TRON_REFUND
    second, _ = auth.staff("compliance")
    decline = f"{PATH}/{order_id}/decline"
    assert client.post(decline, json={"note": ""}, headers=second).status_code == 422
    declined = client.post(decline, json={"note": "a strong match: keep it"}, headers=second)
    assert declined.status_code == 200 and declined.json["refund_proposal"] is None, declined.json
    assert client.post(decline, json={"note": "again"}, headers=second).status_code == 409  # nothing proposed
    refused = client.post(
        f"{PATH}/{ordinary.id}/refund", json={"note": "x"}, headers=auth.stepped_up(officer, code=codes[1])
    )
    assert refused.status_code == 409 and "not held for compliance" in refused.json["detail"], refused.json


def _held_for_a_name(stack: RemittanceStack) -> str:
    stack.list_sanctioned("Viktor Anatolyevich Bout")
    order = stack.order(amount="1600", name="Viktor Anatolyevich Bout")
    stack.pay(order)
    stack.confirm()
    stack.run()
    assert stack.remittances.get(order.id).state.value == "held"
    return order.id


def test_two_officers_release_a_sanctions_held_order_and_its_payout_is_planned(client, auth, stack):
    """reviewer10 R10-1: paying a held order out is as guarded as refunding it: proposed by one officer, approved by
    a second (409 ``same_officer`` for the proposer, audited), each with a step-up; the approval concludes the alert
    and plans the payout in one unit of work; a decline clears a proposal."""
    order_id = _held_for_a_name(stack)
    officer, codes = auth.staff("compliance")
    release = f"{PATH}/{order_id}/release"
    assert client.post(release, json={"note": "namesake"}, headers=auth.staff("admin")[0]).status_code == 403
    unstepped = client.post(release, json={"note": "namesake"}, headers=officer)
    assert unstepped.status_code == 403 and unstepped.json["code"] == "step_up_required", unstepped.json
    stepped = auth.stepped_up(officer, code=codes[0])
    assert client.post(release, json={"note": ""}, headers=stepped).status_code == 422
    assert client.post(f"{PATH}/rmt_nope/release", json={"note": "x"}, headers=stepped).status_code == 404
    proposed = client.post(release, json={"note": "first look"}, headers=stepped)
    assert proposed.status_code == 200, proposed.json
    assert proposed.json["state"] == "held" and proposed.json["release_proposal"]["note"] == "first look"
    second, second_codes = auth.staff("compliance")
    declined = client.post(f"{PATH}/{order_id}/decline-release", json={"note": "read it again"}, headers=second)
    assert declined.status_code == 200 and declined.json["release_proposal"] is None, declined.json
    proposed = client.post(release, json={"note": "born 1950: a namesake"}, headers=stepped)
    assert proposed.status_code == 200, proposed.json
    refund = client.post(f"{PATH}/{order_id}/refund", json={"note": "x"}, headers=stepped)
    assert refund.status_code == 409, refund.json  # one decision at a time
    approve = f"{PATH}/{order_id}/approve-release"
    same = client.post(approve, headers=auth.stepped_up(officer, code=codes[1]))
    assert (same.status_code, same.json["code"]) == (409, "same_officer"), same.json
    assert client.post(approve, headers=second).status_code == 403  # money moves: a step-up
    assert stack.remittances.get(order_id).state.value == "held"
    done = client.post(approve, headers=auth.stepped_up(second, code=second_codes[0]))
    assert done.status_code == 200, done.json
    [alert] = stack.monitoring.alerts()
    assert (done.json["state"], done.json["release_proposal"], done.json["cleared_alerts"]) == (
        "paying_out",
        None,
        [alert.id],
    )
    assert stack.monitoring.clearance([alert.id])[0].cleared
    actions = _actions(stack, order_id)
    proposer, _ = actions["remittance.release_proposed"]
    approver, approved = actions["remittance.release_approved"]
    assert approver != proposer and approved["proposed_by"] == proposer.removeprefix("user:") and approved["cases"]
    assert actions["remittance.release_same_officer_refused"][0] == proposer
    assert actions["remittance.payout"][0] == approver
    again = client.post(approve, headers=auth.stepped_up(second, code=second_codes[1]))
    assert again.status_code == 409, again.json  # nothing proposed any more
    stack.run()
    assert stack.remittances.get(order_id).state.value == "paid_out" and stack.books_balanced()


def test_a_refund_re_aimed_after_the_approver_read_it_is_not_carried_out(client, auth, stack):
    """R9-1 (reviewer9's reproduction): officer A proposes the refund to the sender's address, B reads it, A
    withdraws and proposes another address; B's approval must name the address B read: without it a 422 (nothing
    moves), with the one read a 409 (the proposal changed), and only the address now proposed, read again, carries
    it out."""
    order_id = _held(stack)
    a, a_codes = auth.staff("compliance")
    b, b_codes = auth.staff("compliance")
    refund, approve = f"{PATH}/{order_id}/refund", f"{PATH}/{order_id}/approve"
    first = client.post(
        refund, json={"note": "namesake: back to the sender"}, headers=auth.stepped_up(a, code=a_codes[0])
    )
    assert first.status_code == 200 and first.json["refund_proposal"]["address"] == TRON_REFUND, first.json
    assert client.get(f"{PATH}/{order_id}", headers=b).json["refund_proposal"]["address"] == TRON_REFUND
    assert client.post(f"{PATH}/{order_id}/decline", json={"note": "typo"}, headers=a).status_code == 200
    again = client.post(
        refund, json={"note": "namesake", "address": OTHER}, headers=auth.stepped_up(a, code=a_codes[1])
    )
    assert again.status_code == 200, again.json
    stepped = auth.stepped_up(b, code=b_codes[0])
    for unread in (None, {}, {"address": ""}):
        blind = client.post(approve, json=unread, headers=stepped)
        assert (blind.status_code, blind.json["code"]) == (422, "validation_failed"), blind.json
        assert "address" in blind.json["detail"]
    stale = client.post(approve, json={"address": TRON_REFUND}, headers=auth.stepped_up(b, code=b_codes[1]))
    assert stale.status_code == 409, stale.json
    held = stack.remittances.get(order_id)
    assert held.state.value == "held" and stack.refunds.list_refunds(held.invoice_id) == []
    done = client.post(approve, json={"address": OTHER}, headers=auth.stepped_up(b, code=b_codes[2]))
    assert done.status_code == 200 and done.json["refund_address"] == OTHER, done.json


def test_a_decline_naming_the_proposal_read_leaves_another_proposed_since_standing(client, auth, stack):
    """LASTREAD reader1 L-4 (reader2 M-9 on the API): officer B reads refund proposal P1; A withdraws it and proposes
    P2. B's decline naming P1's ``proposed_at`` is a 409 and P2 stands; naming P2's it clears P2. A ``proposed_at``
    without a UTC offset is a 422. The release's decline takes it too."""
    order_id = _held(stack)
    a, a_codes = auth.staff("compliance")
    b, _ = auth.staff("compliance")
    refund, decline = f"{PATH}/{order_id}/refund", f"{PATH}/{order_id}/decline"
    first = client.post(refund, json={"note": "namesake"}, headers=auth.stepped_up(a, code=a_codes[0]))
    assert first.status_code == 200, first.json
    read = client.get(f"{PATH}/{order_id}", headers=b).json["refund_proposal"]["at"]
    assert client.post(decline, json={"note": "typo"}, headers=a).status_code == 200
    stack.clock.advance(minutes=1)
    second = client.post(refund, json={"note": "namesake, again"}, headers=auth.stepped_up(a, code=a_codes[1]))
    assert second.status_code == 200, second.json
    standing = second.json["refund_proposal"]["at"]
    naive = client.post(decline, json={"note": "no", "proposed_at": "2026-01-05T09:00:00"}, headers=b)
    assert (naive.status_code, naive.json["code"]) == (422, "validation_failed"), naive.json
    stale = client.post(decline, json={"note": "a strong match", "proposed_at": read}, headers=b)
    assert stale.status_code == 409 and "read it again" in stale.json["detail"], stale.json
    held = stack.remittances.get(order_id).refund_proposal
    assert held is not None and held.note == "namesake, again"
    done = client.post(decline, json={"note": "a strong match", "proposed_at": standing}, headers=b)
    assert done.status_code == 200 and done.json["refund_proposal"] is None, done.json
    release = client.post(
        f"{PATH}/{order_id}/release", json={"note": "namesake"}, headers=auth.stepped_up(a, code=a_codes[2])
    )
    assert release.status_code == 200, release.json
    stale_release = client.post(
        f"{PATH}/{order_id}/decline-release", json={"note": "no", "proposed_at": read}, headers=b
    )
    assert stale_release.status_code == 409, stale_release.json
    assert stack.remittances.get(order_id).release_proposal is not None
