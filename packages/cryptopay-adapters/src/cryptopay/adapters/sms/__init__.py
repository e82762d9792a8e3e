"""SMS senders (``cryptopay.core.ports.sms``): Africa's Talking over HTTP for production, a JSON-lines file for
development. Neither logs a message's text: it may carry a one-time code."""

from cryptopay.adapters.sms.africastalking import AfricasTalkingSms
from cryptopay.adapters.sms.file import FileSms
from cryptopay.adapters.sms.settings import SmsSettings

__all__ = ["AfricasTalkingSms", "FileSms", "SmsSettings"]
