"""Daraja settings: hosts, credentials and retry policy; production refuses a sandbox or local base URL.

>>> is_sandbox_url("https://sandbox.safaricom.co.ke"), is_sandbox_url("http://127.0.0.1:5000")
(True, True)
>>> is_sandbox_url(PRODUCTION_URL)
False
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs
from cryptopay.core.errors import InvalidInput

__all__ = ["PRODUCTION_URL", "SANDBOX_URL", "DarajaSettings", "is_sandbox_url"]

PRODUCTION_URL = "https://api.safaricom.co.ke"
SANDBOX_URL = "https://sandbox.safaricom.co.ke"


def is_sandbox_url(url: str) -> bool:
    """True for Safaricom's sandbox, our local simulators, and any loopback or private address."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".test", ".invalid")) or "sandbox" in host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified


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
        """Read ``CRYPTOPAY_MPESA_BASE_URL``, ``..._CONSUMER_KEY``, ``..._SHORTCODE`` and friends."""
        source = os.environ if env is None else env
        names = {field.name for field in attrs.fields(cls)}
        values: dict[str, object] = {}
        for name in names:
            raw = source.get(prefix + name.upper())
            if raw is not None:
                values[name] = _convert(name, raw)
        missing = {"consumer_key", "consumer_secret", "shortcode"} - set(values)
        if missing:
            raise InvalidInput(f"missing Daraja settings: {', '.join(prefix + m.upper() for m in sorted(missing))}")
        return cls(**values)  # type: ignore[arg-type]


def _convert(name: str, raw: str) -> object:
    if name in ("production", "allow_sandbox"):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if name in ("max_attempts", "token_refresh_margin_seconds"):
        return int(raw)
    if name in ("timeout_seconds", "backoff_seconds"):
        return float(raw)
    return raw
