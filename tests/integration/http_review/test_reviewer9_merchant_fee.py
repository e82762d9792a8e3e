"""Reviewer9 R9-9: the merchant fee is a step-up action of its own (``PUT .../store/merchant-fee`` and the console's
form), changing only the fee, audited, and the merchant's owner is emailed its new fee and from when; the store's
PUT refuses a fee (a pointer to the operation) and so can no longer be the way an admin sets it."""

from __future__ import annotations

from typing import Any

from tests.integration.http_payments.payments_support import INSTANT, Shop


def _fee(client: Any, shop: Any, headers: dict[str, str], percent: Any) -> Any:
    return client.put(f"/v1/merchants/{shop.id}/store/merchant-fee", json={"percent": percent}, headers=headers)


def _owner_mail(services: Any, shop: Any) -> list[Any]:
    merchant = services.merchants.get(shop.id)
    owner = services.users.get(merchant.owner_user_id)
    return [n for n in services.notifier.sent_to(owner.email) if n.subject == "Your cryptopay fee changed"]


def test_a_fee_change_asks_a_step_up_changes_only_the_fee_and_tells_the_merchant(client, auth, stack, shop, services):
    shop.store(["usdt-ethereum"], invoice_window_minutes=30, tolerance_percent="0.5")
    before = client.get(f"/v1/merchants/{shop.id}/store", headers=shop.headers).json
    admin, codes = auth.staff("admin")

    unstepped = _fee(client, shop, admin, "4.9")  # a stolen 15-minute token is not enough
    assert unstepped.status_code == 403 and unstepped.json["code"] == "step_up_required", unstepped.json
    through_put = client.put(
        f"/v1/merchants/{shop.id}/store",
        json={"rails": ["usdt-ethereum"], "merchant_fee_percent": "4.9"},
        headers=admin,
    )
    assert through_put.status_code == 422, through_put.json
    [error] = through_put.json["errors"]
    assert error["field"] == "merchant_fee_percent" and "store/merchant-fee" in error["detail"]
    staff_put = client.put(f"/v1/merchants/{shop.id}/store", json={"rails": ["usdt-ethereum"]}, headers=admin)
    assert staff_put.status_code == 403 and staff_put.json["code"] == "step_up_required", staff_put.json
    merchant_stepped = _fee(client, shop, shop.stepped, "0")
    assert merchant_stepped.status_code == 403, merchant_stepped.json
    assert client.get(f"/v1/merchants/{shop.id}/store", headers=shop.headers).json == before
    assert _owner_mail(services, shop) == []

    stepped = auth.stepped_up(admin, code=codes[0])
    for bad in ("100.5", "-1", "abc"):
        refused = _fee(client, shop, stepped, bad)
        assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "percent", refused.json
    assert client.get(f"/v1/merchants/{shop.id}/store", headers=shop.headers).json == before

    set_ = _fee(client, shop, stepped, "4.9")
    assert set_.status_code == 200, set_.json
    after = set_.json
    assert [(f["asset"], f["percent"]) for f in after["merchant_fees"]] == [("USDT", "4.9")]
    kept = ("rails", "invoice_window_minutes", "tolerance_percent", "min_invoice_amount", "speed_policy")
    assert {k: after[k] for k in kept} == {k: before[k] for k in kept}  # the merchant's own settings stay
    with stack.uow() as uow:
        records = [r for r in uow.audit.about([f"merchant:{shop.id}"]) if r.action.startswith("store.merchant_fee")]
    assert [r.action for r in records] == ["store.merchant_fee", "store.merchant_fee_notified"]
    details = dict(records[0].details)
    assert records[0].actor.startswith("user:") and details["percent"] == "4.9" and details["before"] == "none"
    assert dict(records[1].details)["outcome"] == "sent"
    [mail] = _owner_mail(services, shop)
    assert "from none to 4.9 %" in mail.body and "EAT" in mail.body


def test_a_fee_for_a_merchant_with_no_store_is_a_404(client, auth):
    bare = Shop(auth, client, "New Ltd", INSTANT)
    admin, codes = auth.staff("admin")
    refused = _fee(client, bare, auth.stepped_up(admin, code=codes[0]), "1")
    assert refused.status_code == 404, refused.json
