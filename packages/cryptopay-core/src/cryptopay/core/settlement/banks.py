"""The bank catalogue: which Kenyan banks a merchant may be settled to, and how each is paid.

Kenyan businesses pay a bank account the way its owner would: M-Pesa B2B (``BusinessPayBill``) to the bank's paybill
with the account number as the AccountReference. The catalogue is data (``data/banks.json``, versioned like a fee
schedule), not code: a bank's name, paybill and account-number format change without a release of the rules.

A bank account is paid by B2B when its bank has a paybill and the account number fits Daraja's AccountReference
(13 characters); otherwise an operator transfers it from the bank file (``Payouts.bank_file``) and confirms it
(``Payouts.propose_bank_confirmation``, approved by a second officer).

>>> catalogue = bank_catalogue()
>>> route = catalogue.route("EQUITY:0170123456789")
>>> route.bank.name, route.paybill, route.account
('Equity Bank', '247247', '0170123456789')
>>> catalogue.route("CITI:12345678").paybill is None  # no paybill: the bank file
True
>>> catalogue.route("COOP:01109012345600").paybill is None  # 14 digits do not fit AccountReference
True
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
from cryptopay.core.errors import InvalidInput
from cryptopay.core.text import pattern_form

__all__ = [
    "ACCOUNT_REFERENCE_MAX",
    "BANK_FORM",
    "Bank",
    "BankCatalogue",
    "BankRoute",
    "bank_catalogue",
    "parse_bank_catalogue",
]

BANK_FORM = "a bank destination is BANK:ACCOUNT, such as KCB:1234567890 (a catalogued bank's code, its account number)"
ACCOUNT_REFERENCE_MAX = 13  # Daraja's B2B AccountReference (see mobile_money.requests.B2BRequest)
_CODE = re.compile(r"^[A-Za-z0-9]{2,11}$", re.ASCII)
_PAYBILL = re.compile(r"^\d{5,7}$", re.ASCII)


@attrs.frozen
class Bank:
    """One bank: its code in merchants' destinations (``<code>:<account>``), name, paybill and account format."""

    code: str
    name: str
    paybill: str | None
    account_pattern: str
    verified: bool = False

    @property
    def account_form(self) -> str:
        """This bank's account-number format in words (``10 to 13 digits``), never the regular expression."""
        return pattern_form(self.account_pattern, "in the format the bank catalogue gives")

    def check_account(self, account: str) -> str:
        """The account number if it fits this bank's format, else ``InvalidInput``."""
        if not re.fullmatch(self.account_pattern, account):
            raise InvalidInput(
                f"{account!r} is not a {self.name} account number: {self.account_form}",
                field="settlement.destination",
            )
        return account


@attrs.frozen
class BankRoute:
    """How one bank account is paid: ``paybill`` set means M-Pesa B2B, ``None`` an operator's bank transfer."""

    bank: Bank
    account: str
    paybill: str | None

    @property
    def by_mpesa(self) -> bool:
        return self.paybill is not None


@attrs.frozen
class BankCatalogue:
    """One version of the catalogue."""

    version: int
    effective_from: date
    banks: Mapping[str, Bank]

    def bank(self, code: str) -> Bank:
        """The bank with this code (case-insensitive), else ``InvalidInput`` naming the known codes."""
        found = self.banks.get(code.upper())
        if found is None:
            known = ", ".join(sorted(self.banks))
            raise InvalidInput(f"unknown bank code {code!r} (known: {known})", field="settlement.destination")
        return found

    def destination_pattern(self) -> str:
        """One regular expression (ECMA 262 and Python alike) matching exactly the destinations ``route`` accepts:
        a catalogued code in either case, ``:``, an account in that bank's format (for an API's published schema).

        >>> import re
        >>> pattern = bank_catalogue().destination_pattern()
        >>> bool(re.fullmatch(pattern, "kcb:1234567890")), bool(re.fullmatch(pattern, "KCB:12"))
        (True, False)
        """
        options = []
        for bank in self.banks.values():
            code = "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in bank.code)
            options.append(f"{code}:(?:{bank.account_pattern[1:-1]})")
        return "^(?:" + "|".join(options) + ")$"

    def route(self, destination: str) -> BankRoute:
        """How ``<bank code>:<account number>`` is paid; ``InvalidInput`` for an unknown bank or a bad account."""
        code, sep, account = destination.partition(":")
        if not sep:
            raise InvalidInput(BANK_FORM, field="settlement.destination")
        bank = self.bank(code)
        bank.check_account(account)
        fits = len(account) <= ACCOUNT_REFERENCE_MAX
        return BankRoute(bank, account, bank.paybill if fits else None)


def parse_bank_catalogue(data: Mapping[str, Any]) -> BankCatalogue:
    """A catalogue from its JSON form (see ``data/banks.json``); ``InvalidInput`` for a malformed one."""
    try:
        banks = {}
        for row in data["banks"]:
            bank = Bank(
                code=str(row["code"]).upper(),
                name=str(row["name"]),
                paybill=None if row.get("paybill") is None else str(row["paybill"]),
                account_pattern=str(row["account_pattern"]),
                verified=bool(row.get("verified", False)),
            )
            if not _CODE.match(bank.code) or (bank.paybill is not None and not _PAYBILL.match(bank.paybill)):
                raise InvalidInput(f"bad bank catalogue row {bank.code}")
            re.compile(bank.account_pattern)
            if not (bank.account_pattern.startswith("^") and bank.account_pattern.endswith("$")):
                raise InvalidInput(f"bank {bank.code}: an account pattern is anchored (^...$)")
            if bank.code in banks:
                raise InvalidInput(f"bank {bank.code} is listed twice")
            banks[bank.code] = bank
        return BankCatalogue(int(data["version"]), date.fromisoformat(str(data["effective_from"])), banks)
    except (KeyError, TypeError, ValueError, re.error) as error:
        raise InvalidInput(f"malformed bank catalogue: {error}") from None


@cache
def bank_catalogue() -> BankCatalogue:
    """The catalogue shipped with this version of cryptopay."""
    text = resources.files("cryptopay.core.settlement").joinpath("data/banks.json").read_text(encoding="utf-8")
    return parse_bank_catalogue(json.loads(text))
