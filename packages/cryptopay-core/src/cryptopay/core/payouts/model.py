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
>>> payout.submitted(now, token_digest="d", check_at=now + timedelta(minutes=2))
>>> payout.unknown(now, "no answer from M-Pesa", check_at=now)
>>> payout.state.value, payout.is_final
('unknown', False)
>>> payout.completed(now, receipt="SBX1", code="0", desc="ok")
>>> payout.state.value, payout.is_final
('completed', True)
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs
from cryptopay.core.errors import InvalidState
from cryptopay.core.money import Money
from cryptopay.core.settlement.model import SettlementMethod

__all__ = ["Payout", "PayoutQuery", "PayoutState"]


class PayoutState(enum.Enum):
    PLANNED = "planned"  # funds held, not yet sent to M-Pesa
    SUBMITTED = "submitted"  # sent (or being sent); waiting for the result
    UNKNOWN = "unknown"  # no usable result: a Transaction Status query decides
    COMPLETED = "completed"  # M-Pesa paid it; the hold is posted
    FAILED = "failed"  # M-Pesa definitively did not pay it; the hold is voided


@attrs.frozen
class PayoutQuery:
    """One Transaction Status query about a payout: its own originator id and its callback token's digest."""

    originator_id: str
    token_digest: str
    asked_at: datetime


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
    token_digest: str | None = None
    submitted_at: datetime | None = None
    check_at: datetime | None = None  # when to ask Transaction Status if no result came
    conversation_id: str | None = None
    queries: tuple[PayoutQuery, ...] = ()
    receipt: str | None = None
    result_code: str | None = None
    result_desc: str | None = None
    note: str | None = None  # why it is unknown, or what an operator should look at
    finished_at: datetime | None = None
    retried_by: str | None = None

    @property
    def is_final(self) -> bool:
        return self.state in (PayoutState.COMPLETED, PayoutState.FAILED)

    @property
    def is_b2c(self) -> bool:
        return self.method is SettlementMethod.MPESA_B2C

    def submitted(self, now: datetime, *, token_digest: str, check_at: datetime) -> None:
        """About to call M-Pesa: from here on the payout is never sent again without a status answer."""
        self._require(PayoutState.PLANNED)
        self.state, self.token_digest, self.submitted_at, self.check_at = (
            PayoutState.SUBMITTED,
            token_digest,
            now,
            check_at,
        )

    def acknowledged(self, *, originator_id: str | None, conversation_id: str | None) -> None:
        """M-Pesa accepted the request; remember its ids to match the result."""
        if originator_id:
            self.originator_id = originator_id
        self.conversation_id = conversation_id or self.conversation_id

    def unknown(self, now: datetime, note: str, *, check_at: datetime) -> None:
        """No usable result: ask Transaction Status at ``check_at`` (news of a planned one proves it was sent)."""
        if self.is_final:
            raise InvalidState(f"payout {self.id} is already {self.state.value}")
        self.state, self.note, self.check_at = PayoutState.UNKNOWN, note, check_at

    def asked(self, query: PayoutQuery, *, check_at: datetime) -> None:
        """A status query was sent; ask again at ``check_at`` if its answer is lost too."""
        self.queries = (*self.queries, query)
        self.check_at = check_at

    def query(self, originator_id: str | None) -> PayoutQuery | None:
        """The status query sent with this originator id, if it was ours."""
        return next((q for q in self.queries if originator_id and q.originator_id == originator_id), None)

    def is_latest(self, query: PayoutQuery) -> bool:
        """Whether ``query`` is the newest one, asked after the payout was last submitted."""
        sent = self.submitted_at
        return bool(self.queries) and self.queries[-1] == query and (sent is None or query.asked_at >= sent)

    def returned(self, note: str) -> None:
        """M-Pesa certainly did not act on the request (throttled, token expired): send it again later."""
        self._require(PayoutState.SUBMITTED)
        self.state, self.check_at, self.note = PayoutState.PLANNED, None, note

    def completed(self, now: datetime, *, receipt: str | None, code: str | None, desc: str) -> None:
        """M-Pesa paid it (a result for a planned payout means it was sent after all)."""
        if self.is_final:
            raise InvalidState(f"payout {self.id} is {self.state.value}; it cannot complete")
        self.state, self.receipt, self.result_code, self.result_desc = PayoutState.COMPLETED, receipt, code, desc
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

    def _require(self, state: PayoutState) -> None:
        if self.state is not state:
            raise InvalidState(f"payout {self.id} is {self.state.value}, not {state.value}")
