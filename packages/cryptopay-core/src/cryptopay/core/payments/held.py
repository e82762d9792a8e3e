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
- ``keep``: kept frozen in ``payments_held`` for the authorities; the alerts' case is ``escalated`` (to be
  reported: keeping money is no STR filed, review12 R12-8) with the note (the STR is exported from it as from any
  case, and the case ``reported`` once its filing is recorded: ``Monitoring.file``). Nothing moves.

The decision is one unit of work: it locks the credit and refuses a payment decided meanwhile or a proposal changed
since the approver read it (``Conflict``), moves the money, and concludes the alerts (``Monitoring.conclude``: the open
ones grouped into a case, every case moved to the decision's status) in the same transaction, so nothing is
concluded unless the money moves (revpass6 P4: concluded first, a refused booking left the cases closed and the
payment held, and ``keep`` was then refused); a decision that contradicts a case concluded otherwise is a
``Conflict`` and nothing moves. No officer decides a payment of a merchant they belong to (``OwnParty``, 403, audited
``compliance.own_party_refused``: outside review R12). Every decision is audited ``compliance.held_payment_<decision>``
on the invoice (credit, amount, fee, entry or refund, cases, note). The HTTP API asks a step-up of a release and a
return (money moves).

Four-eyes: a release or a return (money moves) is first *proposed* by one officer (``release``/``return_to_payer``:
with its note, checked as the decision will be, audited ``compliance.held_payment_<release|return>_proposed``;
nothing moves and the alerts stay open) and carried out only when a second officer ``approve``s it: the decision is
then made as above in the approver's name, with the proposal's note, the audit naming both officers. The proposer
approving their own proposal is refused (``SameOfficer``, 409, audited ``compliance.held_payment_same_officer_
refused``), as is an approver who belongs to the merchant (``OwnParty``), one related to the proposer by their
appointments or appointed to staff too recently (``compliance.four_eyes``: ``RelatedOfficers``, ``OfficerCoolingOff``,
409, audited ``compliance.held_payment_<code>_refused``). Any officer may ``decline`` a proposal
(the proposer withdrawing it too), with a note, audited; a second proposal while one waits is a ``Conflict``. The
shell (``cryptopay compliance held-payments``) may decline and keep, never propose or approve: it cannot prove which
officer is at the keyboard (one operator could name any two), so approvals are given on the console or the API
(outside review I9, as KYC's two-officer approvals), and so are proposals (revpass7 P4: one person proposed from the
shell in officer A's name and approved on the console as B). A proposal from the shell (``operator`` given) is
``Refused`` and audited ``compliance.held_payment_shell_proposal_refused`` by the operator; nothing changes.
``keep`` moves nothing and stays one officer's decision (the case's own record).

Until decided, the invoice reads the held payment as any payment not confirmed yet (``processing``, never expiring
under it: review8 R5); the decision moves the invoice in its own unit of work: released, the payment counts and
settles it as it would have (``invoice.payment_confirmed``); returned or kept, it stops counting.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from functools import partial
from typing import Protocol

import attrs
from cryptopay.core import flows
from cryptopay.core.compliance.cases import CaseStatus
from cryptopay.core.compliance.four_eyes import FourEyes, SameOfficer
from cryptopay.core.compliance.monitoring import Monitoring
from cryptopay.core.compliance.own_party import PartiesOf, refuse_own_party
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound, Refused
from cryptopay.core.invoices import Invoice, InvoicePayment
from cryptopay.core.ledger import Ledger
from cryptopay.core.payments._support import audit, load_invoice, publish_invoice_events, transaction
from cryptopay.core.payments.model import HoldDecision, PaymentCredit, RefundState, no_merchant_fee
from cryptopay.core.payments.refunds import Refunds
from cryptopay.core.ports.compliance import MonitoringUnitOfWork
from cryptopay.core.ports.payments import PaymentsUnitOfWork
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator

__all__ = ["HeldPayments", "HeldPaymentsUnitOfWork", "SameOfficer"]


class HeldPaymentsUnitOfWork(PaymentsUnitOfWork, MonitoringUnitOfWork, Protocol):
    """One transaction over the payments and the alerts' cases: a decision and its conclusion commit together."""


_CASE_STATUS = {
    HoldDecision.RELEASED: CaseStatus.CLOSED_NO_ACTION,
    HoldDecision.RETURNED: CaseStatus.CLOSED_NO_ACTION,
    HoldDecision.KEPT: CaseStatus.ESCALATED,  # to be reported: keeping money asserts no STR was filed (R12-8)
}


@attrs.define(kw_only=True)
class HeldPayments:
    uow: Callable[[], AbstractContextManager[HeldPaymentsUnitOfWork]]
    ledger: Ledger
    clock: Clock
    refunds: Refunds
    ids: IdGenerator  # the outbox events of the invoice the decision moves
    monitoring: Callable[[], Monitoring | None] = lambda: None  # the alerts' cases (None: no monitoring wired)
    parties_of: PartiesOf | None = None  # the parties an officer belongs to (``identity.teams.parties_of``)
    # the approval's check (``compliance.four_eyes``); unwired: the same officer only
    four_eyes: FourEyes = attrs.Factory(FourEyes)

    def waiting(self, *, after: str | None = None, limit: int = 50) -> list[PaymentCredit]:
        """Held payments no officer decided yet, by id."""
        return transaction(self.uow, lambda uow: uow.payment_credits.awaiting_decision(after=after, limit=limit))

    def get(self, credit_id: str) -> PaymentCredit:
        """A held payment's credit, or ``NotFound`` (any other credit too: it is not compliance's)."""
        found = transaction(self.uow, lambda uow: uow.payment_credits.get(credit_id))
        if found is None or not found.held:
            raise NotFound(f"no held payment {credit_id!r}")
        return found

    def release(self, credit_id: str, *, officer: str, note: str, operator: str | None = None) -> PaymentCredit:
        """Propose crediting a held payment to its merchant as it would have been, fee included; a second officer
        ``approve``s it (see the module). Never from a shell (``operator`` given: ``Refused``, audited by the
        operator)."""
        return self._propose(credit_id, HoldDecision.RELEASED, officer, note, operator)

    def return_to_payer(self, credit_id: str, *, officer: str, note: str, operator: str | None = None) -> PaymentCredit:
        """Propose sending a held payment back whole to the address that paid it (``Blocked`` while a list names
        it); a second officer ``approve``s it."""
        return self._propose(credit_id, HoldDecision.RETURNED, officer, note, operator)

    def approve(
        self,
        credit_id: str,
        *,
        officer: str,
        expected: HoldDecision | None = None,
        operator: str | None = None,
    ) -> PaymentCredit:
        """Carry out the release or return another officer proposed, with its note (``SameOfficer`` for its
        proposer); ``expected``: the proposal the approver read (another one now, withdrawn and proposed again
        meanwhile, is a ``Conflict``: nobody approves what they did not read). Never from a shell (``operator``
        given): one operator can name any two officers there, so the second officer approves on the console or the
        API, signed in with their second factor (as KYC's, I9)."""
        if operator is not None:
            raise Refused(
                f"held payment {credit_id} is released or returned when a second officer approves it: approve it on "
                "the console or the API (signed in with your second factor), not from the shell"
            )
        credit = self.get(credit_id)
        if credit.proposal is None or credit.proposed_by is None:
            raise InvalidState(f"no release or return of held payment {credit.id} is proposed")
        if expected is not None and credit.proposal is not expected:
            raise Conflict(f"held payment {credit.id} now has a {_NOUN[credit.proposal]} proposed: read it again")
        now, noun = self.clock.now(), _NOUN[credit.proposal]
        refused = self.four_eyes.refusal(credit.proposed_by, officer, now=now, what=noun)
        if refused is not None:
            action = refused.action("compliance.held_payment")
            self._refused(credit, officer, action, credit.proposal, **refused.audit_details)
            raise refused
        return self._decide(credit_id, credit.proposal, officer, credit.proposal_note or "", proposal=credit)

    def decline(self, credit_id: str, *, officer: str, note: str) -> PaymentCredit:
        """Decline (or, its proposer, withdraw) the release or return proposed: nothing moves, audited."""
        why = _note(note, "a proposal is declined")
        credit = self.get(credit_id)
        self._own_party(credit, officer, "compliance.held_payment_proposal_declined")
        return transaction(self.uow, partial(self._decline, credit_id=credit_id, officer=officer, note=why))

    def keep(self, credit_id: str, *, officer: str, note: str) -> PaymentCredit:
        """Keep a held payment frozen for the authorities: its alerts' case escalated, to be reported (R12-8)."""
        return self._decide(credit_id, HoldDecision.KEPT, officer, note)

    # -- four-eyes: the proposal -----------------------------------------------------------------------------------
    def _propose(
        self, credit_id: str, decision: HoldDecision, officer: str, note: str, operator: str | None
    ) -> PaymentCredit:
        credit = self.get(credit_id)
        why = _note(note, f"a held payment is {decision.value}")  # before the refusal's record: a valid note only
        if operator is not None:  # revpass7 P4: one person would propose as one officer and approve as another
            event = {"credit": credit.id, "proposal": decision.value, "officer": officer, "note": why}
            action = "compliance.held_payment_shell_proposal_refused"
            transaction(
                self.uow,
                lambda uow: audit(uow, operator, action, f"invoice:{credit.invoice_id}", self.clock.now(), **event),
            )
            raise Refused(
                f"a {_NOUN[decision]} of held payment {credit.id} moves money, so it is proposed only by an officer "
                f"signed in with their second factor: on the console (/console/held-payments/{credit.id}) or the API "
                f"(POST /v1/admin/compliance/held-payments/{credit.id}/{_NOUN[decision]}), not from the shell: the "
                "shell cannot prove which officer is at the keyboard"
            )
        self._own_party(credit, officer, f"compliance.held_payment_{_NOUN[decision]}_proposed")
        transaction(self.uow, lambda uow: _decidable(uow, credit))
        if decision is HoldDecision.RETURNED:  # a return that would be refused is not proposed either
            self._returnable(credit, officer)
        return transaction(
            self.uow, partial(self._proposed, credit_id=credit_id, decision=decision, officer=officer, note=why)
        )

    def _proposed(
        self,
        uow: PaymentsUnitOfWork,
        credit_id: str,
        decision: HoldDecision,
        officer: str,
        note: str,
    ) -> PaymentCredit:
        credit, now = _credit(uow, credit_id, lock=True), self.clock.now()
        _decidable(uow, credit)
        if credit.proposal is not None:
            waiting = _NOUN[credit.proposal]
            raise Conflict(f"a {waiting} of held payment {credit.id} is proposed already: approve or decline it")
        credit.proposal, credit.proposed_by, credit.proposed_at, credit.proposal_note = decision, officer, now, note
        uow.payment_credits.update(credit)
        action = f"compliance.held_payment_{_NOUN[decision]}_proposed"
        audit(uow, f"user:{officer}", action, f"invoice:{credit.invoice_id}", now, credit=credit.id, note=note)
        return credit

    def _decline(self, uow: PaymentsUnitOfWork, credit_id: str, officer: str, note: str) -> PaymentCredit:
        credit, now = _credit(uow, credit_id, lock=True), self.clock.now()
        if credit.proposal is None:
            raise InvalidState(f"no release or return of held payment {credit.id} is proposed")
        details = {"credit": credit.id, "proposal": credit.proposal.value, "proposed_by": credit.proposed_by}
        _clear_proposal(credit)
        uow.payment_credits.update(credit)
        action = "compliance.held_payment_proposal_declined"
        audit(uow, f"user:{officer}", action, f"invoice:{credit.invoice_id}", now, **details, note=note)
        return credit

    def _refused(self, credit: PaymentCredit, officer: str, action: str, proposal: HoldDecision, **facts: str) -> None:
        event = {"credit": credit.id, "proposal": proposal.value, **facts}
        transaction(
            self.uow,
            lambda uow: audit(
                uow, f"user:{officer}", action, f"invoice:{credit.invoice_id}", self.clock.now(), **event
            ),
        )

    def _own_party(self, credit: PaymentCredit, officer: str, action: str) -> None:
        refuse_own_party(
            self.uow,
            self.parties_of,
            officer,
            credit.merchant_id,
            scope="compliance",
            action=action,
            subject=f"invoice:{credit.invoice_id}",
            at=self.clock.now(),
            details={"credit": credit.id},
        )

    def _returnable(self, credit: PaymentCredit, officer: str) -> str:
        """The paying address, once every refusal of a return was asked (before anything is written)."""
        subject = f"invoice:{credit.invoice_id}"
        self.refunds.check_sender(credit.transfer[0])
        payer = transaction(self.uow, lambda uow: _payer(uow, credit))
        self.refunds.refuse_listed(
            subject, credit.merchant_id, credit.transfer[0], payer, requested_by=f"user:{officer}"
        )
        transaction(self.uow, lambda uow: self.refunds.check_held_return(uow, _invoice(uow, credit), credit, payer))
        return payer

    # -- the decision ----------------------------------------------------------------------------------------------
    def _decide(
        self,
        credit_id: str,
        decision: HoldDecision,
        officer: str,
        note: str,
        *,
        proposal: PaymentCredit | None = None,
    ) -> PaymentCredit:
        why = _note(note, f"a held payment is {decision.value}")
        credit = proposal if proposal is not None else self.get(credit_id)  # an approval read it already
        self._own_party(credit, officer, f"compliance.held_payment_{decision.value}")
        transaction(self.uow, lambda uow: _decidable(uow, credit))
        payer = ""
        if (
            decision is HoldDecision.RETURNED
        ):  # refused before the booking (which concludes the alerts): nothing written
            payer = self._returnable(credit, officer)
        monitoring = self.monitoring()
        proposed = (proposal.proposed_by, proposal.proposed_at) if proposal is not None else None
        work = partial(self._book, credit_id=credit_id, decision=decision, officer=officer, note=why)
        return in_transaction(self.uow, partial(work, payer=payer, monitoring=monitoring, proposed=proposed))

    def _book(
        self,
        uow: HeldPaymentsUnitOfWork,
        credit_id: str,
        decision: HoldDecision,
        officer: str,
        note: str,
        payer: str,
        monitoring: Monitoring | None,
        proposed: tuple[str | None, datetime | None] | None,
    ) -> PaymentCredit:
        invoice = load_invoice(
            uow, _credit(uow, credit_id).invoice_id
        )  # the invoice, then its credit: crediting's order
        credit, now = _credit(uow, credit_id, lock=True), self.clock.now()
        _decidable(uow, credit)
        if proposed is not None and (credit.proposed_by, credit.proposed_at) != proposed:
            raise Conflict(f"the proposal on held payment {credit.id} changed meanwhile: read it again")
        cases: list[str] = []
        if monitoring is not None and credit.alerts:  # concluded with the booking below, or not at all
            cases = monitoring.conclude(uow, officer, credit.alerts, _CASE_STATUS[decision], f"held payment: {note}")
        details: dict[str, object] = {"credit": credit.id, "amount": credit.received, "note": note}
        if proposed is not None:
            details["proposed_by"] = proposed[0]
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
        _clear_proposal(credit)
        uow.payment_credits.update(credit)
        _follow_decision(uow, self.ids, invoice, credit, now)
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


_NOUN = {HoldDecision.RELEASED: "release", HoldDecision.RETURNED: "return", HoldDecision.KEPT: "keep"}


def _follow_decision(
    uow: PaymentsUnitOfWork, ids: IdGenerator, invoice: Invoice, credit: PaymentCredit, now: datetime
) -> None:
    """The invoice follows the decision in the same unit of work (while held it read as a payment confirming):
    released, the payment counts as any (``invoice.payment_confirmed``, settled by it as it would have been);
    returned or kept, it stops counting (the invoice new, or expired past its expiry). A payment whose transfer
    is no longer the one held (mined again since) is left to crediting's next hold."""
    if not any(p.key == credit.transfer and p.held and not p.withdrawn for p in invoice.payments):
        return
    if credit.decision is HoldDecision.RELEASED:
        events = invoice.release_transfer(credit.transfer, now=now)
    else:
        events = invoice.keep_out_transfer(credit.transfer, now=now)
    uow.invoices.update(invoice)
    publish_invoice_events(uow, ids, invoice, events)


def _note(note: str, what: str) -> str:
    if not note.strip():
        raise InvalidInput(f"{what} with a note saying why", field="note")
    return note.strip()


def _clear_proposal(credit: PaymentCredit) -> None:
    credit.proposal, credit.proposed_by, credit.proposed_at, credit.proposal_note = None, None, None, None


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
