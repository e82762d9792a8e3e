"""What merchants and customers are told of an M-Pesa result: fixed wording per result code, never M-Pesa's text.

M-Pesa's ``ResultDesc`` is M-Pesa talking to us, and some of it says more than a customer should hear: on B2C, code
1 "The balance is insufficient for the transaction" means *our* float is low, and 2001 "The initiator information is
invalid" that our credentials are wrong. Decision: every outward representation (REST views, webhook payloads, the
dashboard's and portal's pages, SMS) shows the wording of ``payout_wording`` (B2C and B2B payouts, bills, sales,
remittances) or ``stk_wording`` (a customer's own STK Push, where 1 is *their* balance), a fixed text per code with a
generic fallback; the raw text stays in the payout's ``result_desc`` for operators (the CLI, the console, the audit
log and reconciliation).

>>> payout_wording("1"), payout_wording("R000002"), payout_wording(None)
('M-Pesa could not complete the payment at this time.', 'M-Pesa did not complete the payment.', None)
>>> stk_wording("1")
'your M-Pesa balance is not enough for this purchase'
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["PAYOUT_FALLBACK", "PAYOUT_WORDING", "STK_FALLBACK", "STK_WORDING", "payout_wording", "stk_wording"]

PAYOUT_WORDING: Mapping[str, str] = {
    "0": "Paid by M-Pesa.",
    "1": "M-Pesa could not complete the payment at this time.",  # B2C: our float is short: never said outside
    "17": "M-Pesa refused a second payment of the same amount to the same number within two minutes.",
    "26": "M-Pesa was too busy to take the payment.",
    "1019": "The payment request expired before M-Pesa completed it.",
    "1032": "The payment request was cancelled.",
    "1037": "The phone could not be reached.",
    "2001": "M-Pesa refused the payment request.",  # B2C: our initiator's credentials: never said outside
    "2040": "The number is not registered for M-Pesa.",
}
PAYOUT_FALLBACK = "M-Pesa did not complete the payment."

STK_WORDING: Mapping[str, str] = {
    "1032": "you cancelled the M-Pesa prompt",
    "1037": "your phone could not be reached: check it is on and has signal, then try again",
    "1": "your M-Pesa balance is not enough for this purchase",
    "2001": "the M-Pesa PIN was wrong",
    "1019": "the M-Pesa prompt expired before it was answered",
    "17": "M-Pesa refused a repeat of the same amount within two minutes: try again shortly",
    "26": "M-Pesa was too busy: try again in a minute",
}
STK_FALLBACK = "M-Pesa did not complete the payment"


def payout_wording(code: str | None) -> str | None:
    """The outward wording of a payout's result code (None while there is no result)."""
    if code is None or code == "":
        return None
    return PAYOUT_WORDING.get(code.strip(), PAYOUT_FALLBACK)


def stk_wording(code: str | None) -> str:
    """The outward wording of a failed STK Push, told to the customer who was prompted."""
    return STK_WORDING.get((code or "").strip(), STK_FALLBACK)
