"""The wallet deposits' checks: every deposit's booking against the ledger, and the suspense account of held ones.

A confirmed deposit is booked once per generation (``deposit:<id>:g<n>:credit``): Dr custody / Cr the wallet, or
Cr ``liabilities:deposits_held:<ASSET>`` while held. A deposit whose booking stands (credited, held, or withdrawn
with its reversal still owed) has its credit entry and no reversal; any other has neither or both. The suspense
account holds exactly the held deposits. Custody itself is checked with the invoices' credits
(``books.custody_matches_credits`` counts standing deposits) and against the chains (the wallet addresses are in
the deposit-address table the on-chain check reads).
"""

from __future__ import annotations

from cryptopay.core.money import Money
from cryptopay.core.reconciliation.model import Difference, Records
from cryptopay.core.wallets.deposit import DepositState

__all__ = ["deposits_booked", "held_matches_deposits", "needs_deposits"]


def needs_deposits(records: Records) -> str:
    return "" if records.deposits is not None else "no deposit store is configured"


def deposits_booked(records: Records) -> list[Difference]:
    """A standing deposit has its generation's credit entry and no reversal; any other has neither or both."""
    books = records.deposits
    found: list[Difference] = []
    for deposit in books.deposits if books else ():
        credited, reversed_ = books.entries.get(deposit.id, (False, False)) if books else (False, False)
        subject = f"deposit {deposit.id} ({deposit.state.value})"
        if deposit.standing and (not credited or reversed_):
            got = "no credit entry" if not credited else "its credit reversed"
            found.append(Difference(subject, f"entry {deposit.key('credit')} standing", got))
        elif not deposit.standing and credited and not reversed_:
            found.append(Difference(subject, "nothing booked, or booked and reversed", "a standing credit entry"))
    return found


def held_matches_deposits(records: Records) -> list[Difference]:
    """Each asset's ``deposits_held`` account holds exactly the deposits held (and not released)."""
    books = records.deposits
    if books is None:
        return []
    want: dict[str, Money] = {}
    for deposit in books.deposits:
        held = deposit.state is DepositState.HELD or (deposit.standing and deposit.hold_reason is not None)
        if held:
            code = deposit.asset.code
            want[code] = want[code] + deposit.amount if code in want else deposit.amount
    found: list[Difference] = []
    for code in sorted(set(want) | set(books.held)):
        expected, actual = want.get(code), books.held.get(code)
        if (expected is None or expected.is_zero()) and (actual is None or actual.is_zero()):
            continue
        if expected != actual:
            account = f"liabilities:deposits_held:{code}"
            found.append(Difference(account, f"{expected or 'nothing'} held", f"{actual or 'nothing'} in the books"))
    return found
