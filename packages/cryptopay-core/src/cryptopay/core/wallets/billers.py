"""The biller catalogue: whom a wallet may pay a bill to, at which paybill, with which account format and limits.

A bill is paid the way a Kenyan business pays one: M-Pesa B2B ``BusinessPayBill`` to the biller's paybill with the
customer's account (a KPLC meter, a DStv smartcard) as the AccountReference. The catalogue is data
(``data/billers.json``, versioned like the bank catalogue), not code. Every row says whether it was verified against
the biller's own page; the shipped rows are not (see the file's ``about``).

>>> catalogue = biller_catalogue()
>>> kplc = catalogue.biller("kplc_prepaid")
>>> kplc.paybill, kplc.token, kplc.check("0123 4567 890")
('888880', True, '01234567890')
>>> catalogue.biller("GOTV").check("12345")
Traceback (most recent call last):
...
cryptopay.core.errors.InvalidInput: '12345' is not a GOtv IUC (smartcard) number: 10 digits
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import attrs
from cryptopay.core.errors import InvalidInput, LimitExceeded
from cryptopay.core.money import KES, Money
from cryptopay.core.settlement.banks import ACCOUNT_REFERENCE_MAX
from cryptopay.core.text import pattern_form

__all__ = ["Biller", "BillerCatalogue", "biller_catalogue", "parse_biller_catalogue"]

_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,31}$", re.ASCII)
_PAYBILL = re.compile(r"^\d{5,7}$", re.ASCII)
_SEPARATORS = re.compile(r"[\s-]+")


@attrs.frozen(kw_only=True)
class Biller:
    """One biller: its paybill, what its account is called and looks like, and the KES a bill may be."""

    code: str
    name: str
    paybill: str
    account_label: str
    account_pattern: str
    minimum: Money
    maximum: Money
    token: bool = False  # a prepaid biller: the customer receives a token (by SMS from the biller, for KPLC)
    verified: bool = False

    def check(self, account: str) -> str:
        """The account without the spaces and dashes people type, if it fits the biller's format; else
        ``InvalidInput`` (field ``account``)."""
        cleaned = _SEPARATORS.sub("", account)
        if not re.fullmatch(self.account_pattern, cleaned) or len(cleaned) > ACCOUNT_REFERENCE_MAX:
            raise InvalidInput(
                f"{account!r} is not a {self.name} {self.account_label}: "
                f"{pattern_form(self.account_pattern, 'in the format the biller catalogue gives')}",
                field="account",
            )
        return cleaned

    def check_amount(self, amount: Money) -> Money:
        """Whole shillings between the biller's minimum and maximum, else a 4xx naming the bound."""
        if amount.asset != KES or amount != amount.whole():
            raise InvalidInput("a bill is paid in whole shillings (KES)", field="amount")
        if amount < self.minimum or amount > self.maximum:
            raise LimitExceeded(
                f"{self.name} takes KES {self.minimum.amount:,} to {self.maximum.amount:,} a payment",
                limit=f"biller.{'minimum' if amount < self.minimum else 'maximum'}",
                remaining=str(self.maximum.amount),
            )
        return amount


@attrs.frozen
class BillerCatalogue:
    """One version of the catalogue."""

    version: int
    effective_from: date
    billers: Mapping[str, Biller]

    def biller(self, code: str) -> Biller:
        """The biller with this code (case-insensitive), else ``InvalidInput`` naming the known codes."""
        found = self.billers.get(code.upper())
        if found is None:
            known = ", ".join(sorted(self.billers))
            raise InvalidInput(f"unknown biller {code!r} (known: {known})", field="biller")
        return found

    def by_paybill(self, paybill: str) -> Biller | None:
        return next((b for b in self.billers.values() if b.paybill == paybill), None)


def _biller(row: Mapping[str, Any]) -> Biller:
    biller = Biller(
        code=str(row["code"]).upper(),
        name=str(row["name"]),
        paybill=str(row["paybill"]),
        account_label=str(row["account_label"]),
        account_pattern=str(row["account_pattern"]),
        minimum=Money.of(str(row["minimum"]), KES),
        maximum=Money.of(str(row["maximum"]), KES),
        token=bool(row.get("token", False)),
        verified=bool(row.get("verified", False)),
    )
    re.compile(biller.account_pattern)
    if not _CODE.match(biller.code) or not _PAYBILL.match(biller.paybill):
        raise InvalidInput(f"bad biller catalogue row {biller.code}")
    if not (biller.account_pattern.startswith("^") and biller.account_pattern.endswith("$")):
        raise InvalidInput(f"biller {biller.code}: an account pattern is anchored (^...$)")
    if not (Money.zero(KES) < biller.minimum <= biller.maximum):
        raise InvalidInput(f"biller {biller.code}: 0 < minimum <= maximum")
    return biller


def parse_biller_catalogue(data: Mapping[str, Any]) -> BillerCatalogue:
    """A catalogue from its JSON form (see ``data/billers.json``); ``InvalidInput`` for a malformed one."""
    try:
        billers: dict[str, Biller] = {}
        for row in data["billers"]:
            biller = _biller(row)
            if biller.code in billers or any(b.paybill == biller.paybill for b in billers.values()):
                raise InvalidInput(f"biller {biller.code} (or its paybill) is listed twice")
            billers[biller.code] = biller
        return BillerCatalogue(int(data["version"]), date.fromisoformat(str(data["effective_from"])), billers)
    except (KeyError, TypeError, ValueError, re.error) as error:
        raise InvalidInput(f"malformed biller catalogue: {error}") from None


@cache
def biller_catalogue() -> BillerCatalogue:
    """The catalogue shipped with this version of cryptopay."""
    text = resources.files("cryptopay.core.wallets").joinpath("data/billers.json").read_text(encoding="utf-8")
    return parse_biller_catalogue(json.loads(text))
