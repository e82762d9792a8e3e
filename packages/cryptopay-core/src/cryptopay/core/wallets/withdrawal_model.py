"""A wallet's crypto withdrawal to an outside address: the values, the states, our fee as data, the quote shown.

States::

    requested --send--> sent --confirmed--> confirmed
        |                 \\--failed/dropped--> failed (hold voided: the coins are back in the wallet)
        \\--send refused--> failed

A withdrawal is ``requested`` with ``send_after``: at once for an address the user has withdrawn to before, a cool-off
later (default 24 h) for a first-time address. The worker sends only requested withdrawals whose ``send_after`` has
passed.

>>> from datetime import datetime, timezone
>>> at = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)
>>> DEFAULT_WITHDRAWAL_FEES.quote(FeeProduct.CRYPTO_WITHDRAWAL, Money.of("50", "USDT"), at=at, name="ethereum").fee
Money('5.000000', 'USDT')
>>> withdrawal_schedule(DEFAULT_WITHDRAWAL_FEES, Money.of("50", "USDT"), "base", at=at).id
'crypto_withdrawal:USDT:standard:v1'
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal

import attrs
from cryptopay.core.fees import FeeBook, FeeProduct, FeeSchedule
from cryptopay.core.money import BTC, USDT, Asset, Money
from cryptopay.core.payments.internal import INTERNAL_ADDRESS
from cryptopay.core.wallets.model import FEE_CHANGED

__all__ = [
    "DEFAULT_NETWORK_FEE_MARGIN",
    "DEFAULT_WITHDRAWAL_FEES",
    "FEE_CHANGED",
    "WITHDRAWABLE",
    "Withdrawal",
    "WithdrawalQuote",
    "WithdrawalState",
    "withdrawal_schedule",
]

# What a wallet can withdraw: what it holds. Wallets hold one USDT balance whatever the network or stablecoin it
# arrived as (USDC deposits are credited as USDT), and BTC; a USDC withdrawal could only ever fail, so there is none.
WITHDRAWABLE: tuple[Asset, ...] = (USDT, BTC)

# The network fee is the platform's to pay, so our fee is never below the network's estimate plus this margin (25 %),
# converted into the asset withdrawn at the quote: no withdrawal is sent at a loss, whatever the network's gas.
DEFAULT_NETWORK_FEE_MARGIN = Decimal("0.25")

# ``Withdrawal.failure_code`` of one the worker did not send because the network's fee rose above what its fee covers.

_SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def _flat(asset: Asset, fixed: str, network: str = "standard") -> FeeSchedule:
    return FeeSchedule(
        product=FeeProduct.CRYPTO_WITHDRAWAL,
        asset=asset,
        version=1,
        effective_from=_SINCE,
        name=network,
        percent=Decimal(0),
        fixed=Money.of(fixed, asset),
    )


# Our fee per withdrawal, as data (a deployment passes its own ``FeeBook``): a schedule per asset and network (the
# schedule's name is the network), else the asset's ``standard`` one. It is a floor on top of which the network's
# own fee counts: the fee charged is the larger of the schedule's and the network fee estimate x (1 + margin).
DEFAULT_WITHDRAWAL_FEES = FeeBook(
    (
        _flat(USDT, "1"),
        _flat(USDT, "5", "ethereum"),  # an ERC-20 transfer on Ethereum: often 1-5 USD of gas, more when busy
        _flat(USDT, "1", "polygon"),
        _flat(USDT, "1", "bsc"),
        _flat(USDT, "1.5", "tron"),  # a TRC-20 transfer burns energy (about 14-28 TRX without staked energy)
        _flat(BTC, "0.0001"),
        _flat(BTC, "0.0001", "bitcoin"),
    )
)


def withdrawal_schedule(book: FeeBook, amount: Money, network: str, *, at: datetime) -> FeeSchedule:
    """The withdrawal fee schedule for ``amount``'s asset on ``network``: the network's own, else the standard."""
    found = book.find(FeeProduct.CRYPTO_WITHDRAWAL, amount.asset, at=at, name=network)
    return found or book.schedule_for(FeeProduct.CRYPTO_WITHDRAWAL, amount.asset, at=at)


class WithdrawalState(enum.Enum):
    REQUESTED = "requested"  # held and recorded; waiting for its send_after, then for the worker's send
    SENT = "sent"  # broadcast; waiting for the network's confirmations
    CONFIRMED = "confirmed"  # deep enough: the hold is posted and custody paid out
    FAILED = "failed"  # refused, reverted or dropped before confirming: the hold is voided

    @property
    def open(self) -> bool:
        return self in (WithdrawalState.REQUESTED, WithdrawalState.SENT)


@attrs.frozen
class WithdrawalQuote:
    """What a withdrawal would be, shown before the user confirms: the address in its normal form, the amount that
    arrives, our fee, the total taken from the wallet, the network fee estimate (paid by us, in the network's coin;
    None when the chain cannot estimate now) and what it is worth in the asset with its margin (the fee is never
    below it), the schedule's fee for the network, the cool-off for a first-time address, and whether the Travel
    Rule asks for the self-hosted wallet attestation."""

    network: str
    address: str
    amount: Money
    fee: Money
    total: Money
    network_fee: Money | None
    first_time_address: bool
    send_after: datetime
    travel_rule: bool
    usd_equivalent: Money | None
    schedule_fee: Money | None = None
    network_fee_value: Money | None = None


@attrs.define(kw_only=True)
class Withdrawal:
    """One withdrawal. ``amount`` arrives at ``address``; ``fee`` is ours; both are held from the wallet."""

    id: str
    user_id: str
    network: str
    address: str
    amount: Money
    fee: Money
    kes_value: Money  # the KES value the limits counted
    hold_id: str
    created_at: datetime
    send_after: datetime
    first_time_address: bool = False
    token_contract: str | None = None
    network_fee_estimate: Money | None = None  # the network's estimate when it was requested, in the coin
    network_fee_cap: Money | None = None  # the most of the network's fee our fee covers, in the coin (None: unknown)
    travel_rule_id: str | None = None
    state: WithdrawalState = WithdrawalState.REQUESTED
    tx_hash: str | None = None
    network_fee: Money | None = None  # what the network charged, once known
    failure: str | None = None
    # what the customer may act on: ``fee_changed`` (ask for a new quote), ``internal_address`` (pay by phone)
    failure_code: str | None = None
    updated_at: datetime | None = None
    # why a requested withdrawal waits past its ``send_after``: ``screening_unavailable`` (screening is required and no
    # sanctions list is loaded); it is sent by itself once a list is imported and the address screens clean
    held: str | None = None

    @property
    def asset(self) -> Asset:
        return self.amount.asset

    @property
    def total(self) -> Money:
        return self.amount + self.fee

    @property
    def stuck(self) -> bool:
        """Sent, and the network dropped its transaction even after a rebroadcast: the coins are held until an
        operator resolves it (``cryptopay withdrawals resolve``)."""
        return self.state is WithdrawalState.SENT and self.failure is not None

    @property
    def outward_failure(self) -> str | None:
        """What the customer is told of a failure. ``failure`` is the operators' own (the hot wallet's balance, the
        list entries an address matched, who returned the coins and why) and never leaves the platform.

        >>> from cryptopay.core.money import Money
        >>> now = datetime(2026, 1, 1)
        >>> one, kes = Money.of("1", "USDT"), Money.of("130", "KES")
        >>> w = Withdrawal(id="wdr_1", user_id="usr_1", network="polygon", address="0xabc", amount=one, fee=one,
        ...     kes_value=kes, hold_id="hld_1", created_at=now, send_after=now, state=WithdrawalState.FAILED,
        ...     failure="returned by ops:jo: nonce replaced")
        >>> w.outward_failure
        'it could not be sent: the amount and the fee are back in your wallet'
        """
        if self.state is WithdrawalState.FAILED and self.failure_code == FEE_CHANGED:
            return (
                "the network's fee rose above the fee you were quoted, so it was not sent: the amount and the fee are "
                "back in your wallet; ask for a new quote to withdraw"
            )
        if self.state is WithdrawalState.FAILED and self.failure_code == INTERNAL_ADDRESS:
            return (
                "the address belongs to cryptopay, so it was not sent: the amount and the fee are back in your "
                "wallet; send to the person by phone or username instead"
            )
        if self.state is WithdrawalState.FAILED:
            return "it could not be sent: the amount and the fee are back in your wallet"
        return "the network has not confirmed it yet: we are following it up" if self.stuck else None

    @property
    def cooling(self) -> bool:
        """Whether it waits for a first-time address's cool-off (as of when it was requested)."""
        return self.send_after > self.created_at
