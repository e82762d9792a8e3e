"""A wallet's history and statements in the reader's language (SQLite, the root's real services): each movement's
description is its words (``core.wallets.wording``) translated by the pages' catalogue, never the ledger's English
shown as it is; English reads as before, and the API's JSON keeps the ledger's English."""

from __future__ import annotations

import io

import pypdf
from cryptopay.core.money import KES, Money

from tests.integration.http.test_http_wallet import WalletApi
from tests.integration.web.test_portal_pages import _sign_up, api, bills_api  # noqa: F401  (the fixtures)

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


def test_a_sale_s_statement_line_says_what_m_pesa_sent_and_its_charge_in_each_language(bills_api: WalletApi) -> None:  # noqa: F811
    """Review12 R12-2 with the wallet demo's figures: KES 1,430.00 cashed out (the demo's sale after its cents);
    M-Pesa sends 1,425.00 (its SMS's figure) and the wallet pays a KES 5.00 charge. The history, the CSV and the PDF
    say both, in English (the API's words) and in Swahili; the line's amount stays the 1,430.00 that left the wallet."""
    api = bills_api  # noqa: F811  (the stack whose M-Pesa answers payouts: the sandbox's fake)
    _sign_up(api)
    amina = api.services.users.by_phone("254712000001").id
    api.tier_1(amina)
    api.fund(amina, "1430.61")
    sale = api.services.wallet_sells.cash_out(amina, Money.of("1430", KES))
    api.services.payouts.submit_payouts()
    delivered, api.mpesa.outbox[:] = list(api.mpesa.outbox), []
    for delivery in delivered:
        api.client.post(delivery.url.removeprefix("https://pay.example.com"), json=delivery.payload)
    english = f"sale {sale.id}: 1425.00 KES sent to your M-Pesa number, M-Pesa charge 5.00 KES"
    headers = api.login("0712000001")
    history = api.client.get("/v1/wallet/history?kind=sell&asset=KES", headers={**headers, **SWAHILI}).get_json()
    paid = [line for line in history if line["amount"]["amount"] == "-1430.00"]
    assert [line["description"] for line in paid] == [english], history
    month = api.services.clock.now().strftime("%Y-%m")
    csv_english = api.client.get(f"/v1/wallet/statements/{month}", headers=headers).get_data(as_text=True)
    assert f',KES,-1430.00,0.61,sell,"{english}",' in csv_english, csv_english
    csv_swahili = api.client.get(f"/v1/wallet/statements/{month}", headers={**headers, **SWAHILI})
    told = csv_swahili.get_data(as_text=True)
    # a CSV's amounts in words stay as plain as its figures, in any language
    assert f"mauzo {sale.id}: 1425.00 KES yametumwa kwa nambari yako ya M-Pesa, ada ya M-Pesa 5.00 KES" in told, told
    pdf = _pdf_text(api.client.get(f"/v1/wallet/statements/{month}?format=pdf", headers=headers).data)
    flat = " ".join(pdf.split())
    assert "1,425.00 sent to your M-Pesa number, M-Pesa charge" in flat and "5.00" in flat, pdf
    assert "paid to your M-Pesa number" not in flat
    swahili_pdf = _pdf_text(
        api.client.get(f"/v1/wallet/statements/{month}?format=pdf", headers={**headers, **SWAHILI}).data
    )
    flat = " ".join(swahili_pdf.split())
    assert "1,425.00 yametumwa kwa nambari yako ya M-Pesa, ada ya M-Pesa" in flat, swahili_pdf
    page = api.client.get("/app/history", headers=SWAHILI).get_data(as_text=True)
    assert "1,425.00 yametumwa kwa nambari yako ya M-Pesa, ada ya M-Pesa KES" in " ".join(page.split()), page
