"""A data subject's export (Kenya's Data Protection Act, 2019, s.26: the right of access): all and only their data.

The export is one JSON document: the profile, the KYC profile and applications (documents as metadata, never their
content), the wallet, its movements (from the ledger), transfers, purchases, payouts, sessions, and the audit
records about the person or by them. Secrets are never in it (password and token hashes, TOTP secrets, callback
tokens). Every export is audited (``privacy.exported``: who asked, for whom), whether the person asked for their own
data or an officer asked for theirs.

Nothing of another person is added: records are read by the subject's id only (a transfer the person sent names
the phone they sent to, as they typed it; a transfer they received names the sender's user id, never their phone).
The other accounts an officer saw sharing the subject's ID document (``OTHER_PARTIES``: an application's
``id_shared_with`` and ``id_linked``, and the same accounts in the ``kyc.*`` audit records' details) are other
people's: they are left out.

>>> sorted(SECRET_FIELDS)[:3]
['answer_keys', 'callbacks', 'code_hash']
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import cattrs
from cryptopay.core.audit import AuditEvent, AuditRecord
from cryptopay.core.errors import CryptopayError, NotFound
from cryptopay.core.identity.model import User
from cryptopay.core.ledger import Ledger
from cryptopay.core.mobile_money.phones import mask_msisdn, try_normalize_msisdn
from cryptopay.core.money import Asset, Money
from cryptopay.core.ports.notifications import Notification, Notifier
from cryptopay.core.ports.privacy import PrivacyUnitOfWork, PrivacyUowFactory
from cryptopay.core.ports.sms import SmsMessage, SmsSender
from cryptopay.core.ports.system import Clock
from cryptopay.core.wallets.history import history

__all__ = [
    "EXPORT_FORMAT",
    "NOTICE_ACTION",
    "OTHER_PARTIES",
    "SECRET_FIELDS",
    "SubjectExports",
    "export_notice",
    "subject_export",
]

EXPORT_FORMAT = "cryptopay.subject-export/1"
SECRET_FIELDS = frozenset(
    {
        "password_hash",
        "totp_secret",
        "recovery_code_hashes",
        "token_hash",
        "token_digest",
        "code_hash",
        "callbacks",
        "answer_keys",
    }
)
# Fields of a KYC application, and details of its audit records, that name other accounts (one ID document, which
# accounts: review G5; a KYB's other merchants and its directors' other businesses)
OTHER_PARTIES = frozenset({"id_shared_with", "id_linked", "directors_elsewhere", "accounts", "directors"})
_PAGE = 500

_json = cattrs.Converter()
_json.register_unstructure_hook(Decimal, str)
_json.register_unstructure_hook(datetime, datetime.isoformat)
_json.register_unstructure_hook(date, date.isoformat)
_json.register_unstructure_hook(timedelta, lambda value: value.total_seconds())
_json.register_unstructure_hook(Asset, lambda asset: asset.code)
_json.register_unstructure_hook(Money, lambda money: {"amount": str(money.amount), "asset": money.asset.code})


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    return _json.unstructure(value)


def _clean(value: Any) -> Any:
    """``value`` as JSON-ready data without any secret field."""
    data = _plain(value)
    return _drop_secrets(data)


def _without_others(application: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in application.items() if k not in OTHER_PARTIES}


def _audit_without_others(record: AuditRecord) -> AuditRecord:
    if not record.action.startswith("kyc."):
        return record
    return attrs.evolve(record, details=tuple((k, v) for k, v in record.details if k not in OTHER_PARTIES))


def _drop_secrets(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _drop_secrets(v) for k, v in data.items() if k not in SECRET_FIELDS}
    if isinstance(data, list | tuple):
        return [_drop_secrets(v) for v in data]
    if isinstance(data, set | frozenset):
        return sorted(_drop_secrets(v) for v in data)
    return data


def _profile(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "phone": user.phone,
        "display_name": user.display_name,
        "role": user.role.value,
        "created_at": user.created_at.isoformat(),
        "two_factor": user.two_factor,
    }


def _paged(read: Callable[[str | None], list[Any]], key: Callable[[Any], str]) -> list[Any]:
    found: list[Any] = []
    after: str | None = None
    while True:
        page = read(after)
        found += page
        if len(page) < _PAGE:
            return found
        after = key(page[-1])


def subject_export(uow: PrivacyUnitOfWork, ledger: Ledger, user: User, *, at: datetime) -> dict[str, Any]:
    """Everything stored about ``user``, read in one transaction (see the module docstring)."""
    uid = user.id
    transfers = _paged(lambda after: uow.wallet_transfers.for_user(uid, after=after, limit=_PAGE), lambda t: t.id)
    buys = _paged(lambda after: uow.wallet_buys.for_user(uid, after=after, limit=_PAGE), lambda b: b.id)
    payouts = _paged(lambda before: uow.payouts.list_for_merchant(uid, before=before, limit=_PAGE), lambda p: p.id)
    wallet = uow.wallets.get(uid)
    profile = uow.kyc.find([uid]).get(uid)
    subjects = [f"user:{uid}", f"kyc:{uid}", f"wallet:{uid}"]
    subjects += [f"transfer:{t.id}" for t in transfers] + [f"buy:{b.id}" for b in buys]
    subjects += [f"payout:{p.id}" for p in payouts]
    audit = uow.audit.about(subjects, actor=f"user:{uid}")
    movements = history(ledger, uid, limit=100_000, window=100_000) if wallet is not None else []
    return {
        "format": EXPORT_FORMAT,
        "subject": uid,
        "exported_at": at.isoformat(),
        "profile": _profile(user),
        "kyc": {
            "profile": _clean(profile) if profile is not None else None,
            "applications": [_without_others(_clean(a)) for a in uow.kyc_applications.for_party(uid)],
        },
        "wallet": _clean(wallet) if wallet is not None else None,
        "movements": [_clean(line) for line in movements],
        "transfers": [_clean(t) for t in transfers],
        "buys": [_clean(b) for b in buys],
        "payouts": [_clean(p) for p in payouts],
        "sessions": [_clean(t) for t in uow.refresh_tokens.for_user(uid)],
        "audit": [_clean(_audit_without_others(r)) for r in audit],
    }


NOTICE_ACTION = "privacy.export_notified"


def export_notice(at: datetime) -> tuple[str, str]:
    """The subject and text telling a person their data was exported (the text fits one SMS part).

    It carries nothing anyone typed, only when and what to do if it was not them (review H17: a stolen session).

    >>> from datetime import timezone
    >>> subject, text = export_notice(datetime(2026, 12, 6, 9, 30, tzinfo=timezone.utc))
    >>> subject, len(text) <= 160
    ('A copy of your cryptopay data was downloaded', True)
    >>> print(text.split(". ")[0])
    cryptopay: a copy of all your account data was downloaded on 06 Dec 09:30 UTC
    """
    when = at.strftime("%d %b %H:%M UTC")
    return (
        "A copy of your cryptopay data was downloaded",
        f"cryptopay: a copy of all your account data was downloaded on {when}. Not you? Change your password and "
        "call support now.",
    )


@attrs.frozen
class SubjectExports:
    """Exports a data subject's records, audited; ``find`` resolves an officer's lookup (id, email or phone).

    A person's own export (``export_own``) also tells them out of band (``notifier``: their email; ``sms``: the
    phone of a wallet without one; None: no SMS here, the skip is audited)."""

    uow: PrivacyUowFactory
    ledger: Ledger
    clock: Clock
    notifier: Notifier
    sms: SmsSender | None = None

    def find(self, who: str, *, actor: str) -> User:
        """The user with this id, email or phone (the lookup itself is audited: staff reading personal data)."""
        phone = try_normalize_msisdn(who)
        with self.uow() as uow:
            by_phone = uow.users.by_phone(phone) if phone is not None else None
            user = by_phone or uow.users.get(who) or uow.users.by_email(who)
            if user is None:
                raise NotFound("no such data subject (give a user id, an email or a phone number)")
            uow.audit.append(AuditEvent(actor, "privacy.subject_looked_up", f"user:{user.id}", self.clock.now()))
            return user

    def export(self, subject_id: str, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        """The subject's export; audited as ``privacy.exported`` by ``actor`` (the person, or an officer)."""
        now = self.clock.now()
        with self.uow() as uow:
            user = uow.users.get(subject_id)
            if user is None:
                raise NotFound(f"no data subject {subject_id}")
            exported = subject_export(uow, self.ledger, user, at=now)
            details = {"reason": reason} if reason else {}
            uow.audit.append(AuditEvent(actor, "privacy.exported", f"user:{user.id}", now, tuple(details.items())))
        return exported

    def export_own(self, user_id: str) -> dict[str, Any]:
        """The person's own export (asked with a fresh step-up), and a notice to them that it was made: an email,
        or an SMS to a wallet without one. Sending is best effort after the export is recorded; its outcome (sent,
        failed, skipped) is the audit record ``privacy.export_notified``."""
        exported = self.export(user_id, actor=f"user:{user_id}")
        with self.uow() as uow:
            user = uow.users.get(user_id)
        if user is not None:
            details = self._notify(user)
            with self.uow() as uow:
                notice = AuditEvent("system:notify", NOTICE_ACTION, f"user:{user_id}", self.clock.now(), details)
                uow.audit.append(notice)
        return exported

    def _notify(self, user: User) -> dict[str, str]:
        subject, text = export_notice(self.clock.now())
        if user.email:
            email = Notification(user.email, subject, text)
            return {"channel": "email", **_sent(lambda: self.notifier.send(email))}
        if not user.phone:
            return {"outcome": "skipped", "reason": "no email and no phone"}
        facts = {"channel": "sms", "to": mask_msisdn(user.phone)}
        if self.sms is None:
            return {**facts, "outcome": "skipped", "reason": "no SMS provider is configured"}
        sms, phone = self.sms, user.phone
        return {**facts, **_sent(lambda: sms.send(SmsMessage(phone, text)))}


def _sent(send: Callable[[], object]) -> dict[str, str]:
    try:
        message_id = send()
    except CryptopayError as error:  # undeliverable or the provider is down: the export stands, the failure is kept
        return {"outcome": "failed", "reason": error.message[:200]}
    return {"outcome": "sent", **({"message_id": message_id} if isinstance(message_id, str) else {})}
