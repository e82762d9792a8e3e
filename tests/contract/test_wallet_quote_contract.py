"""Wallet quotes (``WalletQuoteRepository`` and the trades that use them): the same behaviour on the in-memory fake,
SQLite and PostgreSQL; a quote is its owner's and is used once, even by trades racing for it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from cryptopay.core.errors import Conflict, QuoteUsed
from cryptopay.core.money import KES, Money
from cryptopay.core.wallets.quotes import QuotePurpose, WalletQuote

from tests.support.sql_backends import Backend
from tests.support.wallet_stack import memory_wallet_backend, wallet_stack

AT = datetime(2026, 12, 6, 9, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture
def in_memory_backend() -> Backend:
    """The contract's in-memory variant of ``backend`` (tests/contract/conftest.py)."""
    return memory_wallet_backend()


def _claim(quote_id: str = "fxq_1", owner: str = "usr_a", purpose: QuotePurpose = QuotePurpose.TRADE) -> WalletQuote:
    return WalletQuote(
        quote_id=quote_id, owner_id=owner, purpose=purpose, locked_at=AT, expires_at=AT + timedelta(minutes=2)
    )


def test_a_claim_round_trips_and_a_quote_is_claimed_once(backend: Backend):
    """A claim comes back equal (owner, purpose, exact times, unused); the same quote cannot be claimed twice."""
    with backend.uow() as uow:
        uow.wallet_quotes.add(_claim())
        uow.wallet_quotes.add(_claim("fxq_2", "usr_b", QuotePurpose.SELL))
    with backend.uow() as uow:
        assert uow.wallet_quotes.get("fxq_1") == _claim()
        assert uow.wallet_quotes.get("fxq_2").purpose is QuotePurpose.SELL
        assert uow.wallet_quotes.get("fxq_9") is None
    with pytest.raises(Conflict), backend.uow() as uow:
        uow.wallet_quotes.add(_claim(owner="usr_b"))
    with backend.uow() as uow:
        assert uow.wallet_quotes.get("fxq_1").owner_id == "usr_a"


def test_only_the_owner_uses_a_quote_and_only_once(backend: Backend):
    """``use`` is False for another owner and an unknown id; True once for the owner, then False; a rolled-back use
    leaves it unused."""
    with backend.uow() as uow:
        uow.wallet_quotes.add(_claim())
    with backend.uow() as uow:
        assert not uow.wallet_quotes.use("fxq_1", owner_id="usr_b", used_by="buy_b", at=AT)
        assert not uow.wallet_quotes.use("fxq_9", owner_id="usr_a", used_by="buy_a", at=AT)
    with pytest.raises(RuntimeError), backend.uow() as uow:
        assert uow.wallet_quotes.use("fxq_1", owner_id="usr_a", used_by="buy_rolled_back", at=AT)
        raise RuntimeError("the trade failed after using the quote")
    with backend.uow() as uow:
        assert uow.wallet_quotes.get("fxq_1").used_by is None
        assert uow.wallet_quotes.use("fxq_1", owner_id="usr_a", used_by="buy_1", at=AT + timedelta(seconds=5))
    with backend.uow() as uow:
        assert not uow.wallet_quotes.use("fxq_1", owner_id="usr_a", used_by="buy_2", at=AT)
        used = uow.wallet_quotes.get("fxq_1")
    assert (used.used_by, used.used_at) == ("buy_1", AT + timedelta(seconds=5))


def test_a_use_waits_for_a_concurrent_use_and_then_loses(backend: Backend):
    """PostgreSQL: while one transaction has used a quote (not committed), another's ``use`` waits for it; once the
    first commits, the second gets False (the conditional UPDATE re-reads the row)."""
    if backend.name != "postgres":
        pytest.skip("row locks between connections: PostgreSQL")
    with backend.uow() as uow:
        uow.wallet_quotes.add(_claim())
    first_used, let_commit, answers = threading.Event(), threading.Event(), []

    def first() -> None:
        with backend.uow() as uow:
            answers.append(("first", uow.wallet_quotes.use("fxq_1", owner_id="usr_a", used_by="buy_1", at=AT)))
            first_used.set()
            let_commit.wait(10)

    def second() -> None:
        first_used.wait(10)
        with backend.uow() as uow:
            answers.append(("second", uow.wallet_quotes.use("fxq_1", owner_id="usr_a", used_by="buy_2", at=AT)))

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = [pool.submit(first), pool.submit(second)]
        first_used.wait(10)
        time.sleep(0.3)  # the second is blocked on the row lock by now
        assert answers == [("first", True)]
        let_commit.set()
        for future in done:
            future.result(timeout=10)
    assert answers == [("first", True), ("second", False)]
    with backend.uow() as uow:
        assert uow.wallet_quotes.get("fxq_1").used_by == "buy_1"


def test_buys_racing_one_quote_only_one_wins(backend: Backend):
    """Eight buys naming one quote at the same instant: exactly one is recorded and prompted, seven are
    ``QuoteUsed``; the quote names the winner."""
    stack = wallet_stack(backend)
    amina = stack.sign_up("0712000001", tier=1)
    quote = stack.buys.quote(amina.id, QuotePurpose.BUY)
    start = threading.Barrier(8)

    def buy(_: int) -> str:
        start.wait()
        try:
            return stack.buys.start(amina.id, Money.of(100, KES), quote_id=quote.id).id
        except QuoteUsed:
            return "quote_used"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(buy, range(8)))
    won = [o for o in outcomes if o != "quote_used"]
    assert len(won) == 1 and outcomes.count("quote_used") == 7
    assert [b.id for b in stack.buys.for_user(amina.id)] == won
    assert len(stack.mpesa.transactions()) == 1
    with backend.uow() as uow:
        assert uow.wallet_quotes.get(quote.id).used_by == won[0]


def test_prune_deletes_claims_whose_window_ended_before_the_cutoff_longest_ended_first(backend: Backend):
    """``prune`` deletes at most ``limit`` claims ended before the cutoff, used or not, the longest ended first; a
    claim ending at the cutoff or later stays."""
    ended = [AT - timedelta(days=9), AT - timedelta(days=8), AT - timedelta(days=7, seconds=1)]
    with backend.uow() as uow:
        for n, end in enumerate(ended):
            uow.wallet_quotes.add(
                attrs.evolve(_claim(f"fxq_old{n}"), locked_at=end - timedelta(minutes=2), expires_at=end)
            )
        uow.wallet_quotes.add(attrs.evolve(_claim("fxq_edge"), expires_at=AT - timedelta(days=7)))
        uow.wallet_quotes.add(_claim("fxq_new"))
        assert uow.wallet_quotes.use("fxq_old1", owner_id="usr_a", used_by="buy_1", at=ended[1] - timedelta(minutes=1))
    cutoff = AT - timedelta(days=7)
    with backend.uow() as uow:
        assert uow.wallet_quotes.prune(cutoff, limit=2) == 2
    with backend.uow() as uow:
        left = {q: uow.wallet_quotes.get(q) is not None for q in ("fxq_old0", "fxq_old1", "fxq_old2", "fxq_edge")}
        assert left == {"fxq_old0": False, "fxq_old1": False, "fxq_old2": True, "fxq_edge": True}
        assert uow.wallet_quotes.prune(cutoff, limit=2) == 1
        assert uow.wallet_quotes.prune(cutoff, limit=2) == 0
    with backend.uow() as uow:
        assert uow.wallet_quotes.get("fxq_old2") is None
        assert uow.wallet_quotes.get("fxq_edge") == attrs.evolve(_claim("fxq_edge"), expires_at=AT - timedelta(days=7))
        assert uow.wallet_quotes.get("fxq_new") == _claim("fxq_new")


def test_prune_claims_empties_a_backlog_in_batches_and_keeps_a_weeks_worth(backend: Backend):
    """The worker's job (``prune_claims``) deletes every claim ended over a week ago, however many, in batches of
    ``batch``, and says how many; claims ended within the week stay."""
    from cryptopay.core.testing.system import ManualClock
    from cryptopay.core.wallets.quotes import prune_claims

    with backend.uow() as uow:
        for n in range(7):
            end = AT - timedelta(days=8, minutes=n)
            uow.wallet_quotes.add(
                attrs.evolve(_claim(f"fxq_{n}"), locked_at=end - timedelta(minutes=2), expires_at=end)
            )
        uow.wallet_quotes.add(attrs.evolve(_claim("fxq_week"), expires_at=AT - timedelta(days=6)))
    clock = ManualClock(AT)
    assert prune_claims(backend.uow, clock, batch=3) == 7
    assert prune_claims(backend.uow, clock, batch=3) == 0
    with backend.uow() as uow:
        assert [n for n in range(7) if uow.wallet_quotes.get(f"fxq_{n}") is not None] == []
        assert uow.wallet_quotes.get("fxq_week") is not None
