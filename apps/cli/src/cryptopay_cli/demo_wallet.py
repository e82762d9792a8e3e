"""``cryptopay demo wallet``: a personal wallet end to end over the sandbox, the REST API and the worker.

Amina signs up with her phone (the code comes by SMS from the sandbox's Africa's Talking simulator), verifies her
national ID (a compliance officer approves it from the shell), buys USDT by STK Push (the Daraja simulator prompts,
she pays, its callback credits her at the locked ask), sends some to Baraka by phone number, pays a KPLC prepaid
bill from her USDT at a locked bid (M-Pesa B2B to the simulated KPLC biller on paybill 888880, sent by the worker; the
simulator returns a prepaid token, shown), and sells the rest to her own M-Pesa number (B2C through the payout
machinery, sent by the worker). Baraka tops his wallet up with KES 1,000 paid to our paybill from the SIM menu, his
username as the account number (Daraja C2B: the simulator posts the confirmation to the URLs ``cryptopay wallets
paybill-register`` gave it). Then Grace, in London with no account, sends KES 3,000 to Chebet (no wallet either):
she opens a remittance order (public REST), pays the USDT it asks on anvil to its one-time address, and once it is
confirmed the worker pays Chebet by M-Pesa B2C and tells her by SMS. Everything goes through the REST API except
the officer's approval (``cryptopay compliance approve``), the remittance's receipt (``cryptopay remittances``),
the trial balance (``cryptopay ledger``) and the reconciliation (``cryptopay reconcile --mpesa-statement`` over the
Daraja simulator's statement export: its STK collection matched with the buy, its B2C and B2B payments with the
payouts).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from cryptopay.adapters._paths import private_file
from cryptopay.core.reconciliation import parse_statement

from cryptopay_cli.demo_e2e import Demo

AMINA, BARAKA, CHEBET = "254712000101", "254712000102", "254712000103"
SENDER = {"name": "Grace Otieno", "country": "GB", "address": "12 Acacia Road, London"}
METER = "37112345678"  # an 11-digit KPLC prepaid meter number (any but 00000000000, which the simulated biller refuses)
PASSWORD = "a long demo passphrase"
OFFICER = "officer@example.co.ke"
_STATEMENT_CHECKS = ("mpesa-statement", "mpesa-collections")  # M-Pesa's statement against our payouts and buys


class WalletDemo(Demo):
    """The wallet journey over the same stack as the merchant demo."""

    def _sms_code(self, phone: str, after: int) -> str:
        def latest() -> str | None:
            answer = httpx.get(f"{self.manifest['sms']['url']}/_sandbox/sms/outbox", params={"to": phone}, timeout=10)
            messages = answer.json()["messages"]
            if len(messages) <= after:
                return None
            text = str(messages[-1].get("message") or messages[-1].get("text") or "")
            digits = [word.strip(".,") for word in text.split() if word.strip(".,").isdigit()]
            return next((d for d in digits if len(d) == 6), None)

        return str(self._wait(f"the SMS code to {phone}", latest, timeout=30))

    def _sent_count(self, phone: str) -> int:
        answer = httpx.get(f"{self.manifest['sms']['url']}/_sandbox/sms/outbox", params={"to": phone}, timeout=10)
        return len(answer.json()["messages"])

    def sign_up(self, phone: str, username: str) -> tuple[str, str]:
        before = self._sent_count(phone)
        started = httpx.post(f"{self.api}/v1/wallet/signup", json={"phone": phone}, timeout=30)
        if started.status_code != 202:
            raise RuntimeError(f"sign-up of {phone} -> {started.status_code}: {started.text[:300]}")
        verification = started.json()["verification_id"]
        code = self._sms_code(phone, before)
        body = {"code": code, "password": PASSWORD, "username": username}
        done = httpx.post(f"{self.api}/v1/wallet/signup/{verification}/complete", json=body, timeout=30)
        if done.status_code != 201:
            raise RuntimeError(f"completing the sign-up of {phone} -> {done.status_code}: {done.text[:300]}")
        user_id = str(done.json()["user"]["id"])
        self.step(f"{username} signed up with {phone} (code from the SMS simulator), user {user_id}")
        return user_id, self._login(phone, PASSWORD)

    def verify_national_id(self, token: str) -> None:
        application = self._call(
            "POST",
            "/v1/kyc/applications",
            token=token,
            body={
                "level": 1,
                "legal_name": "Amina Wanjiru",
                "date_of_birth": "1994-05-17",
                "id_type": "national_id",
                "id_number": "28765432",
                "phone": AMINA,
                "address": "Moi Avenue 12, Nairobi",
            },
        )
        self._call("POST", f"/v1/kyc/applications/{application['id']}/submit", token=token, body={})
        self._cli("users", "create-admin", "--email", OFFICER, "--password-stdin", input_text=f"{PASSWORD}\n")
        self._cli("users", "set-role", OFFICER, "compliance")
        self._cli("compliance", "show", application["id"], "--officer", OFFICER)  # read first (audited)
        self._cli("compliance", "approve", application["id"], "--officer", OFFICER)
        self.step("Amina's national ID read and approved by an officer (cryptopay compliance show, approve): tier 1")

    def buy(self, token: str, kes: str) -> dict[str, Any]:
        quote = self._call("POST", "/v1/wallet/quotes", token=token)
        buy = self._call(
            "POST",
            "/v1/wallet/buys",
            token=token,
            key="demo-buy-1",
            body={"amount": kes, "currency": "KES", "quote_id": quote["id"]},
        )
        self.step(f"buy {buy['id']}: KES {kes} at the ask {quote['ask']} -> {buy['usdt']['amount']} USDT; STK prompt")
        done = self._wait("the STK callback", lambda: self._finished(token, f"/v1/wallet/buys/{buy['id']}"))
        if done["state"] != "credited":
            raise RuntimeError(f"the buy was not credited: {done['state']} ({done.get('reason')})")
        self.step(f"M-Pesa receipt {done['receipt']}: {done['usdt']['amount']} USDT credited")
        return dict(done)

    def _finished(self, token: str, path: str) -> dict[str, Any] | None:
        found = self._call("GET", path, token=token)
        return found if found["state"] in ("credited", "failed", "completed") else None

    def _wallet_step_up(self, token: str) -> str:
        """A fresh step-up (the password again): sends and bills past the day's allowance need one (review5 S4)."""
        return str(self._call("POST", "/v1/auth/step-up", token=token, body={"password": PASSWORD})["step_up_token"])

    def send(self, token: str, to: str, usdt: str) -> dict[str, Any]:
        body = {"to": to, "amount": usdt, "currency": "USDT", "note": "for the school fees"}
        step_up = self._wallet_step_up(token)
        transfer = self._call("POST", "/v1/wallet/transfers", token=token, key="demo-p2p-1", body=body, step_up=step_up)
        self.step(f"sent {usdt} USDT to {to}: {transfer['state']}")
        return dict(transfer)

    def balance(self, token: str, asset: str) -> str:
        balances = self._call("GET", "/v1/wallet/balances", token=token)
        return str(next(b["amount"] for b in balances if b["asset"] == asset))

    def sell(self, token: str, usdt: str) -> dict[str, Any]:
        sale = self._call(
            "POST", "/v1/wallet/sells", token=token, key="demo-sell-1", body={"amount": usdt, "currency": "USDT"}
        )
        self.step(
            f"sale {sale['id']}: {usdt} USDT at the bid -> KES {sale['kes']['amount']}; B2C of KES "
            f"{sale['paid_out']['amount']} (charge {sale['charge']['amount']}) to {sale['phone']} planned"
        )
        done = self._wait("the B2C result", lambda: self._finished(token, f"/v1/wallet/sells/{sale['id']}"))
        if done["state"] != "completed":
            raise RuntimeError(f"the payout did not complete: {done['state']} ({done.get('result_desc')})")
        self.step(f"M-Pesa paid KES {done['paid_out']['amount']} to {done['phone']}, receipt {done['receipt']}")
        return dict(done)

    def pay_bill(self, token: str, kes: str) -> dict[str, Any]:
        """Pay a KPLC prepaid bill from USDT at a locked bid; ``state`` is ``completed`` only when M-Pesa said so."""
        quote = self._call("POST", "/v1/wallet/quotes", token=token)
        body = {
            "biller": "KPLC_PREPAID",
            "account": METER,
            "amount": kes,
            "currency": "KES",
            "pay_with": "USDT",
            "quote_id": quote["id"],
        }
        step_up = self._wallet_step_up(token)
        bill = self._call("POST", "/v1/wallet/bills", token=token, key="demo-bill-1", body=body, step_up=step_up)
        self.step(
            f"bill {bill['id']}: KES {kes} to {bill['biller_name']} (paybill {bill['paybill']}, meter {METER}), "
            f"paid with {bill['paid_with']['amount']} USDT at the bid {quote['bid']}; B2B planned"
        )
        done = self._wait("the B2B result", lambda: self._finished(token, f"/v1/wallet/bills/{bill['id']}"))
        if done["state"] != "completed":
            raise RuntimeError(f"the bill was not paid: {done['state']} ({done.get('result_desc')})")
        shown = done["token"] or f"none returned ({done.get('token_note')})"
        self.step(f"KPLC paid, receipt {done['receipt']}; prepaid token: {shown}")
        return dict(done)

    def paybill_top_up(self, token: str, username: str, phone: str, kes: str) -> str:
        """Register our C2B URLs (``cryptopay wallets paybill-register``), then pay the paybill from ``phone``'s SIM
        menu with ``username`` as the account number (the simulator's C2B); the wallet's KES once the worker's
        Transaction Status query confirmed the TransID (a confirmation alone books nothing)."""
        self._cli("wallets", "paybill-register")
        daraja = self.manifest["daraja"]
        base, keys = daraja["base_url"], (str(daraja["consumer_key"]), str(daraja["consumer_secret"]))
        grant = httpx.get(
            f"{base}/oauth/v1/generate", params={"grant_type": "client_credentials"}, auth=keys, timeout=10
        )
        grant.raise_for_status()
        body = {
            "ShortCode": daraja["shortcode"],
            "CommandID": "CustomerPayBillOnline",
            "Amount": kes,
            "Msisdn": phone,
            "BillRefNumber": username,
        }
        headers = {"Authorization": f"Bearer {grant.json()['access_token']}"}
        httpx.post(f"{base}/mpesa/c2b/v1/simulate", json=body, headers=headers, timeout=10).raise_for_status()
        balance = self._wait("the verified C2B payment", lambda: (b := self.balance(token, "KES")) != "0.00" and b)
        self.step(
            f"paid KES {kes} to our paybill with account {username!r} from the SIM menu: KES {balance} credited once "
            "M-Pesa's Transaction Status confirmed the TransID"
        )
        return str(balance)

    def remittance(self, kes: str) -> dict[str, Any]:
        """A sender abroad opens an order (no account), pays USDT on anvil, and Chebet is paid by M-Pesa; the state
        is ``paid_out`` only once M-Pesa's result said so, and the SMS to Chebet is read from the simulator."""
        payer = self.manifest["evm"]["funded_accounts"][1]
        # Chebet's number is registered at (sandbox) M-Pesa in her name: its B2C result names her, as the order does
        daraja = self.manifest["daraja"]["base_url"]
        httpx.post(f"{daraja}/sandbox/names", json={"phone": CHEBET, "name": "CHEBET KIPROP"}, timeout=10)
        body = {
            "recipient_phone": CHEBET,
            "recipient_name": "Chebet Kiprop",
            "amount": kes,
            "currency": "KES",
            "sender": SENDER,
            "refund_address": payer["address"],
        }
        headers = {"Idempotency-Key": str(uuid.uuid4())}  # no account: the key must be unguessable
        answer = httpx.post(f"{self.api}/v1/wallet/remittances", json=body, headers=headers, timeout=30)
        if answer.status_code != 201:
            raise RuntimeError(f"opening the remittance -> {answer.status_code}: {answer.text[:300]}")
        order = answer.json()
        option = order["payment_options"][0]
        self.step(
            f"remittance {order['public_id'][:8]}…: Grace (GB) sends KES {kes} to {order['recipient_phone']}: pay "
            f"{option['amount']} USDT on {option['network']} to {option['address']} (bid {order['rate']})"
        )
        sent_before = self._sent_count(CHEBET)
        _, tx_hash, block = self.pay_usdt(option["address"], option["amount"], payer=1)
        self.step(f"Grace paid from her wallet in block {block} (tx {tx_hash[:18]}…)")
        done = self._wait("the remittance payout", lambda: self._remitted(order["public_id"]))
        if done["state"] != "paid_out":
            raise RuntimeError(f"the remittance was not paid out: {done['state']}")
        shown = json.loads(self._cli("remittances", "list", "--state", "paid_out", "--json"))[0]
        detail = json.loads(self._cli("remittances", "show", shown["id"], "--json"))
        self.step(
            f"M-Pesa paid KES {detail['kes']} to {CHEBET} ({detail['mpesa_name']}), receipt {detail['receipt']} "
            f"({detail['payout']})"
        )
        text = self._wait("the SMS to Chebet", lambda: self._latest_sms(CHEBET, sent_before), timeout=30)
        self.step(f"SMS to Chebet: {text}")
        return dict(done)

    def _remitted(self, public_id: str) -> dict[str, Any] | None:
        answer = httpx.get(f"{self.api}/v1/wallet/remittances/{public_id}", timeout=10)
        if answer.status_code != 200:  # a 429 under a tight rate limit: ask again on the next round
            return None
        found = answer.json()
        return found if found["state"] in ("paid_out", "refunding", "refunded", "held", "expired") else None

    def _latest_sms(self, phone: str, after: int) -> str | None:
        answer = httpx.get(f"{self.manifest['sms']['url']}/_sandbox/sms/outbox", params={"to": phone}, timeout=10)
        messages = answer.json()["messages"]
        if len(messages) <= after:
            return None
        return str(messages[-1].get("message") or messages[-1].get("text") or "")

    def mpesa_statements(self, since: datetime) -> list[Path]:
        """The Daraja sandbox's statements (``GET /sandbox/statement``: what it collected by STK Push and paybill,
        and paid by B2C and B2B, as the org portal exports it), one per Short Code (the paybill's: the collections;
        the payout Short Code's: the payouts), of the period from ``since`` to now (a sandbox kept running may hold
        other runs'), each's ``Time Period`` line saying so, saved where ``cryptopay reconcile --mpesa-statement``
        reads them."""
        period = {"from": since.isoformat(), "to": datetime.now(UTC).isoformat()}
        daraja = self.manifest["daraja"]
        paths = []
        for shortcode in dict.fromkeys((daraja["shortcode"], daraja["payout_shortcode"])):
            params = period | {"shortcode": shortcode}
            answer = httpx.get(f"{daraja['base_url']}/sandbox/statement", params=params, timeout=30)
            answer.raise_for_status()
            lines = parse_statement(answer.text).lines
            path = private_file(self.workdir / f"mpesa-statement-{shortcode}.csv")
            path.write_text(answer.text, encoding="utf-8")
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(Counter(line.reason_type for line in lines).items()))
            self.step(
                f"M-Pesa's statement of Short Code {shortcode} (the sandbox's export): {len(lines)} rows ({kinds})"
            )
            paths.append(path)
        return paths

    def wallets_reconcile(self, statements: list[Path]) -> bool:
        """``cryptopay reconcile --json --mpesa-statement ...`` (one per Short Code) on the demo's books: True when
        every ``wallets`` check and M-Pesa's statements against our payouts and our STK buys (``mpesa-statement``,
        ``mpesa-collections``) ran and agreed (the other areas are printed, not judged here: the merchant demo judges
        its own)."""
        command = [sys.executable, "-m", "cryptopay_cli.main", "reconcile", "--json"]
        for statement in statements:
            command += ["--mpesa-statement", str(statement)]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=180)  # noqa: S603
        if done.returncode not in (0, 5):  # 5: a difference somewhere, shown below
            raise RuntimeError(f"`cryptopay reconcile` failed: {done.stderr.strip()[-500:]}")
        checks = json.loads(done.stdout)["checks"]
        for c in checks:
            if c["differences"]:
                self.step(f"reconcile {c['area']}/{c['name']}: {c['differences']}")
        judged = [c for c in checks if c["area"] == "wallets" or c["name"] in _STATEMENT_CHECKS]
        agreed = len(judged) > len(_STATEMENT_CHECKS) and all(c["ok"] and not c["skipped"] for c in judged)
        self.step(f"cryptopay reconcile ({', '.join(c['name'] for c in judged)}): agree {agreed}")
        return agreed

    def run_wallet(self) -> dict[str, Any]:
        with self.running():
            began, since = time.monotonic(), datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
            _, amina_token = self.sign_up(AMINA, "amina")
            self.verify_national_id(amina_token)
            bought = self.buy(amina_token, "2600")
            _, baraka_token = self.sign_up(BARAKA, "baraka")
            gift = (Decimal(bought["usdt"]["amount"]) / 4).quantize(Decimal("0.000001"))
            transfer = self.send(amina_token, "@baraka", str(gift))
            self.step(f"Baraka's USDT balance: {self.balance(baraka_token, 'USDT')}")
            topped_up = self.paybill_top_up(baraka_token, "baraka", BARAKA, "1000")
            bill = self.pay_bill(amina_token, "500")
            rest = self.balance(amina_token, "USDT")
            sold = self.sell(amina_token, rest)
            remitted = self.remittance("3000")
            seconds = time.monotonic() - began
            balanced = self.trial_balance_zero()
            self.step(f"trial balance zero per asset: {balanced}")
            reconciled = self.wallets_reconcile(self.mpesa_statements(since))
        return {
            "wallet": "ok",
            "bought_usdt": bought["usdt"]["amount"],
            "p2p": transfer["state"],
            "paybill_kes": topped_up,
            "bill": "paid" if bill["state"] == "completed" else bill["state"],
            "bill_token": bill["token"],
            "sold_kes": sold["paid_out"]["amount"],
            "remittance": remitted["state"],
            "trial_balance_zero": balanced,
            "wallets_reconciled": reconciled,
            "seconds": round(seconds, 1),
        }
