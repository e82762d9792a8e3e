"""Answers from M-Pesa kept because no recorded request named them yet: matched later, never dropped.

>>> from datetime import datetime, timezone
>>> from cryptopay.core.payouts.model import CallbackPurpose
>>> now = datetime(2026, 1, 5, 14, 0, tzinfo=timezone.utc)
>>> answer = UnmatchedAnswer(id="ans_1", received_at=now, purpose=CallbackPurpose.STATUS_RESULT, body="{}")
>>> answer.tried(now, "po_1")
>>> answer.matched_at == now, answer.payout_id
(True, 'po_1')
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from cryptopay.core.payouts.model import CallbackPurpose

__all__ = ["KEEP_TRYING_FOR", "UnmatchedAnswer"]

KEEP_TRYING_FOR = timedelta(days=7)


@attrs.define(kw_only=True)
class UnmatchedAnswer:
    """One Daraja answer as received (raw JSON), from an allowed source, whose URL token named no request."""

    id: str
    received_at: datetime
    purpose: CallbackPurpose
    body: str
    attempts: int = 0
    matched_at: datetime | None = None  # when it was matched to a payout, or given up on
    payout_id: str | None = None

    def tried(self, now: datetime, payout_id: str | None) -> None:
        """One matching attempt: closed when it named a payout or after ``KEEP_TRYING_FOR``."""
        self.attempts += 1
        if payout_id is not None or now - self.received_at > KEEP_TRYING_FOR:
            self.matched_at, self.payout_id = now, payout_id
