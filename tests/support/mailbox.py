"""Reading the emails a test's app sent, as their recipient would: the fake notifier's list or the file notifier's
lines (a live stack's ``notifications.jsonl``), and the one-time tokens the links carry.

Tests prove an account's email the way its owner does (``identity.email_proof``): they read the link from the
mailbox and send its token with the account's login and password. Nothing in the app is bypassed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from cryptopay.adapters.notify import FileNotifier
from cryptopay.core.ports.notifications import Notification, Notifier
from cryptopay.core.testing.notifications import InMemoryNotifier

__all__ = ["link_token", "messages", "prove_email", "prove_email_in_app"]


def messages(notifier: Notifier) -> list[Notification]:
    """Every message ``notifier`` sent so far, oldest first."""
    if isinstance(notifier, InMemoryNotifier):
        return list(notifier.sent)
    if isinstance(notifier, FileNotifier):
        return notifier.read()
    raise TypeError(f"cannot read the mail of {type(notifier).__name__}")


def link_token(sent: Iterable[Notification], address: str, *, release: bool = False) -> str:
    """The token of the newest email-proof link to ``address``: the one that proves it (``/verify-email#token=``),
    or with ``release`` the "this wasn't me" one (``/verify-email/release#token=``)."""
    pattern = re.compile(r"/verify-email/release#token=(\S+)" if release else r"/verify-email#token=(\S+)")
    for message in reversed(list(sent)):
        found = pattern.search(message.body) if message.to == address else None
        if found:
            return found.group(1)
    raise AssertionError(f"no email-proof link was emailed to {address}")


def prove_email(client: Any, sent: Iterable[Notification], email: str, headers: dict[str, str], password: str) -> None:
    """Prove ``email`` as its owner does, through ``client`` (a Flask test client or an httpx client): the newest
    emailed link's token with the account's login (``headers``) and its password."""
    body = {"token": link_token(sent, email), "password": password}
    response = client.post("/v1/auth/email/verify", json=body, headers=headers)
    assert response.status_code == 204, response.text


def prove_email_in_app(client: Any, email: str, headers: dict[str, str], password: str) -> None:
    """``prove_email`` through a Flask test client, reading the mail its app's notifier sent."""
    sent = messages(client.application.extensions["cryptopay"].services.notifier)
    prove_email(client, sent, email, headers, password)
