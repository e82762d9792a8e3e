"""``make chaos``: pay invoices while processes die, the database crashes and Redis stops; then check the money.

One run, from outside the code under test:

1. Start the sandbox (anvil with test USDT, the Daraja and FX simulators), a throw-away PostgreSQL and Redis of
   its own (``postgres-rq``) or a SQLite file and the inline worker (``sqlite-inline``), the API and the worker.
2. Register one merchant per Daraja fault scenario (normal, duplicate, late and lost callbacks, queue time-outs,
   answers lost to a client time-out, throttling), each settling instantly to its own M-Pesa number.
3. Create and pay invoices on anvil while a monkey, seeded, SIGKILLs the API and the worker at random moments,
   crash-restarts PostgreSQL and stops Redis for a while. Clients retry with the same Idempotency-Key.
4. Let everything recover, then check: every paid invoice settled and credited once; every payout final (none
   ``unknown``) and paid exactly once by the Daraja sandbox (its own record); the books' M-Pesa float equal to what
   the sandbox paid out; the trial balance zero; ``cryptopay reconcile`` clean; the audit chain intact.

The last line printed is one JSON object::

    {"setup": "postgres-rq", "seed": 1, "rounds": 16, "kills": 9, "db_restarts": 2, "redis_pauses": 2,
     "lost": 0, "duplicated": 0, "stuck": 0, "ok": true, ...}

Run: ``python -m tests.chaos.run --setup postgres-rq --seed 1`` (``make chaos`` runs both setups over seeds).
Every wait is bounded and everything started is stopped; the traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from cryptopay.adapters.notify import FileNotifier
from cryptopay.core.payouts.service import DEFAULT_RESULT_DEADLINE

from tests.chaos.services import ThrowawayPostgres, ThrowawayRedis, free_port
from tests.support.mailbox import prove_email

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
# One merchant per Daraja sandbox scenario (the magic numbers of cryptopay's Daraja simulator).
SCENARIO_PHONES = {
    "normal": "254708374149",
    "duplicate_callback": "254711000006",
    "late_callback": "254711000007",
    "lost_callback": "254711000008",
    "throttled": "254711000009",
    "queue_timeout": "254711000012",
    "response_lost": "254711000013",
}
FINAL_PAYOUT_STATES = {"completed", "failed"}
# How long the money may take to come right once the faults stop: the product's own timing, not a guess. A payout
# killed at payout.submitted (never sent) is asked about after one result deadline; that question lost to a kill at
# status.recorded is asked again a deadline later; answered "not found", the payout is planned and sent again. Two
# deadlines and the queue's latency on a loaded machine; five leave room for a third question (the wait doubles).
# It was 300 s: seed 2 on postgres-rq had such a payout completed 10 s past it (findings from the check's reads
# racing that completion followed).
RECOVERY = 5 * DEFAULT_RESULT_DEADLINE
FAULTS = ("kill_worker", "kill_api", "db_restart", "redis_pause")


class Stack:
    """The processes under test and the servers around them, each restartable."""

    def __init__(self, setup: str, workdir: Path) -> None:
        self.setup = setup
        self.workdir = workdir
        self.postgres = ThrowawayPostgres(workdir / "pg-cluster") if setup == "postgres-rq" else None
        self.redis = ThrowawayRedis(workdir / "redis") if setup == "postgres-rq" else None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env: dict[str, str] = {}
        self.manifest: dict[str, Any] = {}
        self.api = ""
        self.fault_dir = workdir / "fault-points"
        self._lock = threading.Lock()

    def cli(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "cryptopay_cli.main", *args]
        done = subprocess.run(command, env=env or self.env, capture_output=True, text=True, timeout=300)
        if check and done.returncode != 0:
            raise RuntimeError(f"`cryptopay {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()[-800:]}")
        return done

    def start(self) -> None:
        from cryptopay.adapters.evm.keys import account_xpub

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.fault_dir.mkdir()
        base = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOPAY_")}
        base["CRYPTOPAY_DATA_DIR"] = str(self.workdir / "sandbox")
        self.sandbox_env = base
        self.manifest = json.loads(self.cli("sandbox", "up", "--block-time", "1", "--json", env=base).stdout)
        database = f"sqlite:///{self.workdir / 'cryptopay.db'}"
        if self.postgres is not None and self.redis is not None:
            self.postgres.start()
            self.redis.start()
            database = self.postgres.url
        self.api = f"http://127.0.0.1:{free_port()}"
        self.env = {
            **base,
            **self.manifest["env"],
            "CRYPTOPAY_DATA_DIR": str(self.workdir / "data"),
            "CRYPTOPAY_DATABASE_URL": database,
            "CRYPTOPAY_TOKEN_SECRET": secrets.token_urlsafe(48),
            "CRYPTOPAY_COOKIE_SECURE": "false",
            "CRYPTOPAY_PUBLIC_URL": self.api,
            "CRYPTOPAY_EVM_XPUB": account_xpub(MNEMONIC),
            "CRYPTOPAY_ETHEREUM_CONFIRMATIONS": "2",
            "CRYPTOPAY_SCAN_LOOKBACK_BLOCKS": "5",
            # Each recovery window (cryptopay.core.faults.WINDOWS) SIGKILLs the process that reaches it, once.
            "CRYPTOPAY_FAULT_POINTS": "*=kill",
            "CRYPTOPAY_FAULT_ONCE_DIR": str(self.fault_dir),
        }
        if self.redis is not None:
            self.env.update(CRYPTOPAY_REDIS_URL=self.redis.url, CRYPTOPAY_QUEUE_NAME="chaos")
        self.cli("db", "upgrade")
        self.spawn("api")
        self.spawn("worker")
        wait("the API", lambda: httpx.get(f"{self.api}/readyz", timeout=2).status_code == 200, timeout=60)

    def _command(self, name: str) -> list[str]:
        bin_dir = Path(sys.executable).parent
        if name == "api":
            port = self.api.rsplit(":", 1)[1]
            return [str(bin_dir / "cryptopay-http"), "--host", "127.0.0.1", "--port", port]
        if self.redis is not None:
            return [str(bin_dir / "cryptopay-worker"), "--fast", "--redis-url", self.redis.url, "--queue", "chaos"]
        return [str(bin_dir / "cryptopay-worker"), "--fast", "--inline"]

    def spawn(self, name: str) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        with self._lock:
            process = subprocess.Popen(
                self._command(name), env=self.env, stdout=log, stderr=log, start_new_session=True
            )
            self.processes[name] = process

    def kill(self, name: str) -> None:
        """SIGKILL the process group (an RQ work horse dies with its worker) and start a new one."""
        with self._lock:
            process = self.processes[name]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        self.spawn(name)

    def ensure_running(self) -> int:
        """Restart whatever died (as a process supervisor would); how many were restarted."""
        restarted = 0
        with self._lock:
            dead = [name for name, process in self.processes.items() if process.poll() is not None]
        for name in dead:
            self.spawn(name)
            restarted += 1
        return restarted

    def windows_fired(self) -> list[str]:
        return sorted(p.stem for p in self.fault_dir.glob("*.fired"))

    def stop(self) -> None:
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if self.manifest:
            self.cli("sandbox", "down", check=False, env=self.sandbox_env)
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()


def log(text: str) -> None:
    """Progress on stderr (the last line on stdout is the summary)."""
    print(f"[chaos {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def wait(what: str, check: Callable[[], Any], *, timeout: float) -> Any:
    """Poll ``check`` until it returns something truthy; a bounded wait."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except (httpx.HTTPError, OSError, RuntimeError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"timed out waiting for {what}")


class Client:
    """A merchant's client: retries through outages with the same Idempotency-Key, as integrators are told to."""

    def __init__(self, api: str, workdir: Path) -> None:
        self.api = api
        self.workdir = workdir  # the stack's: the API's data dir (its emails) is under it

    def call(self, method: str, path: str, *, token: str, body: Any = None, key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        if key:
            headers["Idempotency-Key"] = key
        deadline = time.monotonic() + float(os.environ.get("CHAOS_CLIENT_PATIENCE", "180"))
        seen: Counter[str] = Counter()
        while True:
            try:
                response = httpx.request(method, f"{self.api}{path}", json=body, headers=headers, timeout=15)
                if response.status_code < 500 and response.status_code not in {409, 429}:
                    break
                seen[f"{response.status_code} {response.text[:120]}"] += 1
            except httpx.HTTPError as error:
                seen[type(error).__name__] += 1
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {path} kept failing: {dict(seen.most_common(4))}")
            time.sleep(0.5)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text[:400]}")
        return response.json() if response.content else None

    def register(self, email: str, password: str, phone: str, name: str) -> tuple[str, str]:
        httpx.post(
            f"{self.api}/v1/auth/register", json={"email": email, "password": password, "role": "merchant"}, timeout=30
        ).raise_for_status()
        token = self.login(email, password)
        mail = FileNotifier(self.workdir / "data" / "notifications.jsonl").read()  # the API's (its data dir)
        with httpx.Client(base_url=self.api, timeout=30) as client:  # the emailed link, as the merchant opens it
            prove_email(client, mail, email, {"Authorization": f"Bearer {token}"}, password)
        body = {
            "business_name": name,
            "settlement": {
                "schedule": "instant",
                "method": "mpesa_b2c",
                "destination": phone,
                "minimum": {"amount": "100", "asset": "KES"},
            },
        }
        merchant = self.call("POST", "/v1/merchants", token=token, body=body)
        token = self.login(email, password)
        self.call(
            "PUT",
            f"/v1/merchants/{merchant['id']}/store",
            token=token,
            body={"rails": ["usdt-ethereum"], "tolerance_percent": "0.5"},
        )
        return str(merchant["id"]), token

    def login(self, email: str, password: str) -> str:
        answer = httpx.post(f"{self.api}/v1/auth/login", json={"email": email, "password": password}, timeout=30)
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def all_pages(self, path: str, token: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = f"?limit=100&cursor={cursor}" if cursor else "?limit=100"
            page = self.call("GET", f"{path}{query}", token=token)
            if isinstance(page, list):
                return page
            items.extend(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items


class Monkey(threading.Thread):
    """Kills, crashes and pauses at seeded random moments until stopped."""

    def __init__(self, stack: Stack, rng: random.Random, faults: list[str]) -> None:
        super().__init__(daemon=True)
        self.faults = faults
        self.stack = stack
        self.rng = rng
        self.stopped = threading.Event()
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []

    def run(self) -> None:
        actions = [a for a in ("kill_worker", "kill_worker", "kill_api") if a in self.faults]
        if self.stack.postgres is not None:
            actions += [a for a in ("db_restart", "redis_pause") if a in self.faults]
        next_fault = time.monotonic() + self.rng.uniform(2.0, 6.0)
        while not self.stopped.wait(0.5):
            self.counts["supervisor_restarts"] += self.stack.ensure_running()
            if not actions or time.monotonic() < next_fault:
                continue
            next_fault = time.monotonic() + self.rng.uniform(2.0, 6.0)
            action = self.rng.choice(actions)
            try:
                self.act(action)
            except Exception as error:
                self.errors.append(f"{action}: {error}")

    def act(self, action: str) -> None:
        if action == "kill_worker":
            self.stack.kill("worker")
        elif action == "kill_api":
            self.stack.kill("api")
            # The next fault waits until the API serves again: kills faster than a restart prove nothing.
            wait(
                "the API back", lambda: httpx.get(f"{self.stack.api}/readyz", timeout=2).status_code == 200, timeout=120
            )
        elif action == "db_restart" and self.stack.postgres is not None:
            self.stack.postgres.crash_restart()
        elif action == "redis_pause" and self.stack.redis is not None:
            self.stack.redis.pause()
            self.stopped.wait(self.rng.uniform(2.0, 5.0))
            self.stack.redis.resume()
        self.counts[action] += 1


class Payer:
    """Pays invoices in test USDT from a funded anvil account."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.url = manifest["evm"]["rpc_url"]
        self.usdt = manifest["evm"]["usdt"]["address"]
        self.account = manifest["evm"]["funded_accounts"][0]
        self.paid: dict[str, Decimal] = {}

    def pay(self, invoice_id: str, address: str, amount: str) -> None:
        """Send ``amount`` USDT to ``address`` and wait until it is mined (``cryptopay sandbox pay``'s transfer)."""
        from cryptopay.sandbox.anvil import send_token

        units = int(Decimal(amount).scaleb(6))
        send_token(self.url, self.usdt, address, units, private_key=self.account["private_key"])
        self.paid[invoice_id] = Decimal(amount)


class ChaosRun:
    def __init__(self, setup: str, seed: int, rounds: int, workdir: Path, faults: list[str]) -> None:
        self.faults = faults
        self.setup = setup
        self.seed = seed
        self.rounds = rounds
        self.rng = random.Random(seed)
        self.stack = Stack(setup, workdir)
        self.merchants: dict[str, tuple[str, str, str]] = {}  # scenario -> (merchant id, token, phone)
        self.invoices: dict[str, str] = {}  # invoice id -> scenario
        self.findings: list[str] = []

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        self.stack.start()
        client = Client(self.stack.api, self.stack.workdir)
        for scenario, phone in SCENARIO_PHONES.items():
            email, password = f"{scenario}@chaos.example", secrets.token_urlsafe(16)
            merchant_id, token = client.register(email, password, phone, f"Chaos {scenario}")
            self.merchants[scenario] = (merchant_id, token, phone)
        payer = Payer(self.stack.manifest)
        monkey = Monkey(self.stack, self.rng, self.faults)
        monkey.start()
        try:
            for number in range(self.rounds):
                self._pay_one(client, payer, number)
        finally:
            monkey.stopped.set()
            monkey.join(timeout=30)
        stuck = self._recover(client)
        summary = self._check(client, payer, stuck)
        summary.update(
            rounds=self.rounds,
            kills=monkey.counts["kill_worker"] + monkey.counts["kill_api"] + len(self.stack.windows_fired()),
            window_kills=self.stack.windows_fired(),
            db_restarts=monkey.counts["db_restart"],
            redis_pauses=monkey.counts["redis_pause"],
            monkey_errors=monkey.errors,
            seconds=round(time.monotonic() - started, 1),
        )
        return summary

    def _pay_one(self, client: Client, payer: Payer, number: int) -> None:
        scenario = list(SCENARIO_PHONES)[number % len(SCENARIO_PHONES)]
        _merchant_id, token, _phone = self.merchants[scenario]
        amount = str(self.rng.choice([1500, 2500, 5000, 12000]))
        invoice = client.call(
            "POST",
            "/v1/invoices",
            token=token,
            key=f"chaos-{self.seed}-{number}",
            body={"amount": amount, "currency": "KES", "rails": ["usdt-ethereum"], "order_id": str(number)},
        )
        option = invoice["payment_options"][0]
        payer.pay(invoice["id"], option["address"], option["amount"])
        self.invoices[invoice["id"]] = scenario
        log(f"paid invoice {number + 1}/{self.rounds} ({scenario}): {option['amount']} USDT")

    def _recover(self, client: Client) -> list[str]:
        """Wait (bounded, ``RECOVERY``) until every invoice settled and every payout is final; what is not, is stuck."""
        deadline = time.monotonic() + float(os.environ.get("CHAOS_RECOVERY_SECONDS", RECOVERY.total_seconds()))
        while True:
            self.stack.ensure_running()
            pending = self._unfinished(client)
            log(f"recovering: {len(pending)} unfinished {pending[:3]}")
            if not pending or time.monotonic() > deadline:
                return pending
            time.sleep(5)

    def _unfinished(self, client: Client) -> list[str]:
        pending = []
        for invoice_id, scenario in self.invoices.items():
            token = self.merchants[scenario][1]
            state = client.call("GET", f"/v1/invoices/{invoice_id}", token=token)["state"]
            if state != "settled":
                pending.append(f"invoice {invoice_id} {state}")
        for scenario, (_merchant_id, token, _phone) in self.merchants.items():
            for payout in client.all_pages("/v1/payouts", token):
                if payout["state"] not in FINAL_PAYOUT_STATES:
                    pending.append(f"payout {payout['id']} ({scenario}) {payout['state']}")
            if not any(self.invoices[i] == scenario for i in self.invoices):
                continue
            if not client.all_pages("/v1/payouts", token):
                pending.append(f"merchant {scenario}: no payout yet")
        return pending

    def _check(self, client: Client, payer: Payer, stuck: list[str]) -> dict[str, Any]:
        daraja = httpx.get(f"{self.stack.manifest['daraja']['base_url']}/sandbox/state", timeout=30).json()
        paid_by_phone: dict[str, list[Decimal]] = defaultdict(list)
        for tx in daraja["transactions"]:
            if tx["product"] == "b2c" and tx["state"] == "succeeded" and not tx["reversed"]:
                paid_by_phone[tx["phone"]].append(Decimal(tx["amount"]))
        lost = duplicated = 0
        books_paid = Decimal(0)
        for scenario, (_merchant_id, token, phone) in self.merchants.items():
            ours = sorted(
                Decimal(p["amount"]["amount"])
                for p in client.all_pages("/v1/payouts", token)
                if p["state"] == "completed"
            )
            theirs = sorted(paid_by_phone.get(phone, []))
            books_paid += sum(ours, Decimal(0))
            if ours != theirs:
                extra = Counter(theirs) - Counter(ours)
                missing = Counter(ours) - Counter(theirs)
                duplicated += sum(extra.values())
                lost += sum(missing.values())
                self.findings.append(f"{scenario}: completed in our books {ours}, paid by M-Pesa {theirs}")
        sandbox_paid = sum((sum(v, Decimal(0)) for v in paid_by_phone.values()), Decimal(0))
        float_ok = self._float_matches(sandbox_paid - Decimal(daraja["charges_paid"]))  # and M-Pesa's own charges
        for invoice_id, scenario in self.invoices.items():
            invoice = client.call("GET", f"/v1/invoices/{invoice_id}", token=self.merchants[scenario][1])
            if invoice["state"] != "settled":
                self.findings.append(f"invoice {invoice_id} ended {invoice['state']}")
        trial = self.stack.cli("ledger", "trial-balance", "--json", check=False)
        # Reconcile against M-Pesa's own record: the sandbox's statement export and its float (opening 10,000,000).
        base, payouts = self.stack.manifest["daraja"]["base_url"], self.stack.manifest["daraja"]["payout_shortcode"]
        statement = self.stack.workdir / "mpesa-statement.csv"  # the payout Short Code's: the payouts
        statement.write_text(httpx.get(f"{base}/sandbox/statement", params={"shortcode": payouts}, timeout=30).text)
        reconcile = self.stack.cli(
            "reconcile",
            "--json",
            "--mpesa-statement",
            str(statement),
            "--mpesa-balance",
            str(Decimal(daraja["float"]) + Decimal(daraja["charges_paid"])),  # Utility and Charges Paid
            "--float-baseline",
            "10000000",
            check=False,
        )
        audit = self.stack.cli("audit", "verify", check=False)
        (self.stack.workdir / "reconcile.json").write_text(reconcile.stdout)
        if reconcile.returncode != 0 and reconcile.stdout.strip():
            report = json.loads(reconcile.stdout)
            for check in report.get("checks", []):
                if not check.get("ok", True):
                    self.findings.append(f"reconcile {check['name']}: {json.dumps(check['differences'])[:400]}")
            reconcile = subprocess.CompletedProcess(reconcile.args, 0, "", "")
        for name, done in (("trial balance", trial), ("reconcile", reconcile), ("audit chain", audit)):
            if done.returncode != 0:
                self.findings.append(f"{name} not clean: {(done.stdout + done.stderr).strip()[-600:]}")
        self.findings.extend(f"stuck: {item}" for item in stuck)
        ok = not self.findings and float_ok
        return {
            "setup": self.setup,
            "seed": self.seed,
            "invoices": len(self.invoices),
            "paid_out_kes": str(books_paid),
            "sandbox_paid_kes": str(sandbox_paid),
            "float_matches": float_ok,
            "lost": lost,
            "duplicated": duplicated,
            "stuck": len(stuck),
            "findings": self.findings,
            "ok": ok,
        }

    def _float_matches(self, sandbox_paid: Decimal) -> bool:
        balances = json.loads(self.stack.cli("ledger", "balances", "--json").stdout)
        books = Decimal(0)
        for row in balances["accounts"]:
            if row["account"] == "assets:mpesa_float:KES":
                books = Decimal(str(row["posted"]))
        if -books != sandbox_paid:
            self.findings.append(
                f"the books' M-Pesa float moved {books}, the sandbox paid out {sandbox_paid} (charges in)"
            )
            return False
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--setup", choices=["postgres-rq", "sqlite-inline"], default="postgres-rq")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=14, help="invoices to pay under faults")
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help=f"comma-separated subset of {','.join(FAULTS)} (default: all)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs) afterwards")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix=f"cryptopay-chaos-{args.setup}-{args.seed}-"))
    run = ChaosRun(args.setup, args.seed, args.rounds, workdir, args.faults.split(","))
    try:
        summary = run.run()
    except (RuntimeError, TimeoutError) as error:
        summary = {"setup": args.setup, "seed": args.seed, "error": str(error), "ok": False}
    finally:
        run.stack.stop()
        if args.keep or not locals().get("summary", {}).get("ok"):
            print(f"logs: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(summary))
    return 0 if summary.get("ok") else 1


if __name__ == "__main__":
    raise SystemExit(main())
