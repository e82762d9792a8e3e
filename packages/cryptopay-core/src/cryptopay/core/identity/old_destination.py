"""The old payout phone is told by SMS when a merchant's payout destination changes (#12 finding 4).

Whoever took over the login may hold the owner's mailbox too; the old M-Pesa number is the one channel they are
least likely to control. The text names the new destination masked, when money starts going there,
and what to do if the change was not the owner's. Sending is best effort (the change is already stored and cools
off), and its outcome, sent with the provider's message id, skipped (no phone, no SMS provider) or failed, is one
audit record ``merchant.old_destination_notified``.

>>> from datetime import datetime, timezone
>>> from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
>>> new = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "254799999999")
>>> text = notice_text(new, datetime(2026, 12, 6, 9, 30, tzinfo=timezone.utc))
>>> import textwrap
>>> print(textwrap.fill(text, 100))
cryptopay: your payouts move from this number to the M-Pesa number ending 999 on 06 Dec 12:30 EAT.
Not you? Change your password and call support now.
>>> len(text) <= 160
True
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
from cryptopay.core.system import NAIROBI

__all__ = ["ACTION", "notice_text", "notify_old_destination"]

ACTION = "merchant.old_destination_notified"
_ACTOR = "system:sms"
_KINDS = {
    SettlementMethod.MPESA_B2C: "the M-Pesa number",
    SettlementMethod.MPESA_TILL: "the till",
    SettlementMethod.MPESA_PAYBILL: "the paybill",
    SettlementMethod.BANK: "the bank account",
}


def notice_text(new: SettlementProfile, ready_at: datetime | None) -> str:
    """The SMS to the old number (one 160-character part): the new destination masked, from when, and what to do.

    It carries nothing the account holder typed (not even the business name): whoever changed the destination could
    have chosen that text, and this message must not become their channel to the real owner.
    """
    when = ready_at.astimezone(NAIROBI).strftime("%d %b %H:%M EAT") if ready_at else "now"  # the reader's clock
    return (
        f"cryptopay: your payouts move from this number to {_KINDS[new.method]} ending {new.destination[-3:]} "
        f"on {when}. Not you? Change your password and call support now."
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
        text = notice_text(merchant.settlement, merchant.destination_ready_at)
        details = {**_send(sms, SmsMessage(before.destination, text)), "to": mask_msisdn(before.destination)}
    audit.append(AuditEvent(_ACTOR, ACTION, f"merchant:{merchant.id}", clock.now(), details))


def _send(sms: SmsSender, message: SmsMessage) -> dict[str, str]:
    try:
        return {"outcome": "sent", "message_id": sms.send(message)}
    except CryptopayError as error:  # undeliverable or provider down: the change stands, the failure is on record
        return {"outcome": "failed", "reason": error.message[:200]}
