"""Buying USDT with M-Pesa (STK Push): a quote at the ask, locked; a prompt on the phone; USDT on the answer.

Order of events, each committed before the next (nothing is lost to a crash in between):

1. ``start``: check the KYC limits (``buy``), lock a quote (or take the caller's own wallet quote, unused and in its
   window, and use it up in the same unit of work: ``wallets.quotes``), compute the USDT at the ask (rounded down),
   record the buy with the digest of a fresh callback token (the token goes only into the
   callback URL), commit; then call STK Push and record the CheckoutRequestID Daraja answered.
2. The callback (``on_callback``) finds the buy by its token alone, and credits only when it carries and matches
   the request's CheckoutRequestID, Amount and PhoneNumber and carries an MpesaReceiptNumber (a bare ``ResultCode
   0`` credited a cancelled buy): USDT at the locked quote, even if the quote has expired since (the customer paid
   for it). ResultCodes 1032 (cancelled), 1037 (phone unreachable), 1 (insufficient funds) and 2001 (wrong PIN)
   credit nothing and say why. Every answer is kept on the buy.
3. The token answers once, like a payout's: a second callback on it is kept and compared (audited as
   ``wallet.buy_answer_repeated`` or ``wallet.buy_result_conflict``), never applied; an open buy is then asked about.
4. A buy with no answer after ``query_after`` is asked by STK Query (``follow_up``, the worker's
   ``wallets.stk_query`` job), paced by the STK shortcode's token bucket (``pacing``: Daraja's limits are per
   shortcode, shared with the payouts when they use the same one); a success credits, a definite failure fails.
   Daraja's query has been seen to report a failure for a payment that succeeded, and callbacks are unsigned: a
   success callback for a buy already settled as failed credits only once STK Query, asked then (recorded first,
   ``wallet.buy_confirming``), says it was paid; otherwise it is held for an operator
   (``wallet.buy_result_conflict``).
5. A buy with no final answer ``answer_bound`` (24 h) after it was started (STK Query keeps answering "still
   processing", or keeps failing: R10-12) is failed with a reason the customer reads (``wallet.buy_failed``, code
   ``no_final_answer``, and ``wallet.buy_unanswered``), so the customer can buy again; a later success is still
   credited at the locked quote once STK Query confirms it (step 4). ``follow_up`` sets the gauge
   ``cryptopay_wallet_buys_open_overdue`` (open buys past the bound), ``wallet-buys`` reports each as a difference
   while it is open, and an operator may decide one sooner (``give_up``: ``cryptopay wallets stk-fail``), audited.

In the ledger (``flows.credit_buy``): Dr ``assets:mpesa_collections:KES`` / Cr ``equity:trading:KES`` (the USDT's
value at the mid) / Cr ``revenue:fx_spread:KES`` (the rest), and Dr ``equity:trading:USDT`` / Cr the wallet's USDT.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.feed import MonitoringFeed, movement
from cryptopay.core.compliance.rules import Direction
from cryptopay.core.errors import Conflict, InvalidInput, NotFound
from cryptopay.core.flows import credit_buy
from cryptopay.core.fx import Quote
from cryptopay.core.identity.credentials import hash_secret, new_secret
from cryptopay.core.identity.model import Forbidden
from cryptopay.core.kyc import Product, check_wallet_movement
from cryptopay.core.ledger import Ledger
from cryptopay.core.mobile_money import MpesaResult, Outcome, PayloadKind, StkPushRequest
from cryptopay.core.mobile_money.errors import MpesaError, OutcomeUnknown
from cryptopay.core.mobile_money.limits import STK_LIMITS
from cryptopay.core.mobile_money.wording import STK_WORDING, stk_wording
from cryptopay.core.money import Money
from cryptopay.core.payouts.service import Pacing
from cryptopay.core.ports.fx import QuoteRepository
from cryptopay.core.ports.mobile_money import MobileMoneyGateway
from cryptopay.core.ports.monitoring import Metrics
from cryptopay.core.ports.payments import Quoter
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.wallets import WalletUnitOfWork, WalletUowFactory
from cryptopay.core.wallets.model import Usage
from cryptopay.core.wallets.quotes import DEFAULT_WALLET_QUOTE_WINDOW, QuotePurpose, WalletQuotes
from cryptopay.core.wallets.sells import locked_quote, refuse_unless_mpesa
from cryptopay.core.wallets.service import _sender, spending

BUY = "wallet_buy"  # the monitoring product of a buy

__all__ = ["STK_ANSWER_BOUND", "STK_REASONS", "Buy", "BuyState", "Buys", "PromptOpen", "overdue"]

STK_REASONS: Mapping[str, str] = STK_WORDING  # the customer's words for each STK result code


_NEVER_CONFIRMED = "M-Pesa never confirmed the prompt"
_NO_FINAL_ANSWER = (
    "M-Pesa gave no final answer to the prompt within a day: nothing was credited and you can buy again; if you "
    "did pay, the USDT is credited at this buy's price as soon as M-Pesa confirms it"
)
STK_ANSWER_BOUND = timedelta(hours=24)  # an STK buy with no final answer past this is failed (R10-12)
_ABOUT_OVERDUE = "STK buys open (no final answer from M-Pesa) past the answer bound"


class BuyState(enum.Enum):
    REQUESTED = "requested"  # recorded; STK Push not answered yet
    PROMPTED = "prompted"  # Daraja accepted the push: the customer's phone shows the prompt
    CREDITED = "credited"  # paid: USDT in the wallet
    FAILED = "failed"  # cancelled, unreachable, not enough money, wrong PIN, refused by Daraja


@attrs.define(kw_only=True)
class Buy:
    """One purchase of USDT with M-Pesa at a locked quote."""

    id: str
    user_id: str
    phone: str
    kes: Money
    usdt: Money
    quote_id: str
    ask: Decimal
    mid: Decimal
    state: BuyState
    token_digest: str = attrs.field(repr=False)
    created_at: datetime
    next_query_at: datetime
    checkout_request_id: str | None = None
    merchant_request_id: str | None = None
    result_code: str | None = None
    reason: str | None = None
    receipt: str | None = None
    finished_at: datetime | None = None
    queries: int = 0
    answers: tuple[str, ...] = ()  # every answer, summarised: "callback 0 QK12...", "query 1032", ...
    token_used_at: datetime | None = None  # the first callback on the token: later ones are kept, not applied

    @property
    def open(self) -> bool:
        return self.state in (BuyState.REQUESTED, BuyState.PROMPTED)


def overdue(buy: Buy, now: datetime, bound: timedelta = STK_ANSWER_BOUND) -> bool:
    """An open buy (requested or prompted) started longer than ``bound`` ago: it should have been decided."""
    return buy.open and now - buy.created_at > bound


class PromptOpen(Conflict):
    """The wallet's phone still shows an earlier buy's STK prompt (awaiting M-Pesa's answer): one prompt at a time
    per wallet (review4 R19), so a second never stacks on the first; the problem names the open buy."""

    code = "stk_prompt_open"


@attrs.define
class Buys:
    """Buy USDT with M-Pesa: quotes, STK pushes, callbacks and queries."""

    uow: WalletUowFactory
    ledger: Ledger
    quoter: Callable[[], Quoter]
    quotes: Callable[[], QuoteRepository]
    mpesa: Callable[[], MobileMoneyGateway]
    callback_url: Callable[[str], str]  # the STK callback URL for a token
    clock: Clock
    ids: IdGenerator
    query_after: timedelta = timedelta(minutes=2)
    give_up_after: timedelta = timedelta(hours=24)  # no CheckoutRequestID: Daraja never said it took the prompt
    answer_bound: timedelta = STK_ANSWER_BOUND  # prompted, but STK Query never gave a final answer (R10-12)
    metrics: Metrics | None = None  # cryptopay_wallet_buys_open_overdue
    monitor: MonitoringFeed = attrs.Factory(MonitoringFeed)  # AML: blocking rules before, the journal once credited
    quote_window: timedelta = DEFAULT_WALLET_QUOTE_WINDOW  # how long a wallet quote may be traded at
    pacing: Pacing | None = None  # the STK shortcode's bucket: Daraja limits each shortcode, so queries share it

    @property
    def wallet_quotes(self) -> WalletQuotes:
        return WalletQuotes(self.uow, self.quoter, self.quotes, self.clock, self.quote_window)

    def quote(self, user_id: str, purpose: QuotePurpose = QuotePurpose.TRADE) -> Quote:
        """A USDT/KES quote locked for ``user_id`` alone and used once: buy at its ``ask`` (or sell at its ``bid``,
        as ``purpose`` allows) until ``expires_at`` (``cryptopay.core.wallets.quotes``)."""
        return self.wallet_quotes.lock(user_id, purpose)

    def start(self, user_id: str, kes: Money, *, quote_id: str | None = None) -> Buy:
        """Record the buy, then prompt the wallet's phone for ``kes`` (whole shillings, KES 1 to 250,000)."""
        amount = STK_LIMITS.check(kes)
        quote = locked_quote(self.wallet_quotes, user_id, quote_id, QuotePurpose.BUY)
        usdt = quote.convert(amount, at=self.clock.now())
        if not usdt.is_positive():
            raise InvalidInput(f"KES {amount.amount} buys less than the smallest USDT unit", field="amount")
        token = new_secret()
        buy_id = self.ids.new_id("buy")
        self.monitor.before(
            movement(buy_id, user_id, BUY, Direction.IN, amount, self.clock.now(), asset=usdt.asset.code)
        )
        buy = in_transaction(
            self.uow, lambda uow: self._record(uow, buy_id, user_id, amount, usdt, quote, token, quote_id)
        )
        return self._push(buy, token)

    def _record(
        self,
        uow: WalletUnitOfWork,
        buy_id: str,
        user_id: str,
        kes: Money,
        usdt: Money,
        quote: Quote,
        token: str,
        quote_id: str | None,
    ) -> Buy:
        now = self.clock.now()
        if quote_id is not None:  # the user's quote: used by this buy, in its unit of work
            self.wallet_quotes.use(uow, user_id, quote_id, used_by=buy_id)
        wallet, profile = _sender(uow, user_id)  # the wallet locked: two starts at once queue here
        refuse_unless_mpesa(wallet.phone, "buy with M-Pesa")
        for earlier in uow.wallet_buys.open_for_user(user_id):
            raise PromptOpen(
                f"buy {earlier.id} is still waiting for M-Pesa's answer to its prompt on your phone: answer or cancel "
                "it there (or wait until it is settled) before buying again",
                buy_id=earlier.id,
            )
        check_wallet_movement(profile, Product.BUY, kes, spent=spending(uow, user_id, now), at=now).enforce()
        buy = Buy(
            id=buy_id,
            user_id=user_id,
            phone=wallet.phone,
            kes=kes,
            usdt=usdt,
            quote_id=quote.id,
            ask=quote.ask,
            mid=quote.mid,
            state=BuyState.REQUESTED,
            token_digest=hash_secret(token),
            created_at=now,
            next_query_at=now + self.query_after,
        )
        uow.wallet_buys.add(buy)
        uow.wallet_usage.add(Usage(self.ids.new_id("use"), user_id, Product.BUY.value, kes, now, buy.id))
        return buy

    def _push(self, buy: Buy, token: str) -> Buy:
        request = StkPushRequest(
            phone=buy.phone,
            amount=buy.kes,
            account_reference=f"B{buy.id[-11:]}",
            callback_url=self.callback_url(token),
            description="Buy USDT",
        )
        try:
            accepted = self.mpesa().stk_push(request)
        except OutcomeUnknown:
            return buy  # the prompt may be on the phone: the callback (found by its token) or a query decides
        except MpesaError as error:
            code, reason = error.code, f"M-Pesa refused the prompt: {stk_wording(error.code)}"
            return self._settle(buy.id, lambda uow, b: self._fail(uow, b, code, reason))

        def prompted(_: WalletUnitOfWork, b: Buy) -> None:
            b.checkout_request_id, b.merchant_request_id = accepted.checkout_request_id, accepted.merchant_request_id
            if b.state is BuyState.REQUESTED:
                b.state = BuyState.PROMPTED

        return self._settle(buy.id, prompted)

    # -- answers ----------------------------------------------------------------------------------------------
    def on_callback(self, result: MpesaResult, *, token: str) -> Buy:
        """Apply an STK callback posted to the token's URL; ``Forbidden`` for a token we never issued."""

        def work(uow: WalletUnitOfWork) -> tuple[Buy, bool]:
            buy = uow.wallet_buys.by_token(hash_secret(token), lock=True)
            if buy is None:
                raise Forbidden("unknown callback token")
            return self._answer(uow, buy, result)

        buy, confirm = in_transaction(self.uow, work)
        return self._observed(self._confirm(buy, result) if confirm else buy)

    def _answer(self, uow: WalletUnitOfWork, buy: Buy, result: MpesaResult) -> tuple[Buy, bool]:
        """Apply a callback; True when it is a success for a failed buy, to be confirmed by STK Query first."""
        now, first = self.clock.now(), buy.token_used_at is None
        buy.token_used_at = buy.token_used_at or now
        if result.outcome is Outcome.SUCCEEDED and buy.state is BuyState.FAILED:
            buy.answers = (*buy.answers, f"callback {result.result_code} {result.receipt or ''}".strip())
            mismatch = self._mismatch(buy, result) or ("" if buy.checkout_request_id else "no CheckoutRequestID")
            if mismatch:
                buy.reason = f"an answer did not match this buy ({mismatch}); an operator must check it"
                self._event(uow, buy, "wallet.buy_result_conflict", now, why=mismatch)
            else:  # recorded before the query is asked
                buy.queries += 1
                self._event(uow, buy, "wallet.buy_confirming", now, code=result.result_code or "")
            uow.wallet_buys.update(buy)
            return buy, not mismatch
        if not first:
            self._again(uow, buy, result, now)
            return buy, False
        self._apply(uow, buy, result, source="callback")
        return buy, False

    def _again(self, uow: WalletUnitOfWork, buy: Buy, result: MpesaResult, now: datetime) -> None:
        """A second callback on a used token: kept and compared, not applied; an open buy is asked about now."""
        buy.answers = (*buy.answers, f"callback again {result.result_code} {result.receipt or ''}".strip())
        succeeded = result.outcome is Outcome.SUCCEEDED
        conflict = (succeeded and buy.state is not BuyState.CREDITED) or (
            result.outcome is Outcome.FAILED and buy.state is BuyState.CREDITED
        )
        action = "wallet.buy_result_conflict" if conflict else "wallet.buy_answer_repeated"
        self._event(uow, buy, action, now, code=result.result_code or "", state=buy.state.value)
        if buy.open:
            buy.next_query_at = now
        uow.wallet_buys.update(buy)

    def _confirm(self, buy: Buy, callback: MpesaResult) -> Buy:
        """STK Query decides a success callback for a failed buy: paid credits it (late), anything else holds it."""
        assert buy.checkout_request_id is not None
        try:
            answer: MpesaResult | None = self.mpesa().stk_query(buy.checkout_request_id)
        except MpesaError:
            answer = None

        def work(uow: WalletUnitOfWork) -> Buy:
            found = uow.wallet_buys.get(buy.id, lock=True)
            if found is None or found.state is not BuyState.FAILED:
                return found or buy
            now, code = self.clock.now(), answer.result_code if answer is not None else "unanswered"
            found.answers = (*found.answers, f"query {code}")
            if answer is not None and answer.outcome is Outcome.SUCCEEDED and not self._mismatch(found, answer):
                self._credit(uow, found, callback)
            else:
                found.reason = (
                    "a success callback after a failure was not confirmed by STK Query; an operator must check it"
                )
                self._event(uow, found, "wallet.buy_result_conflict", now, query=code or "")
            uow.wallet_buys.update(found)
            return found

        return in_transaction(self.uow, work)

    @staticmethod
    def _event(uow: WalletUnitOfWork, buy: Buy, action: str, now: datetime, **details: str) -> None:
        uow.audit.append(AuditEvent("mpesa:callback", action, f"buy:{buy.id}", now, details))

    def _observed(self, buy: Buy) -> Buy:
        """Journal a credited buy for monitoring (again is harmless: the journal keeps a movement once)."""
        if buy.state is BuyState.CREDITED:
            at = buy.finished_at or buy.created_at
            code = buy.usdt.asset.code
            self.monitor.after(
                movement(buy.id, buy.user_id, BUY, Direction.IN, buy.kes, at, counterparty=buy.phone, asset=code)
            )
        return buy

    def follow_up(self, *, limit: int = 50) -> int:
        """Ask STK Query about buys with no answer yet (the worker's job); how many were decided."""
        now = self.clock.now()
        due = in_transaction(self.uow, lambda uow: [b.id for b in uow.wallet_buys.due_for_query(now, limit=limit)])
        decided = 0
        for buy_id in due:
            buy = self.get(buy_id)
            if buy.checkout_request_id is None:
                if now - buy.created_at > self.give_up_after:  # Daraja never said it accepted the prompt
                    self._settle(buy_id, lambda uow, b: self._fail(uow, b, "no_answer", _NEVER_CONFIRMED))
                    decided += 1
                else:
                    self._settle(buy_id, lambda _, b: self._later(b, now))
                continue
            if self.pacing is not None and not self.pacing.admit():
                break  # the shortcode's bucket is empty for longer than a short wait: the rest stay due, next run
            try:
                answer: MpesaResult | None = self.mpesa().stk_query(buy.checkout_request_id)
            except MpesaError:
                answer = None
            decided += self._settle_with(buy_id, answer, now)
            self._observed(self.get(buy_id))
        self._gauge(now)
        return decided

    def _gauge(self, now: datetime) -> None:
        if self.metrics is None:
            return
        late = [b for b in self.pending(limit=1000) if overdue(b, now, self.answer_bound)]
        self.metrics.gauge("cryptopay_wallet_buys_open_overdue", len(late), about=_ABOUT_OVERDUE)

    def _unanswered(self, uow: WalletUnitOfWork, buy: Buy, now: datetime, actor: str, note: str) -> None:
        """Fail an open buy that M-Pesa never answered for good, audited (who, since when, the queries asked)."""
        self._fail(uow, buy, "no_final_answer", _NO_FINAL_ANSWER)
        details = {"since": buy.created_at.isoformat(), "queries": str(buy.queries), "kes": str(buy.kes)}
        uow.audit.append(
            AuditEvent(actor, "wallet.buy_unanswered", f"buy:{buy.id}", now, details | ({"note": note} if note else {}))
        )

    def give_up(self, buy_id: str, *, actor: str, note: str) -> Buy:
        """An operator decides an open buy M-Pesa has not answered: STK Query is asked once more (a success credits
        it, a failure fails it); otherwise it is failed with the customer's reason (``wallet.buy_unanswered``, the
        operator and note audited). A later success is still credited once STK Query confirms it."""
        if not note.strip():
            raise InvalidInput("say why the buy is given up (--note)", field="note")
        buy = self.get(buy_id)
        if not buy.open:
            raise Conflict(f"buy {buy.id} is already {buy.state.value}")
        answer: MpesaResult | None = None
        if buy.checkout_request_id is not None:
            try:
                answer = self.mpesa().stk_query(buy.checkout_request_id)
            except MpesaError:
                answer = None

        def work(uow: WalletUnitOfWork) -> Buy:
            found = uow.wallet_buys.get(buy_id, lock=True)
            if found is None:
                raise NotFound(f"no buy {buy_id!r}")
            now = self.clock.now()
            if found.open and answer is not None:
                found.queries += 1
                self._apply(uow, found, answer, source="query")
            if found.open:
                self._unanswered(uow, found, now, actor, note.strip())
            uow.wallet_buys.update(found)
            return found

        return self._observed(in_transaction(self.uow, work))

    def _settle_with(self, buy_id: str, answer: MpesaResult | None, now: datetime) -> int:
        """Apply STK Query's answer (None: the query failed); an open buy past the answer bound is failed."""

        def work(uow: WalletUnitOfWork) -> int:
            buy = uow.wallet_buys.get(buy_id, lock=True)
            if buy is None or not buy.open:
                return 0
            if answer is not None:
                buy.queries += 1
                self._apply(uow, buy, answer, source="query")
            if buy.open and overdue(buy, now, self.answer_bound):
                self._unanswered(uow, buy, now, "system:worker", "")
                uow.wallet_buys.update(buy)
                return 1
            if buy.open:
                self._later(buy, now)
                uow.wallet_buys.update(buy)
                return 0
            return 1

        return in_transaction(self.uow, work)

    def _apply(self, uow: WalletUnitOfWork, buy: Buy, result: MpesaResult, *, source: str) -> None:
        buy.answers = (*buy.answers, f"{source} {result.result_code} {result.receipt or ''}".strip())
        if result.outcome is Outcome.SUCCEEDED and buy.state is not BuyState.CREDITED:
            mismatch = self._mismatch(buy, result)
            if mismatch is None:
                self._credit(uow, buy, result)
            else:  # kept on the buy for an operator; never credited on a mismatch
                buy.reason = f"an answer did not match this buy ({mismatch}); an operator must check it"
        elif result.outcome is Outcome.FAILED and buy.open and self._names_another(buy, result):
            buy.reason = "a failure did not name this buy's CheckoutRequestID; an operator must check it"
            buy.next_query_at = self.clock.now()  # STK Query decides
        elif result.outcome is Outcome.FAILED and buy.open:
            code = result.result_code or "failed"
            why = stk_wording(code)  # never M-Pesa's own text (mobile_money.wording)
            self._fail(uow, buy, code, why)
        uow.wallet_buys.update(buy)

    @staticmethod
    def _names_another(buy: Buy, result: MpesaResult) -> bool:
        """A failure must name the buy's CheckoutRequestID when we know it (blank names nothing)."""
        return buy.checkout_request_id is not None and result.checkout_request_id != buy.checkout_request_id

    @staticmethod
    def _mismatch(buy: Buy, result: MpesaResult) -> str | None:
        """Why a success may not credit this buy: a callback must carry our CheckoutRequestID, Amount and
        PhoneNumber and an MpesaReceiptNumber (an STK Query answer carries none but the CheckoutRequestID)."""
        if buy.checkout_request_id and result.checkout_request_id != buy.checkout_request_id:
            return "CheckoutRequestID"
        if result.kind is not PayloadKind.STK_CALLBACK:
            return "amount" if result.amount is not None and result.amount != buy.kes else None
        if result.amount is None or result.amount != buy.kes:
            return "amount"
        if result.phone is None or result.phone != buy.phone:
            return "phone"
        if not result.receipt:
            return "MpesaReceiptNumber"
        return None

    def _credit(self, uow: WalletUnitOfWork, buy: Buy, result: MpesaResult) -> None:
        now = self.clock.now()
        late = buy.state is BuyState.FAILED
        credit_buy(
            self.ledger,
            buy_id=buy.id,
            user_id=buy.user_id,
            kes=buy.kes,
            usdt=buy.usdt,
            mid=buy.mid,
            quote_id=buy.quote_id,
            session=uow.ledger,
        )
        if late:  # the failure had given the usage back: count the purchase again
            uow.wallet_usage.add(Usage(self.ids.new_id("use"), buy.user_id, Product.BUY.value, buy.kes, now, buy.id))
        buy.state, buy.finished_at = BuyState.CREDITED, now
        buy.checkout_request_id = buy.checkout_request_id or result.checkout_request_id
        buy.receipt, buy.result_code, buy.reason = result.receipt, result.result_code, None
        details = {  # R10-10: the trail alone says what moved, at which quote, on which M-Pesa receipt
            "late": str(late),
            "kes": str(buy.kes),
            "usdt": str(buy.usdt),
            "quote": buy.quote_id,
            "ask": str(buy.ask),
            "receipt": buy.receipt or "",
        }
        uow.audit.append(AuditEvent(f"user:{buy.user_id}", "wallet.buy_credited", f"buy:{buy.id}", now, details))

    def _fail(self, uow: WalletUnitOfWork, buy: Buy, code: str, reason: str) -> None:
        """Nothing was paid: say why, and give the purchase's usage back to the limits."""
        if not buy.open:
            return
        now = self.clock.now()
        buy.state, buy.result_code, buy.reason, buy.finished_at = BuyState.FAILED, code, reason, now
        uow.wallet_usage.add(Usage(self.ids.new_id("use"), buy.user_id, Product.BUY.value, -buy.kes, now, buy.id))
        uow.audit.append(AuditEvent(f"user:{buy.user_id}", "wallet.buy_failed", f"buy:{buy.id}", now, {"code": code}))

    def _later(self, buy: Buy, now: datetime) -> None:
        backoff = min(self.query_after * (2 ** min(buy.queries, 6)), timedelta(hours=1))
        buy.next_query_at = now + backoff

    def _settle(self, buy_id: str, change: Callable[[WalletUnitOfWork, Buy], None]) -> Buy:
        def work(uow: WalletUnitOfWork) -> Buy:
            buy = uow.wallet_buys.get(buy_id, lock=True)
            if buy is None:
                raise NotFound(f"no buy {buy_id!r}")
            change(uow, buy)
            uow.wallet_buys.update(buy)
            return buy

        return in_transaction(self.uow, work)

    # -- reads ------------------------------------------------------------------------------------------------
    def get(self, buy_id: str, *, user_id: str | None = None) -> Buy:
        found: Buy | None = in_transaction(self.uow, lambda uow: uow.wallet_buys.get(buy_id))
        if found is None or (user_id is not None and found.user_id != user_id):
            raise NotFound(f"no buy {buy_id!r}")
        return found

    def pending(self, *, limit: int = 100) -> list[Buy]:
        """Buys still waiting for M-Pesa's answer (requested or prompted), the next to be queried first."""
        horizon = self.clock.now() + timedelta(days=36500)  # every open buy, whenever its next query is due
        return in_transaction(self.uow, lambda uow: uow.wallet_buys.due_for_query(horizon, limit=limit))

    def for_user(self, user_id: str, *, after: str | None = None, limit: int = 50) -> list[Buy]:
        return in_transaction(self.uow, lambda uow: uow.wallet_buys.for_user(user_id, after=after, limit=limit))
