"""SMS settings from ``CRYPTOPAY_SMS_*``: which provider, its credentials, sender id and base URL.

``CRYPTOPAY_SMS_PROVIDER`` is ``africastalking``, ``file`` (development: a private JSON-lines file) or ``none``
(no SMS: security notices are skipped, and each skip is audited). Unset, it is ``file`` outside production and
``none`` in production; production refuses ``file`` and (unless ``CRYPTOPAY_ALLOW_SANDBOX``) a sandbox or local
base URL, Africa's Talking's sandbox included. The API key never appears in a ``repr`` or a message.

>>> s = SmsSettings.from_env({"CRYPTOPAY_SMS_PROVIDER": "africastalking", "CRYPTOPAY_SMS_USERNAME": "sandbox",
...                           "CRYPTOPAY_SMS_API_KEY": "k-123"})
>>> s.base_url, "k-123" in repr(s)
('https://api.sandbox.africastalking.com', False)
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs
from cryptopay.adapters._urls import is_sandbox_url
from cryptopay.core.errors import InvalidInput

__all__ = ["PRODUCTION_URL", "PROVIDERS", "SANDBOX_URL", "SmsSettings"]

PRODUCTION_URL = "https://api.africastalking.com"
SANDBOX_URL = "https://api.sandbox.africastalking.com"  # Africa's Talking's own sandbox (username ``sandbox``)
PROVIDERS = ("africastalking", "file", "none")
_PREFIX = "CRYPTOPAY_SMS_"


@attrs.frozen(kw_only=True)
class SmsSettings:
    """What the SMS adapters need; ``api_key`` is a secret."""

    provider: str = "file"
    username: str = ""
    api_key: str = attrs.field(default="", repr=False)
    sender_id: str | None = None  # Africa's Talking's ``from``: a registered alphanumeric or short code
    base_url: str = PRODUCTION_URL
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, production: bool = False, allow_sandbox: bool = False) -> SmsSettings:
        """Read ``CRYPTOPAY_SMS_*``; anything a provider lacks or production forbids is ``InvalidInput``."""

        def get(name: str) -> str:
            return env.get(_PREFIX + name, "").strip()

        provider = get("PROVIDER").lower() or ("none" if production else "file")
        if provider not in PROVIDERS:
            raise InvalidInput(f"{_PREFIX}PROVIDER must be one of {', '.join(PROVIDERS)}, got {provider!r}")
        if provider == "file" and production:
            raise InvalidInput(f"{_PREFIX}PROVIDER=file is for development; production sends with africastalking")
        username = get("USERNAME")
        default_url = SANDBOX_URL if username == "sandbox" else PRODUCTION_URL
        settings = cls(
            provider=provider,
            username=username,
            api_key=get("API_KEY"),
            sender_id=get("SENDER_ID") or None,
            base_url=(get("BASE_URL") or default_url).rstrip("/"),
        )
        if provider == "africastalking":
            settings._check_africastalking(production=production, allow_sandbox=allow_sandbox)
        return settings

    def _check_africastalking(self, *, production: bool, allow_sandbox: bool) -> None:
        missing = [
            _PREFIX + name for name, value in (("USERNAME", self.username), ("API_KEY", self.api_key)) if not value
        ]
        if missing:
            raise InvalidInput(f"missing SMS settings: {', '.join(missing)}")
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise InvalidInput(f"{_PREFIX}BASE_URL must be an http(s) URL")
        if production and not allow_sandbox and (is_sandbox_url(self.base_url) or self.username == "sandbox"):
            raise InvalidInput(
                f"{_PREFIX}BASE_URL/{_PREFIX}USERNAME point at a sandbox or local SMS API; "
                "production sends real messages (set CRYPTOPAY_ALLOW_SANDBOX=1 to test)"
            )
