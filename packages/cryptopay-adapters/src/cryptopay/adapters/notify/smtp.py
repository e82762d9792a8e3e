"""Email over SMTP (STARTTLS when asked), one connection per message: notifications are rare.

Settings come from ``CRYPTOPAY_SMTP_HOST``, ``_PORT`` (587), ``_USERNAME``, ``_PASSWORD``, ``_FROM`` and
``_STARTTLS`` (1). A failure is ``Unavailable`` naming the server, never the message or the password. The subject
is one line whatever it quotes (a stored name with U+2028 in it): the message is built before anything is sent,
and a header Python refuses even so is ``InvalidInput``, never a bare ``ValueError``.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage

import attrs
from cryptopay.adapters._env import Variables
from cryptopay.core.errors import InvalidInput, Unavailable
from cryptopay.core.ports.notifications import Notification

__all__ = ["SmtpNotifier", "SmtpSettings"]


@attrs.frozen
class SmtpSettings:
    host: str
    sender: str
    port: int = 587
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    starttls: bool = True
    timeout: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpSettings:
        host, sender = env.get("CRYPTOPAY_SMTP_HOST", ""), env.get("CRYPTOPAY_SMTP_FROM", "")
        if not host or not sender:
            raise InvalidInput("CRYPTOPAY_SMTP_HOST and CRYPTOPAY_SMTP_FROM are required for email notifications")
        read = Variables(env)
        return cls(
            host=host,
            sender=sender,
            port=read.integer("SMTP_PORT", 587, minimum=1, maximum=65535),
            username=env.get("CRYPTOPAY_SMTP_USERNAME") or None,
            password=env.get("CRYPTOPAY_SMTP_PASSWORD") or None,
            starttls=read.flag("SMTP_STARTTLS", default=True),
        )


class SmtpNotifier:
    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    def send(self, notification: Notification) -> None:
        s = self._settings
        try:  # the subject is one line (``Notification``); a header Python still refuses is no crash of the caller
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = s.sender, notification.to, notification.subject
            message.set_content(notification.body)
        except (ValueError, TypeError) as error:
            raise InvalidInput(f"the message cannot be sent as email ({type(error).__name__})") from None
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username and s.password:
                    smtp.login(s.username, s.password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise Unavailable(
                f"the mail server {s.host}:{s.port} refused the message ({type(error).__name__})"
            ) from None
