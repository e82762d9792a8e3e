"""What a result means for our money: transaction-status answers, STK reconciliation, balance strings.

>>> balances = parse_account_balance(
...     "Working Account|KES|700000.00|700000.00|0.00|0.00&Utility Account|KES|228037.00|228037.00|0.00|0.00")
>>> str(balances["Utility Account"])
'228037.00 KES'
"""

from __future__ import annotations

from cryptopay.core.mobile_money.results import MpesaResult, Outcome
from cryptopay.core.money import Money

__all__ = ["NOT_FOUND_CODE", "net_of_charges", "parse_account_balance", "reconcile_stk", "status_outcome"]

# The sandbox's answer for a status query about a transaction it never saw (Daraja's own text varies).
NOT_FOUND_CODE = "TransactionNotFound"
_DONE = frozenset({"completed", "success", "successful"})
_FAILED = frozenset({"failed", "cancelled", "canceled", "declined", "expired", "reversed"})


def status_outcome(result: MpesaResult) -> Outcome:
    """The state of the queried transaction in a Transaction Status result (not of the query itself)."""
    if result.result_code == NOT_FOUND_CODE or "not found" in result.result_desc.lower():
        return Outcome.NOT_FOUND
    if result.outcome is not Outcome.SUCCEEDED:
        return Outcome.PENDING  # the query failed: we learnt nothing, ask again later
    state = (result.param("TransactionStatus") or "").strip().lower()
    if state in _DONE:
        return Outcome.SUCCEEDED
    if state in _FAILED:
        return Outcome.FAILED
    return Outcome.PENDING


def reconcile_stk(callback: MpesaResult | None, query: MpesaResult | None) -> Outcome:
    """Combine an STK callback and an STK query answer; disagreement stays PENDING for a status query by receipt.

    Daraja's STK query has reported FAILED for payments that succeeded, and callbacks are unsigned, so
    neither alone is trusted when they disagree.
    """
    outcomes = {r.outcome for r in (callback, query) if r is not None}
    if not outcomes or Outcome.PENDING in outcomes or len(outcomes) > 1:
        return Outcome.PENDING
    return outcomes.pop()


def parse_account_balance(value: str) -> dict[str, Money]:
    """``"Name|KES|available|current|reserved|uncleared&..."`` as available balance per account name."""
    balances: dict[str, Money] = {}
    for account in filter(None, (part.strip() for part in value.split("&"))):
        fields = account.split("|")
        if len(fields) >= 3:
            balances[fields[0]] = Money.of(fields[2], fields[1])
    return balances


def net_of_charges(utility: Money, charges_paid: Money | None) -> Money:
    """What M-Pesa holds for our payouts: the Utility Account plus the Charges Paid Account (its own charges so far,
    negative), the figure the books' float (which pays each charge: ``flows.mpesa_charge_entry``) is compared with.
    Safaricom's sample answers show the B2C charges taken there (``Charges Paid Account|KES|-1540.00``, a B2C
    result's ``B2CChargesPaidAccountAvailableFunds`` -1980.00), not from the Utility Account. The sum assumes a
    charge is in the Charges Paid Account only, never also taken from the Utility Account (Safaricom's sample; to
    verify on the first live float check, docs/operations.md "Float low"): otherwise it counts each charge twice.

    >>> str(net_of_charges(Money.of("228037.00", "KES"), Money.of("-1540.00", "KES")))
    '226497.00 KES'
    """
    return utility + charges_paid if charges_paid is not None else utility
