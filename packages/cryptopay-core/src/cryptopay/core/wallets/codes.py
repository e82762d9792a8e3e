"""One-time codes that verify a phone: six digits by SMS, kept only as a keyed hash, short-lived and few tries.

Rules (data, in ``CodePolicy``): a code lives 10 minutes, takes 5 wrong tries, may be sent again after 60 seconds
and at most 5 times; each try is counted whether or not it is right, so guessing costs tries, never time.

>>> from datetime import datetime, timedelta, timezone
>>> at = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
>>> v = new_verification("ver_1", "254712345678", "123456", at=at)
>>> check_code(v, "000000", at=at)
'wrong'
>>> check_code(v, "123456", at=at), v.attempts
('ok', 2)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Literal

import attrs
from cryptopay.core.errors import InvalidState
from cryptopay.core.identity.model import RateLimited
from cryptopay.core.wallets.model import PhoneVerification

__all__ = ["CodePolicy", "check_code", "hash_code", "new_code", "new_verification", "resend"]

Outcome = Literal["ok", "wrong", "expired", "exhausted", "used"]


@attrs.frozen(kw_only=True)
class CodePolicy:
    ttl: timedelta = timedelta(minutes=10)
    max_attempts: int = 5
    resend_after: timedelta = timedelta(seconds=60)
    max_sends: int = 5


DEFAULT_CODES = CodePolicy()


def new_code() -> str:
    """Six random digits (``secrets``, not ``random``)."""
    return f"{secrets.randbelow(10**6):06d}"


def hash_code(verification_id: str, code: str) -> str:
    """HMAC-SHA256 of the code keyed by its verification: equal codes of two verifications hash differently."""
    return hmac.new(verification_id.encode(), code.strip().encode(), hashlib.sha256).hexdigest()


def new_verification(
    verification_id: str, phone: str, code: str, *, at: datetime, policy: CodePolicy = DEFAULT_CODES
) -> PhoneVerification:
    return PhoneVerification(
        id=verification_id,
        phone=phone,
        code_hash=hash_code(verification_id, code),
        created_at=at,
        expires_at=at + policy.ttl,
        last_sent_at=at,
    )


def check_code(v: PhoneVerification, code: str, *, at: datetime, policy: CodePolicy = DEFAULT_CODES) -> Outcome:
    """Count one try of ``code`` on ``v`` (mutating it) and say how it went; only ``"ok"`` verifies the phone."""
    if v.used_at is not None:
        return "used"
    if at >= v.expires_at:
        return "expired"
    if v.attempts >= policy.max_attempts:
        return "exhausted"
    v.attempts += 1
    if not hmac.compare_digest(v.code_hash, hash_code(v.id, code)):
        return "wrong"
    v.verified_at = v.verified_at or at
    return "ok"


def resend(v: PhoneVerification, code: str, *, at: datetime, policy: CodePolicy = DEFAULT_CODES) -> None:
    """Replace the code with a fresh one (new expiry, tries reset); refused too soon or too often."""
    if v.used_at is not None:
        raise InvalidState("this verification was used already; start again")
    wait = v.last_sent_at + policy.resend_after - at
    if wait > timedelta(0):
        seconds = int(wait.total_seconds()) + 1
        raise RateLimited(f"a new code can be sent in {seconds} seconds", retry_after=seconds)
    if v.sends >= policy.max_sends:
        raise RateLimited("no more codes for this verification; start again later", retry_after=3600)
    v.code_hash, v.expires_at, v.last_sent_at = hash_code(v.id, code), at + policy.ttl, at
    v.sends, v.attempts, v.verified_at = v.sends + 1, 0, None
