"""Selling USDT for shillings paid to the wallet's own verified M-Pesa number (B2C), through the payout machinery.

``start`` converts the USDT at the locked bid into the wallet's KES (``flows.sell_for_kes``) and plans a payout
in the same unit of work: a hold of the amount and M-Pesa's charge (``B2C_TARIFF``, data) from the wallet's KES
balance, and a ``Payout`` (``cryptopay.core.payouts``) to the wallet's own phone, whose ``merchant_id`` is the wallet's
user id and whose ``settlement_id`` is the sale's id. From there ``Payouts`` does what it does for merchants: sends
it once (``payouts.start``), applies the result, asks Transaction Status when none comes, posts the hold on success
and voids it on failure (the shillings then stay in the wallet, as KES). No second B2C path exists.

The amount paid out is whole shillings (B2C: KES 10 to 250,000) after the charge; the sub-shilling rest stays in
the wallet. A customer receives at most KES 500,000 a day over M-Pesa (``DAILY_CUSTOMER_LIMIT``, ``per_day``):
every payout to the number counts (sales, remittances, settlements; failed ones not), read under the number's lock.
Before anything moves, the treasury's ``FloatGuard.can_cover`` (given as ``float_cover``) must say the float can
pay the amount: a sale the float cannot cover is refused (``float_short``), never planned to wait; a payout that
becomes uncoverable between planning and sending is held by the same guard inside ``Payouts``.

``cash_out`` pays whole shillings of the wallet's KES balance (what a failed sale left there) to the same number the
same way: a sale of no USDT (``Sale.usdt`` is zero), with the same charge, limits, float check, monitoring and audit.
It takes exactly what is asked: an amount M-Pesa cannot pay whole with its charge (KES 101-105 with the sandbox's
bands: KES 100 is sent free, KES 101 costs 5) is refused naming the nearest amounts that can be (``AmountNotPayable``,
review7 F10: the 201 said KES 103 while 100 left the wallet, and the limits counted 103).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs
from cryptopay.core import flows
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.feed import MonitoringFeed, movement
from cryptopay.core.compliance.rules import Direction
from cryptopay.core.errors import InvalidInput, LimitExceeded, NotFound, Refused
from cryptopay.core.fx import Quote
from cryptopay.core.kyc import Product, check_wallet_movement
from cryptopay.core.kyc.limits import day_bounds
from cryptopay.core.ledger import Entry, Ledger
from cryptopay.core.mobile_money.limits import B2C_LIMITS, B2C_TARIFF, DAILY_CUSTOMER_LIMIT, Tariff
from cryptopay.core.mobile_money.phones import NotMpesaNumber, off_mpesa
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payments.link_amounts import AmountBelowMinimum
from cryptopay.core.payouts import Payout, PayoutKind, paid_to
from cryptopay.core.ports.fx import QuoteRepository
from cryptopay.core.ports.payments import Quoter
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.wallets import SellUnitOfWork, SellUowFactory
from cryptopay.core.settlement.model import SettlementMethod
from cryptopay.core.treasury.cover import Cover
from cryptopay.core.wallets.model import Usage
from cryptopay.core.wallets.quotes import USDT_KES, QuotePurpose, WalletQuotes
from cryptopay.core.wallets.service import _sender, _wallet, spending

__all__ = ["USDT_KES", "AmountNotPayable", "Sale", "Sells", "locked_quote"]


class AmountNotPayable(InvalidInput):
    """A cash-out M-Pesa cannot pay whole: no amount sent plus its charge makes it (422 ``amount_not_payable``,
    ``payable_below``/``payable_above``: the nearest amounts that can be cashed out)."""

    code = "amount_not_payable"


@attrs.frozen
class Sale:
    """A sale of USDT and the payout that carries its shillings (``payout.state``: planned ... completed/failed)."""

    id: str
    usdt: Money
    kes: Money  # credited at the bid
    payout: Payout

    @property
    def state(self) -> str:
        return self.payout.state.value


@attrs.define
class Sells:
    uow: SellUowFactory
    ledger: Ledger
    quoter: Callable[[], Quoter]
    quotes: Callable[[], QuoteRepository]
    clock: Clock
    ids: IdGenerator
    tariff: Tariff = B2C_TARIFF
    float_cover: Callable[[Money], Cover] | None = None  # the treasury's FloatGuard.can_cover (None: not checked)
    monitor: MonitoringFeed = attrs.Factory(MonitoringFeed)  # AML: blocking rules before, the journal after
    per_day: Money = DAILY_CUSTOMER_LIMIT  # M-Pesa's per-recipient daily limit (data)

    def start(self, user_id: str, usdt: Money, *, quote_id: str | None = None) -> Sale:
        """Sell ``usdt`` at the bid and plan the B2C payout of the whole shillings to the wallet's phone."""
        if usdt.asset != USDT or not usdt.is_positive():
            raise InvalidInput("sell a positive amount of USDT", field="usdt")
        quote = locked_quote(self.wallet_quotes, user_id, quote_id, QuotePurpose.SELL)
        kes = quote.convert(usdt, at=self.clock.now())
        charge, sent = self.payout_of(kes)
        if sent.amount < B2C_LIMITS.minimum:
            raise self._below_payout_minimum(usdt, kes, quote)
        amount = B2C_LIMITS.check(sent)
        if self.float_cover is not None and not (cover := self.float_cover(amount)).ok:
            raise Refused(f"M-Pesa cannot pay this sale out right now: {cover.reason}", reason="float_short")
        sale_id = self.ids.new_id("sel")
        sold = movement(sale_id, user_id, "wallet_sell", Direction.OUT, kes, self.clock.now(), asset=usdt.asset.code)
        self.monitor.before(sold)
        sale = in_transaction(
            self.uow, lambda uow: self._plan(uow, sale_id, user_id, usdt, kes, amount, charge, quote, quote_id)
        )
        self.monitor.after(attrs.evolve(sold, counterparty=sale.payout.destination))
        return sale

    def payout_of(self, kes: Money) -> tuple[Money, Money]:
        """M-Pesa's charge on a sale that fetches ``kes`` at the bid, and the whole shillings paid out after it (what
        a quote shows before the sale; ``start`` pays the same). Example: KES 1,293.50 -> (KES 5.00, KES 1,288.00)
        on the sandbox tariff."""
        sent = self.tariff.most_sent(kes)  # the charge is at the band of what is sent, not of the whole sum
        return (self.tariff.charge(sent) if sent.amount >= B2C_LIMITS.minimum else Money.zero(KES)), sent

    def _below_payout_minimum(self, usdt: Money, kes: Money, quote: Quote) -> AmountBelowMinimum:
        """A sale too small for M-Pesa, told in the user's terms: its KES at the bid and the least USDT to sell
        (422 ``amount_below_minimum`` naming ``amount`` and that least as ``minimum``)."""
        least = Money.of(B2C_LIMITS.minimum, KES)
        while (least - self.tariff.charge(least)).amount < B2C_LIMITS.minimum:  # a few steps: charges are small
            least = least + Money.of(1, KES)
        usdt_least = quote.base_needed(least, at=self.clock.now())
        return AmountBelowMinimum(
            f"{usdt} is KES {kes.amount:,} at the bid; M-Pesa pays out KES {B2C_LIMITS.minimum:,} or more after "
            f"its charge: sell at least {usdt_least}",
            field="amount",
            minimum=format(usdt_least.amount, "f"),
        )

    @property
    def wallet_quotes(self) -> WalletQuotes:
        return WalletQuotes(self.uow, self.quoter, self.quotes, self.clock)

    def _plan(
        self,
        uow: SellUnitOfWork,
        sale_id: str,
        user_id: str,
        usdt: Money,
        kes: Money,
        amount: Money,
        charge: Money,
        quote: Quote,
        quote_id: str | None,
    ) -> Sale:
        if quote_id is not None:  # the user's quote: used by this sale, in its unit of work
            self.wallet_quotes.use(uow, user_id, quote_id, used_by=sale_id)
        phone = self._checked(uow, user_id, kes, amount)
        flows.lock_wallet_sale(uow.ledger, user_id, usdt.asset)  # after the number and the wallet: the lock order
        flows.sell_for_kes(
            self.ledger,
            sale_id=sale_id,
            user_id=user_id,
            usdt=usdt,
            kes=kes,
            mid=quote.mid,
            quote_id=quote.id,
            session=uow.ledger,
        )
        sold = {"usdt": str(usdt), "quote": quote.id, "bid": str(quote.bid)}  # R10-10: what was sold, at which rate
        payout = self._payout(uow, sale_id, user_id, phone, kes, amount, charge, "wallet.sell", sold)
        return Sale(sale_id, usdt, kes, payout)

    def cash_out(self, user_id: str, kes: Money) -> Sale:
        """Pay ``kes`` (whole shillings) of the wallet's KES balance by B2C to its own number, M-Pesa's charge out of
        it as for a sale (the rest, whole shillings, is paid): what a failed sale left in the wallet. Refused by the
        same rules as a sale (the ``sell`` limits, M-Pesa's per-payment and daily limits, the float, monitoring);
        ``InsufficientFunds`` beyond the KES balance."""
        if kes.asset != KES or not kes.is_positive() or kes != kes.whole():
            raise InvalidInput("cash out a positive whole number of shillings", field="kes")
        if kes.amount < B2C_LIMITS.minimum:  # what it asks, not a KYC limit: 422 naming ``amount`` and the bound
            raise AmountBelowMinimum(
                f"M-Pesa pays out KES {B2C_LIMITS.minimum:,} or more a payment: KES {kes.amount:,.0f} is below it "
                "(it stays in the wallet's KES balance)",
                field="amount",
                minimum=str(B2C_LIMITS.minimum),
            )
        charge, sent = self.payout_of(kes)  # as a sale's: the charge at the band of what is sent, out of ``kes``
        amount = B2C_LIMITS.check(sent)  # from KES 10 something is always sent; above the top band: LimitExceeded
        if amount + charge != kes:  # between two bands: what is sent and its charge never add up to it
            raise self._not_payable(kes, amount + charge)
        if self.float_cover is not None and not (cover := self.float_cover(amount)).ok:
            raise Refused(f"M-Pesa cannot pay this out right now: {cover.reason}", reason="float_short")
        sale_id = self.ids.new_id("sel")
        # monitored as a sale (the rules that watch sales see it), told apart by moving no virtual asset
        out = movement(sale_id, user_id, "wallet_sell", Direction.OUT, kes, self.clock.now())
        self.monitor.before(out)

        def work(uow: SellUnitOfWork) -> Sale:
            phone = self._checked(uow, user_id, kes, amount)
            payout = self._payout(uow, sale_id, user_id, phone, kes, amount, charge, "wallet.cash_out")
            return Sale(sale_id, Money.zero(USDT), kes, payout)

        sale = in_transaction(self.uow, work)
        self.monitor.after(attrs.evolve(out, counterparty=sale.payout.destination))
        return sale

    def _not_payable(self, kes: Money, below: Money) -> AmountNotPayable:
        """``kes`` refused, naming ``below`` (the most that can be cashed out under it) and the least above it."""
        above = kes
        while above - kes < Money.of(100, KES):  # a few steps: the gap between bands is a charge's difference
            above = above + Money.of(1, KES)
            try:
                charge, sent = self.payout_of(above)
            except LimitExceeded:  # past the top band: nothing above is payable
                above = kes
                break
            if sent + charge == above:
                break
        payable = f"KES {below.amount:,.0f}" + (f" or KES {above.amount:,.0f}" if above != kes else "")
        details = {"payable_below": str(below.amount)} | ({"payable_above": str(above.amount)} if above != kes else {})
        return AmountNotPayable(
            f"M-Pesa cannot pay out exactly KES {kes.amount:,.0f} with its charge: cash out {payable}",
            field="amount",
            **details,
        )

    def _checked(self, uow: SellUnitOfWork, user_id: str, kes: Money, amount: Money) -> str:
        """The wallet's phone, once the KYC ``sell`` limits and M-Pesa's daily limit for the number take ``kes``."""
        now = self.clock.now()
        # The global lock order: the number's lock before the wallet's row and the ledger's balances. Held to the
        # commit, it makes the look at what the number received today and the payout planned on it one unit of work
        # (a remittance or a merchant's settlement to the same number plans under it too).
        uow.payouts.lock_destination(_wallet(uow, user_id).phone)
        wallet, profile = _sender(uow, user_id)
        refuse_unless_mpesa(wallet.phone, "sell or cash out to M-Pesa")
        spent = spending(uow, user_id, now)
        check_wallet_movement(profile, Product.SELL, kes, spent=spent, at=now).enforce()
        self._mpesa_daily(paid_to(uow.payouts, wallet.phone, since=day_bounds(now)[0]), amount)
        return wallet.phone

    def _payout(
        self,
        uow: SellUnitOfWork,
        sale_id: str,
        user_id: str,
        phone: str,
        kes: Money,
        amount: Money,
        charge: Money,
        action: str,
        sold: Mapping[str, str] | None = None,
    ) -> Payout:
        """Hold ``amount`` + ``charge`` from the wallet's KES and plan the B2C payout of the sale to ``phone``."""
        now, payout_id = self.clock.now(), self.ids.new_id("po")
        hold = flows.start_payout(
            self.ledger,
            payout_id=payout_id,
            merchant_id=user_id,
            amount=amount,
            charge=charge,
            session=uow.ledger,
            source=flows.wallet_account(user_id, KES),
        )
        payout = Payout(
            id=payout_id,
            settlement_id=sale_id,
            merchant_id=user_id,  # the wallet's user: compliance's freeze of the person holds it like a merchant's
            originator_id=payout_id,
            method=SettlementMethod.MPESA_B2C,
            destination=phone,
            amount=amount,
            charge=charge,
            hold_id=hold.id,
            created_at=now,
            kind=PayoutKind.SALE,
        )
        uow.payouts.add(payout)
        uow.wallet_usage.add(Usage(self.ids.new_id("use"), user_id, Product.SELL.value, kes, now, sale_id))
        details = {"payout": payout_id, "kes": str(kes), "paid": str(amount), "charge": str(charge), **(sold or {})}
        uow.audit.append(AuditEvent(f"user:{user_id}", action, f"sale:{sale_id}", now, details))
        return payout

    def _mpesa_daily(self, paid_today: Money, amount: Money) -> None:
        """Refuse a payout M-Pesa's per-recipient daily limit cannot take: what the number received today (every
        B2C payout to it: sales, remittances, a merchant's settlement; failed ones excluded) and this one."""
        if paid_today + amount > self.per_day:
            left = max(self.per_day - paid_today, Money.zero(KES))
            raise LimitExceeded(
                f"M-Pesa pays a customer at most KES {self.per_day.amount:,} a day; KES {left.amount:,} remains",
                limit="mpesa.daily",
                remaining=str(left.amount),
            )

    def get(self, user_id: str, sale_id: str) -> Sale:
        """A sale of the user's, with its payout as it stands."""

        def work(uow: SellUnitOfWork) -> Sale:
            payouts = [p for p in uow.payouts.for_settlement(sale_id) if p.merchant_id == user_id]
            entry = self.ledger.entries(account=flows.wallet_account(user_id, USDT), limit=1000)
            if not payouts:
                raise NotFound(f"no sale {sale_id!r}")
            return _sale(sale_id, payouts[-1], entry)

        return in_transaction(self.uow, work)

    def list(self, user_id: str, *, before: str | None = None, limit: int = 50) -> list[Sale]:
        """The user's sales (and cash-outs: no USDT sold), newest first, older than the sale id ``before``, each with
        its payout as it stands (the last one: a failed payout retried is one sale)."""

        def work(uow: SellUnitOfWork) -> list[Sale]:
            ids = uow.payouts.objects_of(user_id, prefix="sel_", before=before, limit=limit)
            if not ids:
                return []
            entries = self.ledger.entries(account=flows.wallet_account(user_id, USDT), limit=1000)
            sales = []
            for sale_id in ids:
                payouts = [p for p in uow.payouts.for_settlement(sale_id) if p.merchant_id == user_id]
                if payouts:
                    sales.append(_sale(sale_id, payouts[-1], entries))
            return sales

        return in_transaction(self.uow, work)


def refuse_unless_mpesa(phone: str, what: str) -> None:
    """``NotMpesaNumber`` (422 ``not_mpesa_number``) when the wallet's number is not in a Safaricom range: M-Pesa
    neither prompts (buys) nor pays (sales, cash-outs) another operator's number. Such a wallet (sign-up admits
    Airtel and Telkom numbers) sends and receives USDT and P2P, and withdraws on chain (review3 I24).

    >>> refuse_unless_mpesa("254712345678", "buy")
    >>> refuse_unless_mpesa("254733123456", "buy")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cryptopay.core.mobile_money.phones.NotMpesaNumber: 2547******56 is on Airtel's network: M-Pesa serves only ...
    """
    off = off_mpesa(phone)
    if off is None:
        return
    raise NotMpesaNumber(
        f"{off}: M-Pesa serves only Safaricom numbers, so this wallet cannot {what}; it can "
        "still send and receive (P2P, remittances), and deposit or withdraw USDT on chain",
        field="phone",
    )


def locked_quote(quotes: WalletQuotes, user_id: str, quote_id: str | None, purpose: QuotePurpose) -> Quote:
    """The user's wallet quote ``quote_id`` for ``purpose`` (``WalletQuotes.find``), else a fresh quote (locked for
    this trade alone: nobody else was shown it)."""
    if quote_id is None:
        return quotes.quoter().quote(USDT_KES)
    return quotes.find(user_id, quote_id, purpose)


def _sale(sale_id: str, payout: Payout, entries: list[Entry]) -> Sale:
    """The sale as its ledger entry tells it: the USDT that left the wallet, the KES credited at the bid."""
    user_usdt, user_kes = flows.wallet_account(payout.merchant_id, USDT), flows.wallet_account(payout.merchant_id, KES)
    for entry in entries:
        if dict(entry.metadata).get("sale_id") == sale_id:
            lines = {line.account: line.amount for line in entry.lines}
            return Sale(sale_id, lines[user_usdt], -lines[user_kes], payout)
    return Sale(sale_id, Money.zero(USDT), payout.amount + payout.charge, payout)  # a cash-out: no USDT sold
