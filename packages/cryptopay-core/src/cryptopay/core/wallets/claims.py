"""Transfers waiting for a recipient: delivered when the number signs up, returned to the sender after 7 days.

A transfer to a number with no wallet is booked to ``liabilities:wallet_claims:<ASSET>`` at once (the sender's
money has left); the recipient is invited by SMS. Signing up with that number delivers every waiting transfer in
the sign-up's own transaction; the worker's ``wallets.expire_claims`` job returns the ones nobody claimed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from cryptopay.core.audit import AuditEvent
from cryptopay.core.compliance.feed import movement
from cryptopay.core.compliance.rules import Direction, Movement
from cryptopay.core.errors import CryptopayError
from cryptopay.core.flows import settle_claim
from cryptopay.core.kyc import Product, check_wallet_movement, day_bounds, month_bounds
from cryptopay.core.ledger import Ledger
from cryptopay.core.money import KES, Money
from cryptopay.core.ports.payments import Quoter
from cryptopay.core.ports.storage import in_transaction
from cryptopay.core.ports.system import IdGenerator
from cryptopay.core.ports.wallets import WalletUnitOfWork, WalletUowFactory
from cryptopay.core.wallets.model import Transfer, TransferState, Usage, Wallet
from cryptopay.core.wallets.service import P2P, kes_value, spending_of

__all__ = ["claimed_movements", "deliver_waiting", "return_expired_claims"]


def deliver_waiting(
    uow: WalletUnitOfWork,
    ledger: Ledger,
    wallet: Wallet,
    *,
    at: datetime,
    ids: IdGenerator,
    quoter: Quoter | None = None,
) -> list[Transfer]:
    """Credit ``wallet`` with every transfer waiting for its phone that its tier may receive (inside the caller's
    unit of work), oldest first; the transfers claimed (their recipient's side is journaled for AML monitoring once
    the caller's transaction commits: ``claimed_movements``).

    Each claim is checked against the wallet's receiving limits (``Product.RECEIVE``, valued in KES at ``quoter``'s
    mid) and counted in its usage. A transfer the wallet cannot take (several senders' invitations adding up past
    what a tier-0 wallet may receive) stays waiting, and goes back to its sender when its claim window ends
    (``return_expired_claims``); one that cannot be valued now (no price) waits likewise. Each is locked and read
    again before it is claimed, so a return committed meanwhile is never followed by a claim of the same money."""
    waiting = sorted(uow.wallet_transfers.awaiting_claim(wallet.phone), key=lambda t: (t.created_at, t.id))
    if not waiting:
        return []
    profile = uow.kyc.get(wallet.user_id)
    day_start, month_start = day_bounds(at)[0], month_bounds(at)[0]
    totals = dict(uow.wallet_usage.totals(wallet.user_id, day_start=day_start, month_start=month_start))
    claimed = []
    for found in waiting:
        # Locked, and read again under the lock: the worker may be returning it to its sender right now
        # (``_return`` holds it); once that commits it is ``returned`` and is not the wallet's to claim.
        transfer = uow.wallet_transfers.get(found.id, lock=True)
        if transfer is None or transfer.state is not TransferState.AWAITING_CLAIM:
            continue
        try:
            value = kes_value(transfer.amount, quoter)
        except CryptopayError:
            continue
        received = spending_of({k: v for k, v in totals.items() if k == Product.RECEIVE.value})
        if profile is None or not check_wallet_movement(profile, Product.RECEIVE, value, spent=received, at=at).allowed:
            uow.audit.append(
                AuditEvent("system", "wallet.claim_refused", f"transfer:{transfer.id}", at, {"user": wallet.user_id})
            )
            continue
        _finish(uow, ledger, transfer, wallet.user_id, TransferState.CLAIMED, at)
        uow.wallet_usage.add(Usage(ids.new_id("use"), wallet.user_id, Product.RECEIVE.value, value, at, transfer.id))
        day, month = totals.get(Product.RECEIVE.value, (Money.zero(KES), Money.zero(KES)))
        totals[Product.RECEIVE.value] = (day + value, month + value)
        claimed.append(transfer)
    return claimed


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
