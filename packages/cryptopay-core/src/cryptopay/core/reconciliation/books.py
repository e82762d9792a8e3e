"""The books against our own records: custody against invoice credits, payouts against their holds, the trial
balance. Each check is a pure function of one ``Records`` snapshot returning its differences.

Custody is booked by the merchant-payment flows and by the personal wallets' crypto deposits (their standing
bookings are counted here), and emptied by refunds, wallet withdrawals and the treasury's conversions (crypto sold
on an exchange or OTC desk: ``treasury.rebalancing.booked_conversions``, by what their fills sold); a flow that
books custody without its records gathered here shows as a difference.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import timedelta

from cryptopay.core import flows
from cryptopay.core.invoices import TransferKey, is_confirmed
from cryptopay.core.ledger import HoldState
from cryptopay.core.money import KES, Money
from cryptopay.core.payments.model import PaymentCredit, RefundState
from cryptopay.core.payouts.model import PayoutState
from cryptopay.core.reconciliation.model import Difference, Records, shown_destination
from cryptopay.core.wallets.withdrawal_model import WithdrawalState

__all__ = [
    "completed_payouts_have_receipts",
    "confirmed_payments_credited",
    "credit_entries_posted",
    "custody_matches_credits",
    "in_flight_matches_payouts",
    "payout_holds_match",
    "payout_results_agree",
    "trial_balance_zero",
    "unresolved_payouts",
    "wrong_payments_owed",
]


def _standing(credits: Iterable[PaymentCredit]) -> list[PaymentCredit]:
    return [c for c in credits if c.reversal_entry_id is None]


def custody_matches_credits(records: Records) -> list[Difference]:
    """Each custody account holds the standing credits' receipts on its network, the standing wallet deposits and
    the wrong-network payments booked to be refunded, less the confirmed refunds, the wallet withdrawals and what
    the treasury's conversions sold (by their fills)."""
    expected: dict[str, Money] = {code: Money.zero(balance.asset) for code, balance in records.custody.items()}
    for credit in _standing(records.credits):
        code = flows.custody(credit.transfer[0], credit.received.asset)
        expected[code] = expected.get(code, Money.zero(credit.received.asset)) + credit.received
    for deposit in records.deposits.deposits if records.deposits else ():
        if deposit.standing:
            code = flows.custody(deposit.network, deposit.asset)
            expected[code] = expected.get(code, Money.zero(deposit.asset)) + deposit.amount
    for stray in records.wrong_network:  # booked to be refunded whole (the refund's confirmation takes it out)
        code = flows.custody(stray.network, stray.transfer.amount.asset)
        expected[code] = expected.get(code, Money.zero(stray.transfer.amount.asset)) + stray.transfer.amount
    for refund in records.refunds:
        if refund.state is RefundState.CONFIRMED:
            code = flows.custody(refund.network, refund.amount.asset)
            expected[code] = expected.get(code, Money.zero(refund.amount.asset)) - refund.amount
    for withdrawal in records.withdrawals.withdrawals if records.withdrawals else ():
        if withdrawal.state is WithdrawalState.CONFIRMED:
            code = flows.custody(withdrawal.network, withdrawal.asset)
            expected[code] = expected.get(code, Money.zero(withdrawal.asset)) - withdrawal.amount
    for conversion in records.conversions:
        code = flows.custody(conversion.network, conversion.sold.asset)
        expected[code] = expected.get(code, Money.zero(conversion.sold.asset)) - conversion.sold
    return [
        Difference(code, str(want), str(got), f"off by {got - want}")
        for code, want in sorted(expected.items())
        if (got := records.custody.get(code, Money.zero(want.asset))) != want
    ]


def confirmed_payments_credited(records: Records) -> list[Difference]:
    """Every confirmed payment has exactly one standing credit; every standing credit a payment still confirmed."""
    standing: dict[str, dict[TransferKey, list[PaymentCredit]]] = defaultdict(lambda: defaultdict(list))
    for credit in _standing(records.credits):
        standing[credit.invoice_id][credit.transfer].append(credit)
    found: list[Difference] = []
    for invoice in records.invoices:
        confirmed = {p.key for p in invoice.payments if is_confirmed(p, invoice.option(p.rail_key))}
        mine = standing.get(invoice.id, {})
        for key in sorted(confirmed | set(mine)):
            credits = mine.get(key, [])
            subject = f"invoice {invoice.id} payment {_tx(key)}"
            if key in confirmed and len(credits) != 1:
                found.append(Difference(subject, "1 standing credit", f"{len(credits)} standing credits"))
            elif key not in confirmed and any(not c.clawback_pending for c in credits):
                found.append(
                    Difference(subject, "a confirmed payment", "credited but not confirmed", f"credit {credits[0].id}")
                )
    return found


def credit_entries_posted(records: Records) -> list[Difference]:
    """Each standing credit's ledger entry exists and is not reversed; each reversed credit's entry has a reversal."""
    found: list[Difference] = []
    for credit in records.credits:
        exists, reversed_ = records.credit_entries.get(credit.entry_id, (False, False))
        want_reversed = credit.reversal_entry_id is not None
        if not exists:
            found.append(Difference(f"credit {credit.id}", f"ledger entry {credit.entry_id}", "no such entry"))
        elif reversed_ != want_reversed:
            found.append(
                Difference(
                    f"credit {credit.id}",
                    "reversed" if want_reversed else "standing",
                    "reversed" if reversed_ else "standing",
                    f"entry {credit.entry_id}",
                )
            )
    return found


def completed_payouts_have_receipts(records: Records) -> list[Difference]:
    """Every completed payout carries M-Pesa's receipt, and no receipt pays two payouts."""
    completed = [p for p in records.payouts if p.state is PayoutState.COMPLETED]
    found = [
        Difference(f"payout {p.id}", "an M-Pesa receipt", "none", f"result {p.result_code or '-'}")
        for p in completed
        if not p.receipt
    ]
    twice = Counter(p.receipt for p in completed if p.receipt)
    found += [Difference(f"receipt {r}", "one payout", f"{n} payouts") for r, n in sorted(twice.items()) if n > 1]
    return found


def payout_results_agree(records: Records) -> list[Difference]:
    """A completed payout's recorded M-Pesa result is a success (code 0); a failed one's is not. (A bank transfer
    has no M-Pesa result: an operator's confirmation completes it.)"""
    found = []
    for payout in records.payouts:
        if payout.is_bank_transfer:
            continue
        code = payout.result_code
        if payout.state is PayoutState.COMPLETED and code != "0":
            found.append(Difference(f"payout {payout.id} (completed)", "result code 0", f"result code {code or '-'}"))
        elif payout.state is PayoutState.FAILED and code == "0":
            detail = payout.result_desc or ""
            found.append(Difference(f"payout {payout.id} (failed)", "a failure result", "result code 0", detail))
    return found


_HOLD_FOR = {
    PayoutState.COMPLETED: HoldState.POSTED,
    PayoutState.FAILED: HoldState.VOIDED,
}


def payout_holds_match(records: Records) -> list[Difference]:
    """A payout in flight has a pending hold of its amount and charge; a completed one posted, a failed one voided."""
    found: list[Difference] = []
    for payout in records.payouts:
        hold, want = records.holds.get(payout.hold_id), _HOLD_FOR.get(payout.state, HoldState.PENDING)
        subject = f"payout {payout.id} ({payout.state.value})"
        if hold is None:
            found.append(Difference(subject, f"hold {payout.hold_id} {want.value}", "no such hold"))
        elif hold.state is not want:
            found.append(Difference(subject, f"hold {want.value}", f"hold {hold.state.value}", hold.id))
        elif hold.amount != payout.amount + payout.charge:
            found.append(Difference(subject, f"hold of {payout.amount + payout.charge}", f"hold of {hold.amount}"))
    return found


def in_flight_matches_payouts(records: Records) -> list[Difference]:
    """The in-flight account's pending holds add up to the payouts in flight, and nothing stays posted in it."""
    in_flight = [p for p in records.payouts if not p.is_final]
    want = sum((p.amount + p.charge for p in in_flight), Money.zero(KES))
    balance = records.in_flight
    pending = balance.pending_in if balance else Money.zero(KES)
    posted = balance.posted if balance else Money.zero(KES)
    found = []
    if pending != want:
        found.append(
            Difference(
                flows.IN_FLIGHT,
                f"{want} held for {len(in_flight)} payouts in flight",
                f"{pending} pending",
                f"off by {pending - want}",
            )
        )
    if not posted.is_zero():
        found.append(Difference(flows.IN_FLIGHT, f"0 {KES.code} posted", f"{posted} posted"))
    return found


def unresolved_payouts(records: Records) -> list[Difference]:
    """Every payout sent over M-Pesa is final (completed or failed) within the unknown bound (``records.unknown_
    bound``) of being sent: one still ``unknown`` past it, or still ``submitted`` past the result deadline and the
    bound (no worker asked), is a difference whatever it pays (a settlement, a wallet's sale or bill, a remittance):
    its money sits in ``liabilities:payouts_in_flight`` while its payee may have been paid or not (R10-4: a B2B
    payout with no id to query by stayed ``unknown`` for good while every check said clean). The difference says
    how to end it: from M-Pesa's own record (the statement or a Transaction Status answer), proposed by one staff
    member and approved by another (``Payouts.propose_conclusion``), once it is ``unknown``; a ``submitted`` one is
    asked about first (Transaction Status: ``payouts query-stale``). A bank transfer awaiting an operator is not
    M-Pesa's to answer."""
    found = []
    bound = records.unknown_bound
    for payout in records.payouts:
        if payout.is_final or payout.is_bank_transfer or payout.state is PayoutState.PLANNED:
            continue
        sent = payout.submitted_at or payout.created_at
        since = payout.unknown_since or sent
        late = bound if payout.state is PayoutState.UNKNOWN else bound + records.result_deadline
        if records.at - since <= late:
            continue
        state = payout.state.value
        what = (
            f"{payout.kind.value} {payout.amount} to {shown_destination(payout.destination)}, sent {sent.isoformat()}"
        )
        proposed = f"; conclusion proposed: {payout.conclusion.summary}" if payout.conclusion is not None else ""
        if payout.state is PayoutState.UNKNOWN:
            end = (
                "conclude it from M-Pesa's record (its statement or a Transaction Status answer): two admins, each "
                "with a step-up, on the console's unresolved payouts or the API "
                f"(POST /v1/admin/payouts/{payout.id}/conclusion, then .../approve)"
            )
        else:  # only an unknown payout is concluded (LASTREAD L-3): Transaction Status is asked first
            end = (
                "no worker asked M-Pesa about it (is the worker running?): `cryptopay payouts query-stale` asks "
                "Transaction Status now; a payout it leaves unknown past the bound is concluded from M-Pesa's record"
            )
        found.append(
            Difference(
                f"payout {payout.id} ({state})",
                f"completed or failed within {bound} of being sent",
                f"{state} since {since.isoformat()}",
                f"{what}; {payout.note or 'no result'}{proposed}; {end}",
            )
        )
    return found


def trial_balance_zero(records: Records) -> list[Difference]:
    """Debits less credits is zero for every asset over all accounts."""
    return [Difference(f"asset {asset}", "0", str(total)) for asset, total in records.trial_balance.items() if total]


def _tx(key: TransferKey) -> str:
    network, tx_hash, index = key
    return f"{network}:{tx_hash}#{index}"


WRONG_PAYMENT_GRACE = timedelta(days=1)  # how long a wrong-network or wrong-asset payment may wait for a decision


def wrong_payments_owed(records: Records) -> list[Difference]:
    """A payment on the wrong network, or of an asset the invoice does not ask for, sits at our address and is owed
    to its payer until it is refunded (or, on the wrong network, accepted into its invoice): one still pending a day
    after it was seen is a difference, with what to do."""
    return [
        Difference(
            f"wrong-{stray.wrong} payment {stray.id} (invoice {stray.invoice_id})",
            "refunded to its payer" + ("" if stray.wrong == "asset" else " or accepted into its invoice"),
            f"{stray.transfer.amount} on {stray.network} pending since {stray.seen_at.isoformat()}",
            f"owed to the payer: `cryptopay refunds wrong-network {stray.id}` (to the address that paid it)",
        )
        for stray in records.wrong_pending
        if records.at - stray.seen_at > WRONG_PAYMENT_GRACE
    ]
