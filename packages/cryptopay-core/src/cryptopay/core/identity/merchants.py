"""Merchant profiles: one per merchant user, with a validated settlement profile.

>>> from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
>>> profile = SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712 345 678")
>>> check_settlement(profile).destination
'254712345678'
"""

from __future__ import annotations

import re
from datetime import timedelta

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import Conflict, InvalidInput
from cryptopay.core.identity.model import Forbidden, Merchant, MerchantChanged, Role, User, check_merchant_open
from cryptopay.core.identity.old_destination import notify_old_destination
from cryptopay.core.mobile_money.phones import try_normalize_msisdn
from cryptopay.core.money import KES
from cryptopay.core.ports.identity import AuditTrail, MerchantRepository, UserRepository
from cryptopay.core.ports.notifications import Notification, Notifier
from cryptopay.core.ports.sms import SmsSender
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.settlement.banks import BANK_FORM, bank_catalogue
from cryptopay.core.settlement.model import (
    DEFAULT_MINIMUM_PAYOUT,
    SettlementMethod,
    SettlementProfile,
    SettlementSchedule,
)
from cryptopay.core.text import TextKind, checked_text
from cryptopay.core.wallets.usernames import business_name_impersonates

__all__ = ["Merchants", "changes_destination", "check_settlement", "masked_destination"]

_SHORTCODE = re.compile(r"^\d{5,7}$", re.ASCII)
_PAYBILL = re.compile(r"^(\d{5,7})#([A-Za-z0-9 -]{1,20})$", re.ASCII)
_BANK = re.compile(r"^[A-Za-z0-9]{2,11}:\d{6,20}$", re.ASCII)


def check_settlement(profile: SettlementProfile) -> SettlementProfile:
    """The profile with its destination normalised; ``InvalidInput`` naming the field if it does not fit the method."""
    raw = profile.destination.strip()
    destination = raw if profile.method is SettlementMethod.MPESA_PAYBILL else raw.replace(" ", "")
    if profile.method is SettlementMethod.MPESA_B2C:
        phone = try_normalize_msisdn(destination)
        if phone is None:
            raise InvalidInput("a Kenyan mobile number such as 0712345678 is required", field="settlement.destination")
        destination = phone
    elif profile.method is SettlementMethod.MPESA_TILL and not _SHORTCODE.match(destination):
        raise InvalidInput("a till number of 5 to 7 digits is required", field="settlement.destination")
    elif profile.method is SettlementMethod.MPESA_PAYBILL and not _PAYBILL.match(destination):
        raise InvalidInput(
            "a paybill destination is NUMBER#ACCOUNT, such as 888880#SHOP-1", field="settlement.destination"
        )
    elif profile.method is SettlementMethod.BANK:
        if not _BANK.match(destination):
            raise InvalidInput(BANK_FORM, field="settlement.destination")
        route = bank_catalogue().route(destination)  # a bank of the catalogue, an account in its format
        destination = f"{route.bank.code}:{route.account}"
    if profile.minimum is not None and (profile.minimum.asset != KES or profile.minimum.is_negative()):
        raise InvalidInput("the settlement minimum is a non-negative KES amount", field="settlement.minimum")
    if (
        profile.schedule is SettlementSchedule.INSTANT
        and profile.minimum is not None
        and profile.minimum < DEFAULT_MINIMUM_PAYOUT
    ):
        raise InvalidInput(
            f"an instant settlement's minimum is at least {DEFAULT_MINIMUM_PAYOUT} (each payout is one M-Pesa "
            "transfer the platform pays for); choose a higher minimum or a daily or weekly settlement",
            field="settlement.minimum",
        )
    return attrs.evolve(profile, destination=destination)


def changes_destination(before: SettlementProfile, after: SettlementProfile) -> bool:
    """True if money would go somewhere else: another method or another destination (after normalising)."""
    checked = check_settlement(after)
    return (checked.method, checked.destination) != (before.method, before.destination)


def masked_destination(profile: SettlementProfile) -> str:
    """The method and the last three characters of a payout destination, for records and emails."""
    return f"{profile.method.value} ending {profile.destination[-3:]}"


@attrs.define
class Merchants:
    """Create and edit merchant profiles; a new payout destination cools off before money goes there.

    A destination change (which the shells allow only after a step-up) is audited and announced to the owner's
    email through the notifier, naming the old and new destinations (masked) and when the new one takes effect;
    an old payout phone is also told by SMS (``identity.old_destination``; ``sms`` None: the skip is audited).
    """

    merchants: MerchantRepository
    clock: Clock
    ids: IdGenerator
    users: UserRepository
    audit: AuditTrail
    notifier: Notifier
    cool_off: timedelta = timedelta(hours=24)
    sms: SmsSender | None = None

    def create(
        self, owner: User, *, business_name: str, settlement: SettlementProfile, actor: str | None = None
    ) -> Merchant:
        """A merchant profile for a merchant user; ``Conflict`` if the user already has one.

        Audited ``merchant.created`` by ``actor``: the owner (``user:<id>``) signing up, or an operator creating it
        for them (``ops:<login>``, the owner then a detail: reviewer10 R10-3)."""
        if owner.role is not Role.MERCHANT:
            raise Forbidden("only users with the merchant role can create a merchant profile")
        if self.merchants.by_owner(owner.id) is not None:
            raise Conflict("this user already has a merchant profile")
        now = self.clock.now()
        merchant = Merchant(
            self.ids.new_id("mer"), owner.id, _name(business_name), check_settlement(settlement), now, now
        )
        self.merchants.add(merchant)
        destination = masked_destination(merchant.settlement)
        if actor is None or actor == f"user:{owner.id}":
            self._record(f"user:{owner.id}", "merchant.created", merchant, destination=destination)
        else:
            self._record(actor, "merchant.created", merchant, destination=destination, owner=f"user:{owner.id}")
        return merchant

    def update(
        self,
        merchant: Merchant,
        *,
        business_name: str | None = None,
        settlement: SettlementProfile | None = None,
        actor: str,
    ) -> Merchant:
        """Change the name and/or settlement profile; a new destination cools off for ``cool_off``.

        Written only over the merchant as it was read (``MerchantRepository.update``): if another write came first
        it is ``MerchantClosed`` (403) when that write closed it, else ``MerchantChanged`` (409, try again), and
        nothing is written; an owner's rename in flight never reopens a merchant an operator closed (review11
        R11-3)."""
        check_merchant_open(merchant)
        before = merchant.settlement
        if business_name is not None:
            merchant.business_name = _name(business_name)
        moved = settlement is not None and changes_destination(before, settlement)
        if settlement is not None:
            merchant.settlement = check_settlement(settlement)
        merchant.updated_at = now = self.clock.now()
        if moved:
            merchant.destination_ready_at = now + self.cool_off
        try:
            self.merchants.update(merchant)
        except MerchantChanged:
            check_merchant_open(self.merchants.get(merchant.id))
            raise
        if moved:
            self._destination_changed(merchant, before, actor)
        return merchant

    def _destination_changed(self, merchant: Merchant, before: SettlementProfile, actor: str) -> None:
        ready = merchant.destination_ready_at.isoformat() if merchant.destination_ready_at else "now"
        old, new = masked_destination(before), masked_destination(merchant.settlement)
        self._record(actor, "merchant.destination_changed", merchant, old=old, new=new, ready_at=ready)
        notify_old_destination(self.sms, self.audit, self.clock, merchant, before)
        owner = self.users.get(merchant.owner_user_id)
        if owner is not None and owner.email is not None:
            body = (
                f"The payout destination of {merchant.business_name} changed from {old} to {new}.\n"
                f"Payouts go to the new destination from {ready}; until then they wait.\n"
                "If you did not make this change, contact support at once and change your password."
            )
            self.notifier.send(Notification(owner.email, "Your payout destination changed", body))

    def _record(self, actor: str, action: str, merchant: Merchant, **details: str) -> None:
        self.audit.append(AuditEvent(actor, action, f"merchant:{merchant.id}", self.clock.now(), details))


def _name(business_name: str) -> str:
    name = business_name.strip()
    if not 2 <= len(name) <= 120:
        raise InvalidInput("business_name must be 2 to 120 characters", field="business_name")
    checked = checked_text(name, field="business_name", kind=TextKind.NAME)
    why = business_name_impersonates(checked)
    if why is not None:  # review5 S5: the checkout says "Pay <name>"
        raise ReservedBusinessName(
            f"business_name reads as the platform's, M-Pesa's, a biller's or another reserved brand ({why}): "
            "use the business's own name",
            field="business_name",
        )
    return checked


class ReservedBusinessName(InvalidInput):
    """A business name that reads as a reserved brand or mixes scripts in a word (review5 S5)."""

    code = "reserved_business_name"
