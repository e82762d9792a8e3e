"""The money side of a payout's end: post or void its hold, announce it, and complete its settlement when all are done.

Each function runs inside the caller's unit of work, so the payout's state, its ledger entries, its outbox message
and its audit record commit together.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from cryptopay.core import flows
from cryptopay.core.ledger import Ledger
from cryptopay.core.mobile_money import mask_msisdn
from cryptopay.core.mobile_money.wording import payout_wording
from cryptopay.core.money import KES, Money
from cryptopay.core.payments._support import audit, publish
from cryptopay.core.payouts.model import Payout, PayoutState
from cryptopay.core.ports.system import IdGenerator

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork

__all__ = ["complete", "fail", "paid_after_all", "payout_payload"]


def payout_payload(payout: Payout) -> dict[str, str]:
    """The webhook view of a payout: amounts as strings, the phone masked, the result in our words (never M-Pesa's
    text: ``mobile_money.wording``)."""
    destination = mask_msisdn(payout.destination) if payout.is_b2c else payout.destination
    return {
        "merchant_id": payout.merchant_id,
        "payout_id": payout.id,
        "settlement_id": payout.settlement_id,
        "attempt": str(payout.attempt),
        "state": payout.state.value,
        "amount": str(payout.amount.amount),
        "charge": str(payout.charge.amount),
        "currency": "KES",
        "method": payout.method.value,
        "destination": destination,
        "receipt": payout.receipt or "",
        "result_code": payout.result_code or "",
        "result_desc": payout_wording(payout.result_code) or "",
    }


def complete(
    uow: PaymentsUnitOfWork, ledger: Ledger, ids: IdGenerator, payout: Payout, now: datetime, **result: str | None
) -> None:
    """M-Pesa paid: post the hold, pay the float out, book the payer's charge and M-Pesa's own (its tariff, from the
    float); ``payout.completed``."""
    payout.completed(
        now,
        receipt=result.get("receipt"),
        code=result.get("code"),
        desc=result.get("desc") or "",
        token=result.get("token"),
        name=result.get("name"),
    )
    posted, paid = flows.complete_payout(
        ledger,
        payout_id=payout.id,
        hold_id=payout.hold_id,
        amount=payout.amount,
        charge=payout.charge,
        session=uow.ledger,
        paid_from=flows.BANK if payout.is_bank_transfer else flows.FLOAT,
        mpesa_charge=payout.mpesa_charge,
    )
    entries = ",".join(e.id for e in (posted, *paid))
    _finish(uow, ids, payout, now, "payout.completed", entries=entries, mpesa_charge=payout.mpesa_charge)


def paid_after_all(
    uow: PaymentsUnitOfWork,
    ledger: Ledger,
    ids: IdGenerator,
    payout: Payout,
    now: datetime,
    source: str | None,
    **result: str | None,
) -> None:
    """Transaction Status found a failed payout paid: book the payment from the balance its voided hold released;
    ``payout.completed``."""
    entries = flows.pay_failed_payout(
        ledger,
        payout_id=payout.id,
        merchant_id=payout.merchant_id,
        amount=payout.amount,
        charge=payout.charge,
        session=uow.ledger,
        source=source,
        mpesa_charge=payout.mpesa_charge,
    )
    payout.paid_after_all(
        now,
        receipt=result.get("receipt"),
        code=result.get("code"),
        desc=result.get("desc") or "",
        name=result.get("name"),
    )
    done = ",".join(e.id for e in entries)
    _finish(
        uow, ids, payout, now, "payout.completed", entries=done, after_failure="true", mpesa_charge=payout.mpesa_charge
    )


def fail(
    uow: PaymentsUnitOfWork, ledger: Ledger, ids: IdGenerator, payout: Payout, now: datetime, **result: str | None
) -> None:
    """M-Pesa definitively did not pay: void the hold so the merchant's shillings are available again."""
    payout.failed(now, code=result.get("code"), desc=result.get("desc") or "")
    flows.fail_payout(ledger, hold_id=payout.hold_id, session=uow.ledger)
    _finish(uow, ids, payout, now, "payout.failed", hold=payout.hold_id)


def _finish(
    uow: PaymentsUnitOfWork, ids: IdGenerator, payout: Payout, now: datetime, topic: str, **details: object
) -> None:
    uow.payouts.update(payout)
    if payout.kind.is_merchants:  # a wallet's sale or bill, a remittance: no merchant to tell
        publish(uow, ids, topic, payout_payload(payout), at=now, key=payout.settlement_id)
    audit(
        uow,
        "system:payouts",
        topic,
        f"payout:{payout.id}",
        now,
        amount=payout.amount,
        charge=payout.charge,
        receipt=payout.receipt or "",
        code=payout.result_code or "",
        **details,
    )
    if payout.kind.is_merchants:
        _complete_settlement(uow, ids, payout.settlement_id, now)


def _complete_settlement(uow: PaymentsUnitOfWork, ids: IdGenerator, settlement_id: str, now: datetime) -> None:
    # Locked: two of its payouts concluding at once take turns, so the second sees the first's payout final (and
    # the settlement finished once), and neither writes the settlement back over the other (review11 R11-3's class).
    settlement = uow.settlements.get(settlement_id, lock=True)
    if settlement is None:
        return
    payouts = [p for p in uow.payouts.for_settlement(settlement_id) if p.retried_by is None]
    if not settlement.finish(payouts, now):
        return
    uow.settlements.update(settlement)
    paid = sum((p.amount for p in payouts if p.state is PayoutState.COMPLETED), Money.zero(KES))
    failed = sum(1 for p in payouts if p.state is PayoutState.FAILED)
    payload = {
        "merchant_id": settlement.merchant_id,
        "settlement_id": settlement.id,
        "cutoff": settlement.cutoff.isoformat(),
        "paid": str(paid.amount),
        "currency": "KES",
        "payouts": str(len(payouts)),
        "failed_payouts": str(failed),
        "quote_id": settlement.quote_id or "",
        "converted": str(settlement.converted.amount) if settlement.converted else "0",
        "converted_asset": settlement.converted.asset.code if settlement.converted else "",
        "conversions": ", ".join(f"{c.converted} at {c.quote_id}" for c in settlement.conversions),
        # payload version 2 alone (``webhooks.payloads``): the merchant's books, as the API's settlement says them
        "credited": str(settlement.credited.amount),
        "fx_spread": str(settlement.fx_spread.amount),
        "payout_charges": str(settlement.charges.amount),
        "remainder": str(settlement.remainder.amount),
        "conversion_list": [
            {
                "amount": str(c.converted.amount),
                "asset": c.converted.asset.code,
                "quote_id": c.quote_id,
                "credited": str(c.credited.amount),
            }
            for c in settlement.conversions
        ],
    }
    publish(uow, ids, "settlement.completed", payload, at=now, key=settlement.id)
    audit(
        uow, "system:settlement", "settlement.completed", f"settlement:{settlement.id}", now, paid=paid, failed=failed
    )
