"""R10-4 over HTTP: an admin proposes concluding an unknown payout from M-Pesa's record, a second approves it."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from cryptopay.core.mobile_money import normalize_msisdn
from cryptopay.core.reconciliation import parse_statement, render_statement
from cryptopay.core.testing.mobile_money import Scenario
from cryptopay.core.testing.mpesa_statement import statement_of

from tests.integration.http_payments.payments_support import bank_transfer, idem


def unknown_payout(client, stack, shop, admin) -> str:
    """``shop``'s payout that M-Pesa paid while every answer was lost: unknown for an hour."""
    stack.mpesa.set_scenario(normalize_msisdn("0712345678"), Scenario.LOST_CALLBACK)
    invoice = shop.invoice()
    stack.pay(invoice["id"])
    stack.confirm(3)
    run = client.post("/v1/settlements/run", json={"merchant_id": shop.id}, headers=idem(admin)).json
    payout_id: str = run["runs"][0]["payouts"][0]["id"]
    stack.payouts.submit_payouts()
    stack.clock.advance(minutes=3)
    stack.payouts.query_stale_payouts()  # its answer is never delivered
    stack.clock.advance(hours=1)
    return payout_id


def test_two_admins_conclude_an_unknown_payout_from_mpesas_statement(client, auth, stack, shop):
    payout_id = unknown_payout(client, stack, shop, auth.user("admin"))
    ann, ann_codes = auth.staff("admin")  # signed in after the hour the payout stayed unknown
    bob, bob_codes = auth.staff("admin")
    listed = client.get("/v1/admin/payouts/unresolved", headers=ann)
    assert listed.status_code == 200, listed.json
    [item] = listed.json["items"]
    assert item["payout"]["id"] == payout_id and item["payout"]["state"] == "unknown" and item["kind"] == "settlement"
    merchant = auth.user("merchant")
    assert client.get("/v1/admin/payouts/unresolved", headers=merchant).status_code == 403  # admins only

    [line] = [x for x in statement_of(stack.mpesa, shortcode=stack.mpesa.payout_shortcode).lines if x.is_payout]
    path = f"/v1/admin/payouts/{payout_id}/conclusion"
    body = {"outcome": "completed", "receipt": line.receipt, "evidence": "statement 600000, today", "note": "paid"}
    assert client.post(path, json=body, headers=ann).status_code == 403  # a step-up first
    for bad, field in (
        ({**body, "receipt": None}, "receipt"),
        ({**body, "receipt": "no such!"}, "receipt"),
        ({**body, "outcome": "failed"}, "receipt"),  # a failure has no receipt
        ({**body, "outcome": "maybe"}, "outcome"),
        ({**body, "evidence": ""}, "evidence"),
    ):
        refused = client.post(path, json=bad, headers=auth.stepped_up(ann, code=ann_codes.pop()))
        assert refused.status_code == 422 and refused.json["errors"][0]["field"] == field, (bad, refused.json)
        assert refused.content_type == "application/problem+json"
    missing = client.post(
        "/v1/admin/payouts/po_nope/conclusion", json=body, headers=auth.stepped_up(ann, code=ann_codes.pop())
    )
    assert missing.status_code == 404
    proposed = client.post(path, json=body, headers=auth.stepped_up(ann, code=ann_codes.pop()))
    assert proposed.status_code == 200, proposed.json
    assert proposed.json["proposed_outcome"] == "completed" and proposed.json["payout"]["state"] == "unknown"
    again = client.post(path, json=body, headers=auth.stepped_up(bob, code=bob_codes.pop()))
    assert again.status_code == 409  # one proposal at a time

    approve = f"{path}/approve"
    read = {"outcome": "completed", "receipt": line.receipt}  # what bob read
    assert client.post(approve, json=read, headers=bob).status_code == 403  # a step-up first
    same = client.post(approve, json=read, headers=auth.stepped_up(ann, code=ann_codes.pop()))
    assert same.status_code == 409 and same.json["code"] == "same_officer"
    for bad, field in ((None, "outcome"), ({"outcome": "completed"}, "receipt")):  # R9-1: name what was read
        refused = client.post(approve, json=bad, headers=auth.stepped_up(bob, code=bob_codes.pop()))
        assert refused.status_code == 422 and refused.json["errors"][0]["field"] == field, (bad, refused.json)
    for other in ({"outcome": "failed"}, {"outcome": "completed", "receipt": "ZZZ999ZZZ"}):
        changed = client.post(approve, json=other, headers=auth.stepped_up(bob, code=bob_codes.pop()))
        assert changed.status_code == 409, changed.json  # not what is proposed: nothing moves
    assert stack.payouts.get_payout(payout_id).state.value == "unknown"
    done = client.post(approve, json=read, headers=auth.stepped_up(bob, code=bob_codes.pop()))
    assert done.status_code == 200, done.json
    assert done.json["payout"]["state"] == "completed" and done.json["payout"]["receipt"] == line.receipt
    decided = client.post(approve, json=read, headers=auth.stepped_up(bob, code=bob_codes.pop()))
    assert decided.status_code == 409
    assert client.get("/v1/admin/payouts/unresolved", headers=ann).json["items"] == []
    actions = [r.event.action for r in stack.storage.audit_records() if r.event.subject == f"payout:{payout_id}"]
    assert {"payout.conclusion_proposed", "payout.conclusion_same_person_refused", "payout.concluded"} <= set(actions)
    assert stack.books_balanced()


def test_a_proposal_is_declined_with_a_note(client, auth, stack, shop):
    payout_id = unknown_payout(client, stack, shop, auth.user("admin"))
    ann, ann_codes = auth.staff("admin")
    bob, _ = auth.staff("admin")
    path = f"/v1/admin/payouts/{payout_id}/conclusion"
    body = {"outcome": "failed", "evidence": "statement 600000, today", "note": "not on it"}
    assert client.post(path, json=body, headers=auth.stepped_up(ann, code=ann_codes.pop())).status_code == 200
    assert client.post(f"{path}/decline", json={"note": ""}, headers=bob).status_code == 422
    declined = client.post(f"{path}/decline", json={"note": "it is on the statement"}, headers=bob)
    assert declined.status_code == 200 and declined.json["proposed_outcome"] is None
    assert client.post(f"{path}/decline", json={"note": "x"}, headers=bob).status_code == 409  # none proposed


def test_an_approval_carries_out_only_the_conclusion_read(client, auth, stack, shop):
    """LASTREAD L-1: the proposer withdraws 'completed' after the approver read it and proposes 'failed' (which
    would void the hold and let retry pay it again): the approval naming 'completed' is a 409, nothing moves."""
    payout_id = unknown_payout(client, stack, shop, auth.user("admin"))
    ann, ann_codes = auth.staff("admin")
    bob, bob_codes = auth.staff("admin")
    [line] = [x for x in statement_of(stack.mpesa, shortcode=stack.mpesa.payout_shortcode).lines if x.is_payout]
    path = f"/v1/admin/payouts/{payout_id}/conclusion"
    paid = {"outcome": "completed", "receipt": line.receipt, "evidence": "statement 600000", "note": "paid"}
    assert client.post(path, json=paid, headers=auth.stepped_up(ann, code=ann_codes.pop())).status_code == 200
    [seen] = client.get("/v1/admin/payouts/unresolved", headers=bob).json["items"]  # bob reads it
    assert client.post(f"{path}/decline", json={"note": "withdrawn"}, headers=ann).status_code == 200
    failed = {"outcome": "failed", "evidence": "trust me", "note": "failed"}
    assert client.post(path, json=failed, headers=auth.stepped_up(ann, code=ann_codes.pop())).status_code == 200
    read = {"outcome": seen["proposed_outcome"], "receipt": seen["proposed_receipt"]}
    approved = client.post(f"{path}/approve", json=read, headers=auth.stepped_up(bob, code=bob_codes.pop()))
    assert approved.status_code == 409, approved.json
    assert approved.content_type == "application/problem+json"
    assert stack.payouts.get_payout(payout_id).state.value == "unknown"  # nothing voided, no retry possible


def statement_lines(stack, period=None) -> list[str]:
    """The payout Short Code's statement CSV as the org portal gives it, one string per line (as the API takes it)."""
    return render_statement(statement_of(stack.mpesa, period, shortcode=stack.mpesa.payout_shortcode)).splitlines()


def test_a_statement_uploaded_as_evidence_is_read_kept_and_refused_when_it_contradicts(client, auth, stack, shop):
    """R10-4: the statement itself is the evidence: a failure it shows paid is a 409 statement_contradicts; one not
    covering the send, or unreadable, is a 422 on statement; a completion it shows is proposed with what it showed
    kept (sha256, period, the payment), and nothing moves until a second admin approves."""
    payout_id = unknown_payout(client, stack, shop, auth.user("admin"))
    ann, codes = auth.staff("admin")
    bob, bob_codes = auth.staff("admin")
    path = f"/v1/admin/payouts/{payout_id}/conclusion"
    lines = statement_lines(stack)
    [line] = [x for x in parse_statement("\n".join(lines)).lines if x.is_payout]
    failed = {"outcome": "failed", "note": "not on it", "statement": lines}
    contradicted = client.post(path, json=failed, headers=auth.stepped_up(ann, code=codes.pop()))
    assert contradicted.status_code == 409 and contradicted.json["code"] == "statement_contradicts", contradicted.json
    assert line.receipt in contradicted.json["detail"]
    wrong = {"outcome": "completed", "receipt": "ZZZ999ZZZ9", "note": "paid", "statement": lines}
    absent = client.post(path, json=wrong, headers=auth.stepped_up(ann, code=codes.pop()))
    assert absent.status_code == 409 and absent.json["code"] == "statement_contradicts"
    now = stack.clock.now()
    late = statement_lines(stack, (now - timedelta(minutes=10), now))  # after the send: it cannot speak of it
    paid = {"outcome": "completed", "receipt": line.receipt, "note": "paid"}
    for bad in (late, ["Receipt No.,nothing else"], ["not a statement"]):
        refused = client.post(path, json={**paid, "statement": bad}, headers=auth.stepped_up(ann, code=codes.pop()))
        assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "statement", refused.json
    assert stack.payouts.get_payout(payout_id).conclusion is None  # every refusal changed nothing
    # ... but the attempts a statement contradicts are kept, the one that could pay twice first (reader1 L-6)
    kept = [r.event for r in stack.storage.audit_records() if r.event.subject == f"payout:{payout_id}"]
    contradicted_records = [e for e in kept if e.action == "payout.conclusion_statement_contradicts_refused"]
    assert [dict(e.details)["outcome"] for e in contradicted_records] == ["failed", "completed"]
    assert {dict(e.details)["statement"] for e in contradicted_records} == {parse_statement("\n".join(lines)).digest}

    proposed = client.post(path, json={**paid, "statement": lines}, headers=auth.stepped_up(ann, code=codes.pop()))
    assert proposed.status_code == 200, proposed.json
    shown = proposed.json["statement"]
    assert shown["receipt"] == line.receipt and shown["paid"]["amount"] == str(line.withdrawn.amount)
    assert shown["sha256"] == hashlib.sha256("\n".join(lines).encode()).hexdigest() and shown["payments"] == 1
    assert shown["shortcode"] == stack.mpesa.payout_shortcode
    assert f"receipt {line.receipt}" in proposed.json["evidence"]  # no words needed: the statement says it
    [listed] = client.get("/v1/admin/payouts/unresolved", headers=bob).json["items"]
    assert listed["statement"] == shown  # the approver reads what the statement showed
    read = {"outcome": "completed", "receipt": line.receipt}
    done = client.post(f"{path}/approve", json=read, headers=auth.stepped_up(bob, code=bob_codes.pop()))
    assert done.status_code == 200 and done.json["payout"]["state"] == "completed"
    assert done.json["statement"] == shown and stack.books_balanced()


def test_two_admins_confirm_a_bank_transfer(client, auth, stack, services):
    """R10-7: one admin proposes the bank's reference (step-up), the proposer approving it is a 409 same_officer, a
    second admin approving it (step-up) completes the payout from the bank account; each step audited."""
    payout_id = bank_transfer(client, stack, auth)
    ann, ann_codes = auth.staff("admin")
    bob, bob_codes = auth.staff("admin")
    path = f"/v1/admin/payouts/{payout_id}/bank-confirmation"
    body = {"reference": "FT26005ABC", "note": "seen on the bank's portal"}
    assert client.post(path, json=body, headers=ann).status_code == 403  # a step-up first
    assert client.post(path, json=body, headers=auth.user("merchant")).status_code == 403  # admins only
    for bad in ({"reference": "bad ref!"}, {"reference": ""}, {}):
        refused = client.post(path, json=bad, headers=auth.stepped_up(ann, code=ann_codes.pop()))
        assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "reference", (bad, refused.json)
        assert refused.content_type == "application/problem+json"
    missing = "/v1/admin/payouts/po_nope/bank-confirmation"
    assert client.post(missing, json=body, headers=auth.stepped_up(ann, code=ann_codes.pop())).status_code == 404
    proposed = client.post(path, json=body, headers=auth.stepped_up(ann, code=ann_codes.pop()))
    assert proposed.status_code == 200, proposed.json
    assert proposed.json["proposed_receipt"] == "FT26005ABC" and proposed.json["payout"]["state"] == "submitted"
    listed = client.get("/v1/admin/payouts/bank-transfers", headers=bob)
    assert listed.status_code == 200, listed.json
    [item] = listed.json["items"]  # what the second admin approves, and who proposed it
    assert item["payout"]["id"] == payout_id and item["proposed_by"] == proposed.json["proposed_by"]
    assert client.get("/v1/admin/payouts/bank-transfers", headers=auth.user("merchant")).status_code == 403
    again = client.post(path, json=body, headers=auth.stepped_up(bob, code=bob_codes.pop()))
    assert again.status_code == 409  # one proposal at a time

    approve = f"{path}/approve"
    read = {"reference": "FT26005ABC"}
    assert client.post(approve, json=read, headers=bob).status_code == 403  # a step-up first
    same = client.post(approve, json=read, headers=auth.stepped_up(ann, code=ann_codes.pop()))
    assert same.status_code == 409 and same.json["code"] == "same_officer"
    other = client.post(approve, json={"reference": "FT9"}, headers=auth.stepped_up(bob, code=bob_codes.pop()))
    assert other.status_code == 409 and stack.payouts.get_payout(payout_id).state.value == "submitted"
    done = client.post(approve, json=read, headers=auth.stepped_up(bob, code=bob_codes.pop()))
    assert done.status_code == 200, done.json
    assert done.json["payout"]["state"] == "completed" and done.json["payout"]["receipt"] == "FT26005ABC"
    decided = client.post(approve, json=read, headers=auth.stepped_up(bob, code=bob_codes.pop()))
    assert decided.status_code == 409
    assert client.get("/v1/admin/payouts/bank-transfers", headers=bob).json["items"] == []
    assert "payouts.bank_transfers_viewed" in [r.action for r in services.audit.records()]  # payees' accounts
    actions = [r.event.action for r in stack.storage.audit_records() if r.event.subject == f"payout:{payout_id}"]
    expected = {"payout.bank_confirmation_proposed", "payout.conclusion_same_person_refused", "payout.bank_confirmed"}
    assert expected <= set(actions)
    assert stack.books_balanced()


def test_a_bank_confirmation_is_declined_and_an_mpesa_payout_is_refused(client, auth, stack, shop):
    """A wrong reference proposed is declined (the transfer still awaits one); an M-Pesa payout has no bank
    confirmation (422 problem+json: it is refused, nothing changes)."""
    mpesa = unknown_payout(client, stack, shop, auth.user("admin"))  # an hour passes: the officers sign in after
    payout_id = bank_transfer(client, stack, auth)
    ann, ann_codes = auth.staff("admin")
    bob, _ = auth.staff("admin")
    path = f"/v1/admin/payouts/{payout_id}/bank-confirmation"
    proposed = client.post(path, json={"reference": "FT1"}, headers=auth.stepped_up(ann, code=ann_codes.pop()))
    assert proposed.status_code == 200, proposed.json
    declined = client.post(f"/v1/admin/payouts/{payout_id}/conclusion/decline", json={"note": "typo"}, headers=bob)
    assert declined.status_code == 200 and declined.json["proposed_receipt"] is None
    assert declined.json["payout"]["state"] == "submitted"
    refused = client.post(
        f"/v1/admin/payouts/{mpesa}/bank-confirmation",
        json={"reference": "FT2"},
        headers=auth.stepped_up(ann, code=ann_codes.pop()),
    )
    assert refused.status_code == 422 and refused.content_type == "application/problem+json", refused.json
    assert stack.payouts.get_payout(mpesa).conclusion is None


def test_a_payment_another_unknown_payout_could_equally_be_concludes_neither(client, auth, stack, shop):
    """Review12 R12-9 over HTTP (PostgreSQL: the open payouts and booked receipts read by the use case): two payouts of
    one amount to one number, both unknown. The later payment could be either's (the earlier was sent before it):
    completing the later payout with it is a 409 statement_ambiguous, and nothing is proposed; the earlier payment
    could only be the earlier payout's. Once that is concluded with it, the later payment is the later payout's."""
    stack.mpesa.set_scenario(normalize_msisdn("0712345678"), Scenario.LOST_CALLBACK)
    admin, sent = auth.user("admin"), []
    for _ in range(2):  # two settlements of one amount, sent three minutes apart; every answer lost
        stack.pay(shop.invoice()["id"])
        stack.confirm(3)
        run = client.post("/v1/settlements/run", json={"merchant_id": shop.id}, headers=idem(admin)).json
        sent.append(run["runs"][0]["payouts"][0]["id"])
        stack.payouts.submit_payouts()
        stack.clock.advance(minutes=3)
        stack.payouts.query_stale_payouts()
    stack.clock.advance(hours=1)
    first, second = sent
    ann, codes = auth.staff("admin")
    bob, bob_codes = auth.staff("admin")
    route = "/v1/admin/payouts/unresolved?limit=1"  # R13-15: a page at a time, never a silent cap
    page = client.get(route, headers=ann).json
    assert [i["payout"]["id"] for i in page["items"]] == [first] and page["next_cursor"] == first, page
    page = client.get(f"{route}&cursor={first}", headers=ann).json
    assert [i["payout"]["id"] for i in page["items"]] == [second] and page["next_cursor"] is None, page
    stray = client.get(f"{route}&cursor=po_ZZZZ", headers=ann)
    assert stray.status_code == 422 and stray.json["errors"][0]["field"] == "cursor", stray.json
    lines = statement_lines(stack)
    early, late = [x for x in parse_statement("\n".join(lines)).lines if x.is_payout]
    assert early.withdrawn == late.withdrawn and early.party_number == late.party_number
    paid = {"outcome": "completed", "receipt": late.receipt, "note": "paid", "statement": lines}
    refused = client.post(
        f"/v1/admin/payouts/{second}/conclusion", json=paid, headers=auth.stepped_up(ann, code=codes.pop())
    )
    assert refused.status_code == 409 and refused.json["code"] == "statement_ambiguous", refused.json
    assert refused.content_type == "application/problem+json" and first in refused.json["detail"]
    assert stack.payouts.get_payout(second).conclusion is None
    path = f"/v1/admin/payouts/{first}/conclusion"
    proposed = client.post(
        path, json={**paid, "receipt": early.receipt}, headers=auth.stepped_up(ann, code=codes.pop())
    )
    assert proposed.status_code == 200, proposed.json
    read = {"outcome": "completed", "receipt": early.receipt}
    assert (
        client.post(f"{path}/approve", json=read, headers=auth.stepped_up(bob, code=bob_codes.pop())).status_code == 200
    )
    now = client.post(
        f"/v1/admin/payouts/{second}/conclusion", json=paid, headers=auth.stepped_up(ann, code=codes.pop())
    )
    assert now.status_code == 200, now.json
    assert now.json["statement"]["receipt"] == late.receipt


def test_a_statement_larger_than_the_apis_usual_body_is_read(client, auth, stack, shop):
    """Reader1 L-8: a statement of thousands of rows is over the API's 1 MB body; the routes taking a statement read
    up to their documented 100,000 lines (this one, 1.2 MB, is refused for what it says, not for its size)."""
    payout_id = unknown_payout(client, stack, shop, auth.user("admin"))
    ann, codes = auth.staff("admin")
    big = ["x" * 200] * 6_000
    body = {"outcome": "failed", "note": "not on it", "statement": big}
    answer = client.post(
        f"/v1/admin/payouts/{payout_id}/conclusion", json=body, headers=auth.stepped_up(ann, code=codes.pop())
    )
    assert answer.status_code == 422 and answer.json["errors"][0]["field"] == "statement", answer.json
    admin = auth.user("admin")
    reconcile = client.post("/v1/admin/reconciliation", json={"bank_statement": big}, headers=admin)
    assert reconcile.status_code == 422, reconcile.json


def test_a_failure_is_refused_while_its_payment_is_booked_on_a_payout_it_does_not_match(client, auth, stack, shop):
    """Reader2 L2-3 over HTTP (PostgreSQL: the receipts read by the use case): two unknown payouts of other amounts;
    the first's payment is booked on the second by a slip (a completion from the record read in words). Concluding
    the first failed from the statement is then a 409 statement_contradicts naming the second: it would pay twice."""
    stack.mpesa.set_scenario(normalize_msisdn("0712345678"), Scenario.LOST_CALLBACK)
    admin, sent = auth.user("admin"), []
    for amount in ("5000", "7000"):
        stack.pay(shop.invoice(amount)["id"])
        stack.confirm(3)
        run = client.post("/v1/settlements/run", json={"merchant_id": shop.id}, headers=idem(admin)).json
        sent.append(run["runs"][0]["payouts"][0]["id"])
        stack.payouts.submit_payouts()
        stack.clock.advance(minutes=3)
        stack.payouts.query_stale_payouts()
    stack.clock.advance(hours=1)
    first, second = sent
    ann, codes = auth.staff("admin")
    bob, bob_codes = auth.staff("admin")
    route = "/v1/admin/payouts/unresolved?limit=1"  # R13-15: a page at a time, never a silent cap
    page = client.get(route, headers=ann).json
    assert [i["payout"]["id"] for i in page["items"]] == [first] and page["next_cursor"] == first, page
    page = client.get(f"{route}&cursor={first}", headers=ann).json
    assert [i["payout"]["id"] for i in page["items"]] == [second] and page["next_cursor"] is None, page
    stray = client.get(f"{route}&cursor=po_ZZZZ", headers=ann)
    assert stray.status_code == 422 and stray.json["errors"][0]["field"] == "cursor", stray.json
    lines = statement_lines(stack)
    rows = [x for x in parse_statement("\n".join(lines)).lines if x.is_payout]
    [mine] = [x for x in rows if x.withdrawn == stack.payouts.get_payout(first).amount]
    slip = {"outcome": "completed", "receipt": mine.receipt, "evidence": "read out on the phone", "note": "paid"}
    path = f"/v1/admin/payouts/{second}/conclusion"
    assert client.post(path, json=slip, headers=auth.stepped_up(ann, code=codes.pop())).status_code == 200
    read = {"outcome": "completed", "receipt": mine.receipt}
    booked = client.post(f"{path}/approve", json=read, headers=auth.stepped_up(bob, code=bob_codes.pop()))
    assert booked.status_code == 200, booked.json
    failed = {"outcome": "failed", "note": "not on it", "statement": lines}
    refused = client.post(
        f"/v1/admin/payouts/{first}/conclusion", json=failed, headers=auth.stepped_up(ann, code=codes.pop())
    )
    assert refused.status_code == 409 and refused.json["code"] == "statement_contradicts", refused.json
    assert f"booked on payout {second}, which it does not match" in refused.json["detail"]
    assert (
        stack.payouts.get_payout(first).conclusion is None and stack.payouts.get_payout(first).state.value == "unknown"
    )
