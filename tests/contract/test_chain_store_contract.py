"""Scan cursors, withdrawal/nonce bookkeeping and hot keys: the same behaviour from memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptopay.adapters.sql.repositories.chains import SqlScanCursorStore, SqlWithdrawalStore
from cryptopay.adapters.sql.repositories.keys import SqlKeyStore
from cryptopay.core.errors import Conflict, NotFound
from cryptopay.core.money import Money
from cryptopay.core.ports.chains import ScanCursor
from cryptopay.core.ports.vault import StoredKey
from cryptopay.core.testing.chains import InMemoryScanCursorStore, InMemoryWithdrawalStore
from cryptopay.core.testing.vault import InMemoryKeyStore

from tests.support.sql_engines import SQL_BACKENDS, backend_engine, race

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SENDER = "0xAbCd000000000000000000000000000000000001"


@pytest.fixture
def cursors(engine):
    return InMemoryScanCursorStore() if engine is None else SqlScanCursorStore(engine)


@pytest.fixture
def withdrawals(engine):
    return InMemoryWithdrawalStore() if engine is None else SqlWithdrawalStore(engine)


@pytest.fixture
def keys(engine):
    return InMemoryKeyStore() if engine is None else SqlKeyStore(engine)


def claim(store, withdrawal_id: str, chain_nonce: int = 0, address: str = SENDER, network: str = "ethereum"):
    return store.claim(withdrawal_id, network=network, from_address=address, request_hash="rh", chain_nonce=chain_nonce)


def test_scan_cursors_are_kept_per_network_and_replaced(cursors):
    """Each network keeps its own cursor; saving again replaces it; an unscanned network has none."""
    tron = ScanCursor("tron", 100, "0xaa", NOW)
    cursors.save(tron)
    cursors.save(ScanCursor("ethereum:usdt", 7, "0xbb", NOW))
    cursors.save(ScanCursor("ethereum:usdt", 2**40, "0xcc", NOW + timedelta(seconds=12)))
    assert cursors.load("tron") == tron
    assert cursors.load("ethereum:usdt") == ScanCursor("ethereum:usdt", 2**40, "0xcc", NOW + timedelta(seconds=12))
    assert cursors.load("bitcoin") is None


def test_claims_bind_one_nonce_per_withdrawal(withdrawals):
    """A claim takes max(chain nonce, next stored nonce); retrying a claim returns the nonce it already owns."""
    first = claim(withdrawals, "wd_1", chain_nonce=7)
    assert (first.nonce, first.request_hash, first.tx_hash) == (7, "rh", None)
    assert claim(withdrawals, "wd_2", chain_nonce=3, address=SENDER.lower()).nonce == 8
    assert claim(withdrawals, "wd_1", chain_nonce=20) == first
    assert claim(withdrawals, "wd_3", chain_nonce=12).nonce == 12
    assert claim(withdrawals, "wd_4", chain_nonce=0, network="polygon").nonce == 0
    assert withdrawals.get("wd_1") == first and withdrawals.get("wd_9") is None


def test_the_first_signed_transaction_wins(withdrawals):
    """Attaching a signed transaction stores it once; a later attach returns the stored one unchanged."""
    claim(withdrawals, "wd_1", chain_nonce=5)
    fee = Money.of("0.000420000000000001", "ETH")
    stored = withdrawals.attach_signed("wd_1", tx_hash="0xt1", raw_tx="0xf86b01", fee_cap=fee)
    assert (stored.tx_hash, stored.raw_tx, stored.fee_cap, stored.nonce) == ("0xt1", "0xf86b01", fee, 5)
    again = withdrawals.attach_signed("wd_1", tx_hash="0xt2", raw_tx="0xf86b02", fee_cap=None)
    assert again == stored == withdrawals.get("wd_1")
    with pytest.raises(NotFound):
        withdrawals.attach_signed("wd_9", tx_hash="0x", raw_tx="0x", fee_cap=None)


def test_concurrent_claims_never_share_a_nonce(withdrawals):
    """Eight withdrawals claimed at once from one address get eight distinct, consecutive nonces."""
    records = race(8, lambda i: claim(withdrawals, f"wd_{i}", chain_nonce=3))
    assert sorted(r.nonce for r in records) == list(range(3, 11))


def test_concurrent_claims_of_one_withdrawal_agree(withdrawals):
    """Eight concurrent claims of one withdrawal: one record, one nonce, and the next claim gets the next nonce."""
    records = race(8, lambda i: claim(withdrawals, "wd_1", chain_nonce=4))
    assert {r.nonce for r in records} == {4} and len(set(records)) == 1
    assert claim(withdrawals, "wd_2").nonce == 5


def stored_key(n: int) -> StoredKey:
    return StoredKey(
        f"hk_{n}", "tron", f"hot {n}", f"TAddr{n}", f"02pub{n}", b"\x00blob\xff" + bytes([n]), NOW + timedelta(n)
    )


def test_hot_keys_add_get_list_and_rewrap(keys):
    """Keys come back whole, oldest first; ids are unique; a re-wrapped blob replaces the old one."""
    for n in (1, 2):
        keys.add(stored_key(n))
    assert keys.get("hk_1") == stored_key(1) and keys.list() == [stored_key(1), stored_key(2)]
    with pytest.raises(Conflict):
        keys.add(stored_key(1))
    keys.replace_blob("hk_2", b"rewrapped")
    assert keys.get("hk_2").blob == b"rewrapped"
    with pytest.raises(NotFound):
        keys.get("hk_9")


@pytest.fixture(params=SQL_BACKENDS)
def sql_engine(request, tmp_path):
    yield from backend_engine(request, tmp_path)


def test_nonces_survive_a_restart(sql_engine):
    """A new store on the same database (a restarted process) continues the nonce sequence and keeps every record."""
    claim(SqlWithdrawalStore(sql_engine), "wd_1", chain_nonce=9)
    sql_engine.dispose()
    restarted = SqlWithdrawalStore(sql_engine)
    assert claim(restarted, "wd_2", chain_nonce=0).nonce == 10
    assert restarted.get("wd_1").nonce == 9
