"""TOTP second factors with pyotp (RFC 6238: 30-second steps, 6 digits, SHA-1, as authenticator apps expect)."""

from __future__ import annotations

from datetime import datetime

import pyotp

__all__ = ["PyOtpTotp"]


class PyOtpTotp:
    """``TotpEngine`` over pyotp; accepts one step of clock drift either side and says which step matched."""

    def new_secret(self) -> str:
        return pyotp.random_base32(32)

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)

    def matching_step(self, secret: str, code: str, *, at: datetime) -> int | None:
        totp = pyotp.TOTP(secret)
        step = totp.timecode(at)
        for candidate in (step - 1, step, step + 1):
            if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
                return candidate
        return None
