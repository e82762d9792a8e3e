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
