"""The SMS port: send one text message to one Kenyan mobile number and get the provider's message id back.

Adapters: Africa's Talking over HTTP for production and a private JSON-lines file for development, in
``cryptopay.adapters.sms``; the in-memory fake in ``cryptopay.core.testing.sms``. A message's text may carry a
one-time code: adapters never log it, and errors name the number only masked.

Errors: ``InvalidPhoneNumber`` (an ``InvalidInput``) when building an ``SmsMessage`` for text that is not a Kenyan
mobile number; ``SmsUndeliverable`` (a ``Refused``) when the provider refuses the recipient; ``Unavailable`` when the
provider cannot be reached or fails (credentials, balance, its own errors). A send is never retried by the adapter:
a timed-out request may still have been delivered.

>>> SmsMessage.to_phone("0712 345 678", "hello").to
'254712345678'
"""

from __future__ import annotations

from typing import Protocol

import attrs
from cryptopay.core.mobile_money.phones import normalize_msisdn

__all__ = ["SmsMessage", "SmsSender"]


@attrs.frozen
class SmsMessage:
    """One text to one Kenyan mobile number in the ``2547…``/``2541…`` wire form."""

    to: str = attrs.field(converter=normalize_msisdn)
    text: str = attrs.field(repr=False)

    @classmethod
    def to_phone(cls, phone: str, text: str) -> SmsMessage:
        """A message to ``phone`` as people type it (``0712…``, ``+254712…``); ``InvalidPhoneNumber`` otherwise."""
        return cls(phone, text)


class SmsSender(Protocol):
    def send(self, message: SmsMessage) -> str:
        """Hand the message to the provider and return its message id (``SmsUndeliverable``, ``Unavailable``)."""
        ...
