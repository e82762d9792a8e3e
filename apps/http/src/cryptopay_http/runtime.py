"""What one app instance runs with: its settings, its services and the core use cases wired from them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
from cryptopay.core.identity import AccessTokenSigner, Accounts, ApiKeys, Merchants
from flask import current_app

from cryptopay_http.settings import Settings

__all__ = ["Runtime", "runtime"]


@attrs.frozen
class Runtime:
    settings: Settings
    services: Any  # a cryptopay_http.services.Services or any object with the same attributes
    accounts: Accounts
    api_keys: ApiKeys
    merchants: Merchants

    @classmethod
    def wire(cls, settings: Settings, services: Any) -> Runtime:
        """Build the identity use cases from the services."""
        signer = AccessTokenSigner(settings.token_keys, current=settings.token_key_id)
        accounts = Accounts(
            services.users,
            services.refresh_tokens,
            services.password_hasher,
            signer,
            services.clock,
            services.ids,
            access_ttl=timedelta(seconds=settings.access_ttl_seconds),
            refresh_ttl=timedelta(seconds=settings.refresh_ttl_seconds),
        )
        api_keys = ApiKeys(services.api_keys, services.clock, services.ids)
        return cls(settings, services, accounts, api_keys, Merchants(services.merchants, services.clock, services.ids))


def runtime() -> Runtime:
    """The runtime of the current app."""
    return current_app.extensions["cryptopay"]  # type: ignore[no-any-return]
