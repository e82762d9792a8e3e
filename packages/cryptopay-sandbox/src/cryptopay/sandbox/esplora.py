"""An Esplora-shaped HTTP simulator over a ``BitcoinChain`` (Blockstream's Esplora REST API formats).

Reads: ``/blocks/tip/height``, ``/blocks/tip/hash``, ``/block-height/:h``, ``/block/:hash``, ``/block/:hash/txids``,
``/block/:hash/txs[/:start]`` (25 per page), ``/address/:a/txs``, ``/address/:a/txs/chain[/:last_txid]``,
``/address/:a/txs/mempool``, ``/address/:a/utxo``, ``/tx/:txid``, ``/tx/:txid/status``, ``/tx/:txid/hex``,
``/tx/:txid/outspend/:vout``, ``/fee-estimates``; write: ``POST /tx`` (raw hex body, answers the txid as text).
Control (POST ``/_sim/...``): ``mine``, ``pay``, ``replace``, ``fund``, ``reorg``, ``fail``, ``fees``.
"""

from __future__ import annotations

from cryptopay.sandbox._sim import add_outage, json_body
from cryptopay.sandbox.bitcoin_chain import BitcoinChain, SimulatedRejection
from flask import Flask, Response, jsonify, request

__all__ = ["BitcoinChain", "create_esplora_simulator"]

_PAGE = 25


def _text(value: object, status: int = 200) -> Response:
    return Response(str(value), status=status, mimetype="text/plain")


def _block_json(chain: BitcoinChain, block_hash: str) -> Response:
    block = chain.block_by_hash(block_hash)
    if block is None:
        return _text("Block not found", 404)
    return jsonify(
        {
            "id": block.block_hash,
            "height": block.height,
            "version": 536870912,
            "timestamp": block.timestamp,
            "tx_count": len(block.txids),
            "size": 1000,
            "weight": 4000,
            "merkle_root": "0" * 64,
            "previousblockhash": block.previous,
            "mediantime": block.timestamp - 300,
            "nonce": 0,
            "bits": 486604799,
            "difficulty": 1,
        }
    )


def _address_routes(app: Flask, chain: BitcoinChain) -> None:
    def confirmed(address: str) -> list[str]:
        return [t for t in chain.address_txids(address) if chain.status(t)["confirmed"]]

    @app.get("/address/<address>/txs")
    def address_txs(address: str) -> Response:
        mempool = [t for t in chain.address_txids(address) if not chain.status(t)["confirmed"]]
        return jsonify([chain.tx_json(t) for t in mempool[:50] + confirmed(address)[:_PAGE]])

    @app.get("/address/<address>/txs/chain")
    @app.get("/address/<address>/txs/chain/<last_seen>")
    def address_chain(address: str, last_seen: str | None = None) -> Response:
        txids = confirmed(address)
        if last_seen is not None:
            txids = txids[txids.index(last_seen) + 1 :] if last_seen in txids else []
        return jsonify([chain.tx_json(t) for t in txids[:_PAGE]])

    @app.get("/address/<address>/txs/mempool")
    def address_mempool(address: str) -> Response:
        return jsonify([chain.tx_json(t) for t in chain.address_txids(address) if t in chain.mempool][:50])

    @app.get("/address/<address>/utxo")
    def address_utxo(address: str) -> Response:
        return jsonify(chain.utxos(address))


def _chain_routes(app: Flask, chain: BitcoinChain) -> None:
    @app.get("/blocks/tip/height")
    def tip_height() -> Response:
        return _text(chain.height)

    @app.get("/blocks/tip/hash")
    def tip_hash() -> Response:
        return _text(chain.blocks[-1].block_hash)

    @app.get("/block-height/<int:height>")
    def block_height(height: int) -> Response:
        block = chain.block_at(height)
        return _text(block.block_hash) if block else _text("Block not found", 404)

    @app.get("/block/<block_hash>")
    def block(block_hash: str) -> Response:
        return _block_json(chain, block_hash)

    @app.get("/block/<block_hash>/txids")
    def block_txids(block_hash: str) -> Response:
        found = chain.block_by_hash(block_hash)
        return jsonify(found.txids) if found else _text("Block not found", 404)

    @app.get("/block/<block_hash>/txs")
    @app.get("/block/<block_hash>/txs/<int:start>")
    def block_txs(block_hash: str, start: int = 0) -> Response:
        found = chain.block_by_hash(block_hash)
        if found is None:
            return _text("Block not found", 404)
        return jsonify([chain.tx_json(t) for t in found.txids[start : start + _PAGE]])

    @app.get("/fee-estimates")
    def fee_estimates() -> Response:
        return jsonify(chain.fee_rates)


def _tx_routes(app: Flask, chain: BitcoinChain) -> None:
    @app.get("/tx/<txid>")
    def tx(txid: str) -> Response:
        return jsonify(chain.tx_json(txid)) if txid in chain.txs else _text("Transaction not found", 404)

    @app.get("/tx/<txid>/status")
    def tx_status(txid: str) -> Response:
        return jsonify(chain.status(txid)) if txid in chain.txs else _text("Transaction not found", 404)

    @app.get("/tx/<txid>/hex")
    def tx_hex(txid: str) -> Response:
        return _text(chain.raw[txid]) if txid in chain.raw else _text("Transaction not found", 404)

    @app.get("/tx/<txid>/outspend/<int:vout>")
    def outspend(txid: str, vout: int) -> Response:
        spender = chain.spent_by.get((txid, vout))
        if spender is None:
            return jsonify({"spent": False})
        vin = next(i for i, v in enumerate(chain.txs[spender]["vin"]) if (v.get("txid"), v.get("vout")) == (txid, vout))
        return jsonify({"spent": True, "txid": spender, "vin": vin, "status": chain.status(spender)})

    @app.post("/tx")
    def broadcast() -> Response:
        try:
            return _text(chain.broadcast(request.get_data(as_text=True).strip()))
        except SimulatedRejection as error:
            return _text(f'sendrawtransaction RPC error: {{"code":-26,"message":"{error}"}}', 400)
        except Exception:  # a malformed hex body
            return _text('sendrawtransaction RPC error: {"code":-22,"message":"TX decode failed"}', 400)


def _control_routes(app: Flask, chain: BitcoinChain) -> None:
    @app.post("/_sim/mine")
    def mine() -> Response:
        return jsonify({"height": chain.mine(int(json_body().get("count", 1)))})

    @app.post("/_sim/pay")
    def pay() -> Response:
        p = json_body()
        txid = chain.pay(p["address"], int(p["value"]), rbf=bool(p.get("rbf", True)), mine=bool(p.get("mine", False)))
        return jsonify({"txid": txid})

    @app.post("/_sim/replace")
    def replace() -> Response:
        p = json_body()
        return jsonify({"txid": chain.replace(p["txid"], to=p.get("to"))})

    @app.post("/_sim/fund")
    def fund() -> Response:
        txid, vout = chain.fund(json_body()["address"], int(json_body()["value"]))
        return jsonify({"txid": txid, "vout": vout})

    @app.post("/_sim/reorg")
    def reorg() -> Response:
        chain.reorg(int(json_body().get("depth", 1)), drop=bool(json_body().get("drop", False)))
        return jsonify({"height": chain.height})

    @app.post("/_sim/fees")
    def fees() -> Response:
        chain.fee_rates = {str(k): v for k, v in json_body().items()}
        return jsonify(chain.fee_rates)


def create_esplora_simulator(chain: BitcoinChain | None = None) -> Flask:
    """The simulator app over ``chain`` (a new chain by default); ``app.config["BITCOIN_CHAIN"]`` holds it."""
    the_chain = chain or BitcoinChain()
    app = Flask("esplora-simulator")
    app.config["BITCOIN_CHAIN"] = the_chain
    add_outage(app, the_chain, lambda: _text("simulated outage", 503))
    _chain_routes(app, the_chain)
    _address_routes(app, the_chain)
    _tx_routes(app, the_chain)
    _control_routes(app, the_chain)
    return app
