"""The in-memory Bitcoin chain behind the Esplora simulator: blocks, a mempool with RBF, UTXOs and reorgs.

Payments from outside are synthetic transactions spending a payer's coin; withdrawals are real signed
transactions (parsed and signature-checked with bitcoinlib) spending coins the chain knows.

>>> chain = BitcoinChain()
>>> txid = chain.pay("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", 50_000)
>>> chain.mine() and chain.status(txid)["confirmed"]
True
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from typing import Any

import attrs
from cryptopay.adapters._hd import bitcoinlib_home

bitcoinlib_home()  # before bitcoinlib is imported: its data dir lives inside ours
from bitcoinlib.encoding import addr_to_pubkeyhash  # noqa: E402
from bitcoinlib.transactions import Transaction  # noqa: E402

__all__ = ["BitcoinChain", "SimulatedRejection"]

_PAYER = "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"
_counter = itertools.count()


class SimulatedRejection(Exception):
    """A transaction the node refuses, with bitcoind's reject reason."""


def _fake_txid(*parts: object) -> str:
    return hashlib.sha256(f"{parts}:{next(_counter)}:{time.time_ns()}".encode()).hexdigest()


def script_for(address: str) -> str:
    """The scriptPubKey (hex) of a segwit v0 address."""
    program: str = addr_to_pubkeyhash(address, as_hex=True)  # bitcoinlib is untyped
    return ("0014" if len(program) == 40 else "0020") + program


@attrs.define
class _Block:
    height: int
    block_hash: str
    timestamp: int
    previous: str
    txids: list[str] = attrs.Factory(list)


class BitcoinChain:
    """Blocks on demand, a mempool, coins by outpoint; payments, RBF replacement, double spends and reorgs."""

    def __init__(self, *, start_time: int | None = None) -> None:
        self._start_time = start_time
        self._lock = threading.RLock()
        self._start()

    def _start(self) -> None:
        self.blocks: list[_Block] = []
        self.txs: dict[str, dict[str, Any]] = {}
        self.raw: dict[str, str] = {}
        self.mempool: list[str] = []
        self.spent_by: dict[tuple[str, int], str] = {}
        self.fee_rates: dict[str, float] = {"1": 25.5, "3": 12.25, "6": 8.0, "144": 1.5}
        self.failures_left = 0
        self._salt = 0
        self._append_block(self._start_time or int(time.time()) - 86_400)

    def reset(self) -> None:
        """Back to a fresh chain with only the genesis block (a served app keeps serving it)."""
        with self._lock:
            self._start()

    @property
    def height(self) -> int:
        return self.blocks[-1].height

    def _append_block(self, timestamp: int) -> _Block:
        height = len(self.blocks)
        digest = hashlib.sha256(f"btc-sim:{height}:{self._salt}".encode()).hexdigest()
        block = _Block(height, digest, timestamp, self.blocks[-1].block_hash if self.blocks else "0" * 64)
        self.blocks.append(block)
        return block

    def block_at(self, height: int) -> _Block | None:
        return self.blocks[height] if 0 <= height < len(self.blocks) else None

    def block_by_hash(self, block_hash: str) -> _Block | None:
        return next((b for b in self.blocks if b.block_hash == block_hash), None)

    # -- transactions --------------------------------------------------------------------------------------
    def _add(self, tx: dict[str, Any]) -> str:
        for vin in tx["vin"]:
            if vin.get("txid"):
                self.spent_by[(vin["txid"], vin["vout"])] = tx["txid"]
        self.txs[tx["txid"]] = tx
        txid: str = tx["txid"]
        self.mempool.append(txid)
        return txid

    def _coin(self, address: str, value: int) -> tuple[str, int]:
        """A confirmed coin for ``address`` in a funding transaction (mined at once)."""
        txid = _fake_txid("fund", address, value)
        vout = [
            {
                "scriptpubkey": script_for(address),
                "scriptpubkey_type": "v0_p2wpkh",
                "scriptpubkey_address": address,
                "value": value,
            }
        ]
        self._add(
            {
                "txid": txid,
                "version": 2,
                "locktime": 0,
                "vin": [{"is_coinbase": True, "sequence": 0}],
                "vout": vout,
                "size": 120,
                "weight": 480,
                "fee": 0,
            }
        )
        self.mempool.remove(txid)  # mined alone: the rest of the mempool stays unconfirmed
        self._append_block(self.blocks[-1].timestamp + 600).txids.append(txid)
        return txid, 0

    def fund(self, address: str, value: int) -> tuple[str, int]:
        """Give ``address`` a confirmed coin of ``value`` sats; returns its outpoint."""
        with self._lock:
            return self._coin(address, value)

    def pay(self, address: str, value: int, *, fee: int = 1_000, rbf: bool = True, mine: bool = False) -> str:
        """A customer's payment of ``value`` sats to ``address``, in the mempool (or mined with ``mine``)."""
        with self._lock:
            coin = self._coin(_PAYER, value + fee + 10_000)
            txid = self._spend([coin], [(address, value), (_PAYER, 10_000)], fee=fee, rbf=rbf)
            if mine:
                self.mine()
            return txid

    def _spend(self, coins: list[tuple[str, int]], outputs: list[tuple[str, int]], *, fee: int, rbf: bool) -> str:
        vin = []
        for txid, n in coins:
            prevout = self.txs[txid]["vout"][n]
            vin.append(
                {
                    "txid": txid,
                    "vout": n,
                    "prevout": prevout,
                    "scriptsig": "",
                    "witness": ["30", "02"],
                    "is_coinbase": False,
                    "sequence": 0xFFFFFFFD if rbf else 0xFFFFFFFF,
                }
            )
        vout = [
            {"scriptpubkey": script_for(a), "scriptpubkey_type": "v0_p2wpkh", "scriptpubkey_address": a, "value": v}
            for a, v in outputs
        ]
        tx = {
            "txid": _fake_txid("spend", coins, outputs),
            "version": 2,
            "locktime": 0,
            "vin": vin,
            "vout": vout,
            "size": 222,
            "weight": 561,
            "fee": fee,
        }
        return self._add(tx)

    def replace(self, txid: str, *, to: str | None = None, fee_bump: int = 2_000) -> str:
        """RBF: a new transaction spends the same coins (paying ``to`` instead, e.g. back to the payer)."""
        with self._lock:
            old = self.txs[txid]
            if txid not in self.mempool:
                raise SimulatedRejection("txn-already-known (confirmed)")
            if not all(v["sequence"] < 0xFFFFFFFE for v in old["vin"]):
                raise SimulatedRejection("txn-mempool-conflict (original does not signal RBF)")
            coins = [(v["txid"], v["vout"]) for v in old["vin"]]
            total = sum(v["prevout"]["value"] for v in old["vin"])
            self._evict(txid)
            fee = old["fee"] + fee_bump
            return self._spend(coins, [(to or _PAYER, total - fee)], fee=fee, rbf=True)

    def _evict(self, txid: str) -> None:
        self.mempool.remove(txid)
        tx = self.txs.pop(txid)
        self.raw.pop(txid, None)
        for vin in tx["vin"]:
            if vin.get("txid"):
                self.spent_by.pop((vin["txid"], vin["vout"]), None)
        for spender in [s for (t, _), s in self.spent_by.items() if t == txid]:
            if spender in self.mempool:
                self._evict(spender)

    def forget_mempool(self) -> int:
        """Drop every unconfirmed transaction (as a node restart with an empty mempool would); return how many."""
        with self._lock:
            dropped = list(self.mempool)
            for txid in reversed(dropped):
                if txid in self.mempool:
                    self._evict(txid)
            return len(dropped)

    def mine(self, count: int = 1) -> int:
        """Mine ``count`` blocks; the first takes the whole mempool."""
        with self._lock:
            for _ in range(count):
                block = self._append_block(self.blocks[-1].timestamp + 600)
                block.txids, self.mempool = list(self.mempool), []
            return self.height

    def reorg(self, depth: int, *, drop: bool = False) -> None:
        """Replace the last ``depth`` blocks by empty ones; their transactions return to the mempool (or vanish)."""
        with self._lock:
            removed = self.blocks[len(self.blocks) - depth :]
            self.blocks = self.blocks[: len(self.blocks) - depth]
            self._salt += 1
            returning = [txid for block in removed for txid in block.txids]
            self.mempool = returning + self.mempool
            if drop:
                for txid in reversed(returning):
                    if txid in self.mempool:
                        self._evict(txid)
            for block in removed:
                self._append_block(block.timestamp)

    def broadcast(self, raw_hex: str) -> str:
        """Accept a signed transaction: known unspent coins, valid signatures, and RBF rules for conflicts."""
        with self._lock:
            parsed = Transaction.parse_hex(raw_hex, network="bitcoin")
            if parsed.txid in self.txs:
                return str(parsed.txid)
            coins = [(i.prev_txid.hex(), i.output_n_int) for i in parsed.inputs]
            values = []
            for (txid, n), inp in zip(coins, parsed.inputs, strict=True):
                if txid not in self.txs or n >= len(self.txs[txid]["vout"]):
                    raise SimulatedRejection("bad-txns-inputs-missingorspent")
                inp.value = self.txs[txid]["vout"][n]["value"]
                values.append(inp.value)
            if not parsed.verify():
                raise SimulatedRejection("mandatory-script-verify-flag-failed (Signature must be zero ...)")
            self._replace_conflicts(coins)
            fee = sum(values) - sum(o.value for o in parsed.outputs)
            vin = [
                {
                    "txid": t,
                    "vout": n,
                    "prevout": self.txs[t]["vout"][n],
                    "scriptsig": "",
                    "witness": [],
                    "is_coinbase": False,
                    "sequence": i.sequence,
                }
                for (t, n), i in zip(coins, parsed.inputs, strict=True)
            ]
            vout = [
                {
                    "scriptpubkey": o.lock_script.hex(),
                    "scriptpubkey_type": "v0_p2wpkh",
                    "scriptpubkey_address": o.address,
                    "value": o.value,
                }
                for o in parsed.outputs
            ]
            txid = str(parsed.txid)
            self.raw[txid] = raw_hex
            return self._add(
                {
                    "txid": txid,
                    "version": 2,
                    "locktime": 0,
                    "vin": vin,
                    "vout": vout,
                    "size": len(raw_hex) // 2,
                    "weight": int(parsed.vsize) * 4,
                    "fee": fee,
                }
            )

    def _replace_conflicts(self, coins: list[tuple[str, int]]) -> None:
        for coin in coins:
            spender = self.spent_by.get(coin)
            if spender is None:
                continue
            if spender not in self.mempool:
                raise SimulatedRejection("bad-txns-inputs-missingorspent")
            if not all(v["sequence"] < 0xFFFFFFFE for v in self.txs[spender]["vin"]):
                raise SimulatedRejection("txn-mempool-conflict")
            self._evict(spender)

    # -- reads -------------------------------------------------------------------------------------------------
    def status(self, txid: str) -> dict[str, Any]:
        for block in self.blocks:
            if txid in block.txids:
                return {
                    "confirmed": True,
                    "block_height": block.height,
                    "block_hash": block.block_hash,
                    "block_time": block.timestamp,
                }
        return {"confirmed": False}

    def tx_json(self, txid: str) -> dict[str, Any]:
        return {**self.txs[txid], "status": self.status(txid)}

    def address_txids(self, address: str) -> list[str]:
        """Transactions touching ``address``: mempool first (newest first), then confirmed newest first."""
        touching = {
            t
            for t, tx in self.txs.items()
            if any(o["scriptpubkey_address"] == address for o in tx["vout"])
            or any(v.get("prevout", {}).get("scriptpubkey_address") == address for v in tx["vin"])
        }
        mempool = [t for t in reversed(self.mempool) if t in touching]
        confirmed = [t for b in reversed(self.blocks) for t in reversed(b.txids) if t in touching]
        return mempool + confirmed

    def utxos(self, address: str) -> list[dict[str, Any]]:
        """Unspent outputs of ``address`` (spends in the mempool count as spent, as Esplora's do)."""
        found = []
        for txid, tx in self.txs.items():
            for n, out in enumerate(tx["vout"]):
                if out["scriptpubkey_address"] == address and (txid, n) not in self.spent_by:
                    found.append({"txid": txid, "vout": n, "status": self.status(txid), "value": out["value"]})
        return found
