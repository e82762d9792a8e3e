"""Transfers waiting for a recipient: delivered when the number signs up, returned to the sender after 7 days.

A transfer to a number with no wallet is booked to ``liabilities:wallet_claims:<ASSET>`` at once (the sender's
money has left); the recipient is invited by SMS. Signing up with that number delivers every waiting transfer its
tier-0 wallet may receive, oldest first, in the sign-up's own transaction. The ones that did not fit (several
senders' invitations adding up past tier 0's receiving limits) stay waiting and are tried again (``WaitingClaims``):
as soon as the holder's KYC approval raises the tier (``KycReview``'s ``on_granted``), and by the worker's
``wallets.expire_claims`` job (every 10 minutes) before it returns to their senders the ones whose window ended
(``return_expired_claims``): a new day or month may have left room.

Locks: a claim takes the wallet's row (where it has one already), the waiting transfers' rows (so the job's return
of one of them waits, then finds it claimed), then the wallet's receive lock when its tier limits receiving, then
the ledger balances: the order in ``cryptopay.core.wallets.service``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

import attrs
from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.feed import MonitoringFeed, movement
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.errors import CryptopayError
from cryptopay.core.flows import settle_claim
from cryptopay.core.fx import Pair
from cryptopay.core.kyc import Product, check_wallet_movement, day_bounds, month_bounds, product_limited
from cryptopay.core.kyc.gate import frozen_among
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import KES, Asset, Money
from cryptopay.core.ports.payments import Quoter
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import Clock, IdGenerator
from cryptopay.core.ports.wallets import WalletUnitOfWork, WalletUowFactory
from cryptopay.core.wallets.model import Transfer, TransferState, Usage, Wallet
from cryptopay.core.wallets.service import P2P, at_mid, kes_value, spending_of

__all__ = ["WaitingClaims", "claim_prices", "claimed_movements", "deliver_waiting", "return_expired_claims"]


def claim_prices(
    uow: WalletUowFactory, quoter: Quoter | None, *, phone: str | None = None, user_id: str | None = None
) -> dict[Asset, Decimal]:
    """The KES mids ``deliver_waiting`` values the transfers waiting for ``phone`` (or ``user_id``'s wallet) at,
    asked before the claim's transaction opens (review6 F5): a quote is locked and stored in a transaction of its
    own, which inside the claim's was a nested write on SQLite (every sign-up with a USDT invitation waiting failed)
    and, on PostgreSQL, asked the rate sources while the transfers' rows were locked. The waiting transfers' assets
    are read in a short transaction first (a sign-up with nothing waiting asks no price); an asset with no price now
    is left out (its transfers wait, as ``deliver_waiting`` says)."""

    def assets(u: WalletUnitOfWork) -> set[Asset]:
        number = phone
        if number is None:
            wallet = u.wallets.get(user_id or "")
            if wallet is None:
                return set()
            number = wallet.phone
        return {t.amount.asset for t in u.wallet_transfers.awaiting_claim(number)}

    mids: dict[Asset, Decimal] = {}
    if quoter is None:
        return mids
    for asset in sorted(in_transaction(uow, assets) - {KES}, key=lambda a: a.code):
        try:
            mids[asset] = quoter.quote(Pair(asset, KES)).mid
        except CryptopayError:
            continue
    return mids


def deliver_waiting(
    uow: WalletUnitOfWork,
    ledger: Ledger,
    wallet: Wallet,
    *,
    at: datetime,
    ids: IdGenerator,
    prices: Mapping[Asset, Decimal],
    audit_refusals: bool = True,
) -> list[Transfer]:
    """Credit ``wallet`` with every transfer waiting for its phone that its tier may receive (inside the caller's
    unit of work, which holds the wallet's row), oldest first; the transfers claimed (their recipient's side is
    journaled for AML monitoring once the caller's transaction commits: ``claimed_movements``).

    A transfer whose sender compliance froze (the freeze came after the send) is not claimed: it waits (audited
    ``wallet.claim_held`` when ``audit_refusals``), claimed once the freeze is lifted or returned to its sender when
    its window ends (money back into the frozen account is not outgoing), as a frozen merchant's planned payout waits.

    Each claim is checked against the wallet's receiving limits (``Product.RECEIVE``, valued in KES at ``prices``,
    the mids ``claim_prices`` asked before the transaction; read under the wallet's receive lock when its tier
    limits receiving) and counted in its usage. A transfer the wallet cannot take stays waiting (audited
    ``wallet.claim_refused`` when ``audit_refusals``: the sign-up's try, not each retry), to be tried again
    (``WaitingClaims``) or returned to its sender when its claim window ends (``return_expired_claims``); one that
    cannot be valued now (no price) waits likewise. They are locked before anything is read or moved
    (``awaiting_claim(lock=True)``, the state matched again under the lock), so a return the worker commits
    meanwhile is never followed by a claim of the same money, and no ledger balance is held while a transfer's row
    is waited for."""
    waiting = sorted(uow.wallet_transfers.awaiting_claim(wallet.phone, lock=True), key=lambda t: (t.created_at, t.id))
    if not waiting:
        return []
    profile = uow.kyc.get(wallet.user_id)
    if profile is None or product_limited(profile, Product.RECEIVE, at=at):
        uow.wallet_usage.lock_receiving(wallet.user_id)
    day_start, month_start = day_bounds(at)[0], month_bounds(at)[0]
    totals = dict(uow.wallet_usage.totals(wallet.user_id, day_start=day_start, month_start=month_start))
    held = frozen_among(uow.kyc, (t.sender_id for t in waiting))
    claimed = []
    for transfer in waiting:
        if transfer.sender_id in held:  # compliance froze its sender since: it waits (review6 F8)
            if audit_refusals:
                event = AuditEvent(
                    "system", "wallet.claim_held", f"transfer:{transfer.id}", at, {"user": wallet.user_id}
                )
                uow.audit.append(event)
            continue
        asset = transfer.amount.asset
        if asset != KES and asset not in prices:  # no price now (or it arrived since the prices were asked)
            continue
        value = transfer.amount if asset == KES else at_mid(transfer.amount, prices[asset])
        received = spending_of({k: v for k, v in totals.items() if k == Product.RECEIVE.value})
        if profile is None or not check_wallet_movement(profile, Product.RECEIVE, value, spent=received, at=at).allowed:
            if audit_refusals:
                event = AuditEvent(
                    "system", "wallet.claim_refused", f"transfer:{transfer.id}", at, {"user": wallet.user_id}
                )
                uow.audit.append(event)
            continue
        _finish(uow, ledger, transfer, wallet.user_id, TransferState.CLAIMED, at)
        uow.wallet_usage.add(Usage(ids.new_id("use"), wallet.user_id, Product.RECEIVE.value, value, at, transfer.id))
        day, month = totals.get(Product.RECEIVE.value, (Money.zero(KES), Money.zero(KES)))
        totals[Product.RECEIVE.value] = (day + value, month + value)
        claimed.append(transfer)
    return claimed


@attrs.define(kw_only=True)
class WaitingClaims:
    """Transfers waiting for a wallet that exists, tried again: after its holder's KYC approval (``claim``) and by
    the worker's job before the expired ones go back to their senders (``settle``). Each wallet's try is one unit of
    work; each claim is audited ``wallet.transfer_claimed`` and journaled for AML monitoring after the commit.
    Wired once in the composition root: ``WaitingClaims(uow=..., ledger=..., clock=..., ids=...).settle()``."""

    uow: WalletUowFactory
    ledger: Ledger
    clock: Clock
    ids: IdGenerator
    quoter: Callable[[], Quoter | None] = lambda: None
    monitor: MonitoringFeed = attrs.Factory(MonitoringFeed)
    batch: int = 100

    def claim(self, user_id: str) -> list[Transfer]:
        """Deliver to ``user_id``'s wallet the transfers waiting for its phone that it may receive now, oldest first,
        while they fit (none when it has no wallet or its wallet is frozen); the transfers claimed."""
        prices = claim_prices(self.uow, self.quoter(), user_id=user_id)  # before the claim's transaction
        claimed = in_transaction(self.uow, functools.partial(self._claim, user_id=user_id, prices=prices))
        if claimed:
            self.monitor.after_valued(f"claims of {user_id}", lambda: claimed_movements(claimed, self.quoter()))
        return claimed

    def after_verification(self, user_id: str) -> None:
        """``claim`` once ``user_id``'s KYC tier was granted (``KycReview.on_granted``); a failure is audited
        (``wallet.claims_failed``), not raised: the approval stands, and the worker's job tries again."""
        try:
            self.claim(user_id)
        except CryptopayError as error:
            event = AuditEvent(
                "system", "wallet.claims_failed", f"user:{user_id}", self.clock.now(), {"error": error.code}
            )
            in_transaction(self.uow, lambda uow: uow.audit.append(event))

    def settle(self) -> tuple[int, int]:
        """The worker's job: every wallet with transfers waiting for it tried (``claim``), then the transfers whose
        claim window ended returned to their senders; how many were claimed and how many returned."""
        claimed, after = 0, None
        while True:
            users = in_transaction(self.uow, functools.partial(_registered, after=after, limit=self.batch))
            for user_id in users:
                claimed += len(self.claim(user_id))
            if len(users) < self.batch:
                break
            after = users[-1]
        return claimed, return_expired_claims(self.uow, self.ledger, now=self.clock.now(), batch=self.batch)

    def _claim(self, uow: WalletUnitOfWork, *, user_id: str, prices: Mapping[Asset, Decimal]) -> list[Transfer]:
        wallet = uow.wallets.get(user_id, lock=True)
        if wallet is None or wallet.frozen:
            return []
        return deliver_waiting(
            uow, self.ledger, wallet, at=self.clock.now(), ids=self.ids, prices=prices, audit_refusals=False
        )


def _registered(uow: WalletUnitOfWork, *, after: str | None, limit: int) -> list[str]:
    return uow.wallet_transfers.awaiting_registered(after=after, limit=limit)


def claimed_movements(claimed: Sequence[Transfer], quoter: Quoter | None) -> list[Movement]:
    """The recipient's side of claimed transfers for monitoring (``p2p``, in, the sender as counterparty, valued in
    KES at a fresh quote), at the claim's time; the id is the one a delivered send's recipient side has.

    >>> claimed_movements([], None)
    []
    """
    moved = []
    for transfer in claimed:
        assert transfer.recipient_id is not None and transfer.finished_at is not None
        value, code = kes_value(transfer.amount, quoter), transfer.amount.asset.code
        moved.append(
            movement(
                f"{transfer.id}:in",
                transfer.recipient_id,
                P2P,
                Direction.IN,
                value,
                transfer.finished_at,
                counterparty=transfer.sender_id,
                asset=code,
            )
        )
    return moved


def return_expired_claims(uow: WalletUowFactory, ledger: Ledger, *, now: datetime, batch: int = 100) -> int:
    """Return every transfer whose claim window has ended to its sender; how many were returned."""
    returned = 0
    while True:
        due = in_transaction(uow, lambda u: _expiring(u, now, batch))
        for transfer_id in due:
            returned += in_transaction(uow, functools.partial(_return, ledger=ledger, transfer_id=transfer_id, now=now))
        if len(due) < batch:
            return returned


def _expiring(uow: WalletUnitOfWork, now: datetime, batch: int) -> list[str]:
    return [t.id for t in uow.wallet_transfers.claims_expiring(now, limit=batch)]


def _return(uow: WalletUnitOfWork, *, ledger: Ledger, transfer_id: str, now: datetime) -> int:
    transfer = uow.wallet_transfers.get(transfer_id, lock=True)
    if transfer is None or transfer.state is not TransferState.AWAITING_CLAIM:
        return 0  # claimed (or returned) meanwhile
    _finish(uow, ledger, transfer, transfer.sender_id, TransferState.RETURNED, now)
    return 1


def _finish(
    uow: WalletUnitOfWork, ledger: Ledger, transfer: Transfer, user_id: str, state: TransferState, at: datetime
) -> None:
    returned = state is TransferState.RETURNED
    settle_claim(
        ledger, transfer_id=transfer.id, user_id=user_id, amount=transfer.amount, returned=returned, session=uow.ledger
    )
    transfer.state, transfer.finished_at = state, at
    if not returned:
        transfer.recipient_id = user_id
    uow.wallet_transfers.update(transfer)
    action = "wallet.transfer_returned" if returned else "wallet.transfer_claimed"
    uow.audit.append(AuditEvent("system", action, f"transfer:{transfer.id}", at, {"user": user_id}))
