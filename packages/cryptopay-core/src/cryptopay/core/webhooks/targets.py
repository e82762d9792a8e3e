"""Where a webhook may go: hosts read the way a resolver reads them, and only public addresses.

A resolver (glibc's ``inet_aton``, which ``getaddrinfo`` and so httpx use) reads ``2130706433``, ``0x7f.1``,
``0177.0.0.1`` and ``127.1`` all as 127.0.0.1, and a single-label name such as ``metadata`` or ``redis`` is
completed by the host's search domains. A check that only recognises dotted quads therefore lets a merchant aim
our sender inward. This module reads every numeric form as the resolver would, refuses the names that only mean
something inside a network, and admits an address only when ``is_global`` holds for it and for any IPv4 address
embedded in it (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64; the local-use NAT64 prefix never). Loopback is
admitted only when the caller says so (the sandbox, outside production); private ranges, CGNAT (100.64.0.0/10),
link-local (cloud metadata) and multicast never are.

>>> str(numeric_ipv4("0x7f.1")), str(numeric_ipv4("2130706433")), numeric_ipv4("example.com")
('127.0.0.1', '127.0.0.1', None)
>>> admits(ipaddress.ip_address("100.64.0.1")), admits(ipaddress.ip_address("::ffff:127.0.0.1"))
(False, False)
>>> admits(ipaddress.ip_address("64:ff9b::a9fe:a9fe")), admits(ipaddress.ip_address("64:ff9b:1::a9fe:a9fe"))
(False, False)
>>> host_problem("metadata.google.internal"), host_problem("hooks.example.com")
('a webhook host must be a public name, not an internal one', None)
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["IPAddress", "admits", "host_problem", "literal_address", "numeric_ipv4"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_INTERNAL_SUFFIXES = (
    ".localhost",
    ".local",
    ".localdomain",
    ".internal",
    ".intranet",
    ".lan",
    ".home",
    ".corp",
    ".private",
    ".home.arpa",
    ".in-addr.arpa",
    ".ip6.arpa",
)  # .example/.test/.invalid (RFC 2606) never resolve: the send-time lookup fails closed on them
_METADATA_NAMES = frozenset({"metadata", "instance-data", "metadata.google.internal", "metadata.azure.com"})
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 8215's local-use NAT64 prefix: a network's own translator, with an IPv4 address embedded at a position its
# prefix length (RFC 6052: /48 to /96) decides, which the address alone does not tell; never a public target.
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _number(part: str) -> int | None:
    """One dotted part as ``inet_aton`` reads it: ``0x`` hexadecimal, a leading ``0`` octal, else decimal."""
    try:
        if part[:2].lower() == "0x":
            return int(part[2:] or "0", 16)
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        return int(part, 10) if part.isascii() and part.isdigit() else None
    except ValueError:
        return None


def numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a resolver reads in ``host`` (1 to 4 numeric parts, the last filling the rest), or None."""
    parts = host.rstrip(".").split(".")
    if not 1 <= len(parts) <= 4 or any(not part for part in parts):
        return None
    numbers = [_number(part) for part in parts]
    if any(number is None for number in numbers):
        return None
    *head, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = 0
    for n in head:
        value = value * 256 + n
    return ipaddress.IPv4Address(value * 256 ** (4 - len(head)) + last)


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells (an IPv6 literal, brackets optional, or any IPv4 form), or None for a name."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in bare:
        try:
            return ipaddress.IPv6Address(bare)
        except ValueError:  # a zone id (fe80::1%eth0) or junk: never a public address
            return ipaddress.IPv6Address("::")
    return numeric_ipv4(bare)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def admits(address: IPAddress, *, allow_loopback: bool = False) -> bool:
    """True for a public unicast address (``is_global``, not multicast, nothing inward embedded in it)."""
    if allow_loopback and address.is_loopback:
        return True
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL:
            return False
        inner = _embedded_ipv4(address)
        return inner is None or admits(inner)
    return True


def _is_loopback_name(name: str) -> bool:
    return name == "localhost" or name.endswith(".localhost")


def host_problem(host: str, *, allow_loopback: bool = False) -> str | None:
    """Why ``host`` may not receive webhooks (None when it may, subject to what it resolves to when sent)."""
    name = host.lower().rstrip(".")
    literal = literal_address(name)
    if literal is not None:
        if not admits(literal, allow_loopback=allow_loopback):
            return "a webhook URL must not point at a private, loopback or otherwise non-public address"
        if isinstance(literal, ipaddress.IPv4Address) and name != str(literal):
            return "write an IPv4 address as four decimal numbers (a.b.c.d)"
        return None
    if allow_loopback and _is_loopback_name(name):
        return None
    if not name.isascii() or not all(_LABEL.match(label) for label in name.split(".")):
        return "a webhook host must be an ASCII domain name (IDNA names in their xn-- form)"
    if _number(name.rsplit(".", 1)[-1]) is not None:
        return "a webhook host must be an IPv4 address or a name under a real top-level domain"
    if "." not in name or name in _METADATA_NAMES or name.endswith(_INTERNAL_SUFFIXES) or _is_loopback_name(name):
        return "a webhook host must be a public name, not an internal one"
    return None
