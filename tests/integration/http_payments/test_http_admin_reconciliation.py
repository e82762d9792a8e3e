"""``GET /v1/admin/reconciliation``: the core's reconciliation over HTTP, for admins only, in the OpenAPI document."""

from __future__ import annotations

import attrs
from cryptopay.core.mobile_money import token_from_url
from cryptopay.core.reconciliation import (
    CHECKS,
    BankLine,
    BankStatement,
    period_of,
    render_bank_statement,
    render_statement,
)
from cryptopay.core.testing.mobile_money import Scenario
from cryptopay.core.testing.mpesa_statement import statement_of
from cryptopay.sandbox._wire import dumps

from tests.integration.http_payments.payments_support import bank_transfer, idem

ROUTE = "/v1/admin/reconciliation"


def test_an_admin_reads_the_reconciliation_report(client, auth, stack, shop):
    """After a paid invoice and a completed payout every check is clean or says why it was skipped."""
    invoice = shop.invoice()
    stack.pay(invoice["id"])
    stack.confirm(3)
    admin = auth.user("admin")
    client.post("/v1/settlements/run", json={"merchant_id": shop.id}, headers=idem(admin))
    stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    response = client.get(ROUTE, headers=admin)
    assert response.status_code == 200, response.json
    report = response.json
    assert report["clean"] and report["differences"] == 0
    assert [c["name"] for c in report["checks"]] == [c.name for c in CHECKS]
    assert {c["name"] for c in report["checks"] if c["skipped"]} == {
        "mpesa-statement",
        "mpesa-collections",
        "mpesa-float",
        "custody-on-chain",
        "sweep-fees",  # the stack has no treasury store
        "sweeps-settled",
        "float-b2c",
        "wallet-balances",  # nor a wallet store
        "wallet-buys",
        "wallet-claims",
        "claims-returned",
        "wallet-deposits",  # nor a deposit store
        "deposits-held",
        "wallet-withdrawals",  # nor a withdrawal store
        "withdrawals-in-flight",
        "remittances-owed",  # nor a remittance store
    }


def test_the_report_shows_a_broken_record_with_a_200(client, auth, stack, shop):
    """A payout hold voided behind the payout's back is a difference in a 200 report (finding it is the job)."""
    invoice = shop.invoice()
    stack.pay(invoice["id"])
    stack.confirm(3)
    admin = auth.user("admin")
    run = client.post("/v1/settlements/run", json={"merchant_id": shop.id}, headers=idem(admin)).json
    payout = stack.payouts.get_payout(run["runs"][0]["payouts"][0]["id"])
    stack.ledger.void_hold(payout.hold_id)
    report = client.get(ROUTE, headers=admin).json
    assert not report["clean"]
    (holds,) = [c for c in report["checks"] if c["name"] == "payout-holds"]
    assert holds["differences"][0]["subject"] == f"payout {payout.id} (planned)"


def test_only_admins_reconcile(client, auth, shop):
    """A merchant gets a 403 problem, an anonymous caller a 401 problem; nothing is run for either."""
    forbidden = client.get(ROUTE, headers=shop.headers)
    assert forbidden.status_code == 403 and forbidden.mimetype == "application/problem+json"
    anonymous = client.get(ROUTE)
    assert anonymous.status_code == 401 and anonymous.mimetype == "application/problem+json"


def test_the_route_is_in_the_openapi_document(client):
    """The admin route is documented with its response schema, security and problem responses."""
    op = client.get("/openapi.json").json["paths"][ROUTE]["get"]
    assert op["summary"] and op["security"] and "401" in op["responses"] and "403" in op["responses"]
    assert "admin" in op["tags"]


def test_an_account_balance_answer_posted_to_its_hook_feeds_the_float_check(client, auth, stack, shop):
    """Daraja's Account Balance answer on its hook (with the query's token) is kept, and the next report compares
    the float with it; a forged token is a 403 problem that keeps nothing."""
    stack.float_balance.ask()
    [delivery] = [d for d in stack.mpesa.outbox if d.url.startswith(stack.balance_urls.result)]
    stack.mpesa.outbox.clear()
    forged = client.post("/hooks/daraja/balance/result/not-ours", data=dumps(delivery.payload))
    assert forged.status_code == 403 and forged.mimetype == "application/problem+json"
    assert stack.float_balance.latest() is None
    token = token_from_url(delivery.url)
    kept = client.post(f"/hooks/daraja/balance/result/{token}", data=dumps(delivery.payload))
    assert kept.status_code == 200 and kept.json["ResultCode"] == 0
    report = client.get(ROUTE, headers=auth.user("admin")).json
    (float_check,) = [c for c in report["checks"] if c["name"] == "mpesa-float"]
    assert float_check["ok"] and not float_check["skipped"]


def test_an_admin_reconciles_against_mpesa_s_statement_and_balance(client, auth, stack, shop):
    """Posting M-Pesa's statement (one CSV line per string) and balance shows the payout M-Pesa paid that our books
    do not know about; an unreadable statement or amount is a 422 problem and reconciles nothing."""
    stack.mpesa.set_scenario("254712345678", Scenario.LOST_CALLBACK)
    invoice = shop.invoice()
    stack.pay(invoice["id"])
    stack.confirm(3)
    admin = auth.user("admin")
    client.post("/v1/settlements/run", json={"merchant_id": shop.id}, headers=idem(admin))
    [payout] = stack.payouts.submit_payouts()
    lines = render_statement(statement_of(stack.mpesa)).splitlines()
    body = {"statement": lines, "mpesa_balance": str(stack.mpesa.float_balance.amount), "float_baseline": "10000000"}
    report = client.post(ROUTE, json=body, headers=admin).json
    assert not report["clean"]
    (statement,) = [c for c in report["checks"] if c["name"] == "mpesa-statement"]
    assert statement["differences"][0]["subject"] == f"payout {payout.id} (submitted)"
    (float_check,) = [c for c in report["checks"] if c["name"] == "mpesa-float"]
    assert float_check["differences"][0]["actual"].endswith("per Account Balance")
    header = "Receipt No.,Completion Time,Transaction Status,Paid In,Withdrawn,Reason Type,Other Party Info"
    huge = {"statement": [header, "SBX1,05-01-2026 14:00:00,Completed,,1e30,Business Payment,x"]}  # R13-4: was a 500
    year_1 = {"statement": ["Time Period:,01-01-0001 00:00:00 - 07-12-2026 23:59:59", header]}
    for bad in (
        {"statement": ["date,amount", "x,1"]},
        {"mpesa_balance": "1.234"},
        {"mpesa_balance": "-5"},
        huge,
        year_1,
    ):
        refused = client.post(ROUTE, json=bad, headers=admin)
        assert refused.status_code == 422 and refused.mimetype == "application/problem+json", (bad, refused.json)
    assert "statement line 2: '1e30' is not an amount" in client.post(ROUTE, json=huge, headers=admin).json["detail"]
    assert client.post(ROUTE, json={}, headers=shop.headers).status_code == 403


def test_a_statement_of_no_known_period_or_another_shortcode_is_not_compared(client, auth, stack, shop):
    """Review6 F3 over the API: without a Time Period line the statement checks are skipped, saying so, unless
    ``statement_from``/``statement_to`` say its period (then an empty statement shows the payout missing); a
    statement of another Short Code is a 422 problem."""
    invoice = shop.invoice()
    stack.pay(invoice["id"])
    stack.confirm(3)
    admin = auth.user("admin")
    client.post("/v1/settlements/run", json={"merchant_id": shop.id}, headers=idem(admin))
    [payout] = stack.payouts.submit_payouts()
    stack.deliver_callbacks()
    record = statement_of(stack.mpesa)
    assert record.period is not None
    empty = render_statement(attrs.evolve(record, lines=(), period=None)).splitlines()
    report = client.post(ROUTE, json={"statement": empty}, headers=admin).json
    checks = {c["name"]: c for c in report["checks"]}
    assert report["clean"] and checks["mpesa-statement"]["skipped"].startswith("statement period unknown")
    period = {"statement_from": record.period[0].isoformat(), "statement_to": record.period[1].isoformat()}
    report = client.post(ROUTE, json={"statement": empty, **period}, headers=admin).json
    checks = {c["name"]: c for c in report["checks"]}
    missing = [d["subject"] for d in checks["mpesa-statement"]["differences"] if d["actual"] == "not on it"]
    assert missing == [f"payout {payout.id} (completed)"]
    other = render_statement(attrs.evolve(record, shortcode="999999")).splitlines()
    refused = client.post(ROUTE, json={"statement": other}, headers=admin)
    assert refused.status_code == 422 and "not of ours" in refused.json["detail"], refused.json
    half = client.post(ROUTE, json={"statement": empty, "statement_from": period["statement_from"]}, headers=admin)
    assert half.status_code == 422, half.json


def test_an_admin_reconciles_the_bank_transfers_against_the_bank_statement(client, auth, stack):
    """R10-7: ``bank_statement`` (the CSV lines) is matched with the confirmed bank transfers: a debit of their
    reference and amount is clean, its absence a difference; a bad row is a 422 naming its line."""
    payout_id = bank_transfer(client, stack, auth)
    stack.payouts.propose_bank_confirmation(payout_id, reference="FT26005ABC", note="", by="user:amina")
    payout = stack.payouts.approve_bank_confirmation(payout_id, by="user:baraka", reference="FT26005ABC")
    day = stack.clock.now().date()
    debit = BankLine(on=day, reference="FT26005ABC", debit=payout.amount)
    period = period_of(day.isoformat(), day.isoformat())
    admin = auth.user("admin")

    def bank_check(*lines: BankLine):
        text = render_bank_statement(BankStatement(account="0100123456789", period=period, lines=lines))
        response = client.post(ROUTE, json={"bank_statement": text.splitlines()}, headers=admin)
        assert response.status_code == 200, response.json
        return next(c for c in response.json["checks"] if c["name"] == "bank-transfers")

    clean = bank_check(debit)
    assert clean["ok"] and not clean["skipped"], clean
    [missing] = bank_check()["differences"]
    assert missing["subject"] == f"bank transfer {payout_id} (completed)" and missing["actual"] == "not on it"
    for row in ("01-01-2026,,x,1,,", "01-01-2026,FT1,x,1e30,,"):  # the second was a 500 (R13-4)
        bad = ["Period:,01-01-2026 - 02-01-2026", "Date,Reference,Narrative,Debit,Credit,Balance", row]
        refused = client.post(ROUTE, json={"bank_statement": bad}, headers=admin)
        assert refused.status_code == 422 and "bank statement line 3" in refused.json["detail"], refused.json
        assert refused.content_type == "application/problem+json"
