"""Outside review H8, H13, H18 and H19 over the API, on the real Redis (the rate limiter every API process shares).

H8, SMS pumping: wallet sign-up texted a code to any number, 30 a minute per client address with no cap across
numbers. Now the number's range, a client address's day and the whole deployment's hour bound what codes cost, in
Redis (two API processes share the budget), before the number is looked up (a customer's number is refused alike),
counted on ``/metrics``. H13: reserved usernames. H18: a wallet's quotes have the FX quote limit. H19: a send by
phone below an invitation's worth is refused whoever holds the number, so a cent no longer finds customers.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from cryptopay.adapters.bootstrap import Services, build, ready
from cryptopay.adapters.bootstrap import Settings as RootSettings
from cryptopay.adapters.sms.file import FileSms
from flask.testing import FlaskClient

from tests.integration.http.http_support import PASSWORD, fast_hasher, make_app
from tests.integration.http.test_http_wallet import WalletApi, _api
from tests.support.fx_sandbox import running_fx_sandbox
from tests.support.sql_backends import migrated_sqlite

pytestmark = pytest.mark.redis

METRICS_TOKEN = secrets.token_urlsafe(32)
PER_HOUR, PER_ADDRESS = 6, 3


@attrs.frozen
class Deployment:
    """Two API processes of one deployment (one database, one Redis namespace) and the SMS they sent."""

    first: FlaskClient
    second: FlaskClient
    services: tuple[Services, Services]
    sms_file: Path

    def texts(self) -> list[str]:
        return [m.to for m in FileSms(self.sms_file).read()] if self.sms_file.exists() else []


def _env(tmp_path: Path, redis_url: str, **extra: str) -> dict[str, str]:
    env = {
        "CRYPTOPAY_DATA_DIR": str(tmp_path),
        "CRYPTOPAY_REDIS_URL": redis_url,
        "CRYPTOPAY_DEPLOYMENT": f"sms{uuid.uuid4().hex[:8]}",  # a fresh budget: its own Redis keys
        **extra,
    }
    migrated_sqlite(env)
    return env


@pytest.fixture
def deployment(tmp_path: Path, redis_url: str) -> Iterator[Deployment]:
    env = _env(
        tmp_path,
        redis_url,
        CRYPTOPAY_SIGNUP_SMS_PER_HOUR=str(PER_HOUR),
        CRYPTOPAY_SIGNUP_SMS_PER_ADDRESS_PER_DAY=str(PER_ADDRESS),
    )
    roots = (build(RootSettings.from_env(env)), build(RootSettings.from_env(env)))
    try:
        services = tuple(attrs.evolve(root, password_hasher=ready(fast_hasher())) for root in roots)
        clients = [make_app(s, metrics_token=METRICS_TOKEN).test_client() for s in services]
        yield Deployment(clients[0], clients[1], (services[0], services[1]), tmp_path / "sms.jsonl")
    finally:
        for root in roots:
            root.close()


@pytest.fixture
def wallets(tmp_path: Path, redis_url: str) -> Iterator[WalletApi]:
    """The wallet API with prices (quotes; USDT sends valued by the FX simulator), its limits counted in Redis."""
    with running_fx_sandbox() as fx:
        yield from _api(_env(tmp_path, redis_url, CRYPTOPAY_FX_SANDBOX_URL=fx.url), tmp_path)


def _start(client: FlaskClient, phone: str, address: str) -> tuple[int, dict]:
    answer = client.post("/v1/wallet/signup", json={"phone": phone}, environ_base={"REMOTE_ADDR": address})
    return answer.status_code, answer.get_json()


def _code(deployment: Deployment, phone: str) -> str:
    texts = [m.text for m in FileSms(deployment.sms_file).read() if m.to == phone]
    return texts[-1].split("code is ")[1][:6]


def _refused(deployment: Deployment) -> dict[str, float]:
    """The two processes' ``cryptopay_signup_sms_refused_total`` by reason, summed as Prometheus would."""
    found: dict[str, float] = {}
    for client in (deployment.first, deployment.second):
        text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(as_text=True)
        assert "cryptopay_signup_sms_budget_per_hour 6.0" in text, text
        for line in text.splitlines():
            if line.startswith("cryptopay_signup_sms_refused_total{"):
                reason = line.split('"')[1]
                found[reason] = found.get(reason, 0) + float(line.rsplit(" ", 1)[1])
    return found


def test_one_address_gets_its_day_s_codes_then_a_429_whichever_api_process_it_asks(deployment: Deployment):
    """H8: 45 numbers from one address were 45 codes; now the address's day (3 here) over both processes, then
    429 signup_address_limit with Retry-After; another address still gets its codes."""
    answers = [
        _start(deployment.first if n % 2 else deployment.second, f"07330000{n:02d}", "198.51.100.7")[0]
        for n in range(5)
    ]
    assert answers == [202, 202, 202, 429, 429], answers
    status, body = _start(deployment.first, "0733000099", "198.51.100.7")
    assert (status, body["code"]) == (429, "signup_address_limit"), body
    assert len(deployment.texts()) == PER_ADDRESS
    assert _start(deployment.second, "0733000098", "203.0.113.9")[0] == 202
    assert _refused(deployment)["address"] == 3


def test_the_deployment_s_hourly_budget_refuses_everyone_alike_and_is_counted(deployment: Deployment):
    """H8: many addresses (a botnet) share one budget for the deployment, in Redis: past it every sign-up is a 429
    sms_budget_exhausted, the same for a customer's number as for a stranger's, and nothing more is texted."""
    first = _start(deployment.first, "0712000001", "192.0.2.1")[1]
    done = deployment.first.post(
        f"/v1/wallet/signup/{first['verification_id']}/complete",
        json={"code": _code(deployment, "254712000001"), "password": PASSWORD},
    )
    assert done.status_code == 201, done.get_json()
    for n in range(2, PER_HOUR + 1):
        client = deployment.second if n % 2 else deployment.first
        assert _start(client, f"07120000{n:02d}", f"192.0.2.{n}")[0] == 202
    sent = len(deployment.texts())
    assert sent == PER_HOUR
    customer = _start(deployment.first, "0712000001", "192.0.2.101")
    stranger = _start(deployment.second, "0712000077", "192.0.2.102")
    assert customer[0] == stranger[0] == 429 and customer[1]["code"] == stranger[1]["code"] == "sms_budget_exhausted"
    assert {k: v for k, v in customer[1].items() if k != "instance"} == {
        k: v for k, v in stranger[1].items() if k != "instance"
    }
    answer = deployment.first.post(
        "/v1/wallet/signup", json={"phone": "0712000078"}, environ_base={"REMOTE_ADDR": "192.0.2.103"}
    )
    assert int(answer.headers["Retry-After"]) > 0
    assert len(deployment.texts()) == sent
    assert _refused(deployment)["budget"] == 3


def test_a_number_outside_the_operators_ranges_gets_no_code_and_spends_nothing(deployment: Deployment):
    """H8: a range no mobile operator we text gives out (0747: a fixed-wireless operator; 0767) is a 422
    sms_range_refused before anything is counted or sent; a Safaricom, Airtel or Telkom number is texted."""
    for phone in ("0747123456", "+254767123456", "0120123456"):
        status, body = _start(deployment.first, phone, "198.51.100.30")
        assert (status, body["code"]) == (422, "sms_range_refused"), body
    assert deployment.texts() == []
    for phone in ("0722123456", "0110123456", "0773123456"):  # Safaricom, Safaricom's 01XX, Telkom
        assert _start(deployment.first, phone, "198.51.100.31")[0] == 202
    assert _refused(deployment)["range"] == 3


@pytest.mark.parametrize("username", ["admin", "Support", "supp0rt", "s_u_p_p_o_r_t", "mpesa_agent", "CryptoPay1"])
def test_a_reserved_username_or_a_look_alike_is_a_422_and_creates_nothing(deployment: Deployment, username: str):
    """H13: `admin` could be taken (then "send the fee to @admin"); reserved names, their look-alikes and names
    containing a brand are 422 reserved_username; the same code then signs up with an ordinary name."""
    started = _start(deployment.first, "0712000021", "198.51.100.40")[1]
    path = f"/v1/wallet/signup/{started['verification_id']}/complete"
    code = _code(deployment, "254712000021")
    refused = deployment.first.post(path, json={"code": code, "password": PASSWORD, "username": username})
    assert refused.status_code == 422 and refused.get_json()["code"] == "reserved_username", refused.get_json()
    assert refused.get_json()["errors"][0]["field"] == "username"
    done = deployment.first.post(path, json={"code": code, "password": PASSWORD, "username": "wanjiku_k"})
    assert done.status_code == 201 and done.get_json()["wallet"]["username"] == "wanjiku_k"


def test_a_wallet_s_quotes_have_the_fx_quote_limit(wallets: WalletApi):
    """H18: 165 locked quotes a minute from one wallet; now 30 a minute (quote_rate_limit, as GET /v1/fx/quote),
    then 429 with Retry-After; another wallet still gets its own."""
    wallets.sign_up("0712000031")
    wallets.sign_up("0712000032")
    headers = wallets.login("0712000031")
    answers = [wallets.client.post("/v1/wallet/quotes", json={"side": "buy"}, headers=headers) for _ in range(31)]
    assert [a.status_code for a in answers] == [201] * 30 + [429], answers[-1].get_json()
    assert int(answers[-1].headers["Retry-After"]) > 0
    other = wallets.client.post("/v1/wallet/quotes", json={"side": "buy"}, headers=wallets.login("0712000032"))
    assert other.status_code == 201


def _send(wallets: WalletApi, headers: dict[str, str], to: str, amount: str, currency: str) -> tuple[int, dict]:
    answer = wallets.client.post(
        "/v1/wallet/transfers",
        json={"to": to, "amount": amount, "currency": currency},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    return answer.status_code, answer.get_json()


def test_a_small_send_by_phone_no_longer_tells_who_is_a_customer(wallets: WalletApi):
    """H19: 0.0001 USDT was delivered to a customer and refused "no wallet yet" for anyone else. Now a send by
    phone worth less than an invitation (KES 50) is refused alike whoever holds the number, and any send is worth
    at least KES 10 (by username too); nothing moves. From KES 50 the answers differ as before, at an invitation's
    cost (the invitation limits)."""
    amina = wallets.sign_up("0712000041")["user"]["id"]
    wallets.sign_up("0712000042", username="baraka")
    wallets.tier_1(amina)
    wallets.fund(amina, "5000")
    headers = wallets.login("0712000041")
    for amount, currency in (("0.0001", "USDT"), ("10", "KES"), ("49.99", "KES")):
        customer = _send(wallets, headers, "0712000042", amount, currency)
        stranger = _send(wallets, headers, "0799000123", amount, currency)
        assert customer[0] == stranger[0] == 422, (customer, stranger)
        assert customer[1]["code"] == stranger[1]["code"] == "send_below_minimum"
        assert customer[1]["detail"] == stranger[1]["detail"] and customer[1]["minimum"] == "50.00"
    status, body = _send(wallets, headers, "@baraka", "9.99", "KES")
    assert (status, body["code"]) == (422, "send_below_minimum")
    assert wallets.client.get("/v1/wallet/transfers", headers=headers).get_json()["data"] == []
    assert _send(wallets, headers, "@baraka", "10", "KES")[1]["state"] == "delivered"
    assert _send(wallets, headers, "0712000042", "50", "KES")[1]["state"] == "delivered"
    assert _send(wallets, headers, "0799000123", "50", "KES")[1]["state"] == "awaiting_claim"
