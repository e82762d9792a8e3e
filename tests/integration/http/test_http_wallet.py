"""Issue 14: personal wallets over REST on the root's real SQL services (SQLite and PostgreSQL).

The one-time code is read from the development SMS file, as a person reads it from their phone.
"""

from __future__ import annotations

import io
import json
import re
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import jsonschema_rs
import pypdf
import pytest
from cryptopay.adapters.bootstrap import Services, build, ready
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.notify.file import FileNotifier
from cryptopay.adapters.ratelimit import ProcessRateLimiter
from cryptopay.adapters.sms.file import FileSms
from cryptopay.core.errors import Conflict
from cryptopay.core.flows import FLOAT, wallet_account
from cryptopay.core.kyc import PartyKind, Requirement
from cryptopay.core.ledger import Account, AccountKind
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.ports.notifications import Notification
from cryptopay.core.pricing import Pricer
from cryptopay.core.testing.fx import FixedRateSource, InMemoryQuoteRepository
from cryptopay.core.testing.mobile_money import FakeMobileMoney
from cryptopay.core.testing.system import ManualClock
from cryptopay.core.wallets.buys import Buys
from cryptopay.core.wallets.history import MONTH_PATTERN
from cryptopay.core.wallets.model import Wallet
from cryptopay.core.wallets.sells import Sells
from flask.testing import FlaskClient

from tests.integration.http.http_support import PASSWORD, database_env, fast_hasher, make_app


@attrs.define
class WalletApi:
    client: FlaskClient
    services: Services
    sms_file: Path
    mpesa: FakeMobileMoney

    def code(self, phone: str) -> str:
        texts = [m.text for m in FileSms(self.sms_file).read() if m.to == phone]
        found = re.search(r"\b(\d{6})\b", texts[-1])
        assert found
        return found.group(1)

    def sign_up(self, phone: str, **extra: Any) -> dict[str, Any]:
        started = self.client.post("/v1/wallet/signup", json={"phone": phone})
        assert started.status_code == 202, started.get_json()
        body = started.get_json()
        path = f"/v1/wallet/signup/{body['verification_id']}/complete"
        done = self.client.post(path, json={"code": self.code(body["phone"]), "password": PASSWORD, **extra})
        assert done.status_code == 201, done.get_json()
        return done.get_json()

    def login(self, phone: str, *, stepped_up: bool = False) -> dict[str, str]:
        """The login's bearer header; ``stepped_up``: with a fresh step-up token too (``X-Step-Up-Token``), which a
        send or bill past the day's step-up allowance needs (review5 S4), as a withdrawal always does."""
        answer = self.client.post("/v1/auth/login", json={"email": phone, "password": PASSWORD})
        assert answer.status_code == 200, answer.get_json()
        headers = {"Authorization": f"Bearer {answer.get_json()['access_token']}"}
        if not stepped_up:
            return headers
        stepped = self.client.post("/v1/auth/step-up", json={"password": PASSWORD}, headers=headers)
        assert stepped.status_code == 200, stepped.get_json()
        return {**headers, "X-Step-Up-Token": stepped.get_json()["step_up_token"]}

    def tier_1(self, user_id: str) -> None:
        with self.services.uow() as uow:
            profile = uow.kyc.get(user_id)
            profile.submit(1, {Requirement.NATIONAL_ID}, at=self.services.clock.now())
            profile.approve("usr_admin", at=self.services.clock.now())
            uow.kyc.update(profile)

    def fund(self, user_id: str, amount: str, key: str = "") -> None:
        ledger = self.services.ledger
        ledger.open_account(Account(FLOAT, AccountKind.ASSET, KES, allow_negative=True))
        ledger.transfer(
            f"fund:{user_id}{key}", debit=FLOAT, credit=wallet_account(user_id, KES), amount=Money.of(amount, KES)
        )


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WalletApi]:
    env = {"CRYPTOPAY_DATA_DIR": str(tmp_path), "CRYPTOPAY_PUBLIC_URL": "https://pay.example.com"}
    with database_env(request, env, "cryptopay_http_wallet") as settings:
        yield from _api(settings, tmp_path)


def _api(env: dict[str, str], data_dir: Path) -> Iterator[WalletApi]:
    root = build(RootSettings.from_env(env))
    try:
        # M-Pesa and the FX sources are the in-memory fakes (the shell cannot reach Safaricom or a price API here)
        mpesa = FakeMobileMoney(clock=root.clock)
        quotes = InMemoryQuoteRepository()
        pricer = Pricer(
            [FixedRateSource("market", root.clock, {"USDT/KES": "130", "USDT/USD": "1"})],
            clock=root.clock,
            ids=root.ids,
            quotes=quotes,
        )
        buys = Buys(
            root.uow,
            root.ledger,
            lambda: pricer,
            lambda: quotes,
            lambda: mpesa,
            lambda token: f"https://pay.example.com/hooks/daraja/stk/{token}",
            root.clock,
            root.ids,
        )
        sells = Sells(root.uow, root.ledger, lambda: pricer, lambda: quotes, root.clock, root.ids)
        services = attrs.evolve(
            root, password_hasher=ready(fast_hasher()), wallet_buys=ready(buys), wallet_sells=ready(sells)
        )
        yield WalletApi(make_app(services).test_client(), services, data_dir / "sms.jsonl", mpesa)
    finally:
        root.close()


def test_sign_up_by_phone_log_in_by_phone_and_see_three_balances(api: WalletApi):
    """A phone and a password make an account; the phone logs in; the wallet shows KES, USDT and BTC at zero."""
    done = api.sign_up("0712 000 001", username="amina")
    assert (done["user"]["phone"], done["user"]["email"], done["wallet"]["username"]) == ("254712000001", None, "amina")
    headers = api.login("+254712000001")
    wallet = api.client.get("/v1/wallet", headers=headers).get_json()
    assert [(b["asset"], b["amount"]) for b in wallet["balances"]] == [
        ("KES", "0.00"),
        ("USDT", "0.000000"),
        ("BTC", "0.00000000"),
    ]


def test_a_taken_email_uses_the_code_up_so_one_code_tests_one_address(api: WalletApi):
    """An email with an account is a 409 that spends the SMS code (review 3, I12: one code tested address after
    address); the same code then fails for a free email too, and a new sign-up with a new code succeeds."""
    api.client.post(
        "/v1/auth/register", json={"email": "duka1@example.co.ke", "password": PASSWORD, "role": "merchant"}
    )
    body = api.client.post("/v1/wallet/signup", json={"phone": "0712000031"}).get_json()
    path, code = f"/v1/wallet/signup/{body['verification_id']}/complete", api.code("254712000031")
    taken = api.client.post(path, json={"code": code, "password": PASSWORD, "email": "duka1@example.co.ke"})
    assert taken.status_code == 409 and "used up" in taken.get_json()["detail"]
    again = api.client.post(path, json={"code": code, "password": PASSWORD, "email": "nobody1@example.co.ke"})
    assert again.status_code == 403 and again.get_json()["code"] == "wrong_code"
    assert api.sign_up("0712000031", email="nobody1@example.co.ke")["user"]["email"] == "nobody1@example.co.ke"
    with api.services.uow() as uow:
        assert "wallet.signup_email_taken" in {r.action for r in uow.audit.records()}


def test_a_wrong_code_is_a_403_problem_and_creates_nothing(api: WalletApi):
    """A wrong code answers a problem (the phone is not proven) and no account exists; a bad number is a 422."""
    body = api.client.post("/v1/wallet/signup", json={"phone": "0712000001"}).get_json()
    wrong = "999999" if api.code("254712000001") != "999999" else "111111"
    path = f"/v1/wallet/signup/{body['verification_id']}/complete"
    answer = api.client.post(path, json={"code": wrong, "password": PASSWORD})
    assert answer.status_code == 403 and answer.content_type == "application/problem+json"
    assert api.client.post("/v1/auth/login", json={"email": "0712000001", "password": PASSWORD}).status_code == 401
    assert api.client.post("/v1/wallet/signup", json={"phone": "not a phone"}).status_code == 422


def test_signing_up_a_customers_number_is_answered_like_any_other(api: WalletApi):
    """Review F4: no 409 oracle: a registered number's sign-up is a 202 of the same shape as a new number's."""
    api.sign_up("0712000001")
    taken = api.client.post("/v1/wallet/signup", json={"phone": "0712000001"})
    fresh = api.client.post("/v1/wallet/signup", json={"phone": "0712000002"})
    assert taken.status_code == fresh.status_code == 202
    assert set(taken.get_json()) == set(fresh.get_json())


def test_send_by_phone_is_idempotent_and_limited_by_tier(api: WalletApi):
    """Tier 0 is refused with the limit's name; at tier 1 a keyed transfer moves once, however often it is retried."""
    amina = api.sign_up("0712000001")["user"]["id"]
    baraka = api.sign_up("0712000002")["user"]["id"]
    api.fund(amina, "1000")
    headers = api.login("0712000001")
    body = {"to": "0712000002", "amount": {"amount": "300", "asset": "KES"}, "note": "rent"}
    refused = api.client.post("/v1/wallet/transfers", json=body, headers={**headers, "Idempotency-Key": "t-0"})
    assert refused.status_code == 422 and refused.get_json()["limit"] == "p2p.single"
    api.tier_1(amina)
    keyed = {**headers, "Idempotency-Key": "t-1"}
    first = api.client.post("/v1/wallet/transfers", json=body, headers=keyed)
    again = api.client.post("/v1/wallet/transfers", json=body, headers=keyed)
    assert first.status_code == 201 and again.get_json()["id"] == first.get_json()["id"]
    assert api.services.wallets.balances(baraka)["KES"].amount == 300
    listed = api.client.get("/v1/wallet/transfers", headers=api.login("0712000002")).get_json()["data"]
    assert [(t["direction"], t["note"]) for t in listed] == [("received", "rent")]
    assert api.client.post("/v1/wallet/transfers", json=body, headers=headers).status_code == 400  # no key


def test_a_send_to_a_username_never_tells_the_sender_the_phone_behind_it(api: WalletApi):
    """Anyone could send a cent to ``@baraka`` to learn Baraka's number: the transfer shows the number masked, in
    the answer, the sender's list and the receipt page."""
    amina = api.sign_up("0712000001")["user"]["id"]
    api.sign_up("0712000002", username="baraka")
    api.fund(amina, "1000")
    api.tier_1(amina)
    headers = {**api.login("0712000001"), "Idempotency-Key": secrets.token_urlsafe(16)}
    body = {"to": "@baraka", "amount": "10", "currency": "KES"}
    sent = api.client.post("/v1/wallet/transfers", json=body, headers=headers)
    assert sent.status_code == 201, sent.get_json()
    listed = api.client.get("/v1/wallet/transfers", headers=api.login("0712000001")).get_json()["data"]
    for shown in (sent.get_json(), listed[0]):
        assert shown["recipient_phone"] == "2547******02" and "712000002" not in json.dumps(shown)


def test_a_transfer_beyond_the_balance_says_what_is_there_and_never_our_accounts(api: WalletApi):
    """A transfer and a sale beyond the balance: 422 ``insufficient_funds`` saying what is available and what it
    needs (also as fields), with no ledger account code, user id or negative figure."""
    amina = api.sign_up("0712000001")["user"]["id"]
    api.sign_up("0712000002")
    api.tier_1(amina)
    api.fund(amina, "250")
    headers = api.login("0712000001")
    body = {"to": "0712000002", "amount": {"amount": "300", "asset": "KES"}}
    transfer = api.client.post("/v1/wallet/transfers", json=body, headers={**headers, "Idempotency-Key": "t-1"})
    sale = api.client.post("/v1/wallet/sells", json={"usdt": "6"}, headers={**headers, "Idempotency-Key": "s-1"})
    for refused in (transfer, sale):
        problem = refused.get_json()
        assert (refused.status_code, problem["code"]) == (422, "insufficient_funds"), problem
        assert "liabilities" not in refused.text and amina not in refused.text and "-" not in problem["detail"]
    assert transfer.get_json()["detail"] == "not enough KES: the available balance is 250.00 KES; this needs 300.00 KES"
    assert (transfer.get_json()["available"], transfer.get_json()["needed"]) == ("250.00", "300.00")
    assert sale.get_json()["detail"].startswith("not enough USDT: the available balance is 0.000000 USDT")


def test_merchants_have_no_wallet_routes(api: WalletApi):
    """A merchant login is forbidden from the wallet."""
    api.client.post("/v1/auth/register", json={"email": "duka@example.co.ke", "password": PASSWORD, "role": "merchant"})
    token = api.client.post("/v1/auth/login", json={"email": "duka@example.co.ke", "password": PASSWORD}).get_json()
    answer = api.client.get("/v1/wallet", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert answer.status_code == 403


def test_history_and_the_monthly_statement(api: WalletApi):
    """The history shows running balances; the month's statement downloads as CSV, each balance between its opening
    and closing lines; the PDF's amounts at the asset's places (R14-3: USDT 2.000000, never 2.00); a bad month is a
    422."""
    amina = api.sign_up("0712000001")["user"]["id"]
    api.fund(amina, "1000")
    inventory = "assets:inventory:USDT"
    api.services.ledger.open_account(Account(inventory, AccountKind.ASSET, USDT, allow_negative=True))
    api.services.ledger.transfer("usdt", debit=inventory, credit=wallet_account(amina, USDT), amount=Money.of(2, USDT))
    headers = api.login("0712000001")
    lines = api.client.get("/v1/wallet/history?asset=KES", headers=headers).get_json()
    assert [(h["amount"]["amount"], h["balance_after"]["amount"]) for h in lines] == [("1000.00", "1000.00")]
    month = api.services.clock.now().strftime("%Y-%m")
    csv_answer = api.client.get(f"/v1/wallet/statements/{month}", headers=headers)
    assert csv_answer.status_code == 200 and csv_answer.mimetype == "text/csv"
    rows = [line.split(",")[1:5] for line in csv_answer.get_data(as_text=True).splitlines()[1:]]
    assert rows == [
        ["KES", "", "0.00", "opening_balance"],
        ["USDT", "", "0.000000", "opening_balance"],
        ["KES", "1000.00", "1000.00", "other"],
        ["USDT", "2.000000", "2.000000", "other"],
        ["KES", "", "1000.00", "closing_balance"],
        ["USDT", "", "2.000000", "closing_balance"],
    ]
    for odd in ("2026-13", "zz", "1999-12"):  # R9-3: the path's documented 422 code, not the core's invalid_input
        refused = api.client.get(f"/v1/wallet/statements/{odd}", headers=headers)
        assert (refused.status_code, refused.get_json()["code"]) == (422, "validation_failed"), refused.get_json()
    later = api.client.get("/v1/wallet/statements/2999-12", headers=headers)  # one to come: its balances only
    kinds = [line.split(",")[4] for line in later.get_data(as_text=True).splitlines()[1:]]
    assert later.status_code == 200 and kinds == ["opening_balance"] * 2 + ["closing_balance"] * 2, kinds
    pdf = api.client.get(f"/v1/wallet/statements/{month}?format=pdf", headers=headers)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Wallet statement" in text and "1,000.00" in text  # the pages' money formatter's figures
    assert "Opening balance" in text and "Closing balance" in text and text.count("2.000000") >= 3, text
    assert not re.search(r"(?<![\d.])2\.00(?!\d)", text), text  # USDT at its six places, never as shillings
    accepted = api.client.get(f"/v1/wallet/statements/{month}", headers={**headers, "Accept": "application/pdf"})
    assert accepted.mimetype == "application/pdf"
    assert api.client.get(f"/v1/wallet/statements/{month}?format=doc", headers=headers).status_code == 422
    assert api.client.get("/v1/wallet/history?month=march", headers=headers).status_code == 422


def test_a_busy_month_s_statement_holds_every_movement(api: WalletApi):
    """Review 3 (E): a statement read only the latest 1,000 ledger entries per asset. 1,201 movements in one month
    (posted at once through ``post_many``, many in one millisecond) are all in the CSV and the PDF, oldest first, each
    balance the previous one plus its amount, the first from zero and the last the wallet's balance."""
    from cryptopay.core.ledger import EntryRequest, Posting

    amina = api.sign_up("0712000001")["user"]["id"]
    api.fund(amina, "1")
    mine = wallet_account(amina, KES)
    requests = []
    for n in range(1200):  # in 1,000 to 1,999 shillings, out every fifth time a shilling less than came in before
        amount = Money.of(str(1000 + n), KES)
        out = n % 5 == 4
        legs = (Posting.debit(mine, amount), Posting.credit(FLOAT, amount)) if out else None
        requests.append(EntryRequest(f"busy:{n}", legs or (Posting.debit(FLOAT, amount), Posting.credit(mine, amount))))
    api.services.ledger.post_many(requests)
    balance = api.services.ledger.balance(mine).posted.amount
    headers = api.login("0712000001")
    month = api.services.clock.now().strftime("%Y-%m")
    answer = api.client.get(f"/v1/wallet/statements/{month}", headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    rows = [line.split(",") for line in answer.get_data(as_text=True).splitlines()[1:]]
    assert [r[4] for r in (rows[0], rows[-1])] == ["opening_balance", "closing_balance"]
    assert rows[0][3] == "0.00" and Decimal(rows[-1][3]) == balance  # the ledger's, before and after the month
    rows = rows[1:-1]
    assert len(rows) == 1201 and {r[1] for r in rows} == {"KES"}
    running = Decimal(0)
    for row in rows:
        running += Decimal(row[2])
        assert Decimal(row[3]) == running, row
    assert (
        running
        == balance
        == Decimal(1) + sum((Decimal(1000 + n) * (-1 if n % 5 == 4 else 1) for n in range(1200)), Decimal(0))
    )
    pdf = api.client.get(f"/v1/wallet/statements/{month}?format=pdf", headers=headers)
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "1201" in text and f"{balance:,.2f}" in text


def test_history_pages_by_its_link_header(api: WalletApi):
    """Review H9: the history is a bare array (kept for existing clients) that could not be paged; when more lines
    follow, an RFC 8288 ``Link: <...>; rel="next"`` header gives the next page (the same filters, a cursor), the
    last page has none, and a cursor that is not a line of this history is a 422 on ``cursor``."""
    amina = api.sign_up("0712000003")["user"]["id"]
    for amount in ("100", "200", "300"):
        api.fund(amina, amount, key=amount)
    headers = api.login("0712000003")
    first = api.client.get("/v1/wallet/history?asset=KES&limit=2", headers=headers)
    assert [h["amount"]["amount"] for h in first.get_json()] == ["300.00", "200.00"]
    link = re.fullmatch(r'<(/v1/wallet/history\?[^>]+)>; rel="next"', first.headers["Link"])
    assert link is not None and "asset=KES" in link.group(1) and "limit=2" in link.group(1)
    second = api.client.get(link.group(1), headers=headers)
    assert [h["amount"]["amount"] for h in second.get_json()] == ["100.00"] and "Link" not in second.headers
    everything = api.client.get("/v1/wallet/history?asset=KES", headers=headers)
    assert len(everything.get_json()) == 3 and "Link" not in everything.headers
    for bad in ("ent_NOTALINE", "x"):
        refused = api.client.get(f"/v1/wallet/history?cursor={bad}", headers=headers)
        assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "cursor", bad


def test_a_month_is_accepted_exactly_when_the_document_declares_it(api: WalletApi):
    """Review F8: history's ?month= and the statement's path month are declared with one schema, and each month
    (edges and near misses) is answered 200 exactly when that schema admits it, 422 otherwise, on both routes."""
    api.sign_up("0712000002")
    headers = api.login("0712000002")
    paths = api.client.get("/openapi.json").get_json()["paths"]
    (history,) = [p["schema"] for p in paths["/v1/wallet/history"]["get"]["parameters"] if p["name"] == "month"]
    statement = paths["/v1/wallet/statements/{month}"]["get"]["parameters"][0]["schema"]
    assert history == {**statement, "type": "string"} and statement["pattern"] == MONTH_PATTERN
    for month in ("2000-01", "2999-12", "2026-03", "0000-01", "1999-12", "3000-01", "2026-3", "2026-00", "２026-03"):
        declared = re.fullmatch(history["pattern"], month) is not None
        answers = {
            api.client.get(f"/v1/wallet/history?month={month}", headers=headers).status_code,
            api.client.get(f"/v1/wallet/statements/{month}", headers=headers).status_code,
        }
        assert answers == ({200} if declared else {422}), (month, answers)


def test_one_wallet_fires_at_most_buy_rate_limit_stk_prompts_a_minute(api: WalletApi):
    """Review4 R19: buys are paced per wallet (``buy_rate_limit`` a minute, each one an STK Push to Daraja and a
    prompt on the phone): past it a 429 with Retry-After, no prompt sent, nothing recorded."""
    api.sign_up("0712000091")
    headers = api.login("0712000091")
    from cryptopay_http import ApiSettings

    api, window = in_one_window(api)
    limit = ApiSettings(token_secret="x" * 32).buy_rate_limit
    codes = []
    for n in range(limit + 1):
        answer = api.client.post("/v1/wallet/buys", json={"kes": "10"}, headers={**headers, "Idempotency-Key": f"p{n}"})
        codes.append(answer.status_code)
        if answer.status_code == 201:
            answer_last_prompt(api)  # one prompt at a time per wallet: the customer answers each before the next
    assert codes == [201] * limit + [429], codes
    listed = api.client.get("/v1/wallet/buys", headers=headers).get_json()["data"]
    assert len(listed) == limit and len(api.mpesa.outbox) <= limit
    window.advance(minutes=1)  # the next minute: the wallet may buy again
    later = api.client.post("/v1/wallet/buys", json={"kes": "10"}, headers={**headers, "Idempotency-Key": "p-later"})
    assert later.status_code == 201, later.get_json()


def in_one_window(api: WalletApi) -> tuple[WalletApi, ManualClock]:
    """The same stack whose rate limits count on a clock only the test moves (returned): the limiter's windows are
    aligned to its clock, so on the real one a loop of buys that crosses a minute boundary is counted in two windows
    and lets more than ``buy_rate_limit`` through (as answering each prompt made the loop slower, now and then)."""
    window = ManualClock(api.services.clock.now())
    services = attrs.evolve(api.services, rate_limiter=ready(ProcessRateLimiter(window)))
    return attrs.evolve(api, client=make_app(services).test_client(), services=services), window


def answer_last_prompt(api: WalletApi) -> None:
    """The customer answers the newest STK prompt: M-Pesa's callback posted to its token URL."""
    delivery = api.mpesa.outbox[-1]
    answered = api.client.post(delivery.url.removeprefix("https://pay.example.com"), json=delivery.payload)
    assert answered.status_code == 200, answered.get_data(as_text=True)


def test_a_second_buy_while_the_first_prompt_is_open_is_a_409_naming_it(api: WalletApi):
    """Review4 R19: one STK prompt at a time per wallet. While the first awaits its answer a second buy is a 409
    ``stk_prompt_open`` naming the open buy, no prompt sent and nothing recorded; the first buy's Idempotency-Key
    answers it again; once answered, the next buy is prompted."""
    api.sign_up("0712000001")
    headers = api.login("0712000001")
    first = api.client.post("/v1/wallet/buys", json={"kes": "100"}, headers={**headers, "Idempotency-Key": "o-1"})
    assert first.status_code == 201, first.get_json()
    prompts = len(api.mpesa.outbox)
    second = api.client.post("/v1/wallet/buys", json={"kes": "50"}, headers={**headers, "Idempotency-Key": "o-2"})
    assert second.status_code == 409 and second.content_type == "application/problem+json"
    assert second.get_json()["code"] == "stk_prompt_open" and second.get_json()["buy_id"] == first.get_json()["id"]
    assert len(api.mpesa.outbox) == prompts
    again = api.client.post("/v1/wallet/buys", json={"kes": "100"}, headers={**headers, "Idempotency-Key": "o-1"})
    assert again.status_code == 201 and again.get_json()["id"] == first.get_json()["id"]
    assert [b["id"] for b in api.client.get("/v1/wallet/buys", headers=headers).get_json()["data"]] == [
        first.get_json()["id"]
    ]
    answer_last_prompt(api)
    third = api.client.post("/v1/wallet/buys", json={"kes": "50"}, headers={**headers, "Idempotency-Key": "o-3"})
    assert third.status_code == 201, third.get_json()


def test_buy_usdt_by_stk_push_and_the_callback_credits_it(api: WalletApi):
    """A quote, a keyed buy, M-Pesa's callback to the hook's token URL: USDT at the quote's ask, once."""
    api.sign_up("0712000001")
    headers = api.login("0712000001")
    quote = api.client.post("/v1/wallet/quotes", headers=headers).get_json()
    body = {"kes": "1000", "quote_id": quote["id"]}
    started = api.client.post("/v1/wallet/buys", json=body, headers={**headers, "Idempotency-Key": "b-1"})
    assert started.status_code == 201, started.get_json()
    buy = started.get_json()
    assert buy["state"] == "prompted" and buy["ask"] == quote["ask"]
    (delivery,) = api.mpesa.outbox
    path = delivery.url.removeprefix("https://pay.example.com")
    for _ in range(2):  # Daraja sends it twice: credited once
        assert api.client.post(path, json=delivery.payload).get_json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert api.client.post("/hooks/daraja/stk/not-a-token", json=delivery.payload).status_code == 403
    done = api.client.get(f"/v1/wallet/buys/{buy['id']}", headers=headers).get_json()
    assert done["state"] == "credited" and done["receipt"]
    usdt = next(b for b in api.client.get("/v1/wallet", headers=headers).get_json()["balances"] if b["asset"] == "USDT")
    assert usdt == buy["usdt"]
    assert set(api.services.ledger.trial_balance().values()) == {0}


def test_a_quote_is_its_lockers_alone_and_used_once(api: WalletApi):
    """Baraka naming Amina's quote gets a 404 as for an unknown id; Amina's buy uses it up: the same request with
    the same Idempotency-Key replays its first answer, a new key is a 409 ``quote_used`` problem."""
    api.sign_up("0712000001")
    api.sign_up("0712000002")
    amina, baraka = api.login("0712000001"), api.login("0712000002")
    quote = api.client.post("/v1/wallet/quotes", headers=amina).get_json()
    expires_at = datetime.fromisoformat(quote["expires_at"].replace("Z", "+00:00"))
    assert expires_at <= api.services.clock.now() + timedelta(minutes=2)
    body = {"kes": "1000", "quote_id": quote["id"]}
    theirs = api.client.post("/v1/wallet/buys", json=body, headers={**baraka, "Idempotency-Key": "b-1"})
    assert (theirs.status_code, theirs.get_json()["code"]) == (404, "not_found")
    first = api.client.post("/v1/wallet/buys", json=body, headers={**amina, "Idempotency-Key": "a-1"})
    replay = api.client.post("/v1/wallet/buys", json=body, headers={**amina, "Idempotency-Key": "a-1"})
    assert first.status_code == replay.status_code == 201, first.get_json()
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.get_json()["id"] == first.get_json()["id"]
    again = api.client.post("/v1/wallet/buys", json=body, headers={**amina, "Idempotency-Key": "a-2"})
    sell = {"usdt": "1", "quote_id": quote["id"]}
    resold = api.client.post("/v1/wallet/sells", json=sell, headers={**amina, "Idempotency-Key": "a-3"})
    for refused in (again, resold):
        assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
        assert refused.get_json()["code"] == "quote_used" and "lock a new one" in refused.get_json()["detail"]
    assert len(api.mpesa.outbox) == 1
    assert quote["purpose"] == "trade"
    to_sell = api.client.post("/v1/wallet/quotes", json={"side": "sell"}, headers=amina).get_json()
    assert to_sell["purpose"] == "sell" and to_sell["bid"] == quote["bid"]
    bought = api.client.post(
        "/v1/wallet/buys", json={**body, "quote_id": to_sell["id"]}, headers={**amina, "Idempotency-Key": "a-4"}
    )
    assert (bought.status_code, bought.get_json()["errors"][0]["field"]) == (422, "quote_id")
    assert "locked to sell; lock one to buy" in bought.get_json()["detail"]
    assert bought.get_json()["code"] == "quote_purpose"  # review3 I7: not a generic invalid_input
    odd = api.client.post("/v1/wallet/quotes", json={"side": "hold"}, headers=amina)
    assert (odd.status_code, odd.get_json()["errors"][0]["field"]) == (422, "side")


def test_a_cancelled_prompt_says_why(api: WalletApi):
    """The customer cancels on the phone (1032): nothing is credited and the buy says so."""
    api.sign_up("0711000001")
    headers = {**api.login("0711000001"), "Idempotency-Key": "b-2"}
    buy = api.client.post("/v1/wallet/buys", json={"kes": "500"}, headers=headers).get_json()
    (delivery,) = api.mpesa.outbox
    api.client.post(delivery.url.removeprefix("https://pay.example.com"), json=delivery.payload)
    done = api.client.get(f"/v1/wallet/buys/{buy['id']}", headers=headers).get_json()
    assert (done["state"], done["result_code"], done["reason"]) == ("failed", "1032", "you cancelled the M-Pesa prompt")
    assert (
        api.client.post(
            "/v1/wallet/buys", json={"kes": "10.50"}, headers={**headers, "Idempotency-Key": "b-3"}
        ).status_code
        == 422
    )


def test_sell_usdt_plans_a_b2c_payout_to_my_own_phone(api: WalletApi):
    """A keyed sale at the bid: whole shillings less M-Pesa's charge, to the wallet's own number; tier 0 is refused."""
    user = api.sign_up("0712000001")["user"]["id"]
    headers = {**api.login("0712000001"), "Idempotency-Key": "s-1"}
    inventory = Account("assets:inventory:USDT", AccountKind.ASSET, USDT, allow_negative=True)
    api.services.ledger.open_account(inventory)
    api.services.ledger.transfer(
        "u", debit=inventory.code, credit=wallet_account(user, USDT), amount=Money.of(10, USDT)
    )
    refused = api.client.post("/v1/wallet/sells", json={"usdt": "10"}, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["limit"] == "sell.single"
    api.tier_1(user)
    sold = api.client.post("/v1/wallet/sells", json={"usdt": "10"}, headers={**headers, "Idempotency-Key": "s-2"})
    assert sold.status_code == 201, sold.get_json()
    view = sold.get_json()
    assert (view["state"], view["phone"], view["paid_out"]["amount"], view["charge"]["amount"]) == (
        "planned",
        "254712000001",
        "1288.00",
        "5.00",
    )
    again = api.client.get(f"/v1/wallet/sells/{view['id']}", headers=headers).get_json()
    assert again["kes"] == {"amount": "1293.50", "asset": "KES"}


def test_dust_to_a_number_with_no_wallet_is_a_send_below_minimum_problem(api: WalletApi):
    """F15: 0.01 USDT-worth (here KES 1) to a number with no wallet is refused; nothing moves, no SMS goes. Since
    review H19 it is refused before anyone is looked up, the same as to a customer's number: 422
    ``send_below_minimum`` naming the minimum of a send to a phone number (an invitation's)."""
    amina = api.sign_up("0712000001")["user"]["id"]
    api.tier_1(amina)
    api.fund(amina, "1000")
    headers = {**api.login("0712000001"), "Idempotency-Key": "dust-1"}
    body = {"to": "0719900001", "amount": {"amount": "1", "asset": "KES"}}
    refused = api.client.post("/v1/wallet/transfers", json=body, headers=headers)
    problem = refused.get_json()
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json", problem
    assert (problem["code"], problem["minimum"]) == ("send_below_minimum", "50.00")
    assert api.services.wallets.balances(amina)["KES"].amount == 1000


def test_a_send_the_recipients_tier_cannot_take_is_a_422_telling_the_sender_only_that(api: WalletApi):
    """Review H14: Baraka has only a phone (tier 0 receives KES 5,000 at a time): Amina's KES 6,000 is a 422
    ``recipient_limit`` problem saying the recipient cannot receive it now, with none of Baraka's tier, limits or
    receipts; nothing moved. Verified, Baraka receives it."""
    amina = api.sign_up("0712000001")["user"]["id"]
    baraka = api.sign_up("0712000002")["user"]["id"]
    api.tier_1(amina)
    api.fund(amina, "10000")
    headers = {**api.login("0712000001", stepped_up=True), "Idempotency-Key": "t-h14"}  # KES 6,000: review5 S4
    body = {"to": "0712000002", "amount": {"amount": "6000", "asset": "KES"}}
    refused = api.client.post("/v1/wallet/transfers", json=body, headers=headers)
    problem = refused.get_json()
    assert (refused.status_code, refused.content_type) == (422, "application/problem+json")
    assert problem["code"] == "recipient_limit" and problem["limit"] == "recipient", problem
    assert "cannot receive this amount now" in problem["detail"]
    text = json.dumps(problem)
    assert not any(word in text for word in ("tier", "5,000", "5000", "remaining", "receive.", baraka))
    assert api.services.wallets.balances(amina)["KES"].amount == 10000
    assert api.services.wallets.balances(baraka)["KES"].amount == 0
    assert api.client.get("/v1/wallet/transfers", headers=api.login("0712000001")).get_json()["data"] == []
    api.tier_1(baraka)
    sent = api.client.post("/v1/wallet/transfers", json=body, headers={**headers, "Idempotency-Key": "t-h14-2"})
    assert sent.status_code == 201, sent.get_json()
    assert api.services.wallets.balances(baraka)["KES"].amount == 6000


def test_a_username_with_a_non_joiner_is_refused_by_name_and_a_persian_display_name_is_not(api: WalletApi):
    """A username is an identifier (people send money to it): a zero-width non-joiner is the specific 422 even
    between Persian letters; the display name, a name, keeps it; the password, a secret, may hold one too."""
    started = api.client.post("/v1/wallet/signup", json={"phone": "0712000009"}).get_json()
    path = f"/v1/wallet/signup/{started['verification_id']}/complete"
    code = api.code(started["phone"])
    body = {"code": code, "password": "correct\u200chorse\u00adbattery staple", "username": "ami\u200cna"}
    refused = api.client.post(path, json=body)
    assert refused.status_code == 422 and refused.content_type == "application/problem+json", refused.get_json()
    assert refused.get_json()["errors"] == [
        {
            "field": "username",
            "detail": "must not contain invisible characters (zero-width, format or private-use characters such as"
            " U+200C)",
        }
    ]
    persian = "\u0646\u0633\u0631\u06cc\u0646\u200c\u062f\u062e\u062a"
    done = api.client.post(path, json={**body, "username": "amina", "display_name": persian})
    assert done.status_code == 201, done.get_json()
    login = {"email": "0712000009", "password": "correct\u200chorse\u00adbattery staple"}
    assert api.client.post("/v1/auth/login", json=login).status_code == 200


def test_a_compliance_freeze_is_a_neutral_refusal_that_names_neither_compliance_nor_the_party(api: WalletApi):
    """Finding I15 (tipping off): a holder compliance froze is refused every movement with the documented, neutral
    422 ``movement_unavailable`` (no party id, no limit, nothing of compliance); ``frozen`` on the wallet stays an
    operator's freeze only; the reason is the officer's, in the audit log."""
    amina = api.sign_up("0712000001")["user"]["id"]
    api.sign_up("0712000002")
    api.fund(amina, "1000")
    api.tier_1(amina)
    api.services.kyc_review.freeze("usr_officer", amina, PartyKind.PERSONAL, "STR 17 filed: structuring")
    headers = api.login("0712000001")
    body = {"to": "0712000002", "amount": {"amount": "300", "asset": "KES"}}
    refused = api.client.post("/v1/wallet/transfers", json=body, headers={**headers, "Idempotency-Key": "t-1"})
    problem = refused.get_json()
    assert (refused.status_code, problem["code"]) == (422, "movement_unavailable"), problem
    assert "limit" not in problem and "contact support" in problem["detail"]
    text = refused.get_data(as_text=True).lower()
    assert amina.lower() not in text and "compliance" not in text and "frozen" not in text
    assert api.services.wallets.balances(amina)["KES"].amount == 1000
    assert api.client.get("/v1/wallet", headers=headers).get_json()["frozen"] is False
    with api.services.uow() as uow:
        [frozen] = [r for r in uow.audit.records() if r.action == "kyc.frozen"]
    assert dict(frozen.details)["reason"] == "STR 17 filed: structuring"


def test_a_history_with_a_debit_is_valid_under_the_documented_schema(api: WalletApi):
    """Review3 I6: a history line of money that left the wallet has a negative amount; the operation's documented
    200 schema (``SignedMoney``) accepts it, and an unsigned ``Money`` still refuses a sign."""
    amina = api.sign_up("0712000011")["user"]["id"]
    api.sign_up("0712000012")
    api.fund(amina, "1000")
    api.tier_1(amina)
    headers = api.login("0712000011")
    body = {"to": "0712000012", "amount": {"amount": "300", "asset": "KES"}}
    sent = api.client.post("/v1/wallet/transfers", json=body, headers={**headers, "Idempotency-Key": "i6"})
    assert sent.status_code == 201, sent.get_json()
    lines = api.client.get("/v1/wallet/history?asset=KES", headers=headers).get_json()
    assert any(line["amount"]["amount"].startswith("-") for line in lines), lines
    document = api.client.get("/openapi.json").get_json()
    answer = document["paths"]["/v1/wallet/history"]["get"]["responses"]["200"]["content"]["application/json"]
    schema = {**answer["schema"], "components": document["components"]}
    assert [e.message for e in jsonschema_rs.validator_for(schema).iter_errors(lines)] == []
    money = {"$ref": "#/components/schemas/Money", "components": document["components"]}
    assert not jsonschema_rs.validator_for(money).is_valid({"amount": "-300.00", "asset": "KES"})


def test_a_username_that_reads_as_a_taken_one_is_a_409_and_creates_nothing(api: WalletApi):
    """Review5 S1: beside ``bob_k``, ``b0b_k``, ``bob__k`` and ``B0B_K`` read the same (one skeleton): each is a 409
    ``username_lookalike`` naming no other username, and the same code then signs up with a name that looks
    different. ``admin_kenya`` (admin folds as a brand) and ``equity_bank`` (a settlement bank) are reserved (422).
    A look-alike written past the check is refused by the stored skeleton's unique index (two sign-ups racing)."""
    api.sign_up("0712000001", username="bob_k")
    started = api.client.post("/v1/wallet/signup", json={"phone": "0712000002"}).get_json()
    path = f"/v1/wallet/signup/{started['verification_id']}/complete"
    code = api.code(started["phone"])
    for name, status, problem_code in (
        ("b0b_k", 409, "username_lookalike"),
        ("bob__k", 409, "username_lookalike"),
        ("B0B_K", 409, "username_lookalike"),
        ("admin_kenya", 422, "reserved_username"),
        ("equity_bank", 422, "reserved_username"),
    ):
        refused = api.client.post(path, json={"code": code, "password": PASSWORD, "username": name})
        problem = refused.get_json()
        assert (refused.status_code, problem["code"]) == (status, problem_code), (name, problem)
        assert "bob_k" not in refused.get_data(as_text=True)
    assert api.services.users.by_phone("254712000002") is None  # nothing created
    done = api.client.post(path, json={"code": code, "password": PASSWORD, "username": "carol_k"})
    assert done.status_code == 201, done.get_json()
    racer = Wallet(user_id="usr_racer", phone="254712000003", created_at=api.services.clock.now(), username="bo8_k")
    with pytest.raises(Conflict), api.services.uow() as uow:
        uow.wallets.add(racer)


def test_an_unproven_email_never_resets_a_wallet_password_and_the_phone_hears_of_every_reset(api: WalletApi):
    """Review6 F7: the email typed at sign-up (a typo, a "helper"'s own) is a contact, not the wallet's identity.
    Its holder asking for a reset gets no link (the same 202), and a reset only works once the owner proved the
    address from inside the account (the link emailed at sign-up); the phone is told of every reset by SMS."""
    address, phone = "typo7@example.co.ke", "254712000077"
    api.sign_up("0712000077", username="ezra_f7", email=address)
    notifier = api.services.notifier
    assert isinstance(notifier, FileNotifier)

    def mails() -> list[Notification]:
        return [n for n in notifier.read() if n.to == address]

    proof = mails()[-1]
    assert proof.subject == "Confirm your cryptopay email"
    assert api.client.post("/v1/auth/password-reset", json={"email": address}).status_code == 202
    refused = mails()[-1]
    assert "no link was made" in refused.body and "token=" not in refused.body
    headers = api.login(phone)  # the owner's password still works
    proven = api.client.post(
        "/v1/auth/email/verify",
        json={"token": re.search(r"token=(\S+)", proof.body).group(1), "password": PASSWORD},
        headers=headers,
    )
    assert proven.status_code == 204, proven.get_json()
    assert api.client.post("/v1/auth/password-reset", json={"email": address}).status_code == 202
    token = re.search(r"token=(\S+)", mails()[-1].body).group(1)
    new = "a new long passphrase 7"
    assert api.client.post("/v1/auth/password-reset/confirm", json={"token": token, "password": new}).status_code == 204
    texts = [m.text for m in FileSms(api.sms_file).read() if m.to == phone]
    assert "password was just reset" in texts[-1]
    assert api.client.post("/v1/auth/login", json={"email": phone, "password": new}).status_code == 200


def test_a_send_to_a_frozen_recipient_is_accepted_and_an_officer_releases_it(api: WalletApi):
    """Review4 R6, second path: a send to a holder compliance froze is a 201 delivered, as any other (it was a
    ``recipient_limit`` refusal: tipping-off); the amount is held, the officers list it with the sender's note, one
    proposes its release (a step-up, a note) and a second approves it (four-eyes: the proposer is a 409
    ``same_officer``); the recipient then has it."""
    from tests.integration.http.http_support import AuthActions

    amina = api.sign_up("0712000001")["user"]["id"]
    baraka = api.sign_up("0712000002")["user"]["id"]
    api.fund(amina, "1000")
    api.tier_1(amina)
    api.services.kyc_review.freeze("usr_officer", baraka, PartyKind.PERSONAL, "STR 18 filed")
    headers = api.login("0712000001")
    body = {"to": "0712000002", "amount": {"amount": "300", "asset": "KES"}, "note": "school fees"}
    sent = api.client.post("/v1/wallet/transfers", json=body, headers={**headers, "Idempotency-Key": "t-held"})
    assert sent.status_code == 201, sent.get_json()
    assert sent.get_json()["state"] == "delivered" and "held" not in sent.get_data(as_text=True)
    shown = api.client.get(f"/v1/wallet/transfers/{sent.get_json()['id']}", headers=headers).get_json()
    assert shown["state"] == "delivered" and shown["finished_at"] is not None
    balances = api.services.wallets.balances
    assert balances(amina)["KES"].amount == 700 and balances(baraka)["KES"].amount == 0

    auth = AuthActions(api.client.application, api.client)
    officer, codes = auth.staff("compliance")
    path = "/v1/admin/compliance/held-transfers"
    assert api.client.get(path, headers=headers).status_code == 403
    [row] = api.client.get(path, headers=officer).get_json()["data"]
    assert (row["id"], row["recipient_id"], row["state"]) == (sent.get_json()["id"], baraka, "held")
    assert (row["note"], row["proposal"]) == ("school fees", None)
    kes = lambda amount: {"amount": amount, "asset": "KES"}  # noqa: E731
    room = {"single": kes("5000.00"), "today": kes("9700.00"), "this_month": kes("29700.00")}  # this send counted
    assert (row["recipient_tier"], row["recipient_may_receive"]) == ("tier 0 (phone verified)", room), row
    one = api.client.get(f"{path}/{row['id']}", headers=officer)
    assert one.status_code == 200 and one.get_json() == row and row["kept_note"] is None
    assert api.client.get(f"{path}/{row['id']}", headers=headers).status_code == 403
    assert api.client.get(f"{path}/trf_nothing", headers=officer).status_code == 404
    keep = f"{path}/{row['id']}/keep"  # tipoff3: an officer's note, nothing moves, no step-up
    assert api.client.post(keep, json={"note": "x"}, headers=headers).status_code == 403
    assert api.client.post(keep, json={"note": " "}, headers=officer).status_code == 422
    kept = api.client.post(keep, json={"note": "the court order is due"}, headers=officer)
    assert kept.status_code == 200 and kept.get_json()["state"] == "held", kept.get_json()
    assert kept.get_json()["kept_note"] == "the court order is due" and kept.get_json()["kept_by"] is not None
    assert balances(baraka)["KES"].amount == 0
    release = f"{path}/{row['id']}/release"
    assert api.client.post(release, json={"note": "cleared"}, headers=officer).status_code == 403  # no step-up
    stepped = auth.stepped_up(officer, code=codes[0])
    assert api.client.post(release, json={"note": ""}, headers=stepped).status_code == 422
    proposed = api.client.post(release, json={"note": "the order allows it"}, headers=stepped)
    assert proposed.status_code == 200 and proposed.get_json()["state"] == "held", proposed.get_json()
    assert (proposed.get_json()["proposal"], proposed.get_json()["proposal_note"]) == ("release", "the order allows it")
    assert balances(baraka)["KES"].amount == 0
    approve = f"{path}/{row['id']}/approve"
    same = api.client.post(approve, json={"proposal": "release"}, headers=auth.stepped_up(officer, code=codes[1]))
    assert (same.status_code, same.get_json()["code"]) == (409, "same_officer")
    second, second_codes = auth.staff("compliance")
    assert api.client.post(approve, json={"proposal": "release"}, headers=second).status_code == 403  # a step-up
    blind = api.client.post(approve, headers=auth.stepped_up(second, code=second_codes[2]))  # R9-1: what was read
    assert (blind.status_code, blind.get_json()["code"]) == (422, "validation_failed") and "proposal" in blind.text
    assert balances(baraka)["KES"].amount == 0
    stale = api.client.post(approve, json={"proposal": "return"}, headers=auth.stepped_up(second, code=second_codes[0]))
    assert stale.status_code == 409 and balances(baraka)["KES"].amount == 0  # not the proposal the approver read
    done = api.client.post(approve, json={"proposal": "release"}, headers=auth.stepped_up(second, code=second_codes[1]))
    assert done.status_code == 200 and done.get_json()["state"] == "delivered", done.get_json()
    assert (done.get_json()["kept_by"], done.get_json()["kept_note"]) == (None, None)  # released: no longer kept
    assert balances(baraka)["KES"].amount == 300 and api.client.get(path, headers=officer).get_json()["data"] == []
    mine = api.client.get("/v1/wallet/history", headers=api.login("0712000002"))  # review7 F6: an ordinary receipt
    [line] = mine.get_json()
    assert (line["kind"], line["description"]) == ("p2p", f"transfer {row['id']}"), line
    assert "held" not in mine.get_data(as_text=True)
    again = api.client.post(
        f"{path}/{row['id']}/return", json={"note": "x"}, headers=auth.stepped_up(officer, code=codes[2])
    )
    assert again.status_code in (409, 422) and again.mimetype == "application/problem+json"
    assert balances(amina)["KES"].amount == 700


def test_a_frozen_tier_0_recipient_is_answered_as_if_it_were_not_frozen(api: WalletApi):
    """Review7 F1: a tier-0 wallet refuses a KES 6,000 send (``recipient_limit``) but, frozen by compliance, took it
    (201, held), so any sender learned of the freeze. Now the answers are the same frozen or not: 422
    ``recipient_limit`` for KES 6,000 with the same problem body, 201 delivered for KES 3,000 (held while frozen)."""
    amina = api.sign_up("0712000001")["user"]["id"]
    dedan = api.sign_up("0712000004")["user"]["id"]
    api.tier_1(amina)
    api.fund(amina, "20000")
    headers = api.login("0712000001", stepped_up=True)

    def send(amount: str, key: str) -> tuple[int, dict[str, Any]]:
        body = {"to": "0712000004", "amount": {"amount": amount, "asset": "KES"}}
        answer = api.client.post("/v1/wallet/transfers", json=body, headers={**headers, "Idempotency-Key": key})
        shown = answer.get_json()
        return answer.status_code, {
            k: v for k, v in shown.items() if k not in ("id", "instance", "created_at", "finished_at")
        }

    unfrozen = [send("6000", "f1-a"), send("3000", "f1-b")]
    api.services.kyc_review.freeze("usr_officer", dedan, PartyKind.PERSONAL, "STR 19 filed")
    frozen = [send("6000", "f1-c"), send("3000", "f1-d")]
    assert frozen == unfrozen, (frozen, unfrozen)
    assert unfrozen[0][0] == 422 and unfrozen[0][1]["code"] == "recipient_limit"
    assert unfrozen[1][0] == 201 and unfrozen[1][1]["state"] == "delivered"
    balances = api.services.wallets.balances
    assert balances(dedan)["KES"].amount == 3000 and balances(amina)["KES"].amount == 14000
    assert [t.amount for t in api.services.wallets.held_sends().waiting()] == [Money.of("3000", KES)]


def test_one_wallet_checks_at_most_send_rate_limit_recipients_a_minute(api: WalletApi):
    """Review6 F6: each send answers whether a number or username has a wallet (404, an invitation, the recipient's
    tier), so a wallet may not probe recipients at the general 600 a minute: past ``send_rate_limit`` sends a minute,
    refused or not, a 429 problem with Retry-After before anything is looked up; the next minute it may send again."""
    from cryptopay_http import ApiSettings

    api.sign_up("0712000095")
    headers = api.login("0712000095")
    api, window = in_one_window(api)
    limit = ApiSettings(token_secret="x" * 32).send_rate_limit
    assert 0 < limit < ApiSettings(token_secret="x" * 32).rate_limit

    def probe(n: int) -> Any:
        body = {"to": f"nobody{n}", "amount": {"amount": "100", "asset": "KES"}}
        return api.client.post("/v1/wallet/transfers", json=body, headers={**headers, "Idempotency-Key": f"f6-{n}"})

    codes = [probe(n).status_code for n in range(limit)]
    assert codes == [404] * limit, codes
    refused = probe(limit)
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json", refused.get_data()
    assert int(refused.headers["Retry-After"]) > 0
    window.advance(minutes=1)
    assert probe(limit + 1).status_code == 404


def test_a_send_refused_for_its_pace_runs_again_under_the_same_key_after_retry_after(api: WalletApi):
    """Review7 F4: a 429 was stored as the key's answer, so the integrator's documented habit (wait Retry-After,
    resend the same request with the same Idempotency-Key) got the stale 429 forever. Now a 429 does not use up its
    key: after the window the same key sends (201, not a replay), and a third post replays that 201."""
    from cryptopay_http import ApiSettings

    amina = api.sign_up("0712000001")["user"]["id"]
    api.sign_up("0712000002")
    api.tier_1(amina)
    api.fund(amina, "1000")
    headers = api.login("0712000001")
    api, window = in_one_window(api)
    limit = ApiSettings(token_secret="x" * 32).send_rate_limit
    for n in range(limit):
        body = {"to": f"nobody{n}", "amount": {"amount": "100", "asset": "KES"}}
        api.client.post("/v1/wallet/transfers", json=body, headers={**headers, "Idempotency-Key": f"f4-{n}"})
    keyed = {**headers, "Idempotency-Key": "retry-after-429"}
    body = {"to": "0712000002", "amount": {"amount": "100", "asset": "KES"}}
    refused = api.client.post("/v1/wallet/transfers", json=body, headers=keyed)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0, refused.get_json()
    window.advance(seconds=int(refused.headers["Retry-After"]) + 1)
    sent = api.client.post("/v1/wallet/transfers", json=body, headers=keyed)
    assert sent.status_code == 201 and "Idempotent-Replayed" not in sent.headers, sent.get_json()
    again = api.client.post("/v1/wallet/transfers", json=body, headers=keyed)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == sent.get_json()["id"]
    assert api.services.wallets.balances(amina)["KES"].amount == 900


def test_the_send_limit_is_documented_on_the_send_operation(api: WalletApi):
    """F6's limit is in the send's OpenAPI description with its default and setting, and its 429 problem listed."""
    spec = api.client.get("/openapi.json").get_json()
    send = spec["paths"]["/v1/wallet/transfers"]["post"]
    assert "30 per minute per wallet" in send["description"] and "`send_rate_limit`" in send["description"]
    assert "429" in send["responses"]


def test_this_wasn_t_me_removes_a_typed_email_from_a_wallet_and_never_disables_it(api: WalletApi):
    """revpass6 P5: the sign-up mail (review6 F7) goes to whatever address was typed; its holder pressing "this
    wasn't me", as the mail asks, disabled the phone's wallet (its owner locked out of the money). Now the address is
    only removed from the wallet (audited account=kept; the mail and the page say so, English and Swahili); the owner
    still logs in by phone, and the removed address never resets the password."""
    address, phone = "typo5@example.co.ke", "254712000055"
    api.sign_up("0712000055", username="ezra_p5", email=address)
    notifier = api.services.notifier
    assert isinstance(notifier, FileNotifier)
    proof = [n for n in notifier.read() if n.to == address][-1]
    assert "contact address of a cryptopay wallet" in proof.body and "the wallet stays its owner's" in proof.body
    token = re.search(r"release#token=(\S+)", proof.body).group(1)
    form = api.client.get("/verify-email/release", headers={"Accept-Language": "sw"}).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    released = api.client.post(
        "/verify-email/release", data={"csrf_token": csrf, "token": token}, headers={"Accept-Language": "sw"}
    )
    assert released.status_code == 200 and "Anwani yako imeondolewa kwenye pochi hiyo" in released.get_data(
        as_text=True
    )
    assert [n for n in notifier.read() if n.to == address][-1].subject == "Your email was removed"
    login = api.client.post("/v1/auth/login", json={"email": phone, "password": PASSWORD})
    assert login.status_code == 200, login.get_json()
    me = api.client.get("/v1/me", headers={"Authorization": f"Bearer {login.get_json()['access_token']}"})
    assert me.status_code == 200 and me.get_json().get("email") is None, me.get_json()
    with api.services.uow() as uow:
        records = [r for r in uow.audit.records() if r.action == "auth.email_released"]
    assert [dict(r.details) for r in records] == [{"account": "kept"}]
    assert api.client.post("/v1/auth/password-reset", json={"email": address}).status_code == 202
    assert not any("token=" in n.body for n in notifier.read() if n.to == address and n.subject != proof.subject)


def test_registering_an_address_a_wallet_typed_offers_to_remove_it_and_the_wallet_stays(api: WalletApi):
    """revpass6 P5, the registration's mail: a merchant registering an address a wallet gave unproven is told a
    wallet holds it as its contact and may remove it (not "the account is disabled"); after the removal the wallet
    still logs in by phone and the merchant registers the address."""
    address = "shop5@example.co.ke"
    api.sign_up("0712000056", username="wanjiru_p5", email=address)
    notifier = api.services.notifier
    assert isinstance(notifier, FileNotifier)
    body = {"email": address, "password": PASSWORD, "role": "merchant"}
    assert api.client.post("/v1/auth/register", json=body).status_code == 202
    taken = [n for n in notifier.read() if n.to == address][-1]
    assert "A cryptopay wallet gave this email as its contact" in taken.body and "is disabled" not in taken.body
    token = re.search(r"release#token=(\S+)", taken.body).group(1)
    assert api.client.post("/v1/auth/email/release", json={"token": token}).status_code == 204
    assert api.client.post("/v1/auth/login", json={"email": "254712000056", "password": PASSWORD}).status_code == 200
    assert api.client.post("/v1/auth/register", json=body).status_code == 202
    assert api.client.post("/v1/auth/login", json={"email": address, "password": PASSWORD}).status_code == 200


def test_a_wallet_s_proof_link_opens_the_portal_where_its_own_login_confirms_the_email(api: WalletApi):
    """revpass6 P6: the proof link of a wallet's email opened /verify-email, which reads only the dashboard's login
    (the portal's cookie never reaches it) and spoke of API keys; it now opens /app/verify-email, where the wallet's
    own portal login and its password confirm it (English and Swahili), and a reset then works."""
    address, phone = "amani6@example.co.ke", "254712000066"
    api.sign_up("0712000066", username="amani_p6", email=address)
    notifier = api.services.notifier
    assert isinstance(notifier, FileNotifier)
    proof = [n for n in notifier.read() if n.to == address][-1]
    token = re.search(r"/app/verify-email#token=(\S+)", proof.body).group(1)
    client = api.client
    assert client.get("/app/verify-email").status_code == 303  # the portal's login first
    login = client.get("/app/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    logged = client.post("/app/login", data={"csrf_token": csrf, "phone": "0712000066", "password": PASSWORD})
    assert logged.status_code == 303, logged.get_data(as_text=True)
    form = client.get("/app/verify-email", headers={"Accept-Language": "sw"}).get_data(as_text=True)
    assert "Andika nenosiri la pochi yako" in form
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    wrong = client.post("/app/verify-email", data={"csrf_token": csrf, "token": token, "password": "not it at all"})
    assert wrong.status_code == 403
    done = client.post("/app/verify-email", data={"csrf_token": csrf, "token": token, "password": PASSWORD})
    assert done.status_code == 200 and "a forgotten password can now be reset" in done.get_data(as_text=True)
    assert client.post("/v1/auth/password-reset", json={"email": address}).status_code == 202
    assert "reset-password#token=" in [n for n in notifier.read() if n.to == address][-1].body
    assert api.client.post("/v1/auth/login", json={"email": phone, "password": PASSWORD}).status_code == 200
