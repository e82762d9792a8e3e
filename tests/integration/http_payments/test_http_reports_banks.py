"""Reports and bank settlement over HTTP: JSON and CSV reports, scopes, tenancy; a bank destination checked."""

from __future__ import annotations

from tests.integration.http_payments.payments_support import Shop, idem, key_headers


def paid_and_settled(client, stack, shop: Shop) -> None:
    invoice = shop.invoice()
    stack.pay(invoice["id"])
    stack.confirm(3)
    assert client.post("/v1/settlements/run", json={}, headers=idem(shop.headers)).status_code == 200
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()


def test_sales_fees_and_settlements_reports_as_json_and_csv(client, stack, shop):
    """The merchant reads its reports; CSV by format=csv or Accept: text/csv, with the totals last."""
    paid_and_settled(client, stack, shop)
    sales = client.get("/v1/reports/sales?period=month", headers=shop.headers)
    assert sales.status_code == 200, sales.json
    assert sales.json["columns"] == ["period", "asset", "payments", "received", "fees", "net"]
    assert sales.json["rows"][0]["payments"] == "1" and sales.json["totals"][0]["period"] == "total"
    csv = client.get("/v1/reports/sales?format=csv", headers=shop.headers)
    assert csv.mimetype == "text/csv" and csv.text.splitlines()[0] == "period,asset,payments,received,fees,net"
    by_accept = client.get("/v1/reports/fees", headers={**shop.headers, "Accept": "text/csv"})
    assert by_accept.mimetype == "text/csv" and "excise_duty" in by_accept.text.splitlines()[0]
    settled = client.get("/v1/reports/settlements", headers=shop.headers).json
    assert settled["rows"][0]["settlements"] == "1" and settled["rows"][0]["paid_out"] != "0.00"


def test_reports_need_the_scope_and_show_only_the_merchants_own(client, auth, stack, shop, rival):
    """An API key without reports:read is a 403; with it, it reads; another merchant's id is a 404."""
    paid_and_settled(client, stack, shop)
    without = auth.api_key(shop.headers, shop.id, ["invoices:read"])
    assert client.get("/v1/reports/sales", headers=key_headers(without)).status_code == 403
    reader = auth.api_key(shop.headers, shop.id, ["reports:read"])
    assert client.get("/v1/reports/sales", headers=key_headers(reader)).status_code == 200
    assert client.get(f"/v1/reports/sales?merchant_id={rival.id}", headers=shop.headers).status_code == 404
    assert client.get("/v1/reports/sales", headers=rival.headers).json["rows"] == []


def test_bad_report_queries_are_422_naming_the_parameter(client, shop):
    """An unknown period or a date that is no date: 422 problems naming the parameter. Review R18: from after to,
    or after today, is a 422 naming both days (not an empty report); an early date's refusal says the years taken."""
    for query, field in (("period=week", "period"), ("from=2026-1-5", "from"), ("from=2026-02-30", "from")):
        answer = client.get(f"/v1/reports/sales?{query}", headers=shop.headers)
        assert answer.status_code == 422 and field in answer.text, answer.json
    for kind in ("sales", "fees", "settlements"):
        swapped = client.get(f"/v1/reports/{kind}?from=2026-03-01&to=2026-02-01", headers=shop.headers)
        assert swapped.status_code == 422 and swapped.json["errors"][0]["field"] == "from", swapped.json
        assert "2026-03-01" in swapped.json["detail"] and "2026-02-01" in swapped.json["detail"]
    future = client.get("/v1/reports/sales?from=9999-12-31", headers=shop.headers)
    assert (
        future.status_code == 422 and future.json["errors"][0]["field"] == "from" and "today" in future.json["detail"]
    )
    early = client.get("/v1/reports/sales?from=0001-01-01", headers=shop.headers)
    assert early.status_code == 422 and "1000 to 9999" in early.json["detail"], early.json


def test_a_bank_destination_must_be_a_catalogued_bank(client, auth):
    """An unknown bank code is a 422; a KCB account is accepted and stored in capitals."""
    headers = auth.user("merchant")
    body = {
        "business_name": "Benki",
        "settlement": {"schedule": "daily", "method": "bank", "destination": "XYZ:1234567890"},
    }
    refused = client.post("/v1/merchants", json=body, headers=headers)
    assert refused.status_code == 422 and "settlement.destination" in refused.text
    body["settlement"]["destination"] = "kcb:1234567890"
    created = client.post("/v1/merchants", json=body, headers=headers)
    assert created.status_code == 201, created.json
    assert created.json["settlement"]["destination"] == "KCB:1234567890"


def test_the_bank_catalogue_is_listed_and_a_payout_names_its_route(client, stack, shop):
    """GET /v1/banks lists the catalogue; a B2C payout's route is b2c."""
    banks = client.get("/v1/banks", headers=shop.headers).json
    equity = next(b for b in banks["banks"] if b["code"] == "EQUITY")
    assert banks["version"] == 1 and equity["paybill"] == "247247" and equity["account_pattern"].startswith("^")
    paid_and_settled(client, stack, shop)
    [payout] = client.get("/v1/payouts", headers=shop.headers).json["data"]
    assert payout["route"] == "b2c"
