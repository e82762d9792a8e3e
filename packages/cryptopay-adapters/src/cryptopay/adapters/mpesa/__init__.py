"""M-Pesa Daraja adapter (httpx): the ``MobileMoneyGateway`` port over Safaricom's API.

>>> settings = DarajaSettings(consumer_key="k", consumer_secret="s", shortcode="174379")
>>> settings.base_url
'https://api.safaricom.co.ke'
"""

from __future__ import annotations

from cryptopay.adapters.mpesa.client import DarajaClient, TokenCache
from cryptopay.adapters.mpesa.credentials import load_certificate, security_credential
from cryptopay.adapters.mpesa.gateway import DarajaGateway
from cryptopay.adapters.mpesa.settings import PRODUCTION_URL, SANDBOX_URL, DarajaSettings, is_sandbox_url

__all__ = [
    "PRODUCTION_URL",
    "SANDBOX_URL",
    "DarajaClient",
    "DarajaGateway",
    "DarajaSettings",
    "TokenCache",
    "is_sandbox_url",
    "load_certificate",
    "security_credential",
]
