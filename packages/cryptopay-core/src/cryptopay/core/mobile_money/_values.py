"""Tolerant readers for single Daraja values: codes, texts, amounts, times, party names, key/value lists."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from cryptopay.core.errors import InvalidInput
from cryptopay.core.mobile_money.phones import try_normalize_msisdn
from cryptopay.core.money import KES, Money
from cryptopay.core.system import NAIROBI

__all__ = ["amount_of", "code_of", "items_of", "moment_of", "pairs_of", "phone_in_party", "text_of"]

_CODE_DIGITS = 30  # a result code is a few digits; past this it stays text, never converted
_TIME_FORMATS = ("%Y%m%d%H%M%S", "%d.%m.%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


def text_of(value: Any) -> str | None:
    """Any scalar as stripped text; ``None`` for missing or empty values."""
    if value is None or isinstance(value, Mapping | list):
        return None
    if isinstance(value, float):
        value = Decimal(repr(value))  # a float only reaches us from a careless json.loads; keep its digits
    text = str(value).strip()
    return text or None


def code_of(value: Any) -> str | None:
    """A result code as text: ``0``, ``"0"`` and ``0.0`` all read ``"0"``; ``"R000002"`` stays."""
    text = text_of(value)
    if text is None:
        return None
    try:
        number = Decimal(text)
    except ArithmeticError:
        return text
    if number.is_finite() and number.adjusted() < _CODE_DIGITS and number == number.to_integral_value():
        return str(int(number))  # bounded first: int() of 1E+999999 would take minutes
    return text


def amount_of(value: Any) -> Money | None:
    """KES Money from ``1``, ``1.00``, ``"5.00"`` or ``Decimal``; ``None`` if absent."""
    text = text_of(value)
    if text is None:
        return None
    try:
        return Money.of(text, KES)
    except InvalidInput:
        raise InvalidInput(f"{text!r} is not a KES amount") from None


def moment_of(value: Any) -> datetime | None:
    """A Nairobi-time moment from ``20191219102115`` (number or text) or ``06.07.2024 22:48:52``."""
    text = text_of(value)
    if text is None:
        return None
    for pattern in _TIME_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=NAIROBI)
        except ValueError:
            continue
    return None


def items_of(value: Any) -> list[Mapping[str, Any]]:
    """A Daraja list that may be one object, a list of objects, or missing."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, Mapping)]
    return []


def pairs_of(value: Any, name_key: str) -> tuple[tuple[str, str | None], ...]:
    """``[{Key|Name, Value?}]`` as ``(name, text-or-None)`` pairs, keeping order and duplicates."""
    pairs = []
    for item in items_of(value):
        name = text_of(item.get(name_key))
        if name is not None:
            pairs.append((name, text_of(item.get("Value"))))
    return tuple(pairs)


def phone_in_party(text: str | None) -> str | None:
    """The phone in a party name such as ``"254705912645 - NICHOLAS JOHN SONGOK"``, if it is one."""
    if not text:
        return None
    return try_normalize_msisdn(text.split(" - ", 1)[0].strip())
