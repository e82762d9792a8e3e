"""The in-memory Tron chain behind the TronGrid simulator: blocks, solidification, balances, TRC20 events.

Transactions broadcast to it are checked as a node checks them (txID against the protobuf of ``raw_data``,
the signature recovered and compared with the owner, TaPoS, expiry) and executed when a block is mined,
burning TRX for bandwidth and energy like mainnet (staked energy is used first; ``fee_limit`` caps the burn).

>>> chain = TronChain()
>>> usdt = chain.deploy_token("USDT")
>>> txid = chain.transfer_token(usdt, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "TAFEmhbjjnTAnqRag2w9ke9J2cYiWzvyHr", 5)
>>> chain.token_balance(usdt, "TAFEmhbjjnTAnqRag2w9ke9J2cYiWzvyHr")
5
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

import attrs
from cryptopay.sandbox._tron_proto import txid_of
from tronpy.keys import Signature, keccak256, to_base58check_address, to_hex_address

__all__ = ["TRANSFER_EVENT", "TronChain"]

BLOCK_MS = 3_000
ENERGY_FEE_SUN = 420
BANDWIDTH_FEE_SUN = 1_000
FREE_BANDWIDTH = 600
TX_BYTES = {"TransferContract": 268, "TriggerSmartContract": 345}
ENERGY_TRANSFER = 14_650  # a TRC20 transfer to an address that already holds the token
ENERGY_TRANSFER_NEW_HOLDER = 29_650
_TRANSFER_SELECTOR = "a9059cbb"
_BALANCE_OF_SELECTOR = "70a08231"
TRANSFER_EVENT = "Transfer(address indexed from, address indexed to, uint256 value)"


@attrs.define
class _Block:
    number: int
    block_id: str
    timestamp: int
    parent: str
    txids: list[str] = attrs.Factory(list)
    events: list[dict[str, Any]] = attrs.Factory(list)


def _hex(address: str) -> str:
    return str(to_hex_address(address))


def _b58(address: str) -> str:
    return str(to_base58check_address(address))


class TronChain:
    """An in-memory Tron chain: blocks every call to ``mine``, a solidified height you move, balances and events."""

    def __init__(self, *, start_ms: int | None = None, solid_lag: int | None = None) -> None:
        self._start_ms = start_ms
        self._solid_lag = solid_lag
        self._lock = threading.RLock()
        self._start()

    def _start(self) -> None:
        self._salt = 0
        self.blocks: list[_Block] = []
        self.solid_number = 0
        self._trx: dict[str, int] = {}
        self._energy: dict[str, int] = {}
        self._free_net_used: dict[str, int] = {}
        self._tokens: dict[str, dict[str, int]] = {}
        self._pending: list[dict[str, Any]] = []
        self._known: dict[str, dict[str, Any]] = {}
        self._info: dict[str, dict[str, Any]] = {}
        self._next_event_tx: list[dict[str, Any]] = []
        self.failures_left = 0
        self.requests: list[str] = []
        start = self._start_ms if self._start_ms is not None else int(time.time() * 1000) - 3_600_000
        self._append_block(start)

    def reset(self) -> None:
        """Forget everything: back to a fresh chain with only the genesis block (a served app keeps serving it)."""
        with self._lock:
            self._start()

    # -- chain structure ------------------------------------------------------------------------------------
    def _block_id(self, number: int) -> str:
        digest = hashlib.sha256(f"tron-sim:{number}:{self._salt}".encode()).hexdigest()
        return f"{number:016x}{digest[16:]}"

    def _append_block(self, timestamp: int) -> _Block:
        number = len(self.blocks)
        parent = self.blocks[-1].block_id if self.blocks else "0" * 64
        block = _Block(number, self._block_id(number), timestamp, parent)
        self.blocks.append(block)
        return block

    @property
    def head(self) -> int:
        return self.blocks[-1].number

    def mine(self, count: int = 1) -> int:
        """Add ``count`` blocks (the first includes every pending transaction); return the new head."""
        with self._lock:
            for _ in range(count):
                block = self._append_block(self.blocks[-1].timestamp + BLOCK_MS)
                for tx in self._pending:
                    self._execute(tx, block)
                self._pending = []
            if self._solid_lag is not None:
                self.solid_number = max(self.solid_number, self.head - self._solid_lag)
            return self.head

    def solidify(self, number: int | None = None) -> int:
        """Mark blocks up to ``number`` (default: the head) as solidified (irreversible)."""
        with self._lock:
            self.solid_number = self.head if number is None else min(number, self.head)
            return self.solid_number

    def reorg(self, depth: int) -> None:
        """Replace the last ``depth`` unsolidified blocks by empty ones with new ids; their transactions vanish."""
        with self._lock:
            keep = self.head - depth
            if keep < self.solid_number:
                raise ValueError("cannot reorganise solidified blocks")
            dropped = self.blocks[keep + 1 :]
            self.blocks = self.blocks[: keep + 1]
            self._salt += 1
            for block in dropped:
                for txid in block.txids:
                    self._info.pop(txid, None)
                self._append_block(block.timestamp)

    def block(self, number: int) -> _Block | None:
        return self.blocks[number] if 0 <= number < len(self.blocks) else None

    # -- balances ---------------------------------------------------------------------------------------------
    def deploy_token(self, symbol: str) -> str:
        """A new TRC20 token contract; returns its base58 address."""
        with self._lock:
            address = _b58("41" + hashlib.sha256(f"token:{symbol}:{len(self._tokens)}".encode()).hexdigest()[:40])
            self._tokens[_hex(address)] = {}
            return address

    def fund(self, address: str, *, sun: int = 0, token: str | None = None, amount: int = 0, energy: int = 0) -> None:
        """Credit TRX (in sun), token base units or staked energy to an address."""
        with self._lock:
            holder = _hex(address)
            self._trx[holder] = self._trx.get(holder, 0) + sun
            self._energy[holder] = self._energy.get(holder, 0) + energy
            if token is not None:
                balances = self._tokens[_hex(token)]
                balances[holder] = balances.get(holder, 0) + amount

    def trx_balance(self, address: str) -> int:
        return self._trx.get(_hex(address), 0)

    def resources(self, address: str) -> tuple[int, int]:
        """(free bandwidth used, staked energy available) of an address."""
        holder = _hex(address)
        return self._free_net_used.get(holder, 0), self._energy.get(holder, 0)

    def token_balance(self, token: str, address: str) -> int:
        return self._tokens[_hex(token)].get(_hex(address), 0)

    # -- transfers made by others (payments to us) -------------------------------------------------------------
    def transfer_token(
        self,
        token: str,
        from_: str,
        to: str,
        amount: int,
        *,
        method: str = "transfer",
        caller: str | None = None,
        mine: bool = True,
    ) -> str:
        """A third party's TRC20 transfer (``transfer`` or ``transferFrom`` via ``caller``); returns its tx id."""
        with self._lock:
            balances = self._tokens[_hex(token)]
            balances[_hex(from_)] = balances.get(_hex(from_), 0) + amount  # the payer is funded on the fly
            txid = hashlib.sha256(f"ext:{token}:{from_}:{to}:{amount}:{time.time_ns()}".encode()).hexdigest()
            caller_hex = _hex(caller) if caller else _hex(token)
            self._pending.append(
                {
                    "external": True,
                    "txID": txid,
                    "token": _hex(token),
                    "from": _hex(from_),
                    "to": _hex(to),
                    "amount": amount,
                    "caller": caller_hex,
                    "method": method,
                }
            )
            if mine:
                self.mine()
            return txid

    # -- execution ---------------------------------------------------------------------------------------------
    def _execute(self, tx: dict[str, Any], block: _Block) -> None:
        if tx.get("external"):
            self._move_token(tx["token"], tx["from"], tx["to"], tx["amount"])
            self._emit(block, tx["txID"], tx["token"], tx["from"], tx["to"], tx["amount"], tx["caller"])
            block.txids.append(tx["txID"])
            self._info[tx["txID"]] = self._receipt(tx["txID"], block, fee=0, energy=0, result="SUCCESS")
            return
        contract = tx["raw_data"]["contract"][0]
        value = contract["parameter"]["value"]
        owner = value["owner_address"]
        fee = self._bandwidth_fee(owner, TX_BYTES[contract["type"]])
        block.txids.append(tx["txID"])
        if contract["type"] == "TransferContract":
            self._trx[owner] = self._trx.get(owner, 0) - value["amount"] - fee
            self._trx[value["to_address"]] = self._trx.get(value["to_address"], 0) + value["amount"]
            self._info[tx["txID"]] = self._receipt(tx["txID"], block, fee=fee, energy=0, result=None)
            return
        self._execute_trc20(tx, block, value, fee)

    def _execute_trc20(self, tx: dict[str, Any], block: _Block, value: dict[str, Any], net_fee: int) -> None:
        owner, token = value["owner_address"], value["contract_address"]
        data = value["data"]
        to, amount = "41" + data[8 + 24 : 8 + 64], int(data[8 + 64 : 8 + 128], 16)
        balances = self._tokens.get(token, {})
        energy = ENERGY_TRANSFER if balances.get(to, 0) > 0 else ENERGY_TRANSFER_NEW_HOLDER
        staked = self._energy.get(owner, 0)
        energy_fee = max(0, energy - staked) * ENERGY_FEE_SUN
        self._energy[owner] = max(0, staked - energy)
        fee_limit = int(tx["raw_data"].get("fee_limit", 0))
        if energy_fee > fee_limit or self._trx.get(owner, 0) < energy_fee + net_fee:
            burned = min(fee_limit, self._trx.get(owner, 0) - net_fee)
            self._trx[owner] = self._trx.get(owner, 0) - net_fee - burned
            self._info[tx["txID"]] = self._receipt(
                tx["txID"], block, fee=net_fee + burned, energy=energy, result="OUT_OF_ENERGY", failed=True
            )
            return
        self._trx[owner] = self._trx.get(owner, 0) - net_fee - energy_fee
        if balances.get(owner, 0) < amount:
            self._info[tx["txID"]] = self._receipt(
                tx["txID"], block, fee=net_fee + energy_fee, energy=energy, result="REVERT", failed=True
            )
            return
        self._move_token(token, owner, to, amount)
        log = self._emit(block, tx["txID"], token, owner, to, amount, token)
        self._info[tx["txID"]] = self._receipt(
            tx["txID"], block, fee=net_fee + energy_fee, energy=energy, result="SUCCESS", log=log
        )

    def _bandwidth_fee(self, owner: str, size: int) -> int:
        used = self._free_net_used.get(owner, 0)
        if used + size <= FREE_BANDWIDTH:
            self._free_net_used[owner] = used + size
            return 0
        return size * BANDWIDTH_FEE_SUN

    def _move_token(self, token: str, from_: str, to: str, amount: int) -> None:
        balances = self._tokens[token]
        balances[from_] = balances.get(from_, 0) - amount
        balances[to] = balances.get(to, 0) + amount

    def _emit(
        self, block: _Block, txid: str, token: str, from_: str, to: str, amount: int, caller: str
    ) -> dict[str, Any]:
        index = sum(1 for e in block.events if e["transaction_id"] == txid)
        event = {
            "block": block.number,
            "transaction_id": txid,
            "event_index": index,
            "token": token,
            "from": from_,
            "to": to,
            "value": amount,
            "caller": caller,
        }
        block.events.append(event)
        return event

    def _receipt(
        self,
        txid: str,
        block: _Block,
        *,
        fee: int,
        energy: int,
        result: str | None,
        failed: bool = False,
        log: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        receipt: dict[str, Any] = {"net_usage": 268}
        if result is not None:
            receipt = {"energy_usage_total": energy, "energy_fee": max(0, fee), "net_usage": 345, "result": result}
        info: dict[str, Any] = {
            "id": txid,
            "fee": fee,
            "blockNumber": block.number,
            "blockTimeStamp": block.timestamp,
            "contractResult": [""],
            "receipt": receipt,
        }
        if failed:
            info["result"] = "FAILED"
            info["resMessage"] = result.encode().hex() if result else ""
        if log is not None:
            info["log"] = [_raw_log(log)]
        return info

    # -- broadcast ---------------------------------------------------------------------------------------------
    def sign_weight(self, tx: dict[str, Any]) -> dict[str, Any]:
        """What ``/wallet/getsignweight`` answers: the txID and the owner's permission."""
        txid = txid_of(tx["raw_data"])
        owner = tx["raw_data"]["contract"][0]["parameter"]["value"]["owner_address"]
        permission = {
            "type": "Owner",
            "permission_name": "owner",
            "threshold": 1,
            "keys": [{"address": owner, "weight": 1}],
        }
        return {
            "permission": permission,
            "current_weight": 0,
            "result": {"code": "NOT_ENOUGH_PERMISSION"},
            "transaction": {"result": {"result": True}, "txid": txid, "transaction": {**tx, "txID": txid}},
        }

    def broadcast(self, tx: dict[str, Any]) -> dict[str, Any]:
        """Validate and queue a signed transaction, answering as ``/wallet/broadcasttransaction`` does."""
        with self._lock:
            txid = tx.get("txID", "")
            if txid in self._known:
                return _error("DUP_TRANSACTION_ERROR", "dup transaction", txid)
            raw = tx["raw_data"]
            if txid_of(raw) != txid:
                return _error("SIGERROR", "txID does not match raw_data", txid)
            if int(raw["expiration"]) <= int(time.time() * 1000):
                return _error("TRANSACTION_EXPIRATION_ERROR", "transaction expired", txid)
            if not any(
                b.block_id[12:16] == raw["ref_block_bytes"] and b.block_id[16:32] == raw["ref_block_hash"]
                for b in self.blocks
            ):
                return _error("TAPOS_ERROR", "Tapos check error", txid)
            owner = raw["contract"][0]["parameter"]["value"]["owner_address"]
            if not _signed_by(txid, tx.get("signature") or [], owner):
                return _error("SIGERROR", "validate signature error", txid)
            problem = self._validate(raw["contract"][0])
            if problem:
                return _error("CONTRACT_VALIDATE_ERROR", problem, txid)
            self._known[txid] = tx
            self._pending.append(tx)
            return {"result": True, "txid": txid}

    def _validate(self, contract: dict[str, Any]) -> str | None:
        value = contract["parameter"]["value"]
        if contract["type"] == "TransferContract" and self._trx.get(value["owner_address"], 0) < value["amount"]:
            return "Validate TransferContract error, balance is not sufficient."
        if contract["type"] == "TriggerSmartContract" and value["contract_address"] not in self._tokens:
            return "No contract or not a smart contract"
        return None

    def transaction_info(self, txid: str, *, solid: bool = False) -> dict[str, Any]:
        info = self._info.get(txid)
        if info is None or (solid and info["blockNumber"] > self.solid_number):
            return {}
        return info

    def forget_pending(self) -> int:
        """Drop every unmined transaction (as a node restart would); return how many were dropped."""
        with self._lock:
            count = len(self._pending)
            self._pending = []
            for tx in list(self._known):
                if tx not in self._info:
                    del self._known[tx]
            return count


def _signed_by(txid: str, signatures: list[str], owner: str) -> bool:
    for signature in signatures:
        try:
            public = Signature.fromhex(signature).recover_public_key_from_msg_hash(bytes.fromhex(txid))
        except Exception:  # noqa: S112 - a malformed signature simply does not match
            continue
        if public.to_hex_address() == owner:
            return True
    return False


def _error(code: str, message: str, txid: str) -> dict[str, Any]:
    return {"code": code, "txid": txid, "message": message.encode().hex()}


def _raw_log(event: dict[str, Any]) -> dict[str, Any]:
    topic0 = keccak256(b"Transfer(address,address,uint256)").hex()
    return {
        "address": event["token"][2:],
        "topics": [topic0, "0" * 24 + event["from"][2:], "0" * 24 + event["to"][2:]],
        "data": f"{event['value']:064x}",
    }
