"""Outside review 4, R13: an admin sets a merchant's payout charge that passes M-Pesa's B2C tariff on; the dry run
shows each part's charge before the settlement is made, the settlement and its payout show it; a merchant may not
set it, a charging that is not none or mpesa_b2c is a 422, and each refusal changes nothing."""

from __future__ import annotations

from cryptopay.core import flows
from cryptopay.core.money import KES, Money

from tests.integration.http_payments.payments_support import idem


def _charges(client, shop, headers, charging: str):
    return client.put(f"/v1/merchants/{shop.id}/store/payout-charges", json={"charging": charging}, headers=headers)


def test_an_admin_passes_the_b2c_tariff_on_and_every_view_shows_the_charge(client, auth, stack, shop):
    before = client.get(f"/v1/merchants/{shop.id}/store", headers=shop.headers).json
    assert before["payout_charges"] == {"charging": "none", "schedule_id": None, "effective_from": None, "bands": []}
    admin, codes = auth.staff("admin")
    unstepped = _charges(client, shop, admin, "mpesa_b2c")  # a step-up, as the console's fresh code (revpass6 P3)
    assert unstepped.status_code == 403 and unstepped.json["code"] == "step_up_required", unstepped.json
    assert (
        client.get(f"/v1/merchants/{shop.id}/store", headers=shop.headers).json["payout_charges"]
        == before["payout_charges"]
    )
    set_ = _charges(client, shop, auth.stepped_up(admin, code=codes[0]), "mpesa_b2c")
    assert set_.status_code == 200, set_.json
    charges = set_.json["payout_charges"]
    assert charges["charging"] == "mpesa_b2c" and charges["schedule_id"] == "mpesa_payout:KES:standard:v1"
    assert [(b["from_amount"], b["charge"]) for b in charges["bands"]] == [
        ("10.00", "0.00"),
        ("101.00", "5.00"),
        ("1501.00", "9.00"),
        ("5001.00", "11.00"),
        ("20001.00", "13.00"),
    ]
    assert client.get(f"/v1/merchants/{shop.id}/store", headers=shop.headers).json["payout_charges"] == charges
    with stack.uow() as uow:
        [record] = [r for r in uow.audit.about([f"merchant:{shop.id}"]) if r.action == "store.payout_charges"]
    assert record.actor.startswith("user:") and dict(record.details)["charging"] == "mpesa_b2c"

    invoice = shop.invoice("5000")
    stack.pay(invoice["id"])
    stack.confirm(3)
    dry = client.post("/v1/settlements/run", json={"dry_run": True}, headers=idem(shop.headers)).json
    [plan] = [r["plan"] for r in dry["runs"]]
    assert [c["amount"] for c in plan["charges"]] == ["9.00"] and plan["total_fees"]["amount"] == "9.00"
    run = client.post("/v1/settlements/run", json={}, headers=idem(shop.headers)).json
    [made] = run["runs"]
    assert made["settlement"]["payout_charges"]["amount"] == "9.00"
    assert [p["charge"]["amount"] for p in made["payouts"]] == ["9.00"]
    assert made["payouts"][0]["amount"]["amount"] == plan["parts"][0]["amount"]
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    assert stack.balance(flows.PAYOUT_FEE) == Money.of(9, KES) and stack.books_balanced()


def test_a_merchant_may_not_set_its_payout_charge_and_bad_input_is_a_422(client, auth, stack, shop):
    refused = _charges(client, shop, shop.headers, "none")
    assert refused.status_code == 403
    admin, codes = auth.staff("admin")
    stepped = auth.stepped_up(admin, code=codes[0])
    for charging in ("custom", "mpesa", ""):
        bad = _charges(client, shop, stepped, charging)
        assert bad.status_code == 422 and bad.content_type == "application/problem+json", bad.json
    store = client.get(f"/v1/merchants/{shop.id}/store", headers=shop.headers).json
    assert store["payout_charges"]["charging"] == "none" and store["payout_charges"]["schedule_id"] is None
    with stack.uow() as uow:
        assert [r for r in uow.audit.about([f"merchant:{shop.id}"]) if r.action == "store.payout_charges"] == []
