"""The console's audit search (review12 R12-6): a GET form on ``/console/audit`` by subject or party, actor, action
prefix and dates; newest first, keyset-paged with the query kept; each search audited; bad input a 422 in the page's
language on its field, nothing searched."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.core.audit import AuditEvent
from cryptopay.core.identity import Role

from tests.integration.web.test_console_officer_pages import Staff

AT = datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.fixture
def ann(app, auth) -> Staff:
    return Staff(app, auth, "ann@cryptopay.example", Role.COMPLIANCE)


def _fill(services, count: int, **event: str) -> None:
    with services.uow() as uow:
        for n in range(count):
            fields = {"actor": "user:usr_off1", "action": "kyc.approve", "subject": "user:usr_cust1", **event}
            uow.audit.append(AuditEvent(at=AT + timedelta(minutes=n), **fields))


def _searched(services) -> list:
    with services.uow() as uow:
        return [r for r in uow.audit.records() if r.action == "audit.searched"]


def test_an_officer_finds_a_partys_records_pages_back_and_the_search_is_audited(services, ann):
    _fill(services, 60)
    _fill(services, 3, subject="user:usr_other", action="alert.read")
    status, html = ann.get("/console/audit?subject=usr_cust1&action=kyc.&since=2026-03-01&until=2026-03-02")
    assert status == 200 and 'role="search"' in html and 'value="usr_cust1"' in html
    assert html.count("<code>user:usr_cust1</code>") == 50 and "usr_other" not in html
    older = re.search(r'href="/console/audit\?([^"]*)">Older records', html)[1].replace("&amp;", "&")
    assert "subject=usr_cust1" in older and "action=kyc." in older and "before=" in older
    status, html = ann.get(f"/console/audit?{older}")
    assert status == 200 and html.count("<code>user:usr_cust1</code>") == 10 and "Older records" not in html
    first, second = _searched(services)
    assert first.actor == f"user:{ann.id}" and dict(first.details)["subject"] == "usr_cust1"
    assert dict(first.details)["hits"] == "50" and dict(second.details)["hits"] == "10"
    assert "No record matches." in ann.get("/console/audit?actor=user:nobody")[1]


def test_a_phone_searched_for_is_kept_masked(services, ann):
    ann.get("/console/audit?subject=0712345678")
    [searched] = _searched(services)
    assert dict(searched.details)["subject"] == "0712****78" and "0712345678" not in str(searched.details)


def test_a_bad_date_is_a_422_on_its_field_in_the_pages_language_and_nothing_is_searched(services, ann):
    status, html = ann.get("/console/audit?since=March")
    assert status == 422 and 'id="refusal"' in html and "Give the date as YYYY-MM-DD." in html
    assert 'name="since" type="date" value="March" aria-invalid="true" aria-describedby="refusal"' in html
    ann.client.set_cookie("cp_lang", "sw")
    status, html = ann.get("/console/audit?since=2026-03-05&until=2026-03-01")
    assert status == 422 and "Tarehe ya kwanza iko baada ya ya mwisho." in html and "Tafuta kwenye kumbukumbu" in html
    assert _searched(services) == []


def test_an_admin_never_sees_the_compliance_desks_records_browsing_or_searching(services, app, auth, ann):
    """R13-2: the console closes the desk's pages to admins; its audit log does the same for the desk's records."""
    _fill(services, 2, action="compliance.alert_raised")
    _fill(services, 1, action="kyc.approve")
    _fill(services, 1, action="payout.concluded")
    admin = Staff(app, auth, "ada@cryptopay.example", Role.ADMIN)
    for path in ("/console/audit", "/console/audit?subject=usr_cust1", "/console/audit?action=compliance."):
        status, html = admin.get(path)
        assert status == 200 and "compliance.alert_raised" not in html and "kyc.approve" not in html, path
    assert "payout.concluded" in admin.get("/console/audit")[1]
    status, html = ann.get("/console/audit?subject=usr_cust1")
    assert html.count("compliance.alert_raised") == 2 and "kyc.approve" in html and "payout.concluded" in html


def test_a_link_from_another_site_asks_before_an_audited_read(services, ann):
    """R13-10: a cross-site navigation carries the Lax session cookie; nothing is searched until the officer opens
    the page from the console itself."""
    response = ann.client.get("/console/audit?subject=usr_cust1", headers={"Sec-Fetch-Site": "cross-site"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'href="/console/audit?subject=usr_cust1"' in html
    assert _searched(services) == []
    assert (
        ann.client.get("/console/audit?subject=usr_cust1", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
    )
    assert len(_searched(services)) == 1


def test_text_the_guard_refuses_is_said_in_the_pages_language(services, ann):
    """R13-7: a NUL or a bidi override in a search field is refused by the app-wide guard before the page: the page
    still says so in Swahili (the validator's English below), and nothing is searched."""
    ann.client.set_cookie("cp_lang", "sw")
    for typed in ("%00", "%E2%80%AEx"):
        status, html = ann.get(f"/console/audit?subject={typed}")
        assert status == 422 and "Angalia ulichoandika kisha ujaribu tena." in html, typed
    assert _searched(services) == []


def test_the_cli_and_core_refuse_bidi_overrides_and_calendar_edges(services):
    from cryptopay.core.audit_search import BAD_DATE, NOT_TEXT, audit_query
    from cryptopay.core.errors import InvalidInput

    for fields, message in (
        ({"subject": "a\u202eb"}, NOT_TEXT),
        ({"until": "9999-12-32"}, BAD_DATE),
        ({"since": "0001-01-01T00:00:00+01:00"}, BAD_DATE),
        ({"since": "2026-W50-1"}, BAD_DATE),
    ):
        with pytest.raises(InvalidInput) as refused:
            audit_query(**fields)
        assert refused.value.message == message, fields
    assert audit_query(until="9999-12-31").until == datetime.max.replace(tzinfo=UTC)
