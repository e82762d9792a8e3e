"""The customer portal ``/app`` (the PWA's pages): sign up by phone and SMS code, log in, balances, send to a
phone, buy USDT with M-Pesa, sell USDT for shillings on M-Pesa, pay a bill, history and monthly statements (CSV).

Every view calls the wallet use cases through the app's ``Services`` (``wallet_signup``, ``wallets``,
``wallet_buys``, ``wallet_sells``, ``wallet_bills``), never HTTP, exactly as ``/v1/wallet`` does. Forms post and
redirect (POST/redirect/GET), every form carries a CSRF token, the money forms (send, buy, sell, bill) a fresh
idempotency key (a double press moves money once); a send and a bill are checked first (``/check``: nothing
moves, the check shows who receives and the fee, a bill from USDT the USDT at a quote locked for it) and sent by
the confirmation form the check shows. Everything works without JavaScript: a buy's, a sale's or a bill's status
page refreshes itself, and with htmx its status fragment is polled until M-Pesa's answer (286 stops the polling).
A refusal (a KYC limit by its name, a wrong code, a cancelled prompt with its reason) is shown on the form it came
from.

Example: ``GET /app/signup`` → phone → ``/app/signup/<verification id>`` → code and password → ``/app/`` (logged in).
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

from cryptopay.core.errors import CryptopayError, InvalidAmount, InvalidInput, QuoteRequired
from cryptopay.core.identity import Forbidden, Role, TwoFactorRequired, Unauthenticated
from cryptopay.core.mobile_money.limits import STK_LIMITS
from cryptopay.core.mobile_money.phones import mask_msisdn
from cryptopay.core.money import KES, USDT, Asset, Money, Rounding
from cryptopay.core.payouts import PayoutState
from cryptopay.core.wallets.billers import Biller
from cryptopay.core.wallets.buys import BuyState
from cryptopay.core.wallets.history import statement_period
from cryptopay.core.wallets.model import SENDABLE
from cryptopay.core.wallets.quotes import QuotePurpose
from cryptopay.core.wallets.step_up import StepUp, needs_step_up
from flask import Response, g, request
from flask.typing import ResponseReturnValue

from cryptopay_http.auth import (
    client_address,
    limit_by_client,
    limit_caller,
    limit_login,
    limit_payouts,
    limit_sends,
    passed_account_check,
    step_up_refusal_audited,
)
from cryptopay_http.idempotency import idempotent_form, new_form_key
from cryptopay_http.pages.i18n import NAIROBI, gettext, language, statement_describer
from cryptopay_http.pages.printables import pdf_filename, pdf_response, wallet_statement
from cryptopay_http.pages.refusals import refusal
from cryptopay_http.pages.session import (
    PORTAL,
    check_form_csrf,
    end_page_session,
    page_login,
    start_page_session,
    step_up_from_form,
)
from cryptopay_http.pages.web import allow_documents, local_target, page, page_blueprint, redirect, typed_decimal
from cryptopay_http.runtime import runtime

__all__ = ["bp"]

bp = page_blueprint("portal", __name__, url_prefix="/app")
_PUBLIC = {"portal.signup_form", "portal.signup", "portal.code_form", "portal.code", "portal.resend"}
_PUBLIC |= {"portal.login_form", "portal.login"}
_RECENT = 5
_HISTORY = 100
POLL_SECONDS = 3
_SENDABLE = [a.code for a in SENDABLE]


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    """Resolve the page session, check CSRF on every POST, and send visitors without a login to the login page."""
    principal = page_login(PORTAL)
    if principal is not None:
        g.principal = principal
        allow_documents()  # a logged-in visitor's photos: a larger body, before the form is read
    if request.method == "POST":
        check_form_csrf()
    if request.endpoint in _PUBLIC:
        return None
    if principal is None:
        return redirect(f"/app/login?next={quote(request.full_path.rstrip('?'))}", 303)
    if principal.role is not Role.PERSONAL:
        raise Forbidden("the customer portal is for personal wallets")
    return None


def _user_id() -> str:
    found: str = g.principal.id
    return found


def _local(target: str | None) -> str:
    """Where to go after logging in: a portal page of this site, never another host."""
    return local_target(target, within=("/app",), default="/app/")


def _amount(text: str, field: str = "amount") -> Decimal:
    """A positive amount as people type it (``1,500``, ``web.typed_decimal``); ``InvalidAmount`` for anything else."""
    value = typed_decimal(text, field=field, example="1500")
    if value <= 0:
        raise InvalidAmount("the amount must be positive", field=field)
    return value


class FeeNotShown(InvalidInput):
    """A money form's confirmation came without the fee its check showed (blank, missing or not an amount)."""

    code = "fee_not_shown"


def _shown_fee(field: str, asset: Asset) -> Money:
    """The fee the check step showed, from the confirmation form's hidden ``field``: the most the service may take
    (its ``max_fee``, refused above with ``fee_changed``). A confirmation without a valid one is ``FeeNotShown``
    (422): nothing moves unguarded, and the page shows its first form again, filled in, to check once more. Every
    two-step money form (send, withdraw) reads its fee here."""
    text = request.form.get(field, "").strip()
    try:
        return Money.of(typed_decimal(text, field=field, example="0"), asset)
    except InvalidInput:
        raise FeeNotShown(
            "this confirmation does not carry the fee you were shown: check again, then confirm", field=field
        ) from None


def _quote_budget() -> None:
    """Each locked quote is a stored price only this wallet may trade at: a page that locks one (buy, sell, a bill
    from USDT) is held to the wallet quote limit ``POST /v1/wallet/quotes`` has (``quote_rate_limit`` a window,
    ``RateLimited`` beyond it, shown on the form)."""
    limit_caller(runtime().settings.quote_rate_limit)


def _refusal(error: CryptopayError) -> dict[str, str | None]:
    """What a form shows for a refusal (``refusals.refusal``): the message in the page's language, the field it is
    about, and a limit's name when a KYC limit refused it."""
    return refusal(error, language())


# --- sign-up and login ------------------------------------------------------------------------------------------


@bp.get("/signup")
def signup_form() -> Response:
    if g.get("principal") is not None:
        return redirect("/app/", 303)
    return page("portal/signup.html")


@bp.post("/signup")
@limit_by_client
def signup() -> Response:
    phone = request.form.get("phone", "")
    try:
        verification = runtime().services.wallet_signup.start(phone, client=client_address())
    except CryptopayError as error:
        return page("portal/signup.html", error.http_status, phone=phone, **_refusal(error))
    return redirect(f"/app/signup/{verification.id}", 303)


@bp.get("/signup/<verification_id>")
def code_form(verification_id: str) -> Response:
    return page("portal/code.html", verification_id=verification_id, sent=request.args.get("sent"))


@bp.post("/signup/<verification_id>/resend")
@limit_by_client
def resend(verification_id: str) -> Response:
    try:
        runtime().services.wallet_signup.resend(verification_id, client=client_address())
    except CryptopayError as error:
        return page("portal/code.html", error.http_status, verification_id=verification_id, **_refusal(error))
    return redirect(f"/app/signup/{verification_id}?sent=1", 303)


@bp.post("/signup/<verification_id>")
@limit_by_client
def code(verification_id: str) -> Response:
    form = request.form
    password = form.get("password", "")
    username = form.get("username", "").strip() or None
    try:
        done = runtime().services.wallet_signup.complete(
            verification_id, form.get("code", "").strip(), password=password, username=username
        )
        pair = runtime().accounts.login(str(done.user.phone), password)
    except CryptopayError as error:
        context = {"verification_id": verification_id, "username": username or "", **_refusal(error)}
        return page("portal/code.html", error.http_status, **context)
    response = redirect("/app/?welcome=1", 303)
    start_page_session(response, pair, PORTAL)
    return response


@bp.get("/login")
def login_form() -> Response:
    if g.get("principal") is not None:
        return redirect(_local(request.args.get("next")), 303)
    return page("portal/login.html", next=_local(request.args.get("next")))


@bp.post("/login")
@limit_by_client
def login() -> Response:
    phone, password = request.form.get("phone", ""), request.form.get("password", "")
    code = request.form.get("code") or None
    target = _local(request.form.get("next"))
    limit_login(phone)
    try:
        pair = runtime().accounts.login(phone, password, code=code)
    except TwoFactorRequired as error:
        return page("portal/login.html", 401, next=target, phone=phone, need_code=True, **_refusal(error))
    except Unauthenticated:
        message = gettext("the phone number or password is wrong")
        return page("portal/login.html", 401, next=target, phone=phone, error=message, error_field="password")
    passed_account_check(pair.user.id, login=True)
    if pair.user.role is not Role.PERSONAL:
        runtime().accounts.logout(pair.refresh_token)
        message = gettext("this is not a personal wallet")
        return page("portal/login.html", 403, next=target, phone=phone, error=message, error_field="phone")
    response = redirect(target, 303)
    start_page_session(response, pair, PORTAL)
    return response


@bp.post("/logout")
def logout() -> Response:
    response = redirect("/app/login", 303)
    end_page_session(response, PORTAL)
    return response


# --- home and history -------------------------------------------------------------------------------------------


@bp.get("/")
def home() -> Response:
    wallets, user_id = runtime().services.wallets, _user_id()
    context = {
        "wallet": wallets.wallet(user_id),
        "balances": wallets.balances(user_id),
        "lines": wallets.history(user_id, limit=_RECENT),
        "welcome": request.args.get("welcome") == "1",
    }
    return page("portal/home.html", nav="home", **context)


@bp.get("/history")
def history() -> Response:
    lines = runtime().services.wallets.history(_user_id(), limit=_HISTORY)
    month = f"{runtime().services.clock.now().astimezone(NAIROBI):%Y-%m}"
    return page("portal/history.html", nav="history", lines=lines, month=month)


@bp.get("/statement")
def statement() -> Response:
    """The month's statement (``?month=YYYY-MM``, Nairobi time) as CSV, or as PDF with ``format=pdf``: the same
    files as ``/v1/wallet/statements/<month>``."""
    month = request.args.get("month", "")
    wallets, user_id = runtime().services.wallets, _user_id()
    if request.args.get("format") == "pdf":
        lines, wallet = wallets.statement_lines(user_id, month), wallets.wallet(user_id)
        holder = f"{wallet.phone} @{wallet.username}" if wallet.username else wallet.phone
        label = f"{statement_period(month)[0]:%Y-%m}"
        document = wallet_statement(lines, label, holder, wallets.statement_balances(user_id, month))
        return pdf_response(document, pdf_filename("cryptopay-statement", label))
    chunks = wallets.statement_chunks(user_id, month, describe=statement_describer())  # written as it is sent
    disposition = f'attachment; filename="cryptopay-statement-{statement_period(month)[0]:%Y-%m}.csv"'
    return Response(chunks, mimetype="text/csv", headers={"Content-Disposition": disposition})


# --- send -------------------------------------------------------------------------------------------------------


def _past_allowance(amount: Money) -> bool:
    """Whether this send or bill needs the password or a one-time code on its confirmation form: the wallet's sends
    and bills today, this one included, worth more than the step-up allowance (``wallets.step_up``, review5 S4)."""
    return needs_step_up(runtime().services.wallets, _user_id(), amount, _allowance())


def _allowance() -> Money:
    return Money.of(runtime().settings.wallet_step_up_kes, KES)


def _step_up_past_allowance(amount: Money) -> StepUp:
    """The confirmation form's step-up (``session.step_up_from_form``: a wrong one is audited
    ``auth.step_up_failed``) when the movement is past the allowance, as the API's ``X-Step-Up-Token``. The
    ``StepUp`` goes to the use case, which checks again under the wallet's lock (concurrent sends): its refusal is
    audited (``step_up_refusal_audited``) and the form asks again."""
    if _past_allowance(amount):
        step_up_from_form(g.principal)
        return StepUp(_allowance(), fresh=True)
    return StepUp(_allowance())


_key = new_form_key  # a fresh idempotency key for a money form (``idempotency.idempotent_form``)


_SEND_FIELDS = ("to", "amount", "asset", "note")


def _send_show(status: int = 200, **context: object) -> Response:
    return page("portal/send.html", status, nav="send", assets=_SENDABLE, **context)


def _send_money(form: dict[str, str]) -> Money:
    asset = {a.code: a for a in SENDABLE}.get(form["asset"])
    if asset is None:
        raise InvalidInput("send KES or USDT", field="asset")
    return Money.of(_amount(form["amount"]), asset)


@bp.get("/send")
def send_form() -> Response:
    return _send_show(form={"asset": "KES"})


@bp.post("/send/check")
def send_check() -> Response:
    """Check the amount and the recipient and show who receives, the amount and the fee (nothing moves); the
    confirmation form that follows sends, as ``/app/bills/check`` does for a bill."""
    form = {k: request.form.get(k, "").strip() for k in _SEND_FIELDS}
    try:
        limit_sends()  # each check tells whether the number has a wallet: the wallet's pace, with the API's sends
        money = _send_money(form)
        checked = runtime().services.wallets.check_send(_user_id(), form["to"], money, note=form["note"] or None)
    except CryptopayError as error:
        return _send_show(error.http_status, form=form, **_refusal(error))
    return _send_show(form=form, checked=checked, key=_key(), step_up=_past_allowance(money))


@bp.post("/send")
def send() -> Response:
    form = {k: request.form.get(k, "").strip() for k in _SEND_FIELDS}
    try:
        return _send(form)
    except CryptopayError as error:
        return _send_show(error.http_status, form=form, **_refusal(error))


@idempotent_form
def _send(form: dict[str, str]) -> Response:
    limit_sends()  # under the form's key: a double press replays, never counts twice
    money = _send_money(form)
    step_up = _step_up_past_allowance(money)  # under the form's key: a double press replays, never asks again
    max_fee = _shown_fee("fee", money.asset)  # the fee the check showed: a higher one now is refused
    with step_up_refusal_audited():
        transfer = runtime().services.wallets.send(
            _user_id(), form["to"], money, note=form["note"] or None, max_fee=max_fee, step_up=step_up
        )
    return redirect(f"/app/sent/{transfer.id}", 303)


@bp.get("/sent/<transfer_id>")
def sent(transfer_id: str) -> Response:
    transfer = runtime().services.wallets.transfer(_user_id(), transfer_id)
    # masked: a send to a username must not tell the sender the phone number behind it
    return page("portal/sent.html", nav="send", transfer=transfer, to=mask_msisdn(transfer.recipient_phone))


# --- buy USDT with M-Pesa ---------------------------------------------------------------------------------------


@bp.get("/buy")
def buy_form() -> Response:
    return page("portal/buy.html", nav="buy")


@bp.post("/buy/quote")
def buy_quote() -> Response:
    """Lock a quote for the shillings entered and show what they buy; the next form starts the STK Push."""
    text = request.form.get("kes", "")
    buys = runtime().services.wallet_buys
    try:
        kes = STK_LIMITS.check(Money.of(_amount(text, "kes"), KES))
        _quote_budget()
        quote_ = buys.quote(_user_id(), QuotePurpose.BUY)
        usdt = quote_.convert(kes, at=runtime().services.clock.now())
    except CryptopayError as error:
        return page("portal/buy.html", error.http_status, nav="buy", kes=text, **_refusal(error))
    return page("portal/buy.html", nav="buy", kes=text, amount=kes, quote=quote_, usdt=usdt, key=_key())


@bp.post("/buy")
def buy() -> Response:
    text = request.form.get("kes", "")
    try:
        return _buy(text, request.form.get("quote_id") or None)
    except CryptopayError as error:
        return page("portal/buy.html", error.http_status, nav="buy", kes=text, **_refusal(error))


@idempotent_form
def _buy(text: str, quote_id: str | None) -> Response:
    # the pace of STK prompts per wallet (review4 R19): one count with the API's buys
    limit_caller(runtime().settings.buy_rate_limit, purpose="buy")
    kes = Money.of(_amount(text, "kes"), KES)
    started = runtime().services.wallet_buys.start(_user_id(), kes, quote_id=quote_id)
    return redirect(f"/app/buy/{started.id}", 303)


@bp.get("/buy/<buy_id>")
def buy_page(buy_id: str) -> Response:
    found = runtime().services.wallet_buys.get(buy_id, user_id=_user_id())
    return page("portal/buy_status_page.html", nav="buy", buy=found, poll=POLL_SECONDS, BuyState=BuyState)


@bp.get("/buy/<buy_id>/status")
def buy_status(buy_id: str) -> Response:
    """The buy's status alone (htmx swaps it in); 286 tells htmx to stop polling once M-Pesa has answered."""
    found = runtime().services.wallet_buys.get(buy_id, user_id=_user_id())
    status = 286 if not found.open and request.headers.get("HX-Request") else 200
    return page("portal/buy_status.html", status, buy=found, BuyState=BuyState)


# --- sell USDT for shillings on M-Pesa ------------------------------------------------------------------------


@bp.get("/sell")
def sell_form() -> Response:
    return page("portal/sell.html", nav="sell")


@bp.post("/sell/quote")
def sell_quote() -> Response:
    """Lock a quote and show what the USDT fetch at its bid, M-Pesa's charge and the whole shillings that arrive;
    the next form sells."""
    text = request.form.get("usdt", "")
    try:
        usdt = Money.of(_amount(text, "usdt"), USDT)
        _quote_budget()
        quote_ = runtime().services.wallet_buys.quote(_user_id(), QuotePurpose.SELL)
        kes = Money.rounded(usdt.amount * quote_.bid, KES, Rounding.DOWN)
        charge, paid = runtime().services.wallet_sells.payout_of(kes)  # shown before the sale: what arrives, the charge
    except CryptopayError as error:
        return page("portal/sell.html", error.http_status, nav="sell", usdt=text, **_refusal(error))
    context = {"amount": usdt, "quote": quote_, "kes": kes, "charge": charge, "paid": paid, "key": _key()}
    return page("portal/sell.html", nav="sell", usdt=text, **context)


@bp.post("/sell")
def sell() -> Response:
    text = request.form.get("usdt", "")
    try:
        return _sell(text, request.form.get("quote_id") or None)
    except CryptopayError as error:
        return page("portal/sell.html", error.http_status, nav="sell", usdt=text, **_refusal(error))


@idempotent_form
def _sell(text: str, quote_id: str | None) -> Response:
    limit_payouts()  # each is a B2C payout: one count with sales, cash-outs and bills (review7 F12)
    usdt = Money.of(_amount(text, "usdt"), USDT)
    sale = runtime().services.wallet_sells.start(_user_id(), usdt, quote_id=quote_id)
    return redirect(f"/app/sell/{sale.id}", 303)


@bp.get("/sell/<sale_id>")
def sale_page(sale_id: str) -> Response:
    sale = runtime().services.wallet_sells.get(_user_id(), sale_id)
    return page("portal/sale_page.html", nav="sell", sale=sale, open=_sale_open(sale.state), poll=POLL_SECONDS)


@bp.get("/sell/<sale_id>/status")
def sale_status(sale_id: str) -> Response:
    """The sale's payout status alone (htmx swaps it in); 286 stops the polling once M-Pesa paid or refused it."""
    sale = runtime().services.wallet_sells.get(_user_id(), sale_id)
    status = 286 if not _sale_open(sale.state) and request.headers.get("HX-Request") else 200
    return page("portal/sale_status.html", status, sale=sale, open=_sale_open(sale.state))


def _sale_open(state: str) -> bool:
    return state not in (PayoutState.COMPLETED.value, PayoutState.FAILED.value)


# --- pay a bill -------------------------------------------------------------------------------------------------


def _billers() -> list[Biller]:
    return sorted(runtime().services.wallet_bills.catalogue.billers.values(), key=lambda b: b.name)


@bp.get("/bills")
def bill_form() -> Response:
    return page("portal/bills.html", nav="bills", billers=_billers(), form={"pay_with": "KES"})


class QuoteNotShown(QuoteRequired):
    """A bill paid from USDT was confirmed without the quote its check locked and showed (the USDT it costs)."""

    code = "quote_not_shown"


def _pay_with(form: dict[str, str]) -> str:
    pay_with = (form["pay_with"] or "KES").upper()
    if pay_with not in ("KES", "USDT"):
        raise InvalidInput("a bill is paid from KES or USDT", field="pay_with")
    return pay_with


@bp.post("/bills/check")
def bill_check() -> Response:
    """Check the biller, the account's format and the amount (nothing moves); the next form pays. Paid from USDT,
    the check locks a sale quote for the user alone (``Bills.quote``) and shows the USDT it costs and until when;
    the confirmation carries its id and pays at it (``/app/sell`` locks one the same way)."""
    form = {k: request.form.get(k, "").strip() for k in ("biller", "account", "amount", "pay_with")}
    bills = runtime().services.wallet_bills
    try:
        limit_sends()  # as the API's bills/validate: the wallet's pace of checks and sends, one count
        amount = Money.of(_amount(form["amount"]), KES)
        form["pay_with"] = _pay_with(form)
        checked = bills.check(form["biller"], form["account"], amount)
        quote_, usdt = None, None
        if form["pay_with"] == "USDT":
            _quote_budget()
            quote_, usdt = bills.quote(_user_id(), checked)
    except CryptopayError as error:
        context = {"billers": _billers(), "form": form, **_refusal(error)}
        return page("portal/bills.html", error.http_status, nav="bills", **context)
    step_up = _past_allowance(amount)
    return page(
        "portal/bills.html",
        nav="bills",
        form=form,
        checked=checked,
        quote=quote_,
        usdt=usdt,
        key=_key(),
        step_up=step_up,
    )


@bp.post("/bills")
def pay_bill() -> Response:
    form = {k: request.form.get(k, "").strip() for k in ("biller", "account", "amount", "pay_with")}
    try:
        return _pay_bill(form)
    except CryptopayError as error:
        context = {"billers": _billers(), "form": form, **_refusal(error)}
        return page("portal/bills.html", error.http_status, nav="bills", **context)


@idempotent_form
def _pay_bill(form: dict[str, str]) -> Response:
    limit_payouts()  # each is a B2B payment: one count with sales and cash-outs, API and portal (review7 F12)
    amount = Money.of(_amount(form["amount"]), KES)
    step_up = _step_up_past_allowance(amount)  # under the form's key: a double press replays, never asks again
    pay_with, quote_id = _pay_with(form), None
    if pay_with == "USDT":  # at the quote the check showed: never a fresh price the user did not see
        quote_id = request.form.get("quote_id", "").strip()
        if not quote_id:
            raise QuoteNotShown(
                "this confirmation does not carry the quote you were shown: check again, then confirm",
                field="quote_id",
            )
    with step_up_refusal_audited():
        bill = runtime().services.wallet_bills.pay(
            _user_id(), form["biller"], form["account"], amount, pay_with=pay_with, quote_id=quote_id, step_up=step_up
        )
    return redirect(f"/app/bills/{bill.id}", 303)


@bp.get("/bills/<bill_id>")
def bill_page(bill_id: str) -> Response:
    bill = runtime().services.wallet_bills.get(_user_id(), bill_id)
    return page("portal/bill_page.html", nav="bills", bill=bill, open=_sale_open(bill.state), poll=POLL_SECONDS)


@bp.get("/bills/<bill_id>/status")
def bill_status(bill_id: str) -> Response:
    """The bill's payout status alone (htmx swaps it in); 286 stops the polling once it is paid or refused."""
    bill = runtime().services.wallet_bills.get(_user_id(), bill_id)
    status = 286 if not _sale_open(bill.state) and request.headers.get("HX-Request") else 200
    return page("portal/bill_status.html", status, bill=bill, open=_sale_open(bill.state))
