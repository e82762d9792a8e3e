"""The old payout phone is told by SMS when a merchant's payout destination changes (#12 finding 4).

Whoever took over an account and moved the payouts would also receive the owner's email; the old M-Pesa number is
the one channel they do not control. The text names the new destination masked, when money starts going there,
and what to do if the change was not the owner's. Sending is best effort (the change is already stored and cools
off), and its outcome, sent with the provider's message id, skipped (no phone, no SMS provider) or failed, is one
audit record ``merchant.old_destination_notified``.

>>> from datetime import datetime, timezone
>>> from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
>>> new = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254799999999")
>>> text = notice_text("Duka", new, datetime(2026, 12, 6, 9, 30, tzinfo=timezone.utc))
>>> "From 2026-12-06 09:30 UTC they go to the M-Pesa number ending 999" in text, len(text) <= 2 * 160
(True, True)
"""

from __future__ import annotations

from datetime import datetime

from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import CryptopayError
from cryptopay.core.identity.model import Merchant
from cryptopay.core.mobile_money.phones import mask_msisdn
from cryptopay.core.ports.identity import AuditTrail
from cryptopay.core.ports.sms import SmsMessage, SmsSender
from cryptopay.core.ports.system import Clock
from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile

__all__ = ["ACTION", "notice_text", "notify_old_destination"]

ACTION = "merchant.old_destination_notified"
_ACTOR = "system:sms"
_KINDS = {
    SettlementMethod.MPESA_B2C: "the M-Pesa number",
    SettlementMethod.MPESA_TILL: "the till",
    SettlementMethod.MPESA_PAYBILL: "the paybill",
    SettlementMethod.BANK: "the bank account",
}


def notice_text(business_name: str, new: SettlementProfile, ready_at: datetime | None) -> str:
    """The SMS to the old number: the new destination masked, from when, and what to do if it was not the owner."""
    when = ready_at.strftime("%Y-%m-%d %H:%M UTC") if ready_at else "now"
    return (
        f"cryptopay: payouts of {business_name} will no longer come to this number. "
        f"From {when} they go to {_KINDS[new.method]} ending {new.destination[-3:]}. "
        "Not you? Log in, change your password and call support before then."
    )


def notify_old_destination(
    sms: SmsSender | None, audit: AuditTrail, clock: Clock, merchant: Merchant, before: SettlementProfile
) -> None:
    """Text ``before``'s phone (if it was one) about the change of ``merchant``'s destination; audit the outcome."""
    details: dict[str, str]
    if before.method is not SettlementMethod.MPESA_B2C:
        details = {"outcome": "skipped", "reason": "the old destination is not a phone"}
    elif sms is None:
        details = {
            "outcome": "skipped",
            "reason": "no SMS provider is configured",
            "to": mask_msisdn(before.destination),
        }
    else:
        text = notice_text(merchant.business_name, merchant.settlement, merchant.destination_ready_at)
        details = {**_send(sms, SmsMessage(before.destination, text)), "to": mask_msisdn(before.destination)}
    audit.append(AuditEvent(_ACTOR, ACTION, f"merchant:{merchant.id}", clock.now(), details))


def _send(sms: SmsSender, message: SmsMessage) -> dict[str, str]:
    try:
        return {"outcome": "sent", "message_id": sms.send(message)}
    except CryptopayError as error:  # undeliverable or provider down: the change stands, the failure is on record
        return {"outcome": "failed", "reason": error.message[:200]}
