"""Which URLs are sandboxes or local: production settings refuse them (Daraja, SMS) unless the sandbox is allowed.

>>> is_sandbox_url("https://sandbox.safaricom.co.ke"), is_sandbox_url("http://127.0.0.1:5000")
(True, True)
>>> is_sandbox_url("https://api.sandbox.africastalking.com"), is_sandbox_url("https://api.africastalking.com")
(True, False)
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["is_sandbox_url"]


def is_sandbox_url(url: str) -> bool:
    """True for a provider's sandbox, our local simulators, and any loopback or private address."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".test", ".invalid")) or "sandbox" in host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified
