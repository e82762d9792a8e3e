"""Review R14-13: a conversion is one ledger entry with a line per asset; paging a wallet's history never ends a page
inside an entry, so following the cursors gives exactly the one-page listing, whatever the page size."""

from __future__ import annotations

from cryptopay.core.flows import WALLET_ASSETS, wallet_account
from cryptopay.core.ledger import Account, AccountKind, EntryRequest, Ledger, Posting
from cryptopay.core.money import Money
from cryptopay.core.testing.ledger import InMemoryLedgerStore
from cryptopay.core.testing.system import ManualClock, SequentialIds
from cryptopay.core.wallets.history import HistoryLine, history, history_page
from hypothesis import given, settings
from hypothesis import strategies as st

USER = "usr_amina"
# Each entry: whether the clock moves first (else a tie with the one before), and which balances it moves (a
# conversion moves two: one line per asset under one entry id).
_ENTRIES = st.lists(
    st.tuples(st.booleans(), st.sets(st.sampled_from(WALLET_ASSETS), min_size=1)), min_size=1, max_size=12
)


def _book(entries: list[tuple[bool, set]]) -> Ledger:
    clock = ManualClock()
    ledger = Ledger(InMemoryLedgerStore(), clock=clock, ids=SequentialIds())
    for asset in WALLET_ASSETS:
        ledger.open_account(Account(f"assets:float:{asset.code}", AccountKind.ASSET, asset, allow_negative=True))
        ledger.open_account(Account(wallet_account(USER, asset), AccountKind.LIABILITY, asset))
    for n, (later, assets) in enumerate(entries):
        if later:
            clock.advance(seconds=1)
        postings = []
        for asset in sorted(assets, key=lambda a: a.code):
            money = Money.of(n + 1, asset)
            postings += [
                Posting.debit(f"assets:float:{asset.code}", money),
                Posting.credit(wallet_account(USER, asset), money),
            ]
        ledger.post(EntryRequest(f"e{n}", tuple(postings)))
    return ledger


def _paged(ledger: Ledger, limit: int) -> list[HistoryLine]:
    got: list[HistoryLine] = []
    cursor = None
    while True:
        page = history_page(ledger, USER, limit=limit, after=cursor, page=2)
        assert limit <= len(page.lines) <= limit + 2 or page.next_cursor is None
        assert len({h.entry_id for h in page.lines}) == len({h.entry_id for h in page.lines[:limit]})
        got += page.lines
        if (cursor := page.next_cursor) is None:
            return got


@settings(max_examples=60, deadline=None)
@given(entries=_ENTRIES, limit=st.integers(1, 5))
def test_paging_by_the_cursor_gives_the_one_page_listing_exactly(entries, limit):
    ledger = _book(entries)
    everything = history(ledger, USER, limit=None)
    assert len(everything) == sum(len(assets) for _, assets in entries)
    assert _paged(ledger, limit) == everything
    # a listing cut at ``limit`` (the portal's, the CLI's) is the first page: whole entries too
    assert history(ledger, USER, limit=limit, page=2) == history_page(ledger, USER, limit=limit).lines
