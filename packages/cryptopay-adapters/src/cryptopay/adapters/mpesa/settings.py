"""Daraja settings: hosts, credentials and retry policy; production refuses a sandbox or local base URL.

>>> is_sandbox_url("https://sandbox.safaricom.co.ke"), is_sandbox_url("http://127.0.0.1:5000")
(True, True)
>>> is_sandbox_url(PRODUCTION_URL)
False
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import overload
from urllib.parse import urlsplit

import attrs
from cryptopay.adapters._env import Variables
from cryptopay.adapters._urls import is_sandbox_url
from cryptopay.core.errors import InvalidInput

__all__ = ["PRODUCTION_URL", "SANDBOX_URL", "DarajaSettings", "is_sandbox_url"]

PRODUCTION_URL = "https://api.safaricom.co.ke"
SANDBOX_URL = "https://sandbox.safaricom.co.ke"


@attrs.frozen(kw_only=True)
class DarajaSettings:
    """Everything the Daraja adapter needs; secrets never appear in ``repr``."""

    consumer_key: str = attrs.field(repr=False)
    consumer_secret: str = attrs.field(repr=False)
    shortcode: str  # STK Push / C2B paybill (BusinessShortCode)
    base_url: str = PRODUCTION_URL
    passkey: str = attrs.field(default="", repr=False)
    payout_shortcode: str | None = None  # B2C/B2B/status/balance/reversal PartyA; ``shortcode`` if None
    initiator_name: str = ""
    initiator_password: str = attrs.field(default="", repr=False)
    certificate_path: str | None = None  # Safaricom's X.509 certificate (PEM or DER) for SecurityCredential
    production: bool = True
    allow_sandbox: bool = False
    timeout_seconds: float = 30.0
    max_attempts: int = 3
    backoff_seconds: float = 0.5
    token_refresh_margin_seconds: int = 600  # refresh ~50 minutes into Daraja's one-hour tokens

    def __attrs_post_init__(self) -> None:
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise InvalidInput(f"the Daraja base URL must be http(s), got {self.base_url!r}")
        if self.production and not self.allow_sandbox and is_sandbox_url(self.base_url):
            raise InvalidInput(
                f"production Daraja settings refuse the sandbox/local base URL {self.base_url}; "
                "set allow_sandbox=True (or production=False) to use it"
            )
        if self.max_attempts < 1:
            raise InvalidInput("max_attempts must be at least 1")

    @property
    def party_a(self) -> str:
        return self.payout_shortcode or self.shortcode

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, prefix: str = "CRYPTOPAY_MPESA_") -> DarajaSettings:
        """Read ``CRYPTOPAY_MPESA_BASE_URL``, ``..._CONSUMER_KEY``, ``..._SHORTCODE`` and friends.

        An unset variable keeps the field's default (the same defaults as the constructor's).
        """
        read = _Variables(os.environ if env is None else env, prefix)
        missing = [name for name in ("consumer_key", "consumer_secret", "shortcode") if read.text(name) is None]
        if missing:
            raise InvalidInput(f"missing Daraja settings: {', '.join(prefix + m.upper() for m in missing)}")
        return cls(
            consumer_key=read.text("consumer_key", ""),
            consumer_secret=read.text("consumer_secret", ""),
            shortcode=read.text("shortcode", ""),
            base_url=read.text("base_url", PRODUCTION_URL),
            passkey=read.text("passkey", ""),
            payout_shortcode=read.text("payout_shortcode"),
            initiator_name=read.text("initiator_name", ""),
            initiator_password=read.text("initiator_password", ""),
            certificate_path=read.text("certificate_path"),
            production=read.flag("production", True),
            allow_sandbox=read.flag("allow_sandbox", False),
            timeout_seconds=read.number("timeout_seconds", 30.0, minimum=0.1),
            max_attempts=read.integer("max_attempts", 3, minimum=1),
            backoff_seconds=read.number("backoff_seconds", 0.5),
            token_refresh_margin_seconds=read.integer("token_refresh_margin_seconds", 600),
        )


@attrs.frozen
class _Variables:
    """Typed reads of ``prefix + NAME`` variables: an unset one gives the default."""

    source: Mapping[str, str]
    prefix: str

    @overload
    def text(self, name: str) -> str | None: ...

    @overload
    def text(self, name: str, default: str) -> str: ...

    def text(self, name: str, default: str | None = None) -> str | None:
        return self.source.get(self.prefix + name.upper(), default)

    def flag(self, name: str, default: bool) -> bool:
        return Variables(self.source, self.prefix).flag(name, default)

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        return Variables(self.source, self.prefix).integer(name, default, minimum=minimum)

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        return Variables(self.source, self.prefix).number(name, default, minimum=minimum)
