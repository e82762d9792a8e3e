"""Typed reads of ``CRYPTOPAY_*`` variables, shared by every settings module: a bad value is one ``InvalidInput``
naming the variable and what it accepts (the shells print it on one line and exit 2), never a bare ``ValueError``.

>>> deployment_is_production({"CRYPTOPAY_ENV": "production"}), deployment_is_production({})
(True, False)
>>> deployment_is_production({"CRYPTOPAY_ENV": "prod"})
Traceback (most recent call last):
...
cryptopay.core.errors.InvalidInput: CRYPTOPAY_ENV must be production or development, got 'prod'
>>> read = Variables({"CRYPTOPAY_PROXY_COUNT": "-1", "CRYPTOPAY_X_SECONDS": "nan"})
>>> read.integer("PROXY_COUNT", 0)
Traceback (most recent call last):
...
cryptopay.core.errors.InvalidInput: CRYPTOPAY_PROXY_COUNT must be a whole number from 0, got '-1'
>>> read.number("X_SECONDS", 1.0, minimum=0.1)
Traceback (most recent call last):
...
cryptopay.core.errors.InvalidInput: CRYPTOPAY_X_SECONDS must be a number from 0.1, got 'nan'
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs
from cryptopay.core.errors import InvalidInput

__all__ = ["ENVIRONMENTS", "Variables", "deployment_is_production"]

ENVIRONMENTS = ("production", "development")  # CRYPTOPAY_ENV: exactly these (unset is development)
_ON = ("1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


def deployment_is_production(env: Mapping[str, str]) -> bool:
    """``CRYPTOPAY_ENV``: ``production`` or ``development`` (the default); anything else (``prod``, ``live``) is
    refused rather than read as development, which would skip every production check without a word."""
    text = env.get("CRYPTOPAY_ENV", "").strip().lower()
    if text in ("", "development"):
        return False
    if text == "production":
        return True
    raise InvalidInput(f"CRYPTOPAY_ENV must be {' or '.join(ENVIRONMENTS)}, got {text!r}")


@attrs.frozen
class Variables:
    """Typed reads of ``prefix + NAME``; an unset (or blank) variable gives the default."""

    source: Mapping[str, str]
    prefix: str = "CRYPTOPAY_"

    def text(self, name: str) -> str:
        return self.source.get(self.prefix + name.upper(), "").strip()

    def flag(self, name: str, default: bool = False) -> bool:
        """On (``1/true/yes/on``) or off (``0/false/no/off``), any case; anything else is refused."""
        text = self.text(name).lower()
        if not text:
            return default
        if text in _ON or text in _OFF:
            return text in _ON
        raise InvalidInput(f"{self.prefix}{name.upper()} must be on or off (1/0, true/false, yes/no), got {text!r}")

    def integer(self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
        """A whole number within ``minimum``..``maximum``."""
        text = self.text(name)
        if not text:
            return default
        digits = text.removeprefix("-")
        value = int(text) if digits.isascii() and digits.isdecimal() else None  # "²" is isdigit(), not int()
        if value is None or value < minimum or (maximum is not None and value > maximum):
            bounds = f"from {minimum}" + (f" to {maximum}" if maximum is not None else "")
            raise InvalidInput(f"{self.prefix}{name.upper()} must be a whole number {bounds}, got {text!r}")
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None) -> float:
        """A finite number within ``minimum``..``maximum`` (NaN and infinities refused)."""
        text = self.text(name)
        if not text:
            return default
        try:
            value: float | None = float(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
            bounds = f"from {minimum:g}" + (f" to {maximum:g}" if maximum is not None else "")
            raise InvalidInput(f"{self.prefix}{name.upper()} must be a number {bounds}, got {text!r}")
        return value
