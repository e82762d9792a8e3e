"""The personal wallets' checks: the books' wallet accounts against the wallets, their buys and their transfers.

A wallet's balances are ledger accounts (``liabilities:wallet:<user>:<ASSET>``): what we owe the person, never
negative, and never less than what its pending holds (a sale or a bill on its way to M-Pesa) take out. A buy paid by
STK Push brings shillings into ``assets:mpesa_collections:KES``: the account must hold exactly the shillings of the
credited buys and of the payments to the paybill outside an STK prompt (C2B) not returned or reversed, each buy
naming its ledger entry (``buy:<id>:credit``), while a failed or open buy books nothing; the paybill suspense account
holds exactly the payments waiting there for an operator.
A transfer to a number with no wallet waits in ``liabilities:wallet_claims:<ASSET>``: the account must hold exactly
the transfers awaiting a claim, and none may wait past its window for longer than ``CLAIM_GRACE`` (the worker
returns expired claims every ten minutes); a send held for a frozen recipient waits in
``liabilities:p2p_held:<ASSET>``, which must hold exactly the held sends (review4 R6). A wallet's sales and bills are
payouts like a merchant's: the snapshot lists them with the rest, so the payout checks (holds, in flight, receipts,
M-Pesa's statement) cover them too.

>>> buy_entry_key("buy_1")
'buy:buy_1:credit'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from cryptopay.core import flows
from cryptopay.core.money import KES, Money
from cryptopay.core.reconciliation.model import Difference, Records, WalletBooks, shown_number
from cryptopay.core.wallets.buys import STK_ANSWER_BOUND, BuyState, overdue
from cryptopay.core.wallets.model import Transfer

__all__ = [
    "CLAIM_GRACE",
    "WalletBooks",
    "buy_entry_key",
    "buys_collected",
    "claims_match_transfers",
    "claims_returned",
    "needs_wallets",
    "wallet_balances_hold",
]

CLAIM_GRACE = timedelta(hours=1)


def buy_entry_key(buy_id: str) -> str:
    """The idempotency key of a buy's credit entry (``flows.credit_buy``)."""
    return flows.buy_key(buy_id)


def needs_wallets(records: Records) -> str:
    return "" if records.wallets is not None else "no wallet store is configured"


def wallet_balances_hold(records: Records) -> list[Difference]:
    """No wallet owes a negative amount, and none has holds (sales, bills) beyond its posted balance."""
    found: list[Difference] = []
    for code, balance in sorted((records.wallets.balances if records.wallets else {}).items()):
        posted, held = balance.posted, balance.pending_out
        if posted.is_negative():
            found.append(Difference(code, "never negative", f"{posted} posted"))
        elif held > posted:
            found.append(Difference(code, f"holds within {posted} posted", f"{held} held", f"short by {held - posted}"))
    return found


def buys_collected(records: Records) -> list[Difference]:
    """M-Pesa collections hold exactly the shillings of the credited STK buys; each credited buy has its entry and
    a failed or open one has none; none stays open past the STK answer bound (R10-12)."""
    books = records.wallets
    if books is None:
        return []
    found: list[Difference] = []
    credited = [b for b in books.buys if b.state is BuyState.CREDITED]
    for buy in books.buys:
        booked = books.buy_entries.get(buy.id, False)
        if buy.state is BuyState.CREDITED and not booked:
            found.append(Difference(f"buy {buy.id} (credited)", f"entry {buy_entry_key(buy.id)}", "no ledger entry"))
        elif buy.state is not BuyState.CREDITED and booked:
            expected = "nothing booked"
            found.append(Difference(f"buy {buy.id} ({buy.state.value})", expected, f"entry {buy_entry_key(buy.id)}"))
        if overdue(buy, records.at):  # R10-12: M-Pesa never gave a final answer and the worker has not failed it
            found.append(
                Difference(
                    f"buy {buy.id} ({buy.state.value})",
                    f"credited or failed within {STK_ANSWER_BOUND} of its prompt",
                    f"open since {buy.created_at.isoformat()} after {buy.queries} STK queries",
                    f"KES {buy.kes.amount} for wallet {buy.user_id}: the worker fails it at its next STK query, or "
                    f"`cryptopay wallets stk-fail {buy.id} --note ...` (STK Query asked once more first)",
                )
            )
    kept = [p for p in books.paybill if p.booked and not p.given_back]
    want = sum((b.kes for b in credited), Money.zero(KES)) + sum((p.kes for p in kept), Money.zero(KES))
    if books.collections != want:
        also = f" and {len(kept)} paybill payments" if kept else ""
        found.append(
            Difference(
                flows.MPESA_COLLECTIONS,
                f"{want} from {len(credited)} credited buys{also}",
                f"{books.collections} in the books",
                f"off by {books.collections - want}",
            )
        )
    return found + _suspense_holds(books)


def _suspense_holds(books: WalletBooks) -> list[Difference]:
    """The paybill suspense account holds exactly the payments waiting there for an operator."""
    waiting = [p for p in books.paybill if p.in_suspense]  # a reversal of one in flight keeps it there
    want = sum((p.kes for p in waiting), Money.zero(KES))
    if books.suspense == want:
        return []
    expected = f"{want} from {len(waiting)} paybill payments in suspense"
    detail = f"off by {books.suspense - want}"
    return [Difference(flows.PAYBILL_SUSPENSE, expected, f"{books.suspense} in the books", detail)]


def claims_match_transfers(records: Records) -> list[Difference]:
    """Each asset's wallet-claims account holds exactly the transfers awaiting a claim, and its held-sends account
    exactly the sends held for a frozen recipient (review4 R6)."""
    books = records.wallets
    if books is None:
        return []
    claims = _holds("liabilities:wallet_claims:{}", books.waiting, books.claims, "awaiting {} claims")
    return claims + _holds("liabilities:p2p_held:{}", books.held, books.held_balances, "held in {} sends")


def _holds(account: str, transfers: Sequence[Transfer], balances: Mapping[str, Money], what: str) -> list[Difference]:
    """Each asset's ``account`` (a format of the asset code) against the sum of ``transfers`` in that asset."""
    want: dict[str, Money] = {}
    for transfer in transfers:
        code = transfer.asset.code
        want[code] = want[code] + transfer.amount if code in want else transfer.amount
    found: list[Difference] = []
    for code in sorted(set(want) | set(balances)):
        expected, actual = want.get(code), balances.get(code)
        if (expected is None or expected.is_zero()) and (actual is None or actual.is_zero()):
            continue
        if expected != actual:
            count = sum(1 for t in transfers if t.asset.code == code)
            found.append(
                Difference(
                    account.format(code),
                    f"{expected or 'nothing'} {what.format(count)}",
                    f"{actual or 'nothing'} in the books",
                )
            )
    return found


def claims_returned(records: Records) -> list[Difference]:
    """No transfer waits for its recipient more than an hour past its claim window: it goes back to its sender."""
    books = records.wallets
    return [
        Difference(
            f"transfer {t.id} (awaiting_claim)",
            f"returned to {t.sender_id} by {t.claim_expires_at.isoformat(timespec='seconds')}",
            "still awaiting a claim",
            f"{t.amount} to {shown_number(t.recipient_phone)}",
        )
        for t in (books.overdue if books else ())
        if t.claim_expires_at is not None
    ]
