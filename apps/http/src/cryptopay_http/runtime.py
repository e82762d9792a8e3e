"""What one app instance runs with: its settings, its services and the core use cases wired from them."""

from __future__ import annotations

from datetime import timedelta

import attrs
from cryptopay.adapters.bootstrap import ApiSettings, Services
from cryptopay.core.identity import (
    AccessTokenSigner,
    Accounts,
    ApiKeys,
    Merchants,
    PasswordResets,
    SessionStates,
    TwoFactor,
    UserAdmin,
)
from cryptopay.core.identity.email_proof import EmailProofs
from cryptopay.core.identity.reclaim import Reclaim
from cryptopay.core.identity.registration import EmailRegistrations
from flask import current_app

__all__ = ["Runtime", "runtime"]


@attrs.frozen
class Runtime:
    settings: ApiSettings
    services: Services
    accounts: Accounts
    api_keys: ApiKeys
    merchants: Merchants
    two_factor: TwoFactor
    resets: PasswordResets
    user_admin: UserAdmin
    registrations: EmailRegistrations
    proofs: EmailProofs

    @classmethod
    def wire(cls, settings: ApiSettings, services: Services) -> Runtime:
        """Build the identity use cases from the services."""
        signer = AccessTokenSigner(settings.token_keys, current=settings.token_key_id)
        clock, audit = services.clock, services.audit
        sessions = SessionStates(
            services.users,
            services.refresh_tokens,
            clock,
            ttl=timedelta(seconds=settings.session_cache_seconds),
            epoch=services.session_epoch,
        )
        two_factor = TwoFactor(services.users, services.totp, audit, clock, sessions)
        accounts = Accounts(
            services.users,
            services.refresh_tokens,
            services.password_hasher,
            signer,
            clock,
            services.ids,
            audit,
            two_factor,
            sessions,
            access_ttl=timedelta(seconds=settings.access_ttl_seconds),
            refresh_ttl=timedelta(seconds=settings.refresh_ttl_seconds),
            step_up_ttl=timedelta(seconds=settings.step_up_ttl_seconds),
        )
        api_keys = ApiKeys(services.api_keys, clock, services.ids, audit, epoch=services.session_epoch)
        merchants = Merchants(
            services.merchants,
            clock,
            services.ids,
            services.users,
            audit,
            services.notifier,
            cool_off=timedelta(seconds=settings.destination_cool_off_seconds),
            sms=services.sms,
        )
        reclaim = Reclaim(
            merchants=services.merchants,
            api_keys=services.api_keys,
            teams=services.team_store,
            webhook_storage=services.webhook_storage_if_wired,
            notifier=services.notifier,
            audit=audit,
            clock=clock,
            cool_off=timedelta(seconds=settings.destination_cool_off_seconds),
        )
        resets = PasswordResets(
            accounts,
            services.notifier,
            link=f"{settings.public_url}/reset-password#token=",
            ttl=timedelta(seconds=settings.reset_ttl_seconds),
            reclaim=reclaim,
            sms=services.sms,
            limiter=services.rate_limiter,  # the per-address mail cap (reviewer9 R9-8)
        )
        proofs = EmailProofs(
            accounts,
            services.notifier,
            page=f"{settings.public_url}/verify-email",
            wallet_page=f"{settings.public_url}/app/verify-email",  # a wallet logs in to the portal (revpass6 P6)
            reclaim=reclaim,
        )
        user_admin = UserAdmin(
            services.users,
            services.password_hasher,
            audit,
            clock,
            services.ids,
            sessions,
            holds_wallet=services.holds_wallet,
            teams=lambda: services.teams,  # a merchant's owner or member is never made staff
        )
        registrations = EmailRegistrations(
            accounts,
            services.notifier,
            proofs,
            reset_page=f"{settings.public_url}/reset-password",
            limiter=services.rate_limiter,  # the per-address mail cap (review4 R14)
        )
        return cls(
            settings, services, accounts, api_keys, merchants, two_factor, resets, user_admin, registrations, proofs
        )


def runtime() -> Runtime:
    """The runtime of the current app."""
    found: Runtime = current_app.extensions["cryptopay"]
    return found
