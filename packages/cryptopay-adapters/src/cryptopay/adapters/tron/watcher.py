"""The ``ChainWatcher`` for Tron: TRC20 ``Transfer`` events (TronGrid v1) to our addresses, by block range.

Transfers are read from event logs, not from ``transfer`` calls, so ``transferFrom`` and transfers made by
other contracts are seen too. Confirmations count solidified blocks: a transfer has none until its block is
solidified (irreversible), then ``solid head - block + 1``; a transfer whose block hash changed has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cryptopay.adapters.tron.client import TronApi, trc20_balance
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import Asset, Money
from cryptopay.core.ports.chains import ObservedTransfer, one_by_one
from cryptopay.core.rails import Finality, Rail, Token
from tronpy.keys import to_base58check_address

__all__ = ["TronWatcher", "tron_address"]


def tron_address(value: str) -> str:
    """A base58 address from TronGrid's ``0x``-hex, ``41``-hex or base58 forms."""
    if value.startswith("0x") and len(value) == 42:
        value = "41" + value[2:]
    return str(to_base58check_address(value))


def _time(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, UTC)


_HEADER_CACHE_SIZE = 2048


class TronWatcher:
    """Reads Tron through a TronGrid-compatible API (TronGrid itself, a full node + event server, or the simulator)."""

    network = "tron"

    def __init__(self, api: TronApi | str, rails: Sequence[Rail], *, page_size: int = 200) -> None:
        tokens = [rail.token for rail in rails if rail.token.contract and rail.network.name == "tron"]
        if not tokens:
            raise InvalidInput("a Tron watcher needs at least one TRC20 rail on tron")
        self._api = api if isinstance(api, TronApi) else TronApi(api)
        self._tokens: dict[str, Token] = {tron_address(str(t.contract)): t for t in tokens}
        self._page_size = page_size
        self._headers: dict[int, tuple[str, datetime]] = {}

    def balance(self, address: str, asset: Asset) -> Money:
        """``asset``'s TRC20 balance at ``address`` (``balanceOf`` on the rail's contract), for reconciliation."""
        found = next(((c, t) for c, t in self._tokens.items() if t.asset == asset), None)
        if found is None:
            raise InvalidInput(f"tron has no {asset.code} token rail")
        contract, token = found
        return token.to_money(trc20_balance(self._api, contract, address))

    def total(self, addresses: Sequence[str], asset: Asset) -> Money:
        """TronGrid has no batch call: one ``balanceOf`` an address (``one_by_one``)."""
        return one_by_one(self.balance, addresses, asset)

    def head(self) -> int:
        """The latest block number."""
        return self._number(self._api.post("reading the head", "wallet/getnowblock", {"visible": True}))

    def solid_head(self) -> int:
        """The latest solidified (irreversible) block number."""
        return self._number(self._api.post("reading the solid head", "walletsolidity/getnowblock", {"visible": True}))

    def final_block(self, finality: Finality) -> int | None:
        """Tron's finality is its solidified head (``finalized``); it has no weaker ``safe`` signal."""
        return self.solid_head() if finality is Finality.FINALIZED else None

    @staticmethod
    def _number(block: dict[str, Any]) -> int:
        return int(block["block_header"]["raw_data"]["number"])

    def block_header(self, number: int) -> tuple[str, datetime] | None:
        """The canonical id and time of block ``number`` (None beyond the head)."""
        block = self._api.post(f"reading block {number}", "wallet/getblockbynum", {"num": number, "visible": True})
        if not block.get("blockID"):
            return None
        return str(block["blockID"]), _time(int(block["block_header"]["raw_data"]["timestamp"]))

    def block_hash(self, number: int) -> str | None:
        header = self.block_header(number)
        return None if header is None else header[0]

    def scan(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[ObservedTransfer]:
        """Every TRC20 transfer of our tokens to ``addresses`` in blocks ``from_block..to_block``, in chain order."""
        if from_block > to_block or not addresses:
            return []
        first, last = self.block_header(from_block), self.block_header(to_block)
        if first is None or last is None:
            return []
        ours = set(addresses)
        window = (int(first[1].timestamp() * 1000), int(last[1].timestamp() * 1000))
        found: list[ObservedTransfer] = []
        for contract, token in self._tokens.items():
            for event in self._events(contract, window):
                if from_block <= int(event["block_number"]) <= to_block:
                    transfer = self._transfer(event, token, ours)
                    if transfer is not None:
                        found.append(transfer)
        found.sort(key=lambda t: (t.block_number or 0, t.tx_hash, t.index))
        return found

    def _events(self, contract: str, window: tuple[int, int]) -> list[dict[str, Any]]:
        params: dict[str, Any] = {
            "event_name": "Transfer",
            "min_block_timestamp": window[0],
            "max_block_timestamp": window[1],
            "order_by": "block_timestamp,asc",
            "limit": self._page_size,
        }
        events: list[dict[str, Any]] = []
        while True:
            page = self._api.get_v1(f"reading {contract} events", f"/v1/contracts/{contract}/events", params)
            events += page.get("data", [])
            fingerprint = page.get("meta", {}).get("fingerprint")
            if not fingerprint:
                return events
            params = {**params, "fingerprint": fingerprint}

    def _transfer(self, event: dict[str, Any], token: Token, ours: set[str]) -> ObservedTransfer | None:
        result = event.get("result", {})
        if event.get("event_name") != "Transfer" or "to" not in result:
            return None
        receiver = tron_address(str(result["to"]))
        if receiver not in ours:
            return None
        number = int(event["block_number"])
        header = self._header_cached(number)
        return ObservedTransfer(
            network=self.network,
            tx_hash=str(event["transaction_id"]).lower(),
            index=int(event["event_index"]),
            to_address=receiver,
            amount=token.to_money(int(result["value"])),
            block_number=number,
            block_hash=header[0] if header else None,
            block_time=_time(int(event["block_timestamp"])),
            from_address=tron_address(str(result["from"])),
            token_contract=tron_address(str(event["contract_address"])),
        )

    def _header_cached(self, number: int) -> tuple[str, datetime] | None:
        if number not in self._headers:
            header = self.block_header(number)
            if header is None:
                return None
            self._headers[number] = header
            if len(self._headers) > _HEADER_CACHE_SIZE:  # a long-running worker must not keep every block it saw
                del self._headers[next(iter(self._headers))]
        return self._headers[number]

    def confirmations(self, transfer: ObservedTransfer) -> int:
        """0 until the block is solidified (or if it left the chain), then ``solid head - block + 1``."""
        if transfer.block_number is None:
            return 0
        self._headers.pop(transfer.block_number, None)
        header = self.block_header(transfer.block_number)
        if header is None or transfer.block_hash is None or header[0].lower() != transfer.block_hash.lower():
            return 0
        solid = self.solid_head()
        return solid - transfer.block_number + 1 if transfer.block_number <= solid else 0
