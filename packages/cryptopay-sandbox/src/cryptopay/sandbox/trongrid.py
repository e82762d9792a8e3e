"""A TronGrid-shaped HTTP simulator over a ``TronChain``: the full-node API and TronGrid's v1 events API.

Full node (POST, JSON): ``/wallet/getnowblock``, ``/walletsolidity/getnowblock``, ``/wallet/getblockbynum``,
``/wallet/getnodeinfo``, ``/wallet/getsignweight``, ``/wallet/broadcasttransaction``,
``/wallet[solidity]/gettransactioninfobyid``, ``/wallet/getaccount``, ``/wallet/getaccountresource``,
``/wallet/estimateenergy``, ``/wallet/getchainparameters``, ``/wallet/triggerconstantcontract`` (``balanceOf``).
TronGrid v1 (GET): ``/v1/contracts/{address}/events`` (``event_name``, ``min_block_timestamp``,
``max_block_timestamp``, ``only_confirmed``, ``order_by``, ``limit``, ``fingerprint``) and
``/v1/blocks/{number}/events``. Control (POST ``/_sim/...``): ``mine``, ``solidify``, ``token``, ``fund``,
``transfer``, ``reorg``, ``fail``; GET ``/_sim/state``.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from cryptopay.sandbox._sim import add_outage, json_body
from cryptopay.sandbox.tron_chain import (
    ENERGY_FEE_SUN,
    ENERGY_TRANSFER,
    ENERGY_TRANSFER_NEW_HOLDER,
    FREE_BANDWIDTH,
    TRANSFER_EVENT,
    TronChain,
)
from flask import Flask, Response, jsonify, request
from tronpy.keys import to_base58check_address

__all__ = ["TronChain", "create_trongrid_simulator"]

_WITNESS = "41" + "77" * 20


def _block_json(chain: TronChain, number: int) -> dict[str, Any]:
    block = chain.block(number)
    if block is None:
        return {}
    header = {
        "number": block.number,
        "txTrieRoot": "0" * 64,
        "witness_address": _WITNESS,
        "parentHash": block.parent,
        "version": 30,
        "timestamp": block.timestamp,
    }
    body: dict[str, Any] = {"blockID": block.block_id, "block_header": {"raw_data": header, "witness_signature": ""}}
    if block.txids:
        body["transactions"] = [{"txID": txid} for txid in block.txids]
    return body


def _event_json(chain: TronChain, event: dict[str, Any]) -> dict[str, Any]:
    block = chain.blocks[event["block"]]
    sender, receiver = "0x" + event["from"][2:], "0x" + event["to"][2:]
    body = {
        "block_number": block.number,
        "block_timestamp": block.timestamp,
        "caller_contract_address": to_base58check_address(event["caller"]),
        "contract_address": to_base58check_address(event["token"]),
        "event_index": event["event_index"],
        "event_name": "Transfer",
        "result": {
            "0": sender,
            "1": receiver,
            "2": str(event["value"]),
            "from": sender,
            "to": receiver,
            "value": str(event["value"]),
        },
        "result_type": {"from": "address", "to": "address", "value": "uint256"},
        "event": TRANSFER_EVENT,
        "transaction_id": event["transaction_id"],
    }
    if block.number > chain.solid_number:
        body["_unconfirmed"] = True
    return body


def _page(chain: TronChain, events: list[dict[str, Any]]) -> Response:
    args = request.args
    limit = max(1, min(int(args.get("limit", 20)), 200))
    offset = int(base64.b64decode(args["fingerprint"]).decode()) if args.get("fingerprint") else 0
    chunk = events[offset : offset + limit]
    meta: dict[str, Any] = {"at": int(time.time() * 1000), "page_size": len(chunk)}
    if offset + limit < len(events):
        fingerprint = base64.b64encode(str(offset + limit).encode()).decode()
        meta["fingerprint"] = fingerprint
        query = "&".join(f"{k}={v}" for k, v in args.items() if k != "fingerprint")
        meta["links"] = {"next": f"{request.base_url}?{query}&fingerprint={fingerprint}"}
    return jsonify({"data": [_event_json(chain, e) for e in chunk], "success": True, "meta": meta})


def _contract_events(chain: TronChain, address: str) -> Response:
    args = request.args
    token = str(to_base58check_address(address))
    low, high = int(args.get("min_block_timestamp", 0)), int(args.get("max_block_timestamp", 2**63))
    confirmed_only = args.get("only_confirmed", "false").lower() == "true"
    selected = [
        e
        for b in chain.blocks
        if low <= b.timestamp <= high and (not confirmed_only or b.number <= chain.solid_number)
        for e in b.events
        if str(to_base58check_address(e["token"])) == token and args.get("event_name", "Transfer") == "Transfer"
    ]
    if not args.get("order_by", "block_timestamp,desc").endswith(",asc"):
        selected.reverse()
    return _page(chain, selected)


def _account_resource(chain: TronChain, address: str) -> dict[str, Any]:
    used, energy = chain.resources(address)
    return {"freeNetLimit": FREE_BANDWIDTH, "freeNetUsed": used, "EnergyLimit": energy, "EnergyUsed": 0}


def _block_routes(app: Flask, chain: TronChain) -> None:
    """Blocks: the head, the solid (irreversible) head, one block by number, and the node's view of both."""

    @app.post("/wallet/getnowblock")
    def now_block() -> Response:
        return jsonify(_block_json(chain, chain.head))

    @app.post("/walletsolidity/getnowblock")
    def solid_block() -> Response:
        return jsonify(_block_json(chain, chain.solid_number))

    @app.post("/wallet/getblockbynum")
    def block_by_num() -> Response:
        return jsonify(_block_json(chain, int(json_body().get("num", -1))))

    @app.post("/wallet/getnodeinfo")
    def node_info() -> Response:
        head, solid = chain.blocks[chain.head], chain.blocks[chain.solid_number]
        return jsonify(
            {
                "block": f"Num:{head.number},ID:{head.block_id}",
                "solidityBlock": f"Num:{solid.number},ID:{solid.block_id}",
            }
        )


def _transaction_routes(app: Flask, chain: TronChain) -> None:
    """Transactions: signature weight, broadcast, and their receipts (latest and solid)."""

    @app.post("/wallet/getsignweight")
    def sign_weight() -> Response:
        return jsonify(chain.sign_weight(json_body()))

    @app.post("/wallet/broadcasttransaction")
    def broadcast() -> Response:
        return jsonify(chain.broadcast(json_body()))

    @app.post("/wallet/gettransactioninfobyid")
    def tx_info() -> Response:
        return jsonify(chain.transaction_info(str(json_body().get("value", ""))))

    @app.post("/walletsolidity/gettransactioninfobyid")
    def solid_tx_info() -> Response:
        return jsonify(chain.transaction_info(str(json_body().get("value", "")), solid=True))


def _account_routes(app: Flask, chain: TronChain) -> None:
    """Accounts: TRX balance and bandwidth/energy resources."""

    @app.post("/wallet/getaccount")
    def account() -> Response:
        address = str(json_body().get("address", ""))
        balance = chain.trx_balance(address)
        return jsonify({"address": address, "balance": balance} if balance else {})

    @app.post("/wallet/getaccountresource")
    def account_resource() -> Response:
        return jsonify(_account_resource(chain, str(json_body().get("address", ""))))


def _contract_routes(app: Flask, chain: TronChain) -> None:
    """TRC-20 contracts and fees: energy estimates, the chain's fee parameters, constant calls (balanceOf)."""

    @app.post("/wallet/estimateenergy")
    def estimate_energy() -> Response:
        params = json_body()
        receiver = "41" + str(params.get("parameter", "0" * 128))[24:64]
        holds = chain.token_balance(str(params["contract_address"]), receiver) > 0
        return jsonify(
            {"result": {"result": True}, "energy_required": ENERGY_TRANSFER if holds else ENERGY_TRANSFER_NEW_HOLDER}
        )

    @app.post("/wallet/getchainparameters")
    def chain_parameters() -> Response:
        return jsonify(
            {
                "chainParameter": [
                    {"key": "getTransactionFee", "value": 1000},
                    {"key": "getEnergyFee", "value": ENERGY_FEE_SUN},
                ]
            }
        )

    @app.post("/wallet/triggerconstantcontract")
    def constant_call() -> Response:
        params = json_body()
        holder = "41" + str(params.get("parameter", "0" * 64))[24:64]
        balance = chain.token_balance(str(params["contract_address"]), holder)
        return jsonify({"result": {"result": True}, "constant_result": [f"{balance:064x}"], "energy_used": 0})


def _v1_routes(app: Flask, chain: TronChain) -> None:
    @app.get("/v1/contracts/<address>/events")
    def contract_events(address: str) -> Response:
        return _contract_events(chain, address)

    @app.get("/v1/blocks/<int:number>/events")
    def block_events(number: int) -> Response:
        block = chain.block(number)
        return _page(chain, list(block.events) if block else [])


def _control_routes(app: Flask, chain: TronChain) -> None:
    @app.post("/_sim/mine")
    def mine() -> Response:
        return jsonify({"head": chain.mine(int(json_body().get("count", 1)))})

    @app.post("/_sim/solidify")
    def solidify() -> Response:
        return jsonify({"solid": chain.solidify(json_body().get("number"))})

    @app.post("/_sim/token")
    def token() -> Response:
        return jsonify({"address": chain.deploy_token(str(json_body().get("symbol", "USDT")))})

    @app.post("/_sim/fund")
    def fund() -> Response:
        p = json_body()
        chain.fund(
            p["address"],
            sun=int(p.get("sun", 0)),
            token=p.get("token"),
            amount=int(p.get("amount", 0)),
            energy=int(p.get("energy", 0)),
        )
        return jsonify({"ok": True})

    @app.post("/_sim/transfer")
    def transfer() -> Response:
        p = json_body()
        txid = chain.transfer_token(
            p["token"],
            p["from"],
            p["to"],
            int(p["amount"]),
            method=p.get("method", "transfer"),
            caller=p.get("caller"),
            mine=bool(p.get("mine", True)),
        )
        return jsonify({"txid": txid})

    @app.post("/_sim/reorg")
    def reorg() -> Response:
        chain.reorg(int(json_body().get("depth", 1)))
        return jsonify({"head": chain.head})

    @app.get("/_sim/state")
    def state() -> Response:
        return jsonify({"head": chain.head, "solid": chain.solid_number})


def create_trongrid_simulator(chain: TronChain | None = None) -> Flask:
    """The simulator app over ``chain`` (a new empty chain by default); ``app.config["TRON_CHAIN"]`` holds it."""
    the_chain = chain or TronChain()
    app = Flask("trongrid-simulator")
    app.config["TRON_CHAIN"] = the_chain
    add_outage(
        app, the_chain, lambda: Response('{"Error": "simulated outage"}', status=503, mimetype="application/json")
    )
    _block_routes(app, the_chain)
    _transaction_routes(app, the_chain)
    _account_routes(app, the_chain)
    _contract_routes(app, the_chain)
    _v1_routes(app, the_chain)
    _control_routes(app, the_chain)
    return app
