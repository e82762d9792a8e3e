"""The TronGrid simulator computes txIDs as java-tron does: SHA-256 of the protobuf-serialized raw data."""

from __future__ import annotations

from cryptopay.sandbox._tron_proto import raw_data_bytes, txid_of

# A mainnet TransferContract transaction as published with its raw_data_hex and txID.
RAW = {
    "contract": [
        {
            "parameter": {
                "value": {
                    "amount": 1318520000,
                    "owner_address": "41fcf62171f6837cdb078460753aec8b8353f51be9",
                    "to_address": "41ec5f9648b3ba5d70c8dfc8beca5af9ef24e16746",
                },
                "type_url": "type.googleapis.com/protocol.TransferContract",
            },
            "type": "TransferContract",
        }
    ],
    "ref_block_bytes": "0bc9",
    "ref_block_hash": "78471e96bbb26ab2",
    "expiration": 1653443076000,
    "timestamp": 1653443018811,
}
RAW_HEX = (
    "0a020bc9220878471e96bbb26ab240a0bf8cc78f305a69080112650a2d747970652e676f6f676c65617069732e636f6d2f70726f746f636f6c"
    "2e5472616e73666572436f6e747261637412340a1541fcf62171f6837cdb078460753aec8b8353f51be9121541ec5f9648b3ba5d70c8dfc8be"
    "ca5af9ef24e1674618c089dcf40470bb8089c78f30"
)


def test_tron_raw_data_serializes_to_the_published_bytes_and_txid():
    """The published mainnet transaction's raw_data_hex and txID are reproduced exactly."""
    assert raw_data_bytes(RAW).hex() == RAW_HEX
    assert txid_of(RAW) == "9aedad431ed596035eb44656a6c23bd43849c5e2a8161483c5c7426d7f246363"


def test_tron_fee_limit_changes_the_txid():
    """fee_limit is part of the signed raw data (field 18), so it changes the txID."""
    assert txid_of({**RAW, "fee_limit": 10_000_000}) != txid_of(RAW)
