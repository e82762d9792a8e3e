"""EVM chain benchmark on anvil: payment detection latency (1-second blocks) and backlog scan rate.

Run: ``.venv/bin/python tests/bench/bench_chains.py`` (``make bench-chains``). It prints figures; it is not a test.

* latency: anvil mines a block every second; 1,000 deposit addresses are watched by the scanner polling every
  ``--poll`` seconds; for each payment, the time from its block first being visible on the node (an observer
  polls ``eth_blockNumber`` every 5 ms) to the scanner handing the transfer to its sink. Goal: p95 < 1 s.
* scan rate: a 10,000-block backlog (with payments spread through it) scanned from a cold cursor, in blocks/s.
* matching: the same blocks (other people's transfers of the token in every block, as on a public chain, and
  payments to ours) scanned for 100, 1,000, 3,000 and 10,000 watched addresses, once with our addresses in the ``to`` topic
  of the log filter (``address_batch`` 500 per request) and once reading every ``Transfer`` log of the range and
  matching ``to`` against the set here (``EvmWatcher(match_locally_from=...)``): seconds and requests of each, the
  ratio, and that both found the same transfers.
* custody reads (``--only-custody``): reconciliation's custody-on-chain read of 1,000 and 10,000 addresses' USDT
  balances, one ``balanceOf`` a call (as before review5 S10) against ``EvmWatcher.total`` (JSON-RPC batches of
  ``BALANCE_BATCH``): seconds and HTTP round trips of each, and that both totals agree.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import threading
import time
from collections.abc import Sequence
from typing import Any

from cryptopay.adapters.evm.addresses import derive_address
from cryptopay.adapters.evm.keys import account_xpub
from cryptopay.adapters.evm.rpc import connect
from cryptopay.adapters.evm.watcher import EvmWatcher
from cryptopay.core.money import USDT
from cryptopay.core.ports.chains import ObservedTransfer, one_by_one
from cryptopay.core.rails import rail_for
from cryptopay.core.scanning import ChainScanner
from cryptopay.core.testing.chains import InMemoryScanCursorStore
from cryptopay.sandbox.anvil import AnvilNode, compile_contracts, deploy_token
from web3 import HTTPProvider, Web3
from web3.types import RPCEndpoint, RPCResponse

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


@functools.cache
def _token_abi() -> list[dict[str, object]]:
    return compile_contracts()["TetherToken"].abi


def _addresses(count: int) -> list[str]:
    xpub = account_xpub(MNEMONIC)
    return [derive_address(xpub, i) for i in range(count)]


def _pay(w3: Web3, token: str, to: str, units: int) -> None:
    abi = _token_abi()
    contract = w3.eth.contract(address=Web3.to_checksum_address(token), abi=abi)
    contract.functions.mint(to, units).transact({"from": w3.eth.accounts[0]})


def _mine(node: AnvilNode, blocks: int) -> None:
    for _ in range(0, max(0, blocks), 500):  # anvil_mine slows down superlinearly on very large counts
        node.rpc("anvil_mine", hex(min(500, blocks)))
        blocks -= 500


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_latency(addresses: list[str], payments: int, poll: float) -> dict[str, float]:
    """Mine-to-record latency of ``payments`` payments with 1-second blocks."""
    with AnvilNode.start(block_time=1) as node:
        w3 = connect(node.url)
        token = deploy_token(node.url, decimals=6)
        watcher = EvmWatcher(w3, [rail_for("ethereum", "USDT", contract=token, chain_id=node.chain_id)])
        scanner = ChainScanner(
            watcher, InMemoryScanCursorStore(), start_block=w3.eth.block_number + 1, max_blocks=10_000
        )
        seen_at: dict[int, float] = {}
        recorded: dict[str, float] = {}
        stop = threading.Event()

        def observe() -> None:
            observer = connect(node.url)
            while not stop.is_set():
                seen_at.setdefault(observer.eth.block_number, time.perf_counter())
                time.sleep(0.005)

        def sink(transfers: Sequence[ObservedTransfer]) -> None:
            now = time.perf_counter()
            for t in transfers:
                recorded.setdefault(t.tx_hash, now)
                blocks[t.tx_hash] = int(t.block_number or 0)

        def scan() -> None:
            while not stop.is_set():
                scanner.step(addresses, sink)
                time.sleep(poll)

        blocks: dict[str, int] = {}
        threads = [threading.Thread(target=observe, daemon=True), threading.Thread(target=scan, daemon=True)]
        for thread in threads:
            thread.start()
        payer = connect(node.url)
        for _ in range(payments):
            _pay(payer, token, random.choice(addresses), random.randint(1, 10**9))
            time.sleep(random.uniform(0.3, 1.7))
        deadline = time.monotonic() + 5
        while len(recorded) < payments and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        latencies = [recorded[tx] - seen_at[blocks[tx]] for tx in recorded if blocks[tx] in seen_at]
    return {
        "payments": payments,
        "recorded": len(recorded),
        "p50_s": statistics.median(latencies),
        "p95_s": _percentile(latencies, 0.95),
        "max_s": max(latencies),
    }


def _random_addresses(count: int, rng: random.Random) -> list[str]:
    """Addresses nobody derives (the watcher does not care whose they are; deriving 10,000 takes minutes)."""
    return [Web3.to_checksum_address(rng.randbytes(20)) for _ in range(count)]


def bench_matching(
    counts: Sequence[int], blocks: int, background: int, payments: int, block_range: int, rounds: int = 3
) -> list[dict[str, float]]:
    """Scan ``blocks`` blocks, each with ``background`` transfers to strangers, holding ``payments`` transfers to
    the first 100 watched addresses, for each count of watched addresses, by topic filter and by local matching."""
    rng = random.Random(11)
    watched = _random_addresses(max(counts), rng)
    strangers = _random_addresses(500, rng)
    results: list[dict[str, float]] = []
    with AnvilNode.start(prune_history=True) as node:
        w3 = connect(node.url)
        token = deploy_token(node.url, decimals=6)
        contract = w3.eth.contract(address=Web3.to_checksum_address(token), abi=_token_abi())
        sender = w3.eth.accounts[0]
        start = w3.eth.block_number + 1
        node.rpc("evm_setAutomine", False)
        paying = set(rng.sample(range(blocks), min(payments, blocks)))
        for block in range(blocks):
            targets = [rng.choice(strangers) for _ in range(background)]
            if block in paying:
                targets.append(rng.choice(watched[:100]))
            for to in targets:
                contract.functions.mint(to, rng.randint(1, 10**9)).transact({"from": sender, "gas": 100_000})
            node.rpc("anvil_mine", "0x1")
        node.rpc("evm_setAutomine", True)
        head = w3.eth.block_number
        rails = [rail_for("ethereum", "USDT", contract=token, chain_id=node.chain_id)]
        for count in counts:
            addresses = watched[:count]
            row: dict[str, float] = {"addresses": count, "blocks": head - start + 1}
            found: dict[str, list[ObservedTransfer]] = {}
            for mode, threshold in (("filter", 10**9), ("local", 1)):
                counting = _CountingLogs(w3)
                watcher = EvmWatcher(counting.w3, rails, block_range=block_range, match_locally_from=threshold)
                times = []
                for _ in range(rounds):
                    began = time.perf_counter()
                    found[mode] = watcher.scan(start, head, addresses)
                    times.append(time.perf_counter() - began)
                row[f"{mode}_s"] = statistics.median(times)
                row[f"{mode}_requests"] = counting.requests / rounds
                row[f"{mode}_logs"] = counting.logs / rounds
            row["transfers"] = len(found["filter"])
            row["same"] = float(found["filter"] == found["local"])
            results.append(row)
    return results


class _CountingLogs:
    """Counts the ``eth_getLogs`` requests a client sends and the logs they return (its provider wrapped)."""

    def __init__(self, w3: Web3) -> None:
        self.requests = 0
        self.logs = 0
        self.w3 = connect(w3.provider.endpoint_uri)  # type: ignore[attr-defined]
        provider = self.w3.provider
        real = provider.make_request

        def make_request(method: str, params: object) -> dict[str, object]:
            answer = real(method, params)  # type: ignore[arg-type]
            if method == "eth_getLogs":
                self.requests += 1
                self.logs += len(answer.get("result") or [])
            return dict(answer)

        provider.make_request = make_request  # type: ignore[method-assign, assignment]


class _CountingProvider(HTTPProvider):
    """The node's HTTP transport, counting round trips."""

    posts = 0

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        self.posts += 1
        return super().make_request(method, params)

    def make_batch_request(self, requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        self.posts += 1
        return super().make_batch_request(requests)


def bench_custody(counts: Sequence[int], paid: int) -> list[dict[str, float]]:
    """Read ``count`` addresses' USDT (``paid`` of them holding some) one a call and in batches."""
    rows = []
    with AnvilNode.start() as node:
        w3 = connect(node.url)
        token = deploy_token(node.url, decimals=6)
        rng = random.Random(7)
        everyone = _random_addresses(max(counts), rng)
        for address in everyone[:paid]:
            _pay(w3, token, address, rng.randint(1, 10**9))
        rail = rail_for("ethereum", "USDT", contract=token, chain_id=node.chain_id)
        for count in counts:
            addresses = everyone[:count]
            transport = _CountingProvider(node.url, exception_retry_configuration=None)
            reader = EvmWatcher(Web3(transport), [rail])
            began = time.perf_counter()
            one = one_by_one(reader.balance, addresses, USDT)
            one_s, one_posts = time.perf_counter() - began, transport.posts
            transport.posts = 0
            began = time.perf_counter()
            batched = reader.total(addresses, USDT)
            batch_s, batch_posts = time.perf_counter() - began, transport.posts
            rows.append(
                {
                    "addresses": count,
                    "one_s": one_s,
                    "one_posts": one_posts,
                    "batch_s": batch_s,
                    "batch_posts": batch_posts,
                    "same": float(one == batched),
                }
            )
    return rows


def bench_backlog(addresses: list[str], backlog: int, payments: int, block_range: int) -> dict[str, float]:
    """Scan a cold ``backlog``-block range with ``payments`` transfers spread through it."""
    with AnvilNode.start(prune_history=True) as node:
        w3 = connect(node.url)
        token = deploy_token(node.url, decimals=6)
        start = w3.eth.block_number + 1
        per_gap = max(1, backlog // max(1, payments))
        for _ in range(payments):
            _pay(w3, token, random.choice(addresses), random.randint(1, 10**9))
            _mine(node, per_gap - 1)
        _mine(node, backlog - (w3.eth.block_number - start + 1))
        head = w3.eth.block_number
        watcher = EvmWatcher(
            w3, [rail_for("ethereum", "USDT", contract=token, chain_id=node.chain_id)], block_range=block_range
        )
        scanner = ChainScanner(watcher, InMemoryScanCursorStore(), start_block=start, max_blocks=backlog)
        found: list[ObservedTransfer] = []
        began = time.perf_counter()
        while True:
            step = scanner.step(addresses, found.extend)
            if step.to_block >= head:
                break
        elapsed = time.perf_counter() - began
    return {
        "blocks": head - start + 1,
        "transfers": len(found),
        "seconds": elapsed,
        "blocks_per_s": (head - start + 1) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=1000)
    parser.add_argument("--payments", type=int, default=20)
    parser.add_argument("--poll", type=float, default=0.1, help="scanner poll interval, seconds")
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--block-range", type=int, default=2_000)
    parser.add_argument("--match-blocks", type=int, default=300, help="blocks of the matching bench")
    parser.add_argument("--background", type=int, default=20, help="strangers' transfers per block (matching)")
    parser.add_argument("--only-matching", action="store_true", help="run the matching bench alone")
    parser.add_argument("--only-custody", action="store_true", help="run the custody read bench alone")
    args = parser.parse_args()
    random.seed(7)
    compile_contracts()
    for row in bench_custody((1_000, 10_000), paid=args.payments):
        print(
            f"custody read of {row['addresses']:.0f} addresses' USDT: one a call {row['one_s']:.2f} s in "
            f"{row['one_posts']:.0f} round trips; batched {row['batch_s']:.2f} s in {row['batch_posts']:.0f} "
            f"round trips = {row['one_s'] / row['batch_s']:.1f}x faster; same total: {bool(row['same'])}"
        )
    if args.only_custody:
        return
    matching = bench_matching(
        (100, 1_000, 3_000, 10_000), args.match_blocks, args.background, args.payments * 5, args.block_range
    )
    for row in matching:
        print(
            f"matching {row['addresses']:.0f} addresses over {row['blocks']:.0f} blocks ({args.background} strangers' "
            f"transfers/block, {row['transfers']:.0f} ours): to-topic filter {row['filter_s']:.3f} s in "
            f"{row['filter_requests']:.0f} requests ({row['filter_logs']:.0f} logs); local match "
            f"{row['local_s']:.3f} s in {row['local_requests']:.0f} requests ({row['local_logs']:.0f} logs); "
            f"filter/local = {row['filter_s'] / row['local_s']:.2f}x; same transfers: {bool(row['same'])}"
        )
    if args.only_matching:
        return
    began = time.perf_counter()
    addresses = _addresses(args.addresses)
    print(f"derived {len(addresses)} watched addresses in {time.perf_counter() - began:.2f} s")
    latency = bench_latency(addresses, args.payments, args.poll)
    print(
        f"latency (1 s blocks, {len(addresses)} addresses, poll {args.poll} s): {latency['recorded']}/"
        f"{latency['payments']} payments recorded; mined->recorded p50 {latency['p50_s']:.3f} s, "
        f"p95 {latency['p95_s']:.3f} s, max {latency['max_s']:.3f} s (goal p95 < 1 s)"
    )
    backlog = bench_backlog(addresses, args.backlog, args.payments * 10, args.block_range)
    print(
        f"backlog scan: {backlog['blocks']} blocks, {backlog['transfers']} transfers to {len(addresses)} addresses "
        f"in {backlog['seconds']:.2f} s = {backlog['blocks_per_s']:.0f} blocks/s (block range {args.block_range})"
    )


if __name__ == "__main__":
    main()
