"""An in-memory ``SmsSender``: keeps what it was asked to send; a number can be scripted to be refused.

>>> from cryptopay.core.ports.sms import SmsMessage
>>> sms = InMemorySms()
>>> sms.send(SmsMessage.to_phone("0712345678", "hello"))
'mem-1'
>>> [m.text for m in sms.sent_to("254712345678")]
['hello']
"""

from __future__ import annotations

import threading

from cryptopay.core.errors import SmsUndeliverable, Unavailable
from cryptopay.core.mobile_money.phones import mask_msisdn, normalize_msisdn
from cryptopay.core.ports.sms import SmsMessage

__all__ = ["InMemorySms"]


class InMemorySms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, SmsMessage]] = []
        self._refused: set[str] = set()
        self._down = False
        self._lock = threading.Lock()

    def send(self, message: SmsMessage) -> str:
        with self._lock:
            if self._down:
                raise Unavailable("the SMS provider is unavailable")
            if message.to in self._refused:
                raise SmsUndeliverable(f"the SMS provider refused {mask_msisdn(message.to)} (UserInBlacklist)")
            message_id = f"mem-{len(self.sent) + 1}"
            self.sent.append((message_id, message))
            return message_id

    def sent_to(self, phone: str) -> list[SmsMessage]:
        """What was sent to ``phone``, oldest first."""
        number = normalize_msisdn(phone)
        return [message for _, message in self.sent if message.to == number]

    def refuse(self, phone: str) -> None:
        """From now on the provider refuses ``phone`` (like a blacklisted number)."""
        self._refused.add(normalize_msisdn(phone))

    def go_down(self, down: bool = True) -> None:
        """The provider fails every send (``Unavailable``) until called with ``False``."""
        self._down = down
