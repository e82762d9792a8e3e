"""An officer's decision on a merchant payment compliance held (a listed payer: ``payments.crediting``).

A held payment sits in ``liabilities:payments_held:<ASSET>`` with a blocking ``sanctioned-address`` alert open
(``PaymentCredit.alerts``); ``waiting`` lists those no officer decided yet. An officer (role ``compliance``) decides
each one, with a note saying why, in one of three ways, as a held wallet deposit is released (``wallets.deposits``)
and a held remittance is released or refunded:

- ``release``: credited to the merchant as the payment would have been, fee included (the store's merchant fee in
  force when it was credited): Dr ``payments_held`` (gross) / Cr merchant (net) / Cr fee revenue
  (``flows.release_held_payment``); settlement then takes it as any other credit. The alerts are closed
  ``closed_no_action`` with the note (a list named the address wrongly, or the payer was delisted or licensed);
- ``return``: sent back whole to the address that paid it by the refund machinery (``Refunds.return_held``: held from
  ``payments_held``, never the merchant's balance), screened as every refund is: while a list still names the
  address it is ``Blocked`` (422 ``blocked_by_compliance``, audited ``refund.blocked``) and nothing changes, so in
  practice a return follows a delisting. Whatever else refuses it is asked before the alerts are concluded too
  (``Refunds.check_held_return``: no hot wallet on the network, no option of the invoice on the payment's rail, an
  address no refund may go to such as one of the platform's), so a refused return leaves them open. The alerts are
  closed ``closed_no_action``. A return whose refund failed may be decided again;
- ``keep``: kept frozen in ``payments_held`` for the authorities; the alerts' case is ``reported`` with the note
  (the STR is exported from it as from any case). Nothing moves.

The alerts are concluded first (``Monitoring.conclude``: the open ones grouped into a case, every case moved to the
decision's status), then the money moves in one unit of work that locks the credit and refuses a payment decided
meanwhile (``Conflict``); a decision that contradicts a case concluded otherwise is a ``Conflict`` before anything
moves. No officer decides a payment of a merchant they belong to (``OwnParty``, 403, audited
``compliance.own_party_refused``: outside review R12). Every decision is audited ``compliance.held_payment_<decision>``
on the invoice (credit, amount, fee, entry or refund, cases, note). The HTTP API asks a step-up of a release and a
return (money moves). Four-eyes: none, as for the deposit and remittance releases this mirrors (one officer's
decision, audited, and the case's own record).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import attrs
from cryptopay.core import flows
from cryptopay.core.compliance.cases import CaseStatus
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.own_party import PartiesOf, refuse_own_party
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound, Refused
from cryptopay.core.invoices import Invoice, InvoicePayment
from cryptopay.core.ledger import Ledger
from cryptopay.core.payments._support import audit, load_invoice, transaction
from cryptopay.core.payments.model import HoldDecision, PaymentCredit, RefundState, no_merchant_fee
from cryptopay.core.payments.refunds import Refunds
from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory
from cryptopay.core.ports.system import Clock

__all__ = ["HeldPayments"]

_CASE_STATUS = {
    HoldDecision.RELEASED: CaseStatus.CLOSED_NO_ACTION,
    HoldDecision.RETURNED: CaseStatus.CLOSED_NO_ACTION,
    HoldDecision.KEPT: CaseStatus.REPORTED,
}


@attrs.define(kw_only=True)
class HeldPayments:
    uow: PaymentsUowFactory
    ledger: Ledger
    clock: Clock
    refunds: Refunds
    monitoring: Callable[[], Monitoring | None] = lambda: None  # the alerts' cases (None: no monitoring wired)
    parties_of: PartiesOf | None = None  # the parties an officer belongs to (``identity.teams.parties_of``)

    def waiting(self, *, after: str | None = None, limit: int = 50) -> list[PaymentCredit]:
        """Held payments no officer decided yet, by id."""
        return transaction(self.uow, lambda uow: uow.payment_credits.awaiting_decision(after=after, limit=limit))

    def get(self, credit_id: str) -> PaymentCredit:
        """A held payment's credit, or ``NotFound`` (any other credit too: it is not compliance's)."""
        found = transaction(self.uow, lambda uow: uow.payment_credits.get(credit_id))
        if found is None or not found.held:
            raise NotFound(f"no held payment {credit_id!r}")
        return found

    def release(self, credit_id: str, *, officer: str, note: str) -> PaymentCredit:
        """Credit a held payment to its merchant as it would have been, fee included (see the module)."""
        return self._decide(credit_id, HoldDecision.RELEASED, officer, note)

    def return_to_payer(self, credit_id: str, *, officer: str, note: str) -> PaymentCredit:
        """Send a held payment back whole to the address that paid it (``Blocked`` while a list names it)."""
        return self._decide(credit_id, HoldDecision.RETURNED, officer, note)

    def keep(self, credit_id: str, *, officer: str, note: str) -> PaymentCredit:
        """Keep a held payment frozen for the authorities: its alerts' case reported."""
        return self._decide(credit_id, HoldDecision.KEPT, officer, note)

    # -- the decision ----------------------------------------------------------------------------------------------
    def _decide(self, credit_id: str, decision: HoldDecision, officer: str, note: str) -> PaymentCredit:
        if not note.strip():
            raise InvalidInput(f"a held payment is {decision.value} with a note saying why", field="note")
        why = note.strip()
        credit = self.get(credit_id)
        subject = f"invoice:{credit.invoice_id}"
        refuse_own_party(
            self.uow,
            self.parties_of,
            officer,
            credit.merchant_id,
            scope="compliance",
            action=f"compliance.held_payment_{decision.value}",
            subject=subject,
            at=self.clock.now(),
            details={"credit": credit.id},
        )
        transaction(self.uow, lambda uow: _decidable(uow, credit))
        payer = ""
        if decision is HoldDecision.RETURNED:  # refused before the alerts are concluded: nothing is written
            self.refunds.check_sender(credit.transfer[0])
            payer = transaction(self.uow, lambda uow: _payer(uow, credit))
            self.refunds.refuse_listed(
                subject, credit.merchant_id, credit.transfer[0], payer, requested_by=f"user:{officer}"
            )
            transaction(self.uow, lambda uow: self.refunds.check_held_return(uow, _invoice(uow, credit), credit, payer))
        monitoring = self.monitoring()
        cases: list[str] = []
        if monitoring is not None and credit.alerts:
            cases = monitoring.conclude(officer, credit.alerts, _CASE_STATUS[decision], f"held payment: {why}")
        work = partial(self._book, credit_id=credit_id, decision=decision, officer=officer, note=why)
        return transaction(self.uow, partial(work, payer=payer, cases=cases))

    def _book(
        self,
        uow: PaymentsUnitOfWork,
        credit_id: str,
        decision: HoldDecision,
        officer: str,
        note: str,
        payer: str,
        cases: list[str],
    ) -> PaymentCredit:
        invoice = load_invoice(
            uow, _credit(uow, credit_id).invoice_id
        )  # the invoice, then its credit: crediting's order
        credit, now = _credit(uow, credit_id, lock=True), self.clock.now()
        _decidable(uow, credit)
        details: dict[str, object] = {"credit": credit.id, "amount": credit.received, "note": note}
        if decision is HoldDecision.RELEASED:
            store = uow.stores.get(invoice.merchant_id)
            asset = credit.received.asset
            fees = store.merchant_fee(asset, credit.credited_at) if store is not None else no_merchant_fee(asset)
            entry, fee = flows.release_held_payment(
                self.ledger,
                credit_id=credit.id,
                invoice_id=invoice.id,
                merchant_id=invoice.merchant_id,
                received=credit.received,
                fees=fees,
                session=uow.ledger,
            )
            credit.release_entry_id, credit.fee = entry.id, fee.fee
            details |= {"entry": entry.id, "fee": fee.fee}
        elif decision is HoldDecision.RETURNED:
            refund = self.refunds.return_held(uow, invoice, credit, payer, requested_by=f"user:{officer}")
            credit.refund_id = refund.id
            details |= {"refund": refund.id, "address": refund.address}
        credit.decision, credit.decided_by, credit.decided_at, credit.decision_note = decision, officer, now, note
        uow.payment_credits.update(credit)
        audit(
            uow,
            f"user:{officer}",
            f"compliance.held_payment_{decision.value}",
            f"invoice:{invoice.id}",
            now,
            **details,
            cases=",".join(cases),
        )
        return credit


def _invoice(uow: PaymentsUnitOfWork, credit: PaymentCredit) -> Invoice:
    return load_invoice(uow, credit.invoice_id)


def _credit(uow: PaymentsUnitOfWork, credit_id: str, *, lock: bool = False) -> PaymentCredit:
    found = uow.payment_credits.get(credit_id, lock=lock)
    if found is None or not found.held:
        raise NotFound(f"no held payment {credit_id!r}")
    return found


def _decidable(uow: PaymentsUnitOfWork, credit: PaymentCredit) -> None:
    """``Conflict`` for a payment decided already (but a return whose refund failed), ``InvalidState`` for one that
    left the chain (its hold reversed: nothing is held)."""
    if credit.reversal_entry_id is not None or credit.clawback_pending:
        raise InvalidState(f"held payment {credit.id} left the chain: nothing is held")
    if credit.decision is None:
        return
    if credit.decision is HoldDecision.RETURNED and credit.refund_id is not None:
        refund = uow.refunds.get(credit.refund_id)
        if refund is not None and refund.state is RefundState.FAILED:
            return
    raise Conflict(f"held payment {credit.id} was {credit.decision.value} already")


def _payer(uow: PaymentsUnitOfWork, credit: PaymentCredit) -> str:
    """The address that paid the held payment (``Refused`` when the chain did not say)."""
    invoice: Invoice = load_invoice(uow, credit.invoice_id)
    found: list[InvoicePayment] = [p for p in invoice.payments if p.key == credit.transfer]
    address = found[0].transfer.from_address if found else None
    if not address:
        raise Refused(f"the address that paid held payment {credit.id} is not known: it cannot be returned")
    return address
