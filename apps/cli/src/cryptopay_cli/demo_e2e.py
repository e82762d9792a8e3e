"""The end-to-end demos: a merchant is paid in crypto and receives shillings over M-Pesa.

``Demo.run`` (``cryptopay demo``): USDT on a local Ethereum node. ``Demo.run_btc_tron`` (``cryptopay demo
btc-tron``): one invoice paid in BTC on the Esplora simulator and one in USDT on the TronGrid simulator, each
confirmed by its network's own signal (Bitcoin blocks, Tron's solidified blocks) and settled to KES at its own
quote (BTC/KES is USD/KES x the markets' median BTC/USD).

It starts the sandbox (anvil with test USDT, the Daraja and FX simulators), the REST API on SQLite and the worker
in embedded mode (inline queue), then acts as a client of the REST API only: registers a merchant, creates an API
key and a webhook endpoint, creates an invoice of KES 5,000 payable in USDT on ethereum, pays it from a funded test
account, waits for it to settle, runs the merchant's settlement and waits for the B2C result. Everything it starts,
it stops. The last line printed is one JSON object.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from cryptopay.adapters._paths import private_dir, private_file
from cryptopay.adapters._processes import die_with_parent

DEMO_MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
MERCHANT_PHONE = "254708374149"  # Safaricom's public sandbox test MSISDN
TRON_PAYER = "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"  # any customer's address: the simulator funds it on the fly


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code == 200


class _Receiver(http.server.ThreadingHTTPServer):
    """A merchant's webhook endpoint: keeps what it receives and whether the signature verified."""

    secret = ""
    received: list[dict[str, Any]]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        from cryptopay.core.errors import InvalidInput
        from cryptopay.core.webhooks.signing import verify

        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            verify(self.server.secret, {k.lower(): v for k, v in self.headers.items()}, body, now=datetime.now(UTC))
            ok = True
        except InvalidInput:  # a bad signature, or no secret yet: answer 400 as a merchant would
            ok = False
        event = {"type": json.loads(body or b"{}").get("type"), "verified": ok, "id": self.headers.get("webhook-id")}
        self.server.received.append(event)
        self.send_response(204 if ok else 400)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


class Demo:
    """One run of the demo; ``say`` narrates (it may be a no-op for ``--json``)."""

    def __init__(
        self,
        workdir: Path,
        say: Callable[[str], None],
        *,
        timeout: float = 120.0,
        database_url: str | None = None,
        redis_url: str | None = None,
        apis: int = 1,
        workers: int = 1,
        env: Mapping[str, str] | None = None,
        mnemonic: str = DEMO_MNEMONIC,
    ) -> None:
        self.apis, self.workers = apis, workers  # scale-out: N API processes and N workers on one database
        self.workdir = workdir
        self.database_url = database_url or f"sqlite:///{workdir / 'cryptopay.db'}"
        self.redis_url = redis_url
        self.say = say
        self.timeout = timeout
        self.started = time.monotonic()
        self.rails = ["usdt-ethereum"]  # the store's rails (the second flow: btc-bitcoin and usdt-tron)
        self._processes: list[subprocess.Popen[bytes]] = []
        self.env: dict[str, str] = {}
        self.extra_env = dict(env or {})  # settings over the demo's own (the browser tests: more confirmations)
        # The deposit keys' seed: demos sharing one sandbox each take their own, so none sees another's addresses.
        self.mnemonic = mnemonic

    # -- plumbing -------------------------------------------------------------------------------------------
    def step(self, text: str) -> None:
        self.say(f"[{time.monotonic() - self.started:6.1f}s] {text}")

    def _cli(self, *args: str, env: dict[str, str] | None = None, input_text: str | None = None) -> str:
        command = [sys.executable, "-m", "cryptopay_cli.main", *args]
        done = subprocess.run(  # noqa: S603
            command, env=env or self.env, capture_output=True, text=True, timeout=180, input=input_text
        )
        if done.returncode != 0:
            raise RuntimeError(f"`cryptopay {' '.join(args)}` failed: {done.stderr.strip()[-500:]}")
        return done.stdout

    def _spawn(self, name: str, *args: str) -> None:
        log = private_file(self.workdir / f"{name}.log").open("ab")  # logs are private (0600), like the data
        # Each ends with this process, even one killed outright (a stopped test run): no API or worker left behind.
        self._processes.append(
            subprocess.Popen([*args], env=self.env, stdout=log, stderr=log, preexec_fn=die_with_parent())  # noqa: S603
        )

    def _wait(self, what: str, check: Callable[[], Any], *, timeout: float | None = None) -> Any:
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            try:
                if result := check():
                    return result
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.25)
        raise TimeoutError(f"timed out waiting for {what}; logs are in {self.workdir}")

    # -- the stack ------------------------------------------------------------------------------------------
    def start(self) -> None:
        from cryptopay.adapters.evm.keys import account_xpub

        shutil.rmtree(self.workdir, ignore_errors=True)
        private_dir(self.workdir)
        base_env = {**os.environ, "CRYPTOPAY_DATA_DIR": str(self.workdir.parent)}
        # A sandbox already running there (`cryptopay serve --dev` uses it) is reused and left running afterwards.
        from cryptopay_cli.commands.sandbox import sandbox_running

        self.sandbox_env = None if sandbox_running(self.workdir.parent) else base_env
        # A sandbox this demo starts stops once this process has ended, however abruptly.
        up = ["sandbox", "up", "--block-time", "1", "--json", "--exit-with", str(os.getpid())]
        manifest = json.loads(self._cli(*up, env=base_env))
        self.manifest = manifest
        # M-Pesa's own record of this run starts after what the sandbox did before (a sandbox may be reused).
        self.mpesa_before = len(self._mpesa_transactions())
        evm = manifest["evm"]
        self.step(
            f"sandbox up: anvil {evm['rpc_url']} (chain {evm['chain_id']}), test USDT {evm['usdt']['address']}, "
            f"Daraja {manifest['daraja']['base_url']}"
        )
        self.api_port = _free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.env = {
            **base_env,
            **manifest["env"],
            "CRYPTOPAY_DATA_DIR": str(self.workdir),
            "CRYPTOPAY_DATABASE_URL": self.database_url,
            "CRYPTOPAY_TOKEN_SECRET": secrets.token_urlsafe(48),
            "CRYPTOPAY_COOKIE_SECURE": "false",
            "CRYPTOPAY_WEBHOOK_ALLOW_LOOPBACK": "1",  # the demo's merchant receiver listens on loopback
            "CRYPTOPAY_PUBLIC_URL": self.api,
            "CRYPTOPAY_EVM_XPUB": account_xpub(self.mnemonic),
            "CRYPTOPAY_TRON_XPUB": account_xpub(self.mnemonic, coin=195),
            "CRYPTOPAY_BITCOIN_XPUB": account_xpub(self.mnemonic, purpose=84, coin=0),
            "CRYPTOPAY_ETHEREUM_CONFIRMATIONS": "2",
            "CRYPTOPAY_TRON_CONFIRMATIONS": "2",  # solidified blocks
            "CRYPTOPAY_BITCOIN_CONFIRMATIONS": "2",
            "CRYPTOPAY_SCAN_LOOKBACK_BLOCKS": "5",
            # One worker process per API (each imports the whole app): the demo's few requests need no more, and the
            # sandbox, the worker and the client share the machine with it. Scale-out is shown by ``apis``.
            "CRYPTOPAY_WEB_WORKERS": "1",
            **self.extra_env,
        }
        if self.redis_url:
            name = f"demo-{secrets.token_hex(4)}"  # its own Redis keys: job ids too, not only the queue
            self.env.update(CRYPTOPAY_REDIS_URL=self.redis_url, CRYPTOPAY_QUEUE_NAME=name, CRYPTOPAY_DEPLOYMENT=name)
        else:
            self.env.pop("CRYPTOPAY_REDIS_URL", None)
        self._cli("db", "upgrade")
        bin_dir = Path(sys.executable).parent
        self.api_ports = [self.api_port] + [_free_port() for _ in range(self.apis - 1)]
        for n, port in enumerate(self.api_ports):
            self._spawn(f"api{n or ''}", str(bin_dir / "cryptopay-http"), "--host", "127.0.0.1", "--port", str(port))
        if self.redis_url:
            worker = ["--redis-url", self.redis_url, "--queue", self.env["CRYPTOPAY_QUEUE_NAME"], "--no-fork"]
        else:
            worker = ["--inline"]
        for n in range(self.workers):
            self._spawn(f"worker{n or ''}", str(bin_dir / "cryptopay-worker"), "--fast", *worker)
        for port in self.api_ports:
            self._wait("the API", partial(_ready, f"http://127.0.0.1:{port}/readyz"), timeout=max(60.0, self.timeout))
        database = "PostgreSQL" if self.database_url.startswith("postgresql") else "SQLite"
        queue = "RQ on Redis" if self.redis_url else "the inline queue"
        self.step(f"API serving on {self.api} ({database}, {queue}); worker running")

    def stop(self) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()
        if getattr(self, "sandbox_env", None):
            try:
                self._cli("sandbox", "down", env=self.sandbox_env)
            except RuntimeError as error:
                self.say(f"warning: {error}")

    @contextmanager
    def running(self) -> Iterator[Demo]:
        try:
            self.start()
            yield self
        finally:
            self.stop()

    # -- the merchant's journey -----------------------------------------------------------------------------
    def _call(
        self, method: str, path: str, *, token: str, body: Any = None, key: str | None = None, step_up: str = ""
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        if key:
            headers["Idempotency-Key"] = key
        if step_up:
            headers["X-Step-Up-Token"] = step_up
        response = httpx.request(method, f"{self.api}{path}", json=body, headers=headers, timeout=30)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text[:400]}")
        return response.json() if response.content else None

    def _login(self, email: str, password: str) -> str:
        answer = httpx.post(f"{self.api}/v1/auth/login", json={"email": email, "password": password}, timeout=30)
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def _prove_email(self, email: str, password: str, token: str) -> None:
        """Open the emailed proof link as the merchant does: its token (from the demo's mail, the file notifier's
        ``notifications.jsonl``) with the merchant's login and password; keys, webhooks and a payout destination
        need a proven email."""
        from cryptopay.adapters.notify import FileNotifier

        mail = self._wait(
            "the email-proof link",
            lambda: [n for n in FileNotifier(self.workdir / "notifications.jsonl").read() if n.to == email],
        )
        found = re.search(r"/verify-email#token=(\S+)", mail[-1].body)
        if found is None:
            raise RuntimeError("the registration email carries no proof link")
        self._call("POST", "/v1/auth/email/verify", token=token, body={"token": found.group(1), "password": password})
        self.step(f"{email} proved through the emailed link (sandbox mail: {self.workdir / 'notifications.jsonl'})")

    def merchant_setup(self) -> None:
        email, password = "duka@example.co.ke", secrets.token_urlsafe(16)
        httpx.post(
            f"{self.api}/v1/auth/register", json={"email": email, "password": password, "role": "merchant"}, timeout=30
        ).raise_for_status()
        token = self._login(email, password)
        self._prove_email(email, password, token)
        merchant = self._call(
            "POST",
            "/v1/merchants",
            token=token,
            body={
                "business_name": "Duka la Mama Njeri",
                "settlement": {
                    "schedule": "instant",
                    "method": "mpesa_b2c",
                    "destination": MERCHANT_PHONE,
                    "minimum": {"amount": "100", "asset": "KES"},
                },
            },
        )
        self.merchant_id = merchant["id"]
        self.token = self._login(email, password)  # the new token carries the merchant
        self._call(
            "PUT",
            f"/v1/merchants/{self.merchant_id}/store",
            token=self.token,
            body={"rails": self.rails, "tolerance_percent": "0.5"},
        )
        # creating keys and webhook endpoints needs a fresh step-up (the password again)
        step_up = self._call("POST", "/v1/auth/step-up", token=self.token, body={"password": password})
        stepped = str(step_up["step_up_token"])
        key = self._call(
            "POST",
            f"/v1/merchants/{self.merchant_id}/api-keys",
            token=self.token,
            body={"name": "shop", "scopes": ["invoices:write", "invoices:read", "payouts:read"]},
            step_up=stepped,
        )
        self.api_key = key["secret"]
        self.receiver = _Receiver(("127.0.0.1", 0), _Handler)
        self.receiver.received = []
        threading.Thread(target=self.receiver.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{self.receiver.server_address[1]}/hooks/cryptopay"
        endpoint = self._call("POST", "/v1/webhook-endpoints", token=self.token, body={"url": url}, step_up=stepped)
        self.receiver.secret = endpoint["secret"]
        self.step(
            f"merchant {self.merchant_id} registered (instant settlement to M-Pesa {MERCHANT_PHONE}), "
            f"API key {key['key']['prefix']}…, webhook endpoint {url}"
        )

    def invoice_and_pay(self) -> dict[str, Any]:
        invoice = self._call(
            "POST",
            "/v1/invoices",
            token=self.api_key,
            key="demo-order-1001",
            body={"amount": "5000", "currency": "KES", "rails": ["usdt-ethereum"], "order_id": "1001"},
        )
        option = invoice["payment_options"][0]
        self.step(
            f"invoice {invoice['id']}: KES 5,000.00 -> pay {option['amount']} USDT to {option['address']} "
            f"(quote {invoice['quote']['id']} bid {invoice['quote']['bid']})"
        )
        self.step(f"payment URI {option['uri']}")
        payer, tx_hash, block = self.pay_usdt(option["address"], option["amount"])
        self.paid_at = time.monotonic()
        self.step(f"customer paid from {payer} in block {block} (tx {tx_hash[:18]}…)")
        settled = self._wait("the invoice to settle", lambda: self._settled(invoice["id"]))
        self.step(f"invoice {settled['state']} after the configured confirmations")
        return dict(settled)

    def pay_usdt(self, address: str, amount: str, *, payer: int = 0) -> tuple[str, str, int]:
        """Send ``amount`` test USDT on anvil from the sandbox's funded account ``payer`` to ``address``; returns
        (the payer's address, the transaction hash, its block) once mined."""
        from cryptopay.sandbox.anvil import send_token

        evm = self.manifest["evm"]
        account = evm["funded_accounts"][payer]
        units = int(Decimal(amount).scaleb(6))
        tx_hash, block = send_token(
            evm["rpc_url"], evm["usdt"]["address"], address, units, private_key=account["private_key"]
        )
        return str(account["address"]), tx_hash, block

    def _mpesa_transactions(self) -> list[dict[str, Any]]:
        """The Daraja simulator's own record of every transaction it made, oldest first."""
        state = httpx.get(f"{self.manifest['daraja']['base_url']}/sandbox/state", timeout=10).json()
        return list(state["transactions"])

    def _settled(self, invoice_id: str) -> dict[str, Any] | None:
        invoice = self._call("GET", f"/v1/invoices/{invoice_id}", token=self.api_key)
        return invoice if invoice["state"] == "settled" else None

    def settle_and_pay_out(self) -> dict[str, Any]:
        runs = self._call("POST", "/v1/settlements/run", token=self.token, body={}, key="demo-settlement-1")
        for run in runs["runs"]:
            self.step(
                f"settlement run for {run['merchant_id']}: {run['reason']} (instant settlement may already "
                "have been made by the worker)"
            )
        payout = self._wait("the B2C result", self._completed_payout)
        destination = payout.get("destination", MERCHANT_PHONE)
        self.step(
            f"payout {payout['id']}: KES {payout['amount']['amount']} to {destination} "
            f"completed, M-Pesa receipt {payout.get('receipt')}"
        )
        return dict(payout)

    def _completed_payout(self) -> dict[str, Any] | None:
        page = self._call("GET", "/v1/payouts", token=self.token)
        items = page["data"] if isinstance(page, dict) else page
        done = [p for p in items if p["state"] == "completed"]
        return done[0] if done else None

    def trial_balance_zero(self) -> bool:
        trial = json.loads(self._cli("ledger", "trial-balance", "--json"))
        return bool(trial["balanced"]) and all(Decimal(v) == 0 for v in trial["assets"].values())

    def run(self) -> dict[str, Any]:
        with self.running():
            self.merchant_setup()
            invoice = self.invoice_and_pay()
            payout = self.settle_and_pay_out()
            seconds_to_payout = time.monotonic() - self.paid_at
            self._wait("webhooks", lambda: any(r["type"] == "payout.completed" for r in self.receiver.received))
            delivered = [r for r in self.receiver.received if r["verified"]]
            self.step(f"webhooks received and verified: {', '.join(str(r['type']) for r in delivered)}")
            balanced = self.trial_balance_zero()
            self.step(f"trial balance zero per asset: {balanced}")
            mpesa = self._mpesa_transactions()[self.mpesa_before :]
        paid = [t for t in mpesa if t["product"] == "b2c" and t["state"] == "succeeded"]
        return {
            "b2c_paid_by_mpesa": len(paid),
            "webhook_ids_verified": [str(r["id"]) for r in delivered],
            "invoice": invoice["state"],
            "payout": payout["state"],
            "kes_paid_out": str(payout["amount"]["amount"]),
            "webhooks_delivered": len(delivered),
            "trial_balance_zero": balanced,
            "seconds": round(seconds_to_payout, 1),
        }

    # -- the second flow: BTC on the Esplora simulator and USDT on the TronGrid simulator -------------------------
    def _simulator(self, name: str, path: str, body: dict[str, Any]) -> Any:
        answer = httpx.post(f"{self.manifest[name]['url']}/_sim/{path}", json=body, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def _invoice(self, rail: str, order: str) -> tuple[dict[str, Any], dict[str, Any]]:
        invoice = self._call(
            "POST",
            "/v1/invoices",
            token=self.api_key,
            key=f"demo-order-{order}",
            body={"amount": "5000", "currency": "KES", "rails": [rail], "order_id": order},
        )
        option = invoice["payment_options"][0]
        quote = invoice["quote"]
        self.step(
            f"invoice {invoice['id']}: KES 5,000.00 -> pay {option['amount']} {option['asset']} on {rail} to "
            f"{option['address']} (quote {quote['id']}, {quote['pair']} bid {quote['bid']})"
        )
        return invoice, option

    def pay_bitcoin(self) -> dict[str, Any]:
        """A BTC payment seen in the Esplora simulator's mempool (processing), then two blocks (settled)."""
        invoice, option = self._invoice("btc-bitcoin", "2001")
        sats = int(Decimal(option["amount"]).scaleb(8))
        txid = self._simulator("esplora", "pay", {"address": option["address"], "value": sats})["txid"]
        seen = self._wait("the BTC payment to be seen", lambda: self._in_state(invoice["id"], "processing"))
        self.step(f"customer broadcast {sats} sats (tx {txid[:16]}…): invoice {seen['state']} from the mempool")
        self._simulator("esplora", "mine", {"count": 2})
        settled = self._wait("the BTC invoice to settle", lambda: self._settled(invoice["id"]))
        self.step(f"invoice {settled['id']} {settled['state']} after 2 Bitcoin blocks")
        return dict(settled)

    def pay_tron(self) -> dict[str, Any]:
        """A TRC20 USDT transfer mined on the TronGrid simulator (seen), then solidified: Tron's own finality."""
        invoice, option = self._invoice("usdt-tron", "2002")
        units = int(Decimal(option["amount"]).scaleb(6))
        body = {
            "token": self.manifest["trongrid"]["usdt"],
            "from": TRON_PAYER,
            "to": option["address"],
            "amount": units,
        }
        txid = str(self._simulator("trongrid", "transfer", body)["txid"])
        self._simulator("trongrid", "mine", {"count": 1})
        seen = self._wait("the Tron payment to be seen", lambda: self._in_state(invoice["id"], "processing"))
        self.step(f"customer sent {option['amount']} USDT on Tron (tx {txid[:16]}…): invoice {seen['state']}")
        self._simulator("trongrid", "solidify", {})
        settled = self._wait("the Tron invoice to settle", lambda: self._settled(invoice["id"]))
        self.step(f"invoice {settled['id']} {settled['state']} once its block was solidified")
        return dict(settled)

    def _in_state(self, invoice_id: str, state: str) -> dict[str, Any] | None:
        invoice = self._call("GET", f"/v1/invoices/{invoice_id}", token=self.api_key)
        return invoice if invoice["state"] == state else None

    def _completed_payouts(self, count: int) -> list[dict[str, Any]] | None:
        page = self._call("GET", "/v1/payouts", token=self.token)
        items = page["data"] if isinstance(page, dict) else page
        done = [p for p in items if p["state"] == "completed"]
        return done if len(done) >= count else None

    def run_btc_tron(self) -> dict[str, Any]:
        """The second flow; its summary names both invoices, both payouts and the trial balance."""
        self.rails = ["btc-bitcoin", "usdt-tron"]
        with self.running():
            self.merchant_setup()
            started = time.monotonic()
            btc = self.pay_bitcoin()
            tron = self.pay_tron()
            payouts = self._wait("both B2C results", lambda: self._completed_payouts(2))
            for payout in payouts:
                amount, receipt = payout["amount"]["amount"], payout.get("receipt")
                self.step(f"payout {payout['id']}: KES {amount} completed, M-Pesa receipt {receipt}")
            balanced = self.trial_balance_zero()
            self.step(f"trial balance zero per asset: {balanced}")
        paid = sum((Decimal(p["amount"]["amount"]) for p in payouts), Decimal(0))
        return {
            "flow": "btc-tron",
            "invoices": {"btc-bitcoin": btc["state"], "usdt-tron": tron["state"]},
            "payouts": [p["state"] for p in payouts],
            "kes_paid_out": f"{paid:.2f}",
            "trial_balance_zero": balanced,
            "seconds": round(time.monotonic() - started, 1),
        }
