"""Our books against the outside world: M-Pesa's statement and Account Balance, the chains' balances.

The database agreeing with itself proves little when a lost callback leaves a payout ``unknown`` that M-Pesa
paid: only M-Pesa's own record can show it. So payouts are matched against the statement export by receipt
(M-Pesa's TransactionID), and a paid row whose receipt no payout carries is matched among the payouts not
completed in our books by amount, receiving party and, for a paybill payment, the account number its row shows
(``payouts.matching``), which names the payout M-Pesa paid while we think it failed or do not know; a row two or
more payouts could equally be is reported ambiguous, naming them, with no advice to conclude any (review12 R12-9:
"the oldest" of two payouts of one amount to one paybill was advised completed, the paid one failed). A reversal
row linked to one of our payouts' receipts (M-Pesa took the money back) and a withdrawal of a Reason Type the check
does not know are differences too, never skipped.

The collections (``Paid In`` rows of STK Push and C2B reason types) are matched with the wallets' buys the same way:
each buy credited within the statement's period must be one collection row with its receipt, amount and phone; a
collection no buy carries (a second collection, or one for a buy that failed in our books) and a reversal of a
credited buy's receipt are differences. A payment to the paybill outside an STK prompt (C2B: credited to a wallet,
held in suspense, released, returned or reversed) is matched by its TransID: one row for its amount, once booked for
the account number (``A/C No.``) and payer its confirmation named (review7 F3: credited to another wallet than M-Pesa
recorded it for), reversed on the statement exactly when an operator returned it or M-Pesa's Reversal gave it back
(an unverified payment reversed too: the money came and went), and every one received within the period is on it.

The statement's period is what its ``Time Period`` line (or the operator, ``--from``/``--to``) says, never its first
to its last row (review6 F3): without one both checks are skipped, the source counted unread (``cryptopay
reconcile`` exits 7); an empty statement of a period in which we completed payouts or credited buys shows each of
them missing. A statement of a Short Code that is not ours is refused before any check (``Reconciliation``). A
statement belongs to one Short Code: the payouts are matched with the statement of the payouts' Short Code (the
B2C/B2B PartyA), the collections with the statement of the collections' (the STK Push and C2B paybill), the same
statement when one Short Code is both (``Shortcodes``); a check with no statement of its Short Code is skipped.

A bank-transfer payout (paid by an operator from the bank file, its bank reference confirmed by two staff) is matched
with the settlement bank account's statement (``bank_statement``) by that reference and its exact amount: a
confirmed transfer within the statement's period and not debited on it, a debit no transfer of ours carries, an
amount that differs, a transfer debited twice or returned by the bank are differences. Without a bank statement the
check is skipped while any bank transfer was confirmed (``--require-outside`` exits 7; reviewer10 R10-7).

The float is compared with Account Balance, and each custody account with what the chain holds at our deposit and
hot-wallet addresses.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from cryptopay.core import flows
from cryptopay.core.invoices import is_confirmed
from cryptopay.core.mobile_money.phones import try_normalize_msisdn
from cryptopay.core.money import KES, Money
from cryptopay.core.payments.model import RefundState
from cryptopay.core.payouts import matching
from cryptopay.core.payouts.matching import account_of
from cryptopay.core.payouts.model import Conclusion, ConclusionOutcome, Payout, PayoutState, bank_reference
from cryptopay.core.reconciliation.bank_statement import BankLine, BankStatement
from cryptopay.core.reconciliation.model import (
    Difference,
    Records,
    shown_destination,
    shown_details,
    shown_number,
    shown_party,
)
from cryptopay.core.reconciliation.statement import Statement, StatementLine
from cryptopay.core.wallets.buys import Buy, BuyState
from cryptopay.core.wallets.deposit import DepositState
from cryptopay.core.wallets.paybill import PaybillPayment, PaybillState
from cryptopay.core.wallets.withdrawal_model import WithdrawalState

__all__ = [
    "ANSWER_GRACE",
    "answers_matched",
    "bank_transfers_match_bank",
    "chains_unread",
    "custody_on_chain",
    "float_matches_balance",
    "needs_balance",
    "needs_bank",
    "needs_chains",
    "needs_collection_statement",
    "needs_statement",
    "statement_matches_collections",
    "statement_matches_payouts",
    "statement_unread",
]


def needs_statement(records: Records) -> str:
    """Why the payouts cannot be matched with a statement: none of their Short Code given, or its period unknown."""
    return _needs(records, records.payout_statement, "payouts")


def bank_transfers_match_bank(records: Records) -> list[Difference]:
    """Every bank-transfer payout completed (its bank reference confirmed by two staff) whose debit must fall within
    the bank statement's period (``_debited_within``) is one debit on it, by its reference, for its exact amount;
    every debit is one of them; no transfer of ours came back as a credit; no reference is carried by two completed
    transfers (one debit paid one of them: LASTREAD reader1 L-2). A debit whose reference another bank transfer's
    proposed confirmation names is one still awaiting its second person."""
    statement = records.bank_statement
    if statement is None:
        return []
    banked = [p for p in records.payouts if p.is_bank_transfer]
    carried: dict[str, list[Payout]] = {}
    for transfer in banked:
        if transfer.state is PayoutState.COMPLETED and transfer.receipt:
            carried.setdefault(_reference(transfer.receipt), []).append(transfer)
    done = {key: payouts[0] for key, payouts in carried.items()}
    proposed = {_reference(c.receipt): p for p in banked if (c := _awaiting_approval(p)) is not None}
    found: list[Difference] = []
    matched: set[str] = set()
    debited = {_reference(line.reference) for _, line in statement.debits}
    for key, sharing in carried.items():
        if len(sharing) > 1 and (key in debited or any(_debited_within(p, statement.period) for p in sharing)):
            found.append(_one_debit_two_payouts(key, sharing))
    for number, line in statement.debits:
        key = _reference(line.reference)
        payout = done.get(key)
        if payout is None:
            found.append(_debit_unplaced(number, line, proposed.get(key)))
        elif payout.id in matched:
            found.append(Difference(_bank_subject(payout), "debited once", "a second debit", _debit(number, line)))
        else:
            matched.add(payout.id)
            if payout.amount != line.debit:
                paid = f"{payout.amount} paid"
                found.append(Difference(_bank_subject(payout), paid, f"{line.debit} debited", _debit(number, line)))
    for key, payout in done.items():
        if payout.id not in matched and len(carried[key]) == 1 and _debited_within(payout, statement.period):
            detail = f"{payout.amount} to {payout.destination}, confirmed {payout.finished_at}"
            expected = f"bank reference {payout.receipt} debited on the bank's statement"
            found.append(Difference(_bank_subject(payout), expected, "not on it", detail))
    return found + _bank_returns(statement, done)


def _one_debit_two_payouts(key: str, payouts: list[Payout]) -> Difference:
    """Two completed transfers carrying one bank reference: one debit paid one of them, the other payee was not paid
    while the books say both were (references confirmed before they were kept canonical, or written in by hand)."""
    ids = ", ".join(p.id for p in payouts)
    detail = f"{ids}: " + "; ".join(f"{p.amount} to {p.destination}" for p in payouts)
    return Difference(f"bank reference {key}", "one completed transfer", f"{len(payouts)} completed transfers", detail)


def _debited_within(payout: Payout, covers: tuple[datetime, datetime]) -> bool:
    """Whether a completed transfer's debit must lie within a statement's period (LASTREAD reader1 L-5): it left
    our bank account after it was first written to the bank file (``exported_at``; without one, after it was
    submitted)
    and before an admin said it had left (the confirmation's proposal; without one, its completion). The second
    admin's approval, often a day or more later, says nothing of when the bank debited it. A transfer whose window
    straddles the period is left to a statement covering the whole window (a weekly one), not reported as missing
    from a day's statement that may well not hold its debit."""
    earliest = payout.exported_at or payout.submitted_at or payout.created_at
    said = payout.conclusion.at if payout.conclusion is not None else None
    latest = said or payout.finished_at
    return _in_period(earliest, covers) and _in_period(latest, covers)


def _reference(text: str | None) -> str:
    """A bank reference compared: without spaces or case (the payouts keep it so too)."""
    return bank_reference(text)


def _awaiting_approval(payout: Payout) -> Conclusion | None:
    """The bank confirmation proposed for a transfer still awaiting its second person, if any."""
    proposal = payout.conclusion
    if payout.state is PayoutState.SUBMITTED and proposal is not None and proposal.approved_by is None:
        return proposal
    return None


def _bank_subject(payout: Payout) -> str:
    return f"bank transfer {payout.id} ({payout.state.value})"


def _debit(number: int, line: BankLine) -> str:
    said = f"; {line.narrative}" if line.narrative else ""
    return f"row {number}: {line.debit} debited {line.on.isoformat()}, reference {line.reference}{said}"


def _debit_unplaced(number: int, line: BankLine, proposed: Payout | None) -> Difference:
    if proposed is not None:
        return Difference(
            _bank_subject(proposed),
            "completed with this reference (its confirmation approved)",
            f"confirmation proposed by {proposed.conclusion.by if proposed.conclusion else '?'}, awaiting approval",
            _debit(number, line),
        )
    return Difference(
        f"bank reference {line.reference}", "a bank transfer of ours", "none in our books", _debit(number, line)
    )


def _bank_returns(statement: BankStatement, done: dict[str, Payout]) -> list[Difference]:
    """A credit carrying a completed transfer's reference: the bank returned it (a closed or wrong account)."""
    found = []
    for number, line in enumerate(statement.lines, start=1):
        payout = done.get(_reference(line.reference)) if line.credit.is_positive() else None
        if payout is not None:
            detail = f"row {number}: {line.credit} credited {line.on.isoformat()}, reference {line.reference}"
            found.append(Difference(_bank_subject(payout), "paid in our books", "returned by the bank", detail))
    return found


def needs_bank(records: Records) -> str:
    """Why the confirmed bank transfers were not compared: no bank statement was imported (none confirmed and no
    statement: nothing to compare)."""
    if records.bank_statement is not None:
        return ""
    confirmed = [p for p in records.payouts if p.is_bank_transfer and p.state is PayoutState.COMPLETED]
    if not confirmed:
        return ""
    return (
        f"bank not compared: {len(confirmed)} confirmed bank transfer(s) and no bank statement was imported "
        "(--bank-statement)"
    )


def needs_collection_statement(records: Records) -> str:
    """Why the collections cannot be matched with a statement: none of their Short Code given, or its period
    unknown."""
    return _needs(records, records.collection_statement, "collections")


def _needs(records: Records, statement: Statement | None, role: str) -> str:
    if statement is not None:
        return statement_unread(statement)
    if records.statement_shortcodes:  # a statement of our other Short Code only: never read for these records
        given = ", ".join(records.statement_shortcodes)
        return f"no M-Pesa statement of the {role} Short Code was imported (given: Short Code {given})"
    return "no M-Pesa statement was imported"


def statement_unread(statement: Statement) -> str:
    """Why a statement given cannot be compared: its period is unknown (no ``Time Period`` line and none given).
    Never inferred from its rows (review6 F3): a record missing from it could lie outside its first..last row."""
    if statement.covers is None:
        return "statement period unknown: it has no Time Period line; say which period it is of (--from, --to)"
    return ""


def needs_balance(records: Records) -> str:
    if records.mpesa_balance is None:
        return "no M-Pesa Account Balance answer"
    return "" if records.float_baseline is not None else "no float baseline (opening balance and unbooked top-ups)"


def needs_chains(records: Records) -> str:
    return "" if records.on_chain is not None else "no chain balance reader is configured"


def chains_unread(records: Records) -> str:
    """Why custody on the networks whose node failed was not compared (the other networks' still was)."""
    return "; ".join(f"{network} not read: {why}" for network, why in sorted(records.chains_unread.items()))


# --- M-Pesa ----------------------------------------------------------------------------------------------------


def _digits_match(pattern: str, number: str) -> bool:
    """A statement's party number (portals mask digits with ``*``) against one of ours."""
    return len(pattern) == len(number) and all(p in ("*", n) for p, n in zip(pattern, number, strict=True))


def _party(payout: Payout) -> str:
    return payout.party


def _other(line: StatementLine) -> str:
    """The statement's Other Party Info as a difference shows it (``shown_party``: number and name masked)."""
    return shown_party(line.other_party)


def _paid(line: StatementLine) -> str:
    return f"M-Pesa paid {line.withdrawn} to {_other(line)} (receipt {line.receipt})"


def _line_against(payout: Payout, line: StatementLine, records: Records) -> list[Difference]:
    subject = f"payout {payout.id} ({payout.state.value})"
    found = []
    if payout.state is not PayoutState.COMPLETED:
        advice = "" if payout.is_final else f"; {_paid_advice(payout, line.receipt, records)}"
        found.append(
            Difference(subject, f"{payout.state.value} as in our books", "paid by M-Pesa", _paid(line) + advice)
        )
    if payout.amount != line.withdrawn:
        found.append(Difference(subject, f"{payout.amount} paid", f"{line.withdrawn} paid", _paid(line)))
    if not matching.same_party(payout, line):
        found.append(
            Difference(
                subject,
                f"paid to {shown_number(_party(payout))}",
                f"paid to {shown_number(line.party_number)}",
                _paid(line),
            )
        )
    if not matching.accounts_agree(payout, line):  # R12-9: a paybill payment for another account than ours
        ours = payout.b2b.account_reference if payout.b2b is not None else ""
        expected, actual = f"for account {_shown_account(ours)}", f"for account {_shown_account(account_of(line))}"
        found.append(Difference(subject, expected, actual, _paid(line)))
    return found


def _ambiguous(line: StatementLine, could_be: tuple[Payout, ...]) -> Difference:
    """A payment row two or more payouts could equally be (R12-9): which one M-Pesa paid is not on the statement,
    so no conclusion is advised (the conclusion refuses it: ``statement_ambiguous``)."""
    named = ", ".join(f"{p.id} ({p.state.value})" for p in could_be)
    shown = f"for account {_shown_account(account_of(line))}" if account_of(line) else "no account number"
    return Difference(
        f"receipt {line.receipt}",
        "one payout of ours",
        f"ambiguous: payouts {named}",
        f"{_paid(line)}, {shown}: the same amount and party as each of them, so the statement does not say which "
        "M-Pesa paid: conclude none of them from it; learn which from M-Pesa (the payment's account on its portal, "
        "A/C No.) or the payee",
    )


def _two_admins(payout: Payout) -> str:
    return (
        f"two admins, each with a step-up (the console's unresolved payouts, or POST /v1/admin/payouts/{payout.id}/"
        "conclusion then .../approve)"
    )


def _still_asked(payout: Payout, records: Records) -> str | None:
    """What still decides a non-final payout before anyone may conclude it (None: only a conclusion will): its
    result (``submitted``), or Transaction Status within the bound (``unknown``: ``Payouts.propose_conclusion``
    refuses it until then)."""
    if payout.state is PayoutState.SUBMITTED:
        return (
            "it is still awaiting M-Pesa's result: its result or a Transaction Status answer decides it "
            "(`cryptopay payouts query-stale` asks now); only a payout left unknown past the bound is concluded"
        )
    since = payout.unknown_since
    if since is not None and records.at - since <= records.unknown_bound:
        return (
            f"Transaction Status is still asked; if it stays unknown past {(since + records.unknown_bound).isoformat()}"
            " it is concluded"
        )
    return None


def _paid_advice(payout: Payout, receipt: str, records: Records) -> str:
    """What to do about a non-final payout M-Pesa's statement shows paid with ``receipt``, for its state."""
    first = _still_asked(payout, records)
    if first is not None:
        return f"M-Pesa paid it: {first} completed with receipt {receipt}"
    proposed = payout.conclusion
    if proposed is None:
        return f"M-Pesa paid it: conclude completed with receipt {receipt}, {_two_admins(payout)}"
    if (proposed.outcome, proposed.receipt) == (ConclusionOutcome.COMPLETED, receipt):
        return f"M-Pesa paid it: the conclusion proposed ({proposed.summary}) awaits a second admin's approval"
    return (
        f"M-Pesa paid it with receipt {receipt}: the conclusion proposed ({proposed.summary}) is contradicted by the "
        "statement: decline it and conclude completed with this receipt"
    )


def _absent_advice(payout: Payout, records: Records) -> str:
    """What to do about a non-final payout M-Pesa's statement shows was never paid, for its state."""
    first = _still_asked(payout, records)
    if first is not None:
        return f"M-Pesa shows no such payment so far: {first} failed"
    proposed = payout.conclusion
    if proposed is None:
        return f"M-Pesa shows no such payment: conclude failed, {_two_admins(payout)}"
    if proposed.outcome is ConclusionOutcome.FAILED:
        return f"M-Pesa shows no such payment: the conclusion proposed ({proposed.summary}) awaits a second admin"
    return (
        f"M-Pesa shows no such payment: the conclusion proposed ({proposed.summary}) is contradicted by the "
        "statement: decline it"
    )


def statement_matches_payouts(records: Records) -> list[Difference]:
    """Every payment on M-Pesa's statement is one completed payout (receipt, amount, party), and every payout we
    completed within the statement's period is on it, the totals agreeing; no payout of ours was reversed by M-Pesa,
    and no withdrawal is of a kind this check does not know. The statement is the payouts' Short Code's."""
    statement = records.payout_statement
    if statement is None or (covers := statement.covers) is None:
        return []
    by_receipt = {p.receipt: p for p in records.payouts if p.receipt}
    found: list[Difference] = []
    matched: set[str] = set()
    ambiguous: set[str] = set()  # payouts a row could be, the statement not saying which: not shown absent either
    paid = [line for line in statement.lines if line.is_payout]
    misbooked: set[str] = set()  # payouts a row booked on another payout it does not match could be (L2-3)
    undone = matching.reversals(statement)  # a payment M-Pesa took back on the same statement is none (R13-11)
    given_back: set[str] = set()  # such payments of payouts not completed: the money is back, out of the totals
    for line, where in zip(paid, matching.place(paid, records.payouts, by_receipt), strict=True):
        if where.payout is not None and line.receipt in undone and where.payout.state is not PayoutState.COMPLETED:
            matched.add(where.payout.id)
            given_back.add(line.receipt)
            found += _reversed_against(where.payout, line, undone[line.receipt], records)
        elif where.payout is not None:
            matched.add(where.payout.id)
            found += _line_against(where.payout, line, records)
            if not matching.is_its(where.payout, line):
                mine = _misbooked(line, where.payout, records.payouts)
                misbooked.update(p.id for p in mine)
                found += [_booked_elsewhere(p, line, where.payout) for p in mine]
        elif where.ambiguous:
            ambiguous.update(p.id for p in where.could_be)
            found.append(_ambiguous(line, where.could_be))
        else:
            found.append(Difference(f"receipt {line.receipt}", "a payout of ours", "none in our books", _paid(line)))
    found += _payouts_reversed(statement, by_receipt) + _unrecognised_withdrawals(statement)
    # A payout on the statement belongs to its period whenever our books learned of it (a result settled by a
    # status query minutes after M-Pesa's completion time still counts); others, by when we completed them.
    ours = [
        p
        for p in records.payouts
        if p.state is PayoutState.COMPLETED and not p.is_bank_transfer and (p.id in matched or _within(p, covers))
    ]
    for payout in ours:
        if payout.id not in matched:
            detail = f"{payout.amount} to {shown_destination(payout.destination)}, completed {payout.finished_at}"
            subject = f"payout {payout.id} (completed)"
            found.append(Difference(subject, f"receipt {payout.receipt} on M-Pesa's statement", "not on it", detail))
    found += _open_not_on_statement(records, covers, matched | ambiguous | misbooked)
    return found + _totals([line for line in paid if line.receipt not in given_back], ours)


def _reversed_against(payout: Payout, line: StatementLine, back: StatementLine, records: Records) -> list[Difference]:
    """A payout not completed in our books whose payment the statement shows M-Pesa reversed (R13-11): it paid
    nothing, so a failed payout agrees, and one not final is to be concluded failed (as the conclusion reads it)."""
    if payout.is_final:
        return []
    return [
        Difference(
            f"payout {payout.id} ({payout.state.value})",
            f"{payout.state.value} as in our books",
            "paid by M-Pesa, then reversed",
            f"{_paid(line)}; {_reversal(back)}: {_reversed_advice(payout, back, records)}",
        )
    ]


def _reversed_advice(payout: Payout, back: StatementLine, records: Records) -> str:
    """What to do about a non-final payout whose payment M-Pesa reversed (``back``), for its state."""
    first = _still_asked(payout, records)
    if first is not None:
        return f"M-Pesa reversed its payment: {first} failed"
    proposed = payout.conclusion
    if proposed is None:
        paid_nothing = f"M-Pesa reversed its payment ({back.receipt}), so it paid nothing"
        return f"{paid_nothing}: conclude failed, {_two_admins(payout)}"
    if proposed.outcome is ConclusionOutcome.FAILED:
        return f"M-Pesa reversed its payment: the conclusion proposed ({proposed.summary}) awaits a second admin"
    return (
        f"M-Pesa reversed its payment ({back.receipt}): the conclusion proposed ({proposed.summary}) is contradicted "
        "by the statement: decline it and conclude failed"
    )


def _misbooked(line: StatementLine, carrier: Payout, payouts: Iterable[Payout]) -> list[Payout]:
    """The payouts not completed in our books that a row booked on ``carrier``, which it does not match (a receipt
    named by a slip: reader2 L2-3), could be: M-Pesa's statement shows one of them paid, so none is advised failed."""
    return [
        p
        for p in payouts
        if p.id != carrier.id
        and p.state not in (PayoutState.COMPLETED, PayoutState.PLANNED)
        and not p.is_bank_transfer
        and matching.could_pay(p, line)
    ]


def _booked_elsewhere(payout: Payout, line: StatementLine, carrier: Payout) -> Difference:
    """A payout a row could be whose receipt is booked on another payout the row does not match (reader2 L2-3):
    concluding it failed could pay it twice, so no failure is advised."""
    return Difference(
        f"payout {payout.id} ({payout.state.value})",
        f"{payout.state.value} as in our books (paid or not: M-Pesa's record says)",
        f"receipt {line.receipt} could be its payment, booked on payout {carrier.id}",
        f"{_paid(line)}: the row could be this payout's and is booked on payout {carrier.id}, which it does not "
        f"match: check payout {carrier.id}'s receipt against M-Pesa's record of the payment (whose it is); do not "
        "conclude this payout failed (it could be paid twice)",
    )


def _open_not_on_statement(records: Records, covers: tuple[datetime, datetime], matched: set[str]) -> list[Difference]:
    """A payout sent over M-Pesa and not final in our books (``submitted``, ``unknown``) that M-Pesa's statement
    does not show although it covers the send and the unknown bound after it (a request M-Pesa took is paid within
    it): M-Pesa shows no such payment (R10-4: an unknown B2B payout absent from the statement reconciled clean). A
    statement shows nothing after it was read (``records.at``), whatever its period says (a day's statement read at
    noon), so a payout sent within the bound of that proves nothing yet and is no difference here. What to do is
    the payout's state's (``_absent_advice``). Its presence is ``_line_against``'s (paid by M-Pesa)."""
    start, end = covers[0], min(covers[1], records.at)
    found = []
    for payout in records.payouts:
        if payout.is_final or payout.is_bank_transfer or payout.state is PayoutState.PLANNED or payout.id in matched:
            continue
        sent = payout.submitted_at
        if sent is None or sent.replace(microsecond=0) < start or sent + records.unknown_bound > end:
            continue
        found.append(
            Difference(
                f"payout {payout.id} ({payout.state.value})",
                f"{payout.state.value} as in our books (paid or not: M-Pesa's record says)",
                "not on M-Pesa's statement",
                f"{payout.kind.value} {payout.amount} to {shown_destination(payout.destination)}, sent "
                f"{sent.isoformat()}: {_absent_advice(payout, records)}",
            )
        )
    return found


def _reversal(line: StatementLine) -> str:
    moved = f"put {line.paid_in} back" if line.paid_in.is_positive() else f"took {line.withdrawn} out"
    return f"M-Pesa {moved} reversing {line.linked_receipt or '?'} (receipt {line.receipt}, {_other(line)})"


def _payouts_reversed(statement: Statement, by_receipt: dict[str, Payout]) -> list[Difference]:
    """A reversal putting money back into the account: of one of our payouts (M-Pesa took it back from its payee,
    our books still say paid), or of a receipt that is neither ours nor a row of the statement."""
    found: list[Difference] = []
    on_statement = {line.receipt for line in statement.lines}
    for line in statement.lines:
        if not (line.is_reversal and line.paid_in.is_positive()):
            continue
        payout = by_receipt.get(line.linked_receipt)
        if payout is not None:
            subject = f"payout {payout.id} ({payout.state.value})"
            expected = f"{payout.state.value} in our books, {payout.amount} to {shown_number(payout.party)}"
            found.append(Difference(subject, expected, "reversed by M-Pesa", _reversal(line)))
        elif line.linked_receipt not in on_statement:
            expected = "the reversal of a payout of ours"
            found.append(Difference(f"receipt {line.receipt}", expected, "none in our books", _reversal(line)))
    return found


def _unrecognised_withdrawals(statement: Statement) -> list[Difference]:
    """A completed withdrawal that is no payout, no charge and no reversal (those of collections are the
    ``mpesa-collections`` check's): money left the float for a reason this check cannot place."""
    return [
        Difference(
            f"receipt {line.receipt}",
            "a payout, a charge or a reversal",
            f"a withdrawal of Reason Type {line.reason_type or '(none)'!r}",
            f"{line.withdrawn} to {_other(line)}; {shown_details(line.details)}".rstrip("; "),
        )
        for line in statement.lines
        if line.completed
        and line.withdrawn.is_positive()
        and not (line.is_payout or line.is_charge or line.is_reversal)
    ]


# --- M-Pesa collections (the wallets' STK Push buys) -------------------------------------------------------------


def _collected(line: StatementLine) -> str:
    return f"M-Pesa collected {line.paid_in} from {_other(line)} (receipt {line.receipt})"


def _buy_against(buy: Buy, line: StatementLine) -> list[Difference]:
    subject = f"buy {buy.id} ({buy.state.value})"
    found = []
    if buy.state is not BuyState.CREDITED:
        found.append(Difference(subject, f"{buy.state.value} as in our books", "collected by M-Pesa", _collected(line)))
    if buy.kes != line.paid_in:
        found.append(Difference(subject, f"{buy.kes} collected", f"{line.paid_in} collected", _collected(line)))
    if line.party_number and not _digits_match(line.party_number, buy.phone):
        found.append(
            Difference(
                subject,
                f"paid by {shown_number(buy.phone)}",
                f"paid by {shown_number(line.party_number)}",
                _collected(line),
            )
        )
    return found


def _match_buy(line: StatementLine, buys: Iterable[Buy], taken: set[str]) -> Buy | None:
    """The oldest buy not credited in our books that this collection could be (same amount and phone, prompted
    before it completed, no receipt of its own): M-Pesa collected what our books think failed or still open. A
    pending buy comes before a failed one (a cancelled prompt of the same amount collected nothing, while the
    prompt still open is the one the customer answered), the oldest first within each."""
    for buy in sorted(buys, key=lambda b: (b.state is BuyState.FAILED, b.created_at, b.id)):
        if buy.id in taken or buy.state is BuyState.CREDITED or buy.receipt:
            continue
        party = line.party_number
        if (
            buy.kes == line.paid_in
            and (not party or _digits_match(party, buy.phone))
            and buy.created_at <= line.completed_at
        ):
            return buy
    return None


def statement_matches_collections(records: Records) -> list[Difference]:
    """Every collection on M-Pesa's statement (STK Push, C2B: ``Paid In``) is one credited buy (receipt, amount,
    phone), every buy credited within the statement's period is on it, the totals agreeing; no credited buy was
    reversed by M-Pesa. The statement is the collections' Short Code's (STK Push and C2B paybill)."""
    statement = records.collection_statement
    if statement is None or (covers := statement.covers) is None:
        return []
    buys = records.wallets.buys if records.wallets is not None else ()
    by_receipt = {b.receipt: b for b in buys if b.receipt}
    reversed_receipts = {line.linked_receipt for line in statement.lines if line.is_reversal}
    found: list[Difference] = []
    matched: set[str] = set()
    collected = [line for line in statement.lines if line.is_collection]
    # only what was booked or given back: a payment still verifying (or never verified) on the statement is money not
    # in our books; one reversed (even unverified) must be on it with its reversal
    every = records.wallets.paybill if records.wallets is not None else ()
    paybill = {p.trans_id: p for p in every if p.booked or p.given_back}
    for line in collected:
        if (payment := paybill.get(line.receipt)) is not None:  # a payment to the paybill outside STK (C2B)
            found += _paybill_against(payment, line, matched, reversed_receipts)
            continue
        buy = by_receipt.get(line.receipt) or _match_buy(line, buys, matched)
        if buy is not None and buy.id in matched:  # its receipt twice on the statement: collected twice
            subject = f"buy {buy.id} ({buy.state.value})"
            found.append(Difference(subject, "collected once", "a second collection row", _collected(line)))
            continue
        if buy is None:
            if line.receipt not in reversed_receipts:  # collected and given back: nothing of ours either way
                expected = "a buy of ours" if records.wallets is not None else "a buy (no wallet store is configured)"
                found.append(Difference(f"receipt {line.receipt}", expected, "none in our books", _collected(line)))
            continue
        matched.add(buy.id)
        found += _buy_against(buy, line)
    found += _collections_reversed(statement, by_receipt)
    ours = [b for b in buys if b.state is BuyState.CREDITED and (b.id in matched or _buy_within(b, covers))]
    for buy in ours:
        if buy.id not in matched:
            detail = f"{buy.kes} from {shown_number(buy.phone)}, credited {buy.finished_at}"
            expected = f"receipt {buy.receipt} on M-Pesa's statement"
            found.append(Difference(f"buy {buy.id} (credited)", expected, "not on it", detail))
    kept = [p for p in paybill.values() if p.id in matched or _paid_within(p, covers)]
    found += [_paybill_missing(p) for p in kept if p.id not in matched]
    return found + _collection_totals(collected, ours, reversed_receipts, kept)


def _paybill_subject(payment: PaybillPayment) -> str:
    return f"paybill payment {payment.id} ({payment.state.value})"


def _paybill_against(
    payment: PaybillPayment, line: StatementLine, matched: set[str], reversed_receipts: set[str]
) -> list[Difference]:
    """A collection row of a payment to the paybill (C2B, by its TransID): once, for its amount, for the account
    number and from the payer its confirmation named, when it reached our books (review7 F3: the statement's
    ``A/C No.`` is the only outside record of which wallet it was for, Transaction Status does not return it),
    reversed on the statement exactly when we returned it to the payer."""
    subject = _paybill_subject(payment)
    if payment.id in matched:
        return [Difference(subject, "collected once", "a second collection row", _collected(line))]
    matched.add(payment.id)
    found = []
    # one returned by a Reversal: what M-Pesa's record showed and the Reversal gave back, not what its confirmation
    # claimed (an unverified one may have claimed more; revpass7 P3)
    kes = payment.returned_kes if payment.state in (PaybillState.REVERSING, PaybillState.REVERSED) else payment.kes
    if kes != line.paid_in:
        found.append(Difference(subject, f"{kes} collected", f"{line.paid_in} collected", _collected(line)))
    booked = payment.booked  # one never booked and given back: M-Pesa returned it to whoever really paid it
    if booked and line.account_no and _account(line.account_no) != _account(payment.bill_ref):
        expected = f"for account {_shown_account(payment.bill_ref)}"
        found.append(Difference(subject, expected, f"for account {_shown_account(line.account_no)}", _collected(line)))
    if booked and not _payer_agrees(payment.msisdn, line.party_number):
        expected, actual = f"paid by {shown_number(payment.msisdn)}", f"paid by {shown_number(line.party_number)}"
        found.append(Difference(subject, expected, actual, _collected(line)))
    returned, reversed_ = payment.given_back, line.receipt in reversed_receipts
    if returned and not reversed_:
        found.append(
            Difference(subject, "reversed by M-Pesa (returned to its payer)", "not reversed", _collected(line))
        )
    elif reversed_ and not returned:
        found.append(Difference(subject, f"{payment.state.value} in our books", "reversed by M-Pesa", _collected(line)))
    return found


def _account(text: str) -> str:
    """An account number compared: a phone in any form people write it, else the text without spaces, a leading
    ``@`` or case. Looser than the booking's reading (``paybill._named`` keeps inner spaces and uses ``lower``), on
    purpose: a statement may write ``acc 18`` as ``ACC18``, and a text that reads the same only here (``ami na7``,
    ``straße`` beside ``strasse``) names no wallet to the booking on one side (usernames are ``[a-z0-9_]``), so the
    two never name two different wallets: the difference this check exists to find (another wallet) is still found.

    >>> _account(" 0712 000 001 ") == _account("+254712000001"), _account("@Amina7") == _account("amina7")
    (True, True)
    """
    compact = "".join(text.split())
    return try_normalize_msisdn(compact) or compact.removeprefix("@").casefold()


def _shown_account(text: str) -> str:
    """An account number in a difference: a phone masked (``shown_number``), a username or reference whole."""
    phone = try_normalize_msisdn("".join(text.split()))
    return shown_number(phone) if phone is not None else repr(text.strip())


def _payer_agrees(sent: str, party: str) -> bool:
    """Whether the payer a confirmation sent (whole, masked ``2547 ***** 126`` or Daraja's SHA-256 of it) can be
    the statement's party number (the portal masks it, ``2547*****126``): every digit both show is the same, or the
    hash is the party's. Nothing to compare (either side empty, a hash against a masked number) agrees.

    >>> [_payer_agrees(s, "2547*****001") for s in ("254799000001", "2547 ***** 001", "254799000002", "0799000001")]
    [True, True, False, True]
    >>> [_payer_agrees("254799000001", p) for p in ("0799000001", "0799****01", "+254799000001", "0799000002")]
    [True, True, True, False]
    """
    ours, theirs = "".join(sent.split()), _international("".join(party.split()))
    if not ours or not theirs:
        return True
    if re.fullmatch(r"[0-9a-fA-F]{64}", ours):
        return "*" in theirs or hashlib.sha256(theirs.encode()).hexdigest() == ours.lower()
    ours = try_normalize_msisdn(ours) or ours
    return len(ours) == len(theirs) and all(a == b or "*" in (a, b) for a, b in zip(ours, theirs, strict=True))


def _international(number: str) -> str:
    """A statement's party number in the ``2547...`` form ours are in, masked digits kept (``0712****01`` ->
    ``254712****01``); anything else as it is."""
    if re.fullmatch(r"0[17][0-9*]{8}", number):
        return "254" + number[1:]
    return number.removeprefix("+")


def _paybill_missing(payment: PaybillPayment) -> Difference:
    detail = f"{payment.kes} received {payment.received_at}"
    expected = f"receipt {payment.trans_id} on M-Pesa's statement"
    return Difference(_paybill_subject(payment), expected, "not on it", detail)


def _paid_within(payment: PaybillPayment, covers: tuple[datetime, datetime]) -> bool:
    start, end = covers
    return start <= payment.received_at <= end


def _collections_reversed(statement: Statement, by_receipt: dict[str, Buy]) -> list[Difference]:
    """A reversal taking money out of the account: of a credited buy (the customer got the shillings back, the
    wallet keeps its USDT), or of a receipt that is no collection of the statement's."""
    found: list[Difference] = []
    collections = {line.receipt for line in statement.lines if line.is_collection}
    for line in statement.lines:
        if not (line.is_reversal and line.withdrawn.is_positive()):
            continue
        buy = by_receipt.get(line.linked_receipt)
        if buy is not None:
            subject = f"buy {buy.id} ({buy.state.value})"
            expected = f"{buy.state.value} in our books, {buy.kes} from {shown_number(buy.phone)}"
            found.append(Difference(subject, expected, "reversed by M-Pesa", _reversal(line)))
        elif line.linked_receipt not in collections:
            expected = "the reversal of a collection"
            found.append(Difference(f"receipt {line.receipt}", expected, "none on the statement", _reversal(line)))
    return found


def _buy_within(buy: Buy, covers: tuple[datetime, datetime]) -> bool:
    return _in_period(buy.finished_at, covers)


def _in_period(moment: datetime | None, covers: tuple[datetime, datetime]) -> bool:
    """Whether ``moment`` lies in a statement's period, to the second (the statement's times have no fraction: a
    period ending ``23:59:59`` takes a payout finished at ``23:59:59.4``)."""
    start, end = covers
    return moment is not None and start <= moment.replace(microsecond=0) <= end


def _collection_totals(
    collected: list[StatementLine],
    ours: list[Buy],
    reversed_receipts: set[str],
    paybill: list[PaybillPayment],
) -> list[Difference]:
    theirs = sum((line.paid_in for line in collected if line.receipt not in reversed_receipts), Money.zero(KES))
    books = sum((b.kes for b in ours), Money.zero(KES))
    books += sum((p.kes for p in paybill if not p.given_back), Money.zero(KES))
    if theirs == books:
        return []
    subject = f"{flows.MPESA_COLLECTIONS} collected in the statement's period"
    return [Difference(subject, f"{books} in our books", f"{theirs} per M-Pesa", f"off by {theirs - books}")]


def _within(payout: Payout, covers: tuple[datetime, datetime]) -> bool:
    return _in_period(payout.finished_at, covers)


def _totals(paid: list[StatementLine], ours: list[Payout]) -> list[Difference]:
    theirs = sum((line.withdrawn for line in paid), Money.zero(KES))
    books = sum((p.amount for p in ours), Money.zero(KES))
    if theirs == books:
        return []
    subject = f"{flows.FLOAT} paid out in the statement's period"
    return [Difference(subject, f"{books} in our books", f"{theirs} per M-Pesa", f"off by {theirs - books}")]


def float_matches_balance(records: Records) -> list[Difference]:
    """M-Pesa's Account Balance equals the books' float plus the float funded outside the books (the baseline)."""
    if records.mpesa_balance is None or records.float_baseline is None:
        return []
    now = records.float_balance.posted if records.float_balance else Money.zero(KES)
    books = records.books_float if records.books_float is not None else now
    want = records.float_baseline + books
    if records.mpesa_balance == want:
        return []
    in_flight = sum(1 for p in records.payouts if not p.is_final)
    detail = f"off by {records.mpesa_balance - want}; {in_flight} payouts in flight"
    expected = f"{want} (books {books} + baseline {records.float_baseline})"
    return [Difference(flows.FLOAT, expected, f"{records.mpesa_balance} per Account Balance", detail)]


ANSWER_GRACE = timedelta(minutes=10)
"""How long an answer may wait for its request: an answer can arrive before its request's transaction commits."""


def answers_matched(records: Records) -> list[Difference]:
    """Every answer M-Pesa posted us names a request of ours: one kept unmatched past the grace period is reported
    (M-Pesa says something about a payment our books cannot place)."""
    late = [a for a in records.answers if records.at - a.received_at > ANSWER_GRACE]
    return [
        Difference(
            f"M-Pesa answer {a.id} ({a.purpose.value})",
            "matched to a payout of ours",
            f"unmatched since {a.received_at.isoformat()}",
            f"{a.attempts} matching attempts",
        )
        for a in late
    ]


# --- chains ----------------------------------------------------------------------------------------------------


def _uncredited(records: Records, code: str, zero: Money) -> Money:
    """Payments mined to our addresses but not yet confirmed: on the chain, not yet in the books."""
    total = zero
    for invoice in records.invoices:
        for payment in invoice.payments:
            option = invoice.option(payment.rail_key)
            mined = payment.transfer.block_number is not None and not payment.withdrawn
            account = flows.custody(option.rail.network.name, payment.amount.asset)
            if account == code and mined and not is_confirmed(payment, option):
                total += payment.amount
    return total


def _refunds_sent(records: Records, code: str, zero: Money) -> Money:
    """Refunds broadcast but not yet confirmed: gone from the chain, still in the books."""
    sent = (r for r in records.refunds if r.state is RefundState.SENT)
    return sum((r.amount for r in sent if flows.custody(r.network, r.amount.asset) == code), zero)


def _wallet_deposits_mined(records: Records, code: str, zero: Money) -> Money:
    """Wallet deposits in a block but short of their depth: on the chain, booked only at their depth (review5 S9)."""
    mined = (
        d.amount
        for d in (records.deposits.deposits if records.deposits else ())
        if d.state is DepositState.SEEN
        and d.block_number is not None
        and flows.custody(d.network, d.amount.asset) == code
    )
    return sum(mined, zero)


def _wallet_withdrawals_sent(records: Records, code: str, zero: Money) -> Money:
    """Wallet withdrawals broadcast but not yet confirmed: gone from the chain, paid out of custody only at their
    confirmation (as refunds sent; review5 S9)."""
    sent = (
        w.amount
        for w in (records.withdrawals.withdrawals if records.withdrawals else ())
        if w.state is WithdrawalState.SENT and flows.custody(w.network, w.amount.asset) == code
    )
    return sum(sent, zero)


def custody_on_chain(records: Records) -> list[Difference]:
    """Each custody account equals what the chain holds at our deposit and hot-wallet addresses, counting the
    payments mined but not yet confirmed, the refunds sent but not yet confirmed and the wrong-network or
    wrong-asset payments pending a decision (owed to their payers: ``wrong-payments-owed`` ages them)."""
    found: list[Difference] = []
    for code, chain in sorted((records.on_chain or {}).items()):
        zero = Money.zero(chain.balance.asset)
        books, owed = records.custody.get(code, zero), chain.owed_to_payers or zero
        seen, sent = _wallet_deposits_mined(records, code, zero), _wallet_withdrawals_sent(records, code, zero)
        want = books + _uncredited(records, code, zero) - _refunds_sent(records, code, zero) + owed + seen - sent
        if chain.balance != want:
            pending = f", {owed} owed to payers of wrong payments" if owed else ""
            pending += f", {seen} of wallet deposits mined, not yet booked" if seen else ""
            pending += f", {sent} of wallet withdrawals sent, not yet confirmed" if sent else ""
            expected = f"{want} at our {chain.addresses} addresses (books {books}{pending})"
            found.append(Difference(code, expected, f"{chain.balance} on chain", f"off by {chain.balance - want}"))
    return found
