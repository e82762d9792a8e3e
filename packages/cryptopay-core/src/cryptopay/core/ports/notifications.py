"""The notification port: tell a person something out of band (password reset links, security alerts).

Adapters: SMTP email for production and a file (one JSON line per message) for development, in
``cryptopay.adapters.notify``; the in-memory fake in ``cryptopay.core.testing.notifications``. A notification's
body may carry a one-time secret (a reset token): adapters never log it.
"""

from __future__ import annotations

from typing import Protocol

import attrs
from cryptopay.core.text import one_line

__all__ = ["Notification", "Notifier"]


@attrs.frozen
class Notification:
    """One message to one address (an email address). The subject is one line whatever it quotes (``one_line``): a
    name stored before the text rule refused line separators still makes a subject a mail header can carry.

    >>> Notification("ann@example.co.ke", "Join Shop\\u2028Bcc: x@evil.example on cryptopay", "...").subject
    'Join Shop Bcc: x@evil.example on cryptopay'
    """

    to: str
    subject: str = attrs.field(converter=one_line)
    body: str = attrs.field(repr=False)


class Notifier(Protocol):
    def send(self, notification: Notification) -> None:
        """Deliver the message or raise ``Unavailable``; a message is never silently dropped."""
        ...
