"""Many writers at once on PostgreSQL: random transfers, batches, holds and posts from 16 threads keep every invariant."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from decimal import Decimal

from cryptopay.adapters.sql import SqlLedgerStore
from cryptopay.core.errors import CryptopayError, InsufficientFunds
from cryptopay.core.ledger import Account, AccountKind, EntryRequest, HoldRequest, HoldState, Ledger, Posting
from cryptopay.core.money import KES, Money
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.support.threads import joined

THREADS = 16
OPS = 40
BANK = "assets:bank:KES"
USERS = [f"liabilities:user:{n:02d}:KES" for n in range(19)]  # 20 accounts with the bank


def _shared_transfer(ledger: Ledger, k: int):
    """The request behind shared key k is the same whichever thread sends it."""
    rng = random.Random(k)
    a, b = rng.sample(USERS, 2)
    return ledger.transfer(f"shared-{k}", debit=a, credit=b, amount=Money.from_minor(rng.randint(1, 5_000), KES))


def _worker(engine: Engine, seed: int, results: dict, errors: list, lock: threading.Lock) -> None:
    ledger = Ledger(SqlLedgerStore(engine), max_attempts=30)
    rng = random.Random(seed)
    holds: list[str] = []
    for n in range(OPS):
        choice = rng.random()
        try:
            if choice < 0.3:
                k = rng.randint(0, 24)
                entry = _shared_transfer(ledger, k)
                with lock:
                    results[f"shared-{k}"].add(entry.id)
            elif choice < 0.55:
                a, b = rng.sample(USERS, 2)
                ledger.transfer(
                    f"t-{seed}-{n}", debit=a, credit=b, amount=Money.from_minor(rng.randint(1, 20_000), KES)
                )
            elif choice < 0.65:  # a batch over overlapping accounts: all of it or none, never a deadlock
                batch = []
                for i in range(3):
                    a, b = rng.sample(USERS, 2)
                    amount = Money.from_minor(rng.randint(1, 10_000), KES)
                    batch.append(
                        EntryRequest(f"b-{seed}-{n}-{i}", (Posting.debit(a, amount), Posting.credit(b, amount)))
                    )
                ledger.post_many(batch)
            elif choice < 0.85:
                a, b = rng.sample(USERS, 2)
                hold = ledger.hold(HoldRequest(f"h-{seed}-{n}", a, b, Money.from_minor(rng.randint(1, 20_000), KES)))
                holds.append(hold.id)
            elif holds:
                hold_id = holds.pop(rng.randrange(len(holds)))
                if rng.random() < 0.7:
                    ledger.post_hold(hold_id, f"p-{seed}-{n}")
                else:
                    ledger.void_hold(hold_id)
        except InsufficientFunds:
            pass  # the expected business refusal
        except (CryptopayError, Exception) as error:  # anything else is a failure of the store
            with lock:
                errors.append(error)


def test_sixteen_writers_keep_every_invariant(pg_engine: Engine) -> None:
    """16 threads of random transfers, holds and posts (some sharing idempotency keys) leave consistent books."""
    ledger = Ledger(SqlLedgerStore(pg_engine))
    ledger.open_account(Account(BANK, AccountKind.ASSET, KES, allow_negative=True))
    for code in USERS:
        ledger.open_account(Account(code, AccountKind.LIABILITY, KES))
        ledger.transfer(f"fund-{code}", debit=BANK, credit=code, amount=Money.of("500", KES))
    results: dict[str, set[str]] = defaultdict(set)
    errors: list[BaseException] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=_worker, args=(pg_engine, s, results, errors, lock)) for s in range(THREADS)]
    for thread in threads:
        thread.start()
    joined(*threads)

    assert errors == []
    assert ledger.trial_balance() == {"KES": Decimal("0.00")}
    store = SqlLedgerStore(pg_engine)
    for balance in store.balances():
        if not balance.account.allow_negative:
            assert not balance.available.is_negative(), balance
    for key, ids in results.items():
        assert len(ids) == 1, f"{key} produced {ids}"
    with pg_engine.connect() as conn:
        per_key = conn.execute(
            text("SELECT idempotency_key, count(*) FROM ledger_entries GROUP BY 1 HAVING count(*) > 1")
        )
        assert per_key.all() == []
        lines = conn.execute(
            text("SELECT account_code, amount, balance_before, balance_after FROM ledger_lines ORDER BY id")
        )
        last: dict[str, Decimal] = defaultdict(Decimal)
        for account, amount, before, after in lines:
            assert before == last[account], f"balance history of {account} has a gap"
            normal = amount if account == BANK else -amount
            assert after == before + normal
            last[account] = after
    pending_debits: dict[str, Decimal] = defaultdict(Decimal)
    pending_credits: dict[str, Decimal] = defaultdict(Decimal)
    for hold in store.holds():
        if hold.state is HoldState.PENDING:
            pending_debits[hold.debit_account] += hold.amount.amount
            pending_credits[hold.credit_account] += hold.amount.amount
    for balance in store.balances():
        code = balance.account.code
        assert balance.posted.amount == last[code]
        assert balance.debits_pending == pending_debits[code] and balance.credits_pending == pending_credits[code]
