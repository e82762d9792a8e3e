"""Reconciliation: every difference between the ledger and the payment records it should agree with.

``gather`` reads one snapshot of the records (invoices, their credits and refunds, payouts, the ledger balances,
holds and entries they name); each check is a pure function of that snapshot returning its differences. The checks
cover the merchant-payment flows: a custody account that other flows also book (personal wallets) would show
their amounts as differences until their records are gathered here too.

Areas: ``credits`` (the ledger against the invoice credits), ``payouts`` (payouts against M-Pesa's results and
the ledger's holds) and ``books`` (the trial balance).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs
from cryptopay.core import flows
from cryptopay.core.errors import NotFound
from cryptopay.core.invoices import Invoice, TransferKey, is_confirmed
from cryptopay.core.ledger import AccountBalance, Hold, HoldState, Ledger
from cryptopay.core.money import KES, Money
from cryptopay.core.payments import PaymentCredit, Payout, PayoutState, Refund, RefundState
from cryptopay.core.ports.payments import PaymentsUnitOfWork

from cryptopay_cli.paging import all_invoices, all_payouts, all_stores, read

if TYPE_CHECKING:  # imported when a command runs: keeps `--help` light
    from cryptopay.adapters.bootstrap import Services

__all__ = ["CHECKS", "Check", "Difference", "Records", "gather", "reconcile"]


@attrs.frozen
class Difference:
    """One thing that does not agree: what it is about, what was expected and what was found."""

    subject: str
    expected: str
    actual: str
    detail: str = ""


@attrs.frozen(kw_only=True)
class Records:
    """A snapshot of the records the checks compare."""

    invoices: tuple[Invoice, ...]
    credits: tuple[PaymentCredit, ...]
    refunds: tuple[Refund, ...]
    payouts: tuple[Payout, ...]
    custody: dict[str, Money]  # custody account -> posted balance (zero when the account was never opened)
    in_flight: AccountBalance | None
    holds: dict[str, Hold | None]  # a payout's hold id -> the hold, None if the ledger has none
    credit_entries: dict[str, tuple[bool, bool]]  # a credit's entry id -> (the entry exists, it has a reversal)
    trial_balance: dict[str, Decimal]


def _standing(credits: Iterable[PaymentCredit]) -> list[PaymentCredit]:
    return [c for c in credits if c.reversal_entry_id is None]


def custody_matches_credits(records: Records) -> list[Difference]:
    """Each custody account holds the standing credits' receipts on its network less the confirmed refunds."""
    expected: dict[str, Money] = {code: Money.zero(balance.asset) for code, balance in records.custody.items()}
    for credit in _standing(records.credits):
        code = flows.custody(credit.transfer[0], credit.received.asset)
        expected[code] = expected.get(code, Money.zero(credit.received.asset)) + credit.received
    for refund in records.refunds:
        if refund.state is RefundState.CONFIRMED:
            code = flows.custody(refund.network, refund.amount.asset)
            expected[code] = expected.get(code, Money.zero(refund.amount.asset)) - refund.amount
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


def trial_balance_zero(records: Records) -> list[Difference]:
    """Debits less credits is zero for every asset over all accounts."""
    return [Difference(f"asset {asset}", "0", str(total)) for asset, total in records.trial_balance.items() if total]


@attrs.frozen
class Check:
    """One named check of an area; ``about`` is its rule."""

    name: str
    area: str
    run: Callable[[Records], list[Difference]]

    @property
    def about(self) -> str:
        return (self.run.__doc__ or "").strip()


CHECKS: tuple[Check, ...] = (
    Check("custody", "credits", custody_matches_credits),
    Check("payments-credited", "credits", confirmed_payments_credited),
    Check("credit-entries", "credits", credit_entries_posted),
    Check("receipts", "payouts", completed_payouts_have_receipts),
    Check("payout-holds", "payouts", payout_holds_match),
    Check("in-flight", "payouts", in_flight_matches_payouts),
    Check("trial-balance", "books", trial_balance_zero),
)


def reconcile(records: Records, checks: Sequence[Check] = CHECKS) -> list[tuple[Check, list[Difference]]]:
    """Run every check on one snapshot."""
    return [(check, check.run(records)) for check in checks]


# --- reading the snapshot --------------------------------------------------------------------------------------


def _tx(key: TransferKey) -> str:
    network, tx_hash, index = key
    return f"{network}:{tx_hash}#{index}"


def _balance(ledger: Ledger, code: str) -> AccountBalance | None:
    try:
        return ledger.balance(code)
    except NotFound:
        return None


def _per_invoice(svc: Services, invoices: Sequence[Invoice]) -> tuple[list[PaymentCredit], list[Refund]]:
    def work(uow: PaymentsUnitOfWork) -> tuple[list[PaymentCredit], list[Refund]]:
        credits = [c for i in invoices for c in uow.payment_credits.for_invoice(i.id)]
        return credits, [r for i in invoices for r in uow.refunds.for_invoice(i.id)]

    return read(svc, work)


def _ledger_records(
    svc: Services, credits: Sequence[PaymentCredit], payouts: Sequence[Payout]
) -> tuple[dict[str, Hold | None], dict[str, tuple[bool, bool]]]:
    def work(uow: PaymentsUnitOfWork) -> tuple[dict[str, Hold | None], dict[str, tuple[bool, bool]]]:
        session = uow.ledger
        holds = {p.hold_id: session.get_hold(p.hold_id) for p in payouts}
        entries = {
            c.entry_id: (session.get_entry(c.entry_id) is not None, session.find_reversal(c.entry_id) is not None)
            for c in credits
        }
        return holds, entries

    return read(svc, work)


def _custody(svc: Services, credits: Sequence[PaymentCredit]) -> dict[str, Money]:
    accounts = {flows.custody(rail.network.name, rail.asset): rail.asset for s in all_stores(svc) for rail in s.rails}
    accounts |= {flows.custody(c.transfer[0], c.received.asset): c.received.asset for c in credits}
    found = {code: _balance(svc.ledger, code) for code in sorted(accounts)}
    return {code: b.posted if b else Money.zero(accounts[code]) for code, b in found.items()}


def gather(svc: Services) -> Records:
    """Read the snapshot the checks compare, from the payment repositories and the ledger."""
    invoices = list(all_invoices(svc))
    credits, refunds = _per_invoice(svc, invoices)
    payouts = all_payouts(svc)
    holds, entries = _ledger_records(svc, credits, payouts)
    return Records(
        invoices=tuple(invoices),
        credits=tuple(credits),
        refunds=tuple(refunds),
        payouts=tuple(payouts),
        custody=_custody(svc, credits),
        in_flight=_balance(svc.ledger, flows.IN_FLIGHT),
        holds=holds,
        credit_entries=entries,
        trial_balance=svc.ledger.trial_balance(),
    )
