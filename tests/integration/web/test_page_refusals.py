"""A form's refusal in the page's language and tied to its field (``pages.refusals``): the core's messages are
English and carry figures, so a Swahili page shows a Swahili sentence for the error's code with the English words
below (``lang="en"``), and the input the refusal is about points at it (``aria-describedby``), keeping its value."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptopay.core.errors import InvalidAmount, LimitExceeded
from cryptopay_http.pages.i18n import LANG_COOKIE
from cryptopay_http.pages.refusals import refusal

from tests.integration.http.test_http_wallet import WalletApi, _api
from tests.integration.web.test_portal_pages import _post, _sign_up, _tier_1_with_kes_5000
from tests.support.sql_backends import migrated_sqlite


@pytest.fixture
def api(tmp_path: Path) -> Iterator[WalletApi]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": "https://pay.example.com"}
    migrated_sqlite(env)
    yield from _api(env, tmp_path)


def _field(html: str, name: str) -> str:
    found = re.search(rf'<input id="{name}"[^>]*>', html)
    assert found, html
    return found.group(0)


def test_a_refusal_on_a_swahili_page_is_swahili_with_the_english_words_below(api: WalletApi):
    """A send of "abc" on a Swahili page: a Swahili sentence, the core's English message marked ``lang="en"``, the
    amount input invalid and described by the message, and what was typed still in the form."""
    client = _sign_up(api)
    client.set_cookie(LANG_COOKIE, "sw")
    refused = _post(client, "/app/send", "/app/send/check", to="0712999999", amount="abc", asset="KES")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Angalia kiasi: andika nambari kama 1500." in html
    assert re.search(r'<small lang="en">[^<]*such as 1500</small>', html), html
    amount = _field(html, "amount")
    assert 'aria-invalid="true"' in amount and 'aria-describedby="refusal"' in amount and 'value="abc"' in amount
    assert 'id="refusal"' in html and "aria-invalid" not in _field(html, "to")


def test_the_english_page_keeps_the_core_s_own_message(api: WalletApi):
    """In English the message is the core's, with no second line, and still tied to its field."""
    client = _sign_up(api)
    refused = _post(client, "/app/buy", "/app/buy/quote", kes="0")
    html = refused.get_data(as_text=True)
    assert "the amount must be positive" in html and '<small lang="en">' not in html
    assert 'aria-describedby="refusal"' in _field(html, "kes")


def test_a_limit_is_named_in_swahili_and_tied_to_the_amount(api: WalletApi):
    """A KYC limit on a Swahili page: "Kikomo kimefikiwa" with its period in Swahili, on the amount field."""
    client, _user = _tier_1_with_kes_5000(api)
    client.set_cookie(LANG_COOKIE, "sw")
    # the check refuses it, before any confirmation (webpass2: the check runs the send's own checks)
    refused = _post(client, "/app/send", "/app/send/check", to="0712999999", amount="80,000", asset="KES")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "Kikomo kimefikiwa: malipo moja" in html, html
    assert "Hiki kinazidi kikomo chako." in html and 'aria-describedby="refusal"' in _field(html, "amount")


def test_the_portal_login_s_own_refusal_is_translated_and_on_the_password(api: WalletApi):
    """A wrong password on the Swahili login page: the page's own sentence in Swahili, on the password field."""
    _sign_up(api)
    fresh = api.client.application.test_client()
    fresh.set_cookie(LANG_COOKIE, "sw")
    wrong = _post(fresh, "/app/login", "/app/login", phone="0712000001", password="not the password at all")
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 401 and "nambari ya simu au nenosiri si sahihi" in html
    assert 'aria-describedby="refusal"' in _field(html, "password") and 'value="0712000001"' in _field(html, "phone")


def test_refusal_translates_a_limit_s_period_only_off_english():
    """The limit's own name in English (support reads it), its period in Swahili; a field named by the error."""
    with_limit = LimitExceeded("KES 80,000.00 is above the single-movement limit", limit="withdraw.single")
    assert refusal(with_limit, "en")["limit"] == "withdraw.single"
    assert refusal(InvalidAmount("no", field="kes"), "en")["error_field"] == "kes"
    assert refusal(with_limit, "en")["error_field"] == "amount"


def test_an_error_page_speaks_the_page_s_language_and_leads_back(api: WalletApi):
    """A statement for a month that is no month: the error page in Swahili (the core's words below), a link back to
    the portal's home, and the brand link goes there too (not to the merchants' dashboard)."""
    client = _sign_up(api)
    client.set_cookie(LANG_COOKIE, "sw")
    answer = client.get("/app/statement?month=13-2026")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "Angalia ulichoandika kisha ujaribu tena." in html
    assert re.search(r'<small lang="en">a statement month is written YYYY-MM', html), html
    assert '<a href="/app/">Rudi mwanzo</a>' in html and '<a class="brand" href="/app/">' in html


def test_the_history_names_each_movement_s_kind_in_swahili(api: WalletApi):
    """A send shows in the history as "Uhamisho" on a Swahili page, its description in Swahili beside it (the
    ledger's English shown marked ``lang="en"`` before webpolish)."""
    client, _user = _tier_1_with_kes_5000(api)
    checked = _post(client, "/app/send", "/app/send/check", to="0712999999", amount="100", asset="KES")
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', checked.get_data(as_text=True)))
    assert client.post("/app/send", data=hidden).status_code == 303
    client.set_cookie(LANG_COOKIE, "sw")
    html = client.get("/app/history").get_data(as_text=True)
    assert re.search(r"<td>Uhamisho<br><small>uhamisho trf_\w+</small></td>", html), html


def test_a_limit_without_a_name_is_the_payment_s_range_not_the_user_s_limit():
    """M-Pesa's per-payment range (a ``LimitExceeded`` naming no limit) is not called "your limit" in Swahili."""
    stk = LimitExceeded("STK Push moves KES 1 to 250,000 a transaction; KES 500,000 is above the maximum")
    shown = refusal(stk, "sw")
    assert shown["error"] == "Kiasi kiko nje ya kiwango kinachoruhusiwa kwa malipo moja."
    assert shown["error_detail"] == stk.message and shown["limit"] is None


def test_a_malformed_amount_says_so_whatever_the_error_s_kind():
    """An ``InvalidInput`` on an amount field reads as the amount's sentence, not the general one."""
    from cryptopay.core.errors import InvalidInput

    shown = refusal(InvalidInput("enter an amount such as 5000 or 12.50", field="amount"), "sw")
    assert shown["error"] == "Angalia kiasi: andika nambari kama 1500." and shown["error_field"] == "amount"


def test_a_compliance_freeze_reads_in_swahili_without_naming_compliance():
    """The neutral refusal a compliance freeze gives its subject (review 3, I15) has its own Swahili sentence, which
    says no more than the English one: no party, no compliance."""
    from cryptopay.core.errors import MOVEMENT_UNAVAILABLE, MovementUnavailable

    shown = refusal(MovementUnavailable(MOVEMENT_UNAVAILABLE), "sw")
    assert shown["error"] == "Hili haliwezi kufanyika kwenye akaunti hii kwa sasa: wasiliana na huduma kwa wateja."
    assert shown["error_detail"] == MOVEMENT_UNAVAILABLE and "complian" not in str(shown).lower()


def test_every_four_eyes_refusal_has_a_swahili_sentence():
    """Reader1 L-1: a four-eyes refusal's message names ids and times, so no catalogue entry matches it; each code
    (same officer, related officers, cooling off) has its own sentence, shown in Swahili with the English below."""
    from cryptopay.core.compliance.four_eyes import FourEyesRefused

    kinds = [FourEyesRefused, *FourEyesRefused.__subclasses__()]
    assert {k.code for k in kinds} >= {"same_officer", "related_officers", "officer_cooling_off"}
    for kind in kinds:
        shown = refusal(kind("you and user:usr_1 were made staff by user:usr_0 at 2026-12-07T10:00:00+00:00"), "sw")
        assert shown["error_detail"] is not None and shown["error"] != shown["error_detail"], kind.code
