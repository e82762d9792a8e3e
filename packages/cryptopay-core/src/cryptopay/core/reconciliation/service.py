"""The reconciliation use case: read one snapshot through the ports, run every check, alert on differences.

The CLI (``cryptopay reconcile``), the worker's schedule (``reconciliation.run``) and the admin endpoint
(``GET /v1/admin/reconciliation``) all call ``Reconciliation``; none of them reads a repository itself.
``reconcile_and_alert`` is the scheduled form: besides the report it sets the ``cryptopay_reconciliation_*``
gauges and, on any difference, appends an audit record and logs an error, so an operator is told. Given a run store
(``runs``, with ``ids`` to name each run), every run's results are kept there, saying who ran it (``by``: the
schedule, the CLI, the console or the API), for the console to show the latest result of each check.

On the in-memory stack: a paid invoice reconciles; a ledger entry no payment explains does not, and the check
says by how much (checks needing an outside source not given, such as M-Pesa's statement, are skipped, saying why):

>>> from cryptopay.core.money import Money
>>> from cryptopay.core.settlement.model import SettlementMethod, SettlementProfile, SettlementSchedule
>>> from cryptopay.core.testing.payments_stack import PaymentsStack
>>> stack = PaymentsStack()
>>> _ = stack.add_merchant(
...     "m1", settlement=SettlementProfile(SettlementSchedule.DAILY, SettlementMethod.MPESA_B2C, "0712345678")
... )
>>> invoice = stack.invoicing.create_invoice("m1", Money.of("1000", "KES"))
>>> _ = stack.chains["tron"].pay(invoice.options[0].address, invoice.options[0].due)
>>> stack.confirm()
>>> report = stack.reconciliation.reconcile(by="cli")
>>> report.clean, next(r.skipped for r in report.results if r.check.name == "mpesa-statement")
(True, 'no M-Pesa statement was imported')
>>> _ = stack.ledger.transfer(
...     "stray-1", debit="assets:custody:tron:USDT", credit="liabilities:merchant:m1:USDT", amount=Money.of("5", "USDT")
... )
>>> report = stack.reconciliation.reconcile(by="cli")
>>> report.clean, [(r.check.name, d.detail) for r in report.results for d in r.differences]
(False, [('custody', 'off by 5.000000 USDT')])
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs
from cryptopay.core import flows
from cryptopay.core.audit import AuditEvent
from cryptopay.core.errors import InvalidInput, NotFound, Unavailable
from cryptopay.core.flows import REMITTANCE_DESK
from cryptopay.core.invoices import Invoice
from cryptopay.core.ledger import AccountBalance, Hold, Ledger
from cryptopay.core.listings import Listings, each
from cryptopay.core.money import ASSETS, KES, USDT, Money
from cryptopay.core.payments.model import PaymentCredit, Refund
from cryptopay.core.payments.wrong_network import WrongNetworkPayment, WrongNetworkState
from cryptopay.core.payouts.model import DEFAULT_UNKNOWN_BOUND, Payout, PayoutState
from cryptopay.core.ports.chains import BalanceReader
from cryptopay.core.ports.ledger import LedgerSession
from cryptopay.core.ports.monitoring import Metrics
from cryptopay.core.ports.reconciliation import BalanceQueryStore, ReconciliationRuns
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.treasury import TreasuryStore
from cryptopay.core.reconciliation.bank_statement import BankStatement
from cryptopay.core.reconciliation.checks import CHECKS
from cryptopay.core.reconciliation.model import (
    BalanceQuery,
    Check,
    CheckRecord,
    CheckResult,
    DepositBooks,
    OnChain,
    Records,
    RemittanceBooks,
    Report,
    RunRetention,
    Shortcodes,
    WalletBooks,
    WithdrawalBooks,
)
from cryptopay.core.reconciliation.outside import statement_unread
from cryptopay.core.reconciliation.statement import Statement
from cryptopay.core.reconciliation.wallets import CLAIM_GRACE
from cryptopay.core.remittances.model import RemittanceOrder, remittance_unconvert_key
from cryptopay.core.treasury.model import BookedConversion
from cryptopay.core.treasury.rebalancing import booked_conversions
from cryptopay.core.wallets.buys import Buy
from cryptopay.core.wallets.deposit import Deposit
from cryptopay.core.wallets.model import HOLDINGS, Transfer, TransferState
from cryptopay.core.wallets.withdrawal_model import Withdrawal

if TYPE_CHECKING:
    from cryptopay.core.ports.deposits import DepositUowFactory
    from cryptopay.core.ports.paybill import PaybillUowFactory
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory
    from cryptopay.core.ports.remittances import RemittanceReadUowFactory
    from cryptopay.core.ports.wallets import WalletUnitOfWork, WalletUowFactory
    from cryptopay.core.ports.withdrawals import WithdrawalUowFactory

__all__ = ["Outside", "Reconciliation", "run_checks"]

log = logging.getLogger(__name__)
_ACTOR = "system:reconciliation"


@attrs.frozen(kw_only=True)
class Outside:
    """What the caller read from M-Pesa for this run (each part optional; its checks are skipped without it).

    ``statement``: the org portal's statement export; ``mpesa_balance``: the float's available funds from an
    Account Balance answer, and ``books_float`` the books' float when it was taken (None: the books now);
    ``float_baseline``: float funded outside the books (opening balance, unbooked top-ups). ``statements``: one
    statement per Short Code of ours (``Shortcodes``), each read only for the records of its own Short Code.
    ``bank_statement``: the settlement bank account's statement, matched with the bank-transfer payouts.
    """

    statement: Statement | None = None
    mpesa_balance: Money | None = None
    books_float: Money | None = None
    float_baseline: Money | None = None
    statements: tuple[Statement, ...] = ()  # more statements, one per Short Code (``statement`` may be one of them)
    bank_statement: BankStatement | None = None  # the bank account's statement: the bank transfers' record

    @property
    def every_statement(self) -> tuple[Statement, ...]:
        """``statement`` and ``statements`` together."""
        return (*((self.statement,) if self.statement is not None else ()), *self.statements)


def run_checks(records: Records, checks: Sequence[Check] = CHECKS) -> tuple[CheckResult, ...]:
    """Run every check on one snapshot; a check whose outside source is missing is skipped, saying why."""
    results = []
    for check in checks:
        missing = check.needs(records)
        found = () if missing else tuple(check.run(records))
        results.append(CheckResult(check, found, missing or check.partly(records)))
    return tuple(results)


class Reconciliation:
    """Compares the ledger with our payment records, with M-Pesa and with the chains (and, given ``wallets``, with
    the personal wallets: their payouts join the merchants', and the ``wallets`` checks run)."""

    def __init__(
        self,
        *,
        uow: PaymentsUowFactory,
        ledger: Ledger,
        clock: Clock,
        chains: Mapping[str, BalanceReader] | None = None,
        hot_wallets: Mapping[str, str] | None = None,
        metrics: Metrics | None = None,
        balance_answers: BalanceQueryStore | None = None,
        float_baseline: Money | None = None,
        treasury: TreasuryStore | None = None,
        checks: Sequence[Check] = CHECKS,
        wallets: WalletUowFactory | None = None,
        paybill: PaybillUowFactory | None = None,
        deposits: DepositUowFactory | None = None,
        withdrawals: WithdrawalUowFactory | None = None,
        remittances: RemittanceReadUowFactory | None = None,
        runs: ReconciliationRuns | None = None,
        ids: IdGenerator | None = None,
        retention: RunRetention | None = None,
        shortcodes: Shortcodes | None = None,
        payout_bound: timedelta = DEFAULT_UNKNOWN_BOUND,
        bank_account: str = "",
    ) -> None:
        if runs is not None and ids is None:
            raise ValueError("a reconciliation run store needs ids to name each run")
        self._uow, self._ledger, self._clock = uow, ledger, clock
        self._listings = Listings(uow=uow)
        self._chains = dict(chains or {})
        self._hot = dict(hot_wallets or {})
        self._metrics, self._checks = metrics, tuple(checks)
        self._answers, self._baseline = balance_answers, float_baseline
        self._treasury = treasury
        self._wallets = wallets
        self._paybill = paybill
        self._deposits = deposits
        self._withdrawals = withdrawals
        self._remittances = remittances
        self._runs, self._ids = runs, ids
        self._retention = retention or RunRetention()
        self._shortcodes = shortcodes
        self._payout_bound = payout_bound  # as Payouts' unknown_bound: a payout unknown longer is a difference
        self._bank_account = bank_account  # the settlement bank account's digits ("": a statement of any is read)

    @property
    def checks(self) -> tuple[Check, ...]:
        return self._checks

    def reconcile(self, outside: Outside | None = None, *, by: str = "api", operator: str = "") -> Report:
        """Every check's differences on a snapshot read now, kept in the run store (if any) as run ``by`` one of
        ``RUN_BY`` (``schedule``, ``cli``, ``console``, ``api``) by ``operator`` (``ops:<login>``, ``user:<id>``),
        with what it compared with (``Report.inputs``: R10-13). A balance typed by the caller is marked ``typed``
        and audited (``reconciliation.balance_typed``); a float baseline other than the last run's is audited
        (``reconciliation.float_baseline_changed``)."""
        outside = outside or Outside()
        given = outside.every_statement
        for statement in given:
            self._statement_ours(statement)
        self._bank_statement_ours(outside.bank_statement)
        full, answer = self._with_defaults(outside)
        inputs = _inputs(outside, full, answer)
        records = self.snapshot(full)
        unread = {f"chain:{network}": why for network, why in records.chains_unread.items()}
        unreadable = [(s.shortcode.strip(), why) for s in given if (why := statement_unread(s))]
        if unreadable:  # given, but not comparable: never a clean run (review6 F3)
            many = len(given) > 1
            unread["mpesa:statement"] = "; ".join(
                f"Short Code {code}: {why}" if many else why for code, why in unreadable
            )
        who = operator or f"system:{by}"
        report = Report(records.at, run_checks(records, self._checks), unread, inputs, who)
        events = _input_events(report, self._last_baseline())
        if events:
            in_transaction(self._uow, partial(_append, events=events))
        if self._runs is not None and self._ids is not None:
            self._runs.add(report.records(self._ids.new_id("rcn"), by))
        return report

    def _last_baseline(self) -> str | None:
        """The float baseline the last stored run compared with (None: no run kept one, or runs before R10-13)."""
        for record in self.latest_results():
            if record.name == "mpesa-float" and "float_baseline" in record.inputs:
                return record.inputs["float_baseline"]
        return None

    def _statement_ours(self, statement: Statement | None) -> None:
        """``InvalidInput`` for a statement of a Short Code that is not one of ours (STK Push paybill, payout
        shortcode), or naming none: another account's statement is never read as ours (review6 F3). Not checked
        when this reconciliation was given no shortcodes (``None``: an in-memory stack without M-Pesa)."""
        if statement is None or self._shortcodes is None:
            return
        ours = self._shortcodes.all
        if not ours:
            raise InvalidInput(
                "no M-Pesa shortcode is configured (CRYPTOPAY_MPESA_SHORTCODE, CRYPTOPAY_MPESA_PAYOUT_SHORTCODE): "
                "no statement can be told to be ours",
                field="statement",
            )
        if statement.shortcode.strip() not in ours:
            said = f"Short Code {statement.shortcode.strip()!r}" if statement.shortcode.strip() else "no Short Code"
            raise InvalidInput(
                f"the statement is of {said}, not of ours ({', '.join(sorted(ours))})", field="statement"
            )

    def _bank_statement_ours(self, statement: BankStatement | None) -> None:
        """``InvalidInput`` for a bank statement of another account than the settlement bank account (compared by
        its digits), when one is configured (``CRYPTOPAY_SETTLEMENT_BANK_ACCOUNT``): another account's debits are
        never read as our transfers."""
        if statement is None or not self._bank_account:
            return
        digits = "".join(ch for ch in statement.account if ch.isdigit())
        if digits != self._bank_account:
            said = f"account {statement.account.strip()!r}" if statement.account.strip() else "no account number"
            raise InvalidInput(
                f"the bank statement is of {said}, not of the settlement bank account (ending "
                f"{self._bank_account[-4:]})",
                field="bank_statement",
            )

    def _by_shortcode(self, given: Sequence[Statement]) -> tuple[Statement | None, Statement | None]:
        """The payouts' statement and the collections' (``Shortcodes``): each statement is read only for the records
        of its own Short Code. ``InvalidInput`` for two statements of one Short Code (one per Short Code), or for
        several when this reconciliation knows no Short Codes (``None``: one statement, read for both)."""
        if self._shortcodes is None:
            if len(given) > 1:
                raise InvalidInput("no M-Pesa shortcodes are known here: give one statement", field="statement")
            return (given[0], given[0]) if given else (None, None)
        found: dict[str, Statement] = {}
        for statement in given:
            code = statement.shortcode.strip()
            if any(s.shortcode.strip() == code for s in found.values()):
                raise InvalidInput(f"two statements of Short Code {code}: give one per Short Code", field="statement")
            for role in self._shortcodes.roles_of(code):
                found[role] = statement
        return found.get("payouts"), found.get("collections")

    def latest_results(self) -> list[CheckRecord]:
        """Each check's latest kept result (``ReconciliationRuns.latest_per_check``); none without a run store."""
        return self._runs.latest_per_check() if self._runs is not None else []

    def prune_runs(self) -> int:
        """Delete the stored results ``RunRetention`` no longer keeps (the worker's daily ``reconciliation.prune``);
        how many went. Each check's latest result stays."""
        if self._runs is None:
            return 0
        clean_before, differences_before = self._retention.cutoffs(self._clock.now())
        pruned = self._runs.prune(clean_before=clean_before, differences_before=differences_before)
        log.info("reconciliation results pruned: %d", pruned)
        return pruned

    def _with_defaults(self, outside: Outside) -> tuple[Outside, BalanceQuery | None]:
        """The deployment's float baseline and latest Account Balance answer (returned too), unless the caller gave
        its own."""
        if outside.float_baseline is None and self._baseline is not None:
            outside = attrs.evolve(outside, float_baseline=self._baseline)
        answer = None
        if outside.mpesa_balance is None and self._answers is not None and (answer := self._answers.latest_answered()):
            outside = attrs.evolve(outside, mpesa_balance=answer.available, books_float=answer.books)
        return outside, answer

    def reconcile_and_alert(self, outside: Outside | None = None) -> Report:
        """``reconcile``, then set the gauges, and on any difference write an audit record and log an error."""
        report = self.reconcile(outside, by="schedule", operator="system:schedule")
        self._measure(report)
        for source, why in sorted(report.unread.items()):
            log.warning("reconciliation could not read %s, its checks skipped: %s", source, why)
        if not report.clean:
            counts = {name: n for name, n in report.by_check().items() if n}
            in_transaction(self._uow, lambda uow: self._audit(uow, report, counts))
            log.error("reconciliation found %d differences: %s", report.differences, counts)
        return report

    def _audit(self, uow: PaymentsUnitOfWork, report: Report, counts: Mapping[str, int]) -> None:
        details = {name: str(n) for name, n in counts.items()} | {"differences": str(report.differences)}
        uow.audit.append(AuditEvent(_ACTOR, "reconciliation.differences", "books", report.at, details))

    def _measure(self, report: Report) -> None:
        if self._metrics is None:
            return
        gauge = self._metrics.gauge
        for result in report.results:
            labels = {"check": result.check.name, "area": result.check.area}
            gauge("cryptopay_reconciliation_differences", len(result.differences), about=_ABOUT_DIFF, labels=labels)
            gauge("cryptopay_reconciliation_skipped", int(bool(result.skipped)), about=_ABOUT_SKIP, labels=labels)
        gauge("cryptopay_reconciliation_clean", int(report.clean), about="1 when the last run found no difference")
        gauge("cryptopay_reconciliation_last_run_seconds", report.at.timestamp(), about="when the last run read")

    # --- reading the snapshot ------------------------------------------------------------------------------

    def snapshot(self, outside: Outside) -> Records:
        """Read the records the checks compare, from the repositories, the ledger and the chains."""
        at = self._clock.now()
        payouts_statement, collections_statement = self._by_shortcode(outside.every_statement)
        invoices = list(self._listings.each_invoice())
        credits, refunds = in_transaction(self._uow, lambda uow: _per_invoice(uow, invoices))
        wallet_ids = self._wallet_ids()
        listed = [*self._listings.each_payout(), *(self._every_payout() if self._wallets is not None else ())]
        payouts = list({p.id: p for p in listed}.values())
        holds, entries = in_transaction(self._uow, lambda uow: _ledger_records(uow, credits, payouts))
        deposit_books = self._deposit_books() if self._deposits is not None else None
        withdrawal_books = self._withdrawal_books() if self._withdrawals is not None else None
        conversions = self._conversions()
        strays, pending_strays = in_transaction(self._uow, _booked_and_pending_strays)
        custody = self._custody(credits, deposit_books, withdrawal_books, conversions, strays)
        unread: dict[str, str] = {}
        on_chain = self._on_chain(custody, pending_strays, unread) if self._chains else None
        return Records(
            invoices=tuple(invoices),
            credits=tuple(credits),
            refunds=tuple(refunds),
            payouts=tuple(payouts),
            custody=custody,
            in_flight=self._balance(flows.IN_FLIGHT),
            float_balance=self._balance(flows.FLOAT),
            holds=holds,
            credit_entries=entries,
            trial_balance=self._ledger.trial_balance(),
            at=at,
            answers=tuple(in_transaction(self._uow, lambda uow: uow.unmatched_answers.pending(limit=_ANSWERS))),
            payout_statement=payouts_statement,
            collection_statement=collections_statement,
            statement_shortcodes=tuple(s.shortcode.strip() for s in outside.every_statement),
            bank_statement=outside.bank_statement,
            mpesa_balance=outside.mpesa_balance,
            books_float=outside.books_float,
            float_baseline=outside.float_baseline,
            on_chain=on_chain,
            chains_unread=unread,
            wallets=self._wallet_books(wallet_ids, at) if self._wallets is not None else None,
            deposits=deposit_books,
            withdrawals=withdrawal_books,
            conversions=tuple(conversions),
            wrong_network=tuple(strays),
            wrong_pending=tuple(pending_strays),
            remittances=self._remittance_books() if self._remittances is not None else None,
            unknown_bound=self._payout_bound,
            **self._treasury_records(),
        )

    # --- the remittance desk ---------------------------------------------------------------------------------

    def _remittance_books(self) -> RemittanceBooks:
        """Every remittance order, which conversions were reversed, and the desk's USDT less refunds held."""
        assert self._remittances is not None
        factory = self._remittances

        def page(before: str | None, limit: int) -> list[RemittanceOrder]:
            return in_transaction(factory, lambda uow: uow.remittances.list(state=None, before=before, limit=limit))

        orders = tuple(each(page, lambda order: order.id))
        keys = {remittance_unconvert_key(o.id): o.id for o in orders if o.conversion_entry_id}
        known = in_transaction(factory, lambda uow: uow.ledger.find_idempotencies(list(keys)) if keys else {})
        desk = self._balance(flows.merchant_liability(REMITTANCE_DESK, USDT))
        liability = desk.available if desk is not None else Money.zero(USDT)
        return RemittanceBooks(
            orders=orders, unconverted=frozenset(keys[k] for k in known if k in keys), liability=liability
        )

    # --- the personal wallets ------------------------------------------------------------------------------

    def _wallet_ids(self) -> list[str]:
        if self._wallets is None:
            return []
        factory = self._wallets

        def page(after: str | None, limit: int) -> list[str]:
            return [w.user_id for w in in_transaction(factory, lambda uow: uow.wallets.list(after=after, limit=limit))]

        return list(each(page, lambda user_id: user_id))

    def _every_payout(self) -> list[Payout]:
        """Every payout, whoever it pays: a wallet's sales and bills name no settlement of a merchant's store."""
        found: list[Payout] = []
        for state in PayoutState:
            listing = partial(_in_state, self._listings, state)
            found.extend(each(listing, _key))
        return found

    def _wallet_books(self, user_ids: Sequence[str], at: datetime) -> WalletBooks:
        assert self._wallets is not None
        factory = self._wallets
        buys: dict[str, Buy] = {}
        transfers: dict[str, Transfer] = {}
        for user in user_ids:
            buys |= {b.id: b for b in each(partial(_buys_of, factory, user), _key)}
            transfers |= {t.id: t for t in each(partial(_transfers_of, factory, user), _key)}
        entries = in_transaction(factory, lambda uow: _buy_entries(uow, list(buys)))
        overdue = in_transaction(
            factory, lambda uow: uow.wallet_transfers.claims_expiring(at - CLAIM_GRACE, limit=_ANSWERS)
        )
        codes = [flows.wallet_account(user, asset) for user in user_ids for asset in HOLDINGS]
        claims = {a.code: b.posted for a in HOLDINGS if (b := self._balance(flows.wallet_claims(a))) is not None}
        held = {a.code: b.posted for a in HOLDINGS if (b := self._balance(flows.p2p_held(a))) is not None}
        collections = self._balance(flows.MPESA_COLLECTIONS)
        paybill = in_transaction(self._paybill, lambda uow: uow.paybill_payments.all()) if self._paybill else []
        suspense = self._balance(flows.PAYBILL_SUSPENSE)
        return WalletBooks(
            wallets=len(user_ids),
            balances=self._ledger.balances(codes),
            claims=claims,
            waiting=tuple(t for t in transfers.values() if t.state is TransferState.AWAITING_CLAIM),
            overdue=tuple(overdue),
            buys=tuple(buys.values()),
            buy_entries=entries,
            collections=collections.posted if collections is not None else Money.zero(KES),
            paybill=tuple(paybill),
            suspense=suspense.posted if suspense is not None else Money.zero(KES),
            held=tuple(t for t in transfers.values() if t.state is TransferState.HELD),
            held_balances=held,
        )

    def _deposit_books(self) -> DepositBooks:
        """Every wallet deposit, whether its generation's credit (and a reversal) is in the ledger, the suspense."""
        assert self._deposits is not None
        factory = self._deposits
        found = list(each(lambda after, limit: _deposits_page(factory, after, limit), lambda d: d.id))
        keys = [k for d in found for k in (d.key("credit"), d.key("reverse"))]
        known = in_transaction(factory, lambda uow: uow.ledger.find_idempotencies(keys) if keys else {})
        entries = {d.id: (d.key("credit") in known, d.key("reverse") in known) for d in found}
        held = {a: b.posted for a in {d.asset for d in found} if (b := self._balance(flows.deposits_held(a)))}
        return DepositBooks(deposits=tuple(found), entries=entries, held={a.code: m for a, m in held.items()})

    def _treasury_records(self) -> dict[str, Any]:
        """The sweeps, the fee accounts they book to, and the float the latest B2C result reported."""
        if self._treasury is None:
            return {}
        sweeps = tuple(self._treasury.sweeps(limit=_SWEEPS))
        codes = {flows.network_fees(s.network, s.fee.asset) for s in sweeps if s.fee is not None}
        fees = {code: b.posted for code in sorted(codes) if (b := self._balance(code)) is not None}
        return {"sweeps": sweeps, "network_fees": fees, "float_reading": self._treasury.latest_reading()}

    def _balance(self, code: str) -> AccountBalance | None:
        try:
            return self._ledger.balance(code)
        except NotFound:
            return None

    def _withdrawal_books(self) -> WithdrawalBooks:
        """Every wallet withdrawal, its hold, whether custody paid it out, and each asset's in-flight account."""
        assert self._withdrawals is not None
        factory = self._withdrawals
        found = list(each(lambda after, limit: _withdrawals_page(factory, after, limit), lambda w: w.id))
        holds, sent = in_transaction(factory, lambda uow: _withdrawal_ledger(uow.ledger, found))
        in_flight = {
            a.code: b for a in {w.asset for w in found} if (b := self._balance(flows.wallet_withdrawals_in_flight(a)))
        }
        return WithdrawalBooks(withdrawals=tuple(found), holds=holds, sent=sent, in_flight=in_flight)

    def _conversions(self) -> list[BookedConversion]:
        """The treasury's conversions of every crypto asset the deployment knows (each left custody)."""
        return booked_conversions(self._ledger, [a for a in ASSETS.values() if not a.fiat])

    def _custody(
        self,
        credits: Sequence[PaymentCredit],
        deposits: DepositBooks | None = None,
        withdrawals: WithdrawalBooks | None = None,
        conversions: Sequence[BookedConversion] = (),
        strays: Sequence[WrongNetworkPayment] = (),
    ) -> dict[str, Money]:
        stores = each(lambda after, limit: self._listings.stores(after=after, limit=limit), lambda s: s.merchant_id)
        accounts = {flows.custody(rail.network.name, rail.asset): rail.asset for s in stores for rail in s.rails}
        accounts |= {flows.custody(c.transfer[0], c.received.asset): c.received.asset for c in credits}
        accounts |= {flows.custody(d.network, d.asset): d.asset for d in (deposits.deposits if deposits else ())}
        accounts |= {
            flows.custody(w.network, w.asset): w.asset for w in (withdrawals.withdrawals if withdrawals else ())
        }
        accounts |= {flows.custody(c.network, c.sold.asset): c.sold.asset for c in conversions}
        accounts |= {flows.custody(p.network, p.transfer.amount.asset): p.transfer.amount.asset for p in strays}
        found = {code: self._balance(code) for code in sorted(accounts)}
        return {code: b.posted if b else Money.zero(accounts[code]) for code, b in found.items()}

    def _on_chain(
        self, custody: Mapping[str, Money], pending: Sequence[WrongNetworkPayment], unread: dict[str, str]
    ) -> dict[str, OnChain]:
        """Each custody account's balance on chain at our addresses that may hold coins (``may_hold``; the pending
        wrong payments' too) and the hot wallet, read with ``BalanceReader.total`` (review5 S10), with what the
        ``pending`` wrong payments hold at the addresses read (expected on chain though not booked). A network
        whose node fails (``Unavailable`` after its reader's retries) is left out, saying why in ``unread``: the
        other networks and every other check still run (review5 S10)."""
        found: dict[str, OnChain] = {}
        for network, reader in sorted(self._chains.items()):
            now = self._clock.now()
            addresses = in_transaction(self._uow, partial(_addresses, network=network, now=now))
            addresses = sorted({*addresses, *(p.transfer.to_address for p in pending if p.network == network)})
            if hot := self._hot.get(network):
                addresses = [*addresses, hot]
            try:
                found |= _network_on_chain(network, reader, addresses, custody, pending)
            except Unavailable as error:
                log.warning("reconciliation could not read %s balances: %s", network, error.message)
                unread[network] = error.message
        return found


def _network_on_chain(
    network: str,
    reader: BalanceReader,
    addresses: Sequence[str],
    custody: Mapping[str, Money],
    pending: Sequence[WrongNetworkPayment],
) -> dict[str, OnChain]:
    found: dict[str, OnChain] = {}
    read = {a.lower() for a in addresses}
    for code, held in custody.items():
        if code.startswith(f"assets:custody:{network}:"):
            total = reader.total(addresses, held.asset)
            owed = sum(
                (
                    p.transfer.amount
                    for p in pending
                    if p.transfer.to_address.lower() in read
                    and flows.custody(p.network, p.transfer.amount.asset) == code
                ),
                Money.zero(held.asset),
            )
            found[code] = OnChain(balance=total, addresses=len(addresses), owed_to_payers=owed)
    return found


_SWEEPS = 100_000  # every sweep (one per deposit address and sweep run that found it due)
_ANSWERS = 1000  # the oldest unmatched answers read: enough to report, however many more wait
_ABOUT_DIFF = "differences the last reconciliation found, per check"
_ABOUT_SKIP = "1 when the last reconciliation skipped the check (its outside source was not read)"


def _key(item: Payout | Buy | Transfer) -> str:
    return item.id


def _in_state(listings: Listings, state: PayoutState, before: str | None, limit: int) -> list[Payout]:
    return listings.payouts(None, before=before, limit=limit, state=state)


def _withdrawals_page(factory: WithdrawalUowFactory, after: str | None, limit: int) -> list[Withdrawal]:
    return in_transaction(factory, lambda uow: uow.withdrawals.list(after=after, limit=limit))


def _withdrawal_ledger(
    session: LedgerSession, withdrawals: Sequence[Withdrawal]
) -> tuple[dict[str, Hold | None], dict[str, bool]]:
    holds = {w.hold_id: session.get_hold(w.hold_id) for w in withdrawals}
    sent = {w.id: session.find_idempotency(f"withdrawal:{w.id}:send") is not None for w in withdrawals}
    return holds, sent


def _deposits_page(factory: DepositUowFactory, after: str | None, limit: int) -> list[Deposit]:
    return in_transaction(factory, lambda uow: uow.wallet_deposits.every(after=after, limit=limit))


def _buys_of(factory: WalletUowFactory, user_id: str, after: str | None, limit: int) -> list[Buy]:
    return in_transaction(factory, lambda uow: uow.wallet_buys.for_user(user_id, after=after, limit=limit))


def _transfers_of(factory: WalletUowFactory, user_id: str, after: str | None, limit: int) -> list[Transfer]:
    return in_transaction(factory, lambda uow: uow.wallet_transfers.for_user(user_id, after=after, limit=limit))


def _buy_entries(uow: WalletUnitOfWork, buy_ids: Sequence[str]) -> dict[str, bool]:
    found = uow.ledger.find_idempotencies([flows.buy_key(b) for b in buy_ids]) if buy_ids else {}
    return {b: flows.buy_key(b) in found for b in buy_ids}


def _addresses(uow: PaymentsUnitOfWork, *, network: str, now: datetime) -> list[str]:
    """The deposit addresses that can hold something (review5 S10): not an idle expired invoice's."""
    return uow.deposit_addresses.may_hold(network, now)


def _strays(uow: PaymentsUnitOfWork, state: WrongNetworkState) -> list[WrongNetworkPayment]:
    """Every wrong-network (or wrong-asset) payment in ``state``, page by page: the refunded ones are booked into
    custody, the pending ones are owed to their payer until someone decides."""
    found: list[WrongNetworkPayment] = []
    while page := uow.wrong_network_payments.list(state=state, before=found[-1].id if found else None, limit=500):
        found += page
    return found


def _booked_and_pending_strays(
    uow: PaymentsUnitOfWork,
) -> tuple[list[WrongNetworkPayment], list[WrongNetworkPayment]]:
    """The wrong payments booked into custody (refunded; or booked for a refund, then withdrawn by a reorg or mined
    again: the booking stands) and those owed to their payer unbooked until someone decides (pending)."""
    pending = _strays(uow, WrongNetworkState.PENDING)
    again = [*_strays(uow, WrongNetworkState.WITHDRAWN), *pending]
    booked = [*_strays(uow, WrongNetworkState.REFUNDED), *(p for p in again if p.booked)]
    return booked, [p for p in pending if not p.booked]


def _per_invoice(uow: PaymentsUnitOfWork, invoices: Sequence[Invoice]) -> tuple[list[PaymentCredit], list[Refund]]:
    credits = [c for i in invoices for c in uow.payment_credits.for_invoice(i.id)]
    return credits, [r for i in invoices for r in uow.refunds.for_invoice(i.id)]


def _ledger_records(
    uow: PaymentsUnitOfWork, credits: Sequence[PaymentCredit], payouts: Sequence[Payout]
) -> tuple[dict[str, Hold | None], dict[str, tuple[bool, bool]]]:
    session = uow.ledger
    holds = {p.hold_id: session.get_hold(p.hold_id) for p in payouts}
    entries = {
        c.entry_id: (session.get_entry(c.entry_id) is not None, session.find_reversal(c.entry_id) is not None)
        for c in credits
    }
    return holds, entries


def _inputs(given: Outside, used: Outside, answer: BalanceQuery | None) -> dict[str, str]:
    """What a run compares with (R10-13): the Account Balance and its source (``typed`` by the caller, or M-Pesa's
    answer by id and time), the books' float then, the float baseline and its source (``typed`` or ``configured``:
    ``CRYPTOPAY_MPESA_FLOAT_BASELINE``), each statement's Short Code, period and sha256, and the bank statement's
    account, period and sha256."""
    found: dict[str, str] = {}
    if used.mpesa_balance is not None:
        found["mpesa_balance"] = str(used.mpesa_balance)
        if given.mpesa_balance is not None:
            found["mpesa_balance_source"] = "typed"
        elif answer is not None:
            when = answer.answered_at.isoformat() if answer.answered_at else ""
            found["mpesa_balance_source"] = f"mpesa answer {answer.id} at {when}"
    if used.books_float is not None:
        found["books_float"] = str(used.books_float)
    found["float_baseline"] = str(used.float_baseline) if used.float_baseline is not None else ""
    if used.float_baseline is not None:
        found["float_baseline_source"] = "typed" if given.float_baseline is not None else "configured"
    for n, statement in enumerate(used.every_statement, start=1):
        period = statement.covers
        span = f"{period[0].isoformat()}/{period[1].isoformat()}" if period else "period unknown"
        code = statement.shortcode.strip() or "no Short Code"
        found[f"statement_{n}"] = f"{code} {span} sha256:{statement.digest or 'unknown'}"
    if (bank := used.bank_statement) is not None:
        span = f"{bank.period[0].isoformat()}/{bank.period[1].isoformat()}"
        found["bank_statement"] = f"{bank.account.strip() or 'no account'} {span} sha256:{bank.digest or 'unknown'}"
    return found


def _input_events(report: Report, last: str | None) -> list[AuditEvent]:
    """Audit a typed Account Balance, and a float baseline that differs from the last run's (R10-13)."""
    inputs, who, found = report.inputs, report.operator, []
    if inputs.get("mpesa_balance_source") == "typed":
        details = {"balance": inputs["mpesa_balance"], "baseline": inputs.get("float_baseline", "")}
        found.append(AuditEvent(who, "reconciliation.balance_typed", "mpesa-float", report.at, details))
    baseline = inputs.get("float_baseline", "")
    if last is not None and baseline != last:
        details = {"from": last, "to": baseline, "source": inputs.get("float_baseline_source", "")}
        found.append(AuditEvent(who, "reconciliation.float_baseline_changed", "mpesa-float", report.at, details))
    return found


def _append(uow: PaymentsUnitOfWork, events: Sequence[AuditEvent]) -> None:
    for event in events:
        uow.audit.append(event)
