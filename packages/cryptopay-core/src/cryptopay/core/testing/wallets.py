"""In-memory wallet repositories: the reference behaviour of ``cryptopay.core.ports.wallets``.

Used inside ``InMemoryStorage(wallets=..., phone_verifications=..., wallet_transfers=..., wallet_usage=...)``,
whose unit of work snapshots and restores them (and offers ``wallet_sends``, an ``InMemorySends`` over them, unless
given one); they hand out copies.

>>> from datetime import datetime, timezone
>>> wallets = InMemoryWallets()
>>> wallets.add(Wallet(user_id="usr_1", phone="254712345678", created_at=datetime(2026, 3, 2, tzinfo=timezone.utc)))
>>> wallets.by_phone("254712345678").user_id
'usr_1'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs
from cryptopay.core.compliance.rules import Movement
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.kyc import Product
from cryptopay.core.money import KES, Asset, Money
from cryptopay.core.ports.compliance import MovementJournal
from cryptopay.core.ports.kyc import KycRepository
from cryptopay.core.ports.wallets import ReceivingWallet, SendingWallet, SendParties
from cryptopay.core.wallets.buys import Buy, BuyState
from cryptopay.core.wallets.model import PhoneVerification, Transfer, TransferState, Usage, Wallet
from cryptopay.core.wallets.quotes import WalletQuote
from cryptopay.core.wallets.usernames import skeleton

__all__ = [
    "InMemoryBuys",
    "InMemoryPhoneVerifications",
    "InMemorySends",
    "InMemoryTransfers",
    "InMemoryUsage",
    "InMemoryWalletQuotes",
    "InMemoryWallets",
]


class InMemoryWallets:
    def __init__(self) -> None:
        self._rows: dict[str, Wallet] = {}

    def add(self, wallet: Wallet) -> None:
        if wallet.user_id in self._rows or self.by_phone(wallet.phone) is not None:
            raise Conflict("this user or phone number already has a wallet", field="phone")
        if wallet.username is not None and self.by_username(wallet.username) is not None:
            raise Conflict("this username is taken", field="username")
        if wallet.username is not None and self.username_lookalike_taken(wallet.username):
            raise Conflict("this user, phone number or username already has a wallet")  # the SQL index's answer
        self._rows[wallet.user_id] = attrs.evolve(wallet)

    def get(self, user_id: str, *, lock: bool = False) -> Wallet | None:
        row = self._rows.get(user_id)
        return attrs.evolve(row) if row else None

    def by_phone(self, phone: str) -> Wallet | None:
        return next((attrs.evolve(w) for w in self._rows.values() if w.phone == phone), None)

    def by_username(self, username: str) -> Wallet | None:
        return next((attrs.evolve(w) for w in self._rows.values() if w.username == username), None)

    def username_lookalike_taken(self, username: str) -> bool:
        folded = skeleton(username)
        return any(w.username is not None and skeleton(w.username) == folded for w in self._rows.values())

    def update(self, wallet: Wallet) -> None:
        if wallet.user_id not in self._rows:
            raise NotFound(f"{wallet.user_id} has no wallet")
        self._rows[wallet.user_id] = attrs.evolve(wallet)

    def list(self, *, after: str | None, limit: int) -> list[Wallet]:
        keys = sorted(k for k in self._rows if after is None or k > after)[:limit]
        return [attrs.evolve(self._rows[k]) for k in keys]


class InMemoryPhoneVerifications:
    def __init__(self) -> None:
        self._rows: dict[str, PhoneVerification] = {}

    def add(self, verification: PhoneVerification) -> None:
        if verification.id in self._rows:
            raise Conflict(f"phone verification {verification.id} exists")
        self._rows[verification.id] = attrs.evolve(verification)

    def get(self, verification_id: str, *, lock: bool = False) -> PhoneVerification | None:
        row = self._rows.get(verification_id)
        return attrs.evolve(row) if row else None

    def update(self, verification: PhoneVerification) -> None:
        if verification.id not in self._rows:
            raise NotFound(f"no phone verification {verification.id}")
        self._rows[verification.id] = attrs.evolve(verification)


class InMemoryTransfers:
    """Transfers; ``wallets`` (the storage's own) lets ``awaiting_registered`` find whose phone has a wallet."""

    def __init__(self, wallets: InMemoryWallets | None = None) -> None:
        self._rows: dict[str, Transfer] = {}
        self._wallets = wallets

    def add(self, transfer: Transfer) -> None:
        if transfer.id in self._rows:
            raise Conflict(f"transfer {transfer.id} exists")
        self._rows[transfer.id] = attrs.evolve(transfer)

    def get(self, transfer_id: str, *, lock: bool = False) -> Transfer | None:
        row = self._rows.get(transfer_id)
        return attrs.evolve(row) if row else None

    def update(self, transfer: Transfer) -> None:
        if transfer.id not in self._rows:
            raise NotFound(f"no transfer {transfer.id}")
        self._rows[transfer.id] = attrs.evolve(transfer)

    def awaiting_claim(self, phone: str, *, lock: bool = False) -> list[Transfer]:
        found = [
            t for t in self._rows.values() if t.state is TransferState.AWAITING_CLAIM and t.recipient_phone == phone
        ]
        return [attrs.evolve(t) for t in sorted(found, key=lambda t: (t.created_at, t.id))]

    def awaiting_registered(self, *, after: str | None, limit: int) -> list[str]:
        if self._wallets is None:
            raise RuntimeError("these transfers were not given the storage's wallets")
        phones = {t.recipient_phone for t in self._rows.values() if t.state is TransferState.AWAITING_CLAIM}
        found = {w.user_id for p in phones if (w := self._wallets.by_phone(p)) is not None}
        return sorted(u for u in found if after is None or u > after)[:limit]

    def claims_expiring(self, before: datetime, *, limit: int) -> list[Transfer]:
        found = [
            t
            for t in self._rows.values()
            if t.state is TransferState.AWAITING_CLAIM
            and t.claim_expires_at is not None
            and t.claim_expires_at < before
        ]
        return [attrs.evolve(t) for t in sorted(found, key=lambda t: (t.claim_expires_at, t.id))[:limit]]

    def for_user(self, user_id: str, *, after: str | None, limit: int) -> list[Transfer]:
        mine = [t for t in self._rows.values() if user_id in (t.sender_id, t.recipient_id)]
        ordered = sorted((t for t in mine if after is None or t.id < after), key=lambda t: t.id, reverse=True)
        return [attrs.evolve(t) for t in ordered[:limit]]

    def held(self, *, after: str | None, limit: int) -> list[Transfer]:
        held = [t for t in self._rows.values() if t.state is TransferState.HELD and (after is None or t.id > after)]
        return [attrs.evolve(t) for t in sorted(held, key=lambda t: t.id)[:limit]]


class InMemoryUsage:
    def __init__(self) -> None:
        self._rows: dict[str, Usage] = {}

    def add(self, usage: Usage) -> None:
        if usage.id in self._rows:
            raise Conflict(f"usage {usage.id} exists")
        self._rows[usage.id] = usage

    def totals(self, user_id: str, *, day_start: datetime, month_start: datetime) -> dict[str, tuple[Money, Money]]:
        sums: dict[str, tuple[Money, Money]] = {}
        for u in self._rows.values():
            if u.user_id != user_id or u.at < month_start:
                continue
            today, month = sums.get(u.product, (Money.zero(KES), Money.zero(KES)))
            sums[u.product] = (today + u.kes_value if u.at >= day_start else today, month + u.kes_value)
        return sums

    def references(self, user_id: str, product: str, *, after: str | None, limit: int) -> list[str]:
        mine = {u.reference for u in self._rows.values() if (u.user_id, u.product) == (user_id, product)}
        return sorted((r for r in mine if after is None or r < after), reverse=True)[:limit]

    def remove(self, user_id: str, product: str, reference: str) -> int:
        gone = [
            k for k, u in self._rows.items() if (u.user_id, u.product, u.reference) == (user_id, product, reference)
        ]
        for key in gone:
            del self._rows[key]
        return len(gone)

    def lock_receiving(self, user_id: str) -> None:
        """Nothing to take: the storage's lock already runs one unit of work at a time."""


class InMemoryBuys:
    def __init__(self) -> None:
        self._rows: dict[str, Buy] = {}

    def add(self, buy: Buy) -> None:
        if buy.id in self._rows or self.by_token(buy.token_digest) is not None:
            raise Conflict(f"buy {buy.id} exists")
        self._rows[buy.id] = attrs.evolve(buy)

    def get(self, buy_id: str, *, lock: bool = False) -> Buy | None:
        row = self._rows.get(buy_id)
        return attrs.evolve(row) if row else None

    def by_token(self, token_digest: str, *, lock: bool = False) -> Buy | None:
        return next((attrs.evolve(b) for b in self._rows.values() if b.token_digest == token_digest), None)

    def update(self, buy: Buy) -> None:
        if buy.id not in self._rows:
            raise NotFound(f"no buy {buy.id}")
        self._rows[buy.id] = attrs.evolve(buy)

    def due_for_query(self, now: datetime, *, limit: int) -> list[Buy]:
        open_states = (BuyState.REQUESTED, BuyState.PROMPTED)
        due = [b for b in self._rows.values() if b.state in open_states and b.next_query_at <= now]
        return [attrs.evolve(b) for b in sorted(due, key=lambda b: (b.next_query_at, b.id))[:limit]]

    def for_user(self, user_id: str, *, after: str | None, limit: int) -> list[Buy]:
        mine = [b for b in self._rows.values() if b.user_id == user_id and (after is None or b.id < after)]
        return [attrs.evolve(b) for b in sorted(mine, key=lambda b: b.id, reverse=True)[:limit]]

    def open_for_user(self, user_id: str) -> list[Buy]:
        mine = [b for b in self._rows.values() if b.user_id == user_id and b.open]
        return [attrs.evolve(b) for b in sorted(mine, key=lambda b: b.id)]


class InMemoryWalletQuotes:
    """Claims by quote id; the storage's lock makes ``use`` atomic."""

    def __init__(self) -> None:
        self._rows: dict[str, WalletQuote] = {}

    def add(self, quote: WalletQuote) -> None:
        if quote.quote_id in self._rows:
            raise Conflict(f"quote {quote.quote_id} is claimed already")
        self._rows[quote.quote_id] = quote

    def get(self, quote_id: str) -> WalletQuote | None:
        return self._rows.get(quote_id)

    def use(self, quote_id: str, *, owner_id: str, used_by: str, at: datetime) -> bool:
        found = self._rows.get(quote_id)
        if found is None or found.owner_id != owner_id or found.used_by is not None:
            return False
        self._rows[quote_id] = attrs.evolve(found, used_by=used_by, used_at=at)
        return True

    def prune(self, expired_before: datetime, *, limit: int) -> int:
        ended = sorted((q for q in self._rows.values() if q.expires_at < expired_before), key=lambda q: q.expires_at)
        for quote in ended[:limit]:
            del self._rows[quote.quote_id]
        return len(ended[:limit])


class InMemorySends:
    """``SendRepository`` over the other in-memory repositories (give it the same objects the storage holds: its
    unit of work snapshots them together; ``journal`` is the storage's movement journal, if it has one). It prepares
    nothing in the ledger: the ledger session reads for itself.
    """

    def __init__(
        self,
        wallets: InMemoryWallets,
        kyc: KycRepository,
        usage: InMemoryUsage,
        transfers: InMemoryTransfers,
        journal: MovementJournal | None = None,
    ) -> None:
        self._wallets, self._kyc, self._usage, self._transfers = wallets, kyc, usage, transfers
        self._journal = journal

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
        sender = self._wallets.get(sender_id, lock=True)
        recipient = self._wallets.by_phone(phone) if phone else self._wallets.by_username(username or "")
        profile = self._kyc.get(sender_id)
        usage = self._usage.totals(sender_id, day_start=day_start, month_start=month_start)
        recipient_profile = None if recipient is None else self._kyc.get(recipient.user_id)
        sending = None if sender is None else SendingWallet.of(sender)
        standing = None if profile is None else profile.standing()
        recipient_standing = None if recipient_profile is None else recipient_profile.standing()
        receiving = None if recipient is None else ReceivingWallet.of(recipient)
        return SendParties(sending, receiving, standing, usage, recipient_standing)

    def received(
        self, recipient_id: str, *, day_start: datetime, month_start: datetime
    ) -> dict[str, tuple[Money, Money]]:
        """Read again (the storage's lock already runs one unit of work at a time: there is nothing to take)."""
        totals = self._usage.totals(recipient_id, day_start=day_start, month_start=month_start)
        return {name: sums for name, sums in totals.items() if name == Product.RECEIVE.value}

    def record(
        self, transfer: Transfer, usage: Usage, journal: Sequence[Movement] = (), received: Usage | None = None
    ) -> None:
        movements = self._journal
        if journal and movements is None:
            raise RuntimeError("this storage has no movement journal")
        self._transfers.add(transfer)
        self._usage.add(usage)
        if received is not None:
            self._usage.add(received)
        for movement in journal:
            movements.add(movement)  # type: ignore[union-attr]  # not None: checked above
