"""Pure Daraja conventions: the STK Password and Timestamp, both in Africa/Nairobi time.

>>> from datetime import UTC, datetime
>>> daraja_timestamp(datetime(2024, 7, 6, 19, 48, 52, tzinfo=UTC))
'20240706224852'
>>> stk_password("174379", "passkey", "20240706224852")
'MTc0Mzc5cGFzc2tleTIwMjQwNzA2MjI0ODUy'
"""

from __future__ import annotations

import base64
from datetime import datetime

from cryptopay.core.errors import InvalidInput
from cryptopay.core.system import NAIROBI

__all__ = ["daraja_timestamp", "stk_password"]


def daraja_timestamp(moment: datetime) -> str:
    """``YYYYMMDDHHmmss`` in Nairobi time, from an aware moment."""
    if moment.tzinfo is None:
        raise InvalidInput("a Daraja timestamp needs a timezone-aware moment")
    return moment.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    """base64(BusinessShortCode + Passkey + Timestamp), as STK Push and STK query expect."""
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode("ascii")
