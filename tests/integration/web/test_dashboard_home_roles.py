"""Outside review 4, R10: the dashboard's home shows the balance due and the payouts only to a role that may read
them (as ``GET /v1/payouts`` and ``/dashboard/settlements`` decide): owner, admin and finance see them, staff does not.
"""

from __future__ import annotations

import pytest

from tests.integration.http.http_support import bearer
from tests.integration.http.test_http_teams import join
from tests.integration.http_review.test_outside_review_dashboard import _page_login as page_login
from tests.integration.web.test_dashboard_pages import EMAIL
from tests.integration.web.test_dashboard_pages import owner as owner

MONEY = ("Due to settle", "Latest payouts")


@pytest.mark.parametrize(
    ("role", "sees_money"), [("owner", True), ("admin", True), ("finance", True), ("staff", False)]
)
def test_the_home_page_shows_money_only_to_roles_that_read_payouts(
    app, client, auth, services, owner, role, sees_money
):
    owner_headers = bearer(auth.login(EMAIL)["access_token"])
    email = EMAIL
    if role != "owner":
        email = f"{role}@duka.example"
        member = join(client, auth, services, owner_headers, email, role)
        expected = 200 if sees_money else 403
        assert client.get("/v1/payouts", headers=member).status_code == expected  # the API's decision
    browser = app.test_client()
    page_login(browser, email)
    home = browser.get("/dashboard/")
    assert home.status_code == 200, home.text
    assert "Waiting for payment" in home.text and "Paid today" in home.text
    for heading in MONEY:
        assert (heading in home.text) is sees_money, (role, heading)
    assert (browser.get("/dashboard/settlements").status_code == 200) is sees_money
