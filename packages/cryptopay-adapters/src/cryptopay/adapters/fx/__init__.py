"""FX over HTTP: rate sources (ExchangeRate-API; Binance-, Kraken-, Coinbase- and Bitstamp-style markets), rate
caches, settings.

Build everything from the environment with ``build_pricer(FxSettings.from_env(os.environ), ...)``.
"""

from __future__ import annotations

from cryptopay.adapters.fx.binance import BinanceTickerSource
from cryptopay.adapters.fx.bitstamp import BitstampTickerSource
from cryptopay.adapters.fx.build import build_cache, build_pricer, build_sources
from cryptopay.adapters.fx.cache import ProcessRateCache, RedisRateCache, TieredRateCache
from cryptopay.adapters.fx.coinbase import CoinbaseTickerSource
from cryptopay.adapters.fx.exchangerate import ExchangeRateApiSource
from cryptopay.adapters.fx.kraken import KrakenSpreadSource
from cryptopay.adapters.fx.settings import SOURCE_NAMES, FxSettings

__all__ = [
    "SOURCE_NAMES",
    "BinanceTickerSource",
    "BitstampTickerSource",
    "CoinbaseTickerSource",
    "ExchangeRateApiSource",
    "FxSettings",
    "KrakenSpreadSource",
    "ProcessRateCache",
    "RedisRateCache",
    "TieredRateCache",
    "build_cache",
    "build_pricer",
    "build_sources",
]
