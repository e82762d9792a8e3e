"""Over HTTP: two admins correct the M-Pesa receipt a payout was concluded with (mistyped from the statement)."""

from __future__ import annotations

from cryptopay.core.testing.mpesa_statement import statement_of

from tests.integration.http_payments.test_http_payout_conclusions import unknown_payout

TYPO = "NLJ7RT61SW"


def test_two_admins_correct_a_concluded_payouts_receipt_and_no_money_moves(client, auth, stack, shop):
    payout_id = unknown_payout(client, stack, shop, auth.user("admin"))
    ann, ann_codes = auth.staff("admin")
    bob, bob_codes = auth.staff("admin")
    conclusion = f"/v1/admin/payouts/{payout_id}/conclusion"
    body = {"outcome": "completed", "receipt": TYPO, "evidence": "the statement, by eye", "note": "paid"}
    assert client.post(conclusion, json=body, headers=auth.stepped_up(ann, code=ann_codes.pop())).status_code == 200
    read = {"outcome": "completed", "receipt": TYPO}
    done = client.post(f"{conclusion}/approve", json=read, headers=auth.stepped_up(bob, code=bob_codes.pop()))
    assert done.status_code == 200 and done.json["payout"]["receipt"] == TYPO
    [line] = [x for x in statement_of(stack.mpesa, shortcode=stack.mpesa.payout_shortcode).lines if x.is_payout]
    float_before = stack.balance("assets:mpesa_float:KES")

    path = f"/v1/admin/payouts/{payout_id}/receipt-correction"
    body = {"receipt": line.receipt, "reason": "one letter off the statement"}
    assert client.post(path, json=body, headers=ann).status_code == 403  # a step-up first
    assert client.post(path, json=body, headers=auth.user("merchant")).status_code == 403  # admins only
    for bad, field in (({**body, "receipt": "NLJ-7RT61"}, "receipt"), ({**body, "reason": ""}, "reason")):
        refused = client.post(path, json=bad, headers=auth.stepped_up(ann, code=ann_codes.pop()))
        assert refused.status_code == 422 and refused.json["errors"][0]["field"] == field, (bad, refused.json)
        assert refused.content_type == "application/problem+json"
    proposed = client.post(path, json=body, headers=auth.stepped_up(ann, code=ann_codes.pop()))
    assert proposed.status_code == 200, proposed.json
    assert proposed.json["payout"]["receipt"] == TYPO and proposed.json["proposed"]["receipt"] == line.receipt
    approve = f"{path}/approve"
    same = client.post(approve, json={"receipt": line.receipt}, headers=auth.stepped_up(ann, code=ann_codes.pop()))
    assert same.status_code == 409 and same.json["code"] == "same_officer"
    other = client.post(approve, json={"receipt": "ZZZ999ZZZ"}, headers=auth.stepped_up(bob, code=bob_codes.pop()))
    assert other.status_code == 409  # not the receipt proposed
    fixed = client.post(approve, json={"receipt": line.receipt}, headers=auth.stepped_up(bob, code=bob_codes.pop()))
    assert fixed.status_code == 200, fixed.json
    assert fixed.json["payout"]["receipt"] == line.receipt and fixed.json["proposed"] is None
    [kept] = fixed.json["corrections"]
    assert (kept["before"], kept["receipt"]) == (TYPO, line.receipt) and kept["approved_by"] != kept["proposed_by"]
    assert stack.balance("assets:mpesa_float:KES") == float_before and stack.books_balanced()
    assert client.post(f"{path}/decline", json={"note": "x"}, headers=bob).status_code == 409  # none proposed
    actions = [r.event.action for r in stack.storage.audit_records() if r.event.subject == f"payout:{payout_id}"]
    assert {"payout.receipt_correction_proposed", "payout.receipt_corrected"} <= set(actions)
