"""FX simulator: ExchangeRate-API v6 and four crypto markets (a Binance-style 24h ticker, a Kraken-style spread
feed, a Coinbase Exchange-style product ticker, a Bitstamp-style v2 ticker) on one Flask app.

Each source speaks its provider's wire format (ExchangeRate-API sends rates as JSON numbers, the markets
send prices as strings) so the real HTTP adapters are exercised end to end. A control API scripts it:

- ``POST /_sandbox/fx/rates`` ``{"source": "binance", "pair": "USDT/KES", "mid": "130.10"}``
- ``POST /_sandbox/fx/sources/<source>`` ``{"mode": "ok" | "fail" | "timeout" | "stale" | "malformed",
  "delay_seconds": "2", "age_seconds": "3600"}``
- ``POST /_sandbox/fx/reset``, ``GET /_sandbox/fx/state``

Sources: ``exchangerate-api`` (fiat rates against USD), ``binance`` (USDT/KES, USDT/USD, USDC/USD, BTC/USD,
BTC/USDT, and the networks' coins ETH/USD, POL/USD, TRX/USD, BNB/USD that value a withdrawal's network fee),
``kraken``, ``coinbase`` and ``bitstamp`` (USDT/USD, USDC/USD, BTC/USD; coinbase also ETH/USD and POL/USD).
BTC/KES is nobody's market: it is priced as USD/KES x BTC/USD, as in life (ETH/KES and the others likewise).
"""

from __future__ import annotations

import decimal
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
from cryptopay.core.money import to_decimal
from flask import Flask, Response, jsonify, request

__all__ = ["SANDBOX_API_KEY", "SOURCES", "FxSimulatorState", "create_fx_simulator"]

SANDBOX_API_KEY = "sandbox"
SOURCES = ("exchangerate-api", "binance", "kraken", "coinbase", "bitstamp")
MODES = ("ok", "fail", "timeout", "stale", "malformed")
_HALF_SPREAD = Decimal("0.0005")
_TICK = Decimal("0.0001")


def _default_mids() -> dict[str, dict[str, Decimal]]:
    usd = {"USD": "1", "KES": "129.20", "EUR": "0.9210", "GBP": "0.7890", "UGX": "3720.50", "TZS": "2650.00"}
    return {
        "exchangerate-api": {f"USD/{code}": Decimal(mid) for code, mid in usd.items()},
        "binance": {
            "USDT/KES": Decimal("129.45"),
            "USDT/USD": Decimal("1.0003"),
            "USDC/USD": Decimal("0.9999"),
            "BTC/USD": Decimal("97012.50"),
            "BTC/USDT": Decimal("96990.10"),
            # the networks' coins, which value the network fee of a withdrawal (its fee is never below it)
            "ETH/USD": Decimal("3650.20"),
            "POL/USD": Decimal("0.5210"),
            "TRX/USD": Decimal("0.2480"),
            "BNB/USD": Decimal("690.40"),
        },
        "kraken": {"USDT/USD": Decimal("1.0001"), "USDC/USD": Decimal("1.0000"), "BTC/USD": Decimal("97005.00")},
        "coinbase": {
            "USDT/USD": Decimal("1.0002"),
            "USDC/USD": Decimal("1.0000"),
            "BTC/USD": Decimal("97020.00"),
            "ETH/USD": Decimal("3651.10"),
            "POL/USD": Decimal("0.5205"),
        },
        "bitstamp": {"USDT/USD": Decimal("1.0000"), "USDC/USD": Decimal("1.0001"), "BTC/USD": Decimal("96998.00")},
    }


@attrs.define
class _Behaviour:
    mode: str = "ok"
    delay_seconds: Decimal = Decimal("2")
    age_seconds: int = 3600


@attrs.define
class FxSimulatorState:
    """The simulator's rates and per-source behaviour; thread-safe through ``lock``."""

    mids: dict[str, dict[str, Decimal]] = attrs.Factory(_default_mids)
    behaviour: dict[str, _Behaviour] = attrs.Factory(lambda: {s: _Behaviour() for s in SOURCES})
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.mids = _default_mids()
            self.behaviour = {s: _Behaviour() for s in SOURCES}

    def observed_at(self, source: str) -> int:
        """The Unix time this source stamps on its answer (in the past when it is stale)."""
        behaviour = self.behaviour[source]
        return int(time.time()) - (behaviour.age_seconds if behaviour.mode == "stale" else 0)

    def mid(self, source: str, pair: str) -> Decimal | None:
        return self.mids[source].get(pair)


def _json_text(value: Any) -> str:
    """JSON where Decimals are written as numbers, as ExchangeRate-API does (Flask would quote them)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{_json_text(str(k))}:{_json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return str(value)  # int or Decimal


def _respond(body: Any, status: int = 200) -> Response:
    return Response(_json_text(body), status=status, mimetype="application/json")


def _behave(state: FxSimulatorState, source: str, answer: Callable[[], Response]) -> Response:
    behaviour = state.behaviour[source]
    if behaviour.mode == "fail":
        return Response("upstream error", status=500, mimetype="text/plain")
    if behaviour.mode == "malformed":
        return Response("<html>maintenance</html>", status=200, mimetype="text/html")
    if behaviour.mode == "timeout":
        time.sleep(float(behaviour.delay_seconds))
    return answer()


def _exchangerate(state: FxSimulatorState, key: str | None, base: str) -> Response:
    if key != SANDBOX_API_KEY:
        return _respond({"result": "error", "error-type": "invalid-key"}, 403)
    rates = state.mids["exchangerate-api"]
    base_mid = rates.get(f"USD/{base.upper()}")
    if base_mid is None:
        return _respond({"result": "error", "error-type": "unsupported-code"}, 404)
    with decimal.localcontext(prec=8):  # the provider publishes about 8 significant digits
        conversion = {p.split("/")[1]: mid / base_mid for p, mid in rates.items()}
    updated = state.observed_at("exchangerate-api")
    return _respond(
        {
            "result": "success",
            "documentation": "https://www.exchangerate-api.com/docs",
            "time_last_update_unix": updated,
            "time_next_update_unix": updated + 86400,
            "base_code": base.upper(),
            "conversion_rates": {base.upper(): 1, **{k: v for k, v in conversion.items() if k != base.upper()}},
        }
    )


def _pair_for(source: str, symbol: str, state: FxSimulatorState) -> str | None:
    return next((p for p in state.mids[source] if p.replace("/", "") == symbol.upper()), None)


def _binance(state: FxSimulatorState, symbol: str) -> Response:
    pair = _pair_for("binance", symbol, state)
    if pair is None:
        return _respond({"code": -1121, "msg": "Invalid symbol."}, 400)
    mid = state.mids["binance"][pair]
    bid, ask = (mid * (1 - _HALF_SPREAD)).quantize(_TICK), (mid * (1 + _HALF_SPREAD)).quantize(_TICK)
    close_ms = state.observed_at("binance") * 1000
    return _respond(
        {
            "symbol": symbol.upper(),
            "lastPrice": f"{mid:.8f}",
            "bidPrice": f"{bid:.8f}",
            "bidQty": "1500.00000000",
            "askPrice": f"{ask:.8f}",
            "askQty": "1200.00000000",
            "openTime": close_ms - 86_400_000,
            "closeTime": close_ms,
            "count": 4242,
        }
    )


def _kraken(state: FxSimulatorState, name: str) -> Response:
    pair = _pair_for("kraken", name.upper().replace("XBT", "BTC"), state)  # Kraken calls bitcoin XBT
    if pair is None:
        return _respond({"error": ["EQuery:Unknown asset pair"]})
    mid = state.mids["kraken"][pair]
    now = state.observed_at("kraken")
    bid, ask = f"{mid * (1 - _HALF_SPREAD):.5f}", f"{mid * (1 + _HALF_SPREAD):.5f}"
    base, quote = pair.split("/")
    name = "XXBTZ" + quote if base == "BTC" else f"{base}Z{quote}"  # Kraken's own names: XXBTZUSD, USDTZUSD
    return _respond({"error": [], "result": {name: [[now - 5, bid, ask], [now, bid, ask]], "last": now}})


def _coinbase(state: FxSimulatorState, product: str) -> Response:
    pair = _pair_for("coinbase", product.replace("-", ""), state)
    if pair is None:
        return _respond({"message": "NotFound"}, 404)
    mid = state.mids["coinbase"][pair]
    bid, ask = (mid * (1 - _HALF_SPREAD)).quantize(_TICK), (mid * (1 + _HALF_SPREAD)).quantize(_TICK)
    moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(state.observed_at("coinbase")))
    return _respond(
        {
            "ask": f"{ask}",
            "bid": f"{bid}",
            "volume": "8123.41502221",
            "trade_id": 721593321,
            "price": f"{mid}",
            "size": "0.00120000",
            "time": f"{moment}.412383Z",
            "rfq_volume": "31.050612",
        }
    )


def _bitstamp(state: FxSimulatorState, market: str) -> Response:
    pair = _pair_for("bitstamp", market, state)
    if pair is None:
        return Response("<html><body>404 Not Found</body></html>", status=404, mimetype="text/html")
    mid = state.mids["bitstamp"][pair]
    bid, ask = (mid * (1 - _HALF_SPREAD)).quantize(_TICK), (mid * (1 + _HALF_SPREAD)).quantize(_TICK)
    return _respond(
        {
            "timestamp": str(state.observed_at("bitstamp")),
            "open": f"{mid}",
            "high": f"{mid * Decimal('1.01'):.2f}",
            "low": f"{mid * Decimal('0.99'):.2f}",
            "last": f"{mid}",
            "volume": "1843.20948100",
            "vwap": f"{mid}",
            "bid": f"{bid}",
            "ask": f"{ask}",
            "side": "0",
            "open_24": f"{mid}",
            "percent_change_24": "0.12",
        }
    )


def _control(app: Flask, state: FxSimulatorState) -> None:
    @app.post("/_sandbox/fx/rates")
    def set_rate() -> Any:
        body = request.get_json(force=True)
        source, pair = body.get("source"), str(body.get("pair", "")).upper()
        if source not in SOURCES or "/" not in pair:
            return jsonify(error=f"need a source in {SOURCES} and a pair like USDT/KES"), 400
        with state.lock:
            state.mids[source][pair] = to_decimal(body["mid"])
        return jsonify(source=source, pair=pair, mid=str(state.mids[source][pair]))

    @app.post("/_sandbox/fx/sources/<source>")
    def set_behaviour(source: str) -> Any:
        body = request.get_json(force=True)
        if source not in SOURCES or body.get("mode", "ok") not in MODES:
            return jsonify(error=f"need a source in {SOURCES} and a mode in {MODES}"), 400
        behaviour = _Behaviour(
            mode=body.get("mode", "ok"),
            delay_seconds=to_decimal(str(body.get("delay_seconds", "2"))),
            age_seconds=int(body.get("age_seconds", 3600)),
        )
        with state.lock:
            state.behaviour[source] = behaviour
        return jsonify(source=source, mode=behaviour.mode)

    @app.post("/_sandbox/fx/reset")
    def reset() -> Any:
        state.reset()
        return jsonify(reset=True)

    @app.get("/_sandbox/fx/state")
    def show() -> Any:
        mids = {s: {p: str(m) for p, m in pairs.items()} for s, pairs in state.mids.items()}
        return jsonify(mids=mids, modes={s: b.mode for s, b in state.behaviour.items()})


def create_fx_simulator(state: FxSimulatorState | None = None) -> Flask:
    """The FX simulator as a Flask app; pass a ``state`` to script it in-process instead of over HTTP."""
    app = Flask("cryptopay-fx-simulator")
    the_state = state or FxSimulatorState()
    app.extensions["fx_simulator"] = the_state

    @app.get("/v6/latest/<base>")
    def latest_by_header(base: str) -> Response:
        auth = request.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        return _behave(the_state, "exchangerate-api", lambda: _exchangerate(the_state, key, base))

    @app.get("/v6/<key>/latest/<base>")
    def latest_by_path(key: str, base: str) -> Response:
        return _behave(the_state, "exchangerate-api", lambda: _exchangerate(the_state, key, base))

    @app.get("/api/v3/ticker/24hr")
    def ticker() -> Response:
        return _behave(the_state, "binance", lambda: _binance(the_state, request.args.get("symbol", "")))

    @app.get("/0/public/Spread")
    def spread() -> Response:
        return _behave(the_state, "kraken", lambda: _kraken(the_state, request.args.get("pair", "")))

    @app.get("/products/<product>/ticker")
    def coinbase_ticker(product: str) -> Response:
        return _behave(the_state, "coinbase", lambda: _coinbase(the_state, product))

    @app.get("/api/v2/ticker/<market>/")
    def bitstamp_ticker(market: str) -> Response:
        return _behave(the_state, "bitstamp", lambda: _bitstamp(the_state, market))

    _control(app, the_state)
    return app
