"""Sends held for a frozen recipient, and an officer's decision on each (review4 R6, the second path).

A send to a wallet an operator or compliance froze is accepted as any other (``Wallets.send``): a refusal, however
neutral, told the sender about the freeze. It is held: its amount credited to ``liabilities:p2p_held:<ASSET>``
instead of the wallet (``flows.send_p2p(held=True)``), the transfer ``held``, audited ``wallet.frozen_recipient``
for the officers, who list what waits for them here (``waiting``). Its sender sees it as delivered
(``Transfer.shown_state``); the recipient sees nothing until it is released. An officer (role ``compliance``)
decides each one, with a note saying why, in one unit of work that locks the transfer and refuses one decided
meanwhile (``InvalidState``):

- ``release``: Dr p2p_held / Cr the recipient's wallet (``flows.decide_held_send``); the transfer is delivered. The
  freeze itself is not lifted here (``KycReview.unfreeze`` and the wallet's own freeze are separate decisions);
- ``return``: Dr p2p_held / Cr the sender's wallet; the transfer is returned, as an unclaimed send is. The fee
  stays earned (the send was made).

Receiving limits (review7 F1, F2). A freeze changes nothing the sender can see: the send is checked against the
recipient's receiving limits (``Product.RECEIVE``: its tier, what it received today and this month) as if it were
not frozen (``receivable``), refused exactly when an unfrozen wallet refuses it (``recipient_limit``), and counted in
what the recipient received when it is held, as a delivered send is; so sends to a frozen tier-0 wallet are bounded
by the same per-receipt, day and month limits. A release is checked again against the recipient's standing now (a
tier that lapsed since, a send held before these checks), when it is proposed and when it is approved: past its tier
or its single-receipt limit it is ``LimitExceeded`` (422) and the officer returns it instead.

Four-eyes (money moves), as held merchant payments: ``release`` and ``return_to_sender`` only *propose* (the
transfer's ``proposal``: the decision, the officer, when and the note; audited ``wallet.held_send_<release|return>_
proposed``; nothing moves, and a second proposal while one waits is a ``Conflict``); a second officer's ``approve``
carries it out in one unit of work that locks the transfer and refuses one decided meanwhile (``InvalidState``) or a
proposal changed since the approver read it (``Conflict``), audited ``wallet.held_send_released`` /
``wallet.held_send_returned`` naming the approver, the proposer (``proposed_by``) and the proposal's note. The
proposer approving is refused (``SameOfficer``, 409, audited ``wallet.held_send_same_officer_refused``; an officer
related to the proposer, or appointed too recently, as ``compliance.four_eyes`` says); any officer
may ``decline`` a proposal (its proposer withdrawing it too) with a note, audited ``wallet.held_send_proposal_
declined``. A shell declines but never proposes or approves (``operator`` given: ``Refused``, a proposal's refusal
audited ``wallet.held_send_shell_proposal_refused`` by the operator): it cannot prove which officer is at the keyboard
(outside review I9; revpass7 P4: one person proposed from the shell as officer A and approved on the console as B).
No officer proposes, approves or declines on a send they made or would receive (``OwnParty``, 403, audited
``compliance.own_party_refused``).

``keep`` (tipoff3, as held merchant payments have it): an officer keeps a held send held, with a note saying why (the
authorities asked, a court order is awaited): nothing moves, no second officer is needed, from the shell too
(audited ``wallet.held_send_kept``, acting as the officer); the send stays ``held`` (``Transfer.kept``: who, when,
why, the latest) and may be released or returned later, which clears it (the send then reads released or returned,
never kept, on the console, the CLI and the API; ``wallet.held_send_kept`` keeps the record); refused while a release
or return is proposed (``Conflict``: decline it first). A kept send no longer ages the undecided queue's alert
(``Observing``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import attrs
from cryptopay.core import flows
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.four_eyes import FourEyes
from cryptopay.core.compliance.own_party import refuse_own_party
from cryptopay.core.errors import Conflict, InvalidInput, InvalidState, NotFound, Refused
from cryptopay.core.kyc import Product
from cryptopay.core.kyc.limits import (
    PRODUCT_LIMITS,
    Decision,
    Spending,
    check_wallet_movement,
    day_bounds,
    month_bounds,
)
from cryptopay.core.kyc.profile import KycStanding
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import KES, Money
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.wallets import WalletUnitOfWork, WalletUowFactory
from cryptopay.core.wallets.model import HeldSendDecision, HeldSendKept, HeldSendProposal, Transfer, TransferState

__all__ = ["HeldSends", "RecipientRoom", "receivable"]

_MAX_NOTE = 4000  # as the API's decision body (HoldDecisionRequest)


@attrs.frozen(kw_only=True)
class RecipientRoom:
    """What an officer reads before deciding a release (review7 F2's note): the recipient's tier in force now
    (``tier`` its label, None: none, so a release is refused) and what it may still receive by its receiving limits
    (``Product.RECEIVE``), a freeze set aside as the release check sets it aside: one receipt (``single``), today and
    this month, counted from what it received (``UsageRepository.totals``, in which a held send counts from when it
    was held, so this send is inside them). None: no such limit for its tier."""

    tier: str | None
    single: Money | None = None
    today: Money | None = None
    this_month: Money | None = None


def _left(limit: Money | None, used: Money) -> Money | None:
    if limit is None:
        return None
    left = limit - used
    return left if left.is_positive() else Money.zero(KES)


@attrs.define(kw_only=True)
class HeldSends:
    """The officers' queue of sends held for a frozen recipient, and their decisions."""

    uow: WalletUowFactory
    ledger: Ledger
    clock: Clock
    ids: IdGenerator
    value_of: Callable[[Money], Money]  # what an amount is worth in KES now (``kes_value``): the recipient's usage
    # the approval's check (``compliance.four_eyes``); unwired: the same officer only
    four_eyes: FourEyes = attrs.Factory(FourEyes)

    def waiting(self, *, after: str | None = None, limit: int = 50) -> list[Transfer]:
        """Held sends no officer decided yet, by id."""
        return in_transaction(self.uow, lambda uow: uow.wallet_transfers.held(after=after, limit=limit))

    def get(self, transfer_id: str) -> Transfer:
        """A held (or decided) send by id, for an officer; ``NotFound`` for any transfer that was never held."""
        found: Transfer | None = in_transaction(self.uow, lambda uow: uow.wallet_transfers.get(transfer_id))
        if found is None or not _was_held(found):
            raise NotFound(f"no held transfer {transfer_id!r}")
        return found

    def recipient_room(self, transfer: Transfer) -> RecipientRoom:
        """The recipient's tier now and what it may still receive today and this month (read-only; ``RecipientRoom``):
        the standing the release check reads, and the receiving totals the send's check read."""

        def read(uow: WalletUnitOfWork) -> RecipientRoom:
            profile = None if transfer.recipient_id is None else uow.kyc.get(transfer.recipient_id)
            if profile is None:
                return RecipientRoom(tier=None)
            now, standing = self.clock.now(), profile.standing()
            tier = standing.tier_at(now)
            if tier is None:
                return RecipientRoom(tier=None)
            row = PRODUCT_LIMITS.find(standing.kind, tier.level, Product.RECEIVE)
            if row is None:
                return RecipientRoom(tier=tier.label)
            totals = uow.wallet_usage.totals(
                profile.party_id, day_start=day_bounds(now)[0], month_start=month_bounds(now)[0]
            )
            zero = Money.zero(KES)
            day, month = totals.get(Product.RECEIVE.value, (zero, zero))
            return RecipientRoom(
                tier=tier.label, single=row.single, today=_left(row.daily, day), this_month=_left(row.monthly, month)
            )

        return in_transaction(self.uow, read)

    def release(self, transfer_id: str, *, officer: str, note: str, operator: str | None = None) -> Transfer:
        """Propose crediting a held send to its recipient; a second officer ``approve``s it. Never from a shell
        (``operator`` given: ``Refused``, audited by the operator)."""
        return self._propose(transfer_id, HeldSendDecision.RELEASE, officer, note, operator)

    def return_to_sender(self, transfer_id: str, *, officer: str, note: str, operator: str | None = None) -> Transfer:
        """Propose giving a held send back to its sender; a second officer ``approve``s it."""
        return self._propose(transfer_id, HeldSendDecision.RETURN, officer, note, operator)

    def approve(
        self,
        transfer_id: str,
        *,
        officer: str,
        expected: HeldSendDecision | None = None,
        operator: str | None = None,
    ) -> Transfer:
        """Carry out the release or return another officer proposed, with its note (``SameOfficer`` for its
        proposer); ``expected``: the proposal the approver read (another one now is a ``Conflict``). Never from a
        shell (``operator`` given): the second officer approves on the console or the API."""
        if operator is not None:
            raise Refused(
                f"held transfer {transfer_id} is released or returned when a second officer approves it: approve it "
                "on the console or the API (signed in with your second factor), not from the shell"
            )
        held = self._not_own(transfer_id, officer, "approve")
        proposal = _proposal(held)
        if expected is not None and proposal.decision is not expected:
            raise Conflict(f"held transfer {transfer_id} now has a {proposal.decision.value} proposed: read it again")
        now = self.clock.now()
        refused = self.four_eyes.refusal(proposal.by, officer, now=now, what=proposal.decision.value)
        if refused is not None:
            event = {"proposal": proposal.decision.value, **refused.audit_details}
            action = refused.action("wallet.held_send")
            self._audit(AuditEvent(f"user:{officer}", action, f"transfer:{transfer_id}", now, event))
            raise refused
        released = proposal.decision is HeldSendDecision.RELEASE
        value = self.value_of(held.amount) if released else None  # before the transaction: a quote has its own
        return in_transaction(self.uow, lambda uow: self._decide(uow, transfer_id, officer, proposal, value=value))

    def decline(self, transfer_id: str, *, officer: str, note: str) -> Transfer:
        """Decline (or, its proposer, withdraw) the release or return proposed: nothing moves, audited."""
        text = _note(note)
        self._not_own(transfer_id, officer, "decline")

        def work(uow: WalletUnitOfWork) -> Transfer:
            transfer, now = _locked(uow, transfer_id), self.clock.now()
            proposal = _proposal(transfer)
            transfer.proposal = None
            uow.wallet_transfers.update(transfer)
            details = {"proposal": proposal.decision.value, "proposed_by": proposal.by, "note": text}
            action = "wallet.held_send_proposal_declined"
            uow.audit.append(AuditEvent(f"user:{officer}", action, f"transfer:{transfer.id}", now, details))
            return transfer

        return in_transaction(self.uow, work)

    def keep(self, transfer_id: str, *, officer: str, note: str) -> Transfer:
        """Keep a held send held, saying why: nothing moves, audited ``wallet.held_send_kept`` (``Conflict`` while a
        release or return is proposed: decline it first)."""
        text = _note(note)
        self._not_own(transfer_id, officer, "keep")

        def work(uow: WalletUnitOfWork) -> Transfer:
            transfer, now = _locked(uow, transfer_id), self.clock.now()
            if transfer.proposal is not None:
                waiting = transfer.proposal.decision.value
                raise Conflict(f"a {waiting} of held transfer {transfer_id} is proposed: decline it before keeping it")
            transfer.kept = HeldSendKept(by=officer, at=now, note=text)
            uow.wallet_transfers.update(transfer)
            event = AuditEvent(
                f"user:{officer}", "wallet.held_send_kept", f"transfer:{transfer.id}", now, {"note": text}
            )
            uow.audit.append(event)
            return transfer

        return in_transaction(self.uow, work)

    def _propose(
        self, transfer_id: str, decision: HeldSendDecision, officer: str, note: str, operator: str | None
    ) -> Transfer:
        self.get(transfer_id)  # NotFound first, as any decision
        text = _note(note)  # checked before the refusal's record, which keeps only a valid note
        if operator is not None:  # revpass7 P4: one person would propose as one officer and approve as another
            event = {"proposal": decision.value, "officer": officer, "note": text}
            self._audit(
                AuditEvent(
                    operator,
                    "wallet.held_send_shell_proposal_refused",
                    f"transfer:{transfer_id}",
                    self.clock.now(),
                    event,
                )
            )
            raise Refused(
                f"a {decision.value} of held transfer {transfer_id} moves money, so it is proposed only by an officer "
                f"signed in with their second factor: on the console (/console/held-transfers/{transfer_id}) or the "
                f"API (POST /v1/admin/compliance/held-transfers/{transfer_id}/{decision.value}), not from the shell: "
                "the shell cannot prove which officer is at the keyboard"
            )
        held = self._not_own(transfer_id, officer, decision.value)
        # a release the recipient's standing refuses now is not proposed either (checked again at the approval)
        value = self.value_of(held.amount) if decision is HeldSendDecision.RELEASE else None

        def work(uow: WalletUnitOfWork) -> Transfer:
            transfer, now = _locked(uow, transfer_id), self.clock.now()
            if transfer.proposal is not None:
                waiting = transfer.proposal.decision.value
                raise Conflict(f"a {waiting} of held transfer {transfer_id} is proposed already: approve or decline it")
            if value is not None and transfer.recipient_id is not None:
                _may_receive(uow, transfer.recipient_id, value, now)
            transfer.proposal = HeldSendProposal(decision=decision, by=officer, at=now, note=text)
            uow.wallet_transfers.update(transfer)
            details = {"note": text}
            action = f"wallet.held_send_{decision.value}_proposed"
            uow.audit.append(AuditEvent(f"user:{officer}", action, f"transfer:{transfer.id}", now, details))
            return transfer

        return in_transaction(self.uow, work)

    def _audit(self, event: AuditEvent) -> None:
        in_transaction(self.uow, lambda uow: uow.audit.append(event))

    def _not_own(self, transfer_id: str, officer: str, action: str) -> Transfer:
        """The held send, unless the officer sent or would receive it (``OwnParty``, audited: outside review R12)."""
        held = self.get(transfer_id)
        for party in (held.sender_id, held.recipient_id):
            if party is not None:
                subject, at = f"transfer:{transfer_id}", self.clock.now()
                refuse_own_party(
                    self.uow,
                    None,
                    officer,
                    party,
                    scope="compliance",
                    action=f"held_send_{action}",
                    subject=subject,
                    at=at,
                )
        return held

    def _decide(
        self, uow: WalletUnitOfWork, transfer_id: str, officer: str, proposal: HeldSendProposal, *, value: Money | None
    ) -> Transfer:
        """Carry out ``proposal`` (the one the approver read) in the approver's name; ``value`` None: returned, else
        released, ``value`` checked against the recipient's standing now (its usage counted it when it was held)."""
        transfer = _locked(uow, transfer_id)
        if transfer.proposal != proposal:
            raise Conflict(f"the proposal on held transfer {transfer_id} changed meanwhile: read it again")
        returned = proposal.decision is HeldSendDecision.RETURN
        user_id = transfer.sender_id if returned else transfer.recipient_id
        assert user_id is not None  # a held send has a recipient wallet
        now = self.clock.now()
        if value is not None:
            _may_receive(uow, user_id, value, now)
        elif transfer.recipient_id is not None:  # counted as received when held: it never reached them
            uow.wallet_usage.remove(transfer.recipient_id, Product.RECEIVE.value, transfer.id)
        entry = flows.decide_held_send(
            self.ledger,
            transfer_id=transfer.id,
            user_id=user_id,
            amount=transfer.amount,
            returned=returned,
            session=uow.ledger,
        )
        transfer.state = TransferState.RETURNED if returned else TransferState.DELIVERED
        transfer.proposal, transfer.decided_at = None, now
        transfer.kept = None  # decided: it reads released or returned, never kept (the keep is in the audit log)
        uow.wallet_transfers.update(transfer)
        action = "wallet.held_send_returned" if returned else "wallet.held_send_released"
        details = {
            "officer": officer,
            "note": proposal.note,
            "proposed_by": proposal.by,
            "to": user_id,
            "amount": str(transfer.amount),
            "entry": entry.id,
        }
        uow.audit.append(AuditEvent(f"user:{officer}", action, f"transfer:{transfer.id}", now, details))
        return transfer


def _may_receive(uow: WalletUnitOfWork, user_id: str, value: Money, at: datetime) -> None:
    """``LimitExceeded`` when the recipient's standing now refuses ``value`` (a tier that lapsed since, review7 F2):
    counted in what it received when it was held, so its standing, not its usage again."""
    profile = uow.kyc.get(user_id)
    if profile is None:
        raise InvalidState(f"{user_id} has no KYC profile: return the send instead")
    receivable(profile.standing(), value, None, at).enforce()


def _locked(uow: WalletUnitOfWork, transfer_id: str) -> Transfer:
    """The held send, locked, still waiting for a decision (``InvalidState`` once decided)."""
    transfer = uow.wallet_transfers.get(transfer_id, lock=True)
    if transfer is None or not _was_held(transfer):
        raise NotFound(f"no held transfer {transfer_id!r}")
    if transfer.state is not TransferState.HELD:
        raise InvalidState(f"transfer {transfer_id} was decided already: {transfer.state.value}")
    return transfer


def _proposal(transfer: Transfer) -> HeldSendProposal:
    if transfer.state is not TransferState.HELD:
        raise InvalidState(f"transfer {transfer.id} was decided already: {transfer.state.value}")
    if transfer.proposal is None:
        raise InvalidState(f"no release or return of held transfer {transfer.id} is proposed")
    return transfer.proposal


def receivable(
    standing: KycStanding, value: Money, received: Mapping[str, tuple[Money, Money]] | None, at: datetime
) -> Decision:
    """Whether a wallet may receive ``value`` (KES) now by its receiving limits (``Product.RECEIVE``), counted from
    what it ``received`` (``UsageRepository.totals``' ``receive`` sums; None: nothing yet), a compliance freeze set
    aside: a frozen recipient is refused exactly when it would be unfrozen (review7 F1), what passes is held.

    >>> from cryptopay.core.kyc import PartyKind, Requirement
    >>> now = datetime(2026, 3, 2, 8, 0)
    >>> dedan = KycStanding(party_id="usr_4", kind=PartyKind.PERSONAL, level=0, expires_at=None,
    ...                     evidence=frozenset({Requirement.PHONE}), frozen=True)
    >>> receivable(dedan, Money.of("6000", KES), None, now).limit
    'receive.single'
    >>> receivable(dedan, Money.of("3000", KES), {"receive": (Money.of("8000", KES),) * 2}, now).limit
    'receive.daily'
    """
    if standing.frozen:
        standing = attrs.evolve(standing, frozen=False)
    zero = Money.zero(KES)
    day, month = (received or {}).get(Product.RECEIVE.value, (zero, zero))
    spent = Spending(zero, zero, {Product.RECEIVE: day}, {Product.RECEIVE: month})
    return check_wallet_movement(standing, Product.RECEIVE, value, spent=spent, at=at)


def _was_held(transfer: Transfer) -> bool:
    return transfer.held_at is not None


def _note(note: str) -> str:
    text = note.strip()
    if not text or len(text) > _MAX_NOTE:
        raise InvalidInput(f"a decision on a held send needs a note saying why (1 to {_MAX_NOTE} characters)")
    return text
