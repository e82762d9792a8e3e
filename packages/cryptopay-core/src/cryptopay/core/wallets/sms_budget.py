"""What wallet sign-up may spend on verification SMS (review H8: SMS pumping, toll fraud).

Anyone may ask ``POST /v1/wallet/signup`` to text a code to a number, and each text is paid for. Four bounds,
checked in this order before anything is looked up or sent (so every answer is the same whether or not the number
has an account), each refusal counted for ``/metrics``:

1. the number's range (data, ``mobile_money/data/mobile_ranges.txt``): only Safaricom's, Airtel's (with Equitel)
   and Telkom's mobile ranges get codes; any other is ``SmsRangeRefused`` (422 ``sms_range_refused``);
2. the number: ``per_phone_per_hour`` codes (``RateLimited``, 429);
3. the client address (an IPv4 address, an IPv6 /64): ``per_address_per_day`` codes a day, starts and resends
   together (``SignupAddressLimit``, 429 ``signup_address_limit``);
4. the whole deployment: ``per_hour`` codes an hour, all numbers and addresses together (``SmsBudgetExhausted``, 429
   ``sms_budget_exhausted``): the ceiling on what a botnet can cost, alerted on (``CryptopaySignupSmsBudget...``,
   ``docs/operations.md``). Exhausted, it refuses every new sign-up until the hour ends: a cost cap, not a fairness
   rule; the alert tells an operator to look (an attack, or growth that needs a higher budget).

The counts are the ``RateLimiter`` port's fixed windows: on Redis (``RedisRateLimiter``) each is one counter shared by
every API process and moved by one Lua script, so the bounds hold across processes (never more than the limit; a
busy budget is leased in small parts, so one process may be refused a few hits early). A refused bound has already
counted its own hit, never a later one: a refused address does not spend the deployment's budget.

>>> rules = SignupSmsRules(per_hour=100, per_address_per_day=10)
>>> rules.per_phone_per_hour, mobile_operator("254712345678"), mobile_operator("254110123456")
(5, 'Safaricom', 'Safaricom')
>>> mobile_operator("254747123456") is None
True
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import attrs
from cryptopay.core.errors import InvalidInput
from cryptopay.core.identity.model import RateLimited
from cryptopay.core.mobile_money.phones import InvalidPhoneNumber, mask_msisdn, mobile_operator
from cryptopay.core.ports.identity import RateLimiter

__all__ = [
    "REFUSALS",
    "SignupAddressLimit",
    "SignupSmsBudget",
    "SignupSmsCounts",
    "SignupSmsRules",
    "SmsBudgetExhausted",
    "SmsRangeRefused",
]

REFUSALS = ("range", "number", "address", "budget")  # why a verification SMS was not sent (the metric's reasons)
_HOUR, _DAY = 3600, 86_400


class SmsRangeRefused(InvalidPhoneNumber):
    """The number is in a range sign-up sends no codes to (not Safaricom, Airtel or Telkom)."""

    code = "sms_range_refused"


class SignupAddressLimit(RateLimited):
    """This client address asked for its day's verification SMS already."""

    code = "signup_address_limit"


class SmsBudgetExhausted(RateLimited):
    """The deployment sent its hour's verification SMS: every new sign-up waits for the next hour."""

    code = "sms_budget_exhausted"


@attrs.frozen(kw_only=True)
class SignupSmsRules:
    """The bounds (data; settings ``CRYPTOPAY_SIGNUP_SMS_PER_HOUR``, ``CRYPTOPAY_SIGNUP_SMS_PER_ADDRESS_PER_DAY``)."""

    per_hour: int = 500  # the whole deployment's verification SMS an hour
    per_address_per_day: int = 50  # one client address's a day (mobile networks put many people behind one)
    per_phone_per_hour: int = 5  # one number's new codes an hour

    def __attrs_post_init__(self) -> None:
        if min(self.per_hour, self.per_address_per_day, self.per_phone_per_hour) < 1:
            raise InvalidInput("sign-up SMS rules: each bound is at least 1")


@attrs.define
class SignupSmsCounts:
    """What this process's sign-ups did with verification SMS since it started (``/metrics`` reads ``snapshot``)."""

    sent: int = 0
    refused: dict[str, int] = attrs.Factory(lambda: dict.fromkeys(REFUSALS, 0))
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    def count_sent(self) -> None:
        with self._lock:
            self.sent += 1

    def count_refused(self, reason: str) -> None:
        with self._lock:
            self.refused[reason] += 1

    def snapshot(self) -> tuple[int, Mapping[str, int]]:
        with self._lock:
            return self.sent, dict(self.refused)


@attrs.define
class SignupSmsBudget:
    """Spends one verification SMS against the bounds (module docstring), or refuses it."""

    limiter: RateLimiter
    rules: SignupSmsRules = attrs.Factory(SignupSmsRules)
    counts: SignupSmsCounts = attrs.Factory(SignupSmsCounts)

    def check_range(self, msisdn: str) -> None:
        """``SmsRangeRefused`` unless ``msisdn`` is in a range sign-up sends codes to."""
        if mobile_operator(msisdn) is None:
            self.counts.count_refused("range")
            raise SmsRangeRefused(
                f"{mask_msisdn(msisdn)} is not a Safaricom, Airtel or Telkom mobile number: we cannot send it a code",
                field="phone",
            )

    def spend(self, *, msisdn: str | None, client: str | None) -> None:
        """Count one SMS to ``msisdn`` (a new code; None for a resend, bounded by its verification) asked by
        ``client`` (None: no address known, an SDK caller), or refuse it by the first bound it exceeds."""
        if msisdn is not None:
            self._hit("number", f"wallet-otp:{msisdn}", self.rules.per_phone_per_hour, _HOUR)
        if client is not None:
            self._hit("address", f"wallet-sms:address:{client}", self.rules.per_address_per_day, _DAY)
        self._hit("budget", "wallet-sms:deployment", self.rules.per_hour, _HOUR)

    def _hit(self, reason: str, key: str, limit: int, window: int) -> None:
        decision = self.limiter.hit(key, limit=limit, window_seconds=window)
        if decision.allowed:
            return
        self.counts.count_refused(reason)
        wait = decision.retry_after
        if reason == "number":
            raise RateLimited("too many codes for this number; try again later", retry_after=wait)
        if reason == "address":
            raise SignupAddressLimit(
                f"too many sign-up codes asked from this network today; try again in {wait} seconds", retry_after=wait
            )
        raise SmsBudgetExhausted(
            f"sign-up codes are paused for everyone for a while; try again in {wait} seconds", retry_after=wait
        )
