"""The EVM watcher against a real anvil node: Transfer logs, decimals, confirmations, reorgs and RPC failures."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal

import pytest
from cryptopay.adapters.evm.addresses import derive_address
from cryptopay.adapters.evm.rpc import Backoff, connect
from cryptopay.adapters.evm.watcher import MATCH_LOCALLY_FROM, EvmWatcher
from cryptopay.core.errors import Unavailable
from cryptopay.core.money import Money
from cryptopay.core.scanning import ChainScanner
from cryptopay.core.testing.chains import InMemoryScanCursorStore
from cryptopay.sandbox.anvil import dev_account_key, free_port
from eth_account import Account
from web3 import Web3

from .conftest import FAST, EvmEnv

pytestmark = pytest.mark.anvil


_MODE = {"match_locally_from": MATCH_LOCALLY_FROM}


@pytest.fixture(autouse=True, params=["to-topic filter", "local match"])
def scan_mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test twice: our addresses in the logs' ``to`` filter, and every ``Transfer`` log matched here."""
    _MODE["match_locally_from"] = MATCH_LOCALLY_FROM if request.param == "to-topic filter" else 1
    yield request.param
    _MODE["match_locally_from"] = MATCH_LOCALLY_FROM


def _watcher(evm: EvmEnv, **options: object) -> EvmWatcher:
    return EvmWatcher(evm.w3, evm.rails(), backoff=FAST, **(_MODE | options))  # type: ignore[arg-type]


def test_evm_scan_finds_transfers_of_both_decimals(evm: EvmEnv, fresh_index: int) -> None:
    """Transfers to our derived addresses become Money with the token's decimals (6 and 18)."""
    ours = derive_address(evm.xpub, fresh_index)
    start = evm.w3.eth.block_number + 1
    evm.pay(evm.usdt6, ours, 12_500_000)
    evm.pay(evm.usdt18, ours, 1_500_000_000_000_000_000)
    evm.pay(evm.usdt6, derive_address(evm.xpub, fresh_index + 1), 1)  # not watched in this scan
    found = _watcher(evm).scan(start, evm.w3.eth.block_number, [ours])
    assert [t.amount for t in found] == [Money.of("12.5", "USDT"), Money.of("1.5", "USDT")]
    assert {t.to_address for t in found} == {ours}
    assert found[0].token_contract == evm.usdt6 and found[1].token_contract == evm.usdt18
    assert all(t.block_time is not None and t.block_hash for t in found)


def test_evm_scan_sees_transfer_from_and_contract_payments(evm: EvmEnv, fresh_index: int) -> None:
    """``transferFrom`` and payments made by a contract (two in one transaction) are all recorded by log index."""
    ours = derive_address(evm.xpub, fresh_index)
    start = evm.w3.eth.block_number + 1
    owner, spender = (Web3.to_checksum_address(Account.from_key(dev_account_key(i)).address) for i in (2, 3))
    token = evm.token(evm.usdt6)
    evm.w3.eth.wait_for_transaction_receipt(token.functions.approve(spender, 5_000_000).transact({"from": owner}))
    evm.w3.eth.wait_for_transaction_receipt(
        token.functions.transferFrom(owner, ours, 5_000_000).transact({"from": spender})
    )
    payer = evm.w3.eth.contract(address=evm.payer, abi=evm.payer_abi)
    tx = payer.functions.payTwice(evm.usdt6, ours, 1_000_000, 2_000_000).transact({"from": evm.w3.eth.accounts[0]})
    evm.w3.eth.wait_for_transaction_receipt(tx)
    found = _watcher(evm).scan(start, evm.w3.eth.block_number, [ours.lower()])
    assert [str(t.amount.amount) for t in found] == ["5.000000", "1.000000", "2.000000"]
    assert found[0].from_address == owner and found[1].from_address == evm.payer
    assert found[1].tx_hash == found[2].tx_hash and found[1].index != found[2].index
    assert len({t.key for t in found}) == 3


def _paid_in_turn(evm: EvmEnv, fresh_index: int, count: int, *, gap: int) -> tuple[list[str], int, int]:
    """``count`` fresh addresses each paid once, ``gap`` blocks apart: the addresses and the blocks spanned."""
    addresses = [derive_address(evm.xpub, fresh_index + i) for i in range(count)]
    start = evm.w3.eth.block_number + 1
    for i, address in enumerate(addresses):
        evm.pay(evm.usdt6, address, 1_000 + i)
        evm.mine(gap)
    return addresses, start, evm.w3.eth.block_number


def test_evm_scan_batches_ranges_and_addresses(evm: EvmEnv, fresh_index: int) -> None:
    """Tiny block ranges and address batches find exactly what one big query finds."""
    addresses, start, end = _paid_in_turn(evm, fresh_index, 5, gap=2)
    big = _watcher(evm).scan(start, end, addresses)
    small = _watcher(evm, block_range=2, address_batch=2).scan(start, end, addresses)
    assert small == big and len(big) == 5


def test_evm_local_match_reads_a_range_the_node_refuses_in_halves(evm: EvmEnv, fresh_index: int) -> None:
    """A node capping a response (hosted nodes refuse a range with too many logs; here, more than 2 blocks) makes
    the local matching read the range in halves: the same transfers, never a stuck scan."""
    addresses, start, end = _paid_in_turn(evm, fresh_index, 3, gap=1)
    capped = connect(evm.node.url)
    real = capped.provider.make_request
    asked: list[tuple[int, int]] = []

    def capping(method: str, params: object) -> object:
        if method == "eth_getLogs":
            (query,) = params  # type: ignore[misc]
            first, last = int(query["fromBlock"], 16), int(query["toBlock"], 16)
            asked.append((first, last))
            if last - first > 1:
                return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, "message": "query returned too many"}}
        return real(method, params)  # type: ignore[arg-type]

    capped.provider.make_request = capping  # type: ignore[method-assign, assignment]
    local = EvmWatcher(capped, evm.rails(), backoff=FAST, match_locally_from=1).scan(start, end, addresses)
    assert local == _watcher(evm, match_locally_from=MATCH_LOCALLY_FROM).scan(start, end, addresses)
    answered = sorted((a, b) for a, b in asked if b - a <= 1)
    assert len(local) == 3 and asked[0] == (start, end)
    assert [n for a, b in answered for n in range(a, b + 1)] == list(range(start, end + 1))


def test_evm_confirmations_count_real_blocks(evm: EvmEnv, fresh_index: int) -> None:
    """A transfer has 1 confirmation in its own block and one more per block mined on top."""
    ours = derive_address(evm.xpub, fresh_index)
    start = evm.w3.eth.block_number + 1
    evm.pay(evm.usdt6, ours, 7)
    watcher = _watcher(evm)
    (transfer,) = watcher.scan(start, evm.w3.eth.block_number, [ours])
    assert watcher.confirmations(transfer) == 1
    evm.mine(3)
    assert watcher.confirmations(transfer) == 4
    assert watcher.required_confirmations(transfer) == 3


def _fork_in_time(evm: EvmEnv) -> None:
    """After a revert, the other branch's blocks get other timestamps: empty blocks re-mined in the same second
    on the same parent would have the same hashes as the reverted ones, and there would be no reorg to see."""
    latest = evm.w3.eth.get_block("latest")["timestamp"]
    evm.node.rpc("evm_setNextBlockTimestamp", hex(latest + 1_000 + next(_forks)))


_forks = itertools.count(1)


def test_evm_reorg_withdraws_transfer_and_redetects_it(evm: EvmEnv, fresh_index: int) -> None:
    """A transfer whose block is reorganised away has 0 confirmations; when it lands again the scanner finds it."""
    ours = derive_address(evm.xpub, fresh_index)
    watcher = _watcher(evm)
    cursors = InMemoryScanCursorStore()
    scanner = ChainScanner(watcher, cursors, start_block=evm.w3.eth.block_number + 1, reorg_depth=5)
    recorded: dict[tuple[str, str, int], object] = {}

    def sink(transfers: object) -> None:
        recorded.update({t.key: t for t in transfers})  # type: ignore[attr-defined]

    snapshot = evm.node.rpc("evm_snapshot")
    raw = evm.pay(evm.usdt6, ours, 3_000_000)
    evm.mine(1)
    first = scanner.step([ours], sink)
    (original,) = first.transfers
    assert watcher.confirmations(original) == 2

    evm.node.rpc("evm_revert", snapshot)
    _fork_in_time(evm)
    evm.mine(3)  # the other branch: the payment's block is gone
    assert watcher.confirmations(original) == 0
    assert scanner.step([ours], sink).transfers == ()

    sent = evm.w3.eth.send_raw_transaction(raw)  # the same payment lands again, in a new block
    evm.w3.eth.wait_for_transaction_receipt(sent, timeout=30)  # mined before the scan looks (a loaded machine)
    again = scanner.step([ours], sink)
    assert again.rewound or again.transfers
    (landed,) = [t for t in recorded.values() if t.block_hash != original.block_hash]  # type: ignore[attr-defined]
    assert landed.tx_hash == original.tx_hash and landed.amount == original.amount
    assert watcher.confirmations(landed) >= 1


def test_evm_scanner_rewinds_its_cursor_after_a_reorg(evm: EvmEnv, fresh_index: int) -> None:
    """When the cursor's block hash changes, the next step rewinds by the reorg depth and rescans."""
    watcher = _watcher(evm)
    cursors = InMemoryScanCursorStore()
    evm.mine(10)
    scanner = ChainScanner(watcher, cursors, start_block=evm.w3.eth.block_number - 8, reorg_depth=4)
    snapshot = evm.node.rpc("evm_snapshot")
    evm.mine(2)
    before = scanner.step([derive_address(evm.xpub, fresh_index)], lambda _: None)
    evm.node.rpc("evm_revert", snapshot)
    _fork_in_time(evm)
    evm.mine(3)
    after = scanner.step([derive_address(evm.xpub, fresh_index)], lambda _: None)
    assert after.rewound and after.from_block == before.to_block + 1 - 4
    assert cursors.load(watcher.network) == after.cursor


def test_evm_scan_cursor_carries_block_time(evm: EvmEnv, fresh_index: int) -> None:
    """The cursor stores the scanned block's hash and chain time (what invoice expiry reads)."""
    evm.node.rpc("evm_setNextBlockTimestamp", hex(evm.w3.eth.get_block("latest")["timestamp"] + 600))
    evm.mine(1)
    watcher = _watcher(evm)
    cursors = InMemoryScanCursorStore()
    head = evm.w3.eth.block_number
    step = ChainScanner(watcher, cursors, start_block=head - 1).step([derive_address(evm.xpub, fresh_index)], print)
    block = evm.w3.eth.get_block(head)
    assert step.cursor is not None and step.cursor.block_number == head
    assert step.cursor.block_hash == "0x" + bytes(block["hash"]).hex()
    assert int(step.cursor.block_time.timestamp()) == block["timestamp"]


def test_evm_dead_rpc_backs_off_then_gives_up_without_moving_the_cursor(evm: EvmEnv, fresh_index: int) -> None:
    """A node that does not answer is retried with growing waits, then Unavailable; the cursor stays put."""
    waits: list[float] = []
    dead = EvmWatcher(
        connect(f"http://127.0.0.1:{free_port()}", timeout=0.5),
        evm.rails(),
        backoff=Backoff(initial=0.01, factor=3, maximum=1, attempts=4),
        sleep=waits.append,
    )
    cursors = InMemoryScanCursorStore()
    with pytest.raises(Unavailable) as error:
        ChainScanner(dead, cursors).step([derive_address(evm.xpub, fresh_index)], print)
    assert waits == [0.01, 0.03, pytest.approx(0.09)]
    assert "127.0.0.1" not in error.value.message and cursors.load("ethereum") is None


def test_evm_watcher_recovers_when_the_node_comes_back(evm: EvmEnv, fresh_index: int) -> None:
    """Pointing at a dead port then at the live node: the retry after the backoff succeeds."""
    ours = derive_address(evm.xpub, fresh_index)
    start = evm.w3.eth.block_number + 1
    evm.pay(evm.usdt6, ours, 42)
    w3 = connect(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    waits: list[float] = []

    def sleep_then_revive(seconds: float) -> None:
        waits.append(seconds)
        w3.provider.endpoint_uri = evm.node.url  # type: ignore[attr-defined]

    watcher = EvmWatcher(w3, evm.rails(), backoff=FAST, sleep=sleep_then_revive)
    (found,) = watcher.scan(start, evm.w3.eth.block_number, [ours])
    assert found.amount.amount == Decimal("0.000042") and len(waits) == 1
