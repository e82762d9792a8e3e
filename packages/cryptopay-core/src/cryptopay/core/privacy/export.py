"""A data subject's export (Kenya's Data Protection Act, 2019, s.26: the right of access): all and only their data.

The export is one JSON document: the profile, the KYC profile and applications (documents as metadata, never their
content), the wallet, its movements (from the ledger), transfers, purchases, crypto deposits and withdrawals,
payouts, sessions, and the audit
records about the person or by them. Secrets are never in it (password and token hashes, TOTP secrets, callback
tokens). Every export is audited (``privacy.exported``: who asked, for whom), whether the person asked for their own
data or an officer asked for theirs.

Nothing of another person is added: records are read by the subject's id only (a transfer the person sent names
the phone it went to as they typed it, or masked when it went straight to a wallet, which may have been by username,
whose phone is never the sender's to learn; a transfer they received names the sender's user id, never their phone;
a send the recipient's limits refused never says whose limit or which, ``WITHHELD_DETAILS``).
The other accounts an officer saw sharing the subject's ID document (``OTHER_PARTIES``: an application's
``id_shared_with`` and ``id_linked``, and the same accounts in the ``kyc.*`` audit records' details) are other
people's: they are left out. So are, in the KYB of a merchant the person owns (its owner sees the business's
application as its director or owner), the other directors (``_as_director``: their particulars and their documents).
Audit records are classified by the person's part in them (``AUDIT_DISCLOSURE``): one about the person (its subject is
theirs: their account, KYC, wallet, transfers, buys, payouts, their merchant's KYB) is shown whole, bar what
compliance withholds; one where the person is only the actor (a staff member viewing someone's KYC application or
looking a subject up) keeps what they did and when, without its target and details (which name the other person).
Staff are named by role, never by id (``STAFF_LABELS``, ``_staff_by_role``): the person learns that a compliance
officer approved or froze them, or that an operator looked them up, not which one; the audit log keeps the ids.

Compliance's own work about the person is withheld (``DISCLOSURE``, ``WITHHELD_ACTIONS``, ``WITHHELD_DETAILS``):
what sanctions screening found, why an officer linked accounts or froze one, alerts, cases and reports. Telling a
subject about these can be tipping-off (POCAMLA s.8), and the Data Protection Act, 2019 (s.51) lets access be
restricted where it would prejudice the prevention or detection of crime. ``DISCLOSURE`` classifies every field of
every record in the export (subject, other parties, withheld, secret): a field it does not name is left out, and a
test fails until it is classified. Every export carries the same ``restrictions`` notice, whether or not anything
was withheld (a notice only when something was would itself tip the person off).

>>> sorted(SECRET_FIELDS)[:3]
['answer_keys', 'callbacks', 'code_hash']
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import cattrs
from cryptopay.core.audit import AuditEvent, AuditRecord, action_in
from cryptopay.core.errors import CryptopayError, NotFound
from cryptopay.core.identity.model import RefreshToken, Role, User
from cryptopay.core.kyc.applications import KycApplication
from cryptopay.core.kyc.profile import KycProfile
from cryptopay.core.ledger import Ledger
from cryptopay.core.mobile_money.phones import mask_msisdn, try_normalize_msisdn
from cryptopay.core.money import Asset, Money
from cryptopay.core.payouts.model import Payout
from cryptopay.core.ports.notifications import Notification, Notifier
from cryptopay.core.ports.privacy import PrivacyUnitOfWork, PrivacyUowFactory
from cryptopay.core.ports.sms import SmsMessage, SmsSender
from cryptopay.core.ports.storage import about_all
from cryptopay.core.ports.system import Clock
from cryptopay.core.system import NAIROBI
from cryptopay.core.wallets.buys import Buy
from cryptopay.core.wallets.deposit import Deposit
from cryptopay.core.wallets.history import HistoryLine, history
from cryptopay.core.wallets.model import Transfer, TransferState, Wallet
from cryptopay.core.wallets.withdrawal_model import Withdrawal, WithdrawalState

__all__ = [
    "AUDIT_DISCLOSURE",
    "DISCLOSURE",
    "EXPORT_FORMAT",
    "NOTICE_ACTION",
    "OTHER_PARTIES",
    "PARTY_KINDS",
    "RESTRICTIONS",
    "SECRET_FIELDS",
    "STAFF_LABELS",
    "WITHHELD_ACTIONS",
    "WITHHELD_DETAILS",
    "Disclosure",
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


class Disclosure(enum.Enum):
    """What a field of an exported record is to its data subject."""

    SUBJECT = "subject"  # the person's own data: in the export
    OTHER_PARTY = "other_party"  # names other people (``OTHER_PARTIES``): left out
    WITHHELD = "withheld"  # compliance's own work (tipping-off, DPA s.51): left out, ``RESTRICTIONS`` says so
    SECRET = "secret"  # a hash, a secret or a token (``SECRET_FIELDS``): left out


def _classified(subject: str, *, others: str = "", withheld: str = "", secret: str = "") -> dict[str, Disclosure]:
    kinds = ((subject, Disclosure.SUBJECT), (others, Disclosure.OTHER_PARTY), (withheld, Disclosure.WITHHELD))
    return {name: kind for names, kind in (*kinds, (secret, Disclosure.SECRET)) for name in names.split()}


# Every field of every record type in the export, classified; the export keeps the SUBJECT fields only, so a field
# added to one of these records stays out of the export until it is classified here (a test checks that every field
# is). Compliance-internal (WITHHELD): what screening found (``sanctions_matches``), why an officer linked accounts
# sharing an ID (``id_link_reason``) or froze the party (``freeze_reason``, a wallet's ``frozen_reason``): the API
# hides each of these from the person too. A compliance freeze (the KYC profile's ``frozen_at``/``frozen_by``) is
# not told to the party at all (its ``GET /v1/wallet`` keeps ``frozen: false``; its movements are refused as
# "unavailable", never as frozen: review7 F8); an operator's wallet freeze (``Wallet.frozen_at``) is shown to it.
DISCLOSURE: dict[type, dict[str, Disclosure]] = {
    KycApplication: _classified(
        "id party_id kind level created_at submitted_by notify_to person business documents state claimed_by "
        "approvals reason submitted_at decided_at history verified_directors",
        others="id_shared_with id_linked directors_elsewhere",
        withheld="sanctions_matches id_link_reason screening_pending",
    ),
    KycProfile: _classified(
        "party_id kind status level requested_level evidence approvals reason expires_at",
        withheld="freeze_reason frozen_at frozen_by",
    ),
    Wallet: _classified("user_id phone created_at username frozen_at", withheld="frozen_reason"),
    HistoryLine: _classified("entry_id at amount balance_after kind description transfer_id wording receipt"),
    # ``held_at``, ``proposal``, ``decided_at``: held for a frozen recipient, an officer's proposed decision on it and
    # when officers decided (compliance's: the state and the times are exported as its parties see them)
    Transfer: _classified(
        "id sender_id recipient_phone amount fee state created_at recipient_id note claim_expires_at finished_at",
        withheld="held_at proposal decided_at kept",
    ),
    Buy: _classified(
        "id user_id phone kes usdt quote_id ask mid state created_at next_query_at checkout_request_id "
        "merchant_request_id result_code reason receipt finished_at queries answers token_used_at",
        secret="token_digest",
    ),
    Payout: _classified(
        "id settlement_id merchant_id originator_id method destination amount charge hold_id created_at attempt "
        "retry_of state submitted_at check_at conversation_id queries receipt result_code result_desc note "
        "unknown_since overdue_since finished_at retried_by b2b exported_at held held_since biller_token kind "
        "receiver_name",
        secret="callbacks",
        # staff's proposed conclusion of an unknown payout (who proposed, their note and evidence), and admins'
        # corrections of its receipt (who, why): operators' own (the receipt itself is exported)
        withheld="conclusion correction corrections",
    ),
    RefreshToken: _classified("id family_id user_id created_at expires_at rotated_at revoked_at", secret="token_hash"),
    # A deposit's ``hold_detail`` names the list entry a sanctioned sender matched (the API shows ``hold_reason``,
    # never the detail), and its ``alerts`` and officers' release ``proposal`` are compliance's (review8 R7); a
    # withdrawal's ``failure`` is the operators' own account (``Withdrawal.outward_failure``) and ``travel_rule_id``
    # compliance's record.
    Deposit: _classified(
        "id user_id network address tx_hash index amount requirement seen_at state from_address block_number "
        "block_hash confirmations generation watching hold_reason entries clawback_pending credited_at withdrawn_at "
        "withdrawn_why conversion",
        withheld="hold_detail alerts proposal",
    ),
    Withdrawal: _classified(
        "id user_id network address amount fee kes_value hold_id created_at send_after first_time_address "
        "token_contract network_fee_estimate network_fee_cap state tx_hash network_fee failure_code updated_at held",
        withheld="failure travel_rule_id",
    ),
}
# An audit record the person is the target of (True: its subject is one of theirs) is theirs whole; one they are only
# the actor of (False) is what they did and when: its target, its details and its hashes (with the hashes a reader
# could confirm a guess at the target) are another person's.
AUDIT_DISCLOSURE: dict[bool, dict[str, Disclosure]] = {
    True: _classified("seq id at actor action subject details prev_hash hash"),
    False: _classified("seq id at actor action", others="subject details prev_hash hash"),
}
# Audit subjects naming a party (a person or a merchant): one not the person's own is another party's
PARTY_KINDS = frozenset({"user", "kyc", "wallet", "merchant"})
STAFF_ROLES = frozenset({Role.ADMIN, Role.COMPLIANCE})
# Staff are named by their role, never by id: which officer claimed, approved, froze or looked at the person, or which
# operator ran a command, is staff's (the audit log keeps it). A staff user's id (bare or ``user:<id>``) becomes its
# role's label, an operator at the shell (``ops:<login>``) ``OPERATOR_LABEL``; the person's own id stays.
STAFF_LABELS = {Role.ADMIN: "administrator", Role.COMPLIANCE: "compliance officer"}
OPERATOR_LABEL = "operator"
_OPERATORS = ("ops:", "operator:")
_USER_ID = re.compile(r"(?:user:)?(usr_[A-Za-z0-9]+)")
# Audit records about the person that are compliance's own work, withheld whole (an action equal to one of these,
# or starting with one ending in "." or "_", or ending with one starting with "."): screening hits, alerts, cases and
# reports, the Travel Rule's records, the officers' findings that accounts share an ID document or a director and their
# linking of them, a compliance freeze and everything it held (review7 F8, F9: a send held for a frozen recipient is
# audited on the transfer, which is its sender's too, so its records would tell the sender about the freeze and carry
# the officers' notes), and an officer's refusal to act on their own party.
WITHHELD_ACTIONS = (
    "compliance.",
    "sanctions.",
    "travel_rule.",
    "kyc.sanctions_match",
    "kyc.screened",  # how many list entries an application matched when screened after an import (lastread L3-2)
    "kyc.screening_pending",
    "kyc.id_shared",
    "kyc.director_shared",
    "kyc.id_linked",
    "kyc.approval_refused",  # refused only while accounts sharing the ID are not linked (``IdInUse``)
    "kyc.frozen",
    "kyc.unfrozen",
    "wallet.frozen_recipient",
    "wallet.held_send_",  # released, returned, and any decision step on a held send
    "wallet.claim_held",
    "remittance.frozen_recipient",
    "remittance.held",
    "remittance.rescreened",  # a sanctions match kept on an order under way (tipoff3)
    "remittance.screened",  # the alerts a screening after an import raised (lastread L3-2)
    "remittance.refused",
    "remittance.released",  # names the alerts and the cases that cleared them
    "remittance.refund_",  # an operator refused on a held order, the officers' four-eyes on its refund (review8 R8)
    ".own_party_refused",
)
# Details withheld from audit records otherwise shown: why an operator froze the wallet (a compliance freeze is
# withheld whole, above), which sanctions list entries a withdrawal's address matched (the person is told the address
# is listed, never which entry).
WITHHELD_DETAILS: dict[str, frozenset[str]] = {
    "wallet.frozen": frozenset({"reason"}),
    "wallet.withdrawal_blocked": frozenset({"lists"}),
    # the officers' record of whose receiving limit refused a send, and which: another person's KYC state (a
    # ``frozen`` limit is compliance's freeze of them); the sender is told only that the recipient cannot receive it
    "wallet.send_refused_recipient": frozenset({"recipient", "limit"}),
    # a deposit's hold detail (the list entry a sender matched) and an officer's note releasing it; a withdrawal's
    # failure as the operators record it, and an operator's reason for resolving it
    "wallet.deposit_held": frozenset({"reason"}),
    "wallet.deposit_released": frozenset({"note"}),
    **{f"wallet.withdrawal_{state.value}": frozenset({"failure"}) for state in WithdrawalState},
    "wallet.withdrawal_resolve": frozenset({"reason"}),
    "refund.blocked": frozenset({"lists", "alerts"}),  # which list entries, which alerts (lastread L3-4)
}
RESTRICTIONS = (
    "Records kept for the prevention and detection of crime (anti-money-laundering and sanctions compliance) are "
    "not part of this export (Data Protection Act, 2019, s.51). This notice is in every export, whether or not any "
    "such record exists."
)

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
    """``value`` as JSON-ready data: its ``SUBJECT`` fields only (``DISCLOSURE``), without any secret field."""
    data = _plain(value)
    classes = DISCLOSURE.get(type(value))
    if classes is not None and isinstance(data, dict):
        data = {k: v for k, v in data.items() if classes.get(k) is Disclosure.SUBJECT}
    return _drop_secrets(data)


def _withheld(action: str) -> bool:
    """Whether ``action``'s records are compliance's own (``WITHHELD_ACTIONS``).

    >>> [_withheld(a) for a in ("kyc.frozen", "wallet.held_send_released", "aml.own_party_refused", "wallet.frozen")]
    [True, True, True, False]
    >>> [_withheld(a) for a in ("remittance.refund_proposed", "remittance.refund_refused", "remittance.refunding")]
    [True, True, False]
    """
    return action_in(action, WITHHELD_ACTIONS)


def _audit_shown(record: AuditRecord) -> AuditRecord:
    """``record`` without the other parties' accounts (``kyc.*``) and the details compliance withholds."""
    hidden = WITHHELD_DETAILS.get(record.action, frozenset())
    if record.action.startswith("kyc."):
        hidden |= OTHER_PARTIES
    return attrs.evolve(record, details=tuple((k, v) for k, v in record.details if k not in hidden))


def _target(record: AuditRecord, own: frozenset[str], *, staff: bool) -> bool:
    """Whether the person is ``record``'s target: its subject is theirs (``own``), or a thing, not a party, that they
    acted on as a customer (the API lets a customer act on their own withdrawals, keys, invoices only; staff act on
    other people's)."""
    if record.subject in own:
        return True
    return not staff and record.subject.partition(":")[0] not in PARTY_KINDS


def _audit_entry(record: AuditRecord, own: frozenset[str], *, staff: bool) -> dict[str, Any]:
    """``record`` as exported: whole if the person is its target, else what they did (``AUDIT_DISCLOSURE``)."""
    target = _target(record, own, staff=staff)
    data = _plain(_audit_shown(record) if target else record)
    shown: dict[str, Any] = _drop_secrets(
        {k: v for k, v in data.items() if AUDIT_DISCLOSURE[target].get(k) is Disclosure.SUBJECT}
    )
    return shown


def _as_director(application: KycApplication, uid: str) -> KycApplication:
    """A KYB of the person's merchant as theirs to see: the business, and of its directors only the person's own
    entry (``Director.party_id``), its documents, check and review steps; the other directors are other people."""
    business = application.business
    if business is None:
        return application
    own = tuple(d for d in business.directors if d.party_id == uid)
    ids = {d.id for d in own}
    others = {d.id for d in business.directors} - ids  # a review step about one names them ("d2 <name>")
    return attrs.evolve(
        application,
        business=attrs.evolve(business, directors=own),
        history=tuple(s for s in application.history if (s.note or "").split(" ", 1)[0] not in others),
        documents=tuple(d for d in application.documents if d.director is None or d.director in ids),
        verified_directors=tuple(d for d in application.verified_directors if d in ids),
    )


def _drop_secrets(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _drop_secrets(v) for k, v in data.items() if k not in SECRET_FIELDS}
    if isinstance(data, list | tuple):
        return [_drop_secrets(v) for v in data]
    if isinstance(data, set | frozenset):
        return sorted(_drop_secrets(v) for v in data)
    return data


def _transfer(transfer: Transfer, uid: str) -> dict[str, Any]:
    """A transfer as exported. One the person sent straight to a wallet names its number masked, as the API shows
    it: it may have been sent to a username, and then the number is the recipient's, never told to the sender (the
    transfer does not keep which the sender typed). An invitation (a number with no wallet, claimed or not) was sent
    to the number the sender typed: whole; so is the person's own number on a transfer they received."""
    data: dict[str, Any] = _clean(transfer)
    if "state" in data:  # a send held for a frozen recipient reads as delivered (tipping-off)
        data["state"] = transfer.shown_state.value
    created_at, finished_at = transfer.shown_times(uid)  # and its times as an ordinary send's (tipoff3)
    data["created_at"] = created_at.isoformat()
    data["finished_at"] = finished_at.isoformat() if finished_at is not None else None
    if transfer.sender_id == uid and transfer.shown_state is TransferState.DELIVERED and "recipient_phone" in data:
        data["recipient_phone"] = mask_msisdn(transfer.recipient_phone)
    return data


def _deposit(deposit: Deposit) -> dict[str, Any]:
    """A deposit as exported: a hold for compliance or a sanctions list reads as its holder is shown it (``review``,
    review7 F8, P6)."""
    data: dict[str, Any] = _clean(deposit)
    if data.get("hold_reason") is not None and deposit.shown_hold_reason is not None:
        data["hold_reason"] = deposit.shown_hold_reason.value
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
        "disabled_at": user.disabled_at.isoformat() if user.disabled_at is not None else None,
    }


class _StaffLabels:
    """``label(value)``: ``value``, or its staff label when it names a staff member other than the person (looked up
    once per distinct id)."""

    def __init__(self, uow: PrivacyUnitOfWork, uid: str) -> None:
        self._uow, self._own = uow, {uid, f"user:{uid}"}
        self._found: dict[str, str | None] = {}

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or value in self._own:
            return value
        if value not in self._found:
            self._found[value] = self._label(value)
        return self._found[value] or value

    def _label(self, value: str) -> str | None:
        if value.startswith(_OPERATORS):
            return OPERATOR_LABEL
        named = _USER_ID.fullmatch(value)
        user = self._uow.users.get(named.group(1)) if named is not None else None
        return STAFF_LABELS.get(user.role) if user is not None else None


def _staff_by_role(uow: PrivacyUnitOfWork, exported: dict[str, Any], uid: str) -> dict[str, Any]:
    """``exported`` with every staff member named by role (``STAFF_LABELS``) where they were named by id: the
    applications' and the KYC profile's officers (``claimed_by``, ``approvals``, ``frozen_by``, the review history's
    actors) and the audit records' actors and details. An audit record that changed loses its hashes, which no
    longer verify and would let a reader confirm a guess at whom (an operator's login is easy to guess)."""
    label = _StaffLabels(uow, uid)
    kyc = exported["kyc"]
    for record in [*kyc["applications"], *([kyc["profile"]] if kyc["profile"] is not None else [])]:
        for field in ("claimed_by", "frozen_by"):
            if field in record:
                record[field] = label(record[field])
        if "approvals" in record:
            record["approvals"] = [label(officer) for officer in record["approvals"]]
        for step in record.get("history", ()):
            step["actor"] = label(step["actor"])
    for entry in exported["audit"]:
        actor = label(entry["actor"])
        details = [[key, label(value)] for key, value in entry.get("details", ())]
        if actor != entry["actor"] or details != entry.get("details", []):
            entry["actor"] = actor
            if "details" in entry:
                entry["details"] = details
            entry.pop("hash", None)
            entry.pop("prev_hash", None)
    return exported


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
    transfers = [t for t in transfers if t.shown_to(uid)]  # a send held for the person: nothing reached them
    buys = _paged(lambda after: uow.wallet_buys.for_user(uid, after=after, limit=_PAGE), lambda b: b.id)
    payouts = _paged(lambda before: uow.payouts.list_for_merchant(uid, before=before, limit=_PAGE), lambda p: p.id)
    deposits = _paged(lambda before: uow.wallet_deposits.for_user(uid, before=before, limit=_PAGE), lambda d: d.id)
    withdrawals = _paged(lambda after: uow.withdrawals.for_user(uid, after=after, limit=_PAGE), lambda w: w.id)
    wallet = uow.wallets.get(uid)
    profile = uow.kyc.find([uid]).get(uid)
    merchant = uow.merchants.by_owner(uid)
    businesses = [] if merchant is None else uow.kyc_applications.for_party(merchant.id)
    subjects = [f"user:{uid}", f"kyc:{uid}", f"wallet:{uid}"] + ([f"kyc:{merchant.id}"] if merchant else [])
    subjects += [f"transfer:{t.id}" for t in transfers] + [f"buy:{b.id}" for b in buys]
    subjects += [f"payout:{p.id}" for p in payouts]
    subjects += [f"deposit:{d.id}" for d in deposits] + [f"withdrawal:{w.id}" for w in withdrawals]
    audit = about_all(uow.audit, subjects, actor=f"user:{uid}")
    own = frozenset([*subjects, *([f"merchant:{merchant.id}"] if merchant else [])])
    movements = history(ledger, uid, limit=None) if wallet is not None else []
    exported = {
        "format": EXPORT_FORMAT,
        "subject": uid,
        "exported_at": at.isoformat(),
        "restrictions": RESTRICTIONS,
        "profile": _profile(user),
        "kyc": {
            "profile": _clean(profile) if profile is not None else None,
            "applications": [_clean(a) for a in uow.kyc_applications.for_party(uid)]
            + [_clean(_as_director(a, uid)) for a in businesses],
        },
        "wallet": _clean(wallet) if wallet is not None else None,
        "movements": [_clean(line) for line in movements],
        "transfers": [_transfer(t, uid) for t in transfers],
        "buys": [_clean(b) for b in buys],
        "deposits": [_deposit(d) for d in deposits],
        "withdrawals": [_clean(w) for w in withdrawals],
        "payouts": [_clean(p) for p in payouts],
        "sessions": [_clean(t) for t in uow.refresh_tokens.for_user(uid)],
        "audit": [_audit_entry(r, own, staff=user.role in STAFF_ROLES) for r in audit if not _withheld(r.action)],
    }
    return _staff_by_role(uow, exported, uid)


NOTICE_ACTION = "privacy.export_notified"


def export_notice(at: datetime) -> tuple[str, str]:
    """The subject and text telling a person their data was exported (the text fits one SMS part).

    It carries nothing anyone typed, only when and what to do if it was not them (review H17: a stolen session).

    >>> from datetime import timezone
    >>> subject, text = export_notice(datetime(2026, 12, 6, 9, 30, tzinfo=timezone.utc))
    >>> subject, len(text) <= 160
    ('A copy of your cryptopay data was downloaded', True)
    >>> print(text.split(". ")[0])
    cryptopay: a copy of all your account data was downloaded on 06 Dec 12:30 EAT
    """
    when = at.astimezone(NAIROBI).strftime("%d %b %H:%M EAT")  # the reader's clock (Nairobi), as every page
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
