"""Wallet ports: wallets, phone verifications, transfers, limit usage, and the unit of work that holds them.

Every repository hands out copies (a change counts once it is ``update``-d). ``get(..., lock=True)`` locks the row
until the transaction ends (``SELECT ... FOR UPDATE`` on PostgreSQL): a wallet's movements are serialised on its
row, so two sends at once cannot both pass a limit that only one of them fits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import attrs
from cryptopay.core.compliance.rules import Movement
from cryptopay.core.identity.model import User
from cryptopay.core.kyc.profile import KycStanding
from cryptopay.core.money import Asset, Money
from cryptopay.core.ports.kyc import KycRepository
from cryptopay.core.ports.payments import PayoutRepository
from cryptopay.core.ports.storage import UnitOfWork
from cryptopay.core.wallets.model import PhoneVerification, Transfer, Usage, Wallet

if TYPE_CHECKING:  # the buys and quotes modules import this port
    from cryptopay.core.wallets.buys import Buy
    from cryptopay.core.wallets.quotes import WalletQuote

__all__ = [
    "BuyRepository",
    "PhoneVerificationRepository",
    "ReceivingWallet",
    "SellUnitOfWork",
    "SellUowFactory",
    "SendParties",
    "SendRepository",
    "SendingWallet",
    "TransferRepository",
    "UsageRepository",
    "WalletQuoteRepository",
    "WalletRepository",
    "WalletUnitOfWork",
    "WalletUowFactory",
    "WalletUsers",
]


class WalletRepository(Protocol):
    def add(self, wallet: Wallet) -> None:
        """Store a new wallet; ``Conflict`` if the user, the phone or the username already has one."""
        ...

    def get(self, user_id: str, *, lock: bool = False) -> Wallet | None: ...

    def by_phone(self, phone: str) -> Wallet | None:
        """The wallet of a phone in wire form (``2547…``)."""
        ...

    def by_username(self, username: str) -> Wallet | None: ...

    def username_lookalike_taken(self, username: str) -> bool:
        """Whether a wallet's username reads as ``username`` (the same ``usernames.skeleton``, review5 S1)."""
        ...

    def update(self, wallet: Wallet) -> None: ...

    def list(self, *, after: str | None, limit: int) -> list[Wallet]:
        """Wallets by user id, ascending, strictly after ``after``."""
        ...


class PhoneVerificationRepository(Protocol):
    def add(self, verification: PhoneVerification) -> None: ...

    def get(self, verification_id: str, *, lock: bool = False) -> PhoneVerification | None: ...

    def update(self, verification: PhoneVerification) -> None: ...


class TransferRepository(Protocol):
    def add(self, transfer: Transfer) -> None: ...

    def get(self, transfer_id: str, *, lock: bool = False) -> Transfer | None: ...

    def update(self, transfer: Transfer) -> None: ...

    def awaiting_claim(self, phone: str, *, lock: bool = False) -> list[Transfer]:
        """Transfers waiting for a wallet at ``phone``, oldest first; ``lock``: their rows locked until the
        transaction ends (a claim, so the expiry job's return of one of them waits and then finds it claimed)."""
        ...

    def awaiting_registered(self, *, after: str | None, limit: int) -> list[str]:
        """The user ids of the wallets whose phone has transfers waiting for it (sent before the number signed
        up, not claimed then), ascending, strictly after ``after``."""
        ...

    def claims_expiring(self, before: datetime, *, limit: int) -> list[Transfer]:
        """Transfers still awaiting a claim whose claim window ended before ``before``, oldest first."""
        ...

    def for_user(self, user_id: str, *, after: str | None, limit: int) -> list[Transfer]:
        """Transfers the user sent or received, newest first (by id, descending), strictly before ``after``."""
        ...

    def held(self, *, after: str | None, limit: int) -> list[Transfer]:
        """Transfers held for a frozen recipient that no officer decided yet, by id, strictly after ``after``."""
        ...


class BuyRepository(Protocol):
    def add(self, buy: Buy) -> None: ...

    def get(self, buy_id: str, *, lock: bool = False) -> Buy | None: ...

    def by_token(self, token_digest: str, *, lock: bool = False) -> Buy | None:
        """The buy whose STK callback URL carries the token with this digest."""
        ...

    def update(self, buy: Buy) -> None: ...

    def due_for_query(self, now: datetime, *, limit: int) -> list[Buy]:
        """Buys still requested or prompted whose ``next_query_at`` has passed, oldest first."""
        ...

    def for_user(self, user_id: str, *, after: str | None, limit: int) -> list[Buy]:
        """The user's buys, newest first (by id, descending), strictly before ``after``."""
        ...

    def open_for_user(self, user_id: str) -> list[Buy]:
        """The user's buys still requested or prompted (awaiting M-Pesa's answer), oldest first."""
        ...


class WalletQuoteRepository(Protocol):
    """Quotes claimed by wallet users, and by merchants for refunds (``cryptopay.core.wallets.quotes``): each used at
    most once."""

    def add(self, quote: WalletQuote) -> None:
        """Keep a new claim; ``Conflict`` if the quote was claimed already."""
        ...

    def get(self, quote_id: str) -> WalletQuote | None: ...

    def use(self, quote_id: str, *, owner_id: str, used_by: str, at: datetime) -> bool:
        """Mark ``owner_id``'s unused quote used by ``used_by`` at ``at``, in one atomic step: True if this call did;
        False if it was used already, is someone else's or is unknown. Of two transactions using one quote at once,
        one gets True and the other, once the first commits, False."""
        ...

    def prune(self, expired_before: datetime, *, limit: int) -> int:
        """Delete at most ``limit`` claims whose window ended before ``expired_before`` (used or not), the longest
        ended first; how many went."""
        ...


class UsageRepository(Protocol):
    def add(self, usage: Usage) -> None: ...

    def totals(self, user_id: str, *, day_start: datetime, month_start: datetime) -> dict[str, tuple[Money, Money]]:
        """Per product the user used this month: the KES sums since ``day_start`` and since ``month_start``."""
        ...

    def references(self, user_id: str, product: str, *, after: str | None, limit: int) -> list[str]:
        """The references (a bill's id, a sale's) of the user's uses of ``product``, newest first (the greatest
        reference first: ids are time-ordered), those below ``after`` when it is given."""
        ...

    def remove(self, user_id: str, product: str, reference: str) -> int:
        """Delete the user's uses of ``product`` recorded for ``reference`` (a held send an officer returned: it never
        reached its recipient, review7's last read); how many went."""
        ...

    def lock_receiving(self, user_id: str) -> None:
        """Hold ``user_id``'s receive lock until the transaction ends, waiting for it: whatever credits a wallet
        whose tier limits receiving (a claim, a crypto deposit) takes it before it reads what the wallet received,
        so two cannot both pass a limit that only one fits (a send takes it without waiting:
        ``SendRepository.received``). Take it after the wallet's row and before any ledger balance: the lock order
        in ``cryptopay.core.wallets.service``. Not the wallet's row lock (a send from that wallet takes that one)."""
        ...


@attrs.frozen
class SendingWallet:
    """What a send needs of its sender's wallet: that there is one (locked) and whether it is frozen. None of the
    wallet's personal data (its phone): an adapter that seals them has nothing to open for the sender.

    >>> SendingWallet.of(Wallet(user_id="usr_1", phone="254712345678", created_at=datetime(2026, 1, 1)))
    SendingWallet(user_id='usr_1', frozen=False)
    """

    user_id: str
    frozen: bool

    @classmethod
    def of(cls, wallet: Wallet) -> SendingWallet:
        return cls(wallet.user_id, wallet.frozen)


@attrs.frozen
class ReceivingWallet:
    """What a send needs of its recipient's wallet: whose it is, its phone (the transfer's ``recipient_phone``) and
    whether it is frozen; not when it was made, its username or why it was frozen.

    >>> ReceivingWallet.of(Wallet(user_id="usr_2", phone="254712345678", created_at=datetime(2026, 1, 1)))
    ReceivingWallet(user_id='usr_2', phone='254712345678', frozen=False)
    """

    user_id: str
    phone: str
    frozen: bool

    @classmethod
    def of(cls, wallet: Wallet) -> ReceivingWallet:
        return cls(wallet.user_id, wallet.phone, wallet.frozen)


@attrs.frozen
class SendParties:
    """What a P2P send reads before it moves money (``SendRepository.parties``): the sender's wallet (locked; only
    whether it is frozen), the recipient's (``ReceivingWallet``), the sender's KYC standing (``KycStanding``: what
    the limits read of its profile, as ``KycProfile.standing`` gives it) and the sender's usage per product (as
    ``UsageRepository.totals``); the recipient's KYC standing. Not what the recipient received: that counts only
    when its tier limits receiving, and then the send reads it under the recipient's receive lock
    (``SendRepository.received``)."""

    sender: SendingWallet | None
    recipient: ReceivingWallet | None
    profile: KycStanding | None
    usage: Mapping[str, tuple[Money, Money]]
    recipient_profile: KycStanding | None = None


class SendRepository(Protocol):
    """A P2P send's reads and writes, each in one call (the in-memory fake composes the other repositories)."""

    def parties(
        self,
        sender_id: str,
        *,
        phone: str | None,
        username: str | None,
        day_start: datetime,
        month_start: datetime,
        asset: Asset,
        ledger_keys: Sequence[str],
        ledger_codes: Sequence[str],
    ) -> SendParties:
        """The sender's wallet locked as by ``WalletRepository.get(lock=True)`` (nothing else is locked when it has
        none; ``SendingWallet``: whether it is frozen), the recipient's wallet by ``phone`` or else ``username``,
        the sender's KYC standing (``KycProfile.standing`` of its stored profile; not locked: the wallet's lock
        already queues the sender's movements) and usage totals, and the recipient's KYC standing (nothing of what
        the recipient received: a send to a recipient whose tier limits receiving reads that under its receive
        lock, ``received``; to any other it does not count).

        An adapter may also prepare the unit's ledger session for the posting that follows: read the idempotency
        ``ledger_keys`` and lock the balances of ``ledger_codes`` and of the recipient's ``asset`` wallet account,
        after the wallet and in code order, as ``LedgerSession.prefetch`` would (the SQL adapter does all of it
        in one statement)."""
        ...

    def record(
        self, transfer: Transfer, usage: Usage, journal: Sequence[Movement] = (), received: Usage | None = None
    ) -> None:
        """Store a new transfer and the usage it counts (as ``TransferRepository.add`` and ``UsageRepository.add``;
        ``received``: the recipient's, when it has a wallet),
        and journal ``journal``'s movements for AML monitoring (as the unit's ``MovementJournal.add``: a movement
        whose id is journaled already is skipped).

        An adapter may write them only when the unit commits (the SQL adapter sends them with the ledger's writes
        and the ``COMMIT``): reads in the same unit may not see them, and a taken id fails the commit with a
        ``TransientConflict`` (retried with fresh ids) instead of raising ``Conflict`` here."""
        ...

    def received(
        self, recipient_id: str, *, day_start: datetime, month_start: datetime
    ) -> Mapping[str, tuple[Money, Money]]:
        """The recipient's ``receive`` usage totals (as ``UsageRepository.totals`` gives them) read under its receive
        lock (``UsageRepository.lock_receiving``), which this call takes without waiting: after ``parties`` the send may
        hold ledger balances, and a claim or a deposit holding the receive lock may be waiting for one of them.
        ``TransientConflict`` when another transaction holds it (the send is retried, ``in_transaction``)."""
        ...


class WalletUsers(Protocol):
    """The users a wallet sign-up creates (``UserRepository`` offers these and more)."""

    def add(self, user: User) -> None: ...

    def get(self, user_id: str) -> User | None: ...

    def by_phone(self, phone: str) -> User | None: ...


class WalletUnitOfWork(UnitOfWork, Protocol):
    """One transaction over the wallet repositories, the users, KYC profiles, ledger, audit log and outbox."""

    @property
    def wallets(self) -> WalletRepository: ...

    @property
    def phone_verifications(self) -> PhoneVerificationRepository: ...

    @property
    def wallet_transfers(self) -> TransferRepository: ...

    @property
    def wallet_usage(self) -> UsageRepository: ...

    @property
    def wallet_buys(self) -> BuyRepository: ...

    @property
    def wallet_quotes(self) -> WalletQuoteRepository: ...

    @property
    def wallet_sends(self) -> SendRepository: ...

    @property
    def users(self) -> WalletUsers: ...

    @property
    def kyc(self) -> KycRepository: ...


class WalletUowFactory(Protocol):
    def __call__(self) -> AbstractContextManager[WalletUnitOfWork]: ...


class SellUnitOfWork(WalletUnitOfWork, Protocol):
    """The wallet repositories and the payouts in one transaction: a sale plans its B2C payout atomically."""

    @property
    def payouts(self) -> PayoutRepository: ...


class SellUowFactory(Protocol):
    def __call__(self) -> AbstractContextManager[SellUnitOfWork]: ...
