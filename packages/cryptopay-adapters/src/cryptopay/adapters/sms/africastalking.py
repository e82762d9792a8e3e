"""Africa's Talking's SMS API over httpx: ``POST {base}/version1/messaging``, form-encoded, one recipient per call.

The request carries ``username``, ``to`` (``+2547…``), ``message`` and, when configured, ``from`` (the sender id),
with the API key in the ``apiKey`` header. The JSON answer lists ``SMSMessageData.Recipients[]``, each with
``statusCode``, ``status``, ``messageId``, ``number`` and ``cost``. Status 100 (Processed), 101 (Sent) and 102
(Queued) mean the provider took the message; the recipient-specific refusals (403 InvalidPhoneNumber,
404 UnsupportedNumberType, 406 UserInBlacklist, 407 CouldNotRoute, 409 DoNotDisturbRejection) are
``SmsUndeliverable``; everything else (401 RiskHold, 402 InvalidSenderId, 405 InsufficientBalance, 5xx, bad
credentials, an unreachable host, an answer we cannot read) is ``Unavailable``. Never retried here: a request that
timed out may have been sent. Errors name the number masked, never the text or the key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cryptopay.adapters.sms.settings import SmsSettings
from cryptopay.core.errors import SmsUndeliverable, Unavailable
from cryptopay.core.mobile_money.phones import mask_msisdn
from cryptopay.core.ports.sms import SmsMessage

if TYPE_CHECKING:  # httpx is imported where a request is made: every process that loads the settings imports this
    import httpx

__all__ = ["ACCEPTED", "UNDELIVERABLE", "AfricasTalkingSms"]

ACCEPTED = frozenset({100, 101, 102})
UNDELIVERABLE = frozenset({403, 404, 406, 407, 409})
PATH = "/version1/messaging"


class AfricasTalkingSms:
    def __init__(self, settings: SmsSettings, client: httpx.Client | None = None) -> None:
        import httpx

        self._settings = settings
        self._client = client or httpx.Client(timeout=settings.timeout_seconds)

    def send(self, message: SmsMessage) -> str:
        recipient = _recipient(self._post(message), message)
        code = recipient.get("statusCode")
        status = str(recipient.get("status", "unknown"))[:40]
        if code in ACCEPTED and isinstance(recipient.get("messageId"), str):
            return str(recipient["messageId"])
        if code in UNDELIVERABLE:
            raise SmsUndeliverable(f"Africa's Talking refused {mask_msisdn(message.to)} ({code} {status})")
        raise Unavailable(f"Africa's Talking did not send to {mask_msisdn(message.to)} ({code} {status})")

    def close(self) -> None:
        self._client.close()

    def _post(self, message: SmsMessage) -> Any:
        s = self._settings
        form = {"username": s.username, "to": "+" + message.to, "message": message.text}
        if s.sender_id:
            form["from"] = s.sender_id
        headers = {"apiKey": s.api_key, "Accept": "application/json"}
        import httpx

        try:
            response = self._client.post(s.base_url + PATH, data=form, headers=headers)
        except httpx.HTTPError as error:
            raise Unavailable(f"Africa's Talking could not be reached ({type(error).__name__})") from None
        if response.status_code in (401, 403):
            raise Unavailable(f"Africa's Talking refused our credentials (HTTP {response.status_code})")
        if not response.is_success:
            raise Unavailable(f"Africa's Talking answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise Unavailable("Africa's Talking answered something that is not JSON") from None


def _recipient(answer: Any, message: SmsMessage) -> dict[str, Any]:
    """The answer's one recipient entry; ``Unavailable`` when there is none (the batch itself was refused)."""
    data = answer.get("SMSMessageData") if isinstance(answer, dict) else None
    recipients = data.get("Recipients") if isinstance(data, dict) else None
    if not isinstance(recipients, list) or len(recipients) != 1 or not isinstance(recipients[0], dict):
        said = str(data.get("Message", ""))[:60] if isinstance(data, dict) else ""
        raise Unavailable(f"Africa's Talking sent nothing to {mask_msisdn(message.to)} ({said or 'no recipients'})")
    found: dict[str, Any] = recipients[0]
    return found
