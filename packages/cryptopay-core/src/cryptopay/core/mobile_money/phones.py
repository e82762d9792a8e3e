"""Kenyan mobile numbers: accept what people type, send Daraja's ``2547XXXXXXXX`` / ``2541XXXXXXXX``.

>>> normalize_msisdn("0712 345 678")
'254712345678'
>>> normalize_msisdn("+254-110-123-456")
'254110123456'
>>> mask_msisdn("254712345678")
'2547******78'
"""

from __future__ import annotations

import re

from cryptopay.core.errors import InvalidInput

__all__ = ["InvalidPhoneNumber", "mask_msisdn", "normalize_msisdn", "try_normalize_msisdn"]

_SEPARATORS = re.compile(r"[\s\-().]")
# Safaricom-era mobile ranges: 07XX XXX XXX and 01XX XXX XXX (nine digits after the country code).
_NATIONAL = re.compile(r"0([17]\d{8})", re.ASCII)
_INTERNATIONAL = re.compile(r"\+?254([17]\d{8})", re.ASCII)
_HINT = "use 07XXXXXXXX, 01XXXXXXXX, +2547XXXXXXXX, +2541XXXXXXXX, 2547XXXXXXXX or 2541XXXXXXXX"


class InvalidPhoneNumber(InvalidInput):
    """The text is not a Kenyan mobile number M-Pesa can reach."""

    code = "invalid_phone_number"


def normalize_msisdn(text: object) -> str:
    """Return the ``2547…``/``2541…`` wire form of a Kenyan mobile number, or raise ``InvalidPhoneNumber``."""
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        raise InvalidPhoneNumber(f"a phone number is text, not {type(text).__name__}; {_HINT}")
    compact = _SEPARATORS.sub("", text.strip())
    for pattern in (_NATIONAL, _INTERNATIONAL):
        if match := pattern.fullmatch(compact):
            return "254" + match.group(1)
    shown = text if len(text) <= 32 else text[:32] + "…"
    raise InvalidPhoneNumber(f"{shown!r} is not a Kenyan mobile number; {_HINT}")


def try_normalize_msisdn(text: object) -> str | None:
    """Like ``normalize_msisdn`` but ``None`` for anything that is not a number (masked, hashed, empty)."""
    try:
        return normalize_msisdn(text)
    except InvalidPhoneNumber:
        return None


def mask_msisdn(msisdn: str) -> str:
    """Hide the middle digits for logs and messages."""
    if len(msisdn) < 8:
        return "*" * len(msisdn)
    return msisdn[:4] + "*" * (len(msisdn) - 6) + msisdn[-2:]
