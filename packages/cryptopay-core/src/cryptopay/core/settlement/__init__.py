"""Settlement: when and how a merchant is paid out, and the run that converts its balance and plans the payouts.

- ``model`` (re-exported here): ``SettlementSchedule``, ``SettlementMethod``, ``SettlementProfile`` (a merchant's
  choice) and ``Settlement`` (one run at one cut-off);
- ``policy``: ``SettlementPolicy`` (cut-offs in Nairobi time) and ``plan_payouts`` (whole shillings, M-Pesa's sizes
  and daily limits); also re-exported by ``cryptopay.core``;
- ``service``: the ``Settling`` use case (convert at a locked quote, hold each payout's shillings).

Only the model is re-exported here: the identity model (a merchant's settlement profile) imports it, while the
policy and the use case import identity and M-Pesa modules, so importing them here would make a cycle.
The postings live with every other posting in ``cryptopay.core.flows``; sending the payouts is
``cryptopay.core.payouts``.
"""

from cryptopay.core.settlement.model import (
    Settlement,
    SettlementMethod,
    SettlementProfile,
    SettlementSchedule,
    SettlementState,
)

__all__ = ["Settlement", "SettlementMethod", "SettlementProfile", "SettlementSchedule", "SettlementState"]
