"""The merchant fee: the percent of each payment the platform keeps, set by an admin (reviewer9 R9-9).

A fee change is its own action, not part of the store's settings: it changes what every later payment pays the
merchant, so it asks a step-up (API ``PUT /v1/merchants/{id}/store/merchant-fee``, the console's form, the CLI at
onboarding), changes only the fee (a new version effective from the moment it is set, for every asset the store
accepts or was charged in; earlier versions stay, so past payments keep theirs), is audited
``store.merchant_fee`` with the fee before and after, and the merchant's owner is told its new fee and from when.

>>> from datetime import datetime, timezone
>>> print(fee_notice(Decimal("2.5"), Decimal("1"), datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)).body)
The platform fee on your cryptopay payments changed from 1 % to 2.5 %, from 07 Dec 2026 12:30 EAT.
Payments received before then keep the fee they were charged.
If you did not expect this change, contact support.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from cryptopay.core.errors import InvalidInput, NotFound
from cryptopay.core.ports.notifications import Notification
from cryptopay.core.system import NAIROBI

if TYPE_CHECKING:
    from cryptopay.core.payments.model import StoreSettings
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory

__all__ = ["ACTION", "check_fee_percent", "fee_notice", "set_merchant_fee"]

ACTION = "store.merchant_fee"


def check_fee_percent(percent: Decimal, field: str = "percent") -> Decimal:
    """A merchant fee is a percent from 0 to 100 (422 ``invalid_input`` otherwise)."""
    if not percent.is_finite() or not Decimal(0) <= percent <= Decimal(100):
        raise InvalidInput("must be a percent from 0 to 100", field=field)
    return percent


def _text(percent: Decimal | None) -> str:
    return "none" if percent is None else f"{percent.normalize():f} %"


def fee_notice(percent: Decimal, before: Decimal | None, at: datetime, to: str = "") -> Notification:
    """The email telling the merchant's owner its new fee and from when (the reader's clock, EAT)."""
    when = at.astimezone(NAIROBI).strftime("%d %b %Y %H:%M EAT")
    body = (
        f"The platform fee on your cryptopay payments changed from {_text(before)} to {_text(percent)}, "
        f"from {when}.\nPayments received before then keep the fee they were charged.\n"
        "If you did not expect this change, contact support."
    )
    return Notification(to, "Your cryptopay fee changed", body)


def set_merchant_fee(
    uow: PaymentsUowFactory, merchant_id: str, percent: Decimal, *, actor: str, now: datetime
) -> tuple[StoreSettings, Decimal | None]:
    """Set the store's merchant fee from ``now`` (a new version for each asset), with an audit record; returns the
    store and the fee in force before."""
    from cryptopay.core.payments._support import audit, transaction

    check_fee_percent(percent)

    def change(unit: PaymentsUnitOfWork) -> tuple[StoreSettings, Decimal | None]:
        store = unit.stores.get(merchant_id, lock=True)  # the whole document is put back
        if store is None:
            raise NotFound(f"merchant {merchant_id} has no store settings")
        current = store.current_merchant_fee(now)
        before = current.percent if current is not None else None
        changed = store.with_merchant_fee({r.asset for r in store.rails}, now, percent)
        unit.stores.put(changed)
        added = [s.id for s in changed.fees if s not in store.fees]
        audit(
            unit,
            actor,
            ACTION,
            f"merchant:{merchant_id}",
            now,
            percent=percent,
            before=before if before is not None else "none",
            fee_versions_added=",".join(added) or "none",
        )
        return changed, before

    return transaction(uow, change)
