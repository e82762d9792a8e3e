"""The in-memory withdrawal store: atomic nonce claims and first-writer-wins signed transactions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from cryptopay.core.money import Money
from cryptopay.core.ports.chains import PrivateKey
from cryptopay.core.testing.chains import InMemoryWithdrawalStore, StaticKeys
from hypothesis import given
from hypothesis import strategies as st


def test_evm_store_claims_give_concurrent_callers_distinct_nonces() -> None:
    """Fifty threads claiming for one address get fifty consecutive nonces from the chain's next nonce."""
    store = InMemoryWithdrawalStore()

    def claim(i: int) -> int:
        return store.claim(f"wd_{i}", network="bsc", from_address="0xAA", request_hash="h", chain_nonce=3).nonce

    with ThreadPoolExecutor(max_workers=10) as pool:
        nonces = sorted(pool.map(claim, range(50)))
    assert nonces == list(range(3, 53))


@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=20))
def test_evm_store_nonces_never_repeat_and_follow_the_chain(chain_nonces: list[int]) -> None:
    """Whatever nonces the chain reports, claimed nonces are unique and never below the chain's."""
    store = InMemoryWithdrawalStore()
    claimed = [
        store.claim(f"wd_{i}", network="ethereum", from_address="0xab", request_hash="h", chain_nonce=n).nonce
        for i, n in enumerate(chain_nonces)
    ]
    assert len(set(claimed)) == len(claimed)
    assert all(c >= n for c, n in zip(claimed, chain_nonces, strict=True))


def test_evm_store_keeps_the_first_signed_transaction() -> None:
    """A second attach for the same withdrawal returns the first signed bytes unchanged."""
    store = InMemoryWithdrawalStore()
    store.claim("wd", network="ethereum", from_address="0xab", request_hash="h", chain_nonce=0)
    fee = Money.of("0.001", "ETH")
    first = store.attach_signed("wd", tx_hash="0x01", raw_tx="0xaa", fee_cap=fee)
    second = store.attach_signed("wd", tx_hash="0x02", raw_tx="0xbb", fee_cap=fee)
    assert second == first and second.raw_tx == "0xaa"


def test_evm_private_keys_never_show_in_reprs() -> None:
    """PrivateKey and StaticKeys reprs and strs hide the secret bytes."""
    secret = bytes.fromhex("ab" * 32)
    key = StaticKeys({"0xAbC": secret}).private_key_for("0xabc")
    assert key.reveal() == secret
    for text in (repr(key), str(key), repr(PrivateKey(secret)), repr(StaticKeys({"0xabc": secret}))):
        assert "abab" not in text
