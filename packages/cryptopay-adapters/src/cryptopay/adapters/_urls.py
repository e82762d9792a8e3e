"""Which URLs are sandboxes or local: production settings refuse them (Daraja, SMS) unless the sandbox is allowed.

>>> is_sandbox_url("https://sandbox.safaricom.co.ke"), is_sandbox_url("http://127.0.0.1:5000")
(True, True)
>>> is_sandbox_url("https://api.sandbox.africastalking.com"), is_sandbox_url("https://api.africastalking.com")
(True, False)
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

__all__ = ["is_loopback_or_sandbox_url", "is_sandbox_url"]


def is_loopback_or_sandbox_url(url: str) -> bool:
    """True when ``url``'s host is this machine in any spelling (``localhost``, 127.0.0.0/8 also written ``127.1``
    or ``2130706433``, ``0.0.0.0``, ``::1``, ``::ffff:127.0.0.1``) or a provider's sandbox (a ``sandbox`` label):
    what production refuses for an external service. A private-network address (a node on 10.x) is not.

    >>> [is_loopback_or_sandbox_url(u) for u in ("http://127.1:9", "http://[::ffff:127.0.0.1]", "http://LOCALHOST.")]
    [True, True, True]
    >>> [is_loopback_or_sandbox_url(u) for u in ("https://SANDBOX.safaricom.co.ke", "http://10.0.0.5:8545")]
    [True, False]
    """
    try:
        host = (urlsplit(url.strip()).hostname or "").lower().rstrip(".")
    except ValueError:  # an unparsable URL (a bad IPv6 literal): not judged here
        return False
    if host == "localhost" or host.endswith(".localhost") or "sandbox" in host.split("."):
        return True
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        try:  # the shorthand forms a resolver accepts: 127.1, 0x7f.1, 2130706433
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


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
