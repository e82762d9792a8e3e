"""Kenyan mobile numbers: accept what people type, send Daraja's ``2547XXXXXXXX`` / ``2541XXXXXXXX``.

>>> normalize_msisdn("0712 345 678")
'254712345678'
>>> normalize_msisdn("+254-110-123-456")
'254110123456'
>>> mask_msisdn("254712345678")
'2547******78'
>>> mobile_operator("254733123456"), mpesa_can_pay("254733123456"), mpesa_can_pay("254110123456")
('Airtel', False, True)
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from cryptopay.core.errors import InvalidInput

__all__ = [
    "MPESA_OPERATOR",
    "InvalidPhoneNumber",
    "NotMpesaNumber",
    "mask_msisdn",
    "masked_party",
    "mobile_operator",
    "mpesa_can_pay",
    "normalize_msisdn",
    "off_mpesa",
    "try_normalize_msisdn",
]

MPESA_OPERATOR = "Safaricom"  # M-Pesa's network: STK Push prompts and B2C pays only its numbers

_SEPARATORS = re.compile(r"[\s\-().]")
# Safaricom-era mobile ranges: 07XX XXX XXX and 01XX XXX XXX (nine digits after the country code).
_NATIONAL = re.compile(r"0([17]\d{8})", re.ASCII)
_INTERNATIONAL = re.compile(r"\+?254([17]\d{8})", re.ASCII)
_HINT = "use 07XXXXXXXX, 01XXXXXXXX, +2547XXXXXXXX, +2541XXXXXXXX, 2547XXXXXXXX or 2541XXXXXXXX"


class InvalidPhoneNumber(InvalidInput):
    """The text is not a Kenyan mobile number M-Pesa can reach."""

    code = "invalid_phone_number"


class NotMpesaNumber(InvalidPhoneNumber):
    """A Kenyan mobile number in another operator's range (Airtel, Equitel, Telkom): M-Pesa cannot prompt or pay it."""

    code = "not_mpesa_number"


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


def masked_party(value: str) -> str:
    """A party id as the audit chain keeps it: a number standing for a party (``phone:2547...``, a remittance's
    recipient with no wallet) masked, as every phone number in the never-erased chain is (R13-5); anything else as
    it is.

    >>> masked_party("phone:254712345678"), masked_party("usr_1")
    ('phone:2547******78', 'usr_1')
    """
    if value.startswith("phone:"):
        return "phone:" + mask_msisdn(value.removeprefix("phone:"))
    return value


@functools.cache
def _ranges() -> dict[str, str]:
    """The operator of each assigned national destination code (``"0712"``; data, ``data/mobile_ranges.txt``)."""
    text = resources.files("cryptopay.core.mobile_money").joinpath("data/mobile_ranges.txt").read_text("utf-8")
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        span, operator = line.split(maxsplit=1)
        first, _, last = span.partition("-")
        for code in range(int(first), int(last or first) + 1):
            found[f"0{code:03d}"] = operator.strip()
    return found


def mobile_operator(msisdn: str) -> str | None:
    """The operator whose range ``msisdn`` (wire form, ``2547…``) is in (``Safaricom``, ``Airtel``, ``Equitel``,
    ``Telkom``), or None for a range no listed operator holds."""
    return _ranges().get("0" + msisdn[3:6])


def mpesa_can_pay(msisdn: str) -> bool:
    """Whether ``msisdn`` is in Safaricom's ranges, the only numbers an STK Push prompts and a B2C payment reaches.

    Kenya has number portability, so a prefix is strong evidence, not proof: a number ported away from Safaricom
    still fails at Daraja (B2C 2040, which the payout paths handle); one ported to Safaricom is refused here."""
    return mobile_operator(msisdn) == MPESA_OPERATOR


def off_mpesa(msisdn: str) -> str | None:
    """None when M-Pesa can pay ``msisdn`` (``mpesa_can_pay``), else what a refusal says of it: the number masked
    and whose range it is in.

    >>> off_mpesa("254712345678"), off_mpesa("254733123456"), off_mpesa("254747123456")
    (None, "2547******56 is on Airtel's network", '2547******56 is not in a Safaricom range')
    """
    network = mobile_operator(msisdn)
    if network == MPESA_OPERATOR:
        return None
    where = f"is on {network}'s network" if network else "is not in a Safaricom range"
    return f"{mask_msisdn(msisdn)} {where}"
