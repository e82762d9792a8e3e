"""Defences for Daraja's unsigned callbacks: a secret token per request, a source allowlist, de-duplication.

Store only ``token_digest(token)`` with the pending request; put the token itself in the callback URL.

>>> token = new_callback_token()
>>> url = callback_url("https://pay.example.com/callbacks/stk", token)
>>> verify_callback_token(token_from_url(url), token_digest(token))
True
>>> verify_callback_token("guess", token_digest(token))
False
>>> SourceAllowlist.of("196.201.214.0/24").allows("196.201.214.200")
True
"""

from __future__ import annotations

import ipaddress
import threading
from datetime import datetime, timedelta
from typing import Any

import attrs
from cryptopay.core.identity.credentials import hash_secret, new_secret, secrets_equal
from cryptopay.core.mobile_money.results import MpesaResult

__all__ = [
    "SAFARICOM_CALLBACK_NETWORKS",
    "CallbackInbox",
    "SourceAllowlist",
    "c2b_accept",
    "c2b_reject",
    "callback_url",
    "new_callback_token",
    "status_query_due",
    "token_digest",
    "token_from_url",
    "verify_callback_token",
]

# Addresses Safaricom publishes for Daraja callbacks; data, not a guarantee: keep it configurable.
SAFARICOM_CALLBACK_NETWORKS = (
    "196.201.214.200/32",
    "196.201.214.206/32",
    "196.201.213.114/32",
    "196.201.214.207/32",
    "196.201.214.208/32",
    "196.201.213.44/32",
    "196.201.212.127/32",
    "196.201.212.138/32",
    "196.201.212.129/32",
    "196.201.212.136/32",
    "196.201.212.74/32",
    "196.201.212.69/32",
)


def new_callback_token() -> str:
    """A fresh unguessable token (256 bits, URL-safe) for one request's callback URL."""
    return new_secret(32)


def token_digest(token: str) -> str:
    """What to store: a SHA-256 hex digest, so a database leak does not reveal live callback URLs."""
    return hash_secret(token)


def callback_url(base: str, token: str) -> str:
    """The callback URL for one request: the token as the last path segment."""
    return f"{base.rstrip('/')}/{token}"


def token_from_url(url: str) -> str:
    """The token in a URL built by ``callback_url`` (query string ignored)."""
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def verify_callback_token(presented: str | None, expected_digest: str) -> bool:
    """True only if the presented token hashes to the stored digest (constant-time comparison)."""
    if not presented:
        return False
    return secrets_equal(token_digest(presented), expected_digest)


@attrs.frozen
class SourceAllowlist:
    """The networks callbacks may come from; empty means any source (then the token is the only gate)."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def of(cls, *cidrs: str) -> SourceAllowlist:
        return cls(tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs))

    def allows(self, address: str | None) -> bool:
        if not self.networks:
            return True
        try:
            ip = ipaddress.ip_address((address or "").strip())
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


class CallbackInbox:
    """Remembers every event already handled, so a repeated callback changes nothing (thread-safe, in memory)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def accept(self, result: MpesaResult) -> bool:
        """True the first time an event is seen, False for any repeat of one of its ids."""
        keys = set(result.identity_keys)
        with self._lock:
            if not keys or keys & self._seen:
                return False
            self._seen |= keys
            return True


def status_query_due(submitted_at: datetime, now: datetime, deadline: timedelta = timedelta(minutes=2)) -> bool:
    """True once a request without a final result has waited past its deadline: time to ask Daraja."""
    return now - submitted_at >= deadline


def c2b_accept() -> dict[str, Any]:
    """The validation answer that lets a customer's C2B payment through."""
    return {"ResultCode": "0", "ResultDesc": "Accepted"}


def c2b_reject(code: str = "C2B00012", description: str = "Rejected") -> dict[str, Any]:
    """The validation answer that refuses a C2B payment (``C2B00012`` invalid account number)."""
    return {"ResultCode": code, "ResultDesc": description}
