"""Running settlements: at each merchant's cut-off, sell its crypto at locked quotes and plan M-Pesa payouts.

Per merchant and cut-off, one transaction: retry pending clawbacks, convert the available crypto (each asset at its
own ``<ASSET>/KES`` quote) through the trading accounts at the quote's bid (the spread is FX revenue), plan payouts
within M-Pesa's sizes and the recipient's daily limit (``settlement.plan_payouts``; the payout charge is taken on top
of each part), and hold each payout's shillings. The payouts are sent later by ``Payouts.submit_payouts``. A
settlement is complete when every payout is final; ``complete_by`` (cut-off + 2 hours) is the promise
``Payouts.query_stale_payouts`` keeps even when M-Pesa's callbacks are lost.

Cut-offs are in Nairobi time. A daily or weekly cut-off is settled once (unique per merchant and cut-off) and is
recorded as skipped when there is nothing to pay; an instant settlement runs whenever there is enough to pay.
The assets converted are ``settle_assets`` (USDT, USDC and BTC by default): ``flows.convert_for_settlement`` keys
one conversion per settlement and asset. A merchant whose balance holds an asset no source prices now is reported
(``no fresh rate``) and waits for the next run; stores cannot accept such a rail in the first place
(``refuse_unpriced_rails``).

Bank settlements (#13.7): a bank account whose bank has a paybill in the bank catalogue is paid by M-Pesa B2B
(``BusinessPayBill`` to the paybill, the account number as AccountReference), planned in B2B's sizes and sent by the
same payout machinery as B2C; any other bank account becomes one bank transfer awaiting an operator (the bank file,
then two officers' ``Payouts.propose_bank_confirmation`` and ``approve_bank_confirmation``).

Refunds the merchant funded after settlement (outside review R25, ``Refunds.refund(fund_after_settlement=True)``) are
netted: what the merchant owes (``flows.merchant_receivable``) is taken from the shillings a settlement would pay,
never more than they are (a settlement never goes negative; the rest carries over to the next), before the payouts
are planned (``flows.net_receivable``, in the settlement's transaction, audited in ``settlement.run`` as ``netted``
and named in the settlement's reason). A run whose shillings all go to what the merchant owes is recorded complete,
with no payout.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

import attrs
from cryptopay.core import flows
from cryptopay.core.compliance.feed import MonitoringFeed, movement
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.errors import CryptopayError, NotFound
from cryptopay.core.fx import Pair, Quote
from cryptopay.core.identity.model import Merchant
from cryptopay.core.kyc.gate import PayoutGate
from cryptopay.core.kyc.limits import FROZEN, Decision, day_bounds, month_bounds
from cryptopay.core.ledger import AccountBalance, Ledger, trading_account
from cryptopay.core.mobile_money.wording import payout_wording
from cryptopay.core.money import BTC, KES, USDC, USDT, Asset, Money
from cryptopay.core.payments._support import audit, available, transaction
from cryptopay.core.payments.crediting import retry_clawbacks
from cryptopay.core.payments.model import StoreSettings
from cryptopay.core.payouts.model import B2BTarget, Payout, PayoutState
from cryptopay.core.payouts.service import paid_to
from cryptopay.core.ports.identity import MerchantRepository
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.settlement.banks import bank_catalogue
from cryptopay.core.settlement.model import (
    Settlement,
    SettlementConversion,
    SettlementMethod,
    SettlementSchedule,
    SettlementState,
)
from cryptopay.core.settlement.policy import PayoutPlan, SettlementPolicy, plan_payouts

if TYPE_CHECKING:
    from cryptopay.core.ports.payments import PaymentsUnitOfWork, PaymentsUowFactory, Quoter

__all__ = ["COMPLETE_WITHIN", "SETTLE_ASSETS", "SettlementRun", "Settling", "b2b_target"]

COMPLETE_WITHIN = timedelta(hours=2)
_PAGE = 200
_QUOTE_MARGIN = timedelta(seconds=5)  # a quote this close to expiry is renewed before a settlement uses it
_ACTOR = "system:settlement"


@attrs.frozen
class SettlementRun:
    """What a run did (or, in a dry run, would do) for one merchant."""

    merchant_id: str
    reason: str
    settlement: Settlement | None = None
    payouts: tuple[Payout, ...] = ()
    plan: PayoutPlan | None = None
    dry_run: bool = False


SETTLE_ASSETS = (USDT, USDC, BTC)


@attrs.frozen
class _Funds:
    crypto: tuple[Money, ...]  # the positive balances of the assets to convert
    shillings: Money
    owed: Money = attrs.Factory(lambda: Money.zero(KES))  # refunds funded after settlement

    def netted(self, shillings: Money) -> Money:
        """What a settlement of ``shillings`` takes for what the merchant owes: never more than either."""
        return min(self.owed, shillings) if self.owed.is_positive() and shillings.is_positive() else Money.zero(KES)

    def quotes(self, quotes: _RunQuotes) -> list[Quote]:
        """A locked quote per asset held (asking the pricer: outside any transaction)."""
        return [quotes.current(amount.asset) for amount in self.crypto]

    def locked_in(self, quotes: _RunQuotes, selling: Sequence[Asset]) -> tuple[_Funds, list[Quote]]:
        """The crypto of ``selling`` whose quote this run already locked, with those quotes. Inside a transaction
        no new quote is asked for: the pricer stores it through its own connection, which the transaction's write
        lock would block (on SQLite the worker hung). An asset credited since the page was read waits for the next
        run (its trading account is not among those the settlement locked)."""
        held = [(m, q) for m in self.crypto if m.asset in selling and (q := quotes.cached(m.asset)) is not None]
        return _Funds(tuple(m for m, _ in held), self.shillings, self.owed), [q for _, q in held]


class Settling:
    """The settlement use cases."""

    def __init__(
        self,
        *,
        uow: PaymentsUowFactory,
        clock: Clock,
        ids: IdGenerator,
        ledger: Ledger,
        pricer: Quoter,
        merchants: MerchantRepository,
        settle_assets: Sequence[Asset] = SETTLE_ASSETS,
        gate: PayoutGate | None = None,
        monitor: MonitoringFeed | None = None,
    ) -> None:
        self._uow, self._clock, self._ids, self._ledger = uow, clock, ids, ledger
        self._pricer, self._merchants, self._assets = pricer, merchants, tuple(settle_assets)
        self._gate = gate  # compliance: frozen merchants, KYB, tier limits (None: no verification is enforced)
        self._monitor = monitor or MonitoringFeed()  # AML: blocking rules on the approved parts, payouts journaled

    def run_settlements(
        self, now: datetime | None = None, *, merchant_id: str | None = None, dry_run: bool = False
    ) -> list[SettlementRun]:
        """Settle every merchant (or one) whose cut-off has passed; ``dry_run`` plans without writing anything.

        Merchants are read a page at a time, each page's merchants, last settlements, balances and (dry run)
        payouts of the day in one query each, and one quote serves the run until it expires: a run over 10,000
        merchants is a few hundred reads, not tens of thousands. Each settlement re-reads what it moves under
        lock in its own transaction, so the page's reads only decide who is due.

        A closed merchant (``close_merchant``) is not settled by the run over every merchant: what reaches it after
        closing (a late payment is credited as any other) waits for an operator, who settles it by naming it
        (``merchant_id``: ``cryptopay settlements run --merchant``) or refunds it."""
        moment = now or self._clock.now()
        quotes = _RunQuotes(self._pricer, self._clock)
        pages = [(None, [self._store(merchant_id)])] if merchant_id else self._store_pages()
        runs: list[SettlementRun] = []
        for after, stores in pages:
            page = self._read_page(stores, after, moment, dry_run)
            runs += [self._guarded(store, page, moment, dry_run, quotes, named=bool(merchant_id)) for store in stores]
        return runs

    def overdue(self, now: datetime | None = None) -> list[Settlement]:
        """Settlements still paying after their ``complete_by``: for alerts and the ops dashboard."""
        moment = now or self._clock.now()
        paying = transaction(self._uow, lambda uow: uow.settlements.by_state(SettlementState.PAYING, limit=1000))
        return [s for s in paying if s.complete_by <= moment]

    def policy_for(self, store: StoreSettings, at: datetime) -> SettlementPolicy:
        """The merchant's settlement policy: its profile with the store's cut-off, weekday and payout charges."""
        merchant = self._merchants.get(store.merchant_id)
        if merchant is None:
            raise NotFound(f"no merchant {store.merchant_id}")
        return SettlementPolicy.from_profile(
            merchant.settlement, cutoff=store.cutoff, weekday=store.weekday, charges=store.payout_charges(at)
        )

    # --- one merchant --------------------------------------------------------------------------------------------

    def _guarded(
        self, store: StoreSettings, page: _Page, now: datetime, dry_run: bool, quotes: _RunQuotes, *, named: bool
    ) -> SettlementRun:
        """One merchant's run; its refusal (no rate, a bad profile) is reported and does not stop the others.
        ``named``: an operator named this merchant (a closed one is settled only then)."""
        merchant = page.merchants.get(store.merchant_id)
        if not named and merchant is not None and merchant.closed_at is not None:
            return SettlementRun(
                store.merchant_id, "the merchant is closed; its balance waits for an operator", dry_run=dry_run
            )
        try:
            return self._run_one(store, page, now, dry_run, quotes)
        except CryptopayError as error:
            return SettlementRun(store.merchant_id, f"{error.code}: {error.message}", dry_run=dry_run)

    def _run_one(
        self, store: StoreSettings, page: _Page, now: datetime, dry_run: bool, quotes: _RunQuotes
    ) -> SettlementRun:
        merchant_id = store.merchant_id
        merchant = page.merchants.get(merchant_id)
        policy = self._policy(store, merchant, now)
        if cooling := _cooling_until(merchant, now):
            return SettlementRun(merchant_id, f"the new payout destination cools off until {cooling}; payouts wait")
        if (held := page.held.get(merchant_id)) is not None and not held.allowed:
            return SettlementRun(merchant_id, _held(held))
        cutoff = _cutoff(policy, now)
        last = page.last.get(merchant_id)
        if last is not None and not policy.is_due(last.cutoff, now):
            return SettlementRun(merchant_id, f"not due: settled at the cut-off of {last.cutoff.isoformat()}")
        if last is not None and (stuck := transaction(self._uow, lambda uow: _awaiting_operator(uow, last.id))):
            # Re-planning the released shillings would fail the same way on every run (wrong number, bad credentials).
            why = f"{stuck.result_code}: {payout_wording(stuck.result_code)}" if stuck.result_code else "failed"
            return SettlementRun(merchant_id, f"payout {stuck.id} failed ({why}); an operator retries it first")
        funds = page.funds(merchant_id, self._assets)
        locked = funds.quotes(quotes)
        if dry_run:
            plan = self._plan(funds, policy, locked, page.paid_today(policy.destination))
            return SettlementRun(merchant_id, plan.reason, plan=plan, dry_run=True)
        checked = self._check_gate(merchant_id, policy, funds, locked, now)
        if isinstance(checked, SettlementRun):
            return checked
        if checked:  # Blocked (a CryptopayError) ends this merchant's run here, before anything is written
            total = sum(checked, Money.zero(KES))
            check_id = f"settlement-check:{merchant_id}:{now.isoformat()}"
            self._monitor.before(_paid_out(check_id, merchant_id, total, now, policy.destination))
        selling = tuple(m.asset for m in funds.crypto)
        run = transaction(self._uow, lambda uow: self._settle(uow, store, policy, cutoff, quotes, selling, checked))
        self._monitor.after(*(_paid_out(p.id, merchant_id, p.amount, now, p.destination) for p in run.payouts))
        return run

    def _check_gate(
        self, merchant_id: str, policy: SettlementPolicy, funds: _Funds, locked: Sequence[Quote], now: datetime
    ) -> SettlementRun | list[Money] | None:
        """Compliance's decision on the parts this run would pay, asked *before* the settlement's transaction: the
        gate reads profiles in a unit of work of its own, which the transaction's write lock would block (on
        SQLite the worker hung there). The transaction pays only the parts approved here."""
        if self._gate is None:
            return None
        month_start, _ = month_bounds(now)
        paid_today, paid_month = transaction(
            self._uow, lambda uow: (_paid_today(uow, policy, now), _paid_since(uow, policy, month_start))
        )
        plan = self._plan(funds, policy, locked, paid_today)
        parts = [part.amount for part in plan.parts]
        if not parts:
            return parts
        decision = self._gate.settlement(merchant_id, parts, paid_today=paid_today, paid_this_month=paid_month)
        if not decision.allowed:  # nothing written: the funds stay where they are for the next run
            return SettlementRun(merchant_id, _held(decision), plan=plan)
        return parts

    def _policy(self, store: StoreSettings, merchant: Merchant | None, at: datetime) -> SettlementPolicy:
        if merchant is None:
            raise NotFound(f"no merchant {store.merchant_id}")
        return SettlementPolicy.from_profile(
            merchant.settlement, cutoff=store.cutoff, weekday=store.weekday, charges=store.payout_charges(at)
        )

    def _read_page(self, stores: Sequence[StoreSettings], after: str | None, now: datetime, dry_run: bool) -> _Page:
        """The page's merchants, last settlements, balances and (dry run) payouts of the day: one read each."""
        ids = [s.merchant_id for s in stores]
        merchants = self._merchants_of(ids, after)
        last = transaction(self._uow, lambda uow: uow.settlements.last_for_each(ids))
        codes = [flows.merchant_liability(m, asset) for m in ids for asset in (*self._assets, KES)]
        codes += [flows.merchant_receivable(m) for m in ids]
        balances = self._ledger.balances(codes)
        paid: list[Payout] = []
        if dry_run:
            destinations = [m.settlement.destination for m in merchants.values()]
            since, _ = day_bounds(now)
            paid = transaction(self._uow, lambda uow: uow.payouts.to_destinations(destinations, since=since))
        held = {} if self._gate is None else self._gate.held_many(ids, at=now)  # freezes and KYB: one read
        return _Page(merchants, last, balances, paid, held)

    def _merchants_of(self, ids: Sequence[str], after: str | None) -> dict[str, Merchant]:
        """The merchants of a page of stores listed after ``after`` (both listed by id): one listing of as many
        merchants after the same key, then any the listing missed (merchants without a store) one by one."""
        wanted = set(ids)
        listed = self._merchants.list(after=after, limit=len(ids)) if after is not None or len(ids) > 1 else []
        found = {m.id: m for m in listed if m.id in wanted}
        for missing in wanted - found.keys():
            if (merchant := self._merchants.get(missing)) is not None:
                found[missing] = merchant
        return found

    def _settle(
        self,
        uow: PaymentsUnitOfWork,
        store: StoreSettings,
        policy: SettlementPolicy,
        cutoff: datetime,
        quotes: _RunQuotes,
        selling: Sequence[Asset],
        approved: list[Money] | None = None,
    ) -> SettlementRun:
        merchant_id, now = store.merchant_id, self._clock.now()
        if policy.payout_limits.per_day is not None:
            # The destination's lock first (the global lock order: before any ledger balance), held to the commit:
            # the day's payouts read below and the ones planned on them are one unit of work for this number.
            uow.payouts.lock_destination(policy.destination)
        last = uow.settlements.last_for(merchant_id)
        if last is not None and policy.schedule is not SettlementSchedule.INSTANT and last.cutoff >= cutoff:
            return SettlementRun(merchant_id, f"not due: settled at the cut-off of {last.cutoff.isoformat()}")
        retry_clawbacks(uow, self._ledger, merchant_id, now=now)
        self._lock_books(uow, merchant_id, selling)
        funds, locked = self._funds(uow, merchant_id).locked_in(quotes, selling)
        paid_today = _paid_today(uow, policy, now)
        plan = self._plan(funds, policy, locked, paid_today)
        if self._gate is not None and plan.parts and [part.amount for part in plan.parts] != approved:
            # more (or less) to pay than compliance approved a moment ago: nothing written, the next run checks it
            return SettlementRun(merchant_id, "the balance changed while it was checked; the next run settles it")
        settlement = Settlement(
            id=self._ids.new_id("stl"),
            merchant_id=merchant_id,
            cutoff=cutoff,
            created_at=now,
            complete_by=cutoff + COMPLETE_WITHIN,
            method=policy.method,
            destination=policy.destination,
            reason=plan.reason,
            remainder=plan.remainder,
            charges=plan.total_fees,
        )
        netted = funds.netted(self._shillings(funds, locked))
        if not plan.parts and not netted.is_positive():
            return self._skip(uow, settlement, plan, policy)
        for amount, quote in zip(funds.crypto, locked, strict=True):
            self._convert(uow, settlement, amount, quote)
        if netted.is_positive():  # the same shillings the plan counted: the conversions round as quote.convert does
            flows.net_receivable(
                self._ledger, settlement_id=settlement.id, merchant_id=merchant_id, amount=netted, session=uow.ledger
            )
            settlement.reason = f"{plan.reason}; {netted} netted for refunds funded after settlement"
        if not plan.parts:  # it only netted what the merchant owes: nothing in flight
            settlement.state, settlement.completed_at = SettlementState.COMPLETED, now
        payouts = [self._hold(uow, settlement, part.amount, part.fee, policy) for part in plan.parts]
        settlement.payout_ids = tuple(p.id for p in payouts)
        uow.settlements.add(settlement)
        audit(
            uow,
            _ACTOR,
            "settlement.run",
            f"settlement:{settlement.id}",
            now,
            merchant=merchant_id,
            cutoff=cutoff.isoformat(),
            paid=plan.total_paid,
            fees=plan.total_fees,
            parts=len(payouts),
            remainder=plan.remainder,
            netted=netted,
        )
        return SettlementRun(merchant_id, settlement.reason, settlement, tuple(payouts), plan)

    def _skip(
        self, uow: PaymentsUnitOfWork, settlement: Settlement, plan: PayoutPlan, policy: SettlementPolicy
    ) -> SettlementRun:
        if policy.schedule is SettlementSchedule.INSTANT:
            return SettlementRun(settlement.merchant_id, plan.reason, plan=plan)  # no row per idle instant run
        settlement.state, settlement.completed_at = SettlementState.SKIPPED, settlement.created_at
        uow.settlements.add(settlement)
        return SettlementRun(settlement.merchant_id, plan.reason, settlement, plan=plan)

    def _convert(self, uow: PaymentsUnitOfWork, settlement: Settlement, crypto: Money, quote: Quote) -> None:
        now = self._clock.now()
        entry, credited = flows.convert_for_settlement(
            self._ledger,
            settlement_id=settlement.id,
            merchant_id=settlement.merchant_id,
            amount=crypto,
            quote=quote,
            at=now,
            session=uow.ledger,
        )
        spread = [-p.amount for p in entry.postings if p.account == flows.FX_SPREAD]
        settlement.add_conversion(
            SettlementConversion(quote.id, crypto, credited, spread[0] if spread else Money.zero(KES))
        )
        audit(
            uow,
            _ACTOR,
            "settlement.convert",
            f"settlement:{settlement.id}",
            now,
            entry=entry.id,
            sold=crypto,
            credited=credited,
            quote=quote.id,
            bid=quote.bid,
        )

    def _hold(
        self, uow: PaymentsUnitOfWork, settlement: Settlement, amount: Money, charge: Money, policy: SettlementPolicy
    ) -> Payout:
        now, payout_id = self._clock.now(), self._ids.new_id("po")
        hold = flows.start_payout(
            self._ledger,
            payout_id=payout_id,
            merchant_id=settlement.merchant_id,
            amount=amount,
            charge=charge,
            session=uow.ledger,
        )
        # B2B requests carry no id of ours: M-Pesa's is recorded from its answer. Guessing one would let a status
        # answer of NOT_FOUND (about an id M-Pesa never saw) send a paid payout again.
        originator = payout_id if policy.method is SettlementMethod.MPESA_B2C else None
        payout = Payout(
            id=payout_id,
            settlement_id=settlement.id,
            merchant_id=settlement.merchant_id,
            originator_id=originator,
            method=policy.method,
            destination=policy.destination,
            amount=amount,
            charge=charge,
            hold_id=hold.id,
            created_at=now,
            b2b=b2b_target(policy.method, policy.destination),
        )
        if payout.is_bank_transfer:
            payout.awaiting_transfer(now)  # an operator pays it from the bank file; M-Pesa is never called
        uow.payouts.add(payout)
        audit(
            uow,
            _ACTOR,
            "payout.hold",
            f"payout:{payout_id}",
            now,
            hold=hold.id,
            amount=amount,
            charge=charge,
            settlement=settlement.id,
            route=_route_name(payout),
        )
        return payout

    def _plan(self, funds: _Funds, policy: SettlementPolicy, quotes: Sequence[Quote], paid_today: Money) -> PayoutPlan:
        shillings = self._shillings(funds, quotes)
        now = self._clock.now()
        return plan_payouts(shillings - funds.netted(shillings), policy=policy, now=now, paid_today=paid_today)

    def _shillings(self, funds: _Funds, quotes: Sequence[Quote]) -> Money:
        """The merchant's shillings once its crypto is sold at ``quotes`` (what a settlement pays before netting)."""
        shillings, now = funds.shillings, self._clock.now()
        for amount, quote in zip(funds.crypto, quotes, strict=True):
            shillings += quote.convert(amount, at=now)
        return shillings

    def _lock_books(self, uow: PaymentsUnitOfWork, merchant_id: str, selling: Sequence[Asset]) -> None:
        """Lock every balance the settlement may move, in one statement and in code order: the merchant's, and when
        it sells crypto the trading accounts, the FX spread and the payouts in flight. Locked posting by posting
        they came in another order (the merchant's before the trading accounts, one asset's trading account after
        another's and after the spread): two merchants settling USDT and BTC and BTC alone deadlocked."""
        codes = [flows.merchant_liability(merchant_id, asset) for asset in (*self._assets, KES)]
        codes.append(flows.merchant_receivable(merchant_id))
        if selling:
            codes += [trading_account(asset.code) for asset in (*selling, KES)] + [flows.FX_SPREAD, flows.IN_FLIGHT]
        uow.ledger.lock_balances(sorted(set(codes)))

    def _funds(self, uow: PaymentsUnitOfWork, merchant_id: str) -> _Funds:
        held = (available(uow, flows.merchant_liability(merchant_id, a), Money.zero(a)) for a in self._assets)
        shillings = available(uow, flows.merchant_liability(merchant_id, KES), Money.zero(KES))
        owed = available(uow, flows.merchant_receivable(merchant_id), Money.zero(KES))
        return _Funds(tuple(m for m in held if m.is_positive()), shillings, owed)

    def _store(self, merchant_id: str) -> StoreSettings:
        if merchant_id == flows.REMITTANCE_DESK:
            raise NotFound("the remittance desk is not a merchant: its funds belong to remittance orders")
        store = transaction(self._uow, lambda uow: uow.stores.get(merchant_id))
        if store is None:
            raise NotFound(f"merchant {merchant_id} has no store settings")
        return store

    def _store_pages(self) -> Iterator[tuple[str | None, list[StoreSettings]]]:
        """Pages of stores by merchant id, each with the key it was listed after. The remittance desk's store takes
        invoices but is never settled: its funds belong to the orders (``cryptopay.core.remittances``)."""
        after: str | None = None
        while page := transaction(self._uow, partial(_stores_page, after=after)):
            merchants = [store for store in page if store.merchant_id != flows.REMITTANCE_DESK]
            if merchants:
                yield after, merchants
            after = page[-1].merchant_id


def _paid_out(movement_id: str, merchant_id: str, amount: Money, at: datetime, destination: str) -> Movement:
    """A merchant's money leaving for its payout destination, as monitoring sees it."""
    return movement(movement_id, merchant_id, "settlement_payout", Direction.OUT, amount, at, counterparty=destination)


def b2b_target(method: SettlementMethod, destination: str) -> B2BTarget | None:
    """Where M-Pesa B2B pays a settlement by ``method`` to ``destination``; None for B2C and bank transfers.

    A bank account goes to its bank's paybill with the account number as the AccountReference when the bank
    catalogue allows (``settlement.banks``); otherwise it is a bank transfer from the bank file.

    >>> b2b_target(SettlementMethod.BANK, "KCB:1234567890")
    B2BTarget(command=<B2BCommand.PAYBILL: 'BusinessPayBill'>, party='522522', account_reference='1234567890')
    >>> b2b_target(SettlementMethod.BANK, "CITI:1234567890") is None
    True
    """
    if method is SettlementMethod.MPESA_PAYBILL:
        paybill, account = destination.split("#", 1)
        return B2BTarget.paybill(paybill, account[:13])
    if method is SettlementMethod.MPESA_TILL:
        return B2BTarget.till(destination)
    if method is SettlementMethod.BANK:
        route = bank_catalogue().route(destination)
        return B2BTarget.paybill(route.paybill, route.account) if route.paybill is not None else None
    return None


def _route_name(payout: Payout) -> str:
    if payout.is_bank_transfer:
        return "bank_transfer"
    return payout.b2b.command.value if payout.b2b is not None else "b2c"


def _stores_page(uow: PaymentsUnitOfWork, *, after: str | None) -> list[StoreSettings]:
    return uow.stores.list(after=after, limit=_PAGE)


def _cooling_until(merchant: Merchant | None, now: datetime) -> str | None:
    """When a newly set payout destination may receive money, if that is still ahead (a stolen login's
    redirected payouts wait, and the owner, told of the change, can stop them)."""
    if merchant is None or merchant.destination_ready_at is None or not merchant.destination_cooling(now):
        return None
    return merchant.destination_ready_at.isoformat()


@attrs.frozen
class _Page:
    """What a page of merchants' runs read up front."""

    merchants: dict[str, Merchant]
    last: dict[str, Settlement]
    balances: dict[str, AccountBalance]
    paid: list[Payout]
    held: dict[str, Decision] = attrs.Factory(dict)  # compliance's answer per merchant (empty: no gate)

    def funds(self, merchant_id: str, assets: Sequence[Asset]) -> _Funds:
        held = [self.balances.get(flows.merchant_liability(merchant_id, asset)) for asset in assets]
        shillings = self.balances.get(flows.merchant_liability(merchant_id, KES))
        owed = self.balances.get(flows.merchant_receivable(merchant_id))
        return _Funds(
            tuple(b.available for b in held if b is not None and b.available.is_positive()),
            shillings.available if shillings is not None else Money.zero(KES),
            owed.available if owed is not None else Money.zero(KES),
        )

    def paid_today(self, destination: str) -> Money:
        """What ``destination`` has received or has in flight today (failed payouts excluded)."""
        mine = (p.amount for p in self.paid if p.destination == destination and p.state is not PayoutState.FAILED)
        return sum(mine, Money.zero(KES))


class _RunQuotes:
    """One locked quote per asset for a run's conversions, renewed once it expires (not one quote row per
    merchant); an asset nobody holds is never quoted."""

    def __init__(self, pricer: Quoter, clock: Clock) -> None:
        self._pricer, self._clock = pricer, clock
        self._quotes: dict[Asset, Quote] = {}

    def cached(self, asset: Asset) -> Quote | None:
        """The quote already locked for ``asset`` while it is still good, without asking the pricer."""
        quote = self._quotes.get(asset)
        return quote if quote is not None and quote.expires_at > self._clock.now() + _QUOTE_MARGIN else None

    def current(self, asset: Asset) -> Quote:
        quote = self._quotes.get(asset)
        if quote is None or quote.expires_at <= self._clock.now() + _QUOTE_MARGIN:
            quote = self._quotes[asset] = self._pricer.quote(Pair(asset, KES))
        return quote


def _cutoff(policy: SettlementPolicy, now: datetime) -> datetime:
    """The cut-off this run settles: the latest one at or before ``now`` (``now`` itself when instant)."""
    if policy.schedule is SettlementSchedule.INSTANT:
        return now
    period = timedelta(days=7 if policy.schedule is SettlementSchedule.WEEKLY else 1)
    return policy.next_cutoff(now) - period


def _paid_today(uow: PaymentsUnitOfWork, policy: SettlementPolicy, now: datetime) -> Money:
    """What this destination has received or has in flight since midnight in Nairobi (failed payouts excluded)."""
    midnight, _ = day_bounds(now)
    return _paid_since(uow, policy, midnight)


def _paid_since(uow: PaymentsUnitOfWork, policy: SettlementPolicy, since: datetime) -> Money:
    return paid_to(uow.payouts, policy.destination, since=since)


def _awaiting_operator(uow: PaymentsUnitOfWork, settlement_id: str) -> Payout | None:
    """A definitively failed payout of the settlement that no operator has retried yet."""
    for payout in uow.payouts.for_settlement(settlement_id):
        if payout.state is PayoutState.FAILED and payout.retried_by is None:
            return payout
    return None


def _held(decision: Decision) -> str:
    """A held run's reason, which the merchant reads: a compliance freeze is the neutral ``held: ...`` (no tipping
    off; officers see the freeze and its reason in the console and the audit log), other holds name their limit.

    >>> _held(Decision(False, "not KYB-verified yet", "kyb"))
    'held (kyb): not KYB-verified yet'
    """
    return f"held: {decision.reason}" if decision.limit == FROZEN else f"held ({decision.limit}): {decision.reason}"
