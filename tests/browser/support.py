"""Browser-test plumbing: the real stack (sandbox with anvil, the API, the worker), a merchant, Chromium, axe-core.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``scripts/with-services.sh`` when missing), launched by
path: Playwright's own browser downloads are never used. axe-core comes from npm (``node_modules/axe-core``) and is
evaluated in the page through the DevTools protocol, so the pages' strict CSP stays on.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from cryptopay.adapters.notify import FileNotifier
from cryptopay.sandbox.anvil import ERC20_TRANSFER
from cryptopay_cli.demo_e2e import Demo

from tests.support.mailbox import prove_email

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "node_modules/axe-core/axe.min.js"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
PASSWORD = "correct horse battery staple"
EMAIL = "owner@duka.example"
# Enough confirmations (1-second blocks) that the page is seen confirming before it is paid.
# The withdraw page quotes from the sandbox's Ethereum hot wallet (anvil's dev account 5: it estimates gas from there).
HOT_WALLET = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"
BROWSER_ENV = {
    "CRYPTOPAY_ETHEREUM_CONFIRMATIONS": "8",
    "CRYPTOPAY_WALLET_CONFIRMATIONS": "ethereum=4",
    "CRYPTOPAY_ETHEREUM_HOT_WALLET": HOT_WALLET,
    # the officers are made staff as the session starts: no day's wait before their first approval (review10 R10-8)
    "CRYPTOPAY_OFFICER_COOL_OFF_HOURS": "0",
}


class Merchant:
    """A merchant registered through the REST API, with a store taking USDT on the sandbox's Ethereum."""

    def __init__(self, demo: Demo) -> None:
        self.demo, self.api = demo, demo.api
        register = {"email": EMAIL, "password": PASSWORD, "role": "merchant"}
        httpx.post(f"{self.api}/v1/auth/register", json=register, timeout=30).raise_for_status()
        token = self._login()
        sent = FileNotifier(demo.workdir / "notifications.jsonl").read()  # the API's mail (its data dir)
        with httpx.Client(base_url=self.api, timeout=30) as client:  # the emailed link, as the merchant opens it
            prove_email(client, sent, EMAIL, {"Authorization": f"Bearer {token}"}, PASSWORD)
        settlement = {"schedule": "daily", "method": "mpesa_b2c", "destination": "254712345678"}
        created = self._call(
            "POST", "/v1/merchants", token, {"business_name": "Duka la Mama Njeri", **{"settlement": settlement}}
        )
        self.id = created["id"]
        self.token = self._login()
        self._call("PUT", f"/v1/merchants/{self.id}/store", self.token, {"rails": ["usdt-ethereum"]})

    def _login(self) -> str:
        answer = httpx.post(f"{self.api}/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30)
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def _call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        answer = httpx.request(method, f"{self.api}{path}", json=body, headers=headers, timeout=30)
        assert answer.status_code < 400, answer.text
        return answer.json()

    def invoice(self, amount: str = "1500", **extra: Any) -> dict[str, Any]:
        body = {"amount": amount, "currency": "KES", "order_id": f"B-{secrets.token_hex(3)}", **extra}
        return dict(self._call("POST", "/v1/invoices", self.token, body))

    def pay(self, option: dict[str, Any]) -> str:
        """Send the option's amount of test USDT from a funded anvil account; returns the transaction hash."""
        from web3 import Web3

        evm = self.demo.manifest["evm"]
        payer = evm["funded_accounts"][1]
        w3 = Web3(Web3.HTTPProvider(evm["rpc_url"]))
        token = w3.eth.contract(address=evm["usdt"]["address"], abi=ERC20_TRANSFER)
        units = int(Decimal(option["amount"]).scaleb(6))
        tx = token.functions.transfer(Web3.to_checksum_address(option["address"]), units).build_transaction(
            {
                "from": payer["address"],
                "nonce": w3.eth.get_transaction_count(payer["address"]),
                "chainId": w3.eth.chain_id,
            }
        )
        signed = w3.eth.account.sign_transaction(tx, payer["private_key"])
        return str(w3.eth.send_raw_transaction(signed.raw_transaction).hex())


ADMIN_EMAIL = "chief@cryptopay.example"


def cli(demo: Demo, *args: str, stdin: str | None = None) -> str:
    """Run ``cryptopay ARGS`` against the stack, as its operator would; its standard output."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "cryptopay_cli.main", *args],
        input=stdin,
        env=demo.env,
        check=True,
        text=True,
        capture_output=True,
        timeout=180,  # a bound, not a timing: a command takes seconds
    )
    return done.stdout


class Staff:
    """A staff account made by the operator's CLI (``cryptopay users create-admin``, then ``set-role`` for another
    staff role), or, ``made_by`` an admin, registered and then given its role by that admin on the console (two
    officers the same person made staff never approve each other's proposals: review10 R10-8); enrolled in TOTP
    through the API; ``codes`` are its recovery codes, one per browser login, ``secret`` its TOTP secret."""

    def __init__(
        self, demo: Demo, email: str = ADMIN_EMAIL, role: str = "admin", *, made_by: tuple[Staff, Any] | None = None
    ) -> None:

        self.email = email
        if made_by is None:
            cli(demo, "users", "create-admin", "--email", email, "--password-stdin", stdin=PASSWORD + "\n")
            if role != "admin":
                cli(demo, "users", "set-role", email, role)
        else:
            _made_staff_on_the_console(demo, email, role, *made_by)
        api = demo.api
        login = httpx.post(f"{api}/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        step = httpx.post(f"{api}/v1/auth/step-up", json={"password": PASSWORD}, headers=headers, timeout=30)
        stepped = {**headers, "X-Step-Up-Token": step.json()["step_up_token"]}
        secret = httpx.post(f"{api}/v1/auth/2fa/enrol", headers=stepped, timeout=30).json()["secret"]
        self.secret, self.used_step = secret, -1
        confirm = {"code": self.fresh_code()}
        confirmed = httpx.post(f"{api}/v1/auth/2fa/confirm", json=confirm, headers=headers, timeout=30)
        assert confirmed.status_code == 200, confirmed.text
        self.codes: list[str] = list(confirmed.json()["recovery_codes"])

    def fresh_code(self) -> str:
        """A TOTP code of a time step after the last one this account used: the server never takes a step twice
        (a code seen over a shoulder is not replayed), so a second code within the same 30 s would be refused as
        used. Waits for the next step when needed (at most one step)."""
        import pyotp

        totp = pyotp.TOTP(self.secret)
        while True:
            now = datetime.now(UTC)
            if (step := totp.timecode(now)) > self.used_step:
                self.used_step = step
                return str(totp.at(now))
            time.sleep(0.25)

    def login(self, page: Any, api: str, target: str = "/console/audit") -> None:
        """Log in on the page with the password and then a recovery code."""
        page.goto(f"{api}/dashboard/login?next={target}")
        page.locator("#email").fill(self.email)
        page.locator("#password").fill(PASSWORD)
        page.locator("button[type=submit]").click()
        page.locator("#code").fill(self.codes.pop())
        page.locator("#password").fill(PASSWORD)
        page.locator("button[type=submit]").click()
        page.wait_for_url(f"**{target}")


def _made_staff_on_the_console(demo: Demo, email: str, role: str, admin: Staff, browser: Any) -> None:
    """A merchant login registered on the API, given ``role`` by ``admin`` on the console's account page (its
    one-time code from the authenticator)."""

    api = demo.api
    register = {"email": email, "password": PASSWORD, "role": "merchant"}
    httpx.post(f"{api}/v1/auth/register", json=register, timeout=30).raise_for_status()
    login = httpx.post(f"{api}/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    user_id = httpx.get(f"{api}/v1/me", headers=headers, timeout=30).json()["id"]
    context = browser.new_context()
    page = context.new_page()
    admin.login(page, api, f"/console/accounts/{user_id}")
    page.locator("#role-value").select_option(role)
    page.locator("#role-code").fill(admin.fresh_code())
    with page.expect_navigation():
        page.locator("form[action$='/role'] button[type=submit]").click()
    context.close()


class Admin(Staff):
    """The stack's admin."""

    def __init__(self, demo: Demo) -> None:
        super().__init__(demo, ADMIN_EMAIL, "admin")


def kyc_applicant(demo: Demo, email: str, legal_name: str = "Wanjiku Kamau") -> str:
    """A personal customer (registered over REST) whose tier-2 application (ID photos and a selfie: two officers)
    is submitted; returns the application id."""
    import io

    from PIL import Image

    api = demo.api
    register = {"email": email, "password": PASSWORD, "role": "personal"}
    httpx.post(f"{api}/v1/auth/register", json=register, timeout=30).raise_for_status()
    login = httpx.post(f"{api}/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    person = {
        "level": 2,
        "legal_name": legal_name,
        "date_of_birth": "1990-05-17",
        "id_type": "national_id",
        "id_number": f"{secrets.randbelow(90_000_000) + 10_000_000}",
        "phone": "0712345678",
        "address": "Moi Avenue 12, Nairobi",
    }
    created = httpx.post(f"{api}/v1/kyc/applications", json=person, headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    app_id = str(created.json()["id"])
    for n, kind in enumerate(("id_front", "id_back", "selfie")):
        buffer = io.BytesIO()
        Image.new("RGB", (640, 480), (200, 120 + 40 * n, 40)).save(buffer, format="JPEG")
        body = {"kind": kind, "content_base64": base64.b64encode(buffer.getvalue()).decode()}
        uploaded = httpx.post(f"{api}/v1/kyc/applications/{app_id}/documents", json=body, headers=headers, timeout=30)
        assert uploaded.status_code == 201, uploaded.text
    submitted = httpx.post(f"{api}/v1/kyc/applications/{app_id}/submit", headers=headers, timeout=30)
    assert submitted.status_code == 200, submitted.text
    return app_id


def sms_code(demo: Demo, phone: str) -> str:
    """The latest one-time code the SMS simulator accepted for ``phone`` (``2547...``), as the person reads it."""
    import re

    outbox = f"{demo.env['CRYPTOPAY_SMS_BASE_URL'].rstrip('/')}/_sandbox/sms/outbox"
    messages = httpx.get(outbox, params={"to": phone}, timeout=30).json()["messages"]
    found = re.search(r"\b(\d{6})\b", messages[-1]["text"])
    assert found, messages
    return found.group(1)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical axe-core violations of the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def paid_to_no_wallet(live: Demo, account: str) -> str:
    """A customer pays our paybill from the SIM menu naming no wallet (the Daraja simulator's C2B); the payment's id
    once the worker's Transaction Status query verified it and it waits in suspense for staff."""
    cli(live, "wallets", "paybill-register")
    daraja = live.manifest["daraja"]
    base, keys = daraja["base_url"], (str(daraja["consumer_key"]), str(daraja["consumer_secret"]))
    grant = httpx.get(f"{base}/oauth/v1/generate", params={"grant_type": "client_credentials"}, auth=keys, timeout=10)
    body = {
        "ShortCode": daraja["shortcode"],
        "CommandID": "CustomerPayBillOnline",
        "Amount": "150",
        "Msisdn": "254708374149",
        "BillRefNumber": account,
    }
    headers = {"Authorization": f"Bearer {grant.json()['access_token']}"}
    httpx.post(f"{base}/mpesa/c2b/v1/simulate", json=body, headers=headers, timeout=10).raise_for_status()
    deadline = time.monotonic() + 120  # the worker asks Transaction Status every 15 s
    while time.monotonic() < deadline:
        listed = json.loads(cli(live, "wallets", "paybill-payments", "--state", "suspended", "--json"))["payments"]
        found = [p["id"] for p in listed if p["bill_ref"] == account]
        if found:
            return str(found[0])
        time.sleep(2)
    raise AssertionError(f"no suspended paybill payment for {account!r} within 120 s")
