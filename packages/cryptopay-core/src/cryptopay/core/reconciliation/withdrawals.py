"""The wallet withdrawals' checks: every withdrawal's hold and entry against its state, and the in-flight accounts.

A withdrawal holds amount + fee from the wallet towards ``liabilities:wallet_withdrawals_in_flight:<ASSET>`` when it
is requested. While it is open (requested or sent) the hold is pending; once confirmed the hold is posted and its
custody entry (``withdrawal:<id>:send``) exists, so the in-flight account is back to zero for it; once failed the
hold is voided and nothing was paid out. So each in-flight account's pending credits are exactly the open
withdrawals' totals, and its posted balance is zero. A withdrawal whose transaction the network dropped even after a
rebroadcast (``Withdrawal.stuck``) holds its coins in flight until an operator resolves it: the check names each
one, with the command that settles it. Custody itself is checked with the credits and deposits
(``books.custody_matches_credits`` subtracts the confirmed withdrawals).
"""

from __future__ import annotations

from cryptopay.core.ledger import HoldState
from cryptopay.core.money import Money
from cryptopay.core.reconciliation.model import Difference, Records
from cryptopay.core.wallets.withdrawal_model import WithdrawalState

__all__ = ["in_flight_matches_withdrawals", "needs_withdrawals", "withdrawals_booked"]

_HOLD_FOR = {
    WithdrawalState.REQUESTED: HoldState.PENDING,
    WithdrawalState.SENT: HoldState.PENDING,
    WithdrawalState.CONFIRMED: HoldState.POSTED,
    WithdrawalState.FAILED: HoldState.VOIDED,
}


def needs_withdrawals(records: Records) -> str:
    return "" if records.withdrawals is not None else "no withdrawal store is configured"


def withdrawals_booked(records: Records) -> list[Difference]:
    """Each withdrawal's hold is pending while it is open, posted once confirmed (with its custody entry), voided once
    failed (with no custody entry)."""
    books = records.withdrawals
    found: list[Difference] = []
    for w in books.withdrawals if books else ():
        assert books is not None
        subject = f"withdrawal {w.id} ({w.state.value})"
        hold, want = books.holds.get(w.hold_id), _HOLD_FOR[w.state]
        if hold is None or hold.state is not want:
            found.append(Difference(subject, f"hold {w.hold_id} {want.value}", hold.state.value if hold else "no hold"))
        sent = books.sent.get(w.id, False)
        if sent != (w.state is WithdrawalState.CONFIRMED):
            found.append(Difference(subject, f"custody entry {'present' if not sent else 'absent'}", f"sent={sent}"))
    return found


def in_flight_matches_withdrawals(records: Records) -> list[Difference]:
    """Each asset's in-flight account has the open withdrawals' totals pending and nothing posted; no withdrawal
    is stuck in flight (dropped by the network after a rebroadcast: ``cryptopay withdrawals resolve ID``)."""
    books = records.withdrawals
    if books is None:
        return []
    want: dict[str, Money] = {}
    found: list[Difference] = []
    for w in books.withdrawals:
        if w.state.open:
            code = w.asset.code
            want[code] = want[code] + w.total if code in want else w.total
        if w.stuck:
            found.append(
                Difference(
                    f"withdrawal {w.id} (sent, {w.total} held)",
                    "confirmed, or resolved by an operator",
                    f"{w.failure}: `cryptopay withdrawals resolve {w.id}`",
                )
            )
    for code in sorted(set(want) | set(books.in_flight)):
        balance = books.in_flight.get(code)
        account = f"liabilities:wallet_withdrawals_in_flight:{code}"
        pending = Money.of(balance.credits_pending, code) if balance else None
        expected = want.get(code)
        if (expected or Money.zero(code)) != (pending or Money.zero(code)):
            found.append(Difference(account, f"{expected or 'nothing'} pending", f"{pending or 'nothing'} pending"))
        if balance is not None and not balance.posted.is_zero():
            found.append(Difference(account, "nothing posted", f"{balance.posted} posted"))
    return found
