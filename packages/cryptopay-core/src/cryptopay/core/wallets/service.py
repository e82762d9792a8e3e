"""The wallet use cases: balances, sending to a person (P2P), freezing; each movement one unit of work.

Sending is a pure ledger move and the busiest thing a wallet does, so it stays one short transaction: one read
(``uow.wallet_sends.parties``: the sender's wallet row locked, so movements of one wallet queue and two sends cannot
both pass a limit only one fits; the recipient; both KYC profiles; the sender's month's usage and what the recipient
received), the KYC limits checked (``cryptopay.core.kyc.check_wallet_movement``: the sender's for P2P, then the
recipient's for receiving, ``RecipientLimit`` telling the sender only that the recipient cannot receive it now), the
transfer and both usages recorded (``uow.wallet_sends.record``), the entry posted. On PostgreSQL that is two round
trips: the read also locks the ledger balances, and the rows go with the ledger's writes and the ``COMMIT``. AML
monitoring's blocking rules run before; the two movements are journaled by the same ``record`` when the monitor
journals to the wallet's own storage (``MonitoringFeed.journals_within``: as production wires it), else after the
commit. A number with no wallet gets the money as a claim and an SMS invitation after commit.

What a tier-0 wallet receives, under concurrency. The sender's row lock does not queue two senders paying one
recipient: each would read what the recipient received before the other commits, and both pass a limit only one
fits. So the send's one read (``parties``) does not read what the recipient received at all: the receiving limits
are checked first without it, and when the recipient's tier limits receiving (``Decision.limited``: tier 0's row
allowed it), the send reads it under the recipient's **receive lock** (``SendRepository.received``; on PostgreSQL an
advisory lock on the user id, distinct from the wallet row, which a send *from* that wallet takes) and checks again
with it. A send to a tier-1+ wallet (no ``receive`` row) reads none of it, takes no such lock, makes no extra round
trip and computes nothing more. Claims of waiting
transfers (``cryptopay.core.wallets.claims``) and crypto deposits (``deposits.Deposits._receivable``) take the same lock
before they read what the wallet received (``UsageRepository.lock_receiving``).

Lock order, and why it cannot deadlock. Every wallet movement locks its wallet row (a send the sender's, a deposit
the recipient's own, a claim the recipient's, where it has one already), then the ledger balances it moves, sorted
by code. A receive lock comes after the wallet row and at most one per transaction (one recipient's). A claim or a
deposit waits for it before it locks any balance. A send cannot: its one read (``parties``) locked its balances
already (the recipient's wallet balance among them), so it only *tries* the lock and, if another transaction holds
it, gives up everything (``TransientConflict``, retried by ``in_transaction``). So nobody waits for a receive lock
while holding balances; a transaction holding one waits afterwards only for balances (a claim or a deposit) or for
nothing (a send); a transaction holding balances waits only for balances, taken in one global order. No cycle can
form: wallet rows, then at most one receive lock, then balances in code order. Two sends of one asset to one
recipient already queue on its wallet balance, so the try almost always succeeds at once; it fails only against a
claim, a deposit or a send of another asset to the same wallet at the same moment.

Over the in-memory fakes and on SQL alike: ``tests/support/wallet_stack.py`` builds the whole thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.feed import MonitoringFeed, movement
from cryptopay.core.compliance.four_eyes import FourEyes
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.errors import InvalidAmount, InvalidInput, LimitExceeded, NotFound, Refused
from cryptopay.core.fees import FeeBook, FeeProduct
from cryptopay.core.flows import WALLET_ASSETS, p2p_fee, p2p_send_key, send_p2p, wallet_account
from cryptopay.core.fx import Pair
from cryptopay.core.kyc import (
    INCOMING,
    Decision,
    PartyKind,
    Product,
    Requirement,
    Spending,
    check_wallet_movement,
    day_bounds,
    month_bounds,
)
from cryptopay.core.kyc.profile import KycProfile
from cryptopay.core.ledger import Ledger
from cryptopay.core.ledger.book import check_can_take
from cryptopay.core.mobile_money.phones import mask_msisdn, try_normalize_msisdn
from cryptopay.core.money import KES, Asset, Money, Rounding
from cryptopay.core.payments.model import check_payer_text
from cryptopay.core.payouts import Payout
from cryptopay.core.ports.payments import Quoter
from cryptopay.core.ports.sms import SmsMessage, SmsSender
from cryptopay.core.ports.storage import in_transaction, page_past
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.wallets import SellUowFactory, SendParties, WalletUnitOfWork
from cryptopay.core.text import TextKind, text_problem
from cryptopay.core.wallets.allowance import StepUp
from cryptopay.core.wallets.held_sends import HeldSends, receivable
from cryptopay.core.wallets.history import (
    Describe,
    HistoryLine,
    HistoryPage,
    Receipts,
    StatementBalance,
    english,
    history,
    history_page,
    statement_balances,
    statement_csv,
    statement_period,
    statement_rows,
)
from cryptopay.core.wallets.model import SENDABLE, FeeChanged, Transfer, TransferState, Usage, Wallet, valid_username
from cryptopay.core.wallets.wording import Wording, payout_wording

__all__ = [
    "CLAIM_WINDOW",
    "P2P_MINIMUM",
    "InviteLimit",
    "InviteRules",
    "RecipientLimit",
    "SendBelowMinimum",
    "SendCheck",
    "WalletFrozen",
    "Wallets",
    "at_mid",
    "kes_value",
    "new_wallet_profile",
    "spending",
    "spending_of",
]

CLAIM_WINDOW = timedelta(days=7)
P2P_MINIMUM = Money.of(10, KES)  # the least any send is worth (data; CRYPTOPAY_P2P_MINIMUM_KES): dust is spam
P2P = "p2p"  # the monitoring product of a send
IN, OUT = Direction.IN, Direction.OUT
MAX_NOTE = 140
_HELD_ACTOR = "system:wallets"  # who records a send held for a frozen recipient


class WalletFrozen(Refused):
    """An operator froze the wallet: it can neither send nor receive."""

    code = "wallet_frozen"


class SendBelowMinimum(InvalidAmount):
    """A send worth less than the P2P minimum, or, to a phone number, less than an invitation is worth."""

    code = "send_below_minimum"


class RecipientLimit(LimitExceeded):
    """The recipient's tier cannot receive this amount now (its ``receive`` limits). The sender is told only that:
    not the recipient's tier, limits or what it received."""

    code = "recipient_limit"
    audit: Mapping[str, str] = {}  # for the audit record only (whose limit, which): never in the problem


class InviteLimit(LimitExceeded):
    """A send to a number with no wallet (an invitation: an SMS we pay for) beyond the sender's invitation limits."""

    code = "invite_limit"


@attrs.frozen(kw_only=True)
class InviteRules:
    """The bounds on sends to numbers with no wallet (data). Each costs an SMS and, unclaimed, comes back to the
    sender after the claim window: without bounds, dust sent to many numbers is free SMS to strangers under the
    platform's name. ``minimum``: the least such a send is worth (KES, at the mid); ``open_per_sender``: invitations
    a sender may have waiting at once; ``new_numbers_per_day``: numbers a sender may invite per day (Nairobi)."""

    minimum: Money = attrs.field(factory=lambda: Money.of(50, KES))
    open_per_sender: int = 5
    new_numbers_per_day: int = 10

    def __attrs_post_init__(self) -> None:
        if self.minimum.asset != KES or self.open_per_sender < 1 or self.new_numbers_per_day < 1:
            raise InvalidInput("invitation rules: a KES minimum and at least one invitation")


def kes_value(money: Money, quoter: Quoter | None) -> Money:
    """What ``money`` is worth in KES for the limits: KES itself, other assets at the mid of a fresh quote."""
    if money.asset == KES:
        return money
    if quoter is None:
        raise InvalidInput(f"{money.asset.code} cannot be valued in KES here (no price source)")
    return at_mid(money, quoter.quote(Pair(money.asset, KES)).mid)


def at_mid(money: Money, mid: Decimal) -> Money:
    """``money`` in KES at ``mid`` (its asset's KES mid), as ``kes_value`` values it.

    >>> str(at_mid(Money.of("2", "USDT"), Decimal("129.995")))
    '259.99 KES'
    """
    return Money.rounded(money.amount * mid, KES, Rounding.HALF_EVEN)


def _below_a_cent(amount: Money, quoter: Quoter | None) -> InvalidAmount:
    """The refusal of a send worth less than KES 0.01 (the limits count whole cents), in the asset sent."""
    assert quoter is not None  # kes_value valued a non-KES amount, so there is a price source
    least = Money.rounded(_CENT / quoter.quote(Pair(amount.asset, KES)).mid, amount.asset, Rounding.UP)
    return InvalidAmount(
        f"{amount} is worth less than KES 0.01 at today's price: send at least {least}", field="amount"
    )


_CENT = Decimal("0.01")


def spending(uow: WalletUnitOfWork, user_id: str, at: datetime) -> Spending:
    """What the user moved today and this month (Nairobi), in total and per product."""
    return spending_of(uow.wallet_usage.totals(user_id, day_start=day_bounds(at)[0], month_start=month_bounds(at)[0]))


def spending_of(totals: Mapping[str, tuple[Money, Money]]) -> Spending:
    """``Spending`` from usage totals per product (``UsageRepository.totals``: today's and the month's sums).

    >>> spending_of({"p2p": (Money.of("100", KES), Money.of("250", KES))}).this_month
    Money('250.00', 'KES')
    """
    today: dict[Product, Money] = {}
    month: dict[Product, Money] = {}
    day_total = month_total = Money.zero(KES)
    for name, (day_sum, month_sum) in totals.items():
        product = _PRODUCTS.get(name) or Product(name)  # an unknown name refused by Product, as before
        today[product], month[product] = day_sum, month_sum
        if product not in INCOMING:  # what a party receives does not count against what it may move
            day_total, month_total = day_total + day_sum, month_total + month_sum
    return Spending(day_total, month_total, today, month)


_PRODUCTS = {product.value: product for product in Product}


@attrs.frozen
class SendCheck:
    """A send checked but not made (``Wallets.check_send``): who receives as the sender typed it (a phone number
    masked, or ``@username``), the amount that arrives, the fee and the total taken from the sender's wallet.

    >>> SendCheck("2547******99", Money.of("100", KES), Money.of("1", KES)).total
    Money('101.00', 'KES')
    """

    to: str
    amount: Money
    fee: Money

    @property
    def total(self) -> Money:
        return self.amount + self.fee


@attrs.define
class Wallets:
    """Personal wallets over a unit of work and the ledger (the wallet repositories with the payouts, which the
    history reads to say what each payout from the wallet was for)."""

    uow: SellUowFactory
    ledger: Ledger
    clock: Clock
    ids: IdGenerator
    sms: Callable[[], SmsSender | None] = lambda: None
    quoter: Callable[[], Quoter | None] = lambda: None
    fees: FeeBook = attrs.Factory(lambda: FeeBook(()))
    claim_window: timedelta = CLAIM_WINDOW
    monitor: MonitoringFeed = attrs.Factory(MonitoringFeed)  # AML: blocking rules before, the journal after
    invites: InviteRules = attrs.Factory(InviteRules)  # sends to numbers with no wallet: minimum, open, per day
    minimum: Money = P2P_MINIMUM  # the least any send is worth (KES at the mid); by phone, an invitation's at least
    # held sends' approvals (``compliance.four_eyes``); unwired: the same officer only
    four_eyes: FourEyes = attrs.Factory(FourEyes)

    def wallet(self, user_id: str) -> Wallet:
        return in_transaction(self.uow, lambda uow: _wallet(uow, user_id))

    def holds(self, user_id: str) -> bool:
        """Whether ``user_id`` holds a wallet (whatever its role now)."""
        with self.uow() as uow:
            return uow.wallets.get(user_id) is not None

    def find(self, who: str, *, actor: str) -> Wallet:
        """A wallet by user id, phone number or username, for staff (``actor``): the lookup is audited
        (``wallet.looked_up``: staff reading a person's data); ``NotFound`` otherwise."""

        def work(uow: WalletUnitOfWork) -> Wallet | None:
            phone = try_normalize_msisdn(who)
            if phone is not None:
                found = uow.wallets.by_phone(phone)
            else:
                found = uow.wallets.get(who) or uow.wallets.by_username(who.removeprefix("@").lower())
            if found is not None:
                uow.audit.append(self._event(actor, "wallet.looked_up", f"user:{found.user_id}"))
            return found

        found = in_transaction(self.uow, work)
        if found is None:
            raise NotFound(f"no wallet for {who!r}")
        return found

    def balances(self, user_id: str) -> dict[str, Money]:
        """Available balance per asset (KES, USDT, BTC)."""
        self.wallet(user_id)
        codes = [wallet_account(user_id, asset) for asset in WALLET_ASSETS]
        found = self.ledger.balances(codes)
        return {a.code: found[wallet_account(user_id, a)].available for a in WALLET_ASSETS}

    def check_send(self, sender_id: str, to: str, amount: Money, *, note: str | None = None) -> SendCheck:
        """What ``send`` would do, before the sender confirms it; nothing moves and nothing is recorded.

        Every refusal ``send`` would give, from the same code (``_cleared``), in its order: the amount, the note and
        the recipient's form, a username nobody has, the sender's own wallet, a frozen wallet, the sender's KYC
        limits (``LimitExceeded`` with the limit's name and what remains) and a balance short of the amount and the
        fee (``InsufficientFunds``, as the posting says it), and only then what depends on who holds a number (an
        invitation's rules, the recipient's receiving limit; a frozen recipient's send is held, never refused), so a
        wallet that cannot pay learns nothing of a number (review6 F6). Those last refusals are audited as a send's
        are (``check`` true); nothing else is (nothing was attempted), and a phone number's wallet is not named (the
        receipt of ``send`` tells that, once the money has moved). The fee from the P2P schedule.

        Example: ``wallets.check_send("u_1", "@baraka", Money.of("100", KES)).total`` is ``KES 100.00`` on a free
        schedule, or raises ``InsufficientFunds`` when the wallet holds less.
        """
        phone, username, value, _cleaned = self._valid_send(to, amount, note)
        now = self.clock.now()

        def work(uow: WalletUnitOfWork) -> Money:
            fee, _parties, _held = self._cleared(uow, None, sender_id, phone, username, amount, value, now)
            return fee

        try:
            fee = in_transaction(self.uow, work)
        except (InviteLimit, RecipientLimit) as refused:  # audited as a send's refusal (review6 F6)
            self._audit_refusal(sender_id, refused, check=True)
            raise
        return SendCheck(mask_msisdn(phone) if phone else f"@{username}", amount, fee)

    def send(
        self,
        sender_id: str,
        to: str,
        amount: Money,
        *,
        note: str | None = None,
        max_fee: Money | None = None,
        step_up: StepUp | None = None,
    ) -> Transfer:
        """Send ``amount`` (KES or USDT) to a phone number or username; free unless a P2P fee schedule says so.
        ``max_fee``: the fee the sender was shown (``check_send``); ``FeeChanged`` (409 ``fee_changed``), nothing
        moved, if the schedule now asks more. ``step_up``: the shell's step-up allowance and whether the caller
        stepped up; past it without one, ``StepUpRequired`` (403), nothing moved (``allowance``: checked with the
        day's usage read under the sender's lock). None (operators, tests of other rules): no allowance."""
        phone, username, value, note = self._valid_send(to, amount, note)
        transfer_id = self.ids.new_id("trf")
        to_whom = phone or f"@{username}"
        now, code = self.clock.now(), amount.asset.code
        self.monitor.before(movement(transfer_id, sender_id, P2P, OUT, value, now, counterparty=to_whom, asset=code))
        journal = self.monitor.journals_within(self.uow)  # else journaled after the commit
        try:
            transfer = in_transaction(
                self.uow,
                lambda uow: self._send(
                    uow,
                    transfer_id,
                    sender_id,
                    phone,
                    username,
                    amount,
                    value,
                    note,
                    journal=journal,
                    max_fee=max_fee,
                    step_up=step_up,
                ),
            )
        except (InviteLimit, RecipientLimit) as refused:  # audited in its own transaction: the send's rolled back
            self._audit_refusal(sender_id, refused)
            raise
        if not journal:
            self.monitor.after(*_p2p_movements(transfer, value))
        if transfer.state is TransferState.AWAITING_CLAIM:
            self._invite(transfer)
        return transfer

    def _audit_refusal(self, sender_id: str, refused: InviteLimit | RecipientLimit, *, check: bool = False) -> None:
        """A send's (or its check's, ``check``) refusal by an invitation's rules (``wallet.invite_refused``) or the
        recipient's receiving limit (``wallet.send_refused_recipient``: the officers' record of whose limit)."""
        extra = {"check": "true"} if check else {}
        if isinstance(refused, InviteLimit):
            details = {k: str(v) for k, v in refused.details.items()}
            self._audit(f"user:{sender_id}", "wallet.invite_refused", f"user:{sender_id}", **details, **extra)
        else:
            self._audit(
                f"user:{sender_id}", "wallet.send_refused_recipient", f"user:{sender_id}", **refused.audit, **extra
            )

    def _valid_send(self, to: str, amount: Money, note: str | None) -> tuple[str | None, str | None, Money, str | None]:
        """A send's amount, note and recipient checked: the phone or username, the amount's KES value and the note
        as the recipient will read it (``_note``: checked once, the brand check being the costliest rule here)."""
        if amount.asset not in SENDABLE:
            raise InvalidAmount(f"people send KES or USDT to each other, not {amount.asset.code}", field="amount")
        if not amount.is_positive():
            raise InvalidAmount("the amount must be positive", field="amount")
        cleaned = _note(note)
        phone, username = _recipient(to)
        value = kes_value(amount, self.quoter())
        # The P2P minimum first (review3 I7): a send worth under a cent is under the minimum too, and naming the
        # cent's worth sent a client following the refusal into a second one; the cent rule is left for a zero
        # minimum.
        self._at_least_the_minimum(amount, value, by_phone=phone is not None)
        if not value.is_positive():
            raise _below_a_cent(amount, self.quoter())
        return phone, username, value, cleaned

    def _at_least_the_minimum(self, amount: Money, value: Money, *, by_phone: bool) -> None:
        """Refuse dust (``minimum``); to a phone number, anything an invitation could not be (review H19).

        Whether a number has a wallet is only found inside the send: were a send by phone below the invitation
        minimum delivered to a customer and refused for anyone else, a cent would tell who is a customer. So a send
        by phone is worth at least an invitation whoever holds the number; a send by username (public already) at
        least ``minimum``. Checked before the transaction, from the value already computed: no round trip."""
        least = max(self.minimum, self.invites.minimum) if by_phone else self.minimum
        if value >= least:
            return
        to_whom = "to a phone number " if by_phone and least > self.minimum else ""
        in_asset = ""
        if amount.asset != KES:  # say it in what is sent, as the below-a-cent refusal does
            quoter = self.quoter()
            assert quoter is not None  # kes_value valued a non-KES amount, so there is a price source
            mid = quoter.quote(Pair(amount.asset, KES)).mid
            least_sent = Money.rounded(least.amount / mid, amount.asset, Rounding.UP)
            in_asset = f": at today's price send at least {least_sent}"
        raise SendBelowMinimum(
            f"a send {to_whom}is worth at least KES {least.amount:,} (this is KES {value.amount:,}){in_asset}",
            field="amount",
            minimum=str(least.amount),
        )

    def _cleared(
        self,
        uow: WalletUnitOfWork,
        transfer_id: str | None,
        sender_id: str,
        phone: str | None,
        username: str | None,
        amount: Money,
        value: Money,
        now: datetime,
        max_fee: Money | None = None,
        step_up: StepUp | None = None,
    ) -> tuple[Money, SendParties, bool]:
        """Every refusal of a send before its posting (the fee against the one shown, a frozen wallet, the
        recipient, an invitation's rules, the sender's KYC limits, the recipient's receiving limit), with the fee,
        the parties read and whether the send is held (the recipient is frozen: never a refusal, review4 R6);
        ``transfer_id`` None for ``check_send`` (no posting follows, so no ledger key to read)."""
        fee = self._fee(amount, now)
        if max_fee is not None and (max_fee.asset != fee.asset or fee > max_fee):
            raise FeeChanged(
                f"the fee is {fee} now, above the {max_fee} you were shown: check the send again", field="fee"
            )
        # One read for the whole send; the SQL adapter also locks the ledger balances the entry will move.
        codes = [wallet_account(sender_id, amount.asset)] + ([p2p_fee(amount.asset)] if fee.is_positive() else [])
        parties = uow.wallet_sends.parties(
            sender_id,
            phone=phone,
            username=username,
            day_start=day_bounds(now)[0],
            month_start=month_bounds(now)[0],
            asset=amount.asset,
            ledger_keys=[p2p_send_key(transfer_id)] if transfer_id else [],
            ledger_codes=codes,
        )
        if parties.sender is None:
            raise NotFound(f"{sender_id} has no wallet")
        if parties.sender.frozen:
            raise WalletFrozen("this wallet is frozen: contact support")
        recipient = parties.recipient
        if recipient is None and phone is None:
            raise NotFound(f"nobody has the username {username!r}", field="to")
        if recipient is not None and recipient.user_id == sender_id:
            raise InvalidInput("you cannot send to yourself", field="to")
        # The sender's own rules (its limits, then its balance: amount and fee) before any that depends on who holds
        # the number (review6 F6): a wallet that cannot pay learns nothing of whether a number has a wallet, a
        # verified one or a frozen one. The balance was locked by the parties' read (no round trip).
        if parties.profile is None:
            raise NotFound(f"{sender_id} has no KYC profile")
        spent = spending_of(parties.usage)
        if step_up is not None:  # the day's usage read under the sender's wallet lock: concurrent sends queue
            step_up.enforce(spent, value)
        check_wallet_movement(parties.profile, Product.P2P, value, spent=spent, at=now).enforce()
        balance = uow.ledger.lock_balances([codes[0]]).get(codes[0])
        if balance is not None:
            check_can_take(balance, amount + fee)
        if recipient is None:  # an invitation: its limits read under the sender's wallet lock taken above
            _within_invite_rules(uow, self.invites, sender_id, str(phone), value, now)
        # A frozen recipient's receiving limits are checked as if it were not frozen (``held_sends.receivable``):
        # the send is refused exactly when an unfrozen wallet refuses it, so neither answer tells of the freeze
        # (tipping-off, review7 F1); what passes is held for an officer (``held_sends``), never refused.
        receiving = _may_receive(parties, value, now)
        if receiving.limited and recipient is not None:
            # What it received counts: read under the recipient's receive lock (concurrent sends to one tier-0
            # wallet, module text), and checked with it.
            so_far = uow.wallet_sends.received(
                recipient.user_id, day_start=day_bounds(now)[0], month_start=month_bounds(now)[0]
            )
            receiving = _may_receive(parties, value, now, so_far)
        if not receiving.allowed:
            refused = RecipientLimit(
                "the recipient cannot receive this amount now: send less, or ask them to verify their identity",
                field="amount",
                limit="recipient",
            )
            refused.audit = {
                "recipient": recipient.user_id if recipient else "(no wallet)",
                "limit": str(receiving.limit),
            }
            raise refused
        frozen = recipient is not None and (
            recipient.frozen or (parties.recipient_profile is not None and parties.recipient_profile.frozen)
        )
        return fee, parties, frozen

    def _send(
        self,
        uow: WalletUnitOfWork,
        transfer_id: str,
        sender_id: str,
        phone: str | None,
        username: str | None,
        amount: Money,
        value: Money,
        note: str | None,
        *,
        journal: bool,
        max_fee: Money | None = None,
        step_up: StepUp | None = None,
    ) -> Transfer:
        now = self.clock.now()
        fee, parties, held = self._cleared(
            uow, transfer_id, sender_id, phone, username, amount, value, now, max_fee, step_up
        )
        recipient = parties.recipient
        delivered = TransferState.HELD if held else TransferState.DELIVERED
        transfer = Transfer(
            id=transfer_id,
            sender_id=sender_id,
            recipient_phone=recipient.phone if recipient else str(phone),
            recipient_id=recipient.user_id if recipient else None,
            amount=amount,
            fee=fee,
            state=delivered if recipient else TransferState.AWAITING_CLAIM,
            created_at=now,
            note=note,
            claim_expires_at=None if recipient else now + self.claim_window,
            finished_at=now if recipient else None,
            held_at=now if held else None,
        )
        usage = Usage(self.ids.new_id("use"), sender_id, Product.P2P.value, value, now, transfer.id)
        received = None
        if held:  # the officers' record (no alert rule reads a freeze): ``held_sends`` lists what waits for them
            details = {"recipient": transfer.recipient_id or "", "amount": str(amount), "sender": sender_id}
            uow.audit.append(self._event(_HELD_ACTOR, "wallet.frozen_recipient", f"transfer:{transfer_id}", **details))
        if recipient is not None:  # held too: counted as a delivered send is, so the next send sees the same room
            received = Usage(self.ids.new_id("use"), recipient.user_id, Product.RECEIVE.value, value, now, transfer.id)
        movements = _p2p_movements(transfer, value) if journal else ()
        uow.wallet_sends.record(transfer, usage, movements, received=received)
        send_p2p(
            self.ledger,
            transfer_id=transfer.id,
            sender_id=sender_id,
            recipient_id=transfer.recipient_id,
            amount=amount,
            fee=transfer.fee,
            session=uow.ledger,
            held=held,
        )
        return transfer

    def _fee(self, amount: Money, at: datetime) -> Money:
        schedule = self.fees.find(FeeProduct.P2P, amount.asset, at=at)
        if schedule is None:  # no P2P schedule: sending is free
            return Money.zero(amount.asset)
        return schedule.quote(amount).fee

    def _invite(self, transfer: Transfer) -> None:
        """Tell the number that money waits for it; a failed SMS is audited and the claim stands."""
        sender = self.sms()
        days = self.claim_window.days
        value, code = transfer.amount.amount, transfer.amount.asset.code
        sent = f"{code} {value:,.2f}" if code == "KES" else f"{code} {value.normalize():,f}"  # USDT 0.5, not 0.500000
        text = (  # English, then Swahili: the number has no account, so no language of its own yet
            f"You have been sent {sent} on cryptopay. Sign up with this number within {days} days to receive it; "
            f"after that it goes back to the sender. / Umetumiwa {sent} kwenye cryptopay. Jisajili kwa nambari hii "
            f"ndani ya siku {days} uzipokee; baada ya hapo zitarudi kwa aliyekutumia."
        )
        outcome = "skipped: no SMS provider"
        if sender is not None:
            try:
                outcome = f"sent {sender.send(SmsMessage(transfer.recipient_phone, text))}"
            except Exception as error:  # the money is safe; the invitation is a courtesy
                outcome = f"failed: {type(error).__name__}"
        self._audit(f"user:{transfer.sender_id}", "wallet.invitation", f"transfer:{transfer.id}", outcome=outcome)

    def transfer(self, user_id: str, transfer_id: str) -> Transfer:
        """A transfer the user sent or received (``NotFound`` for anyone else's, and for a send held for the user
        while it is held: nothing reached them)."""
        found = in_transaction(self.uow, lambda uow: _transfer(uow, transfer_id))
        if found is None or not found.shown_to(user_id):
            raise NotFound(f"no transfer {transfer_id!r}")
        return found

    def transfers(self, user_id: str, *, after: str | None = None, limit: int = 50) -> list[Transfer]:
        """The user's transfers, newest first, up to ``limit`` of them; a send held for the user is not among them
        while it is held (read past, ``page_past``: a page is never short for the sends left out)."""

        def page(before: str | None) -> list[Transfer]:
            return in_transaction(
                self.uow, lambda uow: uow.wallet_transfers.for_user(user_id, after=before, limit=limit)
            )

        def shown(found: list[Transfer]) -> list[Transfer]:
            return [t for t in found if t.shown_to(user_id)]

        return page_past(page, shown, lambda t: t.id, limit=limit, start=after)

    def history(
        self,
        user_id: str,
        *,
        asset: Asset | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        kind: str | None = None,
        limit: int | None = 100,
        after: str | None = None,
    ) -> list[HistoryLine]:
        """The wallet's movements with running balances, newest first (see ``cryptopay.core.wallets.history``): the
        first ``limit`` and the rest of the last one's entry; ``after`` an ``entry_id`` of the previous page: the
        lines that follow its entry."""
        return history(
            self.ledger,
            user_id,
            asset=asset,
            since=since,
            until=until,
            kind=kind,
            limit=limit,
            payouts=self._payouts_named(user_id),
            after=after,
        )

    def history_page(
        self,
        user_id: str,
        *,
        limit: int,
        asset: Asset | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        kind: str | None = None,
        after: str | None = None,
    ) -> HistoryPage:
        """``history``'s page after the cursor ``after`` with the next page's cursor (None on the last page): a
        page never ends inside an entry, so paging gives every line once (``history.history_page``)."""
        return history_page(
            self.ledger,
            user_id,
            limit=limit,
            asset=asset,
            since=since,
            until=until,
            kind=kind,
            payouts=self._payouts_named(user_id),
            after=after,
        )

    def _payouts_named(self, user_id: str) -> Callable[[str], tuple[str, Wording] | None]:
        """What each of the wallet's payouts was for, for its history's lines (the wallet must exist)."""
        self.wallet(user_id)
        payout = self._payouts_of(user_id)
        return lambda payout_id: payout_wording(found) if (found := payout(payout_id)) is not None else None

    def _payouts_of(self, user_id: str) -> Callable[[str], Payout | None]:
        """The wallet's payout of an id (None for another's): the newest 1,000 read up front, an older one when its
        line comes up."""
        mine = in_transaction(self.uow, lambda uow: uow.payouts.list_for_merchant(user_id, before=None, limit=1000))
        known: dict[str, Payout | None] = {p.id: p for p in mine}

        def payout(payout_id: str) -> Payout | None:
            if payout_id not in known:
                found = in_transaction(self.uow, lambda uow: uow.payouts.get(payout_id))
                known[payout_id] = found if found is not None and found.merchant_id == user_id else None
            return known[payout_id]

        return payout

    def _receipts(self, user_id: str) -> Receipts:
        """M-Pesa's receipt of the wallet's buys and payouts, for its statement's references (R14-3)."""
        payout = self._payouts_of(user_id)

        def receipt(what: str, ref: str) -> str | None:
            if what == "payout":
                return found.receipt if (found := payout(ref)) is not None else None
            bought = in_transaction(self.uow, lambda uow: uow.wallet_buys.get(ref))
            return bought.receipt if bought is not None and bought.user_id == user_id else None

        return receipt

    def statement_lines(self, user_id: str, month: str) -> list[HistoryLine]:
        """Every movement of the month (``YYYY-MM``, Nairobi time), newest first: what a statement shows (CSV or
        PDF), however many there are (the ledger is read in keyset pages), a buy's and a payout's with M-Pesa's
        receipt when known."""
        since, until = statement_period(month)
        return history(
            self.ledger,
            user_id,
            since=since,
            until=until,
            limit=None,
            payouts=self._payouts_named(user_id),
            receipts=self._receipts(user_id),
        )

    def statement_balances(self, user_id: str, month: str) -> list[StatementBalance]:
        """Each balance's opening and closing over the month (``YYYY-MM``, Nairobi time; a month not over closes
        now), read from the ledger (``history.statement_balances``)."""
        since, until = statement_period(month)
        self.wallet(user_id)
        return statement_balances(self.ledger, user_id, since, until, self.clock.now())

    def statement(self, user_id: str, month: str, *, describe: Describe = english) -> str:
        """The month's statement (``YYYY-MM``, Nairobi time) as CSV, oldest first, between each balance's opening
        and closing lines; ``describe``: each line's description in the reader's language
        (``history.statement_rows``)."""
        lines = self.statement_lines(user_id, month)
        return statement_csv(lines, balances=self.statement_balances(user_id, month), describe=describe)

    def statement_chunks(self, user_id: str, month: str, *, describe: Describe = english) -> Iterator[str]:
        """``statement`` in pieces, for a response streamed as it is written: the lines are read (and any refusal
        raised) before the first piece."""
        lines = self.statement_lines(user_id, month)
        return statement_rows(lines, balances=self.statement_balances(user_id, month), describe=describe)

    def freeze(self, user_id: str, *, reason: str, actor: str) -> Wallet:
        """Stop a wallet sending and receiving (an operator's decision, audited with its reason)."""
        if not reason.strip():
            raise InvalidInput("freezing a wallet needs a reason", field="reason")

        def work(uow: WalletUnitOfWork) -> Wallet:
            wallet = _wallet(uow, user_id, lock=True)
            if not wallet.frozen:
                wallet.frozen_at, wallet.frozen_reason = self.clock.now(), reason.strip()
                uow.wallets.update(wallet)
                uow.audit.append(self._event(actor, "wallet.frozen", f"user:{user_id}", reason=reason.strip()))
            return wallet

        return in_transaction(self.uow, work)

    def unfreeze(self, user_id: str, *, actor: str) -> Wallet:
        def work(uow: WalletUnitOfWork) -> Wallet:
            wallet = _wallet(uow, user_id, lock=True)
            if wallet.frozen:
                wallet.frozen_at, wallet.frozen_reason = None, None
                uow.wallets.update(wallet)
                uow.audit.append(self._event(actor, "wallet.unfrozen", f"user:{user_id}"))
            return wallet

        return in_transaction(self.uow, work)

    def held_sends(self) -> HeldSends:
        """The officers' queue of sends held for a frozen recipient, and their decisions (``held_sends``)."""
        return HeldSends(
            uow=self.uow,
            ledger=self.ledger,
            clock=self.clock,
            ids=self.ids,
            value_of=self._kes_value,
            four_eyes=self.four_eyes,
        )

    def _kes_value(self, money: Money) -> Money:
        return kes_value(money, self.quoter())

    def _event(self, actor: str, action: str, subject: str, **details: str) -> AuditEvent:
        return AuditEvent(actor, action, subject, self.clock.now(), details)

    def _audit(self, actor: str, action: str, subject: str, **details: str) -> None:
        in_transaction(self.uow, lambda uow: uow.audit.append(self._event(actor, action, subject, **details)))


_INVITES_READ = 1000  # at most this many of the sender's newest transfers are read for its invitations


def _within_invite_rules(
    uow: WalletUnitOfWork, rules: InviteRules, sender_id: str, phone: str, value: Money, now: datetime
) -> None:
    """Refuse (``InviteLimit``, with what remains) a send to ``phone`` (no wallet) below the minimum, beyond the
    sender's open invitations, or to one more new number than a day allows. Read from the sender's own transfers
    of the claim window, newest first (an invitation is a transfer with a claim window)."""
    day = day_bounds(now)[0]
    since = min(day, now - CLAIM_WINDOW)
    open_, after, read = 0, None, 0
    numbers: set[str] = set()
    while read < _INVITES_READ and (page := uow.wallet_transfers.for_user(sender_id, after=after, limit=100)):
        for transfer in page:
            if transfer.created_at < since:
                break
            if transfer.sender_id == sender_id and transfer.claim_expires_at is not None:
                if transfer.state is TransferState.AWAITING_CLAIM:
                    open_ += 1
                if transfer.created_at >= day:
                    numbers.add(transfer.recipient_phone)
        else:
            after, read = page[-1].id, read + len(page)
            if len(page) == 100:
                continue
        break
    new = phone not in numbers
    remaining = {
        "open_remaining": str(max(rules.open_per_sender - open_, 0)),
        "new_numbers_remaining_today": str(max(rules.new_numbers_per_day - len(numbers), 0)),
    }
    if value < rules.minimum:
        raise InviteLimit(
            f"this number has no cryptopay wallet yet: money sent to it is worth at least KES "
            f"{rules.minimum.amount:,} (this is KES {value.amount:,})",
            field="amount",
            limit="invite.minimum",
            minimum=str(rules.minimum.amount),
            **remaining,
        )
    if open_ >= rules.open_per_sender:
        raise InviteLimit(
            f"you have {open_} transfers waiting for people to join (at most {rules.open_per_sender}): one must "
            "be claimed or come back first",
            field="to",
            limit="invite.open",
            **remaining,
        )
    if new and len(numbers) >= rules.new_numbers_per_day:
        raise InviteLimit(
            f"you have sent to {len(numbers)} new numbers with no wallet today (at most "
            f"{rules.new_numbers_per_day} a day): try again tomorrow",
            field="to",
            limit="invite.per_day",
            **remaining,
        )


def _may_receive(
    parties: SendParties, value: Money, now: datetime, received: Mapping[str, tuple[Money, Money]] | None = None
) -> Decision:
    """Whether the recipient may receive ``value`` now (``Product.RECEIVE``: its tier's receiving limits, counted
    from what it ``received`` today and this month, as ``UsageRepository.totals`` gives it; nothing when not given:
    a decision that is ``limited`` then is made again with it). A number with no wallet gets a tier-0 wallet when it
    signs up and claims: the send must fit what a new tier-0 wallet may receive (the claim is checked again then)."""
    if parties.recipient is None:
        return check_wallet_movement(new_wallet_profile(now), Product.RECEIVE, value, spent=Spending.nothing(), at=now)
    if parties.recipient_profile is None:  # a wallet with no KYC profile has no tier: it receives nothing
        return Decision(False, "the recipient has no KYC profile", "tier")
    return receivable(parties.recipient_profile, value, received, now)  # a freeze set aside (review7 F1)


def new_wallet_profile(at: datetime, party_id: str = "a new wallet") -> KycProfile:
    """The KYC profile a wallet has when it signs up: tier 0, its phone verified at ``at``."""
    profile = KycProfile(party_id=party_id, kind=PartyKind.PERSONAL)
    profile.submit(0, {Requirement.PHONE}, at=at)
    return profile


def _p2p_movements(transfer: Transfer, value: Money) -> list[Movement]:
    """The sender's side of a transfer and, once delivered, the recipient's (a claim is journaled when claimed)."""
    at, code, sender, recipient = (
        transfer.created_at,
        transfer.amount.asset.code,
        transfer.sender_id,
        transfer.recipient_id,
    )
    to_whom = recipient or transfer.recipient_phone
    moved = [movement(f"{transfer.id}:out", sender, P2P, OUT, value, at, counterparty=to_whom, asset=code)]
    if recipient is not None:
        moved.append(movement(f"{transfer.id}:in", recipient, P2P, IN, value, at, counterparty=sender, asset=code))
    return moved


def _wallet(uow: WalletUnitOfWork, user_id: str, *, lock: bool = False) -> Wallet:
    found = uow.wallets.get(user_id, lock=lock)
    if found is None:
        raise NotFound(f"{user_id} has no wallet")
    return found


def _sender(uow: WalletUnitOfWork, user_id: str) -> tuple[Wallet, KycProfile]:
    """Before a wallet moves money: the wallet, locked (its movements queue) and refused if frozen, and the user's
    KYC profile whose limits the movement is checked against."""
    wallet = _wallet(uow, user_id, lock=True)
    if wallet.frozen:
        raise WalletFrozen("this wallet is frozen: contact support")
    profile = uow.kyc.get(user_id)
    if profile is None:
        raise NotFound(f"{user_id} has no KYC profile")
    return wallet, profile


def _transfer(uow: WalletUnitOfWork, transfer_id: str) -> Transfer | None:
    return uow.wallet_transfers.get(transfer_id)


def _recipient(to: str) -> tuple[str | None, str | None]:
    """A phone number in wire form, or else a username."""
    phone = try_normalize_msisdn(to)
    if phone is not None:
        return phone, None
    try:
        return None, valid_username(to.removeprefix("@"))
    except InvalidInput:
        raise InvalidInput("send to a Kenyan mobile number (07…, +2547…) or a username", field="to") from None


def _note(note: str | None) -> str | None:
    """A transfer's note as its recipient will read it: prose, at most ``MAX_NOTE`` characters, never speaking as
    the platform, M-Pesa or another reserved brand (``check_payer_text``, 422 ``impersonating_text``)."""
    if note is None or not note.strip():
        return None
    problem = text_problem(note, TextKind.PROSE)
    if problem is not None or len(note.strip()) > MAX_NOTE:
        raise InvalidInput(problem or f"a note is at most {MAX_NOTE} characters", field="note")
    # the recipient reads it beside the money: "M-PESA reversal: send it back" is the oldest trick (review6 F2 class)
    return check_payer_text(note.strip(), field="note")
