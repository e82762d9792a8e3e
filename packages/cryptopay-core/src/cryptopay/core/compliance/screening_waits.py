"""What waits for a sanctions list (R12-3): with screening required and no list loaded, money that is screened does
not leave unscreened. ``ScreeningWaits.count`` reads, by kind, how much waits now: ``withdrawal`` and ``refund``
(requested and ``held``), ``remittance`` (paid and converted, not paid out: ``screening_pending`` while
``paying_out``) and ``kyc_application`` (accepted, its names screened against nothing yet). The gauge
``cryptopay_screening_waiting`` (``cryptopay.core.observing``) exports it; docs/operations.md "Sanctions lists
missing or old" is the runbook. Each kind reads at most ``limit`` rows (a backlog larger than that reads as
``limit``: the alert fired long before).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import attrs
from cryptopay.core.kyc.applications import ApplicationState
from cryptopay.core.payments.model import RefundState
from cryptopay.core.ports.kyc import KycUnitOfWork
from cryptopay.core.ports.payments import PaymentsUowFactory
from cryptopay.core.ports.remittances import RemittanceReadUowFactory
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.withdrawals import WithdrawalUowFactory
from cryptopay.core.remittances.model import RemittanceState
from cryptopay.core.wallets.withdrawal_model import WithdrawalState

__all__ = ["ScreeningWaits"]

_SCREENED_APPLICATIONS = (
    ApplicationState.SUBMITTED,
    ApplicationState.IN_REVIEW,
    ApplicationState.INFORMATION_REQUESTED,
    ApplicationState.APPROVED,
)


@attrs.define(kw_only=True)
class ScreeningWaits:
    """Counts what waits on screening, by kind (each optional: a deployment without the product reads none)."""

    withdrawals: WithdrawalUowFactory | None = None
    refunds: PaymentsUowFactory | None = None
    remittances: RemittanceReadUowFactory | None = None
    applications: Callable[[], AbstractContextManager[KycUnitOfWork]] | None = None
    limit: int = 10_000

    def count(self) -> dict[str, int]:
        found: dict[str, int] = {}
        if self.withdrawals is not None:
            requested = in_transaction(
                self.withdrawals, lambda uow: uow.withdrawals.list(state=WithdrawalState.REQUESTED, limit=self.limit)
            )
            found["withdrawal"] = sum(1 for w in requested if w.held is not None)
        if self.refunds is not None:
            with self.refunds() as payments:
                asked = payments.refunds.by_state(RefundState.REQUESTED, limit=self.limit)
            found["refund"] = sum(1 for r in asked if r.held is not None)
        if self.remittances is not None:
            with self.remittances() as orders:
                paying = orders.remittances.list(state=RemittanceState.PAYING_OUT, before=None, limit=self.limit)
            found["remittance"] = sum(1 for o in paying if o.screening_pending)
        if self.applications is not None:
            with self.applications() as kyc:
                pending = kyc.kyc_applications.queue(_SCREENED_APPLICATIONS, after=None, limit=self.limit)
            found["kyc_application"] = sum(1 for a in pending if a.screening_pending)
        return found
