"""Unit tests of the ledger service over the in-memory store."""

from datetime import timedelta
from decimal import Decimal

import pytest
from cryptopay.core.errors import (
    Conflict,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidInput,
    InvalidState,
    NotFound,
    UnbalancedEntry,
)
from cryptopay.core.ledger import Account, AccountKind, EntryRequest, HoldRequest, HoldState, Ledger, Posting
from cryptopay.core.money import KES, USDT, Money
from cryptopay.core.testing.ledger import InMemoryLedgerStore
from cryptopay.core.testing.system import ManualClock, SequentialIds

from tests.support.ledger_books import ALICE, BOB, FLOAT, kes, open_float_and_wallets

FLIGHT = "liabilities:payouts_in_flight:KES"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ledger(clock: ManualClock) -> Ledger:
    book = open_float_and_wallets(Ledger(InMemoryLedgerStore(), clock=clock, ids=SequentialIds()), ALICE, BOB, FLIGHT)
    book.open_account(Account("assets:custody:USDT", AccountKind.ASSET, USDT, allow_negative=True))
    book.open_account(Account("liabilities:user:alice:USDT", AccountKind.LIABILITY, USDT))
    book.transfer("fund-alice", debit=FLOAT, credit=ALICE, amount=kes("1000"))
    return book


def test_transfer_moves_money_and_records_balance_history(ledger: Ledger) -> None:
    """A transfer updates both balances and each line carries the balance before and after."""
    entry = ledger.transfer("t1", debit=ALICE, credit=BOB, amount=kes("250"))
    assert ledger.balance(ALICE).posted == kes("750")
    assert ledger.balance(BOB).posted == kes("250")
    alice_line = next(line for line in entry.lines if line.account == ALICE)
    assert (alice_line.balance_before, alice_line.balance_after) == (Decimal("1000.00"), Decimal("750.00"))


def test_same_key_same_request_returns_the_original(ledger: Ledger) -> None:
    """Retrying with the same key and request returns the first entry and moves nothing more."""
    first = ledger.transfer("t1", debit=ALICE, credit=BOB, amount=kes("100"))
    again = ledger.transfer("t1", debit=ALICE, credit=BOB, amount=kes("100"))
    assert again == first
    assert ledger.balance(BOB).posted == kes("100")


def test_same_key_different_request_is_a_conflict(ledger: Ledger) -> None:
    """Reusing a key for a different request is refused as a conflict."""
    ledger.transfer("t1", debit=ALICE, credit=BOB, amount=kes("100"))
    with pytest.raises(IdempotencyConflict):
        ledger.transfer("t1", debit=ALICE, credit=BOB, amount=kes("101"))


def test_overdraft_is_refused_and_changes_nothing(ledger: Ledger) -> None:
    """An account that may not go negative refuses a transfer beyond its balance, leaving balances intact."""
    with pytest.raises(InsufficientFunds):
        ledger.transfer("t1", debit=ALICE, credit=BOB, amount=kes("1000.01"))
    assert ledger.balance(ALICE).posted == kes("1000")
    assert ledger.balance(BOB).posted == kes("0")


def test_an_overdraft_says_what_is_available_and_needed_never_the_account(ledger: Ledger) -> None:
    """With KES 200 of 1,000 held, a transfer or hold of 900 is refused saying 800.00 is available and 900.00 is
    needed; the account's code (ours: it names the user) is only in the ``account`` detail, for the logs."""
    ledger.hold(HoldRequest("h0", ALICE, FLIGHT, kes("200")))
    for refused_by in (
        lambda: ledger.transfer("t1", debit=ALICE, credit=BOB, amount=kes("900")),
        lambda: ledger.hold(HoldRequest("h1", ALICE, FLIGHT, kes("900"))),
    ):
        with pytest.raises(InsufficientFunds) as refused:
            refused_by()
        assert refused.value.message == "not enough KES: the available balance is 800.00 KES; this needs 900.00 KES"
        assert ALICE not in refused.value.message and "-" not in refused.value.message
        assert refused.value.details == {"account": ALICE, "available": "800.00", "needed": "900.00"}


def test_no_ledger_refusal_names_an_account_in_its_text(ledger: Ledger) -> None:
    """A zero posting, a missing account (entry or hold) and another asset's account are refused with texts a caller
    may read; the account's code is only the ``account`` detail."""
    missing = "liabilities:wallet:usr_nobody:KES"
    refusals = (
        lambda: ledger.post(EntryRequest("z", (Posting.debit(FLOAT, kes("0")), Posting.credit(ALICE, kes("0"))))),
        lambda: ledger.transfer("m", debit=ALICE, credit=missing, amount=kes("1")),
        lambda: ledger.hold(HoldRequest("h", ALICE, missing, kes("1"))),
        lambda: ledger.post(
            EntryRequest("a", (Posting.debit(FLOAT, Money.of("1", USDT)), Posting.credit(ALICE, Money.of("1", USDT))))
        ),
    )
    for refused_by in refusals:
        with pytest.raises((InvalidInput, NotFound)) as refused:
            refused_by()
        assert ":" not in refused.value.message and refused.value.details["account"] in (FLOAT, ALICE, missing)


def test_unbalanced_and_mixed_asset_entries_are_refused(ledger: Ledger) -> None:
    """Entries must sum to zero per asset and post each asset to accounts of that asset."""
    with pytest.raises(UnbalancedEntry):
        ledger.post(EntryRequest("e1", (Posting.debit(FLOAT, kes("1")), Posting.credit(ALICE, kes("2")))))
    with pytest.raises(UnbalancedEntry):
        ledger.post(EntryRequest("e2", (Posting.debit(FLOAT, kes("1")),)))
    with pytest.raises(InvalidInput):
        ledger.post(
            EntryRequest("e3", (Posting.debit(FLOAT, Money.of("1", USDT)), Posting.credit(ALICE, Money.of("1", USDT))))
        )
    with pytest.raises(NotFound):
        ledger.transfer("e4", debit=FLOAT, credit="liabilities:nobody:KES", amount=kes("1"))


def test_hold_reduces_available_then_posts_partially(ledger: Ledger) -> None:
    """A hold makes funds unavailable; a partial post moves part and releases the rest."""
    hold = ledger.hold(HoldRequest("h1", ALICE, FLIGHT, kes("600")))
    assert ledger.balance(ALICE).available == kes("400")
    with pytest.raises(InsufficientFunds):
        ledger.transfer("t1", debit=ALICE, credit=BOB, amount=kes("500"))
    ledger.post_hold(hold.id, "p1", amount=kes("550"))
    assert ledger.balance(ALICE).posted == kes("450")
    assert ledger.balance(ALICE).available == kes("450")
    assert ledger.balance(FLIGHT).posted == kes("550")
    with pytest.raises(InvalidState):
        ledger.post_hold(hold.id, "p2")


def test_a_hold_posted_and_paid_out_moves_both_or_neither(ledger: Ledger) -> None:
    """``post_hold_and_pay`` posts the hold and what it pays out in one transaction, replays both on a retry, and a
    payment that cannot be posted leaves the hold pending and nothing moved."""
    paid = EntryRequest("pay1", (Posting.debit(FLIGHT, kes("600")), Posting.credit(FLOAT, kes("600"))))
    hold = ledger.hold(HoldRequest("h1", ALICE, FLIGHT, kes("600")))
    posted, [entry] = ledger.post_hold_and_pay(hold.id, "p1", [paid])
    assert ledger.balance(ALICE).posted == kes("400") and ledger.balance(FLIGHT).posted == kes("0")
    assert ledger.post_hold_and_pay(hold.id, "p1", [paid]) == (posted, [entry])
    other = ledger.hold(HoldRequest("h2", ALICE, FLIGHT, kes("100")))
    too_much = EntryRequest("pay2", (Posting.debit(BOB, kes("100")), Posting.credit(FLOAT, kes("100"))))
    with pytest.raises(InsufficientFunds):
        ledger.post_hold_and_pay(other.id, "p2", [too_much])
    assert ledger.balance(ALICE).available == kes("300") and ledger.balance(ALICE).posted == kes("400")


def test_void_releases_and_is_idempotent(ledger: Ledger) -> None:
    """Voiding a hold frees the funds; voiding twice is harmless; posting a voided hold is refused."""
    hold = ledger.hold(HoldRequest("h1", ALICE, FLIGHT, kes("600")))
    ledger.void_hold(hold.id)
    assert ledger.void_hold(hold.id).state is HoldState.VOIDED
    assert ledger.balance(ALICE).available == kes("1000")
    with pytest.raises(InvalidState):
        ledger.post_hold(hold.id, "p1")


def test_holds_expire(ledger: Ledger, clock: ManualClock) -> None:
    """A hold past its expiry is expired by ``expire_holds`` and its funds are available again."""
    ledger.hold(HoldRequest("h1", ALICE, FLIGHT, kes("600"), expires_at=clock.now() + timedelta(minutes=10)))
    assert ledger.expire_holds() == []
    clock.advance(minutes=11)
    [expired] = ledger.expire_holds()
    assert expired.state is HoldState.EXPIRED
    assert ledger.balance(ALICE).available == kes("1000")


def test_reversal_mirrors_an_entry_once(ledger: Ledger) -> None:
    """A reversal restores balances, names the original, and a second reversal is refused."""
    entry = ledger.transfer("t1", debit=ALICE, credit=BOB, amount=kes("300"))
    reversal = ledger.reverse(entry.id, "r1")
    assert reversal.reverses == entry.id
    assert ledger.balance(BOB).posted == kes("0")
    assert ledger.reverse(entry.id, "r1") == reversal
    with pytest.raises(InvalidState):
        ledger.reverse(entry.id, "r2")


def test_conversion_goes_through_trading_accounts(ledger: Ledger) -> None:
    """A conversion is two balanced legs through per-asset trading accounts and names its quote."""
    ledger.transfer(
        "fund-usdt", debit="assets:custody:USDT", credit="liabilities:user:alice:USDT", amount=Money.of("10", USDT)
    )
    entry = ledger.convert(
        "c1",
        source_account="liabilities:user:alice:USDT",
        target_account=ALICE,
        source=Money.of("10", USDT),
        target=kes("1290.50"),
        quote_id="q_1",
    )
    assert entry.quote_id == "q_1"
    assert ledger.balance(ALICE).posted == kes("2290.50")
    assert ledger.balance("equity:trading:USDT").posted == Money.of("10", USDT)
    assert ledger.trial_balance() == {"KES": Decimal("0.00"), "USDT": Decimal("0.000000")}


def test_post_many_is_all_or_nothing(ledger: Ledger) -> None:
    """A batch with one refused entry posts none of them."""
    good = EntryRequest("b1", (Posting.debit(ALICE, kes("10")), Posting.credit(BOB, kes("10"))))
    bad = EntryRequest("b2", (Posting.debit(BOB, kes("5000")), Posting.credit(ALICE, kes("5000"))))
    with pytest.raises(InsufficientFunds):
        ledger.post_many([good, bad])
    assert ledger.balance(BOB).posted == kes("0")
    assert len(ledger.post_many([good])) == 1


def test_open_account_is_idempotent_but_refuses_redefinition(ledger: Ledger) -> None:
    """Opening the same account twice is fine; opening it with another definition is a conflict."""
    ledger.open_account(Account(BOB, AccountKind.LIABILITY, KES))
    with pytest.raises(Conflict):
        ledger.open_account(Account(BOB, AccountKind.LIABILITY, KES, allow_negative=True))
