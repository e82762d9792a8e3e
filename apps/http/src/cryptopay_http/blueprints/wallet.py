"""Personal wallets: sign up by phone, balances, transfers between people (``/v1/wallet/...``).

Sign-up is public and throttled per client address (and per number by the use case): ``POST /v1/wallet/signup``
sends a one-time code by SMS, ``.../resend`` a fresh one, ``.../complete`` checks it and creates the account.
Everything else needs a personal user's login; a transfer needs an ``Idempotency-Key`` (a retry with the same key
replays the first answer, so a lost response never sends twice).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlencode

import attrs
from cryptopay.core.compliance.monitoring import Blocked
from cryptopay.core.errors import (
    Conflict,
    CryptopayError,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    InvalidState,
    LimitExceeded,
    MovementUnavailable,
    NotFound,
    QuoteExpired,
    QuoteUsed,
    Refused,
    SmsUndeliverable,
    Unavailable,
)
from cryptopay.core.fx import Quote
from cryptopay.core.identity import RateLimited, Role
from cryptopay.core.identity.service import MAX_PASSWORD, MIN_PASSWORD
from cryptopay.core.identity.weak_passwords import WeakPassword
from cryptopay.core.mobile_money.phones import NotMpesaNumber, mask_msisdn
from cryptopay.core.mobile_money.wording import payout_wording
from cryptopay.core.money import KES, Money, asset_by_code
from cryptopay.core.payments.link_amounts import AmountBelowMinimum
from cryptopay.core.payouts import PayoutState
from cryptopay.core.pricing import Depegged
from cryptopay.core.reports.periods import MONTH_PATTERN
from cryptopay.core.text import TextKind
from cryptopay.core.wallets import HOLDINGS, PhoneVerification, Transfer, TransferState, Wallet
from cryptopay.core.wallets.buys import Buy, BuyState, PromptOpen
from cryptopay.core.wallets.history import KINDS as HISTORY_KINDS
from cryptopay.core.wallets.history import HistoryLine, statement_period
from cryptopay.core.wallets.model import SENDABLE
from cryptopay.core.wallets.quotes import QuotePurpose, QuotePurposeMismatch
from cryptopay.core.wallets.sells import Sale
from cryptopay.core.wallets.service import MAX_NOTE, InviteLimit, RecipientLimit, SendBelowMinimum, WalletFrozen
from cryptopay.core.wallets.signup import WrongCode
from cryptopay.core.wallets.sms_budget import SignupAddressLimit, SmsBudgetExhausted, SmsRangeRefused
from cryptopay.core.wallets.step_up import StepUp, needs_step_up
from cryptopay.core.wallets.usernames import ReservedUsername
from flask import Blueprint, Response, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from cryptopay_http.amounts import CURRENCY, AmountRule
from cryptopay_http.auth import (
    check_step_up_audited,
    client_address,
    current_principal,
    documents_step_up_if,
    limit_by_client,
    limit_caller,
    limit_payouts,
    limit_sends,
    rate_limits,
    require,
    step_up_refusal_audited,
    stepped_up,
)
from cryptopay_http.blueprints.identity import EMAIL_FIELD_PATTERN, EMAIL_HINT, UserView
from cryptopay_http.blueprints.payouts import RESULT_WORDING
from cryptopay_http.convert import (
    TRIMMED_HINT,
    TRIMMED_NAME_PATTERN,
    FieldError,
    ValidationFailed,
    json_response,
    limits,
    read_body,
)
from cryptopay_http.idempotency import idempotent
from cryptopay_http.openapi import PageOf, object_schema, operation, register_schema, signed_money
from cryptopay_http.pages.i18n import statement_describer
from cryptopay_http.pages.printables import pdf_filename, pdf_response, wallet_statement
from cryptopay_http.pagination import CURSOR_PATTERN, paginate, paginated
from cryptopay_http.query import Param, enum_param, query
from cryptopay_http.runtime import runtime

__all__ = [
    "MOVEMENT_PROBLEMS",
    "NO_WALLET",
    "PAYOUTS_PACED",
    "QUOTE_PROBLEMS",
    "SENDS_PACED",
    "STEP_UP_WHEN",
    "bp",
    "step_up_past_allowance",
]

bp = Blueprint("wallet", __name__)

# What the use cases accept, published so that clients (and schemathesis) know it: separators as people type them.
PHONE_PATTERN = r"^(\+?254|0) ?[17][0-9]{2} ?[0-9]{3} ?[0-9]{3}$"
USERNAME_PATTERN = r"^@?[A-Za-z][A-Za-z0-9_]{2,29}$"
_TO_PATTERN = f"({PHONE_PATTERN})|({USERNAME_PATTERN})"
_TAGS = ("wallet",)
_PERSONAL = [Role.PERSONAL]
_PDF = "application/pdf"

# What every money movement of a wallet may be refused with (``wallets.service._sender``, the KYC limits, AML
# monitoring's blocking rules and the ledger), for the operations that move money (``@operation(problems=)``).
MOVEMENT_PROBLEMS: tuple[tuple[type[CryptopayError], str], ...] = (
    (WalletFrozen, "an operator froze the wallet"),
    (LimitExceeded, "past a limit of the caller's KYC tier (the problem names the limit and what remains)"),
    (MovementUnavailable, "the account may not make this movement at the moment (no reason is given): contact support"),
    (Blocked, "a compliance rule refused the movement"),
    (InsufficientFunds, "the balance does not cover it (the problem says what is available)"),
)
NO_WALLET = (NotFound, "the caller has no wallet")
# The 429 of what counts against the wallet's sends per minute (a send, its check, a bill's check: ``wallet_sends``)
SENDS_PACED = (RateLimited, "the wallet's checks and sends this minute are used up (Retry-After says when)")
# M-Pesa prompts and pays only Safaricom numbers; a wallet on Airtel or Telkom uses P2P and on-chain USDT instead
NOT_MPESA = (NotMpesaNumber, "the wallet's number is not Safaricom's (Airtel, Telkom): M-Pesa cannot prompt or pay it")
# A locked quote named by ``quote_id`` (``wallets.quotes``).
QUOTE_PROBLEMS: tuple[tuple[type[CryptopayError], str], ...] = (
    (NotFound, "no such quote of the caller's"),
    (QuoteExpired, "the quote expired: lock a new one"),
    (QuoteUsed, "the quote was used already: lock a new one"),
    (QuotePurposeMismatch, "the quote was locked for the other side (buy or sell)"),
)


STEP_UP_WHEN = (
    "when the wallet's sends and bill payments today (Nairobi), this one included, are worth more than the step-up "
    "allowance (`CRYPTOPAY_WALLET_STEP_UP_KES`, KES 1,000 by default); a refusal is audited"
)


def step_up_past_allowance(amount: Money) -> StepUp:
    """A fresh step-up (``X-Step-Up-Token``) for a send or a bill past the day's allowance (``wallets.step_up``,
    review5 S4): a missing or stale one is 403 ``step_up_required``, audited ``access.refused``. This early read
    refuses at once; the ``StepUp`` it returns goes to the use case, which checks again with the usage read under
    the sender's wallet lock (the check that counts: concurrent sends), called in ``step_up_refusal_audited``."""
    allowance = Money.of(runtime().settings.wallet_step_up_kes, KES)
    if needs_step_up(runtime().services.wallets, current_principal().id, amount, allowance):
        check_step_up_audited()
        return StepUp(allowance, fresh=True)
    return StepUp(allowance, fresh=stepped_up())


@attrs.frozen
class SignupStart:
    phone: str = attrs.field(
        metadata=limits("a Kenyan mobile number: 07…, 01…, +2547…", max_length=32, pattern=PHONE_PATTERN)
    )


@attrs.frozen
class SignupComplete:
    code: str = attrs.field(repr=False, metadata=limits("the six-digit SMS code", pattern=r"^[0-9]{6}$"))
    password: str = attrs.field(
        repr=False, metadata=limits(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD, text=TextKind.SECRET)
    )
    email: str | None = attrs.field(
        default=None, metadata=limits(max_length=254, pattern=EMAIL_FIELD_PATTERN, hint=EMAIL_HINT)
    )
    username: str | None = attrs.field(
        default=None,
        metadata=limits(
            max_length=31,
            pattern=USERNAME_PATTERN,
            hint="must be 3 to 30 letters, digits or underscores, starting with a letter",
        ),
    )
    display_name: str | None = attrs.field(
        default=None,
        metadata=limits(max_length=100, pattern=TRIMMED_NAME_PATTERN, hint=TRIMMED_HINT, text=TextKind.NAME),
    )


@attrs.frozen
class VerificationView:
    """A code is on its way: complete the sign-up with it before ``expires_at``."""

    verification_id: str
    phone: str
    expires_at: datetime
    resend_after: datetime


@attrs.frozen
class WalletView:
    """A wallet and its available balances (KES, USDT whatever the network, BTC)."""

    user_id: str
    phone: str
    username: str | None
    frozen: bool
    balances: list[Money]
    created_at: datetime

    @classmethod
    def of(cls, wallet: Wallet, balances: dict[str, Money]) -> WalletView:
        return cls(
            wallet.user_id, wallet.phone, wallet.username, wallet.frozen, list(balances.values()), wallet.created_at
        )


@attrs.frozen
class SignupView:
    user: UserView
    wallet: WalletView
    received_transfers: int = attrs.field(metadata={"description": "transfers that were waiting for this number"})


@attrs.frozen
class TransferRequest:
    to: str = attrs.field(
        metadata=limits("a phone number (07…, +2547…) or a username", max_length=32, pattern=_TO_PATTERN)
    )
    note: str | None = attrs.field(default=None, metadata=limits(max_length=MAX_NOTE, text=TextKind.PROSE))
    amount: Any = attrs.field(
        default=None, kw_only=True, metadata=limits('the amount to send, a decimal string such as "300" (KES or USDT)')
    )
    currency: str | None = attrs.field(default=None, kw_only=True, metadata=limits(CURRENCY))


# Deprecated: ``amount`` as an object {"amount": "300", "asset": "KES"}.
TRANSFER_AMOUNT = AmountRule(tuple(a.code for a in SENDABLE), legacy_object=True)
TRANSFER_AMOUNT.document(TransferRequest)


@attrs.frozen
class TransferView:
    """A transfer; ``awaiting_claim`` until the number signs up, ``returned`` if nobody did by ``claim_expires_at``."""

    id: str
    direction: str
    amount: Money
    fee: Money
    state: TransferState
    recipient_phone: str = attrs.field(
        metadata={"description": "masked (2547******99): a send to a username never tells the sender its phone"}
    )
    note: str | None
    created_at: datetime
    claim_expires_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, t: Transfer, user_id: str) -> TransferView:
        direction = "sent" if t.sender_id == user_id else "received"
        created_at, finished_at = t.shown_times(user_id)  # a held send's times read as an ordinary send's
        return cls(
            t.id,
            direction,
            t.amount,
            t.fee,
            t.shown_state,  # a send held for a frozen recipient reads as delivered (review4 R6: no tipping-off)
            mask_msisdn(t.recipient_phone),
            t.note,
            created_at,
            t.claim_expires_at,
            finished_at,
        )


def _verification_view(v: PhoneVerification) -> VerificationView:
    policy = runtime().services.wallet_signup.policy
    return VerificationView(v.id, v.phone, v.expires_at, v.last_sent_at + policy.resend_after)


@bp.post("/v1/wallet/signup")
@operation(
    "Start a personal wallet: send a one-time code to a Kenyan phone",
    description=(
        "Starts a personal wallet: sends a one-time code by SMS to a Kenyan mobile number and returns the "
        "verification to complete with it (`verification_id`, when the code expires). The answer is the "
        "same whether or not the number already has an account (its owner is told by SMS). "
    )
    + rate_limits(per_client=True, per_account=False)
    + " At most 5 codes an hour per number, 50 a day per client address (429 signup_address_limit) and a budget"
    " for the whole deployment (CRYPTOPAY_SIGNUP_SMS_PER_HOUR, default 500: 429 sms_budget_exhausted, the same"
    " answer whoever holds the number); a number outside Safaricom's, Airtel's and Telkom's ranges is 422"
    " sms_range_refused.",
    request=SignupStart,
    response=VerificationView,
    status=202,
    tags=_TAGS,
    errors=(422, 503),
    problems=(
        (RateLimited, "too many codes for this number (at most 5 an hour) or from this address"),
        (SmsRangeRefused, "the number is not in Safaricom's, Airtel's or Telkom's mobile ranges: no code is sent"),
        (SignupAddressLimit, "this client address asked for its day's codes already (50 by default)"),
        (SmsBudgetExhausted, "the deployment sent its hour's codes: everyone waits for the next hour"),
        (SmsUndeliverable, "the SMS provider refused the number (invalid, blacklisted, do-not-disturb)"),
        (Unavailable, "SMS is not configured on this server, or the provider is down"),
    ),
)
@limit_by_client
def start_signup() -> Response:
    body = read_body(SignupStart)
    verification = runtime().services.wallet_signup.start(body.phone, client=client_address())
    return json_response(_verification_view(verification), 202)


@bp.post("/v1/wallet/signup/<verification_id>/resend")
@operation(
    "Send a fresh code (a minute after the last, at most 5 times)",
    response=VerificationView,
    status=202,
    tags=_TAGS,
    errors=(404, 409, 503),
    description=(
        "Sends a fresh code for a verification (the previous one stops working): not before a minute "
        "after the last, at most 5 times."
    ),
    problems=(
        (NotFound, "no such verification"),
        (InvalidState, "the verification was completed already: start again"),
        (RateLimited, "too soon after the last code, or no more codes for it (Retry-After says when)"),
        (SignupAddressLimit, "this client address asked for its day's codes already (50 by default)"),
        (SmsBudgetExhausted, "the deployment sent its hour's codes: everyone waits for the next hour"),
        (SmsUndeliverable, "the SMS provider refused the number"),
        (Unavailable, "SMS is not configured, or the provider is down"),
    ),
)
@limit_by_client
def resend_code(verification_id: str) -> Response:
    verification = runtime().services.wallet_signup.resend(verification_id, client=client_address())
    return json_response(_verification_view(verification), 202)


@bp.post("/v1/wallet/signup/<verification_id>/complete")
@operation(
    "Finish signing up with the code and a password (email and username optional)",
    request=SignupComplete,
    response=SignupView,
    status=201,
    tags=_TAGS,
    errors=(403, 404, 409, 422),
    description=(
        "Finishes signing up with the code received and a password (optionally an email, a username "
        "others can send to, and a display name): creates the personal login and its wallet, and credits "
        "any money sent to the number while it had no wallet (`claimed`). Log in afterwards with the "
        "phone number or email. An email given here is emailed a link to prove it; until proven it cannot reset "
        "the password (the phone is the wallet's identity)."
    ),
    problems=(
        (WrongCode, "the code is wrong, expired or used up (too many tries): start again"),
        (
            Conflict,
            "the number already has an account (log in), the username is taken, or the email has an account "
            "(the code is then used up: start again)",
        ),
        (NotFound, "no such verification"),
        (WeakPassword, "the password is too short or easy to guess"),
        (ReservedUsername, "the username reads as the platform's, a partner's or an official name"),
    ),
)
@limit_by_client
def complete_signup(verification_id: str) -> Response:
    body = read_body(SignupComplete)
    services = runtime().services
    done = services.wallet_signup.complete(
        verification_id,
        body.code,
        password=body.password,
        email=body.email,
        username=body.username,
        display_name=body.display_name,
    )
    if done.user.email is not None:  # a contact until proven from inside: the link to prove it (review6 F7)
        runtime().proofs.send(done.user)
    wallet = WalletView.of(done.wallet, services.wallets.balances(done.user.id))
    return json_response(SignupView(UserView.of(done.user), wallet, done.claimed), 201)


@bp.get("/v1/wallet")
@operation(
    "My wallet and its balances",
    response=WalletView,
    tags=_TAGS,
    errors=(404,),
    description=(
        "The caller's wallet: its phone (masked), username, whether it is frozen, and its balance per "
        "asset (KES, USDT). `frozen` is an operator's freeze of the wallet (`cryptopay wallets freeze`, refused "
        "with `wallet_frozen`); a hold decided by compliance is not shown here (its subject is not told) and "
        "refuses movements with `movement_unavailable`."
    ),
    problems=(NO_WALLET,),
)
@require(roles=_PERSONAL)
def my_wallet() -> Response:
    wallets, user_id = runtime().services.wallets, current_principal().id
    return json_response(WalletView.of(wallets.wallet(user_id), wallets.balances(user_id)))


@bp.get("/v1/wallet/balances")
@operation(
    "My available balances",
    response=list[Money],
    tags=_TAGS,
    errors=(404,),
    description=(
        "The caller's available balance per asset (KES, USDT), as money objects: a small fixed set, answered "
        "whole as a JSON array (not a `{data, next_cursor}` page)."
    ),
    problems=(NO_WALLET,),
)
@require(roles=_PERSONAL)
def my_balances() -> Response:
    return json_response(list(runtime().services.wallets.balances(current_principal().id).values()))


@bp.post("/v1/wallet/transfers")
@operation(
    "Send KES or USDT to a phone number or username",
    request=TransferRequest,
    response=TransferView,
    status=201,
    tags=_TAGS,
    errors=(404, 422),
    description=(
        "Sends KES or USDT from the caller's wallet to another wallet named by phone number or username, "
        "at once, with an optional note; the fee (if any) comes on top. A number without a wallet is "
        "invited by SMS: the money waits for it 7 days, then comes back. The recipient's KYC tier limits what "
        "it may receive (a phone-only wallet small amounts): a send beyond it is refused, telling the sender "
        "only that. The transfer's URL is in `Location`. "
    )
    + rate_limits(wallet_sends=True),
    problems=(
        *MOVEMENT_PROBLEMS,
        NO_WALLET,
        (NotFound, "nobody has the username given"),
        (InvalidInput, "sending to oneself, or a recipient that is neither a phone number nor a username"),
        (InvalidAmount, "not KES or USDT, not positive, or below a cent"),
        (SendBelowMinimum, "worth less than KES 10, or, to a phone number, less than an invitation (KES 50)"),
        (InviteLimit, "too many sends to numbers without a wallet (today, or still unclaimed)"),
        (RecipientLimit, "the recipient cannot receive this amount now (its KYC tier; nothing more is said)"),
        SENDS_PACED,
    ),
)
@require(roles=_PERSONAL)
@documents_step_up_if(STEP_UP_WHEN)
@idempotent
def send_transfer() -> Response:
    limit_sends()  # each tells whether the recipient has a wallet: one count with the portal's checks (F6)
    body = read_body(TransferRequest)
    user_id = current_principal().id
    amount = TRANSFER_AMOUNT.money(body)
    step_up = step_up_past_allowance(amount)
    with step_up_refusal_audited():
        transfer = runtime().services.wallets.send(user_id, body.to, amount, note=body.note, step_up=step_up)
    view = TransferView.of(transfer, user_id)
    return json_response(view, 201, headers={"Location": f"/v1/wallet/transfers/{transfer.id}"})


@bp.get("/v1/wallet/transfers")
@operation(
    "My transfers, newest first",
    response=PageOf(TransferView),
    tags=_TAGS,
    description=(
        "Transfers the caller sent or received, newest first, with the other party, amount, fee, note and "
        "state (an invitation's until it is claimed or comes back)."
    ),
)
@require(roles=_PERSONAL)
@paginated("trf")
def list_transfers() -> Response:
    wallets, user_id = runtime().services.wallets, current_principal().id

    def fetch(after: str | None, limit: int) -> list[Transfer]:
        return wallets.transfers(user_id, after=after, limit=limit)

    return json_response(paginate(fetch, lambda t: TransferView.of(t, user_id)))


@bp.get("/v1/wallet/transfers/<transfer_id>")
@operation(
    "A transfer I sent or received",
    response=TransferView,
    tags=_TAGS,
    errors=(404,),
    description="One transfer the caller sent or received.",
    problems=((NotFound, "no such transfer of the caller's"),),
)
@require(roles=_PERSONAL)
def get_transfer(transfer_id: str) -> Response:
    user_id = current_principal().id
    return json_response(TransferView.of(runtime().services.wallets.transfer(user_id, transfer_id), user_id))


@attrs.frozen
class HistoryView:
    """One movement: signed ``amount`` (+ in, - out) and the balance after it."""

    entry_id: str
    at: datetime
    amount: Money
    balance_after: Money
    kind: str
    description: str
    transfer_id: str | None

    @classmethod
    def of(cls, h: HistoryLine) -> HistoryView:
        return cls(h.entry_id, h.at, h.amount, h.balance_after, h.kind, h.description, h.transfer_id)


def _history_schema(components: dict[str, Any]) -> dict[str, Any]:
    """The fields, with ``amount`` signed (``SignedMoney``: ``-`` for what left the wallet; review3 I6)."""
    schema = object_schema(HistoryView, components)
    return {**schema, "properties": {**schema["properties"], "amount": signed_money(components)}}


register_schema(HistoryView, _history_schema)

_MONTH = {"type": "string", "minLength": 7, "maxLength": 7, "pattern": MONTH_PATTERN}


class StatementMonth(BaseConverter):
    """A statement month in a path, declared with the rule ``statement_period`` enforces (else a 422 problem)."""

    schema: ClassVar[dict[str, object]] = _MONTH


@bp.record_once
def _add_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("statement_month", StatementMonth)


@bp.get("/v1/wallet/history")
@operation(
    "My movements with running balances, newest first",
    response=list[HistoryView],
    tags=_TAGS,
    errors=(404, 422),
    description=(
        "The caller's ledger movements, newest first, each with its signed amount (+ in, - out), the "
        "balance after it, its kind and description; filter by `asset`, `kind` or `month` (a Nairobi "
        "calendar month). The answer is a JSON array (not the `{data, next_cursor}` page of other lists: "
        'kept for existing clients); when more lines follow, a `Link: <...>; rel="next"` header (RFC 8288) '
        "gives the next page's URL, the same query with `cursor` set (its last line's `entry_id`). A "
        "conversion (a sale, a bill paid from USDT, USDC to USDT) is one entry with a line per asset, all with "
        "its `entry_id`: a page never ends inside an entry, so it may hold up to two lines more than `limit`, "
        "and following the links gives every line exactly once."
    ),
    problems=(NO_WALLET,),
)
@require(roles=_PERSONAL)
@query(
    enum_param("asset", lambda: [a.code for a in HOLDINGS], "one balance only"),
    enum_param("kind", lambda: HISTORY_KINDS, "one kind of movement only"),
    Param("month", _MONTH, description="one Nairobi calendar month"),
    Param(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 500},
        description="this many (100), and the rest of the last one's entry (up to two lines more)",
    ),
    Param(
        "cursor",
        {"type": "string", "minLength": 4, "maxLength": 53, "pattern": CURSOR_PATTERN},
        description='the next page: as the previous answer\'s `Link: <...>; rel="next"` header gives it',
    ),
)
def my_history() -> Response:
    args = request.args
    since, until = statement_period(args["month"]) if "month" in args else (None, None)
    asset = asset_by_code(args["asset"]) if "asset" in args else None
    limit = int(args.get("limit", "100"))
    page = runtime().services.wallets.history_page(
        current_principal().id,
        asset=asset,
        since=since,
        until=until,
        kind=args.get("kind"),
        limit=limit,
        after=args.get("cursor"),
    )
    cursor = page.next_cursor
    headers = {"Link": _next_link({**args.to_dict(), "cursor": cursor})} if cursor is not None else None
    return json_response([HistoryView.of(h) for h in page.lines], headers=headers)


def _next_link(query: dict[str, str]) -> str:
    """An RFC 8288 ``Link`` to the next page: this path with ``query`` (review H9: the history answers a bare array,
    so its next page is told in a header rather than a ``next_cursor`` field existing clients do not expect)."""
    return f'<{request.path}?{urlencode(query)}>; rel="next"'


@bp.get("/v1/wallet/statements/<statement_month:month>")
@operation(
    "My monthly statement as CSV or PDF (month YYYY-MM, Nairobi time)",
    tags=_TAGS,
    media_type="text/csv",
    errors=(404, 422),
    alternatives=(_PDF,),
    description=(
        "The caller's statement for one Nairobi calendar month: every movement of the month, oldest first, each "
        "with the asset's balance after it, amounts at the asset's places (USDT 6, KES 2, BTC 8), as CSV, or as "
        "PDF with `format=pdf` or `Accept: application/pdf`. Each balance the wallet held or moved by the month's "
        "end has an `opening_balance` line first (dated the month's start) and a `closing_balance` line last "
        "(dated its end, or now for a month not over), their `amount` and `reference` empty. A buy's line and a "
        "payout's (a sale's, a bill's) have M-Pesa's receipt in their `reference` when known (`ent_... M-Pesa "
        "SBX0000027`). A month without movements (one to come included) is a statement of its balance lines "
        "only; a month outside the path's pattern (`2026-13`) is a 422 `validation_failed`."
    ),
    problems=(NO_WALLET,),
)
@require(roles=_PERSONAL)
@query(Param("format", {"type": "string", "enum": ["csv", "pdf"]}, description="pdf: the statement as a PDF"))
def my_statement(month: str) -> Response:
    if re.fullmatch(MONTH_PATTERN, month) is None:  # R9-3: as documented, the path's 422, not the core's invalid_input
        raise ValidationFailed([FieldError("path.month", "must be a month YYYY-MM, from 2000-01 to 2999-12")])
    wallets, user_id = runtime().services.wallets, current_principal().id
    wants = request.args.get("format")
    if wants is None and request.accept_mimetypes.best_match(["text/csv", _PDF]) == _PDF:
        wants = "pdf"
    if wants == "pdf":
        label, wallet = f"{statement_period(month)[0]:%Y-%m}", wallets.wallet(user_id)
        holder = f"{wallet.phone} @{wallet.username}" if wallet.username else wallet.phone
        lines, balances = wallets.statement_lines(user_id, month), wallets.statement_balances(user_id, month)
        document = wallet_statement(lines, label, holder, balances)
        return pdf_response(document, pdf_filename("cryptopay-statement", label))
    chunks = wallets.statement_chunks(user_id, month, describe=statement_describer())  # written as it is sent
    disposition = f'attachment; filename="cryptopay-statement-{statement_period(month)[0]:%Y-%m}.csv"'
    return Response(chunks, mimetype="text/csv", headers={"Content-Disposition": disposition})


# Whole shillings, KES 1 to 250,000 (M-Pesa's STK range), as a string like every amount.
_STK_SHILLINGS = r"^([1-9][0-9]{0,4}|1[0-9]{5}|2[0-4][0-9]{4}|250000)$"


@attrs.frozen
class QuoteRequest:
    side: str | None = attrs.field(
        default=None,
        metadata=limits(
            "buy (at the ask) or sell (at the bid: a sale, or a bill paid from USDT); left out, either once",
            pattern="^(buy|sell)$",
        ),
    )


@attrs.frozen
class WalletQuoteView:
    """A USDT/KES price locked for me alone: buy USDT at ``ask`` or sell at ``bid`` (as ``purpose`` says: buy, sell
    or trade, either), once, until ``expires_at``."""

    id: str
    pair: str
    bid: Decimal
    ask: Decimal
    expires_at: datetime
    purpose: str

    @classmethod
    def of(cls, q: Quote, purpose: QuotePurpose) -> WalletQuoteView:
        return cls(q.id, str(q.pair), q.bid, q.ask, q.expires_at, purpose.value)


@attrs.frozen
class BuyRequest:
    amount: Any = attrs.field(
        default=None, kw_only=True, metadata=limits("whole shillings to pay by M-Pesa, 1 to 250,000 (currency KES)")
    )
    currency: str | None = attrs.field(default=None, kw_only=True, metadata=limits(CURRENCY))
    kes: str | None = attrs.field(
        default=None, kw_only=True, metadata=limits("deprecated: whole shillings: send amount and currency")
    )
    quote_id: str | None = attrs.field(
        default=None,
        metadata=limits("my unused quote from POST /v1/wallet/quotes, before its expires_at", max_length=64),
    )


BUY_AMOUNT = AmountRule(
    ("KES",),
    pattern=_STK_SHILLINGS,
    hint='must be whole shillings from 1 to 250,000 (M-Pesa\'s STK range), such as "1000"',
    legacy_fields=(("kes", "KES"),),
)
BUY_AMOUNT.document(BuyRequest)


@attrs.frozen
class BuyView:
    """A purchase: ``prompted`` while the phone shows the M-Pesa prompt; ``reason`` says why one failed."""

    id: str
    state: BuyState
    kes: Money
    usdt: Money
    quote_id: str
    ask: Decimal
    created_at: datetime
    receipt: str | None
    result_code: str | None
    reason: str | None
    finished_at: datetime | None

    @classmethod
    def of(cls, b: Buy) -> BuyView:
        return cls(
            b.id,
            b.state,
            b.kes,
            b.usdt,
            b.quote_id,
            b.ask,
            b.created_at,
            b.receipt,
            b.result_code,
            b.reason,
            b.finished_at,
        )


@bp.post("/v1/wallet/quotes")
@operation(
    "Lock a USDT/KES quote for me alone until its expires_at",
    request=QuoteRequest,
    response=WalletQuoteView,
    status=201,
    tags=_TAGS,
    errors=(422, 503),
    description=(
        "Locks the current USDT/KES price for the caller alone: a buy at its `ask` or a sale at its `bid` "
        "(`side`), used once by POST /v1/wallet/buys or /v1/wallet/sells (`quote_id`) before `expires_at` "
        "(a few minutes). At most 30 a minute per wallet (the FX quote limit, `quote_rate_limit`); beyond that "
        "429 with Retry-After."
    ),
    problems=(
        (Unavailable, "no rate is available to price USDT in KES now"),
        (Depegged, "USDT trades too far from its peg to price it safely"),
    ),
)
@require(roles=_PERSONAL)
def lock_quote() -> Response:
    limit_caller(runtime().settings.quote_rate_limit)  # each is a stored price only this wallet may trade at
    side = read_body(QuoteRequest, optional=True).side
    purpose = QuotePurpose(side) if side else QuotePurpose.TRADE
    quote = runtime().services.wallet_buys.quote(current_principal().id, purpose)
    return json_response(WalletQuoteView.of(quote, purpose), 201)


@bp.post("/v1/wallet/buys")
@operation(
    "Buy USDT with M-Pesa: an STK Push prompt on my phone; USDT at the locked ask when I pay",
    request=BuyRequest,
    response=BuyView,
    status=201,
    tags=_TAGS,
    errors=(404, 409, 422, 503),
    description=(
        "Buys USDT with M-Pesa: the caller's phone gets an STK Push prompt for the amount (whole "
        "shillings, KES 1 to 250,000); once it is paid, USDT at the locked quote's ask (or the current "
        "one) is credited. Followed by M-Pesa's callback; the buy's URL is in `Location`. M-Pesa serves only "
        "Safaricom numbers: a wallet on an Airtel or Telkom number is refused (422 `not_mpesa_number`). At most "
        "10 a minute per wallet (`buy_rate_limit`: each is an STK Push prompt); beyond that 429 with Retry-After. "
        "One prompt at a time: while an earlier buy still awaits M-Pesa's answer, another is a 409 "
        "`stk_prompt_open` naming it (`buy_id`); the same Idempotency-Key answers the first buy again."
    ),
    problems=(
        *MOVEMENT_PROBLEMS,
        NO_WALLET,
        *QUOTE_PROBLEMS,
        NOT_MPESA,
        (InvalidInput, "the shillings buy less than the smallest USDT unit"),
        (PromptOpen, "an earlier buy's prompt still awaits M-Pesa's answer (the problem names it)"),
    ),
)
@require(roles=_PERSONAL)
@idempotent
def start_buy() -> Response:
    # each is an STK Push to Daraja and a prompt (review4 R19); one count with the portal's buy form
    limit_caller(runtime().settings.buy_rate_limit, purpose="buy")
    body = read_body(BuyRequest)
    kes = BUY_AMOUNT.money(body)
    buy = runtime().services.wallet_buys.start(current_principal().id, kes, quote_id=body.quote_id)
    return json_response(BuyView.of(buy), 201, headers={"Location": f"/v1/wallet/buys/{buy.id}"})


@bp.get("/v1/wallet/buys")
@operation(
    "My purchases, newest first",
    response=PageOf(BuyView),
    tags=_TAGS,
    description=(
        "The caller's purchases of USDT, newest first: shillings asked, USDT credited, quote, state and "
        "M-Pesa's receipt."
    ),
)
@require(roles=_PERSONAL)
@paginated("buy")
def list_buys() -> Response:
    buys, user_id = runtime().services.wallet_buys, current_principal().id

    def fetch(after: str | None, limit: int) -> list[Buy]:
        return buys.for_user(user_id, after=after, limit=limit)

    return json_response(paginate(fetch, BuyView.of))


@bp.get("/v1/wallet/buys/<buy_id>")
@operation(
    "One of my purchases",
    response=BuyView,
    tags=_TAGS,
    errors=(404,),
    description="One of the caller's purchases.",
    problems=((NotFound, "no such buy of the caller's"),),
)
@require(roles=_PERSONAL)
def get_buy(buy_id: str) -> Response:
    return json_response(BuyView.of(runtime().services.wallet_buys.get(buy_id, user_id=current_principal().id)))


@attrs.frozen
class SellRequest:
    amount: Any = attrs.field(
        default=None, kw_only=True, metadata=limits("USDT to sell, up to 6 places (currency USDT)")
    )
    currency: str | None = attrs.field(default=None, kw_only=True, metadata=limits(CURRENCY))
    usdt: str | None = attrs.field(
        default=None, kw_only=True, metadata=limits("deprecated: USDT to sell: send amount and currency")
    )
    quote_id: str | None = attrs.field(
        default=None,
        metadata=limits("my unused quote from POST /v1/wallet/quotes, before its expires_at", max_length=64),
    )


SELL_AMOUNT = AmountRule(("USDT",), integer_digits=12, legacy_fields=(("usdt", "USDT"),))
SELL_AMOUNT.document(SellRequest)


@attrs.frozen
class SellView:
    """A sale: USDT out at the bid, ``kes`` credited, ``paid_out`` sent by M-Pesa B2C to my phone (``charge`` on
    top); ``state`` is the payout's (planned, submitted, unknown, completed; failed: the KES stays in the wallet)."""

    id: str
    state: PayoutState
    usdt: Money
    kes: Money
    paid_out: Money
    charge: Money
    phone: str
    receipt: str | None
    result_desc: str | None = attrs.field(metadata=RESULT_WORDING)

    @classmethod
    def of(cls, s: Sale) -> SellView:
        p = s.payout
        return cls(
            s.id, p.state, s.usdt, s.kes, p.amount, p.charge, p.destination, p.receipt, payout_wording(p.result_code)
        )


PAYOUTS_PACED = (RateLimited, "the wallet's sales, cash-outs and bills this minute are used up (Retry-After says when)")


@bp.post("/v1/wallet/sells")
@operation(
    "Sell USDT at the locked bid for shillings paid by M-Pesa to my own verified number",
    request=SellRequest,
    response=SellView,
    status=201,
    tags=_TAGS,
    errors=(404, 409, 422, 503),
    description=(
        "Sells USDT at the locked quote's bid (or the current one) and pays the shillings by M-Pesa B2C "
        "to the caller's own verified number: whole shillings after M-Pesa's charge (KES 10 to 250,000); "
        "the rest under a shilling stays in the KES balance. The sale's URL is in `Location`. M-Pesa pays "
        "only Safaricom numbers: a wallet on an Airtel or Telkom number is refused (422 `not_mpesa_number`). "
    )
    + rate_limits(wallet_payouts=True),
    problems=(
        *MOVEMENT_PROBLEMS,
        NO_WALLET,
        *QUOTE_PROBLEMS,
        NOT_MPESA,
        (AmountBelowMinimum, "the sale pays out less than M-Pesa's KES 10: `minimum` is the least USDT to sell"),
        (Refused, "M-Pesa cannot pay it out right now (float short)"),
        PAYOUTS_PACED,
    ),
)
@require(roles=_PERSONAL)
@idempotent
def start_sell() -> Response:
    limit_payouts()  # each is a B2C payout from the shortcode: one count with cash-outs and bills (review7 F12)
    body = read_body(SellRequest)
    sale = runtime().services.wallet_sells.start(
        current_principal().id, SELL_AMOUNT.money(body), quote_id=body.quote_id
    )
    return json_response(SellView.of(sale), 201, headers={"Location": f"/v1/wallet/sells/{sale.id}"})


@bp.get("/v1/wallet/sells")
@operation(
    "My sales, newest first",
    response=PageOf(SellView),
    tags=_TAGS,
    description=(
        "The caller's sales of USDT (and cash-outs of the KES balance: `usdt` zero), newest first, each with "
        "its payout as it stands (state, receipt, result in our words)."
    ),
)
@require(roles=_PERSONAL)
@paginated("sel")
def list_sells() -> Response:
    sells, user_id = runtime().services.wallet_sells, current_principal().id

    def fetch(before: str | None, limit: int) -> list[Sale]:
        return sells.list(user_id, before=before, limit=limit)

    return json_response(paginate(fetch, SellView.of))


@bp.get("/v1/wallet/sells/<sale_id>")
@operation(
    "One of my sales, with its payout",
    response=SellView,
    tags=_TAGS,
    errors=(404,),
    description=(
        "One of the caller's sales: USDT sold, shillings, charge, quote, and its payout (state, receipt, "
        "result in our words)."
    ),
    problems=((NotFound, "no such sale of the caller's"),),
)
@require(roles=_PERSONAL)
def get_sell(sale_id: str) -> Response:
    return json_response(SellView.of(runtime().services.wallet_sells.get(current_principal().id, sale_id)))
