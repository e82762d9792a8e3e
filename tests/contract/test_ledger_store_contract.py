"""The ledger store contract: the same behaviour from the in-memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptopay.core.errors import (
    Conflict,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidState,
    NotFound,
    UnbalancedEntry,
)
from cryptopay.core.ledger import Account, AccountKind, EntryRequest, HoldRequest, HoldState, Ledger, Posting
from cryptopay.core.money import ETH, KES, USDT, Money
from cryptopay.core.ports.ledger import IdempotencyRecord
from cryptopay.core.testing.system import ManualClock, SequentialIds

from tests.support.ledger_books import ALICE, BOB, FLOAT, kes, open_float_and_wallets


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ledger(backend, clock) -> Ledger:
    """A ledger with a float account and two users' wallets."""
    ledger = Ledger(backend.ledger_store, clock=clock, ids=SequentialIds(), sleep=lambda _s: None)
    return open_float_and_wallets(ledger, ALICE, BOB)


def test_open_account_is_idempotent_and_listed(backend, ledger):
    """Opening an account twice with the same definition returns it; the store lists it with a zero balance."""
    account = Account(ALICE, AccountKind.LIABILITY, KES)
    assert ledger.open_account(account) == account
    assert account in backend.ledger_store.accounts()
    assert ledger.balance(ALICE).posted == kes("0")


def test_open_accounts_opens_the_missing_ones_and_refuses_a_different_definition(backend, ledger):
    """Opening several accounts at once adds the missing ones, keeps the existing ones, and refuses (changing
    nothing) when one exists with another definition."""
    bob = Account(BOB, AccountKind.LIABILITY, KES)
    fees = Account("revenue:fees:KES", AccountKind.REVENUE, KES)
    ledger.open_accounts([bob, fees, fees])
    assert {bob, fees} <= set(backend.ledger_store.accounts())
    spread = Account("revenue:spread:KES", AccountKind.REVENUE, KES)
    with pytest.raises(Conflict):
        ledger.open_accounts([spread, Account(BOB, AccountKind.ASSET, KES)])
    assert spread not in backend.ledger_store.accounts()


def test_transfer_moves_money_and_keeps_trial_balance(backend, ledger):
    """A transfer debits one account, credits the other, and the trial balance stays zero."""
    ledger.transfer("t1", debit=FLOAT, credit=ALICE, amount=kes("500.25"))
    ledger.transfer("t2", debit=ALICE, credit=BOB, amount=kes("200"))
    assert ledger.balance(ALICE).posted == kes("300.25")
    assert ledger.balance(BOB).posted == kes("200")
    assert ledger.balance(FLOAT).posted == kes("500.25")
    assert ledger.trial_balance() == {"KES": Decimal("0.00")}


def test_same_key_same_request_returns_the_first_entry(ledger):
    """A retried request with the same key returns the original entry and moves nothing more."""
    first = ledger.transfer("t1", debit=FLOAT, credit=ALICE, amount=kes("10"))
    again = ledger.transfer("t1", debit=FLOAT, credit=ALICE, amount=kes("10"))
    assert again == first
    assert ledger.balance(ALICE).posted == kes("10")


def test_same_key_different_request_is_a_conflict(ledger):
    """Reusing a key for a different request is refused."""
    ledger.transfer("t1", debit=FLOAT, credit=ALICE, amount=kes("10"))
    with pytest.raises(IdempotencyConflict):
        ledger.transfer("t1", debit=FLOAT, credit=ALICE, amount=kes("11"))


def test_overdraft_is_refused_and_changes_nothing(backend, ledger):
    """Taking more than an account holds is refused, and no balance, entry or key is stored."""
    ledger.transfer("t1", debit=FLOAT, credit=ALICE, amount=kes("10"))
    before = backend.ledger_store.balances()
    with pytest.raises(InsufficientFunds):
        ledger.transfer("t2", debit=ALICE, credit=BOB, amount=kes("10.01"))
    assert backend.ledger_store.balances() == before
    assert len(backend.ledger_store.entries()) == 1
    with backend.ledger_store.session() as s:
        assert s.find_idempotency("t2") is None


def test_unbalanced_and_unknown_accounts_are_refused(ledger):
    """An entry that does not sum to zero, or names an unknown account, is refused."""
    with pytest.raises(UnbalancedEntry):
        ledger.post(EntryRequest("u1", (Posting.debit(FLOAT, kes("2")), Posting.credit(ALICE, kes("1")))))
    with pytest.raises(NotFound):
        ledger.transfer("u2", debit=FLOAT, credit="liabilities:nobody:KES", amount=kes("1"))


def test_hold_post_partial_and_void(backend, ledger):
    """A hold takes funds out of availability; posting part of it moves that part and releases the rest."""
    ledger.transfer("t1", debit=FLOAT, credit=ALICE, amount=kes("100"))
    hold = ledger.hold(HoldRequest("h1", ALICE, BOB, kes("80")))
    assert ledger.balance(ALICE).available == kes("20")
    with pytest.raises(InsufficientFunds):
        ledger.hold(HoldRequest("h2", ALICE, BOB, kes("21")))
    entry = ledger.post_hold(hold.id, "p1", amount=kes("30"))
    assert entry.hold_id == hold.id
    assert ledger.balance(ALICE).posted == kes("70") and ledger.balance(ALICE).available == kes("70")
    assert ledger.balance(BOB).posted == kes("30")
    [stored] = backend.ledger_store.holds()
    assert stored.state is HoldState.POSTED and stored.posted_amount == kes("30") and stored.entry_id == entry.id
    second = ledger.hold(HoldRequest("h3", ALICE, BOB, kes("70")))
    assert ledger.void_hold(second.id).state is HoldState.VOIDED
    assert ledger.void_hold(second.id).state is HoldState.VOIDED
    assert ledger.balance(ALICE).available == kes("70")
    with pytest.raises(InvalidState):
        ledger.post_hold(second.id, "p2")


def test_holds_expire(backend, ledger, clock):
    """A pending hold past its expiry is expired and its funds become available again."""
    ledger.transfer("t1", debit=FLOAT, credit=ALICE, amount=kes("100"))
    hold = ledger.hold(HoldRequest("h1", ALICE, BOB, kes("40"), expires_at=clock.now() + timedelta(minutes=5)))
    assert backend.ledger_store.holds(pending_only=True, expiring_before=clock.now()) == []
    clock.advance(minutes=6)
    [expired] = ledger.expire_holds()
    assert expired.id == hold.id and expired.state is HoldState.EXPIRED
    assert expired.expires_at == datetime(2026, 1, 5, 9, 5, tzinfo=UTC)
    assert ledger.balance(ALICE).available == kes("100")


def test_reversal_happens_once(ledger):
    """An entry can be reversed once; the reversal mirrors it and restores the balances."""
    entry = ledger.transfer("t1", debit=FLOAT, credit=ALICE, amount=kes("100"))
    reversal = ledger.reverse(entry.id, "r1")
    assert reversal.reverses == entry.id
    assert [line.amount for line in reversal.lines] == [-line.amount for line in entry.lines]
    assert ledger.reverse(entry.id, "r1") == reversal
    with pytest.raises(InvalidState):
        ledger.reverse(entry.id, "r2")
    assert ledger.balance(ALICE).posted == kes("0")


def test_entries_are_listed_newest_first_with_balance_history(backend, ledger, clock):
    """Entries list newest first, filter by account, and each line carries the balance before and after."""
    for n in range(3):
        ledger.transfer(f"t{n}", debit=FLOAT, credit=ALICE, amount=kes("10"))
        clock.advance(seconds=1)
    ledger.transfer("t9", debit=FLOAT, credit=BOB, amount=kes("1"))
    everything = backend.ledger_store.entries()
    assert [e.idempotency_key for e in everything] == ["t9", "t2", "t1", "t0"]
    alice = backend.ledger_store.entries(account=ALICE, limit=2)
    assert [e.idempotency_key for e in alice] == ["t2", "t1"]
    history = [
        (line.balance_before, line.balance_after) for e in reversed(alice) for line in e.lines if line.account == ALICE
    ]
    assert history == [(Decimal("10.00"), Decimal("20.00")), (Decimal("20.00"), Decimal("30.00"))]


def test_conversion_keeps_quote_metadata_and_exact_amounts(backend, ledger):
    """A conversion's legs balance per asset, name the quote, and keep every decimal place of each asset."""
    ledger.open_account(Account("liabilities:user:alice:USDT", AccountKind.LIABILITY, USDT))
    ledger.open_account(Account("assets:custody:USDT", AccountKind.ASSET, USDT, allow_negative=True))
    ledger.transfer(
        "d1", debit="assets:custody:USDT", credit="liabilities:user:alice:USDT", amount=Money.of("10.123456", USDT)
    )
    entry = ledger.convert(
        "c1",
        source_account="liabilities:user:alice:USDT",
        target_account=ALICE,
        source=Money.of("10.123456", USDT),
        target=kes("1305.92"),
        quote_id="q_1",
    )
    [stored] = [e for e in backend.ledger_store.entries() if e.id == entry.id]
    assert stored == entry and stored.quote_id == "q_1"
    assert ledger.balance(ALICE).posted == kes("1305.92")
    assert ledger.trial_balance() == {"KES": Decimal("0.00"), "USDT": Decimal("0.000000")}


def test_eighteen_decimal_places_survive(backend, ledger):
    """An ETH amount with 18 decimal places round-trips exactly."""
    ledger.open_account(Account("assets:custody:ETH", AccountKind.ASSET, ETH, allow_negative=True))
    ledger.open_account(Account("liabilities:user:alice:ETH", AccountKind.LIABILITY, ETH))
    amount = Money.of("12345.123456789012345678", ETH)
    entry = ledger.transfer("e1", debit="assets:custody:ETH", credit="liabilities:user:alice:ETH", amount=amount)
    assert ledger.balance("liabilities:user:alice:ETH").posted == amount
    assert backend.ledger_store.entries(account="assets:custody:ETH")[0] == entry


def test_batch_is_all_or_nothing(backend, ledger):
    """``post_many`` posts every entry or, if one is refused, none of them."""
    good = [EntryRequest(f"b{n}", (Posting.debit(FLOAT, kes("1")), Posting.credit(ALICE, kes("1")))) for n in range(5)]
    bad = EntryRequest("bad", (Posting.debit(BOB, kes("1")), Posting.credit(ALICE, kes("1"))))
    with pytest.raises(InsufficientFunds):
        ledger.post_many([*good, bad])
    assert backend.ledger_store.entries() == []
    entries = ledger.post_many(good)
    assert len(entries) == 5 and ledger.balance(ALICE).posted == kes("5")
    assert ledger.post_many(good) == entries


def test_session_rolls_back_on_error(backend, ledger):
    """A session that raises stores nothing of what it did."""
    with pytest.raises(RuntimeError), backend.ledger_store.session() as s:
        ledger.transfer("t1", debit=FLOAT, credit=ALICE, amount=kes("5"), session=s)
        raise RuntimeError("boom")
    assert ledger.balance(ALICE).posted == kes("0")
    assert backend.ledger_store.entries() == []


def test_find_idempotencies_reads_in_bulk(backend, ledger):
    """The bulk key lookup returns the records of the keys that exist and nothing for the others."""
    entry = ledger.transfer("t1", debit=FLOAT, credit=ALICE, amount=kes("5"))
    with backend.ledger_store.session() as s:
        found = s.find_idempotencies(["t1", "nope"])
    assert list(found) == ["t1"]
    assert found["t1"] == IdempotencyRecord("t1", found["t1"].request_hash, "entry", entry.id)


def test_entries_are_read_in_keyset_pages_within_a_time_range(backend, ledger, clock):
    """``entries(since, until, before)``: an account's entries created in [since, until), newest first by
    ``(created_at, id)``, strictly older than the keyset ``before``; ``Ledger.walk`` pages through all of them, several
    in one instant included, each once."""
    start = clock.now()
    keys = []
    for n in range(9):
        ledger.post_many(
            [
                EntryRequest(f"t{n}{i}", (Posting.debit(FLOAT, kes("1")), Posting.credit(ALICE, kes("1"))))
                for i in range(2)  # two entries at one instant: the id orders them
            ]
        )
        keys += [f"t{n}0", f"t{n}1"]
        clock.advance(seconds=1)
    ledger.transfer("bob", debit=FLOAT, credit=BOB, amount=kes("1"))
    since, until = start + timedelta(seconds=2), start + timedelta(seconds=7)  # entries t2* to t6*
    inside = [e.idempotency_key for e in backend.ledger_store.entries(account=ALICE, since=since, until=until)]
    assert sorted(inside) == sorted(keys[4:14]) and len(inside) == 10
    first = backend.ledger_store.entries(account=ALICE, since=since, until=until, limit=3)
    rest = backend.ledger_store.entries(
        account=ALICE, since=since, until=until, before=(first[-1].created_at, first[-1].id), limit=100
    )
    assert [e.idempotency_key for e in first + rest] == inside
    order = [(e.created_at, e.id) for e in first + rest]
    assert order == sorted(order, reverse=True)
    walked = [e.idempotency_key for e in ledger.walk(ALICE, page=4)]
    assert walked == [e.idempotency_key for e in backend.ledger_store.entries(account=ALICE, limit=100)]
    assert sorted(walked) == sorted(keys)
    assert [e.idempotency_key for e in ledger.walk(ALICE, since=since, until=until, page=3)] == inside
