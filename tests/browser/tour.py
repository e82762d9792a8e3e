"""Every page on the real stack, for people and for Lighthouse: ``make screenshots`` and ``make lighthouse``.

``python -m tests.browser.tour screenshots [DIR]`` starts the stack (sandbox with anvil, the API, the worker),
makes a merchant with an open and a paid invoice, and a portal customer who (verified, approved from the shell) buys
USDT by STK Push, pays a KPLC prepaid bill and sells USDT to M-Pesa, and saves a PNG of every page on a phone
(360x740) in English and in Swahili (``<page>-phone-sw.png``) and on a desktop (1280x800) into DIR (default
``docs/screenshots``): the console's account page of the merchant (with its close form), the held payments, held
sends and paybill lists and a paybill payment waiting in suspense, the portal's sale and bill status pages and the
emailed link's password-reset page (in English and in Swahili: ``reset_password_shots``) among them.

``python -m tests.browser.tour lighthouse [PAGE ...]`` runs Lighthouse (npm, ``lighthouse@12.2.3``) with Debian's Chromium
(``CHROME_PATH``), mobile emulation, on the checkout page, the dashboard home, the invoice list, the console's
audit log and KYC queue (a compliance officer's, with an application waiting) and the customer portal's home, buy
and send pages (logged in by a ``Cookie`` header; the admin with a
one-time code, the customer signed up through the portal's forms with the SMS simulator's code), prints a table,
and ends with one JSON line of the minimum scores (and the load average the machine had, since a busy machine
slows every page). Name pages (``checkout "invoice list"``) to measure only those; with ``LIGHTHOUSE_REPORTS=DIR``
each page's full Lighthouse JSON report is kept in DIR, to read what a score lost points on.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from cryptopay_cli.demo_e2e import Demo
from cryptopay_cli.demo_wallet import PASSWORD as WALLET_PASSWORD
from cryptopay_cli.demo_wallet import WalletDemo
from cryptopay_http.pages.i18n import LANG_COOKIE

from tests.browser.support import (
    ADMIN_EMAIL,
    BROWSER_ENV,
    CHROMIUM,
    DESKTOP,
    EMAIL,
    PASSWORD,
    PHONE,
    ROOT,
    Admin,
    Merchant,
    Staff,
    cli,
    kyc_applicant,
    paid_to_no_wallet,
    sms_code,
)

LIGHTHOUSE = ROOT / "node_modules/.bin/lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


def _paid_invoice(merchant: Merchant) -> dict[str, Any]:
    invoice = merchant.invoice("2500", return_url="https://duka.example/thanks")
    merchant.pay(invoice["payment_options"][0])
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        now = merchant._call("GET", f"/v1/invoices/{invoice['id']}", merchant.token)
        if now["state"] == "settled":
            return dict(now)
        time.sleep(0.5)
    raise TimeoutError("the tour's invoice did not settle")


def _session_cookie(api: str, email: str = EMAIL, code: str | None = None) -> str:
    """Log in through the dashboard's own form; the ``Cookie`` header a logged-in browser sends."""
    with httpx.Client(base_url=api, follow_redirects=False, timeout=30) as client:
        form = client.get("/dashboard/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token, form
        body = {"email": email, "password": PASSWORD, "csrf_token": token.group(1), "next": "/dashboard/"}
        if code:
            body["code"] = code
        answer = client.post("/dashboard/login", data=body)
        assert answer.status_code == 303, answer.text
        return f"cp_session={client.cookies['cp_session']}"


CUSTOMER_PHONE = "0712 345 201"


def _customer_cookie(api: str, demo: Demo, phone: str = CUSTOMER_PHONE) -> str:
    """Sign a personal wallet up through the portal's own forms (the SMS simulator's code); its ``Cookie`` header."""
    wire = "254" + re.sub(r"\D", "", phone)[-9:]
    with httpx.Client(base_url=api, follow_redirects=False, timeout=30) as client:

        def post(path: str, **body: str) -> httpx.Response:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
            assert token, path
            return client.post(path, data={"csrf_token": token.group(1), **body})

        started = post("/app/signup", phone=phone)
        assert started.status_code == 303, started.text
        done = post(started.headers["Location"], code=sms_code(demo, wire), password=WALLET_PASSWORD)
        assert done.status_code == 303, done.text
        return f"cp_app={client.cookies['cp_app']}"


def _sale_and_bill(demo: WalletDemo, phone: str = CUSTOMER_PHONE) -> dict[str, str]:
    """The portal customer's national ID verified (a compliance officer approves it from the shell), KES 2,600 of USDT
    bought by STK Push, a KPLC prepaid bill of KES 500 paid and 5 USDT sold to M-Pesa (the worker sends both): the
    routes of the sale's and the bill's status pages."""
    wire = "254" + re.sub(r"\D", "", phone)[-9:]
    token = demo._login(wire, WALLET_PASSWORD)
    identity = {
        "level": 1,
        "legal_name": "Amina Wanjiru",
        "date_of_birth": "1994-05-17",
        "id_type": "national_id",
        "id_number": "28765432",
        "phone": wire,
        "address": "Moi Avenue 12, Nairobi",
    }
    application = demo._call("POST", "/v1/kyc/applications", token=token, body=identity)
    demo._call("POST", f"/v1/kyc/applications/{application['id']}/submit", token=token, body={})
    cli(demo, "compliance", "show", application["id"], "--officer", OFFICER_EMAIL)  # the officer's read, first
    cli(demo, "compliance", "approve", application["id"], "--officer", OFFICER_EMAIL)
    demo.buy(token, "2600")
    bill = demo.pay_bill(token, "500")
    sale = demo.sell(token, "5")
    return {"portal-bill": f"/app/bills/{bill['id']}", "portal-sale": f"/app/sell/{sale['id']}"}


PORTAL_PAGES = {
    "portal-home": "/app/",
    "portal-send": "/app/send",
    "portal-buy": "/app/buy",
    "portal-history": "/app/history",
}


def _pages(demo: Demo, merchant: Merchant) -> dict[str, str]:
    open_invoice = merchant.invoice("1500")
    paid = _paid_invoice(merchant)
    api = demo.api
    return {
        "checkout": open_invoice["checkout_url"],
        "checkout-paid": paid["checkout_url"],
        "login": f"{api}/dashboard/login",
        "dashboard": f"{api}/dashboard/",
        "invoices": f"{api}/dashboard/invoices",
        "invoice": f"{api}/dashboard/invoices/{paid['id']}",
        "new-invoice": f"{api}/dashboard/invoices/new",
        "payouts": f"{api}/dashboard/settlements",
        "developers": f"{api}/dashboard/developers",
        "analytics": f"{api}/dashboard/analytics",
        "statements": f"{api}/dashboard/reports",
        "team": f"{api}/dashboard/team",
        "kyb": f"{api}/dashboard/kyb",
        "offline": f"{api}/offline",
    }


OFFICER_EMAIL = "ann@cryptopay.example"
ADMIN_PAGES = {
    "health": "/console/health",
    "treasury": "/console/treasury",
    "reconciliation": "/console/reconciliation",
    "paybill": "/console/paybill?state=suspended",
}


def _officer(demo: Demo) -> tuple[Staff, str]:
    """A compliance officer and an application waiting in the KYC queue (its id)."""
    return Staff(demo, OFFICER_EMAIL, "compliance"), kyc_applicant(demo, "applicant@example.co.ke")


def _officer_pages(application: str) -> dict[str, str]:
    return {
        "kyc-queue": "/console/kyc",
        "kyc-application": f"/console/kyc/{application}",
        "alerts": "/console/alerts",
        "held-payments": "/console/held-payments",
        "held-transfers": "/console/held-transfers",
    }


# A phone in English and in Swahili (the browser's Accept-Language, as a Swahili phone sends it: ``*-sw-phone.png``),
# and a desktop in English.
PASSES = (("phone", PHONE, "en-KE"), ("phone-sw", PHONE, "sw-KE"), ("desktop", DESKTOP, "en-KE"))


def screenshots(folder: Path, demo: WalletDemo, merchant: Merchant, admin: Admin) -> list[Path]:
    from playwright.sync_api import sync_playwright

    pages, cookie = _pages(demo, merchant), _session_cookie(demo.api)
    staff = _session_cookie(demo.api, ADMIN_EMAIL, admin.codes.pop())
    officer, application = _officer(demo)
    officer_cookie = _session_cookie(demo.api, OFFICER_EMAIL, officer.codes.pop())
    customer = _customer_cookie(demo.api, demo)
    portal_pages = {**PORTAL_PAGES, **_sale_and_bill(demo)}
    admin_pages = {
        **ADMIN_PAGES,
        "account": f"/console/accounts/{merchant.id}",  # with the close-merchant form
        "paybill-payment": f"/console/paybill/{paid_to_no_wallet(demo, 'nobody-tour')}",  # waiting in suspense
    }
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for device, viewport, locale in PASSES:
            context = browser.new_context(viewport=viewport, locale=locale, is_mobile=viewport is PHONE)
            name, _, value = cookie.partition("=")
            context.add_cookies([{"name": name, "value": value, "url": f"{demo.api}/dashboard/"}])
            page = context.new_page()
            for label, url in pages.items():
                if label == "login":
                    context.clear_cookies()
                page.goto(url)
                page.wait_for_load_state("networkidle")
                path = folder / f"{label}-{device}.png"
                page.screenshot(path=str(path), full_page=True)
                written.append(path)
                if label == "login":
                    context.add_cookies([{"name": name, "value": value, "url": f"{demo.api}/dashboard/"}])
            context.clear_cookies()
            context.add_cookies([{"name": name, "value": staff.partition("=")[2], "url": f"{demo.api}/console/"}])
            page.goto(f"{demo.api}/console/audit?verify=1")
            path = folder / f"audit-log-{device}.png"
            page.screenshot(path=str(path), full_page=True)
            written.append(path)
            written += _shoot(page, folder, device, demo.api, admin_pages)
            context.clear_cookies()
            officer_value = officer_cookie.partition("=")[2]
            context.add_cookies([{"name": name, "value": officer_value, "url": f"{demo.api}/console/"}])
            written += _shoot(page, folder, device, demo.api, _officer_pages(application))
            context.clear_cookies()
            context.add_cookies([{"name": "cp_app", "value": customer.partition("=")[2], "url": f"{demo.api}/app/"}])
            for label, route in portal_pages.items():
                page.goto(f"{demo.api}{route}")
                path = folder / f"{label}-{device}.png"
                page.screenshot(path=str(path), full_page=True)
                written.append(path)
            context.close()
        written += reset_password_shots(browser, demo.api, folder)
        browser.close()
    return written


# The emailed reset link's page, as its reader lands on it (no login; the token in the fragment, which app.js takes).
RESET_PASSWORD = "/reset-password#token=the-token-from-the-email"
LANGUAGES = ("en", "sw")


def reset_password_shots(browser: Any, api: str, folder: Path) -> list[Path]:
    """The password-reset page on a phone and a desktop, in English (``reset-password-<device>.png``) and in Swahili
    (``reset-password-sw-<device>.png``: the language switch's cookie, as ``/lang/sw`` sets it)."""
    written = []
    for device, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        for language in LANGUAGES:
            locale = "sw-KE" if language == "sw" else "en-KE"
            context = browser.new_context(viewport=viewport, locale=locale, is_mobile=device == "phone")
            context.add_cookies([{"name": LANG_COOKIE, "value": language, "url": f"{api}/"}])
            page = context.new_page()
            page.goto(f"{api}{RESET_PASSWORD}")
            page.wait_for_load_state("networkidle")
            label = "reset-password" if language == "en" else f"reset-password-{language}"
            path = folder / f"{label}-{device}.png"
            page.screenshot(path=str(path), full_page=True)
            written.append(path)
            context.close()
    return written


def _shoot(page: Any, folder: Path, device: str, api: str, routes: dict[str, str]) -> list[Path]:
    written = []
    for label, route in routes.items():
        page.goto(f"{api}{route}")
        path = folder / f"console-{label}-{device}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)
    return written


def _lighthouse(url: str, cookie: str | None, keep: Path | None = None) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as work:
        report = Path(work) / "report.json"
        command = [
            str(LIGHTHOUSE),
            url,
            "--quiet",
            "--output=json",
            f"--output-path={report}",
            f"--only-categories={','.join(CATEGORIES)}",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
        ]
        if cookie:
            command.append(f"--extra-headers={json.dumps({'Cookie': cookie})}")
        env = {**os.environ, "CHROME_PATH": CHROMIUM}
        for attempt in range(3):  # Lighthouse sometimes loses the trace of a load (NO_NAVSTART): measure again
            if subprocess.run(command, env=env, timeout=300, check=False).returncode == 0:
                break
            print(f"lighthouse failed on {url} (attempt {attempt + 1}); trying again", file=sys.stderr)
        else:
            raise RuntimeError(f"lighthouse failed three times on {url}")
        categories = json.loads(report.read_text())["categories"]
        if keep:
            shutil.copyfile(report, keep.with_suffix(".json"))
    return {name: round(categories[name]["score"] * 100) for name in CATEGORIES}


def lighthouse(demo: Demo, merchant: Merchant, admin: Admin, only: list[str] | None = None) -> dict[str, Any]:
    cookie = _session_cookie(demo.api)
    staff = _session_cookie(demo.api, ADMIN_EMAIL, admin.codes.pop())
    customer = _customer_cookie(demo.api, demo)
    officer, _ = _officer(demo)
    officer_cookie = _session_cookie(demo.api, OFFICER_EMAIL, officer.codes.pop())
    targets = {
        "checkout": (merchant.invoice("1500")["checkout_url"], None),
        "dashboard home": (f"{demo.api}/dashboard/", cookie),
        "invoice list": (f"{demo.api}/dashboard/invoices", cookie),
        "audit log": (f"{demo.api}/console/audit", staff),
        "kyc queue": (f"{demo.api}/console/kyc", officer_cookie),
        "portal home": (f"{demo.api}/app/", customer),
        "portal buy": (f"{demo.api}/app/buy", customer),
        "portal send": (f"{demo.api}/app/send", customer),
    }
    unknown = set(only or ()) - set(targets)
    if unknown:
        raise SystemExit(f"no such lighthouse page: {', '.join(sorted(unknown))} (pages: {', '.join(targets)})")
    reports = Path(os.environ["LIGHTHOUSE_REPORTS"]) if os.environ.get("LIGHTHOUSE_REPORTS") else None
    if reports:
        reports.mkdir(parents=True, exist_ok=True)
    scores = {
        name: _lighthouse(url, with_cookie, reports / name.replace(" ", "-") if reports else None)
        for name, (url, with_cookie) in targets.items()
        if not only or name in only
    }
    print(f"{'page':<16}" + "".join(f"{c:>16}" for c in CATEGORIES))
    for name, row in scores.items():
        print(f"{name:<16}" + "".join(f"{row[c]:>16}" for c in CATEGORIES))
    summary: dict[str, Any] = {"pages": len(scores)}
    for category in CATEGORIES:
        summary[f"min_{category.replace('-', '_')}"] = min(row[category] for row in scores.values())
    summary["load_average"] = round(os.getloadavg()[0], 1)
    print(json.dumps(summary))
    return summary


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "screenshots"
    with tempfile.TemporaryDirectory() as work:
        demo = WalletDemo(Path(work) / "stack", lambda _: None, env=BROWSER_ENV)  # the wallet's steps for the portal
        with demo.running():
            merchant, admin = Merchant(demo), Admin(demo)
            if what == "lighthouse":
                lighthouse(demo, merchant, admin, sys.argv[2:])
            else:
                folder = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs/screenshots"
                for path in screenshots(folder, demo, merchant, admin):
                    print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
