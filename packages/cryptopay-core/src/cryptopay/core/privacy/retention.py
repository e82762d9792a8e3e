"""Retention of a person's records as data: how long each kind is kept after the relationship ends, then what is done.

The rules are a versioned JSON document (``data/retention.json``), validated on load. The default keeps KYC,
financial and profile records 7 years (2,557 days) after the relationship ends, the minimum the Proceeds of Crime
and Anti-Money Laundering Act (s.46) asks; the Data Protection Act, 2019 (s.39) asks for no longer than needed.
**The period needs confirmation by counsel** before production.

When the relationship ends: a personal wallet's relationship ends at its last sign of life (the newest of: the
account's creation, the last ledger movement of the wallet, the last KYC application step, the last login), and only
while the wallet holds nothing and is not frozen (money held or an investigation means the relationship goes on).

What is done when a rule is due (``RetentionPurge.run``, the worker's ``privacy.retention`` job, daily):

- ``profile``/anonymise: email, phone and display name removed, the password made unusable (the account disabled:
  ``User.disabled_at``);
- ``kyc``/anonymise: the applications' personal details and e-mail removed, their documents detached (the document
  sweep deletes the blobs);
- ``financial``/anonymise: the wallet's phone and username, the phones of transfers sent and purchases made replaced;
  amounts, dates and ledger entries stay (they name only the user id);
- ``sessions``/revoke: every login revoked.

Merchants (``kyb`` and ``merchant_people``): a merchant's relationship ends when an operator closes it
(``Merchant.closed_at``, ``close_merchant``), and only while its balances hold nothing (money still owed to it means
the relationship goes on); a ledger movement of its balances (a late payment, its settlement) or a KYB application
step after the closing moves the end (records are kept 7 years from the last transaction). When due:

- ``merchant_people``/anonymise: the owner's and team members' profiles (as ``profile``; a person who also has a
  personal wallet keeps theirs, which their wallet's own relationship governs), their logins revoked, the team's
  invitation emails and the merchant's settlement destination (a phone, a bank account) removed;
- ``kyb``/anonymise: the merchant's KYB applications' particulars (business, directors, e-mail) removed and their
  documents detached.

The merchant's financial records (invoices, credits, settlements, payouts, ledger entries) are kept: they name the
merchant by id; payout destinations stay sealed with them (they are the records of where money went).

Each anonymisation is audited (``privacy.anonymised``, with the rule set's version). The hash-chained audit log is
append-only and is not rewritten: its records name people by id only.

>>> policy = RetentionPolicy.default()
>>> policy.version, sorted(r.records for r in policy.rules)
(2, ['financial', 'kyb', 'kyc', 'merchant_people', 'profile', 'sessions'])
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import InvalidInput, NotFound, RowChanged
from cryptopay.core.flows import WALLET_ASSETS, merchant_liability, wallet_account
from cryptopay.core.identity.model import Merchant, MerchantChanged, User
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import ASSETS
from cryptopay.core.ports.privacy import PrivacyUnitOfWork, PrivacyUowFactory
from cryptopay.core.ports.storage import retrying
from cryptopay.core.ports.system import Clock
from cryptopay.core.wallets.history import history
from cryptopay.core.wallets.model import Wallet

__all__ = ["ERASED", "RetentionPolicy", "RetentionPurge", "RetentionRule", "close_merchant"]

ERASED = "erased"
_ACTIONS = {
    "kyc": "anonymise",
    "financial": "anonymise",
    "profile": "anonymise",
    "sessions": "revoke",
    "merchant_people": "anonymise",
    "kyb": "anonymise",
}
_PERSONAL_KINDS = ("financial", "kyc", "profile", "sessions")  # a personal wallet's records
_MERCHANT_KINDS = ("kyb", "merchant_people")  # a merchant's


@attrs.frozen
class RetentionRule:
    """Keep ``records`` for ``keep_days`` after the relationship ends, then ``then``."""

    records: str
    keep_days: int
    then: str

    def __attrs_post_init__(self) -> None:
        if self.records not in _ACTIONS:
            raise InvalidInput(f"retention rules cover {', '.join(sorted(_ACTIONS))}, not {self.records!r}")
        if self.then != _ACTIONS[self.records]:
            raise InvalidInput(f"{self.records} records are {_ACTIONS[self.records]}d, not {self.then!r}")
        if not 365 <= self.keep_days <= 36_500:
            raise InvalidInput(f"{self.records} records are kept 365 to 36,500 days, not {self.keep_days}")

    def due(self, ended: datetime, now: datetime) -> bool:
        return now >= ended + timedelta(days=self.keep_days)


@attrs.frozen
class RetentionPolicy:
    """A versioned set of retention rules, one per kind of record."""

    version: int
    rules: tuple[RetentionRule, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RetentionPolicy:
        """The policy a JSON document describes; ``InvalidInput`` naming what is wrong."""
        try:
            rules = tuple(RetentionRule(r["records"], int(r["keep_days"]), r["then"]) for r in data["rules"])
            version = int(data["version"])
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInput(
                f"a retention rule set needs a version and rules (records, keep_days, then): {error}"
            ) from None
        if sorted(r.records for r in rules) != sorted(_ACTIONS):
            raise InvalidInput(f"a retention rule set has one rule for each of {', '.join(sorted(_ACTIONS))}")
        return cls(version, rules)

    @classmethod
    def default(cls) -> RetentionPolicy:
        text = resources.files("cryptopay.core.privacy").joinpath("data/retention.json").read_text()
        return cls.from_json(json.loads(text))

    def due(self, ended: datetime, now: datetime, kinds: tuple[str, ...] = _PERSONAL_KINDS) -> list[RetentionRule]:
        """The rules among ``kinds`` (a personal wallet's by default) due now for a relationship that ended then."""
        return [rule for rule in self.rules if rule.records in kinds and rule.due(ended, now)]


@attrs.frozen
class RetentionPurge:
    """Applies the retention rules to personal wallets whose relationship ended long enough ago."""

    uow: PrivacyUowFactory
    ledger: Ledger
    clock: Clock
    policy: RetentionPolicy = attrs.field(factory=RetentionPolicy.default)

    def run(self, *, limit: int = 500) -> list[str]:
        """Apply every rule now due; the user ids and merchant ids anonymised (each audited)."""
        now, done, after = self.clock.now(), [], None
        while True:
            with self.uow() as uow:
                page = uow.wallets.list(after=after, limit=limit)
            for wallet in page:
                if self._apply(wallet.user_id, now):
                    done.append(wallet.user_id)
            if len(page) < limit:
                break
            after = page[-1].user_id
        after = None
        while True:
            with self.uow() as uow:
                merchants = uow.merchants.list(after=after, limit=limit)
            done += [m.id for m in merchants if m.closed_at is not None and self._apply_merchant(m.id, now)]
            if len(merchants) < limit:
                return done
            after = merchants[-1].id

    def close_merchant(self, merchant_id: str, *, actor: str, reason: str) -> Merchant:
        """Close a merchant now (``close_merchant``): its retention period starts."""
        return close_merchant(self.uow, merchant_id, actor=actor, at=self.clock.now(), reason=reason)

    def merchant_relationship_end(self, uow: PrivacyUnitOfWork, merchant: Merchant) -> datetime | None:
        """When a merchant's relationship ended: its closing, or a later ledger movement of its balances (a late
        payment credited, its settlement) or KYB step; None while it is open, while its balances hold anything, or
        once it is anonymised."""
        if merchant.closed_at is None or merchant.settlement.destination == ERASED:
            return None
        codes = [merchant_liability(merchant.id, asset) for asset in ASSETS.values()]
        balances = self.ledger.balances(codes)
        if any(b.debits_posted != b.credits_posted or b.credits_pending or b.debits_pending for b in balances.values()):
            return None
        moments = [merchant.closed_at]
        moments += [entry.created_at for code in codes for entry in self.ledger.entries(account=code, limit=1)]
        for application in uow.kyc_applications.for_party(merchant.id):
            moments += [application.created_at, *(step.at for step in application.history)]
        return max(moments)

    def _apply_merchant(self, merchant_id: str, now: datetime) -> bool:
        """Anonymise what is due, over the merchant as read in this unit of work: if another write to the merchant
        or one of its people lands first (``…Changed``: nothing was written), read it
        again and decide again (review11 R11-3)."""
        return retrying(lambda: self._apply_merchant_once(merchant_id, now), on=(RowChanged,))

    def _apply_merchant_once(self, merchant_id: str, now: datetime) -> bool:
        with self.uow() as uow:
            merchant = uow.merchants.get(merchant_id)
            ended = None if merchant is None else self.merchant_relationship_end(uow, merchant)
            if merchant is None or ended is None:
                return False
            due = self.policy.due(ended, now, _MERCHANT_KINDS)
            for rule in due:
                _MERCHANT_ACTIONS[rule.records](uow, merchant, now)
            if due:
                kinds = ",".join(sorted(r.records for r in due))
                details = (("rules", kinds), ("version", str(self.policy.version)), ("ended", ended.isoformat()))
                uow.audit.append(
                    AuditEvent("system:retention", "privacy.anonymised", f"merchant:{merchant_id}", now, details)
                )
            return bool(due)

    def relationship_end(self, uow: PrivacyUnitOfWork, user: User, wallet: Wallet) -> datetime | None:
        """When the relationship ended, or None while it goes on (money held, frozen, or already anonymised)."""
        if wallet.frozen or wallet.phone.startswith(f"{ERASED}:"):
            return None
        balances = self.ledger.balances([wallet_account(user.id, asset) for asset in WALLET_ASSETS])
        if any(b.debits_posted != b.credits_posted or b.credits_pending or b.debits_pending for b in balances.values()):
            return None
        moments = [user.created_at, wallet.created_at]
        moments += [line.at for line in history(self.ledger, user.id, limit=1)]
        for application in uow.kyc_applications.for_party(user.id):
            moments += [application.created_at, *(step.at for step in application.history)]
        moments += [token.created_at for token in uow.refresh_tokens.for_user(user.id)]
        return max(moments)

    def _apply(self, user_id: str, now: datetime) -> bool:
        with self.uow() as uow:
            user, wallet = uow.users.get(user_id), uow.wallets.get(user_id, lock=True)
            if user is None or wallet is None:
                return False
            ended = self.relationship_end(uow, user, wallet)
            if ended is None:
                return False
            due = self.policy.due(ended, now)
            for rule in due:
                _ACTIONS_BY_KIND[rule.records](uow, user, wallet, now)
            if due:
                kinds = ",".join(sorted(r.records for r in due))
                details = (("rules", kinds), ("version", str(self.policy.version)), ("ended", ended.isoformat()))
                event = AuditEvent("system:retention", "privacy.anonymised", f"user:{user_id}", now, details)
                uow.audit.append(event)
            return bool(due)


def _profile(uow: PrivacyUnitOfWork, user: User, wallet: Wallet | None, now: datetime) -> None:
    user.email = user.phone = user.display_name = None
    user.password_hash = f"!{ERASED}"  # no password hashes to this: the account cannot log in
    user.disabled_at = user.disabled_at or now
    user.totp_secret, user.totp_confirmed_at, user.recovery_code_hashes = None, None, ()
    user.session_version += 1
    uow.users.update(user)


def _kyc(uow: PrivacyUnitOfWork, user: User, wallet: Wallet, now: datetime) -> None:
    _applications(uow, user.id)


def _applications(uow: PrivacyUnitOfWork, party_id: str) -> None:
    """A party's KYC/KYB applications without their particulars, e-mail or documents (their steps stay)."""
    for application in uow.kyc_applications.for_party(party_id):
        application.person = application.business = application.notify_to = None
        application.documents = ()  # the document sweep deletes the blobs no application names
        uow.kyc_applications.update(application)


def _financial(uow: PrivacyUnitOfWork, user: User, wallet: Wallet, now: datetime) -> None:
    wallet.phone, wallet.username = f"{ERASED}:{user.id}", None
    uow.wallets.update(wallet)
    after: str | None = None
    while page := uow.wallet_transfers.for_user(user.id, after=after, limit=500):
        for transfer in page:
            if transfer.sender_id == user.id and not transfer.recipient_phone.startswith(ERASED):
                transfer.recipient_phone = f"{ERASED}:{transfer.id}"
                uow.wallet_transfers.update(transfer)
        after = page[-1].id
    after = None
    while buys := uow.wallet_buys.for_user(user.id, after=after, limit=500):
        for buy in buys:
            buy.phone = ERASED
            uow.wallet_buys.update(buy)
        after = buys[-1].id


def _sessions(uow: PrivacyUnitOfWork, user: User, wallet: Wallet, now: datetime) -> None:
    uow.refresh_tokens.revoke_user(user.id, at=now)


_ACTIONS_BY_KIND = {"profile": _profile, "kyc": _kyc, "financial": _financial, "sessions": _sessions}


def _merchant_people(uow: PrivacyUnitOfWork, merchant: Merchant, now: datetime) -> None:
    people = {merchant.owner_user_id, *(m.user_id for m in uow.teams.members(merchant.id))}
    for user_id in sorted(people):
        user = uow.users.get(user_id)
        if user is None or uow.wallets.get(user_id) is not None:
            continue  # gone, or a personal wallet's holder too: that relationship is governed by the wallet's
        _profile(uow, user, None, now)
        uow.refresh_tokens.revoke_user(user_id, at=now)
    for invitation in uow.teams.invitations(merchant.id):
        invitation.email = f"{ERASED}:{invitation.id}"
        invitation.revoked_at = invitation.revoked_at or (None if invitation.accepted_at else now)
        uow.teams.update_invitation(invitation)
    merchant.settlement = attrs.evolve(merchant.settlement, destination=ERASED)
    uow.merchants.update(merchant)


def _kyb(uow: PrivacyUnitOfWork, merchant: Merchant, now: datetime) -> None:
    _applications(uow, merchant.id)


_MERCHANT_ACTIONS = {"merchant_people": _merchant_people, "kyb": _kyb}


def close_merchant(uow: PrivacyUowFactory, merchant_id: str, *, actor: str, at: datetime, reason: str) -> Merchant:
    """End a merchant's relationship (an operator's decision, audited ``merchant.closed`` with its reason): the
    retention period of its people's personal data and KYB particulars runs from now. Closing twice keeps the first
    date.

    >>> from datetime import UTC
    >>> from cryptopay.core.testing.storage import InMemoryStorage
    >>> close_merchant(InMemoryStorage().unit_of_work, "mer_1", actor="user:ops", at=datetime.now(UTC), reason=" ")
    Traceback (most recent call last):
    ...
    cryptopay.core.errors.InvalidInput: closing a merchant needs a reason for the record
    """
    if not reason.strip():
        raise InvalidInput("closing a merchant needs a reason for the record", field="reason")
    # An owner's rename (say) landing between the read and the write: read it again and decide again.
    return retrying(lambda: _close(uow, merchant_id, actor=actor, at=at, reason=reason), on=(MerchantChanged,))


def _close(uow: PrivacyUowFactory, merchant_id: str, *, actor: str, at: datetime, reason: str) -> Merchant:
    """``close_merchant`` over the merchant as read in one unit of work (``MerchantChanged``: nothing written)."""
    with uow() as work:
        merchant = work.merchants.get(merchant_id)
        if merchant is None:
            raise NotFound(f"no merchant {merchant_id!r}")
        if merchant.closed_at is None:
            merchant.closed_at = at
            work.merchants.update(merchant)
            details = (("reason", reason.strip()),)
            work.audit.append(AuditEvent(actor, "merchant.closed", f"merchant:{merchant_id}", at, details))
        return merchant
