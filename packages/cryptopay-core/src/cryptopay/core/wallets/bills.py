"""Paying a bill (KPLC, Nairobi Water, DStv, GOtv) from a wallet by M-Pesa B2B, through the payout machinery.

``pay`` checks the biller's account format and amount (``billers``), the wallet and the KYC limits of
``Product.BILL`` before anything moves; then, in one unit of work, it holds the shillings from the wallet's KES
(``flows.start_payout`` with the wallet as ``source``) and plans a ``Payout`` with a ``B2BTarget.paybill`` (the
biller's paybill, the account as AccountReference), whose ``settlement_id`` is the bill's id. Paid from USDT, the
USDT needed is first sold at the locked bid into the wallet's KES (``flows.sell_for_kes``, the sale keyed by the
bill's id); the sub-shilling rest stays in the wallet as KES.

Paid from USDT, a bill names the quote its payer locked and saw (``quote_id``: ``Bills.quote``, or
``POST /v1/wallet/quotes`` with side ``sell``): the user's own, for selling, unused and in its window
(``WalletQuotes.find``), used by this bill in its unit of work. Without one it is ``QuoteRequired``, never a
fresh price: the USDT debited is then exactly what ``quote.base_needed(amount)`` showed (a quote is a price, not
an amount, so any bill within the biller's bounds is covered: rounded up, its USDT sells for at least the
shillings, and a bill carries no fee of ours).

From there ``Payouts`` does what it does for merchants' bank payouts: records the request before sending it, matches
the result (amount, paybill and ``BillReferenceNumber``), asks Transaction Status when none comes, posts the hold on
success and voids it on failure. A failed bill therefore gives the shillings back to the wallet's KES balance (a bill
paid from USDT comes back as the KES it was sold for). No second B2B path exists.

Prepaid tokens, honestly: Daraja's B2B result carries no token. KPLC sends the 20-digit token by SMS to the phone
registered for the meter. A result that carries a ``PrepaidToken`` parameter (the sandbox's simulated prepaid
biller) has it kept on the payout and shown here; otherwise ``token`` stays empty and ``token_note`` says where it
comes from.

The ``wallet.bill`` audit record names the account masked (``mask_msisdn``: an airtime or paybill account may be a
phone number): the chain is never erased, so it keeps no personal data whole; the payout (sealed at rest) has it.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
from cryptopay.core import flows
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.feed import MonitoringFeed, movement
from cryptopay.core.compliance.rules import Direction
from cryptopay.core.errors import InvalidInput, NotFound, QuoteRequired, Refused
from cryptopay.core.fx import Quote
from cryptopay.core.kyc import Product, check_wallet_movement
from cryptopay.core.ledger import Ledger
from cryptopay.core.mobile_money.phones import mask_msisdn
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.payouts import Payout, PayoutKind, PayoutState
from cryptopay.core.payouts.model import B2BTarget
from cryptopay.core.ports.fx import QuoteRepository
from cryptopay.core.ports.payments import Quoter
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.wallets import SellUnitOfWork, SellUowFactory
from cryptopay.core.settlement.model import SettlementMethod
from cryptopay.core.treasury.cover import Cover
from cryptopay.core.wallets.allowance import StepUp
from cryptopay.core.wallets.billers import Biller, BillerCatalogue, biller_catalogue
from cryptopay.core.wallets.model import Usage
from cryptopay.core.wallets.quotes import QuotePurpose, WalletQuotes
from cryptopay.core.wallets.service import _sender, spending

__all__ = ["BILL_PREFIX", "KPLC_TOKEN_NOTE", "Bill", "BillCheck", "Bills"]

BILL_PREFIX = "bil"
KPLC_TOKEN_NOTE = "KPLC sends the token by SMS to the phone registered for the meter"
_PAYABLE_FROM = ("KES", "USDT")


@attrs.frozen(kw_only=True)
class BillCheck:
    """A bill that passed the local checks: the biller, the account as it will be sent, the shillings."""

    biller: Biller
    account: str
    amount: Money


@attrs.frozen(kw_only=True)
class Bill:
    """A bill payment and the B2B payout that carries it (``state``: planned ... completed or failed)."""

    id: str
    biller: Biller
    account: str
    paid_with: Money  # what left the wallet: KES, or the USDT sold for it
    payout: Payout

    @property
    def state(self) -> str:
        return self.payout.state.value

    @property
    def token(self) -> str | None:
        return self.payout.biller_token

    @property
    def token_note(self) -> str | None:
        """Where a prepaid biller's token comes from when the result carried none."""
        if not self.biller.token or self.token is not None:
            return None
        return KPLC_TOKEN_NOTE if self.biller.code.startswith("KPLC") else "the biller sends the token by SMS"


@attrs.define
class Bills:
    uow: SellUowFactory
    ledger: Ledger
    quoter: Callable[[], Quoter]
    quotes: Callable[[], QuoteRepository]
    clock: Clock
    ids: IdGenerator
    catalogue: BillerCatalogue = attrs.field(factory=biller_catalogue)
    float_cover: Callable[[Money], Cover] | None = None  # the treasury's FloatGuard.can_cover (None: not checked)
    monitor: MonitoringFeed = attrs.Factory(MonitoringFeed)  # AML: blocking rules before, the journal after

    def check(self, biller: str, account: str, amount: Money) -> BillCheck:
        """The local checks alone (no money moves, nothing is recorded): biller, account format, amount bounds.

        >>> from cryptopay.core.money import Money
        >>> Bills.check_in(biller_catalogue(), "DSTV", "7012-345-678", Money.of(1500, "KES")).account
        '7012345678'
        """
        return self.check_in(self.catalogue, biller, account, amount)

    @staticmethod
    def check_in(catalogue: BillerCatalogue, biller: str, account: str, amount: Money) -> BillCheck:
        found = catalogue.biller(biller)
        return BillCheck(biller=found, account=found.check(account), amount=found.check_amount(amount))

    def quote(self, user_id: str, checked: BillCheck) -> tuple[Quote, Money]:
        """Lock a USDT/KES sale quote for ``user_id`` alone (``WalletQuotes.lock``, as ``POST /v1/wallet/quotes``
        with side ``sell``) and the USDT that paying ``checked`` with it takes: what ``pay(..., quote_id=)`` debits."""
        quote = self.wallet_quotes.lock(user_id, QuotePurpose.SELL)
        return quote, quote.base_needed(checked.amount, at=self.clock.now())

    def pay(
        self,
        user_id: str,
        biller: str,
        account: str,
        amount: Money,
        *,
        pay_with: str = "KES",
        quote_id: str | None = None,
        step_up: StepUp | None = None,
    ) -> Bill:
        """Pay ``amount`` (whole KES) to ``biller`` for ``account`` from the wallet's KES, or from its USDT sold at
        the bid of the user's locked quote ``quote_id`` (required then: ``QuoteRequired``; ignored for KES).
        ``step_up``: the step-up allowance, checked under the wallet's lock as ``Wallets.send`` does."""
        checked = self.check(biller, account, amount)
        if pay_with.upper() not in _PAYABLE_FROM:
            raise InvalidInput("a bill is paid from KES or USDT", field="pay_with")
        from_usdt = pay_with.upper() == "USDT"
        quote = self._locked(user_id, quote_id) if from_usdt else None
        if self.float_cover is not None and not (cover := self.float_cover(checked.amount)).ok:
            raise Refused(f"M-Pesa cannot pay this bill right now: {cover.reason}", reason="float_short")
        bill_id, to_whom = self.ids.new_id(BILL_PREFIX), f"{checked.biller.paybill}#{checked.account}"
        asset = None if quote is None else quote.pair.base.code
        now = self.clock.now()
        paying = movement(
            bill_id, user_id, "bill", Direction.OUT, checked.amount, now, counterparty=to_whom, asset=asset
        )
        self.monitor.before(paying)
        bill = in_transaction(self.uow, lambda uow: self._plan(uow, bill_id, user_id, checked, quote, step_up))
        self.monitor.after(paying)
        return bill

    def _locked(self, user_id: str, quote_id: str | None) -> Quote:
        """The user's sale quote ``quote_id`` as it was shown: a bill from USDT never sells at a price nobody saw."""
        if not quote_id:
            raise QuoteRequired(
                "a bill paid from USDT is paid at a quote you locked and saw: lock one to sell "
                "(POST /v1/wallet/quotes with side sell) and pay naming its quote_id before it expires",
                field="quote_id",
            )
        return self.wallet_quotes.find(user_id, quote_id, QuotePurpose.SELL)

    @property
    def wallet_quotes(self) -> WalletQuotes:
        return WalletQuotes(self.uow, self.quoter, self.quotes, self.clock)

    def _plan(
        self,
        uow: SellUnitOfWork,
        bill_id: str,
        user_id: str,
        checked: BillCheck,
        quote: Quote | None,
        step_up: StepUp | None = None,
    ) -> Bill:
        now = self.clock.now()
        if quote is not None:  # the user's quote: used by this bill, in its unit of work
            self.wallet_quotes.use(uow, user_id, quote.id, used_by=bill_id)
        _, profile = _sender(uow, user_id)
        spent = spending(uow, user_id, now)  # under the wallet's lock: concurrent bills and sends queue
        if step_up is not None:
            step_up.enforce(spent, checked.amount)
        check_wallet_movement(profile, Product.BILL, checked.amount, spent=spent, at=now).enforce()
        payout_id = self.ids.new_id("po")
        paid_with = checked.amount
        if quote is not None:
            paid_with = quote.base_needed(checked.amount, at=now)
            kes = quote.convert(paid_with, at=now)
            if kes < checked.amount:  # rounded up, the USDT sold covers the bill; never pay a biller short
                raise RuntimeError(f"{paid_with} at quote {quote.id} sells for {kes}, short of {checked.amount}")
            flows.lock_wallet_sale(uow.ledger, user_id, paid_with.asset)  # the sale and the hold: one lock, in order
            flows.sell_for_kes(
                self.ledger,
                sale_id=bill_id,
                user_id=user_id,
                usdt=paid_with,
                kes=kes,
                mid=quote.mid,
                quote_id=quote.id,
                session=uow.ledger,
                for_bill=True,
            )
        hold = flows.start_payout(
            self.ledger,
            payout_id=payout_id,
            merchant_id=user_id,
            amount=checked.amount,
            charge=Money.zero(KES),
            session=uow.ledger,
            source=flows.wallet_account(user_id, KES),
        )
        biller = checked.biller
        payout = Payout(
            id=payout_id,
            settlement_id=bill_id,
            merchant_id=user_id,  # the wallet's user: compliance's freeze of the person holds it like a merchant's
            originator_id=None,  # B2B: M-Pesa's, recorded from its answer
            method=SettlementMethod.MPESA_PAYBILL,
            destination=f"{biller.paybill}#{checked.account}",
            amount=checked.amount,
            charge=Money.zero(KES),
            hold_id=hold.id,
            created_at=now,
            b2b=B2BTarget.paybill(biller.paybill, checked.account),
            kind=PayoutKind.BILL,
        )
        uow.payouts.add(payout)
        uow.wallet_usage.add(Usage(self.ids.new_id("use"), user_id, Product.BILL.value, checked.amount, now, bill_id))
        details = {  # R10-10: the amount, the account (masked), and what was sold for it at which rate
            "payout": payout_id,
            "biller": biller.code,
            "account": mask_msisdn(checked.account),  # may be a phone: masked like every number in the chain
            "amount": str(checked.amount),
            "paid_with": paid_with.asset.code,
            "sold": str(paid_with),
        } | ({"quote": quote.id, "bid": str(quote.bid)} if quote is not None else {})
        uow.audit.append(AuditEvent(f"user:{user_id}", "wallet.bill", f"bill:{bill_id}", now, details))
        return Bill(id=bill_id, biller=biller, account=checked.account, paid_with=paid_with, payout=payout)

    def get(self, user_id: str, bill_id: str) -> Bill:
        """A bill of the user's, with its payout as it stands (``NotFound`` for anyone else's)."""
        found = in_transaction(self.uow, lambda uow: self._bill(uow, user_id, bill_id))
        if found is None:
            raise NotFound(f"no bill {bill_id!r}")
        return found

    def for_user(self, user_id: str, *, after: str | None, limit: int) -> list[Bill]:
        """The user's bills, newest first, after the bill id ``after`` (a cursor)."""

        def work(uow: SellUnitOfWork) -> list[Bill]:
            ids = uow.wallet_usage.references(user_id, Product.BILL.value, after=after, limit=limit)
            return [bill for bill_id in ids if (bill := self._bill(uow, user_id, bill_id)) is not None]

        return in_transaction(self.uow, work)

    def awaiting_answer(self, *, limit: int = 100) -> list[Payout]:
        """Bill payouts sent and not yet decided (waiting for M-Pesa's result or a Transaction Status answer),
        the oldest first: what an operator watches."""

        def work(uow: SellUnitOfWork) -> list[Payout]:
            found = [
                p
                for state in (PayoutState.SUBMITTED, PayoutState.UNKNOWN)
                for p in uow.payouts.by_state(state, limit=limit)
                if p.settlement_id.startswith(f"{BILL_PREFIX}_") and p.b2b is not None
            ]
            return sorted(found, key=lambda p: p.created_at)[:limit]

        return in_transaction(self.uow, work)

    def _bill(self, uow: SellUnitOfWork, user_id: str, bill_id: str) -> Bill | None:
        payouts = [p for p in uow.payouts.for_settlement(bill_id) if p.merchant_id == user_id and p.b2b is not None]
        if not payouts:
            return None
        payout = payouts[-1]
        assert payout.b2b is not None
        biller = self.catalogue.by_paybill(payout.b2b.party)
        if biller is None:
            return None
        return Bill(
            id=bill_id,
            biller=biller,
            account=payout.b2b.account_reference,
            paid_with=_paid(uow, bill_id, payout),
            payout=payout,
        )


def _paid(uow: SellUnitOfWork, bill_id: str, payout: Payout) -> Money:
    """KES, or the USDT the bill's sale took from the wallet (its ledger entry, keyed by the bill's id)."""
    record = uow.ledger.find_idempotency(flows.sale_key(bill_id))
    entry = uow.ledger.get_entry(record.result_id) if record is not None else None
    if entry is None:
        return payout.amount
    usdt = flows.wallet_account(payout.merchant_id, USDT)
    return next((line.amount for line in entry.lines if line.account == usdt), payout.amount)
