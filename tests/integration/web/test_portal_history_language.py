"""A wallet's history and statements in the reader's language (SQLite, the root's real services): each movement's
description is its words (``core.wallets.wording``) translated by the pages' catalogue, never the ledger's English
shown as it is; English reads as before, and the API's JSON keeps the ledger's English."""

from __future__ import annotations

import io

import pypdf
from cryptopay.core.money import KES, Money

from tests.integration.http.test_http_wallet import WalletApi
from tests.integration.web.test_portal_pages import _sign_up, api  # noqa: F401  (the fixture)

SWAHILI = {"Accept-Language": "sw-KE"}


def _sent(api: WalletApi) -> tuple[str, str]:  # noqa: F811
    """Amina (logged in to the portal) funded and tier 1, who sent Baraka KES 250: her id and the transfer's."""
    api.sign_up("0712000002")
    _sign_up(api)
    amina = api.services.users.by_phone("254712000001").id
    api.fund(amina, "1000")
    api.tier_1(amina)
    sent = api.services.wallets.send(amina, "0712000002", Money.of("250", KES))
    return amina, sent.id


def _pdf_text(data: bytes) -> str:
    """The PDF's text (a table's cell wraps its words onto lines of their own)."""
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_the_history_says_each_movement_in_the_reader_s_language(api: WalletApi) -> None:  # noqa: F811
    """In Swahili the history's line for a transfer reads "Uhamisho / uhamisho trf_..." (no English line marked
    ``lang="en"``); in English it reads as the ledger writes it."""
    _, transfer = _sent(api)
    english = api.client.get("/app/history").get_data(as_text=True)
    assert f"<small>transfer {transfer}</small>" in english
    swahili = api.client.get("/app/history", headers=SWAHILI).get_data(as_text=True)
    assert f"<small>uhamisho {transfer}</small>" in swahili and "Uhamisho<br>" in swahili
    where = swahili.find(f"transfer {transfer}")
    assert where == -1, swahili[where - 300 : where + 100]
    assert 'lang="en"' not in swahili.split("<tbody>")[1].split("</tbody>")[0]
    home = api.client.get("/app/", headers=SWAHILI).get_data(as_text=True)  # the home page's recent lines too
    assert f"uhamisho {transfer}" in home


def test_a_statement_is_in_the_language_the_user_chose(api: WalletApi) -> None:  # noqa: F811
    """The CSV's descriptions and the PDF follow the user's language (the switch's cookie, else the browser's):
    Swahili words in Swahili, the ledger's English in English; the CSV's header, kinds and figures stay the API's."""
    _, transfer = _sent(api)
    month = api.services.clock.now().strftime("%Y-%m")
    english = api.client.get(f"/app/statement?month={month}").get_data(as_text=True)
    assert english.splitlines()[0] == "date,asset,amount,balance_after,kind,description,reference"
    assert f",KES,-250.00,750.00,p2p,transfer {transfer},{transfer}" in english
    swahili = api.client.get(f"/app/statement?month={month}", headers=SWAHILI).get_data(as_text=True)
    assert swahili.splitlines()[0] == english.splitlines()[0]
    assert f",KES,-250.00,750.00,p2p,uhamisho {transfer},{transfer}" in swahili
    api.client.get("/lang/sw")  # the language switch: its cookie wins over the browser's English
    chosen = api.client.get(f"/app/statement?month={month}", headers={"Accept-Language": "en"})
    assert f"uhamisho {transfer}" in chosen.get_data(as_text=True)
    pdf = api.client.get(f"/app/statement?month={month}&format=pdf", headers={"Accept-Language": "en"})
    text = _pdf_text(pdf.data)
    assert "Taarifa ya pochi" in text and "uhamisho\ntrf_" in text and "transfer" not in text and "1,000.00" in text
    api.client.get("/lang/en")
    assert "transfer\ntrf_" in _pdf_text(api.client.get(f"/app/statement?month={month}&format=pdf").data)
    api.client.delete_cookie("cp_lang")  # a script with a bearer token: its Accept-Language says the language
    headers = api.login("0712000001")
    through_api = api.client.get(f"/v1/wallet/statements/{month}", headers={**headers, **SWAHILI})
    assert f"uhamisho {transfer}" in through_api.get_data(as_text=True)
    history = api.client.get("/v1/wallet/history", headers={**headers, **SWAHILI}).get_json()
    assert [line["description"] for line in history if line["kind"] == "p2p"] == [f"transfer {transfer}"]
