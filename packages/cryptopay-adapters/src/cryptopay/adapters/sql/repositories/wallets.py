"""Personal wallet repositories on SQL, offered by the unit of work (``uow.wallets``, ``uow.wallet_transfers``, ...).

``get(..., lock=True)`` locks the row (``FOR UPDATE`` on PostgreSQL). ``wallet_usage.totals`` sums a user's
month in one query (today's part with a ``CASE``), on the ``(user_id, at)`` index.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from cryptopay.adapters.sql.personal import PersonalFields
from cryptopay.adapters.sql.repositories._base import insert_new
from cryptopay.adapters.sql.repositories.payments import _Documents
from cryptopay.adapters.sql.tables_wallets import (
    phone_verifications,
    wallet_buys,
    wallet_transfers,
    wallet_usage,
    wallets,
)
from cryptopay.core.errors import Conflict
from cryptopay.core.money import KES, Money
from cryptopay.core.wallets.buys import Buy, BuyState
from cryptopay.core.wallets.model import PhoneVerification, Transfer, TransferState, Usage, Wallet
from sqlalchemy.engine import Connection

__all__ = ["SqlBuys", "SqlPhoneVerifications", "SqlTransfers", "SqlUsage", "SqlWallets"]


class SqlWallets(_Documents[Wallet]):
    """Wallets; the ``phone`` column holds the phone's keyed hash, the document the sealed phone."""

    cls, table, what = Wallet, wallets, "wallet"
    fields = PersonalFields("wallets", ("phone",))

    def _columns(self, item: Wallet) -> dict[str, Any]:
        return {"id": item.user_id, "phone": self._personal.lookup(item.phone), "username": item.username}

    def add(self, wallet: Wallet) -> None:
        self._insert(wallet, "this user, phone number or username already has a wallet")

    def get(self, user_id: str, *, lock: bool = False) -> Wallet | None:
        return self._one(wallets.c.id == user_id, lock=lock)

    def by_phone(self, phone: str) -> Wallet | None:
        return self._one(wallets.c.phone == self._personal.lookup(phone))

    def by_username(self, username: str) -> Wallet | None:
        return self._one(wallets.c.username == username)

    def update(self, wallet: Wallet) -> None:
        self._update(wallet)

    def list(self, *, after: str | None, limit: int) -> list[Wallet]:
        where = () if after is None else (wallets.c.id > after,)
        return self._select(*where, limit=limit)


class SqlPhoneVerifications(_Documents[PhoneVerification]):
    cls, table, what = PhoneVerification, phone_verifications, "phone verification"
    fields = PersonalFields("phone_verifications", ("phone",))

    def _columns(self, item: PhoneVerification) -> dict[str, Any]:
        return {"id": item.id, "phone": self._personal.lookup(item.phone)}

    def add(self, verification: PhoneVerification) -> None:
        self._insert(verification)

    def get(self, verification_id: str, *, lock: bool = False) -> PhoneVerification | None:
        return self._one(phone_verifications.c.id == verification_id, lock=lock)

    def update(self, verification: PhoneVerification) -> None:
        self._update(verification)


class SqlTransfers(_Documents[Transfer]):
    cls, table, what = Transfer, wallet_transfers, "transfer"
    fields = PersonalFields("wallet_transfers", ("recipient_phone",))

    def _columns(self, item: Transfer) -> dict[str, Any]:
        return {
            "id": item.id,
            "sender_id": item.sender_id,
            "recipient_id": item.recipient_id,
            "recipient_phone": self._personal.lookup(item.recipient_phone),
            "state": item.state.value,
            "claim_expires_at": item.claim_expires_at,
        }

    def add(self, transfer: Transfer) -> None:
        self._insert(transfer)

    def get(self, transfer_id: str, *, lock: bool = False) -> Transfer | None:
        return self._one(wallet_transfers.c.id == transfer_id, lock=lock)

    def update(self, transfer: Transfer) -> None:
        self._update(transfer)

    def awaiting_claim(self, phone: str) -> list[Transfer]:
        where = (
            wallet_transfers.c.state == TransferState.AWAITING_CLAIM.value,
            wallet_transfers.c.recipient_phone == self._personal.lookup(phone),
        )
        return sorted(self._select(*where), key=lambda t: (t.created_at, t.id))

    def claims_expiring(self, before: datetime, *, limit: int) -> list[Transfer]:
        t = wallet_transfers.c
        where = (t.state == TransferState.AWAITING_CLAIM.value, t.claim_expires_at < before)
        return self._select(*where, order=("claim_expires_at", "id"), limit=limit)

    def for_user(self, user_id: str, *, after: str | None, limit: int) -> list[Transfer]:
        t = wallet_transfers.c
        mine = sa.or_(t.sender_id == user_id, t.recipient_id == user_id)
        where = (mine,) if after is None else (mine, t.id < after)
        return self._items(sa.select(t.id, t.doc).where(*where).order_by(t.id.desc()).limit(limit))


class SqlBuys(_Documents[Buy]):
    cls, table, what = Buy, wallet_buys, "buy"
    fields = PersonalFields("wallet_buys", ("phone",))

    def _columns(self, item: Buy) -> dict[str, Any]:
        return {
            "id": item.id,
            "user_id": item.user_id,
            "token_digest": item.token_digest,
            "state": item.state.value,
            "next_query_at": item.next_query_at,
        }

    def add(self, buy: Buy) -> None:
        self._insert(buy)

    def get(self, buy_id: str, *, lock: bool = False) -> Buy | None:
        return self._one(wallet_buys.c.id == buy_id, lock=lock)

    def by_token(self, token_digest: str, *, lock: bool = False) -> Buy | None:
        return self._one(wallet_buys.c.token_digest == token_digest, lock=lock)

    def update(self, buy: Buy) -> None:
        self._update(buy)

    def due_for_query(self, now: datetime, *, limit: int) -> list[Buy]:
        b = wallet_buys.c
        where = (b.state.in_([BuyState.REQUESTED.value, BuyState.PROMPTED.value]), b.next_query_at <= now)
        return self._select(*where, order=("next_query_at", "id"), limit=limit)

    def for_user(self, user_id: str, *, after: str | None, limit: int) -> list[Buy]:
        b = wallet_buys.c
        where = (b.user_id == user_id,) if after is None else (b.user_id == user_id, b.id < after)
        return self._items(sa.select(b.id, b.doc).where(*where).order_by(b.id.desc()).limit(limit))


class SqlUsage:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, usage: Usage) -> None:
        row = {
            "id": usage.id,
            "user_id": usage.user_id,
            "product": usage.product,
            "kes_value": usage.kes_value.amount,
            "asset": usage.kes_value.asset.code,
            "at": usage.at,
            "reference": usage.reference,
        }
        if not insert_new(self._conn, wallet_usage, row):
            raise Conflict(f"usage {usage.id} exists")

    def totals(self, user_id: str, *, day_start: datetime, month_start: datetime) -> dict[str, tuple[Money, Money]]:
        u = wallet_usage.c
        if self._conn.dialect.name != "postgresql":  # SQLite would SUM the decimal strings as floats: add them here
            rows = self._conn.execute(
                sa.select(u.product, u.at, u.kes_value).where(u.user_id == user_id, u.at >= month_start)
            )
            sums: dict[str, tuple[Money, Money]] = {}
            for product, at, value in rows:
                day, month = sums.get(product, (_kes(None), _kes(None)))
                sums[product] = (day + _kes(value) if at >= day_start else day, month + _kes(value))
            return sums
        today = sa.func.sum(sa.case((u.at >= day_start, u.kes_value), else_=None))
        query = (
            sa.select(u.product, today, sa.func.sum(u.kes_value))
            .where(u.user_id == user_id, u.at >= month_start)
            .group_by(u.product)
        )
        return {product: (_kes(day), _kes(month)) for product, day, month in self._conn.execute(query)}

    def references(self, user_id: str, product: str, *, after: str | None, limit: int) -> list[str]:
        u = wallet_usage.c
        query = sa.select(u.reference).where(u.user_id == user_id, u.product == product).distinct()
        if after is not None:
            query = query.where(u.reference < after)
        return list(self._conn.scalars(query.order_by(u.reference.desc()).limit(limit)))


def _kes(value: Any) -> Money:
    return Money.of(value if isinstance(value, Decimal) else Decimal(0), KES)
