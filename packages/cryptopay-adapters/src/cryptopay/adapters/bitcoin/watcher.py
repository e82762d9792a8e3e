"""The ``ChainWatcher`` for Bitcoin over Esplora: payments to our addresses, confirmations, replaced transactions.

Payments are found per address (``/address/:a/txs`` then ``/txs/chain/:last``), which is cheap for a processor
with few open invoice addresses. ``pending`` lists mempool payments; ``transfer_state`` says DROPPED when a
payment's transaction vanished (RBF replacement, double spend, eviction) or one of its inputs was spent by
another transaction, so the invoice can move back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from cryptopay.adapters.bitcoin.esplora import EsploraClient
from cryptopay.core.errors import InvalidInput
from cryptopay.core.money import Asset, Money
from cryptopay.core.ports.chains import ObservedTransfer, TxState, one_by_one
from cryptopay.core.rails import BITCOIN, Finality, Token

__all__ = ["BitcoinWatcher"]


class BitcoinWatcher:
    """Reads Bitcoin through an Esplora-compatible API."""

    network = "bitcoin"

    def __init__(self, esplora: EsploraClient | str, *, token: Token | None = None) -> None:
        self._api = esplora if isinstance(esplora, EsploraClient) else EsploraClient(esplora)
        self._token = token or BITCOIN.token("BTC")

    def balance(self, address: str, asset: Asset) -> Money:
        """The mined, unspent outputs at ``address`` (a spend in the mempool counts as spent), for reconciliation."""
        if asset != self._token.asset:
            raise InvalidInput(f"bitcoin holds no {asset.code}")
        mined = (u for u in self._api.utxos(address) if u.get("status", {}).get("confirmed"))
        return self._token.to_money(sum(int(u["value"]) for u in mined))

    def total(self, addresses: Sequence[str], asset: Asset) -> Money:
        """Esplora has no batch call: one ``/address/<a>/utxo`` an address (``one_by_one``)."""
        return one_by_one(self.balance, addresses, asset)

    def head(self) -> int:
        return self._api.tip_height()

    def block_hash(self, number: int) -> str | None:
        return self._api.block_hash(number)

    def block_header(self, number: int) -> tuple[str, datetime] | None:
        block_hash = self._api.block_hash(number)
        block = self._api.block(block_hash) if block_hash else None
        if block_hash is None or block is None:
            return None
        return block_hash, datetime.fromtimestamp(int(block["timestamp"]), UTC)

    def scan(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[ObservedTransfer]:
        """Confirmed payments to ``addresses`` in blocks ``from_block..to_block``, in chain order."""
        found: dict[tuple[str, str, int], ObservedTransfer] = {}
        for address in set(addresses):
            for tx in self._history(address, from_block):
                height = tx["status"].get("block_height")
                if tx["status"].get("confirmed") and from_block <= int(height) <= to_block:
                    for transfer in self._outputs(tx, address):
                        found[transfer.key] = transfer
        return sorted(found.values(), key=lambda t: (t.block_number or 0, t.tx_hash, t.index))

    def pending(self, addresses: Sequence[str]) -> list[ObservedTransfer]:
        """Unconfirmed (mempool) payments to ``addresses``."""
        found = []
        for address in set(addresses):
            for tx in self._api.address_txs(address):
                if not tx["status"].get("confirmed"):
                    found += self._outputs(tx, address)
        return found

    def _history(self, address: str, from_block: int) -> Iterator[dict[str, Any]]:
        page = [tx for tx in self._api.address_txs(address) if tx["status"].get("confirmed")]
        while page:
            yield from page
            if int(page[-1]["status"]["block_height"]) < from_block:
                return  # newest first: everything further back is older than the range
            page = self._api.address_chain_txs(address, page[-1]["txid"])

    def _outputs(self, tx: dict[str, Any], address: str) -> list[ObservedTransfer]:
        status = tx["status"]
        confirmed = bool(status.get("confirmed"))
        senders = [v.get("prevout", {}).get("scriptpubkey_address") for v in tx.get("vin", [])]
        return [
            ObservedTransfer(
                network=self.network,
                tx_hash=tx["txid"],
                index=n,
                to_address=address,
                amount=self._token.to_money(int(out["value"])),
                block_number=int(status["block_height"]) if confirmed else None,
                block_hash=status.get("block_hash") if confirmed else None,
                block_time=datetime.fromtimestamp(int(status["block_time"]), UTC) if confirmed else None,
                from_address=senders[0] if senders and senders[0] else None,
            )
            for n, out in enumerate(tx.get("vout", []))
            if out.get("scriptpubkey_address") == address
        ]

    def final_block(self, finality: Finality) -> int | None:
        """Bitcoin has no finality signal, only depth (stores choose confirmations for it)."""
        return None

    def confirmations(self, transfer: ObservedTransfer) -> int:
        """0 while unconfirmed, replaced or reorganised away; else ``head - block + 1``."""
        status = self._api.tx_status(transfer.tx_hash)
        if not status or not status.get("confirmed"):
            return 0
        height = int(status["block_height"])
        if self._api.block_hash(height) != status.get("block_hash"):
            return 0
        return self.head() - height + 1

    def transfer_state(self, transfer: ObservedTransfer) -> TxState:
        """PENDING, CONFIRMED (in a canonical block) or DROPPED (replaced, double-spent or gone)."""
        tx = self._api.tx(transfer.tx_hash)
        if tx is None:
            return TxState.DROPPED
        if tx["status"].get("confirmed"):
            return TxState.CONFIRMED if self.confirmations(transfer) > 0 else TxState.PENDING
        for vin in tx.get("vin", []):
            if vin.get("is_coinbase") or not vin.get("txid"):
                continue
            spend = self._api.outspend(vin["txid"], int(vin["vout"]))
            if spend.get("spent") and spend.get("txid") != transfer.tx_hash:
                return TxState.DROPPED
        return TxState.PENDING
