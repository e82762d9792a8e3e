"""Which of our payouts an M-Pesa statement's payment row is: the one rule reconciliation and a conclusion share.

A row carrying a payout's receipt is that payout's. A row whose receipt no payout carries (M-Pesa paid, our books
never learned it) may be a payout not completed in our books that it could pay (``could_pay``): the same amount and
receiving party (paybill, till or phone), completed at or after the payout's send and, for a paybill payment, for
its account number when the row shows one (``A/C No.``, else ``Acc. <account>`` at the end of its Details, as the
portal writes a pay-bill payment; review12 R12-9: two payouts of one amount to one paybill, for two accounts, are
told apart only by it). A payout M-Pesa may still pay (``submitted``, ``unknown``) is what a row could be before one
failed in our books: a failed one is looked at only for a row no open payout not already another row's could be
(M-Pesa paid what we think failed, e.g. a failed original after its retry's row: reader2 L2-1).

A row that only one payout could be is that payout's (the first such row, in the statement's order: a second one is
none of ours). A row that two or more payouts could equally be is ``ambiguous``: the statement does not say which of
them M-Pesa paid, so neither reconciliation's advice nor a conclusion takes it as any one's (it is not "the
oldest"), even when one of them is another row's: which is which is for M-Pesa's record of the payment or the payee
to say, and once one of them is concluded (completed with its receipt, booked) the row is the other's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
from cryptopay.core.mobile_money.phones import mask_msisdn, try_normalize_msisdn
from cryptopay.core.money import Money
from cryptopay.core.payouts.model import Payout, PayoutState

if TYPE_CHECKING:  # the reconciliation package imports the payouts': read only its types here
    from cryptopay.core.reconciliation.statement import Statement, StatementLine

__all__ = [
    "Placed",
    "account_of",
    "accounts_agree",
    "could_pay",
    "is_its",
    "place",
    "reversals",
    "same_account",
    "same_party",
    "shown_account",
]


def account_of(line: StatementLine) -> str:
    """The account number a row says it paid (a pay-bill payment's): its ``A/C No.``, else the ``Acc. <account>``
    that ends its Details; "" when it shows none.

    >>> from datetime import UTC, datetime
    >>> from cryptopay.core.reconciliation.statement import StatementLine
    >>> row = StatementLine(receipt="R1", completed_at=datetime(2026, 1, 5, tzinfo=UTC), status="Completed",
    ...     reason_type="Business Pay Bill", details="Business Pay Bill to 888880 - KPLC PREPAID Acc. 37100012345")
    >>> account_of(row), account_of(attrs.evolve(row, account_no=" 222222 ")), account_of(attrs.evolve(row, details=""))
    ('37100012345', '222222', '')
    """
    if line.account_no.strip():
        return line.account_no.strip()
    head, sep, said = line.details.rpartition(" Acc. ")
    return said.strip() if sep and head.strip() else ""


def shown_account(text: str) -> str:
    """An account number in a message: a phone masked (personal data), a meter, bank or other account whole.

    >>> shown_account("0712000001"), shown_account(" 37100012345 ")
    ('2547******01', '37100012345')
    """
    phone = try_normalize_msisdn("".join(text.split()))
    return mask_msisdn(phone) if phone is not None else text.strip()


def same_account(ours: str, theirs: str) -> bool:
    """Two account numbers compared: a phone in any form people write it, else the text without spaces or case.

    >>> same_account("0712 000 001", "254712000001"), same_account("acc 18", "ACC18"), same_account("111", "222")
    (True, True, False)
    """
    return _key(ours) == _key(theirs)


def _key(text: str) -> str:
    compact = "".join(text.split())
    return try_normalize_msisdn(compact) or compact.casefold()


def same_party(payout: Payout, line: StatementLine) -> bool:
    """The row's party number (portals mask digits with ``*``) is the payout's (paybill, till or phone); a row
    naming none agrees."""
    pattern, number = line.party_number, payout.party
    if not pattern:
        return True
    return len(pattern) == len(number) and all(p in ("*", n) for p, n in zip(pattern, number, strict=True))


def accounts_agree(payout: Payout, line: StatementLine) -> bool:
    """The row's account number is the payout's (a paybill payment's AccountReference), or either has none (a B2C
    or till payment, a row showing no account)."""
    ours = payout.b2b.account_reference if payout.b2b is not None else ""
    theirs = account_of(line)
    return not ours.strip() or not theirs or same_account(ours, theirs)


def is_its(payout: Payout, line: StatementLine) -> bool:
    """Whether the row shows ``payout``'s payment by its amount, party and account (for a paybill payment whose row
    shows one): a row booked on a payout it is not (reader2 L2-3: a receipt named by a slip) is not that payout's."""
    return line.withdrawn == payout.amount and same_party(payout, line) and accounts_agree(payout, line)


def could_pay(payout: Payout, line: StatementLine) -> bool:
    """Whether the payment row could be ``payout``'s, by what both show: its amount, its party, its account (for a
    paybill payment whose row shows one), completed at or after its send (to the second, as statements write)."""
    sent = payout.submitted_at
    return sent is not None and is_its(payout, line) and line.completed_at >= sent.replace(microsecond=0)


@attrs.frozen
class Placed:
    """What a payment row is: ``payout`` (by its receipt, or the only payout it could be), else the payouts it could
    equally be (``could_be``, two or more: ``ambiguous``), else none of ours."""

    payout: Payout | None = None
    could_be: tuple[Payout, ...] = ()

    @property
    def ambiguous(self) -> bool:
        return self.payout is None and len(self.could_be) > 1


def _unsettled(payout: Payout) -> bool:
    """A payout a row without its receipt may be: sent over M-Pesa and not completed in our books."""
    return payout.state not in (PayoutState.COMPLETED, PayoutState.PLANNED) and not payout.is_bank_transfer


def place(rows: Sequence[StatementLine], payouts: Sequence[Payout], booked: Mapping[str, Payout]) -> list[Placed]:
    """Each payment row's ``Placed``, in ``rows``' order: by its receipt (``booked``: the payouts carrying a receipt,
    by it), else among ``payouts`` not completed and not booked by another row (oldest first) as the module says."""
    placed: list[Payout | None] = [booked.get(line.receipt) for line in rows]
    taken = {p.id for p in placed if p is not None}
    pool = sorted((p for p in payouts if _unsettled(p) and p.id not in taken), key=lambda p: (p.created_at, p.id))
    found: list[Placed] = []
    for line, payout in zip(rows, placed, strict=True):
        if payout is not None:
            found.append(Placed(payout))
            continue
        fits = [p for p in pool if could_pay(p, line)]
        open_ = [p for p in fits if not p.is_final]  # one M-Pesa may still pay before one failed in our books
        if len(open_) > 1:
            found.append(Placed(could_be=tuple(open_)))
            continue
        if open_ and open_[0].id not in taken:
            taken.add(open_[0].id)
            found.append(Placed(open_[0]))
            continue
        # no untaken open payout could be it (reader2 L2-1: the retry's row came first): a failed one M-Pesa paid
        failed = [p for p in fits if p.is_final and p.id not in taken]
        if len(failed) == 1:
            taken.add(failed[0].id)
            found.append(Placed(failed[0]))
        else:
            found.append(Placed(could_be=tuple(failed) if len(failed) > 1 else ()))
    return found


def reversals(statement: Statement) -> dict[str, StatementLine]:
    """The statement's completed reversals putting money back into the account, by the receipt each reverses (the
    first, in file order): a payout's payment reversed by M-Pesa (R13-11). Only a payment reversed whole: the
    reversals linked to one receipt put back exactly what that payment took (lastread L3-5: a KES 1 reversal of a
    KES 1,000 payment undoes none of it; the payment stands, and reconciliation reports the reversal)."""
    paid = {line.receipt: line.withdrawn for line in statement.lines if line.withdrawn.is_positive()}
    back: dict[str, list[StatementLine]] = {}
    for line in statement.lines:
        if line.is_reversal and line.paid_in.is_positive() and line.linked_receipt:
            back.setdefault(line.linked_receipt, []).append(line)
    found: dict[str, StatementLine] = {}
    for receipt, lines in back.items():
        whole = paid.get(receipt)
        if whole is not None and sum((line.paid_in for line in lines), Money.zero(whole.asset)) == whole:
            found[receipt] = lines[0]
    return found
