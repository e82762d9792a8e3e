"""Personal wallet repositories on SQL, offered by the unit of work (``uow.wallets``, ``uow.wallet_transfers``, ...).

``get(..., lock=True)`` locks the row (``FOR UPDATE`` on PostgreSQL). ``wallet_usage.totals`` sums a user's
month in one query (today's part with a ``CASE``), on the ``(user_id, at)`` index.

``uow.wallet_sends`` (``SqlSends``) is a P2P send in two round trips on PostgreSQL (with psycopg): ``parties``
is one statement, sent with the transaction's ``BEGIN``, that locks the sender's wallet, finds the recipient, reads
both parties' KYC standing (``KycStanding``: the profile's columns, its evidence and whether it is frozen; not the
profile, nor its sealed fields) and their usage, and (after the wallet, in code order) locks the ledger balances
the entry will move and reads its idempotency key into the unit's ledger session; ``record`` queues the transfer,
usage and journal rows as one statement that also makes the ledger's writes (given their rows at commit), sent with
the ``COMMIT``. Both are prepared statements: when the unit has sent nothing yet, the read begins a transaction the
driver owns (``SqlUnitOfWork.begin_prepared``) and each round trip is one simple query (``BEGIN; SET LOCAL ...;
EXECUTE read``, then ``EXECUTE write; COMMIT``);
inside a transaction already under way the read is pipelined and the write goes in the commit's pipeline. Elsewhere
(SQLite) it calls the other repositories.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import sqlalchemy as sa
from cryptopay.adapters.sql.errors import pipelined
from cryptopay.adapters.sql.ledger_flush import NO_WRITES, WRITE_ARRAY_TYPES, WRITE_CTES, rows_literal
from cryptopay.adapters.sql.ledger_store import SqlLedgerSession
from cryptopay.adapters.sql.personal import PersonalData, PersonalFields
from cryptopay.adapters.sql.prepared import Statement
from cryptopay.adapters.sql.repositories._base import advisory_locks, insert_new, lock_key, update_one
from cryptopay.adapters.sql.repositories.compliance import SqlMovementJournal, movement_row
from cryptopay.adapters.sql.repositories.kyc_fees import SqlKycProfiles
from cryptopay.adapters.sql.repositories.payments import _Documents
from cryptopay.adapters.sql.tables_wallets import (
    phone_verifications,
    wallet_buys,
    wallet_quotes,
    wallet_transfers,
    wallet_usage,
    wallets,
)
from cryptopay.adapters.sql.types import document_text
from cryptopay.core.compliance.rules import Movement
from cryptopay.core.errors import Conflict, TransientConflict
from cryptopay.core.flows import wallet_account
from cryptopay.core.kyc import KycProfile, KycStanding, PartyKind, Product, Requirement
from cryptopay.core.money import KES, Asset, Money
from cryptopay.core.ports.wallets import ReceivingWallet, SendingWallet, SendParties
from cryptopay.core.wallets.buys import Buy, BuyState
from cryptopay.core.wallets.model import PhoneVerification, Transfer, TransferState, Usage, Wallet
from cryptopay.core.wallets.quotes import QuotePurpose, WalletQuote
from cryptopay.core.wallets.usernames import skeleton
from psycopg.rows import dict_row
from sqlalchemy.engine import Connection

__all__ = [
    "SqlBuys",
    "SqlPhoneVerifications",
    "SqlSends",
    "SqlTransfers",
    "SqlUsage",
    "SqlWalletQuotes",
    "SqlWallets",
]


class SqlWallets(_Documents[Wallet]):
    """Wallets; the ``phone`` column holds the phone's keyed hash, the document the sealed phone."""

    cls, table, what = Wallet, wallets, "wallet"
    fields = PersonalFields("wallets", ("phone",))

    def open_phone(self, user_id: str, stored: str) -> str:
        """The phone of a wallet document's ``phone`` field as stored (sealed, or in the clear on an old row)."""
        opened: str = self.fields.open({"phone": stored}, user_id, self._personal)["phone"]
        return opened

    def _columns(self, item: Wallet) -> dict[str, Any]:
        folded = skeleton(item.username) if item.username else None
        return {
            "id": item.user_id,
            "phone": self._personal.lookup(item.phone),
            "username": item.username,
            "username_skeleton": folded,
        }

    def add(self, wallet: Wallet) -> None:
        self._insert(wallet, "this user, phone number or username already has a wallet")

    def get(self, user_id: str, *, lock: bool = False) -> Wallet | None:
        return self._one(wallets.c.id == user_id, lock=lock)

    def by_phone(self, phone: str) -> Wallet | None:
        return self._one(wallets.c.phone == self.phone_key(phone))

    def phone_key(self, phone: str) -> str:
        """What the ``phone`` column holds for ``phone`` (its keyed hash; the phone itself without keys)."""
        return self._personal.lookup(phone)

    def by_username(self, username: str) -> Wallet | None:
        return self._one(wallets.c.username == username)

    def username_lookalike_taken(self, username: str) -> bool:
        found = self._conn.execute(
            sa.select(wallets.c.id).where(wallets.c.username_skeleton == skeleton(username)).limit(1)
        ).first()
        return found is not None

    def update(self, wallet: Wallet) -> None:
        # the username's skeleton is written at sign-up only (a username never changes): a younger look-alike kept
        # by migration 0138 has none and keeps none, so updating it never trips the unique index
        row = {k: v for k, v in self._row(wallet).items() if k != "username_skeleton"}
        update_one(self._conn, wallets, wallets.c.id == row["id"], row, missing=f"no wallet {row['id']} to update")

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


# The claims index is partial (``WHERE state = 'awaiting_claim'``, migration 0090): the state is written into the
# statement as a literal, so a cached generic plan (psycopg prepares a statement run five times) can use it too.
_AWAITING_CLAIM = wallet_transfers.c.state == sa.literal_column(f"'{TransferState.AWAITING_CLAIM.value}'")


class SqlTransfers(_Documents[Transfer]):
    """Transfers; the ``recipient_phone`` column holds the phone's keyed hash (``phone_key``: how it is made, the
    vault's ``lookup`` unless the caller has it already), the document the sealed phone."""

    cls, table, what = Transfer, wallet_transfers, "transfer"
    fields = PersonalFields("wallet_transfers", ("recipient_phone",))

    def __init__(
        self,
        conn: Connection,
        *,
        locking: bool = True,
        personal: PersonalData | None = None,
        phone_key: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(conn, locking=locking, personal=personal)
        self._phone_key = phone_key or self._personal.lookup

    def _columns(self, item: Transfer) -> dict[str, Any]:
        return {
            "id": item.id,
            "sender_id": item.sender_id,
            "recipient_id": item.recipient_id,
            "recipient_phone": self._phone_key(item.recipient_phone),
            "state": item.state.value,
            "claim_expires_at": item.claim_expires_at,
        }

    def add(self, transfer: Transfer) -> None:
        self._insert(transfer)

    def get(self, transfer_id: str, *, lock: bool = False) -> Transfer | None:
        return self._one(wallet_transfers.c.id == transfer_id, lock=lock)

    def update(self, transfer: Transfer) -> None:
        self._update(transfer)

    def awaiting_claim(self, phone: str, *, lock: bool = False) -> list[Transfer]:
        where = (_AWAITING_CLAIM, wallet_transfers.c.recipient_phone == self._personal.lookup(phone))
        return sorted(self._select(*where, order=("id",), lock=lock), key=lambda t: (t.created_at, t.id))

    def awaiting_registered(self, *, after: str | None, limit: int) -> list[str]:
        t, w = wallet_transfers.c, wallets.c
        query = (
            sa.select(w.id)
            .join_from(wallet_transfers, wallets, w.phone == t.recipient_phone)
            .where(_AWAITING_CLAIM)
            .distinct()
        )
        if after is not None:
            query = query.where(w.id > after)
        return list(self._conn.scalars(query.order_by(w.id).limit(limit)))

    def claims_expiring(self, before: datetime, *, limit: int) -> list[Transfer]:
        t = wallet_transfers.c
        where = (_AWAITING_CLAIM, t.claim_expires_at < before)
        return self._select(*where, order=("claim_expires_at", "id"), limit=limit)

    def for_user(self, user_id: str, *, after: str | None, limit: int) -> list[Transfer]:
        t = wallet_transfers.c
        mine = sa.or_(t.sender_id == user_id, t.recipient_id == user_id)
        where = (mine,) if after is None else (mine, t.id < after)
        return self._items(sa.select(t.id, t.doc).where(*where).order_by(t.id.desc()).limit(limit))

    def held(self, *, after: str | None, limit: int) -> list[Transfer]:
        t = wallet_transfers.c  # the partial index of held rows (migration 0175): the state as a literal
        where = [t.state == sa.literal_column(f"'{TransferState.HELD.value}'")] + ([t.id > after] if after else [])
        return self._select(*where, order=("id",), limit=limit)


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

    def open_for_user(self, user_id: str) -> list[Buy]:
        b = wallet_buys.c  # the user's rows by the (user_id, id) index, the open ones among them
        where = (b.user_id == user_id, b.state.in_([BuyState.REQUESTED.value, BuyState.PROMPTED.value]))
        return self._items(sa.select(b.id, b.doc).where(*where).order_by(b.id))


class SqlWalletQuotes:
    """Wallet quote claims; ``use`` is one conditional ``UPDATE ... RETURNING``: of two transactions using one
    quote, the second waits for the first's row lock and then matches nothing (PostgreSQL), or waits for its write
    lock (SQLite)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, quote: WalletQuote) -> None:
        row = {
            "quote_id": quote.quote_id,
            "owner_id": quote.owner_id,
            "purpose": quote.purpose.value,
            "locked_at": quote.locked_at,
            "expires_at": quote.expires_at,
            "used_by": quote.used_by,
            "used_at": quote.used_at,
        }
        if not insert_new(self._conn, wallet_quotes, row):
            raise Conflict(f"quote {quote.quote_id} is claimed already")

    def get(self, quote_id: str) -> WalletQuote | None:
        row = self._conn.execute(sa.select(wallet_quotes).where(wallet_quotes.c.quote_id == quote_id)).first()
        if row is None:
            return None
        m = row._mapping
        return WalletQuote(
            quote_id=m["quote_id"],
            owner_id=m["owner_id"],
            purpose=QuotePurpose(m["purpose"]),
            locked_at=m["locked_at"],
            expires_at=m["expires_at"],
            used_by=m["used_by"],
            used_at=m["used_at"],
        )

    def use(self, quote_id: str, *, owner_id: str, used_by: str, at: datetime) -> bool:
        q = wallet_quotes.c
        statement = (
            wallet_quotes.update()
            .where(q.quote_id == quote_id, q.owner_id == owner_id, q.used_by.is_(None))
            .values(used_by=used_by, used_at=at)
            .returning(q.quote_id)
        )
        return self._conn.execute(statement).first() is not None

    def prune(self, expired_before: datetime, *, limit: int) -> int:
        q = wallet_quotes.c
        batch = sa.select(q.quote_id).where(q.expires_at < expired_before).order_by(q.expires_at).limit(limit)
        statement = wallet_quotes.delete().where(q.quote_id.in_(batch.scalar_subquery())).returning(q.quote_id)
        return len(self._conn.execute(statement).all())  # RETURNING: rowcount is not reliable through every driver


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

    def remove(self, user_id: str, product: str, reference: str) -> int:
        u = wallet_usage.c
        gone = sa.delete(wallet_usage).where(u.user_id == user_id, u.product == product, u.reference == reference)
        return int(self._conn.execute(gone).rowcount)

    def lock_receiving(self, user_id: str) -> None:
        """A transaction-level advisory lock on the user id (PostgreSQL; released at commit or rollback). SQLite
        needs none: a writer's ``BEGIN IMMEDIATE`` already serialises every writer."""
        if self._conn.dialect.name == "postgresql":
            advisory_locks(self._conn, _RECEIVE_LOCKS, user_id)


# What wallets receive, by user id (advisory_locks; each transaction takes at most one receive lock). A send tries
# the same lock (lock_key) and is a transient conflict when it is held.
_RECEIVE_LOCKS = 0x52454356  # "RECV"
_TRY_RECEIVE_LOCK = "SELECT pg_try_advisory_xact_lock(%(space)s, %(key)s)"


def _kes(value: Any) -> Money:
    return Money.of(value if isinstance(value, Decimal) else Decimal(0), KES)


def _standing(row: Mapping[str, Any]) -> KycStanding:
    """A ``p`` or ``q`` row of the send's read: the party's KYC standing from the profile's columns and the two
    things of its document the limits read (evidence, and whether it is frozen), as ``KycProfile.standing`` gives
    it, without structuring the profile or opening its sealed fields."""
    return KycStanding(
        party_id=row["code"],
        kind=_PARTY_KINDS.get(row["t1"]) or PartyKind(row["t1"]),
        level=row["level"],
        expires_at=row["expires_at"],
        evidence=frozenset([_REQUIREMENTS.get(value) or Requirement(value) for value in row["evidence"]]),
        frozen=row["b"],
    )


# Members by value, a dictionary look-up (an Enum's call by value costs about a microsecond); an unknown value
# still goes to the Enum, which refuses it as before.
_PARTY_KINDS = {kind.value: kind for kind in PartyKind}
_REQUIREMENTS = {requirement.value: requirement for requirement in Requirement}


def _prefetch_shaped(row: Mapping[str, Any]) -> dict[str, Any]:
    """An ``a`` or ``k`` row of the send's read in the ledger prefetch's shape (``SqlLedgerSession.take_prefetched``):
    an account's balance row, or an idempotency record."""
    if row["kind"] == "a":
        return {
            "kind": "a",
            "code": row["code"],
            "account_kind": row["t1"],
            "asset": row["t2"],
            "allow_negative": row["b"],
            "debits_posted": row["n1"],
            "credits_posted": row["n2"],
            "debits_pending": row["n3"],
            "credits_pending": row["n4"],
        }
    return {
        "kind": "k",
        "code": row["code"],
        "request_hash": row["t1"],
        "result_kind": row["t2"],
        "result_id": row["t3"],
    }


def _standing_of(profile: KycProfile | None) -> KycStanding | None:
    return None if profile is None else profile.standing()


# A P2P send's reads in one statement. The sender's wallet is locked first (a materialised CTE, read by the first
# branch of the UNION ALL, which PostgreSQL runs in order), then the ledger balances in code order, and only when
# the sender has a wallet (the one-time EXISTS filter): the lock order every wallet movement takes (wallet row, then
# accounts sorted by code), so sends, buys, sells and bills queue rather than deadlock. What the recipient received is
# not read here: it counts only when the recipient's tier limits receiving, and then it is read under the recipient's
# receive lock (``received``), tried and never waited for, since this statement holds the balances by then. The
# recipient's account code is built as ``flows.wallet_account`` builds it (its prefix and suffix around the user id
# are parameters). Every kind of row shares 13 columns, each kind using those it needs: ``t1`` the recipient's
# stored document's phone (``r``), a profile's kind (``p``, ``q``), an account's kind (``a``) or a key's request hash
# (``k``); ``t2``/``t3`` an account's asset, a key's result kind and id; ``n1``..``n4`` the usage's day and month
# sums (``u``) or an account's four balance columns (``a``); ``b`` frozen (``s``, ``r``, ``p``, ``q``) or an
# account's ``allow_negative``; ``level``, ``expires_at`` and ``evidence`` a profile's. The executor builds a
# projection and a tuple descriptor for every column of every branch at each execution, so the 20 columns this
# statement had (one per field, NULL elsewhere) cost the server 0.107M instructions per send more than these 13
# (callgrind, one backend). The ``a`` and ``k`` rows go to the ledger in its prefetch's shape (``_prefetch_shaped``,
# ``SqlLedgerSession.take_prefetched``). The documents are read as ``jsonb``, each parsed once (a profile's in a
# ``LATERAL ... OFFSET 0``, which the planner keeps as one evaluation per row): a ``json`` value is parsed again by
# every operator applied to it (validated by the cast, then read by each ``->``/``->>``), five parses per profile.
# Accounts and idempotency keys are each found by an index probe (``LATERAL ... LIMIT 1``, which the planner cannot
# turn into a join): planned as a join, a fresh or growing table's statistics made it a hash join over a sequential
# scan of every account and every key (1.1 ms of server CPU per send at 3,000 accounts, growing with the keys). The
# transaction takes the cached generic plan of its statements (``_GENERIC_PLANS``, sent with the ``BEGIN``): their
# plans do not depend on the values, and PostgreSQL otherwise re-plans this statement at every send (custom plans
# look cheaper to it, knowing the arrays' lengths), 0.5 ms of server CPU each time.
# The sender's wallet is locked by a statement of its own just before (``_LOCK``, same round trip), not only by this
# one (review5 S4): in READ COMMITTED a statement reads with the snapshot taken when it began, so had this one waited
# for another movement of the wallet (or begun before that movement committed), its usage rows would miss that
# movement's and two sends would each pass a limit (KYC, the step-up allowance) only one fits. Each statement of a
# query takes its own snapshot: this one's is taken once the lock is held.
_SEND_READ = """
WITH sender AS MATERIALIZED (
  SELECT id, CAST(doc AS jsonb) ->> 'frozen_at' IS NOT NULL AS frozen FROM wallets WHERE id = %(sender)s FOR UPDATE
), recipient AS MATERIALIZED (
  SELECT id, CAST(doc AS jsonb) AS doc FROM wallets WHERE phone = %(phone)s OR username = %(username)s LIMIT 1
), wanted AS (
  SELECT code FROM unnest(CAST(%(codes)s AS varchar[])
                          || ARRAY(SELECT CAST(%(prefix)s AS varchar) || r.id || CAST(%(suffix)s AS varchar)
                                     FROM recipient AS r)) AS w (code)
   WHERE EXISTS (SELECT FROM sender)
   ORDER BY code
), locked AS (
  SELECT a.* FROM wanted
   CROSS JOIN LATERAL (SELECT * FROM ledger_accounts AS t WHERE t.code = wanted.code LIMIT 1 FOR UPDATE) AS a
)
SELECT 's' AS kind, CAST(id AS varchar) AS code, CAST(NULL AS text) AS t1, CAST(NULL AS varchar) AS t2,
       CAST(NULL AS varchar) AS t3, CAST(NULL AS numeric) AS n1, CAST(NULL AS numeric) AS n2,
       CAST(NULL AS numeric) AS n3, CAST(NULL AS numeric) AS n4, frozen AS b, CAST(NULL AS integer) AS level,
       CAST(NULL AS timestamptz) AS expires_at, CAST(NULL AS varchar[]) AS evidence
  FROM sender
UNION ALL
SELECT 'r', id, doc ->> 'phone', NULL, NULL, NULL, NULL, NULL, NULL, doc ->> 'frozen_at' IS NOT NULL, NULL, NULL, NULL
  FROM recipient
UNION ALL
SELECT 'p', party_id, kind, NULL, NULL, NULL, NULL, NULL, NULL, d.j ->> 'frozen_at' IS NOT NULL,
       level, expires_at, ARRAY(SELECT jsonb_array_elements_text(d.j -> 'evidence'))
  FROM kyc_profiles CROSS JOIN LATERAL (SELECT CAST(doc AS jsonb) AS j OFFSET 0) AS d WHERE party_id = %(sender)s
UNION ALL
SELECT 'u', product, NULL, NULL, NULL, sum(CASE WHEN at >= %(day_start)s THEN kes_value END), sum(kes_value),
       NULL, NULL, NULL, NULL, NULL, NULL
  FROM wallet_usage WHERE user_id = %(sender)s AND at >= %(month_start)s GROUP BY product
UNION ALL
SELECT 'q', party_id, kind, NULL, NULL, NULL, NULL, NULL, NULL, d.j ->> 'frozen_at' IS NOT NULL,
       level, expires_at, ARRAY(SELECT jsonb_array_elements_text(d.j -> 'evidence'))
  FROM kyc_profiles CROSS JOIN LATERAL (SELECT CAST(doc AS jsonb) AS j OFFSET 0) AS d
 WHERE party_id = (SELECT id FROM recipient)
UNION ALL
SELECT 'a', code, kind, asset, NULL, debits_posted, credits_posted, debits_pending, credits_pending, allow_negative,
       NULL, NULL, NULL
  FROM locked
UNION ALL
SELECT 'k', i.key, request_hash, result_kind, result_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM unnest(CAST(%(keys)s AS varchar[])) AS wanted_key (key)
 CROSS JOIN LATERAL (SELECT * FROM ledger_idempotency AS t WHERE t.key = wanted_key.key LIMIT 1) AS i
"""

_GENERIC_PLANS = "SET LOCAL plan_cache_mode = force_generic_plan"  # for this transaction only
_LOCK = Statement(
    "cryptopay_send_lock_s1", "SELECT FROM wallets WHERE id = %(sender)s FOR UPDATE", (("sender", "varchar"),)
)
_READ = Statement(
    "cryptopay_send_read_s7",
    _SEND_READ,
    (
        ("sender", "varchar"),
        ("phone", "varchar"),
        ("username", "varchar"),
        ("codes", "varchar[]"),
        ("prefix", "varchar"),
        ("suffix", "varchar"),
        ("day_start", "timestamptz"),
        ("month_start", "timestamptz"),
        ("keys", "varchar[]"),
    ),
)

# A send's writes in one statement, queued for the commit: the ledger's (its entry, lines, balances and idempotency
# key: ``ledger_flush.WRITE_CTES``, given by the unit of work at commit, ``Statement.takes_ledger``), the transfer,
# its usage rows (the sender's, and the recipient's when its tier limits receiving) and the movements it journals for
# monitoring (maybe none; an id journaled already is skipped, as ``SqlMovementJournal.add`` skips it). Every
# parameter is a plain value or an array of rows (migration 0110's types, ``ledger_flush.rows_literal``): no JSON
# document to parse. One statement instead of the ledger's flush and the send's write: one executor start-up, one
# parameter list to bind.
_SEND_WRITE = f"""
WITH {WRITE_CTES}, new_transfer AS (
  INSERT INTO wallet_transfers (id, sender_id, recipient_id, recipient_phone, state, claim_expires_at, doc)
  VALUES (%(t_id)s, %(t_sender)s, %(t_recipient)s, %(t_phone)s, %(t_state)s, %(t_expires)s, %(t_doc)s)
), new_usage AS (
  INSERT INTO wallet_usage (id, user_id, product, kes_value, asset, at, reference)
  SELECT v.* FROM (VALUES (%(u_id)s, %(u_user)s, %(u_product)s, %(u_value)s, %(u_asset)s, %(u_at)s, %(u_reference)s),
                          (%(r_id)s, %(r_user)s, %(r_product)s, %(r_value)s, %(u_asset)s, %(u_at)s, %(u_reference)s))
                AS v (id, user_id, product, kes_value, asset, at, reference)
   WHERE v.id IS NOT NULL
)
INSERT INTO compliance_movements (id, party_id, at, doc)
SELECT * FROM unnest(CAST(%(journal)s AS cryptopay_movement_row[]))
ON CONFLICT DO NOTHING
"""  # noqa: S608 - constant text (the ledger's CTEs), every value a parameter

_WRITE = Statement(
    "cryptopay_send_write_s3",
    _SEND_WRITE,
    (
        *WRITE_ARRAY_TYPES,
        ("t_id", "varchar"),
        ("t_sender", "varchar"),
        ("t_recipient", "varchar"),
        ("t_phone", "varchar"),
        ("t_state", "varchar"),
        ("t_expires", "timestamptz"),
        ("t_doc", "text"),
        ("u_id", "varchar"),
        ("u_user", "varchar"),
        ("u_product", "varchar"),
        ("u_value", "numeric"),
        ("u_asset", "varchar"),
        ("u_at", "timestamptz"),
        ("u_reference", "varchar"),
        ("r_id", "varchar"),
        ("r_user", "varchar"),
        ("r_product", "varchar"),
        ("r_value", "numeric"),
        ("journal", "cryptopay_movement_row[]"),
    ),
    takes_ledger=True,
)

Defer = Callable[[str | Statement, Mapping[str, Any]], None]
"""Queue a statement to be sent with the unit's commit (``SqlUnitOfWork.defer``)."""
Begin = Callable[..., list[dict[str, Any]] | None]
"""Begin the unit's transaction with a prepared statement, owned by the driver (``SqlUnitOfWork.begin_prepared``)."""


class SqlSends:
    """``SendRepository`` on SQL: two round trips per send on PostgreSQL with psycopg (see the module's text)."""

    def __init__(
        self,
        conn: Connection,
        ledger: SqlLedgerSession,
        defer: Defer,
        begin: Begin | None = None,
        *,
        personal: PersonalData | None = None,
    ) -> None:
        self._conn, self._ledger, self._defer, self._begin = conn, ledger, defer, begin
        driver = conn.connection.driver_connection if conn.dialect.name == "postgresql" else None
        self._driver = driver if isinstance(driver, psycopg.Connection) else None
        # Phones are found by their keyed hash and documents sealed and opened exactly as those repositories do;
        # the recipient's keyed hash, made for the read, is the transfer row's too (made once).
        self._wallets = wallets = SqlWallets(conn, personal=personal)
        keys: dict[str, str] = {}

        def phone_key(phone: str) -> str:  # not a bound method: SqlTransfers holding it makes no reference cycle
            found = keys.get(phone)
            if found is None:
                found = keys[phone] = wallets.phone_key(phone)
            return found

        self._phone_key = phone_key
        self._transfers = SqlTransfers(conn, personal=personal, phone_key=phone_key)
        self._personal = personal or PersonalData.plaintext()

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
        if self._driver is None:
            return self._parties_apart(sender_id, phone, username, day_start, month_start)
        prefix, _, suffix = wallet_account("\0", asset).partition("\0")
        params = {
            "sender": sender_id,
            "phone": None if phone is None else self._phone_key(phone),
            "username": None if phone else username,
            "codes": sorted(set(ledger_codes)),
            "prefix": prefix,
            "suffix": suffix,
            "day_start": day_start,
            "month_start": month_start,
            "keys": list(ledger_keys),
        }
        calls = ((_LOCK, params), (_READ, params))  # the lock waited for, then the read (see _SEND_READ)
        found = self._begin(*calls, setup=_GENERIC_PLANS, later=(_WRITE,)) if self._begin is not None else None
        if found is None:  # a transaction already under way
            found = self._read(params)
        sender = recipient = profile = recipient_profile = None
        usage: dict[str, tuple[Money, Money]] = {}
        ledger_rows = []
        for row in found:
            kind = row["kind"]
            if kind == "s":
                sender = SendingWallet(row["code"], row["b"])
            elif kind == "r":
                # Found by the phone's keyed hash: its phone is this one, no need to open it (the stored one, sealed).
                found_phone = phone if phone is not None else self._wallets.open_phone(row["code"], row["t1"])
                recipient = ReceivingWallet(row["code"], found_phone, row["b"])
            elif kind == "p":
                profile = _standing(row)
            elif kind == "u":
                usage[row["code"]] = (_kes(row["n1"]), _kes(row["n2"]))
            elif kind == "q":
                recipient_profile = _standing(row)
            else:
                ledger_rows.append(_prefetch_shaped(row))
        self._ledger.take_prefetched(ledger_rows, ledger_keys)
        return SendParties(sender, recipient, profile, usage, recipient_profile)

    def _read(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        driver = self._driver
        assert driver is not None
        # Pipelined: the SET LOCAL and the read in one round trip, with psycopg's BEGIN when the read is the first
        # statement of the transaction; a transaction already under way takes the generic plans from here on too.
        with pipelined(self._conn), driver.cursor(row_factory=dict_row) as cursor:
            cursor.execute(_GENERIC_PLANS)
            cursor.execute(_LOCK.sql, params)  # the sender's wallet, waited for: the read's snapshot comes after it
            cursor.execute(_SEND_READ, params)
            return cursor.fetchall()

    def _parties_apart(
        self, sender_id: str, phone: str | None, username: str | None, day_start: datetime, month_start: datetime
    ) -> SendParties:
        wallets = self._wallets
        locked = wallets.get(sender_id, lock=True)
        sender = None if locked is None else SendingWallet.of(locked)
        found = wallets.by_phone(phone) if phone else wallets.by_username(username or "")
        recipient = None if found is None else ReceivingWallet.of(found)
        profiles, usages = SqlKycProfiles(self._conn, personal=self._personal), SqlUsage(self._conn)
        profile = _standing_of(profiles.get(sender_id))
        usage = usages.totals(sender_id, day_start=day_start, month_start=month_start)
        recipient_profile = None if recipient is None else _standing_of(profiles.get(recipient.user_id))
        return SendParties(sender, recipient, profile, usage, recipient_profile)

    def received(
        self, recipient_id: str, *, day_start: datetime, month_start: datetime
    ) -> dict[str, tuple[Money, Money]]:
        # Tried, never waited for: the send's read locked its ledger balances already (see the lock order in
        # ``cryptopay.core.wallets.service``). The totals are a statement of their own after the lock: in READ
        # COMMITTED a statement sees what committed before it began, so only a read after the lock sees the
        # usage of the transaction that held it. SQLite: ``BEGIN IMMEDIATE`` serialised the writers already.
        if self._conn.dialect.name == "postgresql":
            params = {"space": _RECEIVE_LOCKS, "key": lock_key(recipient_id)}
            if not self._conn.exec_driver_sql(_TRY_RECEIVE_LOCK, params).scalar_one():
                raise TransientConflict("another payment to this wallet is being made: try again")
        totals = SqlUsage(self._conn).totals(recipient_id, day_start=day_start, month_start=month_start)
        return {name: sums for name, sums in totals.items() if name == Product.RECEIVE.value}

    def record(
        self, transfer: Transfer, usage: Usage, journal: Sequence[Movement] = (), received: Usage | None = None
    ) -> None:
        if self._driver is None:
            self._transfers.add(transfer)
            usages = SqlUsage(self._conn)
            usages.add(usage)
            if received is not None:
                usages.add(received)
            movements = SqlMovementJournal(self._conn, personal=self._personal)
            for movement in journal:
                movements.add(movement)
            return
        rows = [movement_row(movement, self._personal) for movement in journal]
        columns = self._transfers._row(transfer)
        params = {
            "t_id": columns["id"],
            "t_sender": columns["sender_id"],
            "t_recipient": columns["recipient_id"],
            "t_phone": columns["recipient_phone"],
            "t_state": columns["state"],
            "t_expires": columns["claim_expires_at"],
            "t_doc": document_text(columns["doc"]),
            "u_id": usage.id,
            "u_user": usage.user_id,
            "u_product": usage.product,
            "u_value": usage.kes_value.amount,
            "u_asset": usage.kes_value.asset.code,
            "u_at": usage.at,
            "u_reference": usage.reference,
            "r_id": None if received is None else received.id,
            "r_user": None if received is None else received.user_id,
            "r_product": None if received is None else received.product,
            "r_value": None if received is None else received.kes_value.amount,
            "journal": rows_literal([(r["id"], r["party_id"], r["at"], document_text(r["doc"])) for r in rows]),
            **NO_WRITES,  # the unit of work puts the ledger's rows here at commit (``takes_ledger``)
        }
        self._defer(_WRITE, params)
