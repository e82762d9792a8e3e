"""The ``ChainWatcher`` for EVM chains: ERC20 ``Transfer`` logs to our addresses, by block range.

Logs are fetched with the token contracts as the address filter, in batches of ``block_range`` blocks. Up to
``match_locally_from`` watched addresses they go in the ``to`` topic, ``address_batch`` at a time; from that many
on, every ``Transfer`` log of the tokens in the range is read once and its ``to`` matched against the set of
watched addresses here (one request per range instead of one per batch: see ``make bench-chains``). Transfers are
matched by receiving address only (never by sender or amount), so ``transfer``, ``transferFrom`` and payments made
by contracts all count.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from cryptopay.adapters.evm.rpc import Backoff, call_with_backoff, connect
from cryptopay.adapters.evm.sender import balance_of_call, erc20_balance
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import Asset, Money
from cryptopay.core.ports.chains import ObservedTransfer
from cryptopay.core.rails import Finality, Rail, Token
from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.exceptions import BlockNotFound, Web3RPCError
from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint

__all__ = ["BALANCE_BATCH", "MATCH_LOCALLY_FROM", "TRANSFER_TOPIC", "EvmWatcher", "address_topic"]

BALANCE_BATCH = 100  # balance reads a JSON-RPC batch carries (hosted nodes cap batches at 100 to 1,000 calls)
MATCH_LOCALLY_FROM = 5_000  # watched addresses from which reading every Transfer log is cheaper (bench-chains)
TRANSFER_TOPIC = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")


def address_topic(address: str) -> str:
    """An address as a 32-byte log topic."""
    return "0x" + "0" * 24 + address.lower().removeprefix("0x")


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex() if not isinstance(value, str) else value


def _int(value: Any) -> int:
    """A log's number, formatted by web3 (int) or as the node sent it (a hex string)."""
    return int(value, 16) if isinstance(value, str) else int(value)


def _to_topic(log: Any) -> str | None:
    """A ``Transfer`` log's ``to`` topic, lower-cased as ``address_topic`` gives it (None: not an ERC20 transfer)."""
    topics = log["topics"]
    return _hex(topics[2]).lower() if len(topics) == 3 else None


def _balance_request(address: str, token_contract: str | None) -> tuple[RPCEndpoint, Any]:
    """The JSON-RPC read of ``address``'s coin balance (no contract) or its ``balanceOf`` on ``token_contract``."""
    holder = to_checksum_address(address)
    if token_contract is None:
        return RPCEndpoint("eth_getBalance"), [holder, "latest"]
    return RPCEndpoint("eth_call"), [balance_of_call(token_contract, holder), "latest"]


def _chunks(start: int, end: int, size: int) -> Iterator[tuple[int, int]]:
    while start <= end:
        yield start, min(end, start + size - 1)
        start += size


class EvmWatcher:
    """Reads one EVM network (Ethereum, Polygon or BSC: same code, per-network rails and settings)."""

    def __init__(
        self,
        rpc: str | Web3,
        rails: Sequence[Rail],
        *,
        block_range: int = 2_000,
        address_batch: int = 500,
        balance_batch: int = BALANCE_BATCH,
        match_locally_from: int = MATCH_LOCALLY_FROM,
        backoff: Backoff = Backoff(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        tokens = [rail for rail in rails if rail.token.contract]
        if not tokens or len({rail.network.name for rail in rails}) != 1:
            raise InvalidInput("an EVM watcher needs token rails of exactly one network")
        if block_range < 1 or address_batch < 1 or match_locally_from < 1 or balance_batch < 1:
            raise InvalidInput("block_range, address_batch, balance_batch and match_locally_from must be at least 1")
        self.network = tokens[0].network.name
        self._native = tokens[0].network.native  # the coin that pays gas (its balance: the treasury's gas)
        self._w3 = connect(rpc) if isinstance(rpc, str) else rpc
        self._tokens: dict[str, Token] = {str(r.token.contract).lower(): r.token for r in tokens}
        self._depth = {r.token.asset.code: r.confirmations for r in tokens}
        self._block_range = block_range
        self._address_batch = address_batch
        self._balance_batch = balance_batch
        self._match_locally_from = match_locally_from
        self._backoff = backoff
        self._sleep = sleep
        self._times: dict[str, datetime] = {}

    def _call(self, what: str, action: Callable[[], Any]) -> Any:
        return call_with_backoff(action, what=what, network=self.network, backoff=self._backoff, sleep=self._sleep)

    def head(self) -> int:
        """The latest block number."""
        return int(self._call("reading the head", lambda: self._w3.eth.block_number))

    def final_block(self, finality: Finality) -> int | None:
        """The number of the block the node tags ``safe`` or ``finalized`` (``eth_getBlockByNumber``; None when the
        node has none yet, e.g. a chain younger than an epoch)."""
        block = self._block(finality.value)  # type: ignore[arg-type]  # a block tag, not a number
        return None if block is None else int(block["number"])

    def block_hash(self, number: int) -> str | None:
        """The canonical hash of block ``number`` (None beyond the head)."""
        header = self.block_header(number)
        return None if header is None else header[0]

    def block_header(self, number: int) -> tuple[str, datetime] | None:
        """The canonical hash and timestamp of block ``number`` (None beyond the head)."""
        block = self._block(number)
        if block is None:
            return None
        return _hex(block["hash"]), datetime.fromtimestamp(int(block["timestamp"]), UTC)

    def _block(self, ref: int | HexStr) -> Any:
        def fetch() -> Any:
            try:
                return self._w3.eth.get_block(ref)
            except BlockNotFound:
                return None

        return self._call(f"reading block {ref}", fetch)

    def scan(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[ObservedTransfer]:
        """Every token transfer to ``addresses`` in blocks ``from_block..to_block``, in chain order."""
        if from_block > to_block or not addresses:
            return []
        topics = sorted({address_topic(a) for a in addresses})
        logs: list[Any] = []
        local = len(topics) >= self._match_locally_from
        watched = set(topics)
        for start, end in _chunks(from_block, to_block, self._block_range):
            if local:
                logs += [log for log in self._every_log(start, end) if _to_topic(log) in watched]
                continue
            for i in range(0, len(topics), self._address_batch):
                logs += self._logs(start, end, topics[i : i + self._address_batch])
        logs.sort(key=lambda log: (_int(log["blockNumber"]), _int(log["logIndex"])))
        return [t for t in (self._transfer(log) for log in logs) if t is not None]

    def _every_log(self, start: int, end: int) -> list[Any]:
        """Every ``Transfer`` log of the tokens in blocks ``start..end``, as the node sent it (hex strings: web3's
        formatting of thousands of strangers' logs costs ten times the request; only ours are read further). A
        range the node refuses (hosted nodes cap a response's logs) is read again in halves."""
        params = {
            "fromBlock": hex(start),
            "toBlock": hex(end),
            "address": [to_checksum_address(c) for c in self._tokens],
            "topics": [TRANSFER_TOPIC],
        }

        def fetch() -> Any:
            answer = self._w3.provider.make_request(RPCEndpoint("eth_getLogs"), [params])
            if not isinstance(answer.get("result"), list) and start == end:
                raise Web3RPCError(f"eth_getLogs of block {start} failed: {str(answer.get('error'))[:200]}")
            return answer

        answer = self._call(f"fetching every transfer log of blocks {start}-{end}", fetch)
        if isinstance(answer.get("result"), list):
            return list(answer["result"])
        middle = (start + end) // 2
        return self._every_log(start, middle) + self._every_log(middle + 1, end)

    def _logs(self, start: int, end: int, topics: list[str]) -> list[Any]:
        params: Any = {
            "fromBlock": start,
            "toBlock": end,
            "address": [to_checksum_address(c) for c in self._tokens],
            "topics": [TRANSFER_TOPIC, None, topics],
        }
        return list(self._call(f"fetching logs of blocks {start}-{end}", lambda: self._w3.eth.get_logs(params)))

    def _transfer(self, log: Any) -> ObservedTransfer | None:
        token = self._tokens.get(str(log["address"]).lower())
        if token is None or log.get("removed") or len(log["topics"]) != 3:
            return None  # an ERC721 Transfer has 4 topics; a removed log was reorganised away
        block_hash = _hex(log["blockHash"])
        return ObservedTransfer(
            network=self.network,
            tx_hash=_hex(log["transactionHash"]).lower(),
            index=_int(log["logIndex"]),
            to_address=to_checksum_address("0x" + _hex(log["topics"][2])[-40:]),
            amount=token.to_money(int(_hex(log["data"]), 16)),
            block_number=_int(log["blockNumber"]),
            block_hash=block_hash,
            block_time=self._time_of(block_hash),
            from_address=to_checksum_address("0x" + _hex(log["topics"][1])[-40:]),
            token_contract=to_checksum_address(str(log["address"])),
        )

    def _time_of(self, block_hash: str) -> datetime | None:
        if block_hash not in self._times:
            block = self._block(HexStr(block_hash))
            if block is None:
                return None
            if len(self._times) > 10_000:
                self._times.clear()
            self._times[block_hash] = datetime.fromtimestamp(int(block["timestamp"]), UTC)
        return self._times[block_hash]

    def balance(self, address: str, asset: Asset) -> Money:
        """``asset``'s token balance at ``address`` (``balanceOf`` on the rail's contract), or the network's coin."""
        token = self._token_of(asset)
        if token.contract is None:
            checksummed = Web3.to_checksum_address(address)
            wei = self._call(
                f"reading the {asset.code} balance of {address}", lambda: self._w3.eth.get_balance(checksummed)
            )
            return token.to_money(int(wei))
        contract = str(token.contract)
        units = self._call(
            f"reading the {asset.code} balance of {address}", lambda: erc20_balance(self._w3, contract, address)
        )
        return token.to_money(int(units))

    def total(self, addresses: Sequence[str], asset: Asset) -> Money:
        """What ``addresses`` hold of ``asset`` together: ``eth_getBalance`` or ``balanceOf`` calls sent as JSON-RPC
        batches of ``balance_batch`` (one HTTP round trip each, retried whole: they only read)."""
        token = self._token_of(asset)
        units = 0
        for start in range(0, len(addresses), self._balance_batch):
            chunk = addresses[start : start + self._balance_batch]
            requests = [_balance_request(a, None if token.contract is None else str(token.contract)) for a in chunk]
            what = f"reading {len(chunk)} {asset.code} balances"
            units += sum(self._call(what, partial(self._batch, requests)))
        return token.to_money(units)

    def _token_of(self, asset: Asset) -> Token:
        """``asset`` on this network: its own coin (no contract) or a token rail's; ``InvalidInput`` when neither."""
        if self._native is not None and asset == self._native.asset:
            return self._native
        token = next((t for t in self._tokens.values() if t.asset == asset), None)
        if token is None:
            raise InvalidInput(f"{self.network} has no {asset.code} token rail")
        return token

    def _batch(self, requests: list[tuple[RPCEndpoint, Any]]) -> list[int]:
        """One JSON-RPC batch of quantity-answering reads; a refused batch or any failed entry raises (retried)."""
        provider = self._w3.provider
        if not isinstance(provider, JSONBaseProvider):
            raise InvalidInput(f"{self.network}'s web3 provider cannot send JSON-RPC batches")
        answers = provider.make_batch_request(requests)
        if not isinstance(answers, list) or len(answers) != len(requests):
            error = answers.get("error") if isinstance(answers, dict) else None
            raise Web3RPCError(f"{self.network} node refused a batch of {len(requests)} reads: {str(error)[:200]}")
        failed = next((a for a in answers if a.get("error") is not None or a.get("result") is None), None)
        if failed is not None:
            raise Web3RPCError(f"{self.network} balance read failed in a batch: {str(failed.get('error'))[:200]}")
        return [int(str(a["result"]), 16) if str(a["result"]) != "0x" else 0 for a in answers]

    def confirmations(self, transfer: ObservedTransfer) -> int:
        """0 if unmined or its block is no longer canonical (reorganised away), else head - block + 1."""
        if transfer.block_number is None or transfer.block_hash is None:
            return 0
        canonical = self.block_hash(transfer.block_number)
        if canonical is None or canonical.lower() != transfer.block_hash.lower():
            return 0
        return max(0, self.head() - transfer.block_number + 1)

    def required_confirmations(self, transfer: ObservedTransfer) -> int:
        """The configured confirmation depth for the transfer's asset on this network."""
        return self._depth[transfer.amount.asset.code]
