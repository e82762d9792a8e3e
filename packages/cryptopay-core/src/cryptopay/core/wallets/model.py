"""Personal wallets: the wallet of a user, the one-time codes that verify a phone, and transfers between people.

A wallet belongs to one user and is known by its verified phone number (and, optionally, a username). Its
balances are ledger accounts (``cryptopay.core.flows.wallet_account``): KES, USDT (one balance whatever the network)
and BTC. A transfer to a phone number with no wallet waits for its recipient as a claim, and goes back to the
sender when nobody claims it in time.

>>> from datetime import datetime, timezone
>>> at = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
>>> Wallet(user_id="usr_1", phone="254712345678", created_at=at).frozen
False
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs
from cryptopay.core.errors import Conflict, InvalidInput
from cryptopay.core.money import BTC, KES, USDT, Asset, Money
from cryptopay.core.wallets.usernames import valid_username

__all__ = [
    "FEE_CHANGED",
    "HOLDINGS",
    "SENDABLE",
    "FeeChanged",
    "HeldSendDecision",
    "HeldSendProposal",
    "PhoneVerification",
    "Transfer",
    "TransferState",
    "Usage",
    "Wallet",
    "valid_username",
]

HOLDINGS: tuple[Asset, ...] = (KES, USDT, BTC)  # the balances every wallet has
SENDABLE: tuple[Asset, ...] = (KES, USDT)  # what people send to each other

FEE_CHANGED = "fee_changed"


class FeeChanged(Conflict):
    """The fee is now above what the user was shown (the network's fee rose, or a fee schedule changed): check
    again and confirm the new fee."""

    code = FEE_CHANGED


@attrs.define(kw_only=True)
class Wallet:
    """A user's wallet; a frozen wallet can receive nothing and send nothing until an operator unfreezes it."""

    user_id: str
    phone: str
    created_at: datetime
    username: str | None = None
    frozen_at: datetime | None = None
    frozen_reason: str | None = None

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None


@attrs.define(kw_only=True)
class PhoneVerification:
    """A one-time code sent to a phone by SMS; only a keyed hash of the code is kept."""

    id: str
    phone: str
    code_hash: str = attrs.field(repr=False)
    created_at: datetime
    expires_at: datetime
    last_sent_at: datetime
    sends: int = 1
    attempts: int = 0
    verified_at: datetime | None = None
    used_at: datetime | None = None  # the sign-up that consumed it


class TransferState(enum.Enum):
    DELIVERED = "delivered"  # in the recipient's wallet
    AWAITING_CLAIM = "awaiting_claim"  # the number has no wallet yet: held until it signs up or the claim expires
    CLAIMED = "claimed"  # the recipient signed up and received it
    RETURNED = "returned"  # nobody claimed it in time, or an officer returned a held one: back in the sender's wallet
    # The recipient is frozen (review4 R6): accepted as any send, the amount in ``p2p_held`` until an officer releases
    # it (delivered) or returns it (returned). Its sender sees it as delivered: a refusal or a state of its own would
    # tell the sender about the freeze (tipping-off); ``shown_state`` is what the parties read.
    HELD = "held"


class HeldSendDecision(enum.Enum):
    """What an officer does with a send held for a frozen recipient (``wallets.held_sends``)."""

    RELEASE = "release"  # credited to the recipient
    RETURN = "return"  # given back to the sender


@attrs.frozen(kw_only=True)
class HeldSendProposal:
    """Four-eyes on a held send: a release or return one officer proposed (with why), carried out only when a second
    officer approves it (``HeldSends.approve``)."""

    decision: HeldSendDecision
    by: str
    at: datetime
    note: str


@attrs.frozen(kw_only=True)
class HeldSendKept:
    """An officer's decision to keep a held send held (for the authorities, a court order awaited), with why:
    nothing moves, the send stays ``held`` and may still be released or returned later (``HeldSends.keep``)."""

    by: str
    at: datetime
    note: str


@attrs.define(kw_only=True)
class Transfer:
    """Money sent from one wallet to a person, by phone number or username, with a note."""

    id: str
    sender_id: str
    recipient_phone: str
    amount: Money
    fee: Money
    state: TransferState
    created_at: datetime
    recipient_id: str | None = None
    note: str | None = None
    claim_expires_at: datetime | None = None
    finished_at: datetime | None = None
    held_at: datetime | None = None  # held for a frozen recipient (``held_sends``), whatever an officer decided since
    proposal: HeldSendProposal | None = None  # a held send's release or return awaiting a second officer
    decided_at: datetime | None = None  # when officers released or returned a held send (``shown_times``)
    kept: HeldSendKept | None = None  # an officer kept a held send held, with why (the latest; cleared once decided)

    @property
    def asset(self) -> Asset:
        return self.amount.asset

    @property
    def shown_state(self) -> TransferState:
        """The state its sender and recipient see: a held send reads as delivered (no tipping-off).

        >>> from cryptopay.core.money import KES, Money
        >>> from datetime import datetime, timezone
        >>> at = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> Transfer(id="t", sender_id="u", recipient_phone="254700000000", amount=Money.of(10, KES),
        ...          fee=Money.zero(KES), state=TransferState.HELD, created_at=at).shown_state.value
        'delivered'
        """
        return TransferState.DELIVERED if self.state is TransferState.HELD else self.state

    def shown_times(self, user_id: str) -> tuple[datetime, datetime | None]:
        """``(created_at, finished_at)`` as ``user_id`` reads them: an ordinary send's (tipoff3). A held send's
        sender reads it delivered when sent (as stored); its recipient, once it was released, reads a send made and
        delivered when it reached them (the officers' decision, when its line in their history is dated: the send's
        own time told them it had waited); one returned reads returned when the money came back, as a claim
        nobody took does (it read returned at the moment it was sent).

        >>> from cryptopay.core.money import KES, Money
        >>> from datetime import datetime, timezone
        >>> sent, freed = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 3, tzinfo=timezone.utc)
        >>> t = Transfer(id="t", sender_id="u", recipient_id="r", recipient_phone="254700000000",
        ...              amount=Money.of(10, KES), fee=Money.zero(KES), state=TransferState.DELIVERED,
        ...              created_at=sent, finished_at=sent, held_at=sent, decided_at=freed)
        >>> [day.day for day in t.shown_times("r")], [day.day for day in t.shown_times("u")]
        ([3, 3], [1, 1])
        """
        if self.decided_at is None:
            return self.created_at, self.finished_at
        if self.state is TransferState.RETURNED:
            return self.created_at, self.decided_at
        if self.recipient_id == user_id and self.sender_id != user_id:
            return self.decided_at, self.decided_at
        return self.created_at, self.finished_at

    def shown_to(self, user_id: str) -> bool:
        """Whether ``user_id`` sees the transfer: its sender always (a held send as delivered), its recipient once it
        reached them: never while it is held, nor once an officer returned it (nothing reached them, and a send
        returned unseen would tell them of the freeze: review7 F9)."""
        if self.sender_id == user_id:
            return True
        if self.recipient_id != user_id or self.state is TransferState.HELD:
            return False
        return not (self.held_at is not None and self.state is TransferState.RETURNED)


@attrs.frozen
class Usage:
    """One movement counted against the KYC limits: its product and its value in KES when it was made."""

    id: str
    user_id: str
    product: str
    kes_value: Money
    at: datetime
    reference: str

    def __attrs_post_init__(self) -> None:
        if self.kes_value.asset != KES:
            raise InvalidInput("usage is counted in KES")
