"""Payout charges: whether a merchant's settlements pass M-Pesa's charge for each payout on to the merchant.

A store's payout charge is a versioned ``FeeSchedule`` (product ``mpesa_payout``) in its ``fees``, in force from the
moment it is set; earlier versions stay for the record. Two choices can be set by an admin (API, CLI, console):

- ``none``: the platform bears M-Pesa's charge (a zero schedule);
- ``mpesa_b2c``: M-Pesa's B2C tariff (``B2C_TARIFF``, the one table of its bands) passed on band by band: each part
  of a settlement is charged what M-Pesa charges for sending that part, taken on top of it from the merchant's
  shillings (``settlement.plan_payouts``), shown in a dry run before a settlement is made and on the settlement and
  each payout, and booked as ``revenue:payout_fee:KES`` when the payout is paid (``flows.complete_payout``).

A schedule set through the SDK otherwise (a fixed or percent charge) is neither (``charging_of`` is None: shown as
``custom``); a store with no schedule bears none. Outside review R13.

>>> from datetime import datetime, timezone
>>> from cryptopay.core.money import Money
>>> at = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> schedule = charge_schedule(PayoutCharging.MPESA_B2C, version=2, effective_from=at)
>>> charging_of(schedule), str(schedule.quote(Money.of(3000, KES)).fee)
(<PayoutCharging.MPESA_B2C: 'mpesa_b2c'>, '9.00 KES')
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from cryptopay.core.errors import NotFound
from cryptopay.core.fees import FeeProduct, FeeSchedule
from cryptopay.core.mobile_money.limits import B2C_TARIFF
from cryptopay.core.money import KES

if TYPE_CHECKING:
    from cryptopay.core.payments.model import StoreSettings
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory

__all__ = ["PayoutCharging", "charge_schedule", "charging_of", "charging_text", "set_payout_charges"]


class PayoutCharging(enum.Enum):
    """Who bears M-Pesa's charge for a merchant's payouts."""

    NONE = "none"  # the platform
    MPESA_B2C = "mpesa_b2c"  # the merchant: M-Pesa's B2C tariff, band by band


def charge_schedule(charging: PayoutCharging, *, version: int, effective_from: datetime) -> FeeSchedule:
    """The payout charge schedule for ``charging``."""
    if charging is PayoutCharging.MPESA_B2C:
        return B2C_TARIFF.fee_schedule(version=version, effective_from=effective_from)
    return FeeSchedule(product=FeeProduct.MPESA_PAYOUT, asset=KES, version=version, effective_from=effective_from)


def charging_of(schedule: FeeSchedule | None) -> PayoutCharging | None:
    """What ``schedule`` (a store's payout charge in force, or None) does; None for a custom schedule."""
    if schedule is None:
        return PayoutCharging.NONE
    nothing = schedule.minimum is None and (schedule.fixed is None or schedule.fixed.is_zero())
    if nothing and not schedule.percent and not schedule.tiers:
        return PayoutCharging.NONE
    return PayoutCharging.MPESA_B2C if B2C_TARIFF.passed_on_by(schedule) else None


def charging_text(schedule: FeeSchedule | None) -> str:
    """``none``, ``mpesa_b2c`` or ``custom``: how a payout charge reads to staff and merchants.

    >>> from datetime import datetime, timezone
    >>> from cryptopay.core.money import Money
    >>> flat = FeeSchedule(product=FeeProduct.MPESA_PAYOUT, asset=KES, version=1, fixed=Money.of(15, KES),
    ...                    effective_from=datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> charging_text(flat), charging_text(None)
    ('custom', 'none')
    """
    charging = charging_of(schedule)
    return charging.value if charging is not None else "custom"


def set_payout_charges(
    uow: PaymentsUowFactory, merchant_id: str, charging: PayoutCharging, *, actor: str, now: datetime
) -> StoreSettings:
    """Set a store's payout charge from ``now`` (a new schedule version), with an audit record."""
    from cryptopay.core.payments._support import audit, transaction

    def change(unit: PaymentsUnitOfWork) -> StoreSettings:
        store = unit.stores.get(merchant_id, lock=True)  # the whole document is put back
        if store is None:
            raise NotFound(f"merchant {merchant_id} has no store settings")
        before = charging_text(store.payout_charges(now))
        changed = store.with_payout_charges(charging, now)
        unit.stores.put(changed)
        schedule = changed.payout_charges(now)
        audit(
            unit,
            actor,
            "store.payout_charges",
            f"merchant:{merchant_id}",
            now,
            charging=charging.value,
            before=before,
            schedule=schedule.id if schedule else "none",
        )
        return changed

    return transaction(uow, change)
