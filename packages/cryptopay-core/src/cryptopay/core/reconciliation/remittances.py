"""The remittance desk's check: its USDT liability holds exactly what the orders still hold for their senders.

Every USDT a remittance order's address receives is credited to ``liabilities:merchant:remittances:USDT``; an order
takes its price out when it is converted (``flows.convert_remittance``; reversed when it is refunded instead) and the
refund machinery holds the rest on its way back (less the network's fee; an excess below the refund floor is kept
whole: ``revenue:remittance_dust:USDT``). So per order, what it still holds is: received (credits not reversed) less
what it took (its price, once converted and not reversed) less its refunds that have not failed, less what it kept. An
order awaiting payment, being refunded or held for an operator may hold anything; any other (paying out, paid out,
expired, refunded) holds nothing once its excess refund was asked (``Remittances.refund_excess``, every worker run),
so one still holding USDT an hour after its last payment is a difference: an excess nobody sent back. And the
account holds exactly the sum over every order: a stuck amount that is no order's is a difference too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptopay.core.flows import merchant_liability
from cryptopay.core.money import USDT, Money
from cryptopay.core.payments.model import RefundState
from cryptopay.core.reconciliation.model import Difference, Records
from cryptopay.core.remittances.model import DESK, RemittanceState

__all__ = ["EXCESS_GRACE", "needs_remittances", "remittances_owed"]

EXCESS_GRACE = timedelta(hours=1)
_HOLD_NOTHING = (
    RemittanceState.PAYING_OUT,
    RemittanceState.PAID_OUT,
    RemittanceState.EXPIRED,
    RemittanceState.REFUNDED,
)


def needs_remittances(records: Records) -> str:
    return "" if records.remittances is not None else "no remittance store is configured"


def remittances_owed(records: Records) -> list[Difference]:
    """The remittance desk's USDT (less refunds on their way) is what the orders hold for their senders; an order
    paid out, paying out, expired or refunded holds nothing an hour after its last payment (its excess refunded)."""
    books = records.remittances
    if books is None:
        return []
    zero = Money.zero(USDT)
    received: dict[str, Money] = {}
    last: dict[str, datetime] = {}
    for credit in records.credits:
        exists, reversed_ = records.credit_entries.get(credit.entry_id, (True, False))
        if credit.merchant_id == DESK and exists and not reversed_ and credit.received.asset == USDT:
            received[credit.invoice_id] = received.get(credit.invoice_id, zero) + credit.received
            last[credit.invoice_id] = max(last.get(credit.invoice_id, credit.credited_at), credit.credited_at)
    refunded: dict[str, Money] = {}
    for refund in records.refunds:
        if refund.merchant_id == DESK and refund.state is not RefundState.FAILED and refund.amount.asset == USDT:
            refunded[refund.invoice_id] = refunded.get(refund.invoice_id, zero) + refund.amount
    found: list[Difference] = []
    total = zero
    for order in books.orders:
        took = order.usdt if order.conversion_entry_id and order.id not in books.unconverted else zero
        kept = order.kept()  # dust below the refund floor and refunds' network fees: the platform's, not owed
        holds = received.get(order.invoice_id, zero) - took - refunded.get(order.invoice_id, zero) - kept
        total += holds
        since = last.get(order.invoice_id)
        if not holds.is_zero() and order.state in _HOLD_NOTHING and since and records.at - since > EXCESS_GRACE:
            found.append(
                Difference(
                    f"remittance {order.id} ({order.state.value})",
                    "nothing held: its price taken, the rest refunded",
                    f"{holds} held",
                    order.excess_note or "not refunded: `cryptopay refunds create` to its refund address",
                )
            )
    if total != books.liability:
        found.append(
            Difference(
                merchant_liability(DESK, USDT),
                f"{total} held for {len(books.orders)} orders",
                f"{books.liability} in the books (less refunds on their way)",
                f"off by {books.liability - total}",
            )
        )
    return found
