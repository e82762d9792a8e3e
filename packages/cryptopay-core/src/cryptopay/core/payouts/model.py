"""Payouts: the record of paying a merchant out over M-Pesa, and the payout's state machine.

A payout moves ``planned -> submitted -> completed | failed``; ``unknown`` means a Transaction Status query is
pending (the request may have reached M-Pesa but no usable result came back). From ``unknown`` only a status
answer moves it: succeeded -> completed, failed -> failed, not found -> planned again (it never reached M-Pesa, so
sending it once more with the same originator id cannot pay twice). A failed payout is retried only as a new
payout (a new attempt with a new originator id), by an operator.

>>> from datetime import datetime, timedelta, timezone
>>> from cryptopay.core.settlement import SettlementMethod
>>> now = datetime(2026, 1, 5, 14, 0, tzinfo=timezone.utc)
>>> payout = Payout(id="po_1", settlement_id="stl_1", merchant_id="m1", originator_id="po_1-1",
...                 method=SettlementMethod.MPESA_B2C, destination="254712345678", amount=Money.of(5000, "KES"),
...                 charge=Money.zero("KES"), hold_id="hld_1", created_at=now)
>>> payout.submitted(now, callbacks=(CallbackToken("d1", CallbackPurpose.RESULT, "send:1"),),
...                  check_at=now + timedelta(minutes=2))
>>> payout.answer_keys
('token:d1',)
>>> payout.unknown(now, "no answer from M-Pesa", check_at=now)
>>> payout.state.value, payout.is_final
('unknown', False)
>>> payout.completed(now, receipt="SBX1", code="0", desc="ok")
>>> payout.state.value, payout.is_final
('completed', True)
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import datetime, timedelta

import attrs
from cryptopay.core.errors import InvalidInput, InvalidState
from cryptopay.core.mobile_money.limits import B2B_TARIFF, B2C_TARIFF, Tariff
from cryptopay.core.mobile_money.requests import B2BCommand
from cryptopay.core.money import KES, Money
from cryptopay.core.settlement.model import SettlementMethod

__all__ = [
    "DEFAULT_RESULT_DEADLINE",
    "DEFAULT_UNKNOWN_BOUND",
    "B2BTarget",
    "CallbackPurpose",
    "CallbackToken",
    "Conclusion",
    "ConclusionOutcome",
    "Payout",
    "PayoutKind",
    "PayoutQuery",
    "PayoutState",
    "ReceiptCorrection",
    "StatementEvidence",
    "bank_reference",
    "mpesa_receipt",
    "token_key",
]

DEFAULT_RESULT_DEADLINE = timedelta(minutes=2)  # a result is awaited this long before Transaction Status is asked
DEFAULT_UNKNOWN_BOUND = timedelta(minutes=30)  # unknown for longer: reported, and a reconciliation difference


class PayoutState(enum.Enum):
    PLANNED = "planned"  # funds held, not yet sent to M-Pesa
    SUBMITTED = "submitted"  # sent (or being sent); waiting for the result
    UNKNOWN = "unknown"  # no usable result: a Transaction Status query decides
    COMPLETED = "completed"  # M-Pesa paid it; the hold is posted
    FAILED = "failed"  # M-Pesa definitively did not pay it; the hold is voided


class PayoutKind(enum.Enum):
    """Whose money a payout carries and why: its M-Pesa remark, and whether a merchant hears of it by webhook.

    ``settlement_id`` names the business object of the kind (a settlement, a sale, a bill, a remittance order).

    >>> PayoutKind.SALE.remark("sel_1"), PayoutKind.SALE.is_merchants
    ('Sale sel_1', False)
    """

    SETTLEMENT = "settlement"  # a merchant's settlement: ``payout.*`` webhooks to the merchant
    SALE = "sale"  # a wallet's USDT sold to its own M-Pesa number
    BILL = "bill"  # a wallet's bill paid by B2B to a biller
    REMITTANCE = "remittance"  # a remittance from abroad paid to its recipient

    def remark(self, reference: str) -> str:
        """The Remarks M-Pesa keeps with the payment (and shows on statements)."""
        return f"{self.value.capitalize()} {reference}"

    @property
    def is_merchants(self) -> bool:
        """A merchant's money: announced to the merchant (``payout.completed|failed``), settles a settlement."""
        return self is PayoutKind.SETTLEMENT


class CallbackPurpose(enum.Enum):
    """Which of a request's callback URLs a token belongs to: a token is valid on its own URL only."""

    RESULT = "result"  # a B2C/B2B Result
    TIMEOUT = "timeout"  # the payout's QueueTimeOutURL
    STATUS_RESULT = "status_result"  # a Transaction Status answer
    STATUS_TIMEOUT = "status_timeout"  # the status query's QueueTimeOutURL

    @property
    def is_status(self) -> bool:
        return self in (CallbackPurpose.STATUS_RESULT, CallbackPurpose.STATUS_TIMEOUT)

    @property
    def is_timeout(self) -> bool:
        return self in (CallbackPurpose.TIMEOUT, CallbackPurpose.STATUS_TIMEOUT)


@attrs.frozen
class CallbackToken:
    """One callback URL's secret (its digest), recorded and committed before the request naming it is sent.

    ``request`` names that request (``send:<n>`` for the n-th B2C/B2B submission, else a status query's id);
    ``used_at`` is set by the first answer, so the token works once.
    """

    digest: str
    purpose: CallbackPurpose
    request: str
    used_at: datetime | None = None


def bank_reference(text: str | None) -> str:
    """A bank reference as kept and compared: without spaces or case (statements write ``FT 26337 ABC`` as often as
    not, and an admin may type ``ft26337abc``). One function for the payouts, which refuse a reference booked on
    another payout already, and the reconciliation, which matches a statement's debits: the two agree on what one
    debit is (LASTREAD reader1 L-2)."""
    return "".join((text or "").split()).upper()


def mpesa_receipt(text: str | None) -> str:
    """M-Pesa's receipt (its TransactionID) as kept and compared: trimmed, upper case, as M-Pesa writes it
    (``NLJ7RT61SV``). Every receipt entering is made so (a conclusion proposed or approved, a correction, M-Pesa's
    results and status answers, a statement's rows), so ``sbx0000004`` typed by an admin is ``SBX0000004``'s payout
    already, not a second payment (review13 R13-12).

    >>> mpesa_receipt(" nlj7rt61sv "), mpesa_receipt(None)
    ('NLJ7RT61SV', '')
    """
    return (text or "").strip().upper()


def token_key(digest: str) -> str:
    """The answer key under which a callback token's digest finds its payout."""
    return f"token:{digest}"


@attrs.frozen(kw_only=True)
class B2BTarget:
    """Where an M-Pesa B2B payment goes: a paybill and its account (a bank, a biller) or a till (buy goods).

    Resolved when the payout is planned and kept on it, so a later change of the bank catalogue never redirects a
    payout in flight. A bill payment is the same target (e.g. KPLC ``888880`` with the meter number).

    >>> B2BTarget.paybill("247247", "0170123456789")
    B2BTarget(command=<B2BCommand.PAYBILL: 'BusinessPayBill'>, party='247247', account_reference='0170123456789')
    """

    command: B2BCommand
    party: str
    account_reference: str = ""

    @classmethod
    def paybill(cls, paybill: str, account: str) -> B2BTarget:
        if not account.strip() or len(account) > 13:
            raise InvalidInput("a paybill account reference is 1 to 13 characters")
        return cls(command=B2BCommand.PAYBILL, party=paybill, account_reference=account)

    @classmethod
    def till(cls, till: str) -> B2BTarget:
        return cls(command=B2BCommand.BUY_GOODS, party=till)


@attrs.frozen(kw_only=True)
class PayoutQuery:
    """One Transaction Status query about a payout, recorded before it is sent; M-Pesa's ids once it answers."""

    query_id: str
    asked_at: datetime
    originator_id: str | None = None  # the query's own OriginatorConversationID (M-Pesa's)
    conversation_id: str | None = None
    outcome: str | None = None  # what its answer said of the payout (an ``Outcome`` value), once it named the payout


class ConclusionOutcome(enum.Enum):
    """What M-Pesa's own record says of a payout whose outcome is unknown to us."""

    FAILED = "failed"  # not on M-Pesa's statement covering its send, or Transaction Status: failed / not found
    COMPLETED = "completed"  # on it (or Transaction Status: paid), with M-Pesa's receipt


@attrs.frozen(kw_only=True)
class StatementEvidence:
    """What M-Pesa's statement (uploaded as a conclusion's evidence) showed of one payout, kept with the proposal: the
    file by its sha256 (the finance team keeps the file; a statement names every other payee of the period, so each
    proposal keeps only what bears on its payout), its Short Code and period, how many payments it lists, and the
    payment with the proposed receipt (a completion; None for a failure: none could be the payout's). A failure
    whose payment the statement shows reversed by M-Pesa (a ``Reversal`` row linked to it: the money back in the
    account) keeps that payment and its reversal (``reversed_receipt``, ``reversal``, ``reversed_at``: R13-11)."""

    digest: str  # sha256 of the file as read
    shortcode: str
    covers_from: datetime
    covers_to: datetime
    payments: int  # payment rows (B2C, B2B) on the statement
    receipt: str | None = None  # the row of a completion: its receipt, time and amount
    paid_at: datetime | None = None
    paid: Money | None = None
    reversed_receipt: str | None = None  # a failure's payment the statement shows reversed, and its reversal
    reversal: str | None = None
    reversed_at: datetime | None = None

    @property
    def summary(self) -> str:
        """One line for the record (``M-Pesa statement of Short Code 600000, ... sha256:ab12...``)."""
        of = f"M-Pesa statement of Short Code {self.shortcode}, {self.covers_from.isoformat()} to "
        shown = f"{of}{self.covers_to.isoformat()} (sha256:{self.digest[:12]}, {self.payments} payments)"
        if self.receipt is None and self.reversed_receipt is not None:
            at = self.reversed_at.isoformat() if self.reversed_at else "?"
            return f"{shown}: payment {self.reversed_receipt} reversed by M-Pesa ({self.reversal} at {at})"
        if self.receipt is None:
            return f"{shown}: no payment that could be this payout's"
        return f"{shown}: receipt {self.receipt}, {self.paid} at {self.paid_at.isoformat() if self.paid_at else '?'}"


@attrs.frozen(kw_only=True)
class Conclusion:
    """One staff member's proposal to end a payout whose outcome is unknown from M-Pesa's own record (four-eyes:
    a second staff member approves it, ``Payouts.approve_conclusion``). ``evidence``: the record read (the
    statement's file and period, or a Transaction Status answer), kept with the payout and in the audit log."""

    outcome: ConclusionOutcome
    receipt: str | None  # M-Pesa's receipt of the payment, for a completion
    evidence: str
    note: str
    by: str  # the proposer (``user:<id>`` on the API, ``ops:<login>`` from the shell)
    at: datetime
    approved_by: str | None = None  # the second person, once approved (the payout is then final)
    approved_at: datetime | None = None
    statement: StatementEvidence | None = None  # the statement uploaded as evidence, as it bears on the payout

    @property
    def summary(self) -> str:
        """``completed with receipt X by <who>`` or ``failed by <who>``."""
        paid = f" with receipt {self.receipt}" if self.receipt else ""
        return f"{self.outcome.value}{paid} by {self.by}"


@attrs.frozen(kw_only=True)
class ReceiptCorrection:
    """One admin's proposal to correct the M-Pesa receipt a concluded payout was booked with (a receipt mistyped from
    the statement), approved by a second (``Payouts.approve_receipt_correction``). Only the reference changes: the
    ledger is untouched (the money moved as booked). Approved, it is kept in ``Payout.corrections``, the old receipt
    with it."""

    before: str | None  # the receipt it was booked with
    receipt: str  # the receipt proposed in its place
    reason: str
    by: str
    at: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None


@attrs.define(kw_only=True)
class Payout:
    """One M-Pesa payment to a merchant's destination, funded by a ledger hold."""

    id: str
    settlement_id: str
    merchant_id: str
    originator_id: str | None  # our OriginatorConversationID; for B2B, M-Pesa's (None until it answers)
    method: SettlementMethod
    destination: str
    amount: Money
    charge: Money
    hold_id: str
    created_at: datetime
    attempt: int = 1
    retry_of: str | None = None
    state: PayoutState = PayoutState.PLANNED
    callbacks: tuple[CallbackToken, ...] = ()  # every callback token ever issued for this payout's requests
    submitted_at: datetime | None = None
    check_at: datetime | None = None  # when to ask Transaction Status if no result came
    conversation_id: str | None = None
    queries: tuple[PayoutQuery, ...] = ()
    receipt: str | None = None
    result_code: str | None = None
    result_desc: str | None = None
    note: str | None = None  # why it is unknown, or what an operator should look at
    unknown_since: datetime | None = None  # when it last became unknown (the bound on unknown runs from here)
    overdue_since: datetime | None = None  # when it was reported as unknown for too long
    finished_at: datetime | None = None
    retried_by: str | None = None
    b2b: B2BTarget | None = None  # set for a B2B payment (bank by paybill, bill); None for B2C and bank transfers
    exported_at: datetime | None = None  # a bank transfer: when it was first written to a bank file
    held: str | None = None  # why it waits, still planned: the float cannot cover it yet (None: free to send)
    held_since: datetime | None = None
    biller_token: str | None = None  # a prepaid biller's token, when its B2B result carried one (see wallets.bills)
    # Who M-Pesa says the receiving number is registered to: the name part of a B2C success's
    # ``ReceiverPartyPublicName`` (``2547... - NAME``; personal data, sealed at rest), None when it gave none
    receiver_name: str | None = None
    kind: PayoutKind = PayoutKind.SETTLEMENT
    conclusion: Conclusion | None = None  # an operator's conclusion from M-Pesa's record, awaiting a second person
    correction: ReceiptCorrection | None = None  # a receipt correction proposed, awaiting a second admin
    corrections: tuple[ReceiptCorrection, ...] = ()  # the receipt corrections approved, oldest first

    @property
    def remark(self) -> str:
        """``Settlement stl_…``, ``Sale sel_…``, ``Bill bil_…`` or ``Remittance rem_…``."""
        return self.kind.remark(self.settlement_id)

    @property
    def is_final(self) -> bool:
        return self.state in (PayoutState.COMPLETED, PayoutState.FAILED)

    @property
    def receipt_from_staff(self) -> bool:
        """Completed over M-Pesa on two admins' word (an approved conclusion), so its receipt is one staff typed from
        M-Pesa's statement: what a receipt correction may change (``Payouts.propose_receipt_correction``)."""
        concluded = self.conclusion
        return (
            self.state is PayoutState.COMPLETED
            and not self.is_bank_transfer
            and concluded is not None
            and concluded.approved_by is not None
            and concluded.outcome is ConclusionOutcome.COMPLETED
        )

    def hold_back(self, now: datetime, reason: str) -> bool:
        """Keep a planned payout from being sent, saying why; True when it was not held already."""
        if self.state is not PayoutState.PLANNED:
            raise InvalidState(f"payout {self.id} is {self.state.value}: only a planned payout is held back")
        fresh = self.held is None
        self.held, self.held_since = reason, self.held_since if not fresh else now
        return fresh

    def release(self) -> None:
        """The float covers it again: free to be sent."""
        self.held = self.held_since = None

    @property
    def is_bank_transfer(self) -> bool:
        """Paid by an operator's bank transfer (the bank file), not over M-Pesa."""
        return self.method is SettlementMethod.BANK and self.b2b is None

    @property
    def route(self) -> str:
        """How it is paid: ``b2c``, ``BusinessPayBill <paybill> <account>``, ``BusinessBuyGoods <till>`` or
        ``bank_transfer`` (an operator's, from the bank file)."""
        if self.is_bank_transfer:
            return "bank_transfer"
        if self.b2b is None:
            return "b2c" if self.is_b2c else self.method.value
        return " ".join(filter(None, (self.b2b.command.value, self.b2b.party, self.b2b.account_reference)))

    @property
    def party(self) -> str:
        """Who M-Pesa pays: the phone (B2C), the paybill or till (B2B); a bank transfer's destination."""
        if self.b2b is not None:
            return self.b2b.party
        return self.destination.split("#", 1)[0]

    def awaiting_transfer(self, now: datetime) -> None:
        """A bank transfer handed to operators: no M-Pesa request will ever be made, so no status query is due."""
        self._require(PayoutState.PLANNED)
        if not self.is_bank_transfer:
            raise InvalidState(f"payout {self.id} is paid over M-Pesa, not by a bank transfer")
        self.state, self.submitted_at, self.check_at = PayoutState.SUBMITTED, now, None
        self.note = "awaiting a bank transfer (cryptopay payouts bank-file), then two admins confirming it on the API"

    @property
    def is_b2c(self) -> bool:
        return self.method is SettlementMethod.MPESA_B2C

    @property
    def mpesa_tariff(self) -> Tariff | None:
        """M-Pesa's own charge table for this payout's rail: B2C's bands (``B2C_TARIFF``) for a payment to a phone;
        ``B2B_TARIFF`` for a paybill, a till, a bank by paybill or a bill (not in our data yet: None); None for a
        bank transfer (paid from the bank, not M-Pesa)."""
        if self.is_b2c:
            return B2C_TARIFF
        return None if self.is_bank_transfer else B2B_TARIFF

    @property
    def mpesa_charge(self) -> Money:
        """What M-Pesa takes from our float for paying this payout, on top of its amount (its tariff's band of the
        amount sent), whoever bears it: the platform's expense, whatever the merchant or the wallet was charged.

        >>> from datetime import datetime, timezone
        >>> at = datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> payout = Payout(id="po_1", settlement_id="stl_1", merchant_id="m1", originator_id="po_1-1",
        ...                 method=SettlementMethod.MPESA_B2C, destination="254712345678",
        ...                 amount=Money.of(3000, "KES"), charge=Money.zero("KES"), hold_id="hld_1", created_at=at)
        >>> str(payout.mpesa_charge), str(attrs.evolve(payout, method=SettlementMethod.MPESA_TILL).mpesa_charge)
        ('9.00 KES', '0.00 KES')
        """
        tariff = self.mpesa_tariff
        return tariff.charge(self.amount) if tariff is not None else Money.zero(KES)

    @property
    def submissions(self) -> int:
        """How many times this payout was handed to M-Pesa (a NOT_FOUND status answer allows one more)."""
        return sum(1 for c in self.callbacks if c.purpose is CallbackPurpose.RESULT)

    def submitted(self, now: datetime, *, callbacks: tuple[CallbackToken, ...], check_at: datetime) -> None:
        """About to call M-Pesa: from here on the payout is never sent again without a status answer."""
        self._require(PayoutState.PLANNED)
        self.callbacks = (*self.callbacks, *callbacks)
        self.state, self.submitted_at, self.check_at = PayoutState.SUBMITTED, now, check_at

    def acknowledged(self, *, originator_id: str | None, conversation_id: str | None) -> None:
        """M-Pesa accepted the request; remember its ids to match the result."""
        if originator_id:
            self.originator_id = originator_id
        self.conversation_id = conversation_id or self.conversation_id

    def unknown(self, now: datetime, note: str, *, check_at: datetime) -> None:
        """No usable result: ask Transaction Status at ``check_at`` (news of a planned one proves it was sent)."""
        if self.is_final:
            raise InvalidState(f"payout {self.id} is already {self.state.value}")
        if self.state is not PayoutState.UNKNOWN:
            self.unknown_since = now
        self.state, self.note, self.check_at = PayoutState.UNKNOWN, note, check_at

    def asking(self, query: PayoutQuery, callbacks: tuple[CallbackToken, ...], *, check_at: datetime) -> None:
        """A status query is about to be sent: record it and its tokens; ask again at ``check_at`` if it is lost."""
        self.queries = (*self.queries, query)
        self.callbacks = (*self.callbacks, *callbacks)
        self.check_at = check_at

    def query_answered(self, query_id: str, *, originator_id: str | None, conversation_id: str | None) -> None:
        """M-Pesa's own ids for a status query (from its acknowledgement or its answer)."""
        self.queries = tuple(
            attrs.evolve(
                q,
                originator_id=q.originator_id or originator_id,
                conversation_id=q.conversation_id or conversation_id,
            )
            if q.query_id == query_id
            else q
            for q in self.queries
        )

    def query_outcome(self, query_id: str, outcome: str) -> None:
        """The answer to status query ``query_id`` said ``outcome`` of this payout."""
        self.queries = tuple(attrs.evolve(q, outcome=outcome) if q.query_id == query_id else q for q in self.queries)

    def failure_confirmed(self) -> bool:
        """A failed payout M-Pesa may retry: nothing to ask about (no id, a bank transfer), or a Transaction Status
        query asked since it failed said failed or not found."""
        if self.originator_id is None or self.is_bank_transfer:
            return True
        concluded = self.conclusion
        if concluded is not None and concluded.approved_by and concluded.outcome is ConclusionOutcome.FAILED:
            return True  # M-Pesa's own record showed it unpaid, read by two people
        return any(q.outcome in ("failed", "not_found") for q in self._queries_since_failure())

    def asked_since_failure(self, now: datetime, wait: timedelta) -> bool:
        """A status query about this failed payout is still awaited (asked since it failed, within ``wait``)."""
        return any(q.outcome is None and now - q.asked_at < wait for q in self._queries_since_failure())

    def _queries_since_failure(self) -> Iterator[PayoutQuery]:
        since = self.finished_at
        return (q for q in self.queries if since is None or q.asked_at >= since)

    def paid_after_all(
        self, now: datetime, *, receipt: str | None, code: str | None, desc: str, name: str | None = None
    ) -> None:
        """Transaction Status found a failed payout paid: it is completed (its hold was voided: the caller books it);
        ``name``: who M-Pesa says the receiving number is registered to, if it said."""
        self._require(PayoutState.FAILED)
        self.receiver_name = name or self.receiver_name
        self.state, self.result_code, self.result_desc = PayoutState.COMPLETED, code, desc
        self.receipt = mpesa_receipt(receipt) or None
        self.finished_at, self.check_at, self.note = now, None, "paid after all: Transaction Status found it paid"

    def query(self, query_id: str) -> PayoutQuery | None:
        """The status query recorded under our ``query_id``."""
        return next((q for q in self.queries if q.query_id == query_id), None)

    def callback(self, digest: str) -> CallbackToken | None:
        """The callback token with this digest, if it was issued for this payout."""
        return next((c for c in self.callbacks if c.digest == digest), None)

    def use_callback(self, digest: str, now: datetime) -> None:
        """The token's one answer arrived: it will not be accepted again."""
        self.callbacks = tuple(attrs.evolve(c, used_at=now) if c.digest == digest else c for c in self.callbacks)

    @property
    def answer_keys(self) -> tuple[str, ...]:
        """Every key an answer may find this payout by: its callback tokens, its status queries' ids."""
        keys = [token_key(c.digest) for c in self.callbacks]
        for q in self.queries:
            keys += [f"query:{q.originator_id}"] if q.originator_id else []
            keys += [f"query-conversation:{q.conversation_id}"] if q.conversation_id else []
        return tuple(keys)

    def is_latest(self, query: PayoutQuery) -> bool:
        """Whether ``query`` is the newest one, asked after the payout was last submitted."""
        sent = self.submitted_at
        return (
            bool(self.queries)
            and self.queries[-1].query_id == query.query_id
            and (sent is None or query.asked_at >= sent)
        )

    def overdue(self, now: datetime, bound: timedelta) -> bool:
        """Unknown for longer than ``bound`` and not yet reported."""
        since = self.unknown_since
        return self.state is PayoutState.UNKNOWN and since is not None and now - since > bound

    def returned(self, note: str) -> None:
        """M-Pesa certainly did not act on the request (throttled, token expired): send it again later."""
        self._require(PayoutState.SUBMITTED)
        self.state, self.check_at, self.note = PayoutState.PLANNED, None, note

    def completed(
        self,
        now: datetime,
        *,
        receipt: str | None,
        code: str | None,
        desc: str,
        token: str | None = None,
        name: str | None = None,
    ) -> None:
        """M-Pesa paid it (a result for a planned payout means it was sent after all); ``token``: a prepaid
        biller's, if the result carried one; ``name``: who M-Pesa says the receiving number is registered to."""
        if self.is_final:
            raise InvalidState(f"payout {self.id} is {self.state.value}; it cannot complete")
        self.biller_token = token or self.biller_token
        self.receiver_name = name or self.receiver_name
        self.state, self.result_code, self.result_desc = PayoutState.COMPLETED, code, desc
        self.receipt = mpesa_receipt(receipt) or None  # as compared: one receipt is one payment (R13-12)
        self.finished_at, self.check_at = now, None

    def failed(self, now: datetime, *, code: str | None, desc: str) -> None:
        if self.is_final:
            raise InvalidState(f"payout {self.id} is already {self.state.value}")
        self.state, self.result_code, self.result_desc = PayoutState.FAILED, code, desc
        self.finished_at, self.check_at = now, None

    def not_found(self, now: datetime) -> None:
        """M-Pesa never saw it: it may be sent again (the same originator id keeps that safe)."""
        self._require(PayoutState.UNKNOWN)
        self.state, self.check_at, self.note = PayoutState.PLANNED, None, f"not found at M-Pesa at {now.isoformat()}"
        self.unknown_since = self.overdue_since = None

    def _require(self, state: PayoutState) -> None:
        if self.state is not state:
            raise InvalidState(f"payout {self.id} is {self.state.value}, not {state.value}")
