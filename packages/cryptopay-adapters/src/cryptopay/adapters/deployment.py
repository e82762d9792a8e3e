"""One deployment's name, and the Redis keys it derives: deployments sharing one Redis never share a key.

``CRYPTOPAY_DEPLOYMENT`` names the deployment (default ``cryptopay``); every Redis user takes its prefix from here:
RQ queues and job ids, the FX rate cache, the rate limiter. A test run and a demo (or staging and production) on
one Redis then neither swallow each other's scheduled jobs as duplicates nor read each other's rates or counts.

>>> keys = RedisKeys.of("shop-a")
>>> keys.queue_namespace, keys.fx_rates, keys.rate_limits
('shop-a', 'shop-a:fx:rate:', 'shop-a:ratelimit:')
>>> RedisKeys.of("Shop A")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
cryptopay.core.errors.InvalidInput: CRYPTOPAY_DEPLOYMENT must be 1 to 40 lower-case letters, digits or '-' ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs
from cryptopay.core.errors import InvalidInput

__all__ = ["DEFAULT_DEPLOYMENT", "RedisKeys"]

DEFAULT_DEPLOYMENT = "cryptopay"
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")


@attrs.frozen
class RedisKeys:
    """The key prefixes of one deployment."""

    deployment: str

    @classmethod
    def of(cls, deployment: str) -> RedisKeys:
        if not _NAME.fullmatch(deployment):
            raise InvalidInput(
                f"CRYPTOPAY_DEPLOYMENT must be 1 to 40 lower-case letters, digits or '-' (not at either end), "
                f"not {deployment!r}"
            )
        return cls(deployment)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RedisKeys:
        return cls.of(env.get("CRYPTOPAY_DEPLOYMENT", "").strip() or DEFAULT_DEPLOYMENT)

    @property
    def queue_namespace(self) -> str:
        """For ``RqQueue(namespace=...)``: queues ``<name>:<queue>``, job ids ``<name>-<id>``."""
        return self.deployment

    @property
    def fx_rates(self) -> str:
        return f"{self.deployment}:fx:rate:"

    @property
    def rate_limits(self) -> str:
        return f"{self.deployment}:ratelimit:"

    @property
    def identity_epoch(self) -> str:
        """The counter that invalidates cached API keys and merchant owners in every API process."""
        return f"{self.deployment}:identity:epoch"
