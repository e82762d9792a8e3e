"""Correcting the M-Pesa receipt a concluded payout was booked with (two admins; the ledger untouched).

A payout concluded ``completed`` by two admins from M-Pesa's statement carries the receipt they typed; one mistyped
stays wrong (reconciliation then shows the statement's payment as none of ours and ours as not on it). One admin
proposes the right receipt with a reason (``propose``), a second approves the receipt they read (``approve``,
four-eyes as a conclusion's: ``Payouts.approve_receipt_correction``), either may decline it (``decline``). Only the
reference changes: no ledger entry, no hold, no balance moves (the money moved as booked); the old receipt is kept
in ``Payout.corrections`` and every step in the audit log. The new receipt must be M-Pesa's format
(``_conclusions.RECEIPT``, upper-cased as M-Pesa writes it) and booked on no other payout (``Conflict``: one payment
pays one payout, LASTREAD L-6). A receipt M-Pesa's own result gave is M-Pesa's word, not staff's: not corrected here.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import attrs
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, Refused
from cryptopay.core.payments._support import audit
from cryptopay.core.payouts._conclusions import RECEIPT, receipt_free
from cryptopay.core.payouts.model import Payout, ReceiptCorrection, mpesa_receipt

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork

__all__ = ["approve", "decline", "propose", "reason_of", "receipt_of"]


def receipt_of(text: str, field: str = "receipt") -> str:
    """M-Pesa's receipt as typed, upper-cased (``nlj7rt61sv`` is ``NLJ7RT61SV``); ``InvalidInput`` unless 6 to 20
    letters and digits."""
    receipt = mpesa_receipt(text)
    if not RECEIPT.fullmatch(receipt):
        raise InvalidInput("M-Pesa's receipt is 6 to 20 letters and digits (as NLJ7RT61SV)", field=field)
    return receipt


def reason_of(text: str, field: str = "reason") -> str:
    why = text.strip()
    if not why or len(why) > 500:
        raise InvalidInput(
            "say why the receipt is wrong and where the right one is read (1 to 500 characters)", field=field
        )
    return why


def propose(uow: PaymentsUnitOfWork, payout: Payout, correction: ReceiptCorrection) -> Payout:
    """Keep ``correction`` on ``payout`` for a second admin; audited ``payout.receipt_correction_proposed``."""
    if not payout.receipt_from_staff:
        raise Refused(
            f"payout {payout.id} is {payout.state.value} and was not concluded completed by two admins: only a "
            "receipt staff typed from M-Pesa's statement is corrected (M-Pesa's own result is M-Pesa's word)"
        )
    if payout.correction is not None:
        raise Conflict(f"payout {payout.id} has a receipt correction proposed already ({payout.correction.receipt})")
    if correction.receipt == payout.receipt:
        raise InvalidInput(f"{correction.receipt} is the payout's receipt already", field="receipt")
    receipt_free(uow, payout, correction.receipt)
    payout.correction = attrs.evolve(correction, before=payout.receipt)
    uow.payouts.update(payout)
    details = {"before": payout.receipt or "", "receipt": correction.receipt, "reason": correction.reason}
    audit(uow, correction.by, "payout.receipt_correction_proposed", f"payout:{payout.id}", correction.at, **details)
    return payout


def approve(uow: PaymentsUnitOfWork, payout: Payout, *, by: str, read: str, now: datetime) -> Payout:
    """Book the receipt proposed (``read``: the one the approver read; another proposed since is a ``Conflict``),
    the old one kept in ``corrections``; audited ``payout.receipt_corrected`` naming both. Nothing else changes.
    The caller has refused the proposer (four-eyes)."""
    proposed = payout.correction
    if proposed is None:
        raise InvalidState(f"no receipt correction of payout {payout.id} is proposed")
    if proposed.receipt != read:
        raise Conflict(f"payout {payout.id} now has receipt {proposed.receipt} proposed: read it again")
    receipt_free(uow, payout, proposed.receipt)  # booked on another payout since it was proposed
    done = attrs.evolve(proposed, approved_by=by, approved_at=now)
    payout.receipt, payout.correction, payout.corrections = proposed.receipt, None, (*payout.corrections, done)
    uow.payouts.update(payout)
    details = {"before": proposed.before or "", "receipt": proposed.receipt, "proposed_by": proposed.by}
    audit(uow, by, "payout.receipt_corrected", f"payout:{payout.id}", now, **details, reason=proposed.reason)
    return payout


def decline(uow: PaymentsUnitOfWork, payout: Payout, *, by: str, note: str, now: datetime) -> Payout:
    """Clear the correction proposed, saying why; audited ``payout.receipt_correction_declined``."""
    proposed = payout.correction
    if proposed is None:
        raise InvalidState(f"no receipt correction of payout {payout.id} is proposed")
    payout.correction = None
    uow.payouts.update(payout)
    details = {"receipt": proposed.receipt, "proposed_by": proposed.by, "note": note}
    audit(uow, by, "payout.receipt_correction_declined", f"payout:{payout.id}", now, **details)
    return payout
