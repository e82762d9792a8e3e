"""What one app instance runs with: its settings, its services and the identity use cases wired from them."""

from __future__ import annotations

from datetime import timedelta

import attrs
from cryptopay.adapters.bootstrap import ApiSettings, Services
from cryptopay.core.identity import AccessTokenSigner, Accounts, ApiKeys, Merchants
from flask import current_app

__all__ = ["Runtime", "runtime"]


@attrs.frozen
class Runtime:
    settings: ApiSettings
    services: Services
    accounts: Accounts
    api_keys: ApiKeys
    merchants: Merchants

    @classmethod
    def wire(cls, settings: ApiSettings, services: Services) -> Runtime:
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
    found: Runtime = current_app.extensions["cryptopay"]
    return found
