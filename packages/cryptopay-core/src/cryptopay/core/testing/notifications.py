"""An in-memory ``Notifier``: keeps what it was asked to send, for tests.

>>> from cryptopay.core.ports.notifications import Notification
>>> outbox = InMemoryNotifier()
>>> outbox.send(Notification("ann@example.co.ke", "Hello", "body"))
>>> [n.subject for n in outbox.sent_to("ann@example.co.ke")]
['Hello']
"""

from __future__ import annotations

import threading

from cryptopay.core.ports.notifications import Notification

__all__ = ["InMemoryNotifier"]


class InMemoryNotifier:
    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> None:
        with self._lock:
            self.sent.append(notification)

    def sent_to(self, address: str) -> list[Notification]:
        """What was sent to ``address``, oldest first."""
        return [n for n in self.sent if n.to == address]
