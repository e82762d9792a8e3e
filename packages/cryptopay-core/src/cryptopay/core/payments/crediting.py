"""Keep the ledger in step with an invoice: every confirmed payment credited once, every withdrawn one reversed.

The credits are derived from the invoice's state, not from its events, so recording, confirming and withdrawing
in any order (or twice) books each confirmed payment exactly once. A transfer reorganised away has its credit
reversed; if it is mined again it is credited again under a new ledger key (its ``generation``). A reversal the
merchant's balance cannot cover (the money was already settled) is kept as a pending clawback and retried before
the merchant's next settlement and by every sync that credits the merchant a payment (or finds the invoice's own
clawback still owed), so a new payment pays it back at once rather than being refunded or settled first (audited
``invoice.clawback_owed`` once, when it becomes owed, and ``invoice.credit_reversed`` when a retry reverses it); it
never blocks detection.

A payment from an address a sanctions list names (``listed``: screened by ``Detection`` before the transaction, as
the remittance desk screens its payers) is **held**: booked Dr custody / Cr ``payments_held`` (never the merchant's
balance: not settled, not refundable by the merchant), audited ``invoice.payment_held`` with the lists and the
blocking alerts raised (rule ``sanctioned-address``, product ``merchant_payer``), and not returned as credited (it is
not the merchant's turnover); a transfer once held is held again when mined again (its alerts carried). An officer
decides a held payment (``payments.held``); a released one reorganised away has the release reversed first (from
the merchant's balance: a clawback when it cannot cover it), then the hold's booking.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from cryptopay.core import flows
from cryptopay.core.compliance.addresses import ListedPayer
from cryptopay.core.errors import InsufficientFunds
from cryptopay.core.invoices import Invoice, InvoicePayment, TransferKey, is_confirmed
from cryptopay.core.ledger import Ledger
from cryptopay.core.payments._support import audit
from cryptopay.core.payments.model import PaymentCredit, no_merchant_fee
from cryptopay.core.ports.system import IdGenerator

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork

__all__ = ["retry_clawbacks", "sync_credits"]

_ACTOR = "system:payments"


def sync_credits(
    uow: PaymentsUnitOfWork,
    ledger: Ledger,
    ids: IdGenerator,
    invoice: Invoice,
    *,
    now: datetime,
    listed: Mapping[TransferKey, ListedPayer] | None = None,
) -> list[InvoicePayment]:
    """Credit the confirmed payments not yet credited; reverse the credits of payments no longer confirmed.
    ``listed``: the payments whose payer a sanctions list names, held instead of credited (as is a transfer held
    before). The payments credited now (what AML monitoring journals once the transaction commits)."""
    confirmed = {p.key: p for p in invoice.payments if is_confirmed(p, invoice.option(p.rail_key))}
    credits = uow.payment_credits.for_invoice(invoice.id)
    live = {c.transfer: c for c in credits if c.reversal_entry_id is None}
    deferred = any(c.clawback_pending and key not in confirmed for key, c in live.items())
    for key, credit in live.items():
        if key not in confirmed and not credit.clawback_pending:
            _reverse(uow, ledger, credit, now)
        elif key in confirmed and credit.clawback_pending:
            credit.clawback_pending = False  # mined again before the clawback happened: the credit stands
            uow.payment_credits.update(credit)
            audit(uow, _ACTOR, "invoice.clawback_cancelled", f"invoice:{invoice.id}", now, credit=credit.id)
    credited = []
    for key, payment in confirmed.items():
        if key not in live:
            generation = sum(1 for c in credits if c.transfer == key)
            payer = (listed or {}).get(key)
            before = [c for c in credits if c.transfer == key and c.held]
            held = payer is not None or bool(before)
            alerts = payer.alerts if payer is not None else before[-1].alerts if before else ()
            _credit(uow, ledger, ids, invoice, payment, generation, now, held=held, alerts=alerts)
            if held:
                _audit_hold(uow, invoice, payment, payer, now)
            else:
                credited.append(payment)
    if deferred or credited:  # the merchant's balance may cover what it owes now: not only at its next settlement
        retry_clawbacks(uow, ledger, invoice.merchant_id, now=now)
    return credited


def retry_clawbacks(uow: PaymentsUnitOfWork, ledger: Ledger, merchant_id: str, *, now: datetime) -> int:
    """Reverse the pending clawbacks the merchant's balance now covers; how many are still owed."""
    owed = 0
    for credit in uow.payment_credits.pending_clawbacks(merchant_id):
        if not _reverse(uow, ledger, credit, now):
            owed += 1
    return owed


def _credit(
    uow: PaymentsUnitOfWork,
    ledger: Ledger,
    ids: IdGenerator,
    invoice: Invoice,
    payment: InvoicePayment,
    generation: int,
    now: datetime,
    *,
    held: bool = False,
    alerts: tuple[str, ...] = (),
) -> None:
    network, tx_hash, index = payment.key
    store, asset = uow.stores.get(invoice.merchant_id), payment.amount.asset
    # A payment (and each re-mining of it after a reorg) is its own credit.
    reference = f"{invoice.id}:{tx_hash}:{index}:g{generation}"
    entry, fee = flows.credit_invoice_payment(
        ledger,
        invoice_id=invoice.id,
        reference=reference,
        merchant_id=invoice.merchant_id,
        network=network,
        received=payment.amount,
        fees=store.merchant_fee(asset, now) if store is not None else no_merchant_fee(asset),
        session=uow.ledger,
        held=held,
    )
    late = payment.is_late(invoice.expires_at)
    credit = PaymentCredit(
        id=ids.new_id("crd"),
        invoice_id=invoice.id,
        merchant_id=invoice.merchant_id,
        transfer=payment.key,
        generation=generation,
        received=payment.amount,
        fee=fee.fee,
        entry_id=entry.id,
        credited_at=now,
        late=late,
        held=held,
        alerts=alerts if held else (),
    )
    uow.payment_credits.add(credit)
    audit(
        uow,
        _ACTOR,
        "invoice.payment_credited",
        f"invoice:{invoice.id}",
        now,
        entry=entry.id,
        received=payment.amount,
        fee=fee.fee,
        tx=f"{network}:{tx_hash}#{index}",
        late=str(late).lower(),
        held=str(held).lower(),
    )


def _audit_hold(
    uow: PaymentsUnitOfWork, invoice: Invoice, payment: InvoicePayment, payer: ListedPayer | None, now: datetime
) -> None:
    """The officers' record of a held payment: the payer, the lists naming it and the alerts raised on it (a
    re-mining of a transfer held before: the earlier hold's)."""
    network, tx_hash, index = payment.key
    address = payer.address if payer is not None else payment.transfer.from_address or ""
    audit(
        uow,
        _ACTOR,
        "invoice.payment_held",
        f"invoice:{invoice.id}",
        now,
        reason="sanctioned_payer",
        network=network,
        address=address,
        lists=payer.refs if payer is not None else "held before",
        alerts=",".join(payer.alerts) if payer is not None else "",
        tx=f"{network}:{tx_hash}#{index}",
        amount=payment.amount,
    )


def _reverse(uow: PaymentsUnitOfWork, ledger: Ledger, credit: PaymentCredit, now: datetime) -> bool:
    """Reverse one credit; False (and a pending clawback) when the merchant's balance cannot cover it. The clawback
    is recorded once, when it becomes owed: a retry that still cannot reverse it changes and writes nothing."""
    subject = f"invoice:{credit.invoice_id}"
    try:
        if credit.release_entry_id is not None:  # an officer released it to the merchant: that credit goes first
            ledger.reverse(credit.release_entry_id, f"{credit.id}:release:reverse", session=uow.ledger)
        reversal = ledger.reverse(credit.entry_id, f"{credit.id}:reverse", session=uow.ledger)
    except InsufficientFunds:
        if not credit.clawback_pending:
            credit.clawback_pending = True
            uow.payment_credits.update(credit)
            audit(uow, _ACTOR, "invoice.clawback_owed", subject, now, credit=credit.id, amount=credit.received)
        return False
    credit.reversal_entry_id, credit.clawback_pending = reversal.id, False
    uow.payment_credits.update(credit)
    audit(
        uow,
        _ACTOR,
        "invoice.credit_reversed",
        subject,
        now,
        credit=credit.id,
        entry=reversal.id,
        amount=credit.received,
    )
    return True
