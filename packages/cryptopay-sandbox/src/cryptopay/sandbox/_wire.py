"""Daraja's wire conventions for the sandbox: error envelopes, field checks, JSON with exact decimal numbers."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask import Response

__all__ = ["Envelope", "check", "dumps", "envelope_response", "msisdn", "text", "whole_amount"]

_MARK = "\u0000decimal:"
_MARKED = re.compile(r'"\\u0000decimal:([-0-9.]+)"')
_MSISDN = re.compile(r"254[17]\d{8}")


class Envelope(Exception):
    """A Daraja error envelope; the HTTP status is the code's first part (``400.002.02`` -> 400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def envelope_response(error: Envelope) -> Response:
    body = {"requestId": f"sbx-{uuid.uuid4().hex[:24]}", "errorCode": error.code, "errorMessage": error.message}
    return Response(json.dumps(body), status=int(error.code.split(".")[0]), mimetype="application/json")


def dumps(payload: Any) -> str:
    """JSON where Decimals are written as exact numbers (``1.00``), the way Daraja writes amounts."""

    def mark(value: object) -> str:
        if isinstance(value, Decimal):
            return f"{_MARK}{value}"
        raise TypeError(f"cannot encode {type(value).__name__}")

    return _MARKED.sub(lambda match: match.group(1), json.dumps(payload, default=mark))


def check(condition: bool, field: str) -> None:
    """Refuse a field the way Daraja does."""
    if not condition:
        raise Envelope("400.002.02", f"Bad Request - Invalid {field}")


def text(body: Mapping[str, Any], field: str, maximum: int = 200) -> str:
    value = body.get(field)
    check(isinstance(value, str | int) and 0 < len(str(value)) <= maximum, field)
    return str(value)


def msisdn(body: Mapping[str, Any], field: str) -> str:
    value = str(body.get(field, ""))
    check(bool(_MSISDN.fullmatch(value)), field)
    return value


def whole_amount(body: Mapping[str, Any]) -> int:
    """Amount as a whole number (int or digit string); Daraja refuses decimals."""
    value = body.get("Amount")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Envelope("400.002.02", "Bad Request - Invalid Amount")
    amount = value
    check(amount > 0, "Amount")
    return amount
