"""A local Daraja: Safaricom's paths, payloads and error envelopes, its own M-Pesa float, callbacks after a delay.

Start it with ``cryptopay sandbox daraja`` or, in tests, ``DarajaSandbox(config).start()`` (a free port).
Every product validates like Daraja (the same ``400.002.02`` / ``404.001.03`` / ``500.001.1001`` /
``500.002.1001`` / ``500.003.02`` envelopes) and the money moves in the engine shared with the in-memory fake
(``cryptopay.core.testing.mobile_money.FakeMobileMoney``), whose docstring lists the magic test numbers:

=============  ===================  =========================================================================
phone          scenario             over HTTP
=============  ===================  =========================================================================
254711000001   cancelled            STK callback 1032, no money moves
254711000002   unreachable          STK callback 1037, no money moves
254711000003   insufficient_funds   result 1
254711000004   wrong_pin            result 2001 (also any wrong SecurityCredential or initiator name)
254711000005   unregistered         B2C result 2040
254711000006   duplicate_callback   the callback is posted twice
254711000007   late_callback        the callback is posted ``late_delay`` seconds after completion
254711000008   lost_callback        no callback; STK query / Transaction Status tell the result
254711000009   throttled            the first ``throttle_count`` calls answer 500.003.02, then it succeeds
254711000010   token_expired        the first call answers 404.001.03 and revokes every token
254711000011   slow                 STK query answers "being processed" until ``late_delay`` has passed
254711000012   queue_timeout        only the QueueTimeOutURL is hit; Transaction Status tells the result
254711000013   response_lost        processed, but the answer comes after ``response_delay`` (client timeout)
254711000014   biller_rejected      result BR0001 (a simulated biller's refusal; not a Safaricom code)
=============  ===================  =========================================================================

Simulated billers (B2B ``BusinessPayBill``): paybill 888880 (KPLC prepaid) answers with a 20-digit
``PrepaidToken`` ResultParameter, which real Daraja never sends (KPLC texts the token to the meter's phone); an
AccountReference of ``00000000000`` is refused by any biller (``biller_rejected``). Any other paybill succeeds.

Control endpoints (not Daraja's): ``POST /sandbox/scenarios {"phone": ..., "scenario": ...}``,
``POST /sandbox/names {"phone": ..., "name": ...}`` (who the number is registered to: what its B2C results'
``ReceiverPartyPublicName`` name after it, ``SANDBOX CUSTOMER`` until set),
``POST /sandbox/throttle {"count": n}``, ``POST /sandbox/expire-tokens``, ``POST /sandbox/complete``,
``POST /sandbox/answers-first {"on": true}`` (post a Transaction Status answer before replying to the request, as
a fast Daraja can: the caller's record of the query must already be committed), ``GET /sandbox/state``, and
``GET /sandbox/statement``: what it really paid and collected (its own record, whatever callbacks were lost) as the
M-Pesa org portal's statement CSV that ``cryptopay reconcile --mpesa-statement`` reads: B2C ``Business Payment`` and B2B
``Business Pay Bill`` rows withdrawn (a pay-bill payment's AccountReference as ``A/C No.``), STK Push ``Pay Bill
Online`` rows paid in (the payer's phone masked, ``2547*****149 - NAME``, the push's AccountReference as ``A/C No.``),
``Reversal`` rows linked to the receipt.
A statement is of one Short Code (``?shortcode=``, default the paybill's): the paybill's (``shortcode``) holds the
collections, the payout Short Code's (``payout_shortcode``) the B2C/B2B payments, as M-Pesa's portal exports each
account's own; one float serves both here.
Its Account Balance product answers with its float as the ``Utility Account``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import Any

import attrs
import httpx
from cryptopay.core.mobile_money import MpesaError
from cryptopay.core.money import Money
from cryptopay.core.testing.mobile_money import Delay, Delivery, FakeMobileMoney
from cryptopay.sandbox import _daraja_routes
from cryptopay.sandbox._server import RunningServer, serve_in_thread
from cryptopay.sandbox._wire import Envelope, dumps
from flask import Flask, Response, request

__all__ = ["DarajaSandbox", "DarajaSandboxConfig", "create_daraja_app"]


@attrs.frozen(kw_only=True)
class DarajaSandboxConfig:
    """The sandbox's credentials (Safaricom's public sandbox values by default) and timings in seconds."""

    consumer_key: str = "sandbox-consumer-key"
    consumer_secret: str = "sandbox-consumer-secret"
    shortcode: str = "174379"
    passkey: str = "sandbox-passkey"
    payout_shortcode: str = "600992"
    initiator_name: str = "testapi"
    initiator_password: str = "Safaricom999!*!"
    private_key_pem: bytes | None = attrs.field(default=None, repr=False)  # None: SecurityCredential not checked
    token_ttl: float = 3599.0
    callback_delay: float = 1.0
    late_delay: float = 5.0
    response_delay: float = 3.0
    throttle_count: int = 2
    float_balance: str = "10000000"
    customer_balance: str = "100000"
    answers_first: bool = False  # post an immediate answer (Transaction Status, balance) before the request's reply


class DarajaSandbox:
    """The simulator: tokens, throttles and timers around the shared M-Pesa engine."""

    def __init__(self, config: DarajaSandboxConfig | None = None) -> None:
        self.config = config or DarajaSandboxConfig()
        self.engine = FakeMobileMoney(
            shortcode=self.config.shortcode,
            payout_shortcode=self.config.payout_shortcode,
            float_balance=self.config.float_balance,
            customer_balance=self.config.customer_balance,
            auto_complete=False,
            deliver=self._deliver,
        )
        self.deliveries: list[dict[str, Any]] = []
        self.tokens_issued = 0
        self.requests: Counter[str] = Counter()  # product calls that passed the token check, by path
        self._tokens: dict[str, float] = {}
        self._throttles_left = 0
        self._phone_calls: dict[str, int] = {}
        self._timers: list[threading.Timer] = []
        self._lock = threading.RLock()
        self._http = httpx.Client(timeout=5.0)
        self._server: RunningServer | None = None
        self.app = create_daraja_app(self)

    # ---- lifecycle ------------------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> RunningServer:
        self._server = serve_in_thread(self.app, host, port, quiet=quiet)
        return self._server

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Daraja sandbox is not running; call start()")
        return self._server.url

    def stop(self) -> None:
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._http.close()

    def client_settings(self) -> dict[str, Any]:
        """Keyword arguments for the adapter's ``DarajaSettings`` pointing at this sandbox (add the certificate)."""
        config = self.config
        return {
            "base_url": self.url,
            "consumer_key": config.consumer_key,
            "consumer_secret": config.consumer_secret,
            "shortcode": config.shortcode,
            "passkey": config.passkey,
            "payout_shortcode": config.payout_shortcode,
            "initiator_name": config.initiator_name,
            "initiator_password": config.initiator_password,
            "production": False,
        }

    def __enter__(self) -> DarajaSandbox:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ---- tokens and traffic ---------------------------------------------------------------------------------
    def issue_token(self) -> str:
        token = uuid.uuid4().hex
        with self._lock:
            self._tokens[token] = time.monotonic() + self.config.token_ttl
            self.tokens_issued += 1
        return token

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def throttle(self, count: int) -> None:
        with self._lock:
            self._throttles_left = count

    def guard(self, phone: str | None) -> None:
        """Daraja's gatekeeping before a product runs: the token, then throttling, then per-phone traps."""
        header = request.headers.get("Authorization", "")
        with self._lock:
            expiry = self._tokens.get(header.removeprefix("Bearer ").strip())
            if not header.startswith("Bearer ") or expiry is None or expiry < time.monotonic():
                raise Envelope("404.001.03", "Invalid Access Token")
            self.requests[request.path] += 1
            if self._throttles_left > 0:
                self._throttles_left -= 1
                raise Envelope("500.003.02", "Spike arrest violation")
            if phone:
                self._per_phone(phone)

    def _per_phone(self, phone: str) -> None:
        scenario = self.engine.scenario_for(phone).value
        calls = self._phone_calls[phone] = self._phone_calls.get(phone, 0) + 1
        if scenario == "throttled" and calls <= self.config.throttle_count:
            raise Envelope("500.003.02", "Spike arrest violation")
        if scenario == "token_expired" and calls == 1:
            self._tokens.clear()
            raise Envelope("404.001.03", "Invalid Access Token")

    # ---- completion and callbacks ---------------------------------------------------------------------------
    def schedule_completion(self, reference: str) -> None:
        scenario = self.engine.transaction(reference).scenario.value
        delay = self.config.late_delay if scenario == "slow" else self.config.callback_delay
        self.later(delay, self.engine.complete, reference)

    def respond_late_if_lost(self, reference: str) -> None:
        """The response_lost scenario: the work is done, the answer comes after the client gave up."""
        if self.engine.transaction(reference).scenario.value == "response_lost":
            time.sleep(self.config.response_delay)

    def _deliver(self, delivery: Delivery) -> None:
        if self.config.answers_first and delivery.delay is not Delay.LATE:
            # The caller cannot have stored anything about its request yet: its answer is already in.
            self._post(delivery.url, delivery.payload)
            return
        delay = self.config.late_delay if delivery.delay is Delay.LATE else 0.0
        self.later(delay, self._post, delivery.url, delivery.payload)

    def later(self, delay: float, action: Any, *args: Any) -> None:
        """Run ``action(*args)`` on a timer thread after ``delay`` seconds (cancelled by ``stop``)."""
        timer = threading.Timer(delay, action, args)
        timer.daemon = True
        with self._lock:
            self._timers = [t for t in self._timers if t.is_alive()]
            self._timers.append(timer)
        timer.start()

    def _post(self, url: str, payload: Any) -> Any:
        record: dict[str, Any] = {"url": url, "status": None, "error": None}
        try:
            response = self._http.post(url, content=dumps(payload), headers={"Content-Type": "application/json"})
            record["status"] = response.status_code
            return response.json() if response.content else None
        except (httpx.HTTPError, ValueError) as error:
            record["error"] = type(error).__name__
            return None
        finally:
            with self._lock:
                self.deliveries.append(record)

    def validate_c2b(self, payload: Any) -> dict[str, Any]:
        """Ask the merchant's ValidationURL; if it fails, ``ResponseType`` decides (Completed lets it through)."""
        url = self.engine.c2b_validation_url()
        answer = self._post(url, payload) if url else None
        if isinstance(answer, dict) and "ResultCode" in answer:
            return answer
        return {"ResultCode": "0"}

    def state(self) -> dict[str, Any]:
        transactions = [
            {
                "product": t.product,
                "reference": t.reference,
                "state": t.state,
                "result_code": t.result_code,
                "amount": str(t.amount.amount),
                "phone": t.phone,
                "receipt": t.receipt,
                "reversed": t.reversed,
            }
            for t in self.engine.transactions()
        ]
        return {
            "float": str(self.engine.float_balance.amount),  # the Utility Account
            "charges_paid": str(self.engine.charges_paid.amount),  # M-Pesa's own B2C charges so far (negative)
            "transactions": transactions,
            "deliveries": list(self.deliveries),
        }

    def balance(self, phone: str) -> Money:
        return self.engine.balance(phone)


def create_daraja_app(sandbox: DarajaSandbox) -> Flask:
    """The Flask app: Daraja's routes plus the ``/sandbox`` control routes."""
    app = Flask("cryptopay-daraja-sandbox")
    app.register_error_handler(Envelope, _daraja_routes.envelope_handler)
    app.register_error_handler(MpesaError, _daraja_routes.mpesa_error_handler)
    _daraja_routes.register(app, sandbox)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response(dumps({"ok": True, "float": sandbox.engine.float_balance.amount}))

    return app
