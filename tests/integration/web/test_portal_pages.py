"""The customer portal ``/app`` on the root's real SQL services (SQLite): sign-up by phone and SMS code, login,
balances and history, sending to a phone (a KYC limit refuses by its name), buying USDT with M-Pesa (quote, STK
Push, the status fragment until the callback credits or fails with its reason). CSRF on every form.

The one-time code is read from the development SMS file, as a person reads it from their phone; M-Pesa and the price
source are the same in-memory fakes as the wallet API's tests (``tests/integration/http/test_http_wallet.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptopay.adapters.sms.file import FileSms
from cryptopay.core.fees import FeeBook, FeeProduct, FeeSchedule
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.testing.system import ManualClock
from cryptopay.core.wallets.quotes import QuotePurpose
from flask.testing import FlaskClient

from tests.integration.http.http_support import PASSWORD
from tests.integration.http.test_http_wallet import WalletApi, _api, answer_last_prompt, in_one_window
from tests.support.sql_backends import migrated_sqlite


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[WalletApi]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": "https://pay.example.com"}
    migrated_sqlite(env)
    yield from _api(env, tmp_path)


def _hidden(html: str) -> dict[str, str]:
    """The form's hidden fields (the CSRF token, a money form's idempotency key, a quote id)."""
    return dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', html))


def _confirmation(html: str) -> dict[str, str]:
    """A send's or a bill's confirmation form as the person fills it: its hidden fields, and the password when the
    form asks for one (a send or bill past the day's step-up allowance, review5 S4)."""
    return _hidden(html) | ({"password": PASSWORD} if 'name="password"' in html else {})


def _post(client: FlaskClient, form_path: str, action: str, **data: str):
    html = client.get(form_path).get_data(as_text=True)
    return client.post(action, data={**_hidden(html), "csrf_token": _csrf(html), **data})


def _check_send(client: FlaskClient, **data: str):
    """The send form's first post: checked and shown with its confirmation form, nothing moved."""
    return _post(client, "/app/send", "/app/send/check", **data)


def _send(client: FlaskClient, **data: str):
    """Check a send, then confirm it with the confirmation form's fields (its idempotency key among them)."""
    checked = _check_send(client, **data)
    assert checked.status_code == 200, checked.get_data(as_text=True)
    return client.post("/app/send", data=_confirmation(checked.get_data(as_text=True)))


def _sign_up(api: WalletApi, phone: str = "0712 000 001", **extra: str) -> FlaskClient:
    client = api.client
    started = _post(client, "/app/signup", "/app/signup", phone=phone)
    assert started.status_code == 303, started.get_data(as_text=True)
    path = started.headers["Location"]
    wire = "254" + re.sub(r"\D", "", phone)[-9:]
    done = _post(client, path, path, code=api.code(wire), password=PASSWORD, **extra)
    assert done.status_code == 303 and done.headers["Location"] == "/app/?welcome=1", done.get_data(as_text=True)
    return client


def _tier_1_with_kes_5000(api: WalletApi) -> tuple[FlaskClient, str]:
    """A signed-up portal user (0712000001) at tier 1 holding KES 5,000: the logged-in client and the user's id."""
    client = _sign_up(api)
    user_id = api.services.users.by_phone("254712000001").id
    api.fund(user_id, "5000")
    api.tier_1(user_id)
    return client, user_id


def test_sign_up_by_phone_lands_on_home_with_three_balances(api: WalletApi):
    """Phone, SMS code and a password open the wallet and log in: home shows KES, USDT and BTC and no history."""
    client = _sign_up(api, username="amina")
    home = client.get("/app/?welcome=1")
    html = home.get_data(as_text=True)
    assert home.status_code == 200 and "+254 712 000 001" in html and "@amina" in html
    for balance in ("KES 0.00", "USDT 0", "BTC 0"):
        assert balance in html, balance
    assert client.get("/app/history").status_code == 200


def test_sign_up_refusals_a_wrong_code_and_a_number_that_has_an_account(api: WalletApi):
    """A wrong code is refused on the code form (403) and creates nothing; a number with an account gets the same
    answer as any other (no oracle of who is a customer), and its owner a text instead of a code."""
    started = _post(api.client, "/app/signup", "/app/signup", phone="0712000002")
    path = started.headers["Location"]
    right = api.code("254712000002")
    wrong = "000000" if right != "000000" else "111111"
    refused = _post(api.client, path, path, code=wrong, password=PASSWORD)
    assert refused.status_code == 403 and "the code is wrong" in refused.get_data(as_text=True)
    assert api.client.get("/app/").status_code == 303  # not logged in
    assert _post(api.client, path, path, code=right, password=PASSWORD).status_code == 303
    fresh = api.client.application.test_client()  # another browser: the same number again
    again = _post(fresh, "/app/signup", "/app/signup", phone="0712000002")
    assert again.status_code == started.status_code == 303 and again.headers["Location"] != path
    texts = [m.text for m in FileSms(api.sms_file).read() if m.to == "254712000002"]
    assert "already has one" in texts[-1] and not re.search(r"\d{6}", texts[-1])  # the owner told, no new code


def test_every_form_needs_its_csrf_token_and_pages_need_a_login(api: WalletApi):
    """A post without the form's token is refused before anything happens; pages send visitors to the login."""
    assert api.client.post("/app/signup", data={"phone": "0712000003"}).status_code == 403
    assert not api.sms_file.exists() or "254712000003" not in api.sms_file.read_text()
    for path in ("/app/", "/app/send", "/app/buy", "/app/history"):
        answer = api.client.get(path)
        assert answer.status_code == 303 and answer.headers["Location"].startswith("/app/login?next="), path


def test_log_out_and_log_in_by_phone(api: WalletApi):
    """Log out ends the session; the phone number and password log in again; a wrong password is refused."""
    client = _sign_up(api)
    token = _csrf(client.get("/app/").get_data(as_text=True))
    assert client.post("/app/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/app/").status_code == 303
    wrong = _post(client, "/app/login", "/app/login", phone="0712000001", password="not the password at all")
    assert wrong.status_code == 401 and "wrong" in wrong.get_data(as_text=True)
    right = _post(client, "/app/login", "/app/login", phone="+254712000001", password=PASSWORD)
    assert right.status_code == 303 and client.get("/app/").status_code == 200


def test_send_is_refused_by_the_limit_s_name_at_tier_0_and_moves_money_at_tier_1(api: WalletApi):
    """Tier 0 may not send: the check already refuses it (no confirmation shown), naming the limit on the amount
    field, and nothing moves; at tier 1 the money arrives."""
    client = _sign_up(api)
    user_id = api.services.users.by_phone("254712000001").id
    api.fund(user_id, "5000")
    refused = _check_send(client, to="0712999999", amount="1,000", asset="KES")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422, refused.status_code
    assert "Limit reached: p2p" in html and 'value="0712999999"' in html and 'action="/app/send"' not in html
    assert re.search(r'<input[^>]*id="amount"[^>]*aria-invalid="true"', html), html
    assert "KES 5,000.00" in client.get("/app/").get_data(as_text=True)
    api.tier_1(user_id)
    sent = _send(client, to="0712999999", amount="1,000", asset="KES", note="rent")
    assert sent.status_code == 303, sent.get_data(as_text=True)
    receipt = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "KES 1,000.00" in receipt and "2547******99" in receipt and "254712999999" not in receipt
    home = client.get("/app/").get_data(as_text=True)
    assert "KES 4,000.00" in home
    assert "KES -1,000.00" in client.get("/app/history").get_data(as_text=True)


def test_the_send_check_refuses_what_the_confirm_would_a_short_balance_and_a_limit(api: WalletApi):
    """A send that cannot happen gets no confirmation: over what the recipient may receive, more than the wallet
    holds (the posting's own words: what is available, what it needs), over the sender's limit (its name and
    figure; before the balance, as in the send), each refused at the check on the amount field; nothing moves, and
    what can happen is still shown for confirming. The balance comes before the recipient's rules (review6 F6): a
    wallet that cannot pay is told so whoever holds the number."""
    client, user_id = _tier_1_with_kes_5000(api)
    unverified = _check_send(client, to="0712999999", amount="6,000", asset="KES")  # no wallet: an invitation's cap
    assert unverified.status_code == 422 and "not enough KES" in unverified.get_data(as_text=True)
    api.sign_up("0712000002")
    api.tier_1(api.services.users.by_phone("254712000002").id)
    short = _check_send(client, to="0712000002", amount="6,000", asset="KES")
    html = short.get_data(as_text=True)
    assert (
        short.status_code == 422
        and "not enough KES: the available balance is 5000.00 KES; this needs 6000.00 KES" in html
    )
    assert re.search(r'<input[^>]*id="amount"[^>]*aria-invalid="true"', html) and 'action="/app/send"' not in html
    over = _check_send(client, to="0712000002", amount="9,000,000", asset="KES")
    page = over.get_data(as_text=True)
    assert over.status_code == 422 and "Limit reached: single" in page and "KES 70,000.00" in page, page
    assert re.search(r'<input[^>]*id="amount"[^>]*aria-invalid="true"', page)
    api.fund(user_id, "1000", key=":more")  # now it can pay: the invitation's cap refuses it
    unverified = _check_send(client, to="0712999999", amount="6,000", asset="KES")
    assert unverified.status_code == 422 and "Limit reached: recipient" in unverified.get_data(as_text=True)
    assert api.services.wallets.transfers(user_id) == []
    assert _check_send(client, to="0712000002", amount="5,000", asset="KES").status_code == 200


def test_a_decimal_comma_on_send_is_refused_and_moves_nothing(api: WalletApi):
    """Review G2: "10,50" KES was read as 1,050 and sent at once. A comma only groups thousands by three: "10,50"
    re-shows the form (422, use a dot) with nothing moved; "1,050" is one thousand and fifty."""
    client, _ = _tier_1_with_kes_5000(api)
    for typed in ("10,50", "0,5", "1,,000", ",5"):
        refused = _check_send(client, to="0712999999", amount=typed, asset="KES")
        html = refused.get_data(as_text=True)
        assert refused.status_code == 422 and "use a dot for decimals" in html, (typed, refused.status_code)
    assert "KES 5,000.00" in client.get("/app/").get_data(as_text=True)
    sent = _send(client, to="0712999999", amount="1,050", asset="KES")
    assert sent.status_code == 303, sent.get_data(as_text=True)
    assert "KES 3,950.00" in client.get("/app/").get_data(as_text=True)


def test_a_double_press_on_send_moves_the_money_once(api: WalletApi):
    """The confirmation form's idempotency key: the same post twice replays the first redirect; a form without a
    key is 400."""
    client, _ = _tier_1_with_kes_5000(api)
    html = _check_send(client, to="0712999999", amount="700", asset="KES").get_data(as_text=True)
    assert 'name="password"' not in html  # within the day's step-up allowance: no password asked (review5 S4)
    body = _confirmation(html)
    assert body["idempotency_key"] and body["to"] == "0712999999" and body["amount"] == "700", body
    first, second = client.post("/app/send", data=body), client.post("/app/send", data=body)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert "KES 4,300.00" in client.get("/app/").get_data(as_text=True)
    keyless = {k: v for k, v in body.items() if k != "idempotency_key"}
    assert client.post("/app/send", data=keyless).status_code == 400
    assert "KES 4,300.00" in client.get("/app/").get_data(as_text=True)


def test_the_send_check_answers_a_frozen_tier_0_recipient_as_an_unfrozen_one(api: WalletApi):
    """Review7 F1: ``/app/send/check`` (moves nothing) showed "Check before you confirm" for KES 6,000 to a frozen
    tier-0 wallet and "Limit reached" once it was unfrozen: a free freeze probe. Now the page is the same frozen or
    not (a 422 for KES 6,000, the confirmation for KES 3,000), whoever froze it."""
    from cryptopay.core.kyc import PartyKind

    dedan = api.sign_up("0712000004")["user"]["id"]
    client = _sign_up(api)
    amina = api.services.users.by_phone("254712000001").id
    api.fund(amina, "10000")
    api.tier_1(amina)

    def checked() -> list[tuple[int, str]]:
        pages = [_check_send(client, to="0712000004", amount=amount, asset="KES") for amount in ("6000", "3000")]
        return [(p.status_code, re.sub(r'value="[^"]*"', "", p.get_data(as_text=True))) for p in pages]

    unfrozen = checked()
    assert [status for status, _ in unfrozen] == [422, 200]
    assert "cannot receive this amount now" in unfrozen[0][1] and "Check before you confirm" in unfrozen[1][1]
    api.services.kyc_review.freeze("usr_officer", dedan, PartyKind.PERSONAL, "STR 20 filed")
    assert checked() == unfrozen
    api.services.wallets.freeze(dedan, reason="reported stolen phone", actor="admin:ops")
    assert checked() == unfrozen
    assert api.services.wallets.transfers(amina) == []


def test_send_refuses_a_bad_amount_without_moving_anything(api: WalletApi):
    """An amount that is not a number is refused on the form, which keeps what was typed."""
    client = _sign_up(api)
    refused = _check_send(client, to="0712999999", amount="lots", asset="KES")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "enter an amount" in html and 'value="lots"' in html


def test_the_first_send_post_moves_nothing_and_shows_who_receives_the_amount_and_the_fee(api: WalletApi):
    """The send form only checks: the confirmation shows the number masked (or the @username typed), the amount,
    the fee and the total, with a Confirm button; the money moves when that form is posted, not before."""
    client, user_id = _tier_1_with_kes_5000(api)
    form = client.get("/app/send").get_data(as_text=True)
    assert 'action="/app/send/check"' in form and 'name="idempotency_key"' not in form
    checked = _check_send(client, to="0712 999 999", amount="1,200", asset="KES", note="rent")
    html = checked.get_data(as_text=True)
    assert checked.status_code == 200 and "Check before you confirm" in html, html
    assert "2547******99" in html and "254712999999" not in html.replace('value="0712 999 999"', "")
    assert html.count("KES 1,200.00") == 2 and "KES 0.00" in html and "rent" in html  # arrives, total; the fee
    assert 'action="/app/send"' in html and "Confirm and send" in html and "autofocus" in html
    assert "KES 5,000.00" in client.get("/app/").get_data(as_text=True)  # nothing moved
    assert api.services.wallets.transfers(user_id) == []
    # past the day's KES 1,000 step-up allowance (review5 S4): the confirmation asks for the password, and
    # without it nothing moves
    assert 'name="password"' in html and 'name="code"' in html
    unconfirmed = client.post("/app/send", data=_hidden(html))
    assert unconfirmed.status_code == 422 and api.services.wallets.transfers(user_id) == []
    sent = client.post("/app/send", data=_confirmation(html))
    assert sent.status_code == 303 and sent.headers["Location"].startswith("/app/sent/")
    assert "KES 3,800.00" in client.get("/app/").get_data(as_text=True)


def test_a_fee_raised_between_the_check_and_the_confirm_is_refused_and_moves_nothing(api: WalletApi):
    """The confirmation carries the fee it showed: a P2P fee schedule raised in between re-shows the form with a
    409 saying the new fee, and nothing moves."""
    client, user_id = _tier_1_with_kes_5000(api)
    html = _check_send(client, to="0712999999", amount="700", asset="KES").get_data(as_text=True)
    assert _hidden(html)["fee"] == "0.00"
    since = datetime(2020, 1, 1, tzinfo=UTC)
    raised = FeeSchedule(product=FeeProduct.P2P, asset=KES, version=1, effective_from=since, fixed=Money.of("5", KES))
    api.services.wallets.fees = FeeBook((raised,))
    refused = client.post("/app/send", data=_confirmation(html))
    assert refused.status_code == 409 and "5.00 KES now" in refused.get_data(as_text=True)
    assert "KES 5,000.00" in client.get("/app/").get_data(as_text=True)
    assert api.services.wallets.transfers(user_id) == []


@pytest.mark.parametrize("fee", [None, "", "  ", "lots", "-1", "0.001"])
def test_a_confirm_without_the_fee_it_showed_moves_nothing_and_goes_back_to_the_check(api: WalletApi, fee: str | None):
    """A confirmation posted with the ``fee`` field missing, blank or not a fee of the asset never sends unguarded,
    even after the fee was raised: a 422 ``fee_not_shown`` shows the send form again, filled in, and nothing moves."""
    client, user_id = _tier_1_with_kes_5000(api)
    html = _check_send(client, to="0712999999", amount="700", asset="KES").get_data(as_text=True)
    since = datetime(2020, 1, 1, tzinfo=UTC)
    raised = FeeSchedule(product=FeeProduct.P2P, asset=KES, version=1, effective_from=since, fixed=Money.of("5", KES))
    api.services.wallets.fees = FeeBook((raised,))
    confirm = {k: v for k, v in _confirmation(html).items() if k != "fee"} | ({} if fee is None else {"fee": fee})
    refused = client.post("/app/send", data=confirm)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "does not carry the fee you were shown" in page, page
    assert 'action="/app/send/check"' in page and 'value="700"' in page and 'action="/app/send"' not in page
    assert "KES 5,000.00" in client.get("/app/").get_data(as_text=True)
    assert api.services.wallets.transfers(user_id) == []
    checked = _confirmation(_check_send(client, to="0712999999", amount="700", asset="KES").get_data(as_text=True))
    assert checked["fee"] == "5.00" and client.post("/app/send", data=checked).status_code == 303  # checked again


def test_the_send_check_names_a_username_and_refuses_an_unknown_one_and_oneself(api: WalletApi):
    """A username is shown as typed (no phone behind it), and the receipt after the send masks the number; a
    username nobody has, and one's own number or username, are refused at the check, on the form with what was
    typed."""
    api.sign_up("0712000002", username="baraka")
    client = _sign_up(api, username="amina")
    user_id = api.services.users.by_phone("254712000001").id
    api.fund(user_id, "5000")
    api.tier_1(user_id)  # tier 0 may not send: the check would refuse it (the limit)
    shown = _check_send(client, to="@baraka", amount="10", asset="KES").get_data(as_text=True)
    assert "@baraka" in shown and "2547" not in shown.split("<main")[-1], shown
    unknown = _check_send(client, to="nobody_here", amount="10", asset="KES")
    assert unknown.status_code == 404 and "nobody has the username" in unknown.get_data(as_text=True)
    for me in ("0712000001", "amina"):
        refused = _check_send(client, to=me, amount="50", asset="KES")
        html = refused.get_data(as_text=True)
        assert refused.status_code == 422 and "cannot send to yourself" in html and f'value="{me}"' in html, me
    assert "KES 5,000.00" in client.get("/app/").get_data(as_text=True)
    sent = client.post("/app/send", data=_confirmation(shown))  # the receipt masks the number too
    receipt = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert sent.status_code == 303 and "2547******02" in receipt and "712000002" not in receipt, receipt


def _buy(api: WalletApi, client: FlaskClient, kes: str = "1000") -> str:
    shown = _post(client, "/app/buy", "/app/buy/quote", kes=kes)
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "USDT" in html and "Pay with M-Pesa" in html
    assert re.search(r'<p class="figure">USDT [0-9.]+</p>', html), html  # the code first, as every amount
    fields = _hidden(html)
    assert fields["quote_id"] and fields["idempotency_key"]
    started = client.post("/app/buy", data=fields)
    assert started.status_code == 303, started.get_data(as_text=True)
    return str(started.headers["Location"])


def test_buy_usdt_quote_stk_push_and_the_status_fragment_until_credited(api: WalletApi):
    """Enter KES, see the quote, pay: the page polls its fragment (htmx) until M-Pesa's callback credits the USDT."""
    client = _sign_up(api)
    path = _buy(api, client)
    page = client.get(path).get_data(as_text=True)
    assert "Approve the M-Pesa prompt on your phone" in page and f'hx-get="{path}/status"' in page
    polled = client.get(f"{path}/status", headers={"HX-Request": "true"})
    assert polled.status_code == 200  # still open: htmx keeps polling
    (delivery,) = api.mpesa.outbox
    client.post(delivery.url.removeprefix("https://pay.example.com"), json=delivery.payload)
    done = client.get(f"{path}/status", headers={"HX-Request": "true"})
    assert done.status_code == 286 and "The USDT is in your wallet" in done.get_data(as_text=True)
    assert "hx-get" not in client.get(path).get_data(as_text=True)
    assert "KES 0.00" in client.get("/app/").get_data(as_text=True)
    assert "USDT 0" not in client.get("/app/").get_data(as_text=True)


def test_a_cancelled_prompt_shows_the_reason_and_a_bad_amount_is_refused(api: WalletApi):
    """The customer cancels on the phone (1032): the fragment says why; KES 10.50 never reaches M-Pesa."""
    client = _sign_up(api, phone="0711000001")
    path = _buy(api, client, "500")
    (delivery,) = api.mpesa.outbox
    client.post(delivery.url.removeprefix("https://pay.example.com"), json=delivery.payload)
    failed = client.get(f"{path}/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "did not go through" in failed and "you cancelled the M-Pesa prompt" in failed
    refused = _post(client, "/app/buy", "/app/buy/quote", kes="10.50")
    assert refused.status_code == 422 and len(api.mpesa.outbox) == 1


def test_the_portal_speaks_swahili(api: WalletApi):
    """The browser's language picks Swahili on the portal's pages."""
    page = api.client.get("/app/signup", headers={"Accept-Language": "sw-KE"})
    html = page.get_data(as_text=True)
    assert page.headers["Content-Language"] == "sw" and 'lang="sw"' in html and "Fungua pochi" in html


def test_a_merchant_cannot_use_the_portal(api: WalletApi):
    """Only personal wallets log in here."""
    assert (
        api.client.post(
            "/v1/auth/register", json={"email": "o@duka.example", "password": PASSWORD, "role": "merchant"}
        ).status_code
        == 202
    )
    refused = _post(api.client, "/app/login", "/app/login", phone="o@duka.example", password=PASSWORD)
    assert refused.status_code == 403


def test_sell_usdt_is_refused_by_name_at_tier_0_and_plans_a_payout_to_my_phone_at_tier_1(api: WalletApi):
    """See the quote at the bid, sell: tier 0 is refused by the limit's name; at tier 1 a B2C payout of whole
    shillings less M-Pesa's charge is planned to the wallet's own number, and its status fragment keeps polling."""
    from cryptopay.core.flows import wallet_account
    from cryptopay.core.ledger import Account, AccountKind
    from cryptopay.core.money import USDT, Money

    client = _sign_up(api)
    user_id = api.services.users.by_phone("254712000001").id
    inventory = Account("assets:inventory:USDT", AccountKind.ASSET, USDT, allow_negative=True)
    api.services.ledger.open_account(inventory)
    api.services.ledger.transfer(
        "u", debit=inventory.code, credit=wallet_account(user_id, USDT), amount=Money.of(10, USDT)
    )
    shown = _post(client, "/app/sell", "/app/sell/quote", usdt="10")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "KES 1,293.50" in html, html
    # what arrives and M-Pesa's charge, before selling: whole shillings, as M-Pesa pays them
    assert '<p class="figure">KES 1,288</p>' in html and "charge of KES 5:" in html
    assert '<a href="/app/sell">Change the amount</a>' in html
    refused = client.post("/app/sell", data=_hidden(html))
    assert refused.status_code == 422 and "Limit reached: sell.single" in refused.get_data(as_text=True)
    api.tier_1(user_id)
    html = _post(client, "/app/sell", "/app/sell/quote", usdt="10").get_data(as_text=True)
    sold = client.post("/app/sell", data=_hidden(html))
    assert sold.status_code == 303, sold.get_data(as_text=True)
    page = client.get(sold.headers["Location"]).get_data(as_text=True)
    assert (
        "KES 1,288 to M-Pesa +254 712 000 001" in page and "charge KES 5)" in page and "Sending to your M-Pesa" in page
    )
    polled = client.get(f"{sold.headers['Location']}/status", headers={"HX-Request": "true"})
    assert polled.status_code == 200
    assert "USDT 0" in client.get("/app/").get_data(as_text=True)


@pytest.fixture
def bills_api(tmp_path: Path) -> Iterator[WalletApi]:
    from tests.integration.http.test_http_wallet_bills import _api as bills_stack

    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": "https://pay.example.com"}
    migrated_sqlite(env)
    yield from bills_stack(env, tmp_path)


def test_pay_a_prepaid_bill_check_the_meter_pay_and_see_the_token(bills_api: WalletApi):
    """Pick KPLC prepaid, a meter typed with spaces is checked and shown as sent; paying plans the B2B payout once
    (a double press replays); after M-Pesa's result the fragment shows the token. A bad meter is refused on the form."""
    api = bills_api
    client = _sign_up(api)
    user_id = api.services.users.by_phone("254712000001").id
    api.tier_1(user_id)
    api.fund(user_id, "2000")
    bad = _post(client, "/app/bills", "/app/bills/check", biller="KPLC_PREPAID", account="123", amount="1000")
    assert bad.status_code == 422 and 'role="alert"' in bad.get_data(as_text=True)
    html = _post(
        client, "/app/bills", "/app/bills/check", biller="KPLC_PREPAID", account="0123 4567 890", amount="1000"
    ).get_data(as_text=True)
    assert "01234567890" in html and "888880" in html, html
    assert "We charge no fee" in html and '<a href="/app/bills">Change the bill</a>' in html  # no dead end
    fields = _confirmation(html)
    first, again = client.post("/app/bills", data=fields), client.post("/app/bills", data=fields)
    assert first.status_code == again.status_code == 303 and first.headers["Location"] == again.headers["Location"]
    assert api.services.wallets.balances(user_id)["KES"].amount == 1000
    path = first.headers["Location"]
    assert "Paying the bill over M-Pesa" in client.get(path).get_data(as_text=True)
    api.services.payouts.submit_payouts()
    delivered, api.mpesa.outbox[:] = list(api.mpesa.outbox), []
    for delivery in delivered:
        client.post(delivery.url.removeprefix("https://pay.example.com"), json=delivery.payload)
    done = client.get(f"{path}/status", headers={"HX-Request": "true"})
    text = done.get_data(as_text=True)
    assert done.status_code == 286 and "The bill is paid" in text and re.search(r"\b\d{20}\b", text), text


@pytest.fixture
def usdt_bills(tmp_path: Path) -> Iterator[tuple[WalletApi, ManualClock]]:
    """The bills stack with the bills' prices and quotes on a clock the test moves (sessions keep the root's)."""
    from tests.integration.http.test_http_wallet_bills import _api as bills_stack

    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": "https://pay.example.com"}
    migrated_sqlite(env)
    clock = ManualClock(datetime.now(UTC))
    # bill checks count in the wallet's pace of checks and sends too: set above the quote limit, so the tests of the
    # quote limit meet that first
    for api in bills_stack(env, tmp_path, clock, send_rate_limit=100):
        yield api, clock


def _usdt_wallet(api: WalletApi, usdt: str = "20") -> tuple[FlaskClient, str]:
    """A tier-1 user logged in to the portal with ``usdt`` USDT in the wallet."""
    from cryptopay.core.flows import wallet_account
    from cryptopay.core.ledger import Account, AccountKind

    client = _sign_up(api)
    user_id = api.services.users.by_phone("254712000001").id
    api.tier_1(user_id)
    inventory = Account("assets:inventory:USDT", AccountKind.ASSET, USDT, allow_negative=True)
    api.services.ledger.open_account(inventory)
    api.services.ledger.transfer(
        "u", debit=inventory.code, credit=wallet_account(user_id, USDT), amount=Money.of(usdt, USDT)
    )
    return client, user_id


def _check_bill(client: FlaskClient, pay_with: str):
    """The bill form's first post for the same KPLC prepaid bill of 1000 KES, paid from ``pay_with``."""
    return _post(
        client,
        "/app/bills",
        "/app/bills/check",
        biller="KPLC_PREPAID",
        account="01234567890",
        amount="1000",
        pay_with=pay_with,
    )


def _check_usdt_bill(client: FlaskClient) -> tuple[str, dict[str, str]]:
    """A bill check from USDT that succeeds: its page and its confirmation form's fields (the locked quote's)."""
    shown = _check_bill(client, "USDT")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200, html
    return html, _confirmation(html)


def test_a_bill_paid_from_usdt_shows_the_usdt_of_a_locked_quote_and_debits_exactly_that(usdt_bills):
    """Paid from USDT, the check locks a sale quote and shows the USDT it costs and until when; the confirmation
    carries the quote's id and the wallet loses exactly the USDT shown."""
    api, _ = usdt_bills
    client, user_id = _usdt_wallet(api)
    html, fields = _check_usdt_bill(client)
    shown = re.search(r"Paid with ([\d.]+) USDT at [\d.]+ KES per USDT, valid until", html)
    assert shown and fields["quote_id"] and fields["pay_with"] == "USDT", html
    paid = client.post("/app/bills", data=fields)
    assert paid.status_code == 303, paid.get_data(as_text=True)
    left = api.services.wallets.balances(user_id)["USDT"]
    assert left == Money.of("20", USDT) - Money.of(shown.group(1), USDT) and left < Money.of("20", USDT)
    again = client.post("/app/bills", data=fields)  # a double press replays the first bill
    assert again.headers["Location"] == paid.headers["Location"]
    assert api.services.wallets.balances(user_id)["USDT"] == left


def test_a_bill_confirm_with_another_user_s_quote_or_none_is_refused_and_moves_nothing(usdt_bills):
    """A quote id swapped for another user's is not found (404), one left out is ``quote_not_shown`` (422): the
    page shows the check form again, filled in, and neither wallet nor the other user's quote is touched."""
    from cryptopay.core.wallets.bills import Bills

    api, _ = usdt_bills
    other = api.sign_up("0712000002")["user"]["id"]
    client, user_id = _usdt_wallet(api)
    bills = api.services.wallet_bills
    checked = Bills.check_in(bills.catalogue, "KPLC_PREPAID", "01234567890", Money.of(1000, KES))
    theirs, _ = bills.quote(other, checked)
    _, fields = _check_usdt_bill(client)
    for tampered, status, code in (({"quote_id": theirs.id}, 404, "not_found"), ({"quote_id": ""}, 422, "")):
        refused = client.post("/app/bills", data={**fields, **tampered})
        text = refused.get_data(as_text=True)
        assert refused.status_code == status and 'role="alert"' in text, text
        assert 'action="/app/bills/check"' in text and "01234567890" in text
        if status == 422:
            assert "does not carry the quote you were shown" in text
    assert api.services.wallets.balances(user_id)["USDT"] == Money.of("20", USDT)
    assert bills.wallet_quotes.find(other, theirs.id, QuotePurpose.SELL).id == theirs.id  # still theirs, unused
    assert client.post("/app/bills", data=fields).status_code == 303  # the user's own quote still pays


def test_a_bill_confirmed_after_its_quote_expired_goes_back_to_the_check_and_moves_nothing(usdt_bills):
    """Past the quote's window the confirmation is refused by ``quote_expired``, shown on the check form, filled
    in; checking again locks a new quote, which pays."""
    api, clock = usdt_bills
    client, user_id = _usdt_wallet(api)
    _, fields = _check_usdt_bill(client)
    clock.advance(minutes=3)
    refused = client.post("/app/bills", data=fields)
    text = refused.get_data(as_text=True)
    assert refused.status_code >= 400 and 'role="alert"' in text and "expired" in text, text
    assert 'action="/app/bills/check"' in text and 'value="USDT" selected' in text
    assert api.services.wallets.balances(user_id)["USDT"] == Money.of("20", USDT)
    html = client.get("/app/bills").get_data(as_text=True)
    swahili = client.post(
        "/app/bills/check",
        data={
            **_hidden(html),
            "biller": "KPLC_PREPAID",
            "account": "01234567890",
            "amount": "1000",
            "pay_with": "USDT",
        },
        headers={"Accept-Language": "sw-KE"},
    )
    assert "Inalipwa kwa USDT" in swahili.get_data(as_text=True)  # the quote's terms in Swahili too
    _, fresh = _check_usdt_bill(client)
    assert fresh["quote_id"] != fields["quote_id"]
    assert client.post("/app/bills", data=fresh).status_code == 303


def test_the_portal_s_quote_pages_are_held_to_the_wallet_quote_limit(usdt_bills):
    """Each bill check from USDT stores a price for this wallet alone: past the wallet quote limit (a window's
    ``quote_rate_limit``, as POST /v1/wallet/quotes and the buy and sell quote pages each have) the check is
    refused with rate_limited (429) on the form and locks nothing more; a bill from KES is not counted."""
    api, _ = usdt_bills
    client, _ = _usdt_wallet(api)
    limit = api.client.application.extensions["cryptopay"].settings.quote_rate_limit
    for _ in range(limit):
        _check_usdt_bill(client)
    refused = _check_bill(client, "USDT")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 429 and 'role="alert"' in text and 'name="quote_id"' not in text, text
    kes_bill = _check_bill(client, "KES")
    assert kes_bill.status_code == 200  # a bill from KES locks no quote: not counted


def test_the_history_page_offers_the_month_s_statement_as_csv(api: WalletApi):
    """The month's statement downloads as CSV with the funding in it; a malformed month is refused."""
    client = _sign_up(api)
    user_id = api.services.users.by_phone("254712000001").id
    api.fund(user_id, "250")
    html = client.get("/app/history").get_data(as_text=True)
    month = re.search(r'name="month" type="month" required value="(\d{4}-\d{2})"', html)
    assert month, html
    csv_file = client.get(f"/app/statement?month={month.group(1)}")
    assert csv_file.status_code == 200 and csv_file.mimetype == "text/csv"
    assert "250" in csv_file.get_data(as_text=True)
    assert client.get("/app/statement?month=May").status_code == 422


def test_the_history_page_offers_the_month_s_statement_as_pdf_in_the_reader_s_language(api: WalletApi):
    """The statement downloads as a PDF whose text holds the wallet, the funding and its balance; in Swahili too."""
    import io

    import pypdf

    client = _sign_up(api, username="amina")
    user_id = api.services.users.by_phone("254712000001").id
    api.fund(user_id, "250")
    html = client.get("/app/history").get_data(as_text=True)
    assert 'name="format" value="pdf"' in html
    month = api.services.clock.now().strftime("%Y-%m")
    answer = client.get(f"/app/statement?month={month}&format=pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="cryptopay-statement-{month}.pdf"'
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(answer.data)).pages)
    assert "Wallet statement" in text and "254712000001 @amina" in text and "250.00" in text
    swahili = client.get(f"/app/statement?month={month}&format=pdf", headers={"Accept-Language": "sw"})
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(swahili.data)).pages)
    assert "Taarifa ya pochi" in text and "Salio baadaye" in text
    assert client.get("/app/statement?month=May&format=pdf").status_code == 422


def test_the_portal_and_the_api_share_one_wallets_pace_of_buys(api: WalletApi):
    """Review4 R19's pace is the wallet's, whichever way it buys: after ``buy_rate_limit`` buys over the API, the
    portal's buy form is refused 429 too, no prompt sent (each route counted on its own gave a wallet twice the pace)."""
    from cryptopay_http import ApiSettings

    api, _ = in_one_window(api)  # every buy counted in one window, whatever the real clock's minute does
    client = _sign_up(api, "0712 000 093")
    headers = api.login("0712000093")
    limit = ApiSettings(token_secret="x" * 32).buy_rate_limit
    for n in range(limit):
        bought = client.post("/v1/wallet/buys", json={"kes": "10"}, headers={**headers, "Idempotency-Key": f"both-{n}"})
        assert bought.status_code == 201, bought.get_data(as_text=True)
        answer_last_prompt(api)  # one prompt at a time per wallet: each answered before the next
    prompts = len(api.mpesa.outbox)
    shown = _post(client, "/app/buy", "/app/buy/quote", kes="1000")
    assert shown.status_code == 200, shown.get_data(as_text=True)
    refused = client.post("/app/buy", data=_hidden(shown.get_data(as_text=True)))
    assert refused.status_code == 429, refused.get_data(as_text=True)
    assert len(api.mpesa.outbox) == prompts


def test_the_portal_and_the_api_share_one_wallets_pace_of_sales_and_cash_outs(api: WalletApi):
    """Review7 F12: each sale or cash-out is a B2C payout from the shortcode; after ``payout_rate_limit`` cash-outs
    over the API the portal's sell form is refused 429 too (one count per wallet), nothing sold or planned."""
    from cryptopay.core.flows import wallet_account
    from cryptopay.core.ledger import Account, AccountKind
    from cryptopay_http import ApiSettings

    api, _ = in_one_window(api)
    client = _sign_up(api, "0712 000 094")
    user_id = api.services.users.by_phone("254712000094").id
    api.tier_1(user_id)
    api.fund(user_id, "1000")
    inventory = Account("assets:inventory:USDT", AccountKind.ASSET, USDT, allow_negative=True)
    api.services.ledger.open_account(inventory)
    api.services.ledger.transfer(
        "u", debit=inventory.code, credit=wallet_account(user_id, USDT), amount=Money.of(10, USDT)
    )
    headers = api.login("0712000094")
    limit = ApiSettings(token_secret="x" * 32).payout_rate_limit
    for n in range(limit):
        body = {"amount": "10", "currency": "KES"}
        made = client.post("/v1/wallet/cashouts", json=body, headers={**headers, "Idempotency-Key": f"c{n}"})
        assert made.status_code == 201, made.get_data(as_text=True)
    shown = _post(client, "/app/sell", "/app/sell/quote", usdt="10")
    assert shown.status_code == 200, shown.get_data(as_text=True)
    refused = client.post("/app/sell", data=_hidden(shown.get_data(as_text=True)))
    assert refused.status_code == 429, refused.get_data(as_text=True)
    assert len(client.get("/v1/wallet/sells", headers=headers).get_json()["data"]) == limit
    assert api.services.ledger.balance(wallet_account(user_id, USDT)).available == Money.of(10, USDT)


def test_the_portal_and_the_api_share_one_wallets_pace_of_send_checks(api: WalletApi):
    """Review6 F6: the send form's check tells whether a number has a wallet, so it is held to the wallet's pace of
    checks and sends (``send_rate_limit`` a minute) together with the API's sends: past it the check is refused 429,
    in English and in Swahili, with nothing looked up."""
    from cryptopay_http import ApiSettings

    api, _ = in_one_window(api)
    client = _sign_up(api, "0712 000 096")
    headers = api.login("0712000096")
    limit = ApiSettings(token_secret="x" * 32).send_rate_limit
    for n in range(limit - 1):
        body = {"to": f"nobody{n}", "amount": {"amount": "100", "asset": "KES"}}
        sent = client.post("/v1/wallet/transfers", json=body, headers={**headers, "Idempotency-Key": f"f6-{n}"})
        assert sent.status_code == 404, sent.get_data(as_text=True)
    last = _check_send(client, to="0712000097", amount="100", asset="KES", note="")
    assert last.status_code != 429, last.get_data(as_text=True)
    refused = _check_send(client, to="0712000098", amount="100", asset="KES", note="")
    assert refused.status_code == 429 and "too many requests; retry in" in refused.get_data(as_text=True)
    assert 0 < int(refused.headers["Retry-After"]) <= 60  # as the API's 429 says when to retry
    html = client.get("/app/send", headers={"Accept-Language": "sw"}).get_data(as_text=True)
    swahili = client.post(
        "/app/send/check",
        data={"csrf_token": _csrf(html), "to": "0712000099", "amount": "100", "asset": "KES", "note": ""},
        headers={"Accept-Language": "sw"},
    )
    assert swahili.status_code == 429 and "Majaribio mengi mno" in swahili.get_data(as_text=True)
    assert int(swahili.headers["Retry-After"]) > 0


def test_bill_checks_count_in_the_wallets_pace_of_checks_and_sends(api: WalletApi):
    """A bill check (the API's ``bills/validate``, the portal's ``/app/bills/check``) is a free probe of a biller's
    accounts, so it shares the wallet's ``send_rate_limit`` with send checks and sends: past it the API's check and
    send and the portal's bill check are 429 with Retry-After (the page too), nothing checked; a page refusal that
    says no wait (a bad account) carries no Retry-After."""
    from cryptopay_http import ApiSettings

    api, window = in_one_window(api)
    client = _sign_up(api, "0712 000 094")
    headers = api.login("0712000094")
    limit = ApiSettings(token_secret="x" * 32).send_rate_limit
    body = {"biller": "kplc_prepaid", "account": "0123 4567 890", "amount": "1000", "currency": "KES"}
    bad = _post(client, "/app/bills", "/app/bills/check", biller="KPLC_PREPAID", account="123", amount="1000")
    assert bad.status_code == 422 and "Retry-After" not in bad.headers
    for _ in range(limit - 2):
        checked = client.post("/v1/wallet/bills/validate", json=body, headers=headers)
        assert checked.status_code == 200, checked.get_data(as_text=True)
    shown = _post(
        client, "/app/bills", "/app/bills/check", biller="KPLC_PREPAID", account="0123 4567 890", amount="1000"
    )
    assert shown.status_code == 200, shown.get_data(as_text=True)
    refused = client.post("/v1/wallet/bills/validate", json=body, headers=headers)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0, refused.get_data(as_text=True)
    send = {"to": "nobody", "amount": {"amount": "100", "asset": "KES"}}
    sent = client.post("/v1/wallet/transfers", json=send, headers={**headers, "Idempotency-Key": "bills-then-send"})
    assert sent.status_code == 429
    page = _post(
        client, "/app/bills", "/app/bills/check", biller="KPLC_PREPAID", account="0123 4567 890", amount="1000"
    )
    assert page.status_code == 429 and 'role="alert"' in page.get_data(as_text=True)
    assert 0 < int(page.headers["Retry-After"]) <= 60
    window.advance(minutes=1)
    assert client.post("/v1/wallet/bills/validate", json=body, headers=headers).status_code == 200


def test_a_send_confirmation_refused_for_its_pace_goes_through_when_pressed_again_after_the_wait(api: WalletApi):
    """Review7 F4 on the portal: the confirmation form's key is not used up by a 429 (the wallet's pace of sends),
    so the same form posted again once the minute passed sends the money (a 303), and a third press replays it."""
    from cryptopay_http import ApiSettings

    api, window = in_one_window(api)
    client = _sign_up(api, "0712 000 091")
    user_id = api.services.users.by_phone("254712000091").id
    api.fund(user_id, "1000")
    api.tier_1(user_id)
    api.sign_up("0712000092")
    confirm = _confirmation(_check_send(client, to="0712000092", amount="100", asset="KES").get_data(as_text=True))
    headers = api.login("0712000091")
    for n in range(ApiSettings(token_secret="x" * 32).send_rate_limit - 1):
        body = {"to": f"nobody{n}", "amount": {"amount": "100", "asset": "KES"}}
        client.post("/v1/wallet/transfers", json=body, headers={**headers, "Idempotency-Key": f"f4p-{n}"})
    refused = client.post("/app/send", data=confirm)
    assert refused.status_code == 429, refused.get_data(as_text=True)
    window.advance(minutes=1)
    sent, again = client.post("/app/send", data=confirm), client.post("/app/send", data=confirm)
    assert sent.status_code == again.status_code == 303 and sent.headers["Location"] == again.headers["Location"]
    assert api.services.wallets.balances(user_id)["KES"].amount == 900
