"""Payouts: paying a merchant's shillings out over M-Pesa, from the plan to a final result.

- ``model``: ``Payout`` and its state machine (``planned -> submitted -> completed | failed``, ``unknown`` until a
  Transaction Status answer);
- ``service``: the ``Payouts`` use case (submit, handle results, query stale payouts, operator retries);
- ``_outcomes``: completing or failing a payout (ledger, audit, webhook event) and finishing its settlement.

The postings live with every other posting in ``cryptopay.core.flows``; planning payouts is
``cryptopay.core.settlement``.
"""

from cryptopay.core.payouts.model import Payout, PayoutKind, PayoutQuery, PayoutState
from cryptopay.core.payouts.service import (
    DEFAULT_RESULT_DEADLINE,
    QUEUE_TIMEOUT_CODE,
    AwaitingStatus,
    Payouts,
    PayoutUrls,
    paid_to,
)

__all__ = [
    "DEFAULT_RESULT_DEADLINE",
    "QUEUE_TIMEOUT_CODE",
    "AwaitingStatus",
    "Payout",
    "PayoutKind",
    "PayoutQuery",
    "PayoutState",
    "PayoutUrls",
    "Payouts",
    "paid_to",
]
