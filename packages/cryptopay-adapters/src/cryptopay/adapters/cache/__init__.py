"""Read-through caches for the per-request identity lookups, invalidated across processes by an epoch."""

from cryptopay.adapters.cache.identity import (
    CachedApiKeys,
    CachedMerchants,
    Epoch,
    LocalEpoch,
    RedisEpoch,
    SubscribedEpoch,
)
from cryptopay.adapters.cache.quotes import CachedQuotes

__all__ = ["CachedApiKeys", "CachedMerchants", "CachedQuotes", "Epoch", "LocalEpoch", "RedisEpoch", "SubscribedEpoch"]
