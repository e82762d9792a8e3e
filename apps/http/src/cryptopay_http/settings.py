"""The API's settings (token keys, lifetimes, cookies, limits) are part of the root's settings: ``ApiSettings``."""

from __future__ import annotations

from cryptopay.adapters.bootstrap import ApiSettings

__all__ = ["ApiSettings"]
