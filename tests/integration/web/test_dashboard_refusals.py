"""The dashboard's refusals in the page's language, on their field, and the refused form kept as it was typed."""

from __future__ import annotations

import re

from cryptopay_http.pages.i18n import LANG_COOKIE
from flask.testing import FlaskClient

from tests.integration.web.test_dashboard_pages import _csrf, _log_in
from tests.integration.web.test_dashboard_pages import owner as owner  # the fixture


def test_a_refused_api_key_form_stays_open_with_its_name_and_scopes(client: FlaskClient, owner: str):
    """A wrong password refuses the key: the "Create an API key" box is open again with the name and the scopes
    chosen (never the password), and in Swahili the message says so with the core's words below."""
    _log_in(client)
    client.set_cookie(LANG_COOKIE, "sw")
    page = client.get("/dashboard/developers").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key, "the developers page renders each form's key (reader2 M-3: a form posted without it is a 400)"
    body = {"csrf_token": _csrf(page), "idempotency_key": key.group(1)}
    body |= {"name": "till 3", "scopes": ["invoices:write"], "password": "nope"}
    refused = client.post("/dashboard/developers/api-keys", data=body)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 403
    assert re.search(r"<details open>\s*<summary>Unda ufunguo wa API</summary>", html), html
    assert 'value="till 3"' in html and 'value="nope"' not in html
    assert re.search(r'value="invoices:write" checked', html) and not re.search(r'value="invoices:read" checked', html)
    assert '<small lang="en">' in html and 'id="refusal"' in html


def test_the_team_page_names_roles_in_swahili_and_keeps_the_chosen_role(client: FlaskClient, owner: str):
    """Roles read in the page's language; a refused invitation keeps the email and role typed, on their field."""
    _log_in(client)
    client.set_cookie(LANG_COOKIE, "sw")
    page = client.get("/dashboard/team").get_data(as_text=True)
    assert ">mmiliki</td>" in page and ">fedha</option>" in page and ">mfanyakazi</option>" in page
    body = {"csrf_token": _csrf(page), "email": "not-an-email", "role": "staff"}
    refused = client.post("/dashboard/team/invitations", data=body)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "weka anwani ya barua pepe ya mtu huyo" in html and '<small lang="en">' not in html  # the page's own words
    assert '<option value="staff" selected>' in html and 'value="not-an-email"' in html
    assert re.search(r'<input id="invite-email" name="email" aria-invalid="true" aria-describedby="refusal"', html)
