"""AML alerts and cases over REST, for officers only."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from datetime import timedelta

from cryptopay.core.compliance.rules import Direction, Movement, default_rules
from cryptopay.core.money import KES, Money
from cryptopay.core.system import NAIROBI


def test_an_officer_turns_alerts_into_a_case_and_reports_it(client, auth, services, clock):
    """The batch raises a large-value alert; an officer opens a case, notes, and reports it; others get 403."""
    at = clock.now()
    services.monitoring.observe(
        Movement(
            id="mv_1",
            party_id="usr_big",
            product="wallet_buy",
            direction=Direction.IN,
            amount=Money.of("1500000", KES),
            at=at,
        )
    )
    services.monitoring.run_batch(at - timedelta(minutes=1), at + timedelta(minutes=1))
    officer = auth.user("compliance")
    assert client.get("/v1/admin/compliance/alerts", headers=auth.user("personal")).status_code == 403
    [alert] = client.get("/v1/admin/compliance/alerts?status=open", headers=officer).json["data"]
    assert (alert["rule_id"], alert["rule_version"], alert["evidence"]["threshold"]) == (
        "large-value",
        default_rules().version,
        "1000000.00",
    )
    opened = client.post("/v1/admin/compliance/cases", json={"alert_ids": [alert["id"]]}, headers=officer)
    assert opened.status_code == 201, opened.json
    case_id = opened.json["id"]
    assert (
        client.post("/v1/admin/compliance/cases", json={"alert_ids": [alert["id"]]}, headers=officer).status_code == 409
    )
    assert (
        client.post("/v1/admin/compliance/cases", json={"alert_ids": ["alr_nope"]}, headers=officer).status_code == 404
    )
    path = f"/v1/admin/compliance/cases/{case_id}"
    assert client.post(f"{path}/notes", json={"text": "source of funds unclear"}, headers=officer).status_code == 200
    refused = client.post(f"{path}/status", json={"status": "reported", "note": "STR filed"}, headers=officer)
    assert (refused.status_code, refused.json["code"]) == (422, "str_not_filed")  # only a filing reports (R12-8)
    filing = {"reference": "100234", "filed_on": at.astimezone(NAIROBI).date().isoformat()}
    unexported = client.post(f"{path}/filing", json=filing, headers=officer)
    assert (unexported.status_code, unexported.json["code"]) == (422, "str_not_exported")
    assert client.post(f"{path}/str", json={"rentity_id": "a b"}, headers=officer).status_code == 422
    nameless = client.post(f"{path}/str", json={"rentity_id": "4711"}, headers=officer)  # R14-5: no name, no STR
    assert (nameless.status_code, nameless.json["errors"][0]["field"]) == (422, "officer")
    assert "cryptopay users set-name" in nameless.json["detail"]
    account = services.users.get(client.get("/v1/me", headers=officer).json["id"])
    account.display_name = "Ann Njeri Wambui"
    services.users.update(account)
    exported = client.post(f"{path}/str", json={"rentity_id": "4711"}, headers=officer)
    assert exported.status_code == 200 and exported.mimetype == "application/xml"
    assert (
        b"<report_code>STR</report_code>" in exported.data and "attachment" in exported.headers["Content-Disposition"]
    )
    person = ET.fromstring(exported.data).find("reporting_person")
    assert (person.findtext("first_name"), person.findtext("last_name")) == ("Ann Njeri", "Wambui")
    for bad, field in (({"reference": "1" * 65}, "reference"), ({"filed_on": "2099-01-01"}, "filed_on")):
        wrong = client.post(f"{path}/filing", json=filing | bad, headers=officer)
        assert (wrong.status_code, wrong.json["code"]) == (422, "invalid_str_filing"), wrong.json
        assert wrong.json["errors"][0]["field"] == field
    assert services.monitoring.case(case_id).status.value == "open"  # the refusals changed nothing
    done = client.post(f"{path}/filing", json=filing | {"note": "by the MLRO"}, headers=officer)
    assert done.status_code == 200, done.json
    assert done.json["status"] == "reported" and len(done.json["notes"]) == 2
    assert done.json["filing"]["reference"] == "100234" and done.json["filing"]["filed_on"] == filing["filed_on"]
    assert done.json["filing"]["export_digest"] == done.json["str_exports"][0]["digest"]
    assert done.json["str_exports"][0]["digest"] == hashlib.sha256(exported.data).hexdigest()
    assert client.post(f"{path}/status", json={"status": "open"}, headers=officer).status_code == 409
    listed = client.get("/v1/admin/compliance/cases?status=reported", headers=officer).json["data"]
    assert [c["id"] for c in listed] == [case_id]
    assert client.get("/v1/admin/compliance/cases/cas_nope", headers=officer).status_code == 404
    # Finding I10: the reads of alerts and cases (names, numbers, amounts) are audited, by the reading officer
    reads = [r for r in services.audit.records() if r.action.endswith(("alerts_viewed", "cases_viewed", "case_viewed"))]
    assert {r.action for r in reads} == {"compliance.alerts_viewed", "compliance.cases_viewed"}
    [alerts_read] = [r for r in reads if r.action == "compliance.alerts_viewed"]
    assert dict(alerts_read.details)["ids"] == alert["id"] and dict(alerts_read.details)["status"] == "open"
    client.get(path, headers=officer)
    [case_read] = [r for r in services.audit.records() if r.action == "compliance.case_viewed"]
    assert case_read.subject == f"case:{case_id}" and case_read.actor.startswith("user:")


def test_officers_screen_names_and_addresses_and_read_the_monthly_flows(client, auth, services, clock):
    """Screening over REST after an import; the monthly report; bad months are 422; others 403."""
    from pathlib import Path

    from cryptopay.adapters.sanctions import parse_list

    officer = auth.user("compliance")
    for path, body in (
        ("screen-name", {"name": "Osama bin Laden"}),
        ("screen-address", {"network": "tron", "address": "TAbc"}),
    ):
        unscreened = client.post(f"/v1/admin/compliance/sanctions/{path}", json=body, headers=officer)
        assert unscreened.status_code == 503 and unscreened.json["code"] == "screening_unavailable", unscreened.json
    fixtures = Path(__file__).resolve().parents[2] / "fixtures" / "sanctions"
    parsed = parse_list((fixtures / "sdn.xml").read_bytes())
    services.screening.import_list(parsed.source, parsed.version, parsed.entries, actor="operator:test")
    [snapshot] = client.get("/v1/admin/compliance/sanctions/lists", headers=officer).json["data"]
    assert (snapshot["source"], snapshot["entries"]) == ("ofac_sdn", 3)
    named = client.post(
        "/v1/admin/compliance/sanctions/screen-name", json={"name": "jose ramon nunez garcia"}, headers=officer
    )
    assert [m["ref"] for m in named.json["data"]] == ["ofac:30001"]
    assert [(s["source"], s["id"]) for s in named.json["lists"]] == [("ofac_sdn", snapshot["id"])]
    body = {"network": "polygon", "address": "0x8576acc5c05d6ce88f4e49bf65bdf0c62f91353c"}
    assert client.post("/v1/admin/compliance/sanctions/screen-address", json=body, headers=officer).json["data"]
    services.monitoring.observe(
        Movement(
            id="mv_9",
            party_id="usr_x",
            product="wallet_buy",
            direction=Direction.IN,
            amount=Money.of("2500", KES),
            at=clock.now(),
            asset="USDT",
            network="tron",
        )
    )
    month = clock.now().strftime("%Y-%m")
    flows = client.get(f"/v1/admin/compliance/reports/monthly?month={month}", headers=officer).json["data"]
    assert [(f["asset"], f["count"], f["total_kes"]) for f in flows] == [("USDT", 1, "2500.00")]
    assert client.get("/v1/admin/compliance/reports/monthly?month=2026-13", headers=officer).status_code == 422
    assert client.get("/v1/admin/compliance/sanctions/lists", headers=auth.user("merchant")).status_code == 403
    paths = client.get("/openapi.json").json["paths"]
    assert "/v1/admin/compliance/sanctions/screen-name" in paths and "/v1/admin/compliance/reports/monthly" in paths
