"""The protobuf bytes of a Tron ``Transaction.raw`` (the txID is their SHA-256), hand-encoded for the simulator.

Covers the contracts the simulator executes (TransferContract, TriggerSmartContract); field numbers follow
java-tron's ``Tron.proto`` / ``balance_contract.proto`` / ``smart_contract.proto``. Zero values are omitted, as
proto3 does.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["raw_data_bytes", "txid_of"]

_CONTRACT_TYPES = {"TransferContract": 1, "TriggerSmartContract": 31}


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1  # negative int64 values are encoded as 10-byte two's complement
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value) if value else b""


def _bytes(field: int, value: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(value)) + value if value else b""


def _contract_value(kind: str, value: dict[str, Any]) -> bytes:
    owner = bytes.fromhex(value["owner_address"])
    if kind == "TransferContract":
        return _bytes(1, owner) + _bytes(2, bytes.fromhex(value["to_address"])) + _int(3, int(value["amount"]))
    return (
        _bytes(1, owner)
        + _bytes(2, bytes.fromhex(value["contract_address"]))
        + _int(3, int(value.get("call_value", 0) or 0))
        + _bytes(4, bytes.fromhex(value.get("data", "")))
        + _int(5, int(value.get("call_token_value", 0) or 0))
        + _int(6, int(value.get("token_id", 0) or 0))
    )


def _contract(contract: dict[str, Any]) -> bytes:
    kind = contract["type"]
    if kind not in _CONTRACT_TYPES:
        raise ValueError(f"the simulator does not execute {kind}")
    parameter = contract["parameter"]
    any_message = _bytes(1, parameter["type_url"].encode()) + _bytes(2, _contract_value(kind, parameter["value"]))
    return _int(1, _CONTRACT_TYPES[kind]) + _bytes(2, any_message) + _int(5, int(contract.get("Permission_id", 0)))


def raw_data_bytes(raw: dict[str, Any]) -> bytes:
    """Serialize ``raw_data`` (hex addresses, as tronpy builds it) to protobuf."""
    return (
        _bytes(1, bytes.fromhex(raw["ref_block_bytes"]))
        + _bytes(4, bytes.fromhex(raw["ref_block_hash"]))
        + _int(8, int(raw["expiration"]))
        + _bytes(10, bytes.fromhex(raw.get("data", "")))
        + b"".join(_bytes(11, _contract(c)) for c in raw["contract"])
        + _int(14, int(raw.get("timestamp", 0)))
        + _int(18, int(raw.get("fee_limit", 0)))
    )


def txid_of(raw: dict[str, Any]) -> str:
    """The transaction id: SHA-256 of the serialized raw data, hex."""
    return hashlib.sha256(raw_data_bytes(raw)).hexdigest()
