"""Notifiers: SMTP email for production, a JSON-lines file for development (``cryptopay.core.ports.notifications``).

Neither logs a message's body: it may carry a one-time secret (a password-reset link).
"""

from cryptopay.adapters.notify.file import FileNotifier
from cryptopay.adapters.notify.smtp import SmtpNotifier, SmtpSettings

__all__ = ["FileNotifier", "SmtpNotifier", "SmtpSettings"]
