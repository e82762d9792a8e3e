"""``GET /v1/admin/audit`` (review12 R12-6): an officer's search of the audit log over the API, newest first, paged
with ``before``, audited; bad input a 422 problem naming the parameter; customers get a 403."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptopay.core.audit import AuditEvent

AT = datetime(2026, 3, 2, 10, tzinfo=UTC)


def _searched(services) -> list:
    with services.uow() as uow:
        return [r for r in uow.audit.records() if r.action == "audit.searched"]


def test_an_officer_searches_the_log_pages_back_and_the_search_is_audited(client, auth, services):
    with services.uow() as uow:
        for n in range(5):
            uow.audit.append(AuditEvent("user:usr_off", "kyc.approve", "kyc:usr_c1", AT + timedelta(days=n)))
        uow.audit.append(AuditEvent("user:usr_off", "alert.read", "user:usr_c2", AT))
    officer = auth.user("compliance")
    first = client.get("/v1/admin/audit?subject=usr_c1&action=kyc.&limit=3", headers=officer)
    assert first.status_code == 200, first.json
    assert [r["at"][:10] for r in first.json["records"]] == ["2026-03-06", "2026-03-05", "2026-03-04"]
    assert first.json["records"][0]["subject"] == "kyc:usr_c1" and first.json["before"]
    rest = client.get(f"/v1/admin/audit?subject=usr_c1&limit=3&before={first.json['before']}", headers=officer)
    assert [r["at"][:10] for r in rest.json["records"]] == ["2026-03-03", "2026-03-02"] and rest.json["before"] is None
    dated = client.get("/v1/admin/audit?actor=user:usr_off&since=2026-03-02&until=2026-03-02", headers=officer)
    assert {r["action"] for r in dated.json["records"]} == {"kyc.approve", "alert.read"}
    assert len(_searched(services)) == 3


def test_an_admins_search_leaves_the_compliance_desks_records_out(client, auth, services):
    """R13-2: which customer has an AML alert, a case or an STR is the desk's: an admin's search (whatever it asks
    for) never returns those records, and its audit record says it searched the operations' part."""
    with services.uow() as uow:
        for action in ("compliance.alert_raised", "compliance.str_exported", "aml.own_party_refused", "kyc.approve"):
            uow.audit.append(AuditEvent("system:monitoring", action, "user:usr_c3", AT))
        uow.audit.append(AuditEvent("user:usr_c3", "wallet.send", "user:usr_c3", AT))
    admin, officer = auth.user("admin"), auth.user("compliance")
    for asked in ("subject=usr_c3", "action=compliance.", "action=kyc.", "subject=user:usr_c3&action=aml."):
        found = client.get(f"/v1/admin/audit?{asked}", headers=admin).json["records"]
        assert [r["action"] for r in found] == (["wallet.send"] if "action" not in asked else []), asked
    assert len(client.get("/v1/admin/audit?subject=usr_c3", headers=officer).json["records"]) == 5
    scopes = [dict(r.details).get("scope") for r in _searched(services)]
    assert scopes == ["operations"] * 4 + [None]


def test_the_holds_and_freezes_recorded_under_other_families_are_the_desks_too(client, auth, services):
    """lastread L3-4: what the privacy export withholds as compliance's own work (a held send, a held remittance, a
    recipient's freeze, an own-party refusal) is left out of an admin's search whatever its family."""
    desk = ("wallet.held_send_kept", "remittance.held", "wallet.frozen_recipient", "aml.own_party_refused")
    with services.uow() as uow:
        for action in (*desk, "wallet.send", "wallet.held"):  # wallet.held: no family of the desk's
            uow.audit.append(AuditEvent("system:x", action, "user:usr_c4", AT))
    found = client.get("/v1/admin/audit?subject=usr_c4", headers=auth.user("admin")).json["records"]
    assert sorted(r["action"] for r in found) == ["wallet.held", "wallet.send"]
    found = client.get("/v1/admin/audit?subject=usr_c4", headers=auth.user("compliance")).json["records"]
    assert len(found) == 6


def test_dates_at_the_calendars_edges_are_a_422_not_a_500(client, auth, services):
    """R13-1: the last day of year 9999 and times whose UTC falls outside years 1000-9999 (a day added, a zone
    converted, overflowed into 500s); an ISO week date is no day either."""
    officer = auth.user("compliance")
    assert client.get("/v1/admin/audit?until=9999-12-31", headers=officer).status_code == 200
    for asked in ("since=0001-01-01T00:00:00%2B01:00", "since=9999-12-31T23:59:59-01:00", "since=2026-W50-1"):
        bad = client.get(f"/v1/admin/audit?{asked}", headers=officer)
        assert bad.status_code == 422 and bad.mimetype == "application/problem+json", (asked, bad.json)
    assert len(_searched(services)) == 1


def test_bad_input_is_a_422_naming_it_and_customers_are_refused(client, auth, services):
    officer = auth.user("compliance")
    bad = client.get("/v1/admin/audit?since=March", headers=officer)
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json" and "YYYY-MM-DD" in str(bad.json)
    # R14-14: its code is one the operation documents, for this case
    documented = client.get("/openapi.json").json["paths"]["/v1/admin/audit"]["get"]["description"]
    assert f"422 `{bad.json['code']}`: `since` or `until` is not a day" in documented
    assert client.get("/v1/admin/audit?limit=0", headers=officer).status_code == 422
    assert client.get("/v1/admin/audit?colour=red", headers=officer).status_code == 422
    assert client.get("/v1/admin/audit?since=2026-03-05&until=2026-03-01", headers=officer).status_code == 422
    assert _searched(services) == []
    assert client.get("/v1/admin/audit", headers=auth.user("personal")).status_code == 403
