"""AML alerts and cases over REST, for officers only."""

from __future__ import annotations

from datetime import timedelta

from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.money import KES, Money


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
    assert (alert["rule_id"], alert["rule_version"], alert["evidence"]["threshold"]) == ("large-value", 1, "1000000.00")
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
    refused = client.post(f"{path}/status", json={"status": "reported"}, headers=officer)
    assert refused.status_code == 422
    done = client.post(f"{path}/status", json={"status": "reported", "note": "STR filed"}, headers=officer)
    assert done.json["status"] == "reported" and len(done.json["notes"]) == 2
    assert client.post(f"{path}/status", json={"status": "open"}, headers=officer).status_code == 409
    listed = client.get("/v1/admin/compliance/cases?status=reported", headers=officer).json["data"]
    assert [c["id"] for c in listed] == [case_id]
    assert client.get("/v1/admin/compliance/cases/cas_nope", headers=officer).status_code == 404
