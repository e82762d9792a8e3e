"""Read-through caches for the per-request identity lookups, invalidated across processes by an epoch."""

from cryptopay.adapters.cache.identity import CachedApiKeys, CachedMerchants, Epoch, LocalEpoch, RedisEpoch

__all__ = ["CachedApiKeys", "CachedMerchants", "Epoch", "LocalEpoch", "RedisEpoch"]
